//! Reading an uploaded file, capped: `multipart/form-data` with the file in a part named
//! `file`, or the raw body (e.g. `Content-Type: text/csv`).

use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::error::AppError;

/// The uploaded bytes, or 413 past `max` bytes, 400 when a multipart body has no `file` part.
pub async fn read_upload(
    req: &HttpRequest,
    mut payload: web::Payload,
    max: usize,
) -> Result<Vec<u8>, AppError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    // Multipart framing adds a little; anything far beyond the cap is refused unread.
    if declared.is_some_and(|n| n > max + 64 * 1024) {
        return Err(AppError::TooLarge);
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !is_multipart {
        let mut body = Vec::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| AppError::BadRequest(format!("upload interrupted: {e}")))?;
            if body.len() + chunk.len() > max {
                return Err(AppError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    let mut multipart = Multipart::new(req.headers(), payload);
    while let Some(field) = multipart.next().await {
        let mut field =
            field.map_err(|e| AppError::BadRequest(format!("malformed upload: {e}")))?;
        if field.name() != Some("file") {
            continue;
        }
        let mut body = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk =
                chunk.map_err(|e| AppError::BadRequest(format!("malformed upload: {e}")))?;
            if body.len() + chunk.len() > max {
                return Err(AppError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    Err(AppError::field("file", "Choose a CSV file to upload."))
}
