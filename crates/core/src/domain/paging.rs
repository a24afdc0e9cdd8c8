//! `page` and `per_page` query parameters, shared by every list.

use std::collections::BTreeMap;

pub const DEFAULT_PER_PAGE: i64 = 50;
pub const MAX_PER_PAGE: i64 = 200;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Paging {
    pub page: i64,
    pub per_page: i64,
}

impl Paging {
    /// `page` ≥ 1 (default 1); `per_page` ≥ 1 (default 50, values over 200 clamped to 200).
    pub fn parse(
        page: Option<&str>,
        per_page: Option<&str>,
    ) -> Result<Paging, BTreeMap<String, String>> {
        let mut errors = BTreeMap::new();
        let mut number = |name: &str, v: Option<&str>, default: i64| -> i64 {
            match v.map(str::trim).filter(|v| !v.is_empty()) {
                None => default,
                Some(v) => match v.parse::<i64>() {
                    Ok(n) if n >= 1 => n,
                    Ok(_) => {
                        errors.insert(name.to_string(), format!("{name} must be at least 1"));
                        default
                    }
                    Err(_) => {
                        errors.insert(name.to_string(), format!("{name} must be a whole number"));
                        default
                    }
                },
            }
        };
        let page = number("page", page, 1);
        let per_page = number("per_page", per_page, DEFAULT_PER_PAGE).min(MAX_PER_PAGE);
        if errors.is_empty() {
            Ok(Paging { page, per_page })
        } else {
            Err(errors)
        }
    }

    pub fn offset(&self) -> i64 {
        (self.page - 1).saturating_mul(self.per_page)
    }

    /// Number of pages for `total` items (at least 1).
    pub fn pages(&self, total: i64) -> i64 {
        ((total + self.per_page - 1) / self.per_page).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_clamps_and_refuses() {
        assert_eq!(
            Paging::parse(None, None).unwrap(),
            Paging {
                page: 1,
                per_page: 50
            }
        );
        assert_eq!(
            Paging::parse(Some("3"), Some("500")).unwrap(),
            Paging {
                page: 3,
                per_page: 200
            }
        );
        assert_eq!(
            Paging::parse(Some(""), Some("")).unwrap(),
            Paging {
                page: 1,
                per_page: 50
            }
        );
        for (p, pp) in [
            (Some("0"), None),
            (None, Some("0")),
            (Some("x"), None),
            (None, Some("-1")),
            (Some("1.5"), None),
        ] {
            assert!(Paging::parse(p, pp).is_err(), "{p:?} {pp:?}");
        }
        let p = Paging::parse(Some("3"), Some("20")).unwrap();
        assert_eq!(p.offset(), 40);
        assert_eq!(p.pages(41), 3);
        assert_eq!(p.pages(0), 1);
    }
}
