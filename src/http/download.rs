//! File downloads the pages and the API both send.

use actix_web::http::header;
use actix_web::{HttpResponse, web};

use crate::book::csv as book_csv;
use crate::state::AppState;

/// A streamed `text/csv` download of a book.
pub fn csv_attachment(state: web::Data<AppState>, owner_id: i64) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"contacts.csv\"",
        ))
        .streaming(book_csv::export_stream(state, owner_id))
}
