//! The public contact form: `GET /`, `POST /`, `GET /thanks`, `GET /captcha` (the image),
//! `GET /captcha/audio` (the same characters spoken).

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use time::OffsetDateTime;

use crate::domain::submission::{Submission, SubmissionDraft};
use crate::error::AppError;
use crate::inbox;
use crate::pages::login::render;
use crate::pages::page::{FieldErrors, PageCtx};
use crate::pages::redirect;
use crate::spam::phone::Verdict;
use crate::spam::{self, captcha, ticket};
use crate::state::AppState;

#[derive(Clone, Debug, Default, Deserialize)]
pub struct ContactForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    phone: String,
    #[serde(default)]
    preferred_time: String,
    #[serde(default)]
    preferred_date: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    captcha: String,
    /// The honeypot: hidden from people, filled in by naive bots.
    #[serde(default)]
    website: String,
}

#[derive(Template)]
#[template(path = "form/contact.html")]
struct FormPage {
    ctx: PageCtx,
    form: ContactForm,
    errors: FieldErrors,
    captcha_on: bool,
    today: String,
}

#[derive(Template)]
#[template(path = "form/thanks.html")]
struct ThanksPage {
    ctx: PageCtx,
}

fn today(now: i64) -> time::Date {
    OffsetDateTime::from_unix_timestamp(now)
        .map(|t| t.date())
        .unwrap_or(time::Date::MIN)
}

/// The form, with a fresh ticket for it (when it was shown; its CAPTCHA comes with the image).
async fn form_page(
    state: &AppState,
    session: &Session,
    form: ContactForm,
    errors: FieldErrors,
) -> Result<FormPage, AppError> {
    let now = state.clock.now();
    ticket::open(state, session, now).await?;
    let date = time::macros::format_description!("[year]-[month]-[day]");
    Ok(FormPage {
        ctx: PageCtx::new(session, None, state),
        form,
        errors,
        captcha_on: state.settings.captcha,
        today: today(now).format(date).unwrap_or_default(),
    })
}

pub async fn show(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let page = form_page(&state, &session, ContactForm::default(), FieldErrors::new()).await?;
    render(StatusCode::OK, &page)
}

pub async fn submit(
    state: web::Data<AppState>,
    session: Session,
    form: web::Form<ContactForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let now = state.clock.now();
    // Claimed once: of several posts of one form (on one session) only one gets its ticket,
    // and with it the minimum fill time and the CAPTCHA answer.
    let claimed = ticket::claim(&state, &session, now).await?;
    let too_fast = claimed
        .as_ref()
        .is_none_or(|t| now - t.started < spam::MIN_FILL_SECONDS);
    if !form.website.is_empty() || too_fast {
        let total = spam::count_bot();
        tracing::info!(
            honeypot = !form.website.is_empty(),
            too_fast,
            total,
            "dropped a bot submission"
        );
        return Ok(redirect("/thanks"));
    }

    let draft = SubmissionDraft {
        name: form.name.clone(),
        email: form.email.clone(),
        phone: form.phone.clone(),
        preferred_time: form.preferred_time.clone(),
        preferred_date: form.preferred_date.clone(),
        message: form.message.clone(),
    };
    let parsed = Submission::parse(&draft, today(now));
    let mut errors = parsed.as_ref().err().cloned().unwrap_or_default();
    if !errors.contains_key("phone")
        && let Err(message) = state.phone.check_offline(&draft.phone)
    {
        errors.insert("phone".into(), message.into());
    }
    if state.settings.captcha && !captcha::matches(claimed.as_ref(), &form.captcha, now) {
        errors.insert(
            "captcha".into(),
            "The characters did not match. Please type the ones in the new image.".into(),
        );
    }
    let mut phone_info = None;
    if let (Ok(submission), true) = (&parsed, errors.is_empty()) {
        match state.phone.check(&submission.phone).await {
            Verdict::Accepted(info) => phone_info = Some(info),
            Verdict::Refused(message) => {
                errors.insert("phone".into(), message.into());
            }
        }
    }
    match (parsed, phone_info) {
        (Ok(submission), Some(info)) if errors.is_empty() => {
            inbox::submit(&state, &submission, &info).await?;
            Ok(redirect("/thanks"))
        }
        _ => {
            let kept = ContactForm {
                captcha: String::new(),
                website: String::new(),
                ..form
            };
            let page = form_page(&state, &session, kept, errors).await?;
            render(StatusCode::BAD_REQUEST, &page)
        }
    }
}

pub async fn thanks(
    state: web::Data<AppState>,
    session: Session,
) -> Result<HttpResponse, AppError> {
    render(
        StatusCode::OK,
        &ThanksPage {
            ctx: PageCtx::new(&session, None, &state),
        },
    )
}

/// A fresh CAPTCHA image; its answer replaces the previous one on this visitor's ticket.
pub async fn image(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let (answer, png) = tokio::task::spawn_blocking(captcha::generate)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("the CAPTCHA image could not be encoded"))
        })?;
    ticket::set_answer(&state, &session, &answer, state.clock.now()).await?;
    Ok(HttpResponse::Ok()
        .content_type("image/png")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(png))
}

/// The CAPTCHA this visitor was shown, spoken (WAV): the same answer as the image, used up
/// with it. A visitor who was shown none (images off) gets a new one.
pub async fn audio(state: web::Data<AppState>, session: Session) -> Result<HttpResponse, AppError> {
    let now = state.clock.now();
    let answer = match ticket::pending_answer(&state, &session, now).await? {
        Some(answer) => answer,
        None => {
            let answer = captcha::new_answer();
            ticket::set_answer(&state, &session, &answer, now).await?;
            answer
        }
    };
    let wav = tokio::task::spawn_blocking(move || captcha::audio(&answer))
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .ok_or_else(|| {
            AppError::Internal(anyhow::anyhow!("the spoken CAPTCHA could not be encoded"))
        })?;
    Ok(HttpResponse::Ok()
        .content_type("audio/wav")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(wav))
}
