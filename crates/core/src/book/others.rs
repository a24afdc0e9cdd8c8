//! A card's other phone numbers and e-mail addresses, beside the primary ones the book's
//! fields hold, as the contact's page edits them: one a line, its kind first when it has one
//! (`work: +1 555 0100 200`). A line left as it was keeps its property exactly as the client
//! sent it (every parameter); a changed or new line becomes a property of its own; a removed
//! line removes its property.

use std::collections::BTreeMap;

use calcard::common::{IanaParse, IanaString};
use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardType, VCardValue,
};

use crate::domain::contact::{is_plausible_phone, is_valid_email};
use crate::domain::has_forbidden_chars;

use super::vcard::{joined, phone_text, primary};

/// At most this many other phones, and as many other e-mail addresses.
pub const MAX_OTHERS: usize = 20;
/// The kinds a new line may name.
const KINDS: &str = "home, work, cell, text, voice, fax, pager, video";

/// The other phones and e-mail addresses of a card, one a line (the form's text).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Others {
    pub phones: String,
    pub emails: String,
}

/// One line: its kind (`""` when none) and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Line {
    kind: String,
    value: String,
}

impl Line {
    fn text(&self) -> String {
        if self.kind.is_empty() {
            self.value.clone()
        } else {
            format!("{}: {}", self.kind, self.value)
        }
    }
}

/// The kind of a property: its types but `pref` and `internet`, lower case, comma-separated.
fn kind_of(entry: &VCardEntry) -> String {
    entry
        .params
        .iter()
        .filter(|p| p.name == VCardParameterName::Type)
        .filter_map(|p| match &p.value {
            VCardParameterValue::Type(t) => Some(t.as_str().to_lowercase()),
            VCardParameterValue::Text(t) => Some(t.to_lowercase()),
            _ => None,
        })
        .filter(|t| t != "pref" && t != "internet")
        .collect::<Vec<_>>()
        .join(",")
}

fn line_of(property: &VCardProperty, entry: &VCardEntry) -> Line {
    let value = joined(&entry.values, "");
    Line {
        kind: kind_of(entry),
        value: if *property == VCardProperty::Tel {
            phone_text(&value)
        } else {
            value
        },
    }
}

/// The indices of `property`'s entries other than the primary one.
fn other_indices(card: &VCard, property: &VCardProperty) -> Vec<usize> {
    let first = primary(card, property);
    card.entries
        .iter()
        .enumerate()
        .filter(|(i, e)| &e.name == property && Some(*i) != first)
        .map(|(i, _)| i)
        .collect()
}

fn lines_of(card: &VCard, property: &VCardProperty) -> String {
    other_indices(card, property)
        .into_iter()
        .map(|i| line_of(property, &card.entries[i]).text())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The other phones and e-mail addresses of `card`, as the form shows them.
pub fn of_card(card: &VCard) -> Others {
    Others {
        phones: lines_of(card, &VCardProperty::Tel),
        emails: lines_of(card, &VCardProperty::Email),
    }
}

/// Reads the form's lines: `kind: value` or `value`; blank lines are skipped.
fn read(text: &str, phone: bool) -> Result<Vec<Line>, String> {
    let mut out = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let raw = raw.trim();
        if raw.is_empty() {
            continue;
        }
        let at = |why: &str| format!("Line {}: {why}", n + 1);
        // A kind is a word (or words with commas) before the first `: `; an e-mail address
        // or a phone number never holds one.
        let (kind, value) = match raw.split_once(':') {
            Some((kind, value))
                if !kind.trim().is_empty()
                    && kind
                        .chars()
                        .all(|c| c.is_ascii_alphabetic() || "-, ".contains(c)) =>
            {
                (kind.trim().to_lowercase().replace(' ', ""), value.trim())
            }
            _ => (String::new(), raw),
        };
        if has_forbidden_chars(value, false) || has_forbidden_chars(&kind, false) {
            return Err(at("it holds characters that are not allowed."));
        }
        if phone && !is_plausible_phone(value) {
            return Err(at(
                "enter a phone number of 7 to 15 digits (spaces, -, ., ( ) and a leading + are fine).",
            ));
        }
        if !phone && (value.len() > 254 || !is_valid_email(value)) {
            return Err(at("enter a valid e-mail address."));
        }
        out.push(Line {
            kind,
            value: value.to_string(),
        });
    }
    if out.len() > MAX_OTHERS {
        return Err(format!("At most {MAX_OTHERS}."));
    }
    Ok(out)
}

/// A new property for a line whose kind is known (or none).
fn new_entry(property: &VCardProperty, line: &Line) -> Result<VCardEntry, String> {
    let mut entry =
        VCardEntry::new(property.clone()).with_values(vec![VCardValue::Text(line.value.clone())]);
    for kind in line.kind.split(',').filter(|k| !k.is_empty()) {
        let kind = if kind == "mobile" { "cell" } else { kind };
        let typ = VCardType::parse(kind.as_bytes())
            .filter(|_| KINDS.split(", ").any(|k| k == kind))
            .ok_or_else(|| format!("\"{kind}\" is not a kind this page knows ({KINDS})."))?;
        entry = entry.with_param(VCardParameter::typ(typ));
    }
    Ok(entry)
}

/// Makes `property`'s entries other than the primary one what `lines` says.
fn write_one(card: &mut VCard, property: &VCardProperty, lines: Vec<Line>) -> Result<(), String> {
    let existing = other_indices(card, property);
    let mut kept = vec![false; existing.len()];
    let mut new = Vec::new();
    for line in lines {
        let same = existing
            .iter()
            .enumerate()
            .find(|(k, i)| !kept[*k] && line_of(property, &card.entries[**i]) == line);
        match same {
            Some((k, _)) => kept[k] = true,
            None => new.push(new_entry(property, &line)?),
        }
    }
    let gone: Vec<usize> = existing
        .iter()
        .zip(&kept)
        .filter(|(_, kept)| !**kept)
        .map(|(i, _)| *i)
        .collect();
    let mut at = 0;
    card.entries.retain(|_| {
        at += 1;
        !gone.contains(&(at - 1))
    });
    card.entries.extend(new);
    Ok(())
}

/// Writes the other phones and e-mail addresses into `card` (whose primary ones are already
/// the book's fields); the error maps the form's field names to messages.
pub fn write(card: &mut VCard, others: &Others) -> Result<(), BTreeMap<String, String>> {
    let mut errors = BTreeMap::new();
    let mut next = card.clone();
    for (field, property, text) in [
        ("other_phones", VCardProperty::Tel, &others.phones),
        ("other_emails", VCardProperty::Email, &others.emails),
    ] {
        let written = read(text, property == VCardProperty::Tel)
            .and_then(|lines| write_one(&mut next, &property, lines));
        if let Err(e) = written {
            errors.insert(field.to_string(), e);
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    *card = next;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::vcard::{parse, to_text};

    const CARD: &str = "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Mia Wong\r\n\
        TEL;TYPE=cell;PREF=1:+1 555 0100 001\r\n\
        TEL;TYPE=work;X-LABEL=desk:+1 555 0100 002\r\n\
        TEL:+1 555 0100 003\r\n\
        EMAIL;PREF=1:mia@home.example\r\n\
        EMAIL;TYPE=work:mia@work.example\r\nEND:VCARD\r\n";

    #[test]
    fn the_others_are_every_phone_and_email_but_the_primary() {
        let card = parse(CARD).unwrap();
        let others = of_card(&card);
        assert_eq!(others.phones, "work: +1 555 0100 002\n+1 555 0100 003");
        assert_eq!(others.emails, "work: mia@work.example");
    }

    #[test]
    fn unchanged_lines_keep_their_property_whole_and_the_rest_follow_the_form() {
        let mut card = parse(CARD).unwrap();
        let others = Others {
            phones: "work: +1 555 0100 002\n\nhome: +1 555 0100 004".into(),
            emails: String::new(),
        };
        write(&mut card, &others).unwrap();
        let text = to_text(&card);
        // The unchanged one keeps its unknown parameter; the removed one is gone; the new one
        // carries its kind; the primary ones are untouched.
        assert!(text.contains("X-LABEL=desk"), "{text}");
        assert!(!text.contains("0100 003"), "{text}");
        assert!(text.to_lowercase().contains("type=home"), "{text}");
        assert!(text.contains("+1 555 0100 001") && text.contains("mia@home.example"));
        assert!(!text.contains("mia@work.example"), "{text}");
        assert_eq!(
            of_card(&parse(&text).unwrap()).phones,
            "work: +1 555 0100 002\nhome: +1 555 0100 004"
        );
    }

    #[test]
    fn bad_lines_are_refused_by_line_and_nothing_is_written() {
        let mut card = parse(CARD).unwrap();
        let before = to_text(&card);
        let errors = write(
            &mut card,
            &Others {
                phones: "+1 555 0100 002\ncall me maybe".into(),
                emails: "not-an-address".into(),
            },
        )
        .unwrap_err();
        assert!(errors["other_phones"].starts_with("Line 2:"), "{errors:?}");
        assert!(errors["other_emails"].starts_with("Line 1:"), "{errors:?}");
        let errors = write(
            &mut card,
            &Others {
                phones: "spaceship: +1 555 0100 009".into(),
                emails: String::new(),
            },
        )
        .unwrap_err();
        assert!(errors["other_phones"].contains("spaceship"), "{errors:?}");
        let many = (0..=MAX_OTHERS)
            .map(|i| format!("+1 555 0100 {i:03}"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            write(
                &mut card,
                &Others {
                    phones: many,
                    emails: String::new()
                }
            )
            .is_err()
        );
        assert_eq!(to_text(&card), before);
    }
}
