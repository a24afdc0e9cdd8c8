//! One contact as the directory holds it: what search, sort and a list page need, decrypted.

use crate::domain::contact::{fold, phone_digits};

/// The fields a list shows, as the user wrote them: name, phone, e-mail and company in one
/// allocation (`text`), split at `ends`. About 70 bytes for a typical contact, beside the
/// folded copies search needs (docs/SECURITY.md, "Plaintext in memory").
#[derive(Clone, Debug)]
struct Shown {
    text: Box<str>,
    /// Where name, phone and e-mail end in `text` (company runs to the end).
    ends: [u32; 3],
}

impl Shown {
    fn new(name: &str, phone: &str, email: &str, company: &str) -> Shown {
        let mut text =
            String::with_capacity(name.len() + phone.len() + email.len() + company.len());
        let mut ends = [0u32; 3];
        for (at, part) in [name, phone, email].into_iter().enumerate() {
            text.push_str(part);
            ends[at] = u32::try_from(text.len()).unwrap_or(u32::MAX);
        }
        text.push_str(company);
        Shown {
            text: text.into_boxed_str(),
            ends,
        }
    }

    fn part(&self, at: usize) -> &str {
        let start = if at == 0 {
            0
        } else {
            self.ends[at - 1] as usize
        };
        let end = self.ends.get(at).map_or(self.text.len(), |e| *e as usize);
        self.text.get(start..end).unwrap_or("")
    }
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    /// Accent- and case-folded name: the primary sort key.
    pub(super) sort_key: String,
    /// Lower-case name: puts accented letters after their base letter on ties.
    name_lower: String,
    /// Folded name, e-mail, company and phone, newline-separated: what `q` searches.
    pub(super) haystack: String,
    pub(super) phone_digits: String,
    shown: Shown,
    pub tags: Vec<String>,
    pub favorite: bool,
    pub created: i64,
    /// Creation order (the row's rowid): breaks ties of `created`, which has whole seconds.
    pub(super) seq: i64,
    /// The book version at which the contact last changed (`contacts.changed_version`): a
    /// page's row with another version changed since, and is shown from the row alone.
    pub changed: i64,
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
            shown: Shown::new(name, phone, email, company),
            tags,
            favorite,
            created,
            seq,
            changed: 0,
        }
    }

    /// The same entry, marked as last changed at book version `changed`.
    pub fn changed_at(mut self, changed: i64) -> Entry {
        self.changed = changed;
        self
    }

    pub fn name(&self) -> &str {
        self.shown.part(0)
    }

    pub fn phone(&self) -> &str {
        self.shown.part(1)
    }

    pub fn email(&self) -> &str {
        self.shown.part(2)
    }

    pub fn company(&self) -> &str {
        self.shown.part(3)
    }

    pub(super) fn order_key(&self) -> (&str, &str, &str) {
        (&self.sort_key, &self.name_lower, &self.id)
    }

    /// The creation order: `created`, then the rowid for contacts of the same second.
    pub(super) fn created_key(&self) -> (i64, i64) {
        (self.created, self.seq)
    }

    pub(super) fn bytes(&self) -> usize {
        std::mem::size_of::<Entry>()
            + self.id.len()
            + self.sort_key.len()
            + self.name_lower.len()
            + self.haystack.len()
            + self.phone_digits.len()
            + self.shown.text.len()
            + self.tags.iter().map(|t| t.len() + 24).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shown_fields_come_back_as_written() {
        let e = Entry::new(
            "1".into(),
            "Zoë Ådams",
            "+44 (0) 7700",
            "",
            "ACME, Inc.",
            vec![],
            false,
            0,
            0,
        );
        assert_eq!(
            (e.name(), e.phone(), e.email(), e.company()),
            ("Zoë Ådams", "+44 (0) 7700", "", "ACME, Inc.")
        );
        let empty = Entry::new("2".into(), "", "", "", "", vec![], false, 0, 0);
        assert_eq!((empty.name(), empty.company()), ("", ""));
    }
}
