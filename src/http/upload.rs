//! Reading an uploaded file, capped: `multipart/form-data` with the file in a part named
//! `file`, or the raw body (e.g. `Content-Type: text/csv`). The whole body is capped, not
//! only the file part: every byte read (other parts and framing included) counts, and reading
//! stops at the cap.

use std::cell::Cell;
use std::rc::Rc;

use actix_multipart::Multipart;
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;

use crate::auth::csrf;
use crate::error::AppError;

/// Room for the multipart framing and small fields beside a file of the largest size.
pub const FRAMING_ALLOWANCE: usize = 1024 * 1024;

/// The largest CSRF token part read.
const TOKEN_PART_MAX: usize = 256;

/// The uploaded bytes, or 413 once the body passes `max` bytes (multipart: `max` plus
/// [`FRAMING_ALLOWANCE`] for the whole body), 400 when a multipart body has no `file` part.
///
/// With `csrf_expected`, the multipart body must open with a `csrf_token` part equal to it
/// (the page form's hidden field, checked before the file is read); otherwise `Csrf`.
pub async fn read_upload(
    req: &HttpRequest,
    payload: web::Payload,
    max: usize,
    csrf_expected: Option<&str>,
) -> Result<Vec<u8>, AppError> {
    let cap = max + FRAMING_ALLOWANCE;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > cap) {
        return Err(AppError::TooLarge);
    }
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("multipart/form-data"));
    if !is_multipart {
        if csrf_expected.is_some() {
            return Err(AppError::Csrf);
        }
        let mut payload = payload;
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

    // Counts every byte of the body, whichever part it belongs to, and ends the stream with
    // an error past the cap.
    let over = Rc::new(Cell::new(false));
    let flag = over.clone();
    let mut read = 0usize;
    let capped = payload.map(move |chunk| {
        let chunk = chunk?;
        read += chunk.len();
        if read > cap {
            flag.set(true);
            return Err(PayloadError::Overflow);
        }
        Ok(chunk)
    });
    let malformed = |e: &dyn std::fmt::Display| {
        if over.get() {
            AppError::TooLarge
        } else {
            AppError::BadRequest(format!("malformed upload: {e}"))
        }
    };
    let mut multipart = Multipart::new(req.headers(), capped);
    let mut token_checked = csrf_expected.is_none();
    while let Some(field) = multipart.next().await {
        let mut field = field.map_err(|e| malformed(&e))?;
        if !token_checked {
            // The token must come first, before any byte of the file is looked at.
            if field.name() != Some(csrf::FIELD) {
                tracing::warn!("import without a CSRF token before the file");
                return Err(AppError::Csrf);
            }
            let mut token = Vec::new();
            while let Some(chunk) = field.next().await {
                let chunk = chunk.map_err(|e| malformed(&e))?;
                if token.len() + chunk.len() > TOKEN_PART_MAX {
                    return Err(AppError::Csrf);
                }
                token.extend_from_slice(&chunk);
            }
            let expected = csrf_expected.unwrap_or_default();
            if !csrf::matches(expected, &String::from_utf8_lossy(&token)) {
                tracing::warn!("import with a wrong CSRF token");
                return Err(AppError::Csrf);
            }
            token_checked = true;
            continue;
        }
        if field.name() != Some("file") {
            // Read (and counted) by the multipart parser on the way to the next part.
            continue;
        }
        let mut body = Vec::new();
        while let Some(chunk) = field.next().await {
            let chunk = chunk.map_err(|e| malformed(&e))?;
            if body.len() + chunk.len() > max {
                return Err(AppError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(body);
    }
    if !token_checked {
        return Err(AppError::Csrf);
    }
    Err(AppError::field("file", "Choose a CSV file to upload."))
}
