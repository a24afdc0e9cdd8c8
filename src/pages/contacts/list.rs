//! `GET /contacts`: one page of the book as the URL describes it (search, tag, favorites,
//! sort, page), with the links that change one part of the view.

use crate::auth::CurrentUser;
use crate::book::query::RawListQuery;
use crate::book::{self, ContactView, ListQuery, Sort};
use crate::clock;
use crate::error::AppError;
use crate::pages::login::render;
use crate::pages::page::{ErrorPage, PageCtx, Pager};
use crate::state::AppState;
use actix_session::Session;
use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn view(query: &str) -> ListView {
        let raw: RawListQuery = serde_urlencoded::from_str(query).expect("query");
        ListView::of(&ListQuery::parse(&raw).expect("valid query"))
    }

    #[test]
    fn the_default_view_links_to_the_bare_path() {
        let v = view("");
        assert_eq!(v.page_href(1), "/contacts");
        assert_eq!(v.page_href(2), "/contacts?page=2");
        assert!(!v.is_filtered());
    }

    #[test]
    fn links_keep_the_search_and_filters_and_change_one_thing() {
        let v = view("q=ann+lee&tag=work&favorites=true&sort=created&order=desc&page=3");
        assert!(v.is_filtered());
        assert_eq!(
            v.page_href(4),
            "/contacts?q=ann+lee&tag=work&favorites=true&sort=created&order=desc&page=4"
        );
        // A new filter starts from the first page.
        assert_eq!(
            v.tag_href("a&b"),
            "/contacts?q=ann+lee&tag=a%26b&favorites=true&sort=created&order=desc"
        );
        assert_eq!(
            v.clear_tag_href(),
            "/contacts?q=ann+lee&favorites=true&sort=created&order=desc"
        );
        assert_eq!(
            v.favorites_href(false),
            "/contacts?q=ann+lee&tag=work&sort=created&order=desc"
        );
        assert!(v.tag_is("work") && !v.tag_is("home"));
    }

    #[test]
    fn sorting_by_the_current_column_flips_the_order() {
        let by_name = view("");
        assert_eq!(by_name.aria_sort("name"), "ascending");
        assert_eq!(by_name.aria_sort("created"), "none");
        assert_eq!(by_name.sort_href("name"), "/contacts?order=desc");
        assert_eq!(by_name.sort_href("created"), "/contacts?sort=created");

        let newest_first = view("sort=created&order=desc");
        assert_eq!(newest_first.sort_name(), "created");
        assert_eq!(newest_first.aria_sort("created"), "descending");
        assert_eq!(newest_first.sort_href("created"), "/contacts?sort=created");
        assert_eq!(newest_first.sort_href("name"), "/contacts");
    }
}
