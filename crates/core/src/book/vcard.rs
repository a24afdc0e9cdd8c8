//! vCards (RFC 6350; 3.0 and 2.1 are read too) through the `calcard` crate: a file split into
//! its cards by position, each card read into the book's fields, the book's fields written
//! back into a card (changing only the properties whose field changed), and cards written as
//! vCard 4.0. The card itself is kept whole, encrypted, beside the fields (see `book::seal`),
//! so nothing a client sent is lost.

use calcard::vcard::{
    VCard, VCardEntry, VCardParameter, VCardParameterName, VCardParameterValue, VCardProperty,
    VCardValue, VCardVersion,
};
use calcard::{Entry, Parser};

use crate::domain::contact::{Contact, ContactDraft};

/// Largest card accepted (a photo included).
pub const MAX_CARD_BYTES: usize = 1024 * 1024;
/// The property that carries the book's favorite flag (no standard one exists).
const FAVORITE: &str = "X-CONTACT-VAULT-FAVORITE";

/// One card of a file: where it starts (1-based card number) and its text.
pub struct Chunk<'a> {
    pub number: usize,
    pub text: &'a str,
}

/// Why a file or a card was refused, said for a person.
pub type Refusal = String;

/// Splits a `.vcf` text into its cards, in order. Text outside `BEGIN:VCARD … END:VCARD`
/// (other than blank lines) and a card that never ends are refused, named by card number.
pub fn split(text: &str) -> Result<Vec<Chunk<'_>>, Vec<(usize, Refusal)>> {
    let mut chunks = Vec::new();
    let mut errors = Vec::new();
    let mut start: Option<usize> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches(['\r', '\n']);
        let here = offset;
        offset += line.len();
        match start {
            None if bare.eq_ignore_ascii_case("BEGIN:VCARD") => start = Some(here),
            None if bare.trim().is_empty() => {}
            None => {
                let number = chunks.len() + 1;
                if errors.last().map(|(n, _)| *n) != Some(number) {
                    errors.push((
                        number,
                        "text outside a card (BEGIN:VCARD … END:VCARD)".into(),
                    ));
                }
            }
            Some(_) if bare.eq_ignore_ascii_case("BEGIN:VCARD") => {
                errors.push((chunks.len() + 1, "a card begins inside another card".into()));
                start = Some(here);
            }
            Some(begin) if bare.eq_ignore_ascii_case("END:VCARD") => {
                chunks.push(Chunk {
                    number: chunks.len() + 1,
                    text: &text[begin..offset],
                });
                start = None;
            }
            Some(_) => {}
        }
    }
    if start.is_some() {
        errors.push((chunks.len() + 1, "the card has no END:VCARD".into()));
    }
    if chunks.is_empty() && errors.is_empty() {
        errors.push((1, "the file holds no card (BEGIN:VCARD … END:VCARD)".into()));
    }
    if errors.is_empty() {
        Ok(chunks)
    } else {
        Err(errors)
    }
}

/// Reads one card's text (as [`split`] cut it).
pub fn parse(text: &str) -> Result<VCard, Refusal> {
    if text.len() > MAX_CARD_BYTES {
        return Err(format!(
            "the card is larger than {} KiB",
            MAX_CARD_BYTES / 1024
        ));
    }
    // Old Macs ended lines with CR alone.
    let text = if text.contains('\n') {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(text.replace('\r', "\n"))
    };
    let mut parser = Parser::new(&text);
    let card = match parser.entry() {
        Entry::VCard(card) => card,
        Entry::InvalidLine(line) => {
            return Err(format!("unreadable line {:?}", cut(&line)));
        }
        _ => return Err("not a vCard".into()),
    };
    match parser.entry() {
        Entry::Eof => {}
        Entry::InvalidLine(line) => return Err(format!("unreadable line {:?}", cut(&line))),
        _ => return Err("more than one card".into()),
    }
    Ok(card)
}

fn cut(line: &str) -> String {
    line.chars().take(40).collect()
}

/// A value's text: structured components and lists joined by `sep`.
pub(super) fn joined(values: &[VCardValue], sep: &str) -> String {
    values
        .iter()
        .map(|v| match v {
            VCardValue::Component(items) => items.join(" "),
            other => other.as_text().unwrap_or_default().to_string(),
        })
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The preference of a property: 1 is most preferred; `u32::MAX` when none is given. Reads
/// 4.0's `PREF=n`, 3.0's `TYPE=PREF` and 2.1's bare `PREF`.
fn preference(entry: &VCardEntry) -> u32 {
    for p in &entry.params {
        match (&p.name, &p.value) {
            (VCardParameterName::Pref, VCardParameterValue::Integer(n)) => return *n,
            (VCardParameterName::Pref, VCardParameterValue::Null) => return 1,
            (VCardParameterName::Type, VCardParameterValue::Text(t))
                if t.eq_ignore_ascii_case("pref") =>
            {
                return 1;
            }
            _ => {}
        }
    }
    u32::MAX
}

/// The index in `card.entries` of the most preferred `property` (the first on a tie).
pub(super) fn primary(card: &VCard, property: &VCardProperty) -> Option<usize> {
    card.entries
        .iter()
        .enumerate()
        .filter(|(_, e)| &e.name == property)
        .min_by_key(|(i, e)| (preference(e), *i))
        .map(|(i, _)| i)
}

/// A telephone value as the book keeps it: `tel:` URIs lose their scheme and parameters.
pub(super) fn phone_text(value: &str) -> String {
    let value = value.trim();
    let value = value
        .strip_prefix("tel:")
        .or_else(|| value.strip_prefix("TEL:"))
        .unwrap_or(value);
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The display name: FN, else N's parts in reading order.
fn name_of(card: &VCard) -> String {
    if let Some(full) = card.property(&VCardProperty::Fn) {
        let name = joined(&full.values, " ");
        if !name.is_empty() {
            return name;
        }
    }
    let Some(n) = card.property(&VCardProperty::N) else {
        return String::new();
    };
    // family; given; additional; prefix; suffix
    let part = |i: usize| {
        n.values
            .get(i)
            .map(|v| joined(std::slice::from_ref(v), " "))
    };
    [part(3), part(1), part(2), part(0), part(4)]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The address as one line: street, locality, region, code, country.
fn address_of(entry: &VCardEntry) -> String {
    // pobox; extended; street; locality; region; code; country
    let parts: Vec<VCardValue> = entry.values.iter().skip(2).cloned().collect();
    joined(&parts, ", ")
}

fn text_of(card: &VCard, property: &VCardProperty, sep: &str) -> String {
    card.properties(property)
        .map(|e| joined(&e.values, ", "))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(sep)
}

/// The book's fields of a card (to be checked by `Contact::parse`).
pub fn fields(card: &VCard) -> ContactDraft {
    let at = |property: VCardProperty| primary(card, &property).map(|i| &card.entries[i]);
    let phone = at(VCardProperty::Tel)
        .map(|e| phone_text(&joined(&e.values, "")))
        .unwrap_or_default();
    let email = at(VCardProperty::Email)
        .map(|e| joined(&e.values, ""))
        .unwrap_or_default();
    let address = at(VCardProperty::Adr).map(address_of).unwrap_or_default();
    let tags = card
        .properties(&VCardProperty::Categories)
        .flat_map(|e| e.values.iter())
        .filter_map(|v| v.as_text())
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    let favorite = card
        .entries
        .iter()
        .find(|e| matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case(FAVORITE)))
        .is_some_and(|e| joined(&e.values, "").eq_ignore_ascii_case("true"));
    ContactDraft {
        name: Some(name_of(card)),
        phone: Some(phone),
        email: Some(email),
        address: Some(address),
        company: Some(text_of(card, &VCardProperty::Org, "; ")),
        notes: Some(text_of(card, &VCardProperty::Note, "\n\n")),
        tags: Some(tags),
        favorite: Some(favorite),
    }
}

fn text(s: &str) -> VCardValue {
    VCardValue::Text(s.to_string())
}

/// Sets the most preferred `property` to `values`, keeping its parameters; adds it when the
/// card has none, removes it when `values` is empty.
fn set_primary(card: &mut VCard, property: VCardProperty, values: Vec<VCardValue>) {
    let empty = values
        .iter()
        .all(|v| v.as_text().is_some_and(str::is_empty));
    match (primary(card, &property), empty) {
        (Some(i), true) => {
            card.entries.remove(i);
        }
        (Some(i), false) => card.entries[i].values = values,
        (None, true) => {}
        (None, false) => card
            .entries
            .push(VCardEntry::new(property).with_values(values)),
    }
}

/// Replaces every `property` by one holding `values` (none when empty).
fn set_all(card: &mut VCard, property: VCardProperty, values: Vec<VCardValue>) {
    card.entries.retain(|e| e.name != property);
    if !values.is_empty() {
        card.entries
            .push(VCardEntry::new(property).with_values(values));
    }
}

/// Writes the book's fields into `card`, changing only the properties whose field differs
/// from what the card says now; every other property is left as it was.
pub fn apply(card: &mut VCard, contact: &Contact) {
    let now = match Contact::parse_card(fields(card)) {
        Ok(c) => c,
        // A card whose fields do not pass (it never happens for stored cards): rewrite all.
        Err(_) => Contact {
            name: String::new(),
            phone: String::new(),
            email: String::new(),
            address: String::new(),
            company: String::new(),
            notes: String::new(),
            tags: Vec::new(),
            favorite: !contact.favorite,
        },
    };
    if now.name != contact.name {
        set_all(card, VCardProperty::Fn, vec![text(&contact.name)]);
        // N is structured and cannot be rebuilt from one line reliably: family name last.
        let (given, family) = match contact.name.rsplit_once(' ') {
            Some((given, family)) => (given, family),
            None => ("", contact.name.as_str()),
        };
        set_all(
            card,
            VCardProperty::N,
            vec![text(family), text(given), text(""), text(""), text("")],
        );
    }
    if now.phone != contact.phone {
        set_primary(card, VCardProperty::Tel, vec![text(&contact.phone)]);
    }
    if now.email != contact.email {
        set_primary(card, VCardProperty::Email, vec![text(&contact.email)]);
    }
    if now.address != contact.address {
        // The one line goes into the street; the other parts were part of the old line.
        let values = if contact.address.is_empty() {
            Vec::new()
        } else {
            ["", "", contact.address.as_str(), "", "", "", ""]
                .into_iter()
                .map(text)
                .collect()
        };
        match primary(card, &VCardProperty::Adr) {
            Some(i) if values.is_empty() => {
                card.entries.remove(i);
            }
            Some(i) => card.entries[i].values = values,
            None if values.is_empty() => {}
            None => card
                .entries
                .push(VCardEntry::new(VCardProperty::Adr).with_values(values)),
        }
    }
    if now.company != contact.company {
        let values = if contact.company.is_empty() {
            Vec::new()
        } else {
            vec![text(&contact.company)]
        };
        set_all(card, VCardProperty::Org, values);
    }
    if now.notes != contact.notes {
        let values = if contact.notes.is_empty() {
            Vec::new()
        } else {
            vec![text(&contact.notes)]
        };
        set_all(card, VCardProperty::Note, values);
    }
    if now.tags != contact.tags {
        set_all(
            card,
            VCardProperty::Categories,
            contact.tags.iter().map(|t| text(t)).collect(),
        );
    }
    if now.favorite != contact.favorite {
        let favorite = VCardProperty::Other(FAVORITE.into());
        card.entries.retain(
            |e| !matches!(&e.name, VCardProperty::Other(n) if n.eq_ignore_ascii_case(FAVORITE)),
        );
        if contact.favorite {
            card.entries
                .push(VCardEntry::new(favorite).with_value("TRUE".to_string()));
        }
    }
}

/// A new card for a contact made in the book (its id is the card's UID).
pub fn new_card(id: &str, contact: &Contact) -> VCard {
    let mut card = VCard {
        entries: vec![
            VCardEntry::new(VCardProperty::Version).with_value("4.0".to_string()),
            VCardEntry::new(VCardProperty::Uid).with_value(id.to_string()),
        ],
    };
    apply(&mut card, contact);
    card
}

/// Makes a card of an older version say the same in 4.0: `TYPE=PREF` and a bare `PREF` become
/// `PREF=1`, 3.0's `TYPE=INTERNET` goes, and an inline photo, logo, sound or key becomes a
/// `data:` URI. Gives the card a UID when it has none.
pub fn upgrade(card: &mut VCard, uid: &str) {
    for e in card.entries.iter_mut() {
        if matches!(
            e.name,
            VCardProperty::Photo | VCardProperty::Logo | VCardProperty::Sound | VCardProperty::Key
        ) {
            let mut inline = false;
            for v in e.values.iter_mut() {
                if let VCardValue::Binary(d) = v {
                    *v = VCardValue::Text(d.to_unwrapped_string());
                    inline = true;
                }
            }
            if inline {
                e.params.retain(|p| p.name != VCardParameterName::Type);
            }
        }
        let legacy_pref = |p: &VCardParameter| {
            (p.name == VCardParameterName::Type
                && matches!(&p.value, VCardParameterValue::Text(t) if t.eq_ignore_ascii_case("pref")))
                || (p.name == VCardParameterName::Pref && p.value == VCardParameterValue::Null)
        };
        let had_pref = e.params.iter().any(legacy_pref);
        let internet = |p: &VCardParameter| {
            p.name == VCardParameterName::Type
                && matches!(&p.value, VCardParameterValue::Text(t) if t.eq_ignore_ascii_case("internet"))
        };
        e.params.retain(|p| !(legacy_pref(p) || internet(p)));
        if had_pref {
            e.params.push(VCardParameter::pref(1u32));
        }
    }
    if card.property(&VCardProperty::Uid).is_none() {
        card.entries
            .push(VCardEntry::new(VCardProperty::Uid).with_value(uid.to_string()));
    }
}

/// The card as vCard 4.0 text (CRLF line ends, long lines folded).
pub fn to_text(card: &VCard) -> String {
    let mut out = String::new();
    // Writing into a String cannot fail.
    let _ = card.write_to(&mut out, VCardVersion::V4_0);
    out
}

/// The card's UID, if it has one.
pub fn uid(card: &VCard) -> Option<String> {
    card.property(&VCardProperty::Uid)
        .map(|e| joined(&e.values, ""))
        .filter(|u| !u.is_empty())
}

/// What the contact's page shows beyond the book's fields, each as `(label, value)`: every
/// phone, e-mail and address with its type, the birthday, the title and web pages.
pub fn details(card: &VCard) -> Vec<(String, String)> {
    let kind = |e: &VCardEntry| {
        let types: Vec<String> = e
            .params
            .iter()
            .filter(|p| p.name == VCardParameterName::Type)
            .filter_map(|p| match &p.value {
                VCardParameterValue::Type(t) => Some(format!("{t:?}").to_lowercase()),
                VCardParameterValue::Text(t) => Some(t.to_lowercase()),
                _ => None,
            })
            .filter(|t| t != "pref" && t != "internet" && t != "voice")
            .collect();
        if types.is_empty() {
            String::new()
        } else {
            format!(" ({})", types.join(", "))
        }
    };
    let mut out = Vec::new();
    for e in &card.entries {
        let (label, value) = match &e.name {
            VCardProperty::Tel => ("Phone", phone_text(&joined(&e.values, ""))),
            VCardProperty::Email => ("E-mail", joined(&e.values, "")),
            VCardProperty::Adr => ("Address", address_of(e)),
            VCardProperty::Bday => ("Birthday", birthday(e)),
            VCardProperty::Title => ("Title", joined(&e.values, " ")),
            VCardProperty::Url => ("Web", joined(&e.values, "")),
            VCardProperty::Nickname => ("Nickname", joined(&e.values, ", ")),
            _ => continue,
        };
        if !value.is_empty() {
            out.push((format!("{label}{}", kind(e)), value));
        }
    }
    out
}

fn birthday(e: &VCardEntry) -> String {
    match e.values.first() {
        Some(VCardValue::PartialDateTime(d)) => match (d.year, d.month, d.day) {
            (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
            (None, Some(m), Some(d)) => format!("--{m:02}-{d:02}"),
            (Some(y), None, None) => format!("{y:04}"),
            _ => String::new(),
        },
        Some(other) => other.as_text().unwrap_or_default().to_string(),
        None => String::new(),
    }
}

/// The card's photo as a `data:image/…` URI, when it carries one inline (never a remote URL:
/// the page would fetch it from a third party).
pub fn photo(card: &VCard) -> Option<String> {
    let e = card.property(&VCardProperty::Photo)?;
    match e.values.first()? {
        VCardValue::Binary(d) => Some(d.to_unwrapped_string()),
        VCardValue::Text(t) if t.starts_with("data:image/") => Some(t.clone()),
        _ => None,
    }
    .filter(|uri| {
        [
            "data:image/jpeg;",
            "data:image/png;",
            "data:image/gif;",
            "data:image/webp;",
        ]
        .iter()
        .any(|p| uri.starts_with(p))
    })
}
