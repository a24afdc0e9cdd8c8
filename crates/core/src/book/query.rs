//! The list parameters of API.md (`q`, `tag`, `favorites`, `sort`, `order`, `page`,
//! `per_page`), shared by `/contacts` and `GET /api/contacts`.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::domain::paging::Paging;
use crate::domain::{FORBIDDEN_CHARS, has_forbidden_chars};

const MAX_QUERY: usize = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Name,
    Created,
}

/// The query string as sent; every value optional and unchecked.
/// (With the `openapi` feature, which the API face turns on, it also describes itself for the
/// OpenAPI document.)
#[derive(Clone, Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct RawListQuery {
    /// Case-insensitive substring of name, phone, email or company (at most 200 characters).
    pub q: Option<String>,
    /// Only contacts carrying this tag.
    pub tag: Option<String>,
    /// `true` for favorites only.
    pub favorites: Option<String>,
    /// `name` (default) or `created`.
    pub sort: Option<String>,
    /// `asc` (default) or `desc`.
    pub order: Option<String>,
    /// 1-based page number (default 1).
    pub page: Option<String>,
    /// Results per page: default 50, larger than 200 is clamped to 200.
    pub per_page: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListQuery {
    pub q: String,
    pub tag: Option<String>,
    pub favorites: bool,
    pub sort: Sort,
    pub desc: bool,
    pub paging: Paging,
}

impl Default for ListQuery {
    fn default() -> Self {
        ListQuery {
            q: String::new(),
            tag: None,
            favorites: false,
            sort: Sort::Name,
            desc: false,
            paging: Paging {
                page: 1,
                per_page: 50,
            },
        }
    }
}

impl ListQuery {
    pub fn parse(raw: &RawListQuery) -> Result<ListQuery, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let paging =
            Paging::parse(raw.page.as_deref(), raw.per_page.as_deref()).unwrap_or_else(|e| {
                errors.extend(e);
                Paging {
                    page: 1,
                    per_page: 50,
                }
            });
        let q = raw.q.as_deref().unwrap_or("").trim().to_string();
        if q.chars().count() > MAX_QUERY {
            errors.insert(
                "q".into(),
                format!("A search has at most {MAX_QUERY} characters."),
            );
        } else if has_forbidden_chars(&q, false) {
            errors.insert("q".into(), FORBIDDEN_CHARS.into());
        }
        let favorites = match raw
            .favorites
            .as_deref()
            .map(|v| v.trim().to_ascii_lowercase())
            .as_deref()
        {
            None | Some("") | Some("false") | Some("0") | Some("no") => false,
            Some("true") | Some("1") | Some("yes") | Some("on") => true,
            Some(_) => {
                errors.insert("favorites".into(), "favorites is true or false".into());
                false
            }
        };
        let sort = match raw.sort.as_deref().map(str::trim) {
            None | Some("") | Some("name") => Sort::Name,
            Some("created") => Sort::Created,
            Some(_) => {
                errors.insert("sort".into(), "sort is name or created".into());
                Sort::Name
            }
        };
        let desc = match raw.order.as_deref().map(str::trim) {
            None | Some("") | Some("asc") => false,
            Some("desc") => true,
            Some(_) => {
                errors.insert("order".into(), "order is asc or desc".into());
                false
            }
        };
        let tag = raw
            .tag
            .as_deref()
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_string);
        if tag
            .as_deref()
            .is_some_and(|t| has_forbidden_chars(t, false))
        {
            errors.insert("tag".into(), FORBIDDEN_CHARS.into());
        }
        if errors.is_empty() {
            Ok(ListQuery {
                q,
                tag,
                favorites,
                sort,
                desc,
                paging,
            })
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_values() {
        assert_eq!(
            ListQuery::parse(&RawListQuery::default()).unwrap(),
            ListQuery::default()
        );
        let raw = RawListQuery {
            q: Some("  ann ".into()),
            tag: Some("work".into()),
            favorites: Some("true".into()),
            sort: Some("created".into()),
            order: Some("desc".into()),
            page: Some("2".into()),
            per_page: Some("201".into()),
        };
        let q = ListQuery::parse(&raw).unwrap();
        assert_eq!(q.q, "ann");
        assert_eq!(q.tag.as_deref(), Some("work"));
        assert!(q.favorites && q.desc);
        assert_eq!(q.sort, Sort::Created);
        assert_eq!(
            q.paging,
            Paging {
                page: 2,
                per_page: 200
            }
        );
    }

    #[test]
    fn bad_values_are_field_errors() {
        let raw = RawListQuery {
            sort: Some("name; DROP TABLE contacts".into()),
            order: Some("sideways".into()),
            favorites: Some("maybe".into()),
            page: Some("abc".into()),
            per_page: Some("0".into()),
            q: Some("x".repeat(201)),
            ..RawListQuery::default()
        };
        let errors = ListQuery::parse(&raw).unwrap_err();
        for field in ["sort", "order", "favorites", "page", "per_page", "q"] {
            assert!(errors.contains_key(field), "{field}");
        }
    }

    #[test]
    fn undecodable_search_text_is_refused() {
        let raw = RawListQuery {
            q: Some("ann\u{FFFD}".into()),
            tag: Some("a\u{0}b".into()),
            ..RawListQuery::default()
        };
        let errors = ListQuery::parse(&raw).unwrap_err();
        assert!(errors.contains_key("q") && errors.contains_key("tag"));
    }
}
