//! `POST /account/notify-mail`: an admin's own address for the notifications of new
//! messages, and whether they get mail there.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use serde::Deserialize;

use crate::accounts;
use crate::auth::guards::CurrentUser;
use crate::error::AppError;
use crate::pages::account::account_page;
use crate::pages::login::render;
use crate::pages::page::flash;
use crate::pages::redirect;
use crate::state::AppState;
use vault_core::Error;

#[derive(Deserialize)]
pub struct MailForm {
    notify_email: String,
    /// The checkbox: present when ticked.
    notify_mail: Option<String>,
}

pub async fn set(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<MailForm>,
) -> Result<HttpResponse, AppError> {
    let mail = form.notify_mail.is_some();
    match accounts::set_mail_choice(&state, &user, &form.notify_email, mail).await {
        Ok(()) => {
            let said = if mail {
                "Saved: new messages are told to you by mail."
            } else {
                "Saved: you get no mail of new messages."
            };
            flash(&session, "success", said);
            Ok(redirect("/account#notify-mail"))
        }
        Err(Error::Invalid(errors)) => {
            let mut page = account_page(&state, &session, &user, errors).await?;
            page.mail = accounts::MailChoice {
                address: Some(form.notify_email.chars().take(254).collect()),
                mail,
            };
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(other) => Err(other.into()),
    }
}
