//! The directory's search. Every entry's folded haystack is laid end to end in one buffer (and
//! every entry's phone digits in another), in the directory's order, each followed by a NUL
//! that no term holds; a term is looked for across the whole buffer with a
//! `memchr::memmem::Finder` built once per request. A hit is mapped to its entry by a binary
//! search over the entries' start offsets, and the scan goes on from the next entry. The
//! buffers are built on the first search after a change of the book and shared by the
//! directory's copies.

use std::sync::Arc;

use memchr::memmem::Finder;

use super::Entry;

/// The separator after each entry's text: never part of a term (terms are split on white
/// space, and [`Term::parse`](super::Term) drops control characters).
const END: u8 = 0;

/// One field laid end to end for every entry of a directory.
#[derive(Debug, Default)]
struct Column {
    text: Vec<u8>,
    /// Where each entry's text starts in `text`.
    starts: Vec<usize>,
}

impl Column {
    fn build<'a>(values: impl Iterator<Item = &'a str>, capacity: usize) -> Column {
        let mut column = Column {
            text: Vec::with_capacity(capacity),
            starts: Vec::new(),
        };
        for value in values {
            column.starts.push(column.text.len());
            column.text.extend_from_slice(value.as_bytes());
            column.text.push(END);
        }
        column
    }

    /// Marks in `hits` every entry whose text holds `needle`.
    fn mark(&self, needle: &Finder<'_>, hits: &mut [bool]) {
        let mut from = 0;
        while from < self.text.len() {
            let Some(at) = needle.find(&self.text[from..]) else {
                break;
            };
            let at = from + at;
            // The entry whose text holds position `at`.
            let index = self.starts.partition_point(|&start| start <= at) - 1;
            hits[index] = true;
            from = self
                .starts
                .get(index + 1)
                .copied()
                .unwrap_or(self.text.len());
        }
    }
}

/// The searchable text of a directory, in its order.
#[derive(Debug, Default)]
pub(super) struct Haystacks {
    text: Column,
    digits: Column,
}

/// A term as the scan takes it: its folded text, and its digits when it looks like (part of)
/// a phone number.
pub(super) struct Needle<'a> {
    pub text: &'a str,
    pub digits: Option<&'a str>,
}

impl Haystacks {
    pub(super) fn build(entries: &[Arc<Entry>]) -> Haystacks {
        let text_len = entries.iter().map(|e| e.haystack.len() + 1).sum();
        let digits_len = entries.iter().map(|e| e.phone_digits.len() + 1).sum();
        Haystacks {
            text: Column::build(entries.iter().map(|e| e.haystack.as_str()), text_len),
            digits: Column::build(entries.iter().map(|e| e.phone_digits.as_str()), digits_len),
        }
    }

    /// For each entry (in the directory's order), whether it matches every term: its text
    /// holds the term, or its phone digits hold the term's digits.
    pub(super) fn matching(&self, needles: &[Needle<'_>]) -> Vec<bool> {
        let count = self.text.starts.len();
        let mut all = vec![true; count];
        for needle in needles {
            let mut hits = vec![false; count];
            self.text
                .mark(&Finder::new(needle.text.as_bytes()), &mut hits);
            if let Some(digits) = needle.digits.filter(|d| !d.is_empty()) {
                self.digits.mark(&Finder::new(digits.as_bytes()), &mut hits);
            }
            let mut any = false;
            for (keep, hit) in all.iter_mut().zip(hits) {
                *keep &= hit;
                any |= *keep;
            }
            if !any {
                // No entry is left: the other terms cannot bring one back.
                break;
            }
        }
        all
    }

    /// What the buffers of `entries` take (built or not): both texts with their separators
    /// and a start offset each.
    pub(super) fn bytes_for(entries: &[Arc<Entry>]) -> usize {
        entries
            .iter()
            .map(|e| e.haystack.len() + e.phone_digits.len() + 2)
            .sum::<usize>()
            + entries.len() * 2 * std::mem::size_of::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::directory::tests::entry;

    fn haystacks(names: &[(&str, &str)]) -> Haystacks {
        let entries: Vec<Arc<Entry>> = names
            .iter()
            .enumerate()
            .map(|(i, (name, phone))| {
                Arc::new(entry(&i.to_string(), name, phone, "", &[], false, 0))
            })
            .collect();
        Haystacks::build(&entries)
    }

    fn needle(text: &str) -> Needle<'_> {
        Needle { text, digits: None }
    }

    #[test]
    fn every_entry_holding_the_term_is_found_and_no_match_spans_two_entries() {
        let h = haystacks(&[
            ("Anna Ab", "555 0100"),
            ("Bert Anna", "555 0101"),
            ("Cy", "1"),
        ]);
        assert_eq!(h.matching(&[needle("anna")]), [true, true, false]);
        // "ab" ends the first entry's name and "bert" starts the second's: no hit across.
        assert_eq!(h.matching(&[needle("abbert")]), [false, false, false]);
        assert_eq!(
            h.matching(&[needle("anna"), needle("bert")]),
            [false, true, false]
        );
        assert_eq!(h.matching(&[needle("zzzz")]), [false, false, false]);
        assert_eq!(h.matching(&[]), [true, true, true]);
    }

    #[test]
    fn phone_terms_also_match_the_digits() {
        let h = haystacks(&[("Ann", "+1 (555) 010-0199"), ("Bob", "555 777")]);
        let n = Needle {
            text: "5550100",
            digits: Some("5550100"),
        };
        assert_eq!(h.matching(&[n]), [true, false]);
    }

    #[test]
    fn an_empty_directory_matches_nothing() {
        let h = haystacks(&[]);
        assert!(h.matching(&[needle("a")]).is_empty());
    }
}
