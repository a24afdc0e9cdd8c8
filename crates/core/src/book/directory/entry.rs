//! One contact as the directory holds it: what search, sort and a list page need, decrypted.

use std::cmp::Ordering;

use crate::book::ContactView;
use crate::domain::contact::{Contact, fold, phone_digits};

/// The fields a list page shows, as the user wrote them: name, phone, e-mail, address, company
/// and notes in one allocation (`text`), split at `ends`. About 120 bytes for a typical
/// contact, beside the folded copies search needs (docs/SECURITY.md, "Plaintext in memory").
#[derive(Clone, Debug)]
struct Shown {
    text: Box<str>,
    /// Where each part but the last ends in `text` (notes run to the end).
    ends: [u32; 5],
}

impl Shown {
    fn new(parts: [&str; 6]) -> Shown {
        let mut text = String::with_capacity(parts.iter().map(|p| p.len()).sum());
        let mut ends = [0u32; 5];
        for (at, part) in parts.into_iter().enumerate() {
            text.push_str(part);
            if let Some(end) = ends.get_mut(at) {
                *end = u32::try_from(text.len()).unwrap_or(u32::MAX);
            }
        }
        Shown {
            text: text.into_boxed_str(),
            ends,
        }
    }

    fn part(&self, at: usize) -> &str {
        let start = match at {
            0 => 0,
            _ => self
                .ends
                .get(at - 1)
                .map_or(self.text.len(), |e| *e as usize),
        };
        let end = self.ends.get(at).map_or(self.text.len(), |e| *e as usize);
        self.text.get(start..end).unwrap_or("")
    }
}

/// One contact as the directory holds it: every field a list page shows, and the folded text
/// search and sort use.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    /// Accent- and case-folded name: the primary sort key.
    pub(super) sort_key: String,
    /// Folded name, e-mail, company and phone, newline-separated: what `q` searches.
    pub(super) haystack: String,
    pub(super) phone_digits: String,
    shown: Shown,
    pub tags: Vec<String>,
    pub favorite: bool,
    pub created: i64,
    pub updated: i64,
    /// Creation order (the row's rowid): breaks ties of `created`, which has whole seconds.
    pub(super) seq: i64,
}

impl Entry {
    pub fn new(id: String, contact: &Contact, created: i64, updated: i64, seq: i64) -> Entry {
        let sort_key = fold(&contact.name);
        let haystack = format!(
            "{sort_key}\n{}\n{}\n{}",
            fold(&contact.email),
            fold(&contact.company),
            fold(&contact.phone)
        );
        Entry {
            id,
            sort_key,
            haystack,
            phone_digits: phone_digits(&contact.phone),
            shown: Shown::new([
                &contact.name,
                &contact.phone,
                &contact.email,
                &contact.address,
                &contact.company,
                &contact.notes,
            ]),
            tags: contact.tags.clone(),
            favorite: contact.favorite,
            created,
            updated,
            seq,
        }
    }

    pub fn name(&self) -> &str {
        self.shown.part(0)
    }

    /// The contact as a page shows it.
    pub fn view(&self) -> ContactView {
        let part = |at| self.shown.part(at).to_string();
        ContactView {
            id: self.id.clone(),
            contact: Contact {
                name: part(0),
                phone: part(1),
                email: part(2),
                address: part(3),
                company: part(4),
                notes: part(5),
                tags: self.tags.clone(),
                favorite: self.favorite,
            },
            created: self.created,
            updated: self.updated,
        }
    }

    /// The order by name: the folded name, then on ties the lower-case name (accented
    /// letters after their base letter), then the id. The tie-break is computed when needed
    /// rather than stored, as it rarely is.
    pub(super) fn by_name(&self, other: &Entry) -> Ordering {
        self.sort_key
            .cmp(&other.sort_key)
            .then_with(|| lower(self.name()).cmp(lower(other.name())))
            .then_with(|| self.id.cmp(&other.id))
    }

    /// The creation order: `created`, then the rowid for contacts of the same second.
    pub(super) fn created_key(&self) -> (i64, i64) {
        (self.created, self.seq)
    }

    /// What the entry occupies, allocations rounded up as the allocator does (to 16 bytes),
    /// the `Arc`'s counts included.
    pub(super) fn bytes(&self) -> usize {
        heap(2 * std::mem::size_of::<usize>() + std::mem::size_of::<Entry>())
            + heap(self.id.len())
            + heap(self.sort_key.len())
            + heap(self.haystack.len())
            + heap(self.phone_digits.len())
            + heap(self.shown.text.len())
            + heap(self.tags.len() * std::mem::size_of::<String>())
            + self.tags.iter().map(|t| heap(t.len())).sum::<usize>()
    }
}

/// A heap allocation of `len` bytes as the allocator rounds it (none for 0).
pub(super) fn heap(len: usize) -> usize {
    len.next_multiple_of(16)
}

/// A name lower-cased, character by character (no allocation).
fn lower(name: &str) -> impl Iterator<Item = char> + '_ {
    name.chars().flat_map(char::to_lowercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contact(parts: [&str; 6]) -> Contact {
        let [name, phone, email, address, company, notes] = parts.map(str::to_string);
        Contact {
            name,
            phone,
            email,
            address,
            company,
            notes,
            tags: vec!["vip".into()],
            favorite: true,
        }
    }

    #[test]
    fn a_page_shows_the_fields_as_written() {
        for parts in [
            [
                "Zoë Ådams",
                "+44 (0) 7700",
                "",
                "1 Main St\nSpringfield",
                "ACME, Inc.",
                "née",
            ],
            ["", "", "", "", "", ""],
            ["Ann", "", "", "", "", "last"],
        ] {
            let c = contact(parts);
            let e = Entry::new("1".into(), &c, 10, 20, 3);
            let view = e.view();
            assert_eq!(view.contact, c);
            assert_eq!(
                (view.id.as_str(), view.created, view.updated),
                ("1", 10, 20)
            );
            assert_eq!(e.name(), parts[0]);
        }
    }
}
