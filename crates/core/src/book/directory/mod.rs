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
use crate::domain::contact::{Contact, fold, phone_digits};

pub use entry::Entry;

/// One stored summary, as the directory is built from it.
pub use crate::store::contacts::SummaryRow;

use super::{ListQuery, Sort, Summary};
use search::{Haystacks, Needle};

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
    /// The entries' positions in creation order, sorted on the first list by creation after a
    /// build or a change (not once per request); shared like `haystacks`.
    by_created: OnceLock<Arc<Vec<u32>>>,
}

/// A page of a selection: its entries and the number of matching contacts.
pub struct Selection {
    pub page: Vec<Arc<Entry>>,
    pub total: usize,
}

impl Selection {
    pub fn ids(&self) -> Vec<String> {
        self.page.iter().map(|e| e.id.clone()).collect()
    }
}

/// A change a write made, to patch a cached directory.
pub enum Change {
    Upsert(Entry),
    Remove(String),
}

impl Directory {
    pub fn new(version: i64, mut entries: Vec<Entry>) -> Directory {
        entries.sort_by(|a, b| a.by_name(b));
        let favorites = entries.iter().filter(|e| e.favorite).count();
        Directory {
            version,
            entries: entries.into_iter().map(Arc::new).collect(),
            favorites,
            tags: OnceLock::new(),
            haystacks: OnceLock::new(),
            by_created: OnceLock::new(),
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

    /// The requested page and the number of matching contacts. Both orders walk a prebuilt
    /// order (the entries themselves by name, `by_created` by creation), count the matches in
    /// one pass and keep only the page: no list of every match, no sort per request.
    pub fn select(&self, q: &ListQuery) -> Selection {
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
        let keep = |at: usize| {
            let e = &self.entries[at];
            (!q.favorites || e.favorite)
                && found.as_ref().is_none_or(|found| found[at])
                && tag
                    .as_ref()
                    .is_none_or(|t| e.tags.iter().any(|et| same_tag(et, t)))
        };
        let offset = usize::try_from(q.paging.offset()).unwrap_or(usize::MAX);
        let per_page = usize::try_from(q.paging.per_page).unwrap_or(50);
        let by_created;
        let order: Box<dyn DoubleEndedIterator<Item = usize>> = match q.sort {
            Sort::Name => Box::new(0..self.entries.len()),
            Sort::Created => {
                by_created = self
                    .by_created
                    .get_or_init(|| Arc::new(self.created_order()));
                Box::new(by_created.iter().map(|&at| at as usize))
            }
        };
        let in_order: Box<dyn Iterator<Item = usize>> =
            if q.desc { Box::new(order.rev()) } else { order };
        if !filtered {
            let page = in_order
                .skip(offset)
                .take(per_page)
                .map(|at| self.entries[at].clone())
                .collect();
            return Selection {
                page,
                total: self.entries.len(),
            };
        }
        let mut total = 0;
        let mut page = Vec::new();
        for at in in_order.filter(|at| keep(*at)) {
            if total >= offset && page.len() < per_page {
                page.push(self.entries[at].clone());
            }
            total += 1;
        }
        Selection { page, total }
    }

    /// The entries' positions sorted by creation; contacts created in the same second stay
    /// in the order they were created.
    fn created_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.entries.len())
            .map(|at| u32::try_from(at).unwrap_or(u32::MAX))
            .collect();
        order.sort_unstable_by_key(|&at| self.entries[at as usize].created_key());
        order
    }

    /// Applies a change that moves the directory to book version `version`.
    fn apply(&mut self, change: Change, version: i64) {
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
            let at = self.entries.partition_point(|e| e.by_name(&entry).is_lt());
            self.entries.insert(at, Arc::new(entry));
        }
        self.tags = OnceLock::new();
        self.haystacks = OnceLock::new();
        self.by_created = OnceLock::new();
        self.version = version;
    }

    fn bytes(&self) -> usize {
        let entries: usize = self
            .entries
            .iter()
            .map(|e| e.bytes() + std::mem::size_of::<Arc<Entry>>())
            .sum();
        // The creation order counts too, built or not.
        let by_created = self.entries.len() * std::mem::size_of::<u32>();
        // The search buffers count whether built yet or not, so the cache's budget holds
        // after the first search too.
        entries + by_created + Haystacks::bytes_for(&self.entries)
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
/// It is public so benchmarks (`benches/directory.rs`) can time it on a book of any size
/// without a database; the cache reads and decrypts a book in batches (`decrypt_rows`).
pub fn build(
    version: i64,
    rows: Vec<SummaryRow>,
    cipher: &FieldCipher,
) -> anyhow::Result<Directory> {
    Ok(Directory::new(version, decrypt_rows(&rows, cipher)?))
}

/// The entries of `rows`, decrypted on every core (at most 8 threads).
fn decrypt_rows(rows: &[SummaryRow], cipher: &FieldCipher) -> anyhow::Result<Vec<Entry>> {
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
    Ok(entries)
}

fn decrypt_summary(row: &SummaryRow, cipher: &FieldCipher) -> anyhow::Result<Entry> {
    let open = |token: &str| {
        cipher
            .decrypt(token)
            .map_err(|e| anyhow::anyhow!("contact {}: {e}", row.id))
    };
    let s: Summary = serde_json::from_str(&open(&row.summary)?)?;
    let contact = Contact {
        name: s.name,
        phone: s.phone,
        email: s.email,
        address: open(&row.address)?,
        company: s.company,
        notes: open(&row.notes)?,
        tags: s.tags,
        favorite: row.favorite,
    };
    Ok(Entry::new(
        row.id.clone(),
        &contact,
        row.created,
        row.updated,
        row.seq,
    ))
}

/// Changes a book can hold back while a gap in its versions closes; beyond that the cached
/// directory is dropped and the next reader rebuilds (a write by another process leaves a gap
/// that never closes).
mod cache;
mod entry;
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
        let contact = Contact {
            name: name.into(),
            phone: phone.into(),
            email: email.into(),
            address: String::new(),
            company: String::new(),
            notes: String::new(),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            favorite,
        };
        Entry::new(
            id.into(),
            &contact,
            created,
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

    impl Selection {
        fn pair(&self) -> (Vec<String>, usize) {
            (self.ids(), self.total)
        }
    }

    fn patch(d: &mut Directory, change: Change) {
        let next = d.version + 1;
        d.apply(change, next);
    }

    fn q(text: &str) -> ListQuery {
        ListQuery {
            q: text.into(),
            ..ListQuery::default()
        }
    }

    #[test]
    fn sorts_by_name_case_insensitively_with_accents_after_their_base_letter() {
        let (ids, total) = dir().select(&ListQuery::default()).pair();
        assert_eq!(total, 5);
        assert_eq!(ids, vec!["4", "3", "5", "1", "2"]);
    }

    #[test]
    fn searches_every_field_with_folding_and_phone_digits() {
        let d = dir();
        assert_eq!(d.select(&q("ZOË")).total, 3, "case and accents fold");
        assert_eq!(d.select(&q("zola")).ids(), vec!["3"]);
        assert_eq!(d.select(&q("corp.example")).ids(), vec!["4"]);
        assert_eq!(
            d.select(&q("7700900")).ids(),
            vec!["1"],
            "digits ignore spacing"
        );
        assert_eq!(d.select(&q("555 0100")).ids(), vec!["2"]);
        assert_eq!(d.select(&q("zoe adams")).total, 2, "terms all match");
        assert_eq!(d.select(&q("nobody")).total, 0);
    }

    #[test]
    fn filters_sorts_and_pages() {
        let d = dir();
        let by_tag = ListQuery {
            tag: Some("WORK".into()),
            ..ListQuery::default()
        };
        assert_eq!(d.select(&by_tag).ids(), vec!["3", "1"]);
        let favorites = ListQuery {
            favorites: true,
            ..ListQuery::default()
        };
        assert_eq!(d.select(&favorites).ids(), vec!["4", "1"]);
        let newest = ListQuery {
            sort: Sort::Created,
            desc: true,
            ..ListQuery::default()
        };
        assert_eq!(d.select(&newest).ids(), vec!["5", "4", "1", "3", "2"]);
        let page2 = ListQuery {
            paging: Paging {
                page: 2,
                per_page: 2,
            },
            ..ListQuery::default()
        };
        assert_eq!(
            d.select(&page2).pair(),
            (vec!["5".to_string(), "1".to_string()], 5)
        );
        let past = ListQuery {
            paging: Paging {
                page: 9,
                per_page: 2,
            },
            ..ListQuery::default()
        };
        assert_eq!(d.select(&past).pair(), (vec![], 5));
        assert_eq!(d.tags(), vec!["fr", "Friend", "work"]);
        assert_eq!(d.favorites(), 2);
    }

    #[test]
    fn patches_keep_the_order() {
        let mut d = dir();
        patch(
            &mut d,
            Change::Upsert(entry("6", "Bea", "5550000000", "", &[], false, 60)),
        );
        patch(&mut d, Change::Remove("3".into()));
        patch(
            &mut d,
            Change::Upsert(entry("4", "Yann", "0301234567", "", &[], true, 40)),
        );
        assert_eq!(
            d.select(&ListQuery::default()).ids(),
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
        assert_eq!(d.select(&query("", true, 1)).pair(), (ids(&["2", "1"]), 5));
        assert_eq!(d.select(&query("", true, 3)).pair(), (ids(&["4"]), 5));
        assert_eq!(
            d.select(&query("zoe", false, 1)).pair(),
            (ids(&["5", "1"]), 3)
        );
        assert_eq!(
            d.select(&query("zoe", true, 1)).pair(),
            (ids(&["2", "1"]), 3)
        );
        assert_eq!(d.select(&query("zoe", true, 2)).pair(), (ids(&["5"]), 3));
        assert_eq!(d.select(&query("zoe", true, 3)).pair(), (ids(&[]), 3));
    }

    #[test]
    fn patches_keep_the_counts_and_tags() {
        let mut d = dir();
        assert_eq!((d.favorites(), d.tags().len()), (2, 3));
        patch(
            &mut d,
            Change::Upsert(entry("6", "Bea", "5550000000", "", &["New"], true, 60)),
        );
        assert_eq!(d.favorites(), 3);
        assert_eq!(d.tags(), vec!["fr", "Friend", "New", "work"]);
        patch(
            &mut d,
            Change::Upsert(entry("1", "Zoë Adams", "1", "", &[], false, 30)),
        );
        patch(&mut d, Change::Remove("3".into()));
        assert_eq!(d.favorites(), 2);
        assert_eq!(d.tags(), vec!["Friend", "New"]);
        let by_tag = ListQuery {
            tag: Some("nEw".into()),
            ..ListQuery::default()
        };
        assert_eq!(d.select(&by_tag).ids(), vec!["6"]);
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
        assert_eq!(d.select(&oldest).ids(), vec!["1", "2", "3"]);
        // An edit arrives with no creation order of its own (0): it keeps the old one.
        let mut renamed = entry("1", "Aaron", "5550000001", "", &[], false, 7);
        renamed.seq = 0;
        patch(&mut d, Change::Upsert(renamed));
        assert_eq!(d.select(&oldest).ids(), vec!["1", "2", "3"]);
        let newest = ListQuery {
            desc: true,
            ..oldest
        };
        assert_eq!(d.select(&newest).ids(), vec!["3", "2", "1"]);
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
                    address: cipher.encrypt(&format!("{i} Main Street")),
                    notes: cipher.encrypt(""),
                    favorite: i % 2 == 0,
                    created: i,
                    updated: i + 1,
                    seq: i,
                }
            })
            .collect();
        let d = build(3, rows, &cipher).unwrap();
        assert_eq!(d.len(), 50);
        assert_eq!(d.favorites(), 25);
        let found = d.select(&q("person 07"));
        assert_eq!(found.ids(), vec!["7"]);
        let view = found.page[0].view();
        assert_eq!(view.contact.address, "7 Main Street");
        assert_eq!((view.contact.notes.as_str(), view.updated), ("", 8));
    }
}
