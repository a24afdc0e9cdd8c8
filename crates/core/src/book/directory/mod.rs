//! The per-user directory: the searchable fields of a book, decrypted once and kept in
//! memory, so a list or search decrypts only the rows of the page it shows.
//!
//! Each directory is tagged with the book's version from the database. Every write bumps that
//! version in its transaction; a reader whose cached version is older rebuilds, so several
//! server processes on one database stay correct. Writes made by this process patch the cached
//! directory in place, in version order (also while it is being rebuilt). One reader at a time
//! rebuilds a book; the others wait for it. The cache is bounded in memory (least recently
//! used books go first) and idle books are dropped.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use crate::crypto::FieldCipher;
use crate::domain::contact::{fold, phone_digits};

/// One stored summary, as the directory is built from it.
pub use crate::store::contacts::SummaryRow;

use super::{ListQuery, Sort, Summary};
use search::{Haystacks, Needle};

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    /// Accent- and case-folded name: the primary sort key.
    sort_key: String,
    /// Lower-case name: puts accented letters after their base letter on ties.
    name_lower: String,
    /// Folded name, e-mail, company and phone, newline-separated: what `q` searches.
    haystack: String,
    phone_digits: String,
    tags: Vec<String>,
    favorite: bool,
    created: i64,
    /// Creation order (the row's rowid): breaks ties of `created`, which has whole seconds.
    seq: i64,
}

impl Entry {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: String,
        name: &str,
        phone: &str,
        email: &str,
        company: &str,
        tags: Vec<String>,
        favorite: bool,
        created: i64,
        seq: i64,
    ) -> Entry {
        let sort_key = fold(name);
        let haystack = format!(
            "{sort_key}\n{}\n{}\n{}",
            fold(email),
            fold(company),
            fold(phone)
        );
        Entry {
            id,
            sort_key,
            name_lower: name.to_lowercase(),
            haystack,
            phone_digits: phone_digits(phone),
            tags,
            favorite,
            created,
            seq,
        }
    }

    fn order_key(&self) -> (&str, &str, &str) {
        (&self.sort_key, &self.name_lower, &self.id)
    }

    fn bytes(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.id.len()
            + self.sort_key.len()
            + self.name_lower.len()
            + self.haystack.len()
            + self.phone_digits.len()
            + self.tags.iter().map(|t| t.len() + 24).sum::<usize>()
    }
}

/// One search term, prepared once per request.
struct Term {
    folded: String,
    /// The digits of a term that looks like (part of) a phone number.
    digits: Option<String>,
}

impl Term {
    fn parse(raw: &str) -> Term {
        // Control characters are never in a haystack (and NUL separates them).
        let raw: String = raw.chars().filter(|c| !c.is_control()).collect();
        let phone_like = raw.chars().any(|c| c.is_ascii_digit())
            && raw
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | '(' | ')' | ' '));
        Term {
            folded: fold(&raw),
            digits: phone_like.then(|| phone_digits(&raw)),
        }
    }

    fn needle(&self) -> Needle<'_> {
        Needle {
            text: &self.folded,
            digits: self.digits.as_deref(),
        }
    }
}

/// A book's directory, sorted by name.
#[derive(Clone, Debug)]
pub struct Directory {
    pub version: i64,
    /// Shared with the copies a write makes while a reader still holds the directory
    /// (`Arc::make_mut`), so such a copy costs a pointer per contact, not the whole book.
    entries: Vec<Arc<Entry>>,
    /// How many entries are favorites (kept up to date by `apply`).
    favorites: usize,
    /// [`Directory::tags`], computed on first use after a build or a change: every list page
    /// shows it, and folding every tag of a large book per request cost more than the rest.
    tags: OnceLock<Vec<String>>,
    /// The searchable text end to end (`search.rs`), built on the first search after a build
    /// or a change; shared, not copied, by the copies a write makes.
    haystacks: OnceLock<Arc<Haystacks>>,
}

/// A change a write made, to patch a cached directory.
pub enum Change {
    Upsert(Entry),
    Remove(String),
}

impl Directory {
    pub fn new(version: i64, mut entries: Vec<Entry>) -> Directory {
        entries.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        let favorites = entries.iter().filter(|e| e.favorite).count();
        Directory {
            version,
            entries: entries.into_iter().map(Arc::new).collect(),
            favorites,
            tags: OnceLock::new(),
            haystacks: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn favorites(&self) -> usize {
        self.favorites
    }

    /// Every tag in use, once (case-insensitively), sorted.
    pub fn tags(&self) -> Vec<String> {
        self.tags
            .get_or_init(|| {
                let mut seen: BTreeMap<String, String> = BTreeMap::new();
                for tag in self.entries.iter().flat_map(|e| e.tags.iter()) {
                    seen.entry(fold(tag)).or_insert_with(|| tag.clone());
                }
                seen.into_values().collect()
            })
            .clone()
    }

    /// The ids of the requested page and the number of matching contacts.
    pub fn select(&self, q: &ListQuery) -> (Vec<String>, usize) {
        let terms: Vec<Term> = q.q.split_whitespace().map(Term::parse).collect();
        let tag = q.tag.as_deref().map(fold);
        let filtered = !terms.is_empty() || tag.is_some() || q.favorites;
        // Which entries hold every term, by position: one scan of the book's text a term.
        let found = (!terms.is_empty()).then(|| {
            let needles: Vec<Needle<'_>> = terms.iter().map(Term::needle).collect();
            self.haystacks
                .get_or_init(|| Arc::new(Haystacks::build(&self.entries)))
                .matching(&needles)
        });
        let keep = |(at, e): &(usize, &Entry)| {
            (!q.favorites || e.favorite)
                && found.as_ref().is_none_or(|found| found[*at])
                && tag
                    .as_ref()
                    .is_none_or(|t| e.tags.iter().any(|et| same_tag(et, t)))
        };
        let offset = usize::try_from(q.paging.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(q.paging.per_page).unwrap_or(50);
        let indexed = self.entries.iter().map(Arc::as_ref).enumerate();
        if q.sort == Sort::Name {
            // The entries are already in name order: count the matches in one pass and keep
            // only the page's ids (no list of every match, no copy of the book).
            let in_order: Box<dyn Iterator<Item = (usize, &Entry)>> = if q.desc {
                Box::new(indexed.rev())
            } else {
                Box::new(indexed)
            };
            if !filtered {
                let ids = in_order
                    .skip(offset)
                    .take(per_page)
                    .map(|(_, e)| e.id.clone())
                    .collect();
                return (ids, self.entries.len());
            }
            let mut total = 0;
            let mut ids = Vec::new();
            for (_, e) in in_order.filter(keep) {
                if total >= offset && ids.len() < per_page {
                    ids.push(e.id.clone());
                }
                total += 1;
            }
            return (ids, total);
        }
        let mut hits: Vec<&Entry> = indexed.filter(keep).map(|(_, e)| e).collect();
        // Contacts created in the same second stay in the order they were created.
        hits.sort_by_key(|e| (e.created, e.seq));
        if q.desc {
            hits.reverse();
        }
        let total = hits.len();
        let ids = hits
            .into_iter()
            .skip(offset)
            .take(per_page)
            .map(|e| e.id.clone())
            .collect();
        (ids, total)
    }

    fn apply(&mut self, change: Change) {
        let id = match &change {
            Change::Upsert(e) => e.id.clone(),
            Change::Remove(id) => id.clone(),
        };
        let mut old_seq = None;
        if let Some(at) = self.entries.iter().position(|e| e.id == id) {
            let old = self.entries.remove(at);
            self.favorites -= usize::from(old.favorite);
            old_seq = Some(old.seq);
        }
        if let Change::Upsert(mut entry) = change {
            // An edit keeps the contact's place in creation order.
            if let Some(seq) = old_seq {
                entry.seq = seq;
            }
            self.favorites += usize::from(entry.favorite);
            let at = self
                .entries
                .partition_point(|e| e.order_key() < entry.order_key());
            self.entries.insert(at, Arc::new(entry));
        }
        self.tags = OnceLock::new();
        self.haystacks = OnceLock::new();
    }

    fn bytes(&self) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|e| e.bytes() + std::mem::size_of::<Arc<Entry>>() + 16)
            .sum();
        // The search buffers count whether built yet or not, so the cache's budget holds
        // after the first search too.
        entries + Haystacks::bytes_for(&self.entries)
    }
}

/// Does a contact's tag equal the folded tag `folded`? ASCII tags (nearly all) are compared
/// without allocating; folding an ASCII string only lower-cases it.
fn same_tag(tag: &str, folded: &str) -> bool {
    if tag.is_ascii() {
        tag.eq_ignore_ascii_case(folded)
    } else {
        fold(tag) == folded
    }
}

/// Decrypts the summaries (in parallel across the cores) into a directory sorted by name.
/// This is what a cache miss runs; it is public so benchmarks (`benches/directory.rs`) can
/// time it on a book of any size without a database.
pub fn build(
    version: i64,
    rows: Vec<SummaryRow>,
    cipher: &FieldCipher,
) -> anyhow::Result<Directory> {
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
        .clamp(1, 8);
    let chunk = rows.len().div_ceil(threads).max(1);
    let parts: Vec<anyhow::Result<Vec<Entry>>> = std::thread::scope(|scope| {
        let handles: Vec<_> = rows
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || part.iter().map(|r| decrypt_summary(r, cipher)).collect())
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a directory thread panicked")))
            })
            .collect()
    });
    let mut entries = Vec::with_capacity(rows.len());
    for part in parts {
        entries.extend(part?);
    }
    Ok(Directory::new(version, entries))
}

fn decrypt_summary(row: &SummaryRow, cipher: &FieldCipher) -> anyhow::Result<Entry> {
    let json = cipher
        .decrypt(&row.summary)
        .map_err(|e| anyhow::anyhow!("contact {}: {e}", row.id))?;
    let s: Summary = serde_json::from_str(&json)?;
    Ok(Entry::new(
        row.id.clone(),
        &s.name,
        &s.phone,
        &s.email,
        &s.company,
        s.tags,
        row.favorite,
        row.created,
        row.seq,
    ))
}

/// Changes a book can hold back while a gap in its versions closes; beyond that the cached
/// directory is dropped and the next reader rebuilds (a write by another process leaves a gap
/// that never closes).
mod cache;
mod search;

pub use cache::DirectoryCache;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::paging::Paging;

    pub(super) fn entry(
        id: &str,
        name: &str,
        phone: &str,
        email: &str,
        tags: &[&str],
        favorite: bool,
        created: i64,
    ) -> Entry {
        // The test ids are numbers given in creation order.
        Entry::new(
            id.into(),
            name,
            phone,
            email,
            "",
            tags.iter().map(|t| t.to_string()).collect(),
            favorite,
            created,
            id.parse().unwrap_or(0),
        )
    }

    pub(super) fn dir() -> Directory {
        Directory::new(
            1,
            vec![
                entry(
                    "1",
                    "Zoë Adams",
                    "+44 7700 900001",
                    "zoe@example.com",
                    &["work"],
                    true,
                    30,
                ),
                entry("2", "zoe baker", "555-0100", "", &["Friend"], false, 10),
                entry(
                    "3",
                    "Émile Zola",
                    "+33 1 23 45 67 89",
                    "emile@example.fr",
                    &["work", "fr"],
                    false,
                    20,
                ),
                entry("4", "Ann", "0301234567", "ann@corp.example", &[], true, 40),
                entry("5", "Zoe Adams", "+1 555 0101", "", &[], false, 50),
            ],
        )
    }

    fn q(text: &str) -> ListQuery {
        ListQuery {
            q: text.into(),
            ..ListQuery::default()
        }
    }

    #[test]
    fn sorts_by_name_case_insensitively_with_accents_after_their_base_letter() {
        let (ids, total) = dir().select(&ListQuery::default());
        assert_eq!(total, 5);
        assert_eq!(ids, vec!["4", "3", "5", "1", "2"]);
    }

    #[test]
    fn searches_every_field_with_folding_and_phone_digits() {
        let d = dir();
        assert_eq!(d.select(&q("ZOË")).1, 3, "case and accents fold");
        assert_eq!(d.select(&q("zola")).0, vec!["3"]);
        assert_eq!(d.select(&q("corp.example")).0, vec!["4"]);
        assert_eq!(
            d.select(&q("7700900")).0,
            vec!["1"],
            "digits ignore spacing"
        );
        assert_eq!(d.select(&q("555 0100")).0, vec!["2"]);
        assert_eq!(d.select(&q("zoe adams")).1, 2, "terms all match");
        assert_eq!(d.select(&q("nobody")).1, 0);
    }

    #[test]
    fn filters_sorts_and_pages() {
        let d = dir();
        let by_tag = ListQuery {
            tag: Some("WORK".into()),
            ..ListQuery::default()
        };
        assert_eq!(d.select(&by_tag).0, vec!["3", "1"]);
        let favorites = ListQuery {
            favorites: true,
            ..ListQuery::default()
        };
        assert_eq!(d.select(&favorites).0, vec!["4", "1"]);
        let newest = ListQuery {
            sort: Sort::Created,
            desc: true,
            ..ListQuery::default()
        };
        assert_eq!(d.select(&newest).0, vec!["5", "4", "1", "3", "2"]);
        let page2 = ListQuery {
            paging: Paging {
                page: 2,
                per_page: 2,
            },
            ..ListQuery::default()
        };
        assert_eq!(
            d.select(&page2),
            (vec!["5".to_string(), "1".to_string()], 5)
        );
        let past = ListQuery {
            paging: Paging {
                page: 9,
                per_page: 2,
            },
            ..ListQuery::default()
        };
        assert_eq!(d.select(&past), (vec![], 5));
        assert_eq!(d.tags(), vec!["fr", "Friend", "work"]);
        assert_eq!(d.favorites(), 2);
    }

    #[test]
    fn patches_keep_the_order() {
        let mut d = dir();
        d.apply(Change::Upsert(entry(
            "6",
            "Bea",
            "5550000000",
            "",
            &[],
            false,
            60,
        )));
        d.apply(Change::Remove("3".into()));
        d.apply(Change::Upsert(entry(
            "4",
            "Yann",
            "0301234567",
            "",
            &[],
            true,
            40,
        )));
        assert_eq!(
            d.select(&ListQuery::default()).0,
            vec!["6", "4", "5", "1", "2"]
        );
    }

    #[test]
    fn name_order_pages_both_ways_with_and_without_filters() {
        let d = dir();
        let query = |text: &str, desc: bool, page: i64| ListQuery {
            q: text.into(),
            desc,
            paging: Paging { page, per_page: 2 },
            ..ListQuery::default()
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(d.select(&query("", true, 1)), (ids(&["2", "1"]), 5));
        assert_eq!(d.select(&query("", true, 3)), (ids(&["4"]), 5));
        assert_eq!(d.select(&query("zoe", false, 1)), (ids(&["5", "1"]), 3));
        assert_eq!(d.select(&query("zoe", true, 1)), (ids(&["2", "1"]), 3));
        assert_eq!(d.select(&query("zoe", true, 2)), (ids(&["5"]), 3));
        assert_eq!(d.select(&query("zoe", true, 3)), (ids(&[]), 3));
    }

    #[test]
    fn patches_keep_the_counts_and_tags() {
        let mut d = dir();
        assert_eq!((d.favorites(), d.tags().len()), (2, 3));
        d.apply(Change::Upsert(entry(
            "6",
            "Bea",
            "5550000000",
            "",
            &["New"],
            true,
            60,
        )));
        assert_eq!(d.favorites(), 3);
        assert_eq!(d.tags(), vec!["fr", "Friend", "New", "work"]);
        d.apply(Change::Upsert(entry(
            "1",
            "Zoë Adams",
            "1",
            "",
            &[],
            false,
            30,
        )));
        d.apply(Change::Remove("3".into()));
        assert_eq!(d.favorites(), 2);
        assert_eq!(d.tags(), vec!["Friend", "New"]);
        let by_tag = ListQuery {
            tag: Some("nEw".into()),
            ..ListQuery::default()
        };
        assert_eq!(d.select(&by_tag).0, vec!["6"]);
    }

    #[test]
    fn same_second_ties_go_by_creation_order_and_edits_keep_it() {
        let mut d = Directory::new(
            1,
            vec![
                entry("1", "Zed", "5550000001", "", &[], false, 7),
                entry("2", "Mia", "5550000002", "", &[], false, 7),
                entry("3", "Abe", "5550000003", "", &[], false, 7),
            ],
        );
        let oldest = ListQuery {
            sort: Sort::Created,
            ..ListQuery::default()
        };
        assert_eq!(d.select(&oldest).0, vec!["1", "2", "3"]);
        // An edit arrives with no creation order of its own (0): it keeps the old one.
        let renamed = Entry::new(
            "1".into(),
            "Aaron",
            "5550000001",
            "",
            "",
            vec![],
            false,
            7,
            0,
        );
        d.apply(Change::Upsert(renamed));
        assert_eq!(d.select(&oldest).0, vec!["1", "2", "3"]);
        let newest = ListQuery {
            desc: true,
            ..oldest
        };
        assert_eq!(d.select(&newest).0, vec!["3", "2", "1"]);
    }

    #[test]
    fn builds_from_encrypted_summaries() {
        let cipher = FieldCipher::from_keys(&[&fernet::Fernet::generate_key()]).unwrap();
        let rows: Vec<SummaryRow> = (0..50)
            .map(|i| {
                let s = Summary {
                    name: format!("Person {i:02}"),
                    phone: "5550100".into(),
                    email: String::new(),
                    company: String::new(),
                    tags: vec![],
                };
                SummaryRow {
                    id: i.to_string(),
                    summary: cipher.encrypt(&serde_json::to_string(&s).unwrap()),
                    favorite: i % 2 == 0,
                    created: i,
                    seq: i,
                }
            })
            .collect();
        let d = build(3, rows, &cipher).unwrap();
        assert_eq!(d.len(), 50);
        assert_eq!(d.favorites(), 25);
        assert_eq!(d.select(&q("person 07")).0, vec!["7"]);
    }
}
