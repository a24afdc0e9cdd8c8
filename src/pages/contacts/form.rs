//! Adding and editing a contact: the form, its field messages, and the duplicate warning
//! that links to the contact already in the book.

use crate::accounts::UserRow;
use crate::auth::CurrentUser;
use crate::book::others::Others;
use crate::book::{self, ContactView, cards};
use crate::domain::contact::{ContactDraft, split_tags};
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{FieldErrors, PageCtx, flash};
use crate::pages::redirect;
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, web};
use askama::Template;
use serde::Deserialize;
use vault_core::Error;

/// The add/edit form as posted; every field may be missing.
#[derive(Default, Deserialize)]
#[serde(default)]
pub struct ContactForm {
    name: String,
    phone: String,
    email: String,
    address: String,
    company: String,
    notes: String,
    /// One text field: `work, vip` (or `work|vip`).
    tags: String,
    favorite: Option<String>,
    /// The card's other phones and e-mail addresses, one a line (the edit form only).
    other_phones: Option<String>,
    other_emails: Option<String>,
}

impl ContactForm {
    fn of(v: &ContactView) -> Self {
        let c = &v.contact;
        // Tags are split on `|` when the field has one, else on commas.
        let sep = if c.tags.iter().any(|t| t.contains(',')) {
            " | "
        } else {
            ", "
        };
        ContactForm {
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            address: c.address.clone(),
            company: c.company.clone(),
            notes: c.notes.clone(),
            tags: c.tags.join(sep),
            favorite: c.favorite.then(|| "on".to_string()),
            other_phones: None,
            other_emails: None,
        }
    }

    /// The other phones and e-mail addresses, when the form carried them.
    fn others(&self) -> Option<Others> {
        match (&self.other_phones, &self.other_emails) {
            (None, None) => None,
            (phones, emails) => Some(Others {
                phones: phones.clone().unwrap_or_default(),
                emails: emails.clone().unwrap_or_default(),
            }),
        }
    }

    /// Every field, so an edit replaces all of them (an unticked box is not a favorite).
    fn draft(&self) -> ContactDraft {
        ContactDraft {
            name: Some(self.name.clone()),
            phone: Some(self.phone.clone()),
            email: Some(self.email.clone()),
            address: Some(self.address.clone()),
            company: Some(self.company.clone()),
            notes: Some(self.notes.clone()),
            tags: Some(split_tags(&self.tags)),
            favorite: Some(self.favorite.is_some()),
        }
    }

    fn is_favorite(&self) -> bool {
        self.favorite.is_some()
    }
}

/// The existing contact a new or edited one would duplicate.
pub struct Duplicate {
    id: Option<String>,
    name: String,
}

#[derive(Template)]
#[template(path = "contacts/form.html")]
struct FormPage {
    ctx: PageCtx,
    heading: String,
    action: String,
    submit: &'static str,
    cancel_href: String,
    form: ContactForm,
    /// False for a contact that came by vCard without a phone: it may stay without one.
    phone_required: bool,
    /// The edit form also edits the card's other phones and e-mail addresses.
    with_others: bool,
    errors: FieldErrors,
    duplicate: Option<Duplicate>,
}

impl FormPage {
    fn new_contact(state: &AppState, session: &Session, user: &UserRow, form: ContactForm) -> Self {
        FormPage {
            ctx: PageCtx::new(session, Some(user), state),
            heading: "Add a contact".into(),
            action: "/contacts/new".into(),
            submit: "Add contact",
            cancel_href: "/contacts".into(),
            form,
            phone_required: true,
            with_others: false,
            errors: FieldErrors::new(),
            duplicate: None,
        }
    }

    fn edit(
        state: &AppState,
        session: &Session,
        user: &UserRow,
        stored: &ContactView,
        form: ContactForm,
    ) -> Self {
        let (id, name) = (&stored.id, &stored.contact.name);
        FormPage {
            ctx: PageCtx::new(session, Some(user), state),
            heading: format!("Edit {name}"),
            action: format!("/contacts/{id}/edit"),
            submit: "Save changes",
            cancel_href: format!("/contacts/{id}"),
            form,
            phone_required: !stored.contact.phone.is_empty(),
            with_others: true,
            errors: FieldErrors::new(),
            duplicate: None,
        }
    }

    /// The page again after a refused write: 400 with field messages, 409 for a duplicate.
    async fn refused(
        mut self,
        state: &AppState,
        user: &UserRow,
        error: Error,
    ) -> Result<HttpResponse, AppError> {
        match error {
            Error::Invalid(errors) => {
                self.errors = errors;
                render(StatusCode::BAD_REQUEST, &self)
            }
            Error::Duplicate(id) => {
                let name = match &id {
                    Some(id) => book::get(state, user, id).await?.contact.name,
                    None => self.form.name.trim().to_string(),
                };
                self.duplicate = Some(Duplicate { id, name });
                render(StatusCode::CONFLICT, &self)
            }
            other => Err(other.into()),
        }
    }
}

pub async fn new_form(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    let page = FormPage::new_contact(&state, &session, &user, ContactForm::default());
    render(StatusCode::OK, &page)
}

pub async fn create(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    form: web::Form<ContactForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    match book::create(&state, &user, form.draft()).await {
        Ok(view) => {
            flash(&session, "success", "Contact added");
            Ok(redirect(&format!("/contacts/{}", view.id)))
        }
        Err(e) => {
            FormPage::new_contact(&state, &session, &user, form)
                .refused(&state, &user, e)
                .await
        }
    }
}

pub async fn edit_form(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = book::get(&state, &user, &id).await?;
    let others = cards::others_of(&state, &user, &id).await?;
    let mut form = ContactForm::of(&view);
    form.other_phones = Some(others.phones);
    form.other_emails = Some(others.emails);
    let page = FormPage::edit(&state, &session, &user, &view, form);
    render(StatusCode::OK, &page)
}

pub async fn update(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
    form: web::Form<ContactForm>,
) -> Result<HttpResponse, AppError> {
    let form = form.into_inner();
    let saved = match form.others() {
        Some(others) => cards::update_with_others(&state, &user, &id, form.draft(), &others).await,
        None => book::update(&state, &user, &id, form.draft()).await,
    };
    match saved {
        Ok(view) => {
            flash(&session, "success", "Contact saved");
            Ok(redirect(&format!("/contacts/{}", view.id)))
        }
        Err(e @ (Error::Invalid(_) | Error::Duplicate(_))) => {
            // The heading names the contact as stored, not the refused input.
            let current = book::get(&state, &user, &id).await?;
            FormPage::edit(&state, &session, &user, &current, form)
                .refused(&state, &user, e)
                .await
        }
        Err(other) => Err(other.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::contact::Contact;

    fn view(contact: Contact) -> ContactView {
        ContactView {
            id: "c1".into(),
            contact,
            created: 0,
            updated: 0,
        }
    }

    fn contact(tags: &[&str], favorite: bool) -> Contact {
        Contact {
            name: "Zoë Adams".into(),
            phone: "+1 555 0100".into(),
            email: "zoe@example.com".into(),
            address: "1 Main St".into(),
            company: "Globex".into(),
            notes: "line one\nline two".into(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            favorite,
        }
    }

    #[test]
    fn an_edit_form_posts_back_the_contact_it_showed() {
        for (tags, favorite) in [
            (&["work", "vip"][..], true),
            (&["a, b", "c"][..], false),
            (&[][..], false),
        ] {
            let shown = contact(tags, favorite);
            let form = ContactForm::of(&view(shown.clone()));
            assert_eq!(form.is_favorite(), favorite);
            let back = Contact::parse(form.draft()).expect("valid");
            assert_eq!(back, shown, "tags {tags:?}");
        }
    }

    #[test]
    fn an_unticked_box_and_empty_fields_replace_what_was_there() {
        let form: ContactForm = serde_urlencoded::from_str("name=Ann").expect("form");
        let draft = form.draft();
        assert_eq!(draft.favorite, Some(false));
        assert_eq!(draft.phone.as_deref(), Some(""));
        assert_eq!(draft.tags, Some(vec![String::new()]));
    }
}
