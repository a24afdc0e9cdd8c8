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

    /// Marks in `hits` every entry whose text holds `needle`: one pass over the buffer, the
    /// entries' starts walked alongside it. The finder runs on from hit to hit; only when the
    /// rest of the hit's entry is long does it jump to the next entry (restarting a finder
    /// costs more than reading a short entry's tail, and most hits of a common term are one
    /// per entry).
    fn mark(&self, needle: &Finder<'_>, hits: &mut [bool]) {
        const JUMP: usize = 256;
        let mut index = 0;
        let mut from = 0;
        'scan: while from < self.text.len() {
            for at in needle.find_iter(&self.text[from..]) {
                let at = from + at;
                if hits.get(index).is_some_and(|h| *h) && self.end_of(index) > at {
                    continue;
                }
                while index + 1 < self.starts.len() && self.starts[index + 1] <= at {
                    index += 1;
                }
                hits[index] = true;
                let end = self.end_of(index);
                if end - at > JUMP {
                    from = end;
                    continue 'scan;
                }
            }
            break;
        }
    }

    /// Where entry `index`'s text ends (its separator).
    fn end_of(&self, index: usize) -> usize {
        self.starts
            .get(index + 1)
            .map_or(self.text.len(), |next| next - 1)
    }

    /// About how many hits `needle` has in the whole buffer, from a few windows spread over
    /// it (the entries are in name order, so one window at the start would be skewed).
    fn estimate(&self, needle: &Finder<'_>) -> usize {
        const WINDOWS: usize = 16;
        const WINDOW: usize = 4096;
        let len = self.text.len();
        if len <= WINDOWS * WINDOW {
            return needle.find_iter(&self.text).count();
        }
        let step = len / WINDOWS;
        let sampled: usize = (0..WINDOWS)
            .map(|w| {
                let start = w * step;
                needle.find_iter(&self.text[start..start + WINDOW]).count()
            })
            .sum();
        sampled * len / (WINDOWS * WINDOW)
    }

    /// Does entry `index`'s text hold `needle`?
    fn holds(&self, index: usize, needle: &Finder<'_>) -> bool {
        needle
            .find(&self.text[self.starts[index]..self.end_of(index)])
            .is_some()
    }
}

/// Below this share of the book, the entries still in question are looked at one by one
/// rather than by a scan of the whole buffer.
const FEW: usize = 16;

fn few(count: usize, of: usize) -> bool {
    count < of / FEW
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
    /// holds the term, or its phone digits hold the term's digits. The first term scans the
    /// whole buffer; a later one only the entries still in question when they are few.
    pub(super) fn matching(&self, needles: &[Needle<'_>]) -> Vec<bool> {
        let count = self.text.starts.len();
        let mut alive: Option<(Vec<bool>, usize)> = None;
        for (text, digits) in self.rarest_first(needles) {
            let matches = |i: usize| {
                self.text.holds(i, &text)
                    || digits.as_ref().is_some_and(|d| self.digits.holds(i, d))
            };
            let hits = match &alive {
                Some((alive, left)) if few(*left, count) => {
                    let mut hits = vec![false; count];
                    for (i, _) in alive.iter().enumerate().filter(|(_, a)| **a) {
                        hits[i] = matches(i);
                    }
                    hits
                }
                _ => {
                    let mut hits = vec![false; count];
                    self.text.mark(&text, &mut hits);
                    if let Some(d) = &digits {
                        let missing = hits.iter().filter(|h| !**h).count();
                        if few(missing, count) {
                            for (i, hit) in hits.iter_mut().enumerate() {
                                *hit = *hit || self.digits.holds(i, d);
                            }
                        } else {
                            self.digits.mark(d, &mut hits);
                        }
                    }
                    if let Some((alive, _)) = &alive {
                        for (hit, a) in hits.iter_mut().zip(alive) {
                            *hit &= *a;
                        }
                    }
                    hits
                }
            };
            let left = hits.iter().filter(|h| **h).count();
            alive = Some((hits, left));
            if left == 0 {
                // No entry is left: the other terms cannot bring one back.
                break;
            }
        }
        alive.map_or_else(|| vec![true; count], |(hits, _)| hits)
    }

    /// The terms' finders, the term with the fewest hits (as sampled) first: the later terms
    /// then only look at its survivors when they are few.
    fn rarest_first<'n>(&self, needles: &'n [Needle<'_>]) -> Vec<(Finder<'n>, Option<Finder<'n>>)> {
        let mut finders: Vec<(usize, Finder<'n>, Option<Finder<'n>>)> = needles
            .iter()
            .map(|needle| {
                let text = Finder::new(needle.text.as_bytes());
                let digits = needle
                    .digits
                    .filter(|d| !d.is_empty())
                    .map(|d| Finder::new(d.as_bytes()));
                let hits = if needles.len() > 1 {
                    self.text.estimate(&text)
                        + digits.as_ref().map_or(0, |d| self.digits.estimate(d))
                } else {
                    0
                };
                (hits, text, digits)
            })
            .collect();
        finders.sort_by_key(|(hits, _, _)| *hits);
        finders
            .into_iter()
            .map(|(_, text, digits)| (text, digits))
            .collect()
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

    /// Every query (digit-only terms also as phone digits) matches what a plain `contains`
    /// on each entry's own texts finds.
    fn agree_with_a_plain_contains(names: &[(String, String)], queries: &[&[&str]]) {
        let pairs: Vec<(&str, &str)> = names
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        let h = haystacks(&pairs);
        let entries: Vec<Entry> = pairs
            .iter()
            .enumerate()
            .map(|(i, (n, p))| entry(&i.to_string(), n, p, "", &[], false, 0))
            .collect();
        for query in queries {
            let needles: Vec<Needle<'_>> = query
                .iter()
                .map(|t| Needle {
                    text: t,
                    digits: t.chars().all(|c| c.is_ascii_digit()).then_some(*t),
                })
                .collect();
            let plain: Vec<bool> = entries
                .iter()
                .map(|e| {
                    needles.iter().all(|n| {
                        e.haystack.contains(n.text)
                            || n.digits.is_some_and(|d| e.phone_digits.contains(d))
                    })
                })
                .collect();
            assert_eq!(h.matching(&needles), plain, "{query:?}");
        }
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
    fn scans_and_one_by_one_checks_agree_with_a_plain_contains() {
        // 400 entries, so that later terms take the one-by-one path when few are left.
        let names: Vec<(String, String)> = (0..400)
            .map(|i| {
                let name = format!("{} {}", ["ann", "bob", "cy", "dora"][i % 4], i);
                (name, format!("+1 555 {:04}", i * 7))
            })
            .collect();
        agree_with_a_plain_contains(
            &names,
            &[
                &["ann"][..],
                // A rare first term: the second is checked entry by entry.
                &["399", "dora"],
                &["39", "ann"],
                &["ann", "12"],
                &["dora", "39"],
                &["5550", "bob"],
                &["zz"],
                &["1", "2", "3"],
            ],
        );
    }

    #[test]
    fn long_entries_many_hits_and_sampled_term_order_agree_with_a_plain_contains() {
        // Over 64 KiB of text, so the terms are ordered by a sample; some entries are longer
        // than the finder's jump, with a term several times in them.
        let names: Vec<(String, String)> = (0..3000)
            .map(|i| {
                let long = if i % 7 == 0 {
                    "ab ".repeat(150)
                } else {
                    String::new()
                };
                (format!("{long}n{i} x{} ab", i % 13), format!("555 {i:05}"))
            })
            .collect();
        let sizes: Vec<(&str, &str)> = names
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        assert!(haystacks(&sizes).text.text.len() > 16 * 4096);
        agree_with_a_plain_contains(
            &names,
            &[
                &["ab"][..],
                &["ab", "x3"],
                &["x3", "ab"],
                &["555", "n299"],
                &["n299", "555"],
                &["b", "5"],
                &["ab", "ab ab", "00042"],
            ],
        );
    }

    #[test]
    fn an_empty_directory_matches_nothing() {
        let h = haystacks(&[]);
        assert!(h.matching(&[needle("a")]).is_empty());
    }
}
