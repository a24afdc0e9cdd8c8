//! File downloads the pages and the API both send.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpResponse, web};
use futures_util::Stream;

use crate::accounts::UserRow;
use crate::book::cards;
use crate::book::csv as book_csv;
use crate::state::AppState;

/// A streamed `text/csv` download of a book.
pub fn csv_attachment(state: web::Data<AppState>, user: UserRow) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"contacts.csv\"",
        ))
        .streaming(csv_stream(state, user))
}

/// A streamed `text/vcard` download of a book (vCard 4.0).
pub fn vcard_attachment(state: web::Data<AppState>, user: UserRow) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/vcard; charset=utf-8")
        .insert_header((
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"contacts.vcf\"",
        ))
        .streaming(batches(state, user, Format::Vcard))
}

/// What a download holds.
#[derive(Clone, Copy)]
enum Format {
    Csv,
    Vcard,
}

/// The rows of `user`'s book, a batch at a time, the header first.
fn csv_stream(
    state: web::Data<AppState>,
    user: UserRow,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    batches(state, user, Format::Csv)
}

/// The book a batch at a time in `format`, so memory stays flat however large it is.
fn batches(
    state: web::Data<AppState>,
    user: UserRow,
    format: Format,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    futures_util::stream::unfold(Some(0i64), move |cursor| {
        let state = state.clone();
        let user = user.clone();
        async move {
            let after = cursor?;
            let batch = match format {
                Format::Csv => book_csv::export_batch(&state, &user, after).await,
                Format::Vcard => cards::export_batch(&state, &user, after).await,
            };
            match batch {
                Ok(None) => None,
                Ok(Some((bytes, next))) => Some((Ok(bytes), Some(next))),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "export failed part-way");
                    Some((
                        Err(actix_web::error::ErrorInternalServerError("export failed")),
                        None,
                    ))
                }
            }
        }
    })
}
