//! `/contacts`: the contact book pages (list, add, view, edit, delete, import, export).
//! Every handler takes `CurrentUser` and goes through `book`, which scopes every read and
//! write by owner: another user's id is `NotFound`, rendered as the 404 page.

use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use crate::accounts::UserRow;
use crate::auth::{CurrentUser, csrf};
use crate::book::csv::{self as book_csv, ImportError, MAX_IMPORT_BYTES};
use crate::book::query::RawListQuery;
use crate::book::{self, ContactView, ListQuery, Sort};
use crate::clock;
use crate::domain::contact::{ContactDraft, split_tags};
use crate::error::AppError;
use crate::http::download::csv_attachment;
use crate::http::upload::read_upload;
use crate::state::AppState;
use crate::web::login::render;
use crate::web::page::{ConfirmPage, ErrorPage, FieldErrors, PageCtx, Pager, flash};
use crate::web::redirect;
use vault_core::Error;

// ---------------------------------------------------------------------------------------
// The list

/// The view the URL describes; builds the links that change one part of it.
pub struct ListView {
    q: String,
    tag: Option<String>,
    favorites: bool,
    sort: Sort,
    desc: bool,
}

impl ListView {
    fn of(q: &ListQuery) -> Self {
        ListView {
            q: q.q.clone(),
            tag: q.tag.clone(),
            favorites: q.favorites,
            sort: q.sort,
            desc: q.desc,
        }
    }

    /// `/contacts` with every parameter that differs from its default.
    fn href_of(
        &self,
        tag: Option<&str>,
        favorites: bool,
        sort: Sort,
        desc: bool,
        page: i64,
    ) -> String {
        let mut params: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            params.push(("q", self.q.clone()));
        }
        if let Some(tag) = tag {
            params.push(("tag", tag.to_string()));
        }
        if favorites {
            params.push(("favorites", "true".into()));
        }
        if sort == Sort::Created {
            params.push(("sort", "created".into()));
        }
        if desc {
            params.push(("order", "desc".into()));
        }
        if page > 1 {
            params.push(("page", page.to_string()));
        }
        match serde_urlencoded::to_string(&params) {
            Ok(query) if !query.is_empty() => format!("/contacts?{query}"),
            _ => "/contacts".to_string(),
        }
    }

    pub fn page_href(&self, page: i64) -> String {
        self.href_of(
            self.tag.as_deref(),
            self.favorites,
            self.sort,
            self.desc,
            page,
        )
    }

    /// Filtering by `tag`, from the first page.
    pub fn tag_href(&self, tag: &str) -> String {
        self.href_of(Some(tag), self.favorites, self.sort, self.desc, 1)
    }

    pub fn clear_tag_href(&self) -> String {
        self.href_of(None, self.favorites, self.sort, self.desc, 1)
    }

    pub fn favorites_href(&self, favorites: bool) -> String {
        self.href_of(self.tag.as_deref(), favorites, self.sort, self.desc, 1)
    }

    /// Sorting by `sort` (`name` or `created`): the other order when it already sorts so.
    pub fn sort_href(&self, sort: &str) -> String {
        let sort = if sort == "created" {
            Sort::Created
        } else {
            Sort::Name
        };
        let desc = sort == self.sort && !self.desc;
        self.href_of(self.tag.as_deref(), self.favorites, sort, desc, 1)
    }

    /// `aria-sort` of a column header.
    pub fn aria_sort(&self, sort: &str) -> &'static str {
        match (self.sort_name() == sort, self.desc) {
            (false, _) => "none",
            (true, false) => "ascending",
            (true, true) => "descending",
        }
    }

    pub fn sort_name(&self) -> &'static str {
        match self.sort {
            Sort::Name => "name",
            Sort::Created => "created",
        }
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty() || self.tag.is_some() || self.favorites
    }

    pub fn tag_is(&self, tag: &str) -> bool {
        self.tag.as_deref() == Some(tag)
    }
}

pub struct Row {
    pub id: String,
    pub name: String,
    pub phone: String,
    pub email: String,
    pub company: String,
    pub tags: Vec<String>,
    pub favorite: bool,
    pub added: String,
}

impl Row {
    fn of(v: &ContactView) -> Self {
        let c = &v.contact;
        Row {
            id: v.id.clone(),
            name: c.name.clone(),
            phone: c.phone.clone(),
            email: c.email.clone(),
            company: c.company.clone(),
            tags: c.tags.clone(),
            favorite: c.favorite,
            added: clock::human(v.created),
        }
    }
}

#[derive(Template)]
#[template(path = "contacts/list.html")]
struct ListPageTpl {
    ctx: PageCtx,
    view: ListView,
    rows: Vec<Row>,
    tags: Vec<String>,
    matching: i64,
    stats_total: i64,
    stats_favorites: i64,
    first: i64,
    last: i64,
    page: i64,
    pages: i64,
    pager: Pager,
}

/// The list parameters, or what is wrong with them.
fn list_query(req: &HttpRequest) -> Result<ListQuery, String> {
    let raw = web::Query::<RawListQuery>::from_query(req.query_string())
        .map_err(|e| format!("This list address is not valid: {e}."))?;
    // The page always shows 50 a page.
    let raw = RawListQuery {
        per_page: None,
        ..raw.into_inner()
    };
    ListQuery::parse(&raw).map_err(|errors| {
        let reasons = errors.into_values().collect::<Vec<_>>().join("; ");
        format!("This list address is not valid: {reasons}.")
    })
}

pub async fn list(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    let query = match list_query(&req) {
        Ok(query) => query,
        Err(message) => {
            // The 400 page, with the top bar and a way back to the book.
            let page = ErrorPage {
                ctx: PageCtx::new(&session, Some(&user), &state),
                status: 400,
                title: "Invalid list address".into(),
                message,
                request_id: None,
            };
            return render(StatusCode::BAD_REQUEST, &page);
        }
    };
    let page = book::list(&state, &user, &query).await?;
    let paging = query.paging;
    let first = paging.offset() + 1;
    let last = first + page.contacts.len() as i64 - 1;
    let pages = paging.pages(page.total);
    let view = ListView::of(&query);
    let summary = if page.contacts.is_empty() {
        String::new()
    } else {
        format!("contacts {first}–{last} of {}", page.total)
    };
    let pager = Pager::new(page.page, pages, summary, |n| view.page_href(n));
    let tpl = ListPageTpl {
        ctx: PageCtx::new(&session, Some(&user), &state),
        view,
        rows: page.contacts.iter().map(Row::of).collect(),
        tags: page.tags,
        matching: page.total,
        stats_total: page.stats_total,
        stats_favorites: page.stats_favorites,
        first,
        last,
        page: page.page,
        pages,
        pager,
    };
    render(StatusCode::OK, &tpl)
}

// ---------------------------------------------------------------------------------------
// Add and edit

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
            errors: FieldErrors::new(),
            duplicate: None,
        }
    }

    fn edit(
        state: &AppState,
        session: &Session,
        user: &UserRow,
        id: &str,
        name: &str,
        form: ContactForm,
    ) -> Self {
        FormPage {
            ctx: PageCtx::new(session, Some(user), state),
            heading: format!("Edit {name}"),
            action: format!("/contacts/{id}/edit"),
            submit: "Save changes",
            cancel_href: format!("/contacts/{id}"),
            form,
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
    let page = FormPage::edit(
        &state,
        &session,
        &user,
        &view.id,
        &view.contact.name,
        ContactForm::of(&view),
    );
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
    match book::update(&state, &user, &id, form.draft()).await {
        Ok(view) => {
            flash(&session, "success", "Contact saved");
            Ok(redirect(&format!("/contacts/{}", view.id)))
        }
        Err(e @ (Error::Invalid(_) | Error::Duplicate(_))) => {
            // The heading names the contact as stored, not the refused input.
            let current = book::get(&state, &user, &id).await?;
            FormPage::edit(
                &state,
                &session,
                &user,
                &current.id,
                &current.contact.name,
                form,
            )
            .refused(&state, &user, e)
            .await
        }
        Err(other) => Err(other.into()),
    }
}

// ---------------------------------------------------------------------------------------
// View, favorite, delete

#[derive(Template)]
#[template(path = "contacts/show.html")]
struct ShowPage {
    ctx: PageCtx,
    id: String,
    name: String,
    phone: String,
    email: String,
    address: String,
    company: String,
    notes: String,
    tags: Vec<String>,
    favorite: bool,
    created: String,
    updated: String,
}

pub async fn show(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let v = book::get(&state, &user, &id).await?;
    let c = v.contact;
    let page = ShowPage {
        ctx: PageCtx::new(&session, Some(&user), &state),
        id: v.id,
        name: c.name,
        phone: c.phone,
        email: c.email,
        address: c.address,
        company: c.company,
        notes: c.notes,
        tags: c.tags,
        favorite: c.favorite,
        created: clock::human(v.created),
        updated: clock::human(v.updated),
    };
    render(StatusCode::OK, &page)
}

pub async fn toggle_favorite(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = book::toggle_favorite(&state, &user, &id).await?;
    let message = if view.contact.favorite {
        "Marked as favorite"
    } else {
        "Removed from favorites"
    };
    flash(&session, "success", message);
    Ok(redirect(&format!("/contacts/{}", view.id)))
}

pub async fn confirm_delete(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let view = book::get(&state, &user, &id).await?;
    let name = view.contact.name;
    let page = ConfirmPage {
        ctx: PageCtx::new(&session, Some(&user), &state),
        title: format!("Delete {name}"),
        consequence: "The contact is removed from your book at once. This cannot be undone.",
        action: format!("/contacts/{}/delete", view.id),
        cancel: format!("/contacts/{}", view.id),
        js_question: Some(format!("Delete {name} for good?")),
        ask_password: false,
        errors: FieldErrors::new(),
    };
    render(StatusCode::OK, &page)
}

pub async fn delete(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    book::delete(&state, &user, &id).await?;
    flash(&session, "success", "Contact deleted");
    Ok(redirect("/contacts"))
}

// ---------------------------------------------------------------------------------------
// CSV import and export

pub struct BadLine {
    pub line: u64,
    pub error: String,
}

#[derive(Template)]
#[template(path = "contacts/import.html")]
struct ImportPage {
    ctx: PageCtx,
    /// A problem with the upload or the file as a whole.
    file_error: Option<String>,
    /// Every invalid row (nothing was stored).
    bad_lines: Vec<BadLine>,
}

impl ImportPage {
    fn new(state: &AppState, session: &Session, user: &UserRow) -> Self {
        ImportPage {
            ctx: PageCtx::new(session, Some(user), state),
            file_error: None,
            bad_lines: Vec::new(),
        }
    }
}

pub async fn import_form(
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    render(StatusCode::OK, &ImportPage::new(&state, &session, &user))
}

pub async fn import(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    CurrentUser(user): CurrentUser,
    payload: web::Payload,
) -> Result<HttpResponse, AppError> {
    let mut page = ImportPage::new(&state, &session, &user);
    let csrf = csrf::token_to_check_in_body(&req, &session)?;
    let data = match upload(&req, payload, csrf.as_deref()).await {
        Ok(data) => data,
        Err(AppError::BadRequest(message)) => {
            page.file_error = Some(message);
            return render(StatusCode::BAD_REQUEST, &page);
        }
        Err(other) => return Err(other),
    };
    state.limits.import(user.id)?;
    match book_csv::import(&state, &user, &data).await {
        Ok(report) => {
            let mut message = format!("{} added, {} skipped", report.added, report.skipped);
            if !report.ignored_columns.is_empty() {
                message.push_str(&format!(
                    "; ignored columns: {}",
                    report.ignored_columns.join(", ")
                ));
            }
            flash(&session, "success", message);
            Ok(redirect("/contacts"))
        }
        Err(ImportError::Rows(errors)) => {
            page.bad_lines = errors
                .into_iter()
                .map(|(line, error)| BadLine { line, error })
                .collect();
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(ImportError::File(message)) => {
            page.file_error = Some(format!("This file cannot be imported: {message}."));
            render(StatusCode::BAD_REQUEST, &page)
        }
        Err(ImportError::Book(e)) => Err(e.into()),
    }
}

/// The uploaded file. A missing, empty or malformed upload is `BadRequest` with a message
/// for the page; too large stays `TooLarge` (the 413 page).
async fn upload(
    req: &HttpRequest,
    payload: web::Payload,
    csrf: Option<&str>,
) -> Result<Vec<u8>, AppError> {
    let choose = || AppError::BadRequest("Choose a CSV file to upload.".into());
    match read_upload(req, payload, MAX_IMPORT_BYTES, csrf).await {
        Ok(data) if data.trim_ascii().is_empty() => Err(choose()),
        Err(AppError::Validation(fields)) => Err(fields
            .into_values()
            .next()
            .map(AppError::BadRequest)
            .unwrap_or_else(choose)),
        other => other,
    }
}

pub async fn export(
    state: web::Data<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<HttpResponse, AppError> {
    book_csv::begin_export(&state, &user).await?;
    Ok(csv_attachment(state.clone(), user.id))
}
