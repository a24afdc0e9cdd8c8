//! Property tests: the parsers that read what a stranger sends (CSV uploads, contact fields,
//! phone numbers, list queries, TOTP codes) never panic, whatever the input, and what they
//! accept keeps their own rules. (The legacy-folder reader has its own in `book::legacy`.)

use std::collections::BTreeSet;

use contact_vault::book::csv::{ImportError, parse_file};
use contact_vault::book::legacy::sanitize_action;
use contact_vault::book::query::{ListQuery, RawListQuery};
use contact_vault::clock::{parse_timestamp, rfc3339};
use contact_vault::crypto::totp;
use contact_vault::domain::Username;
use contact_vault::domain::contact::{
    self, Contact, ContactDraft, is_plausible_phone, is_valid_email, parse_tags, phone_digits,
    split_tags,
};
use contact_vault::domain::paging::Paging;
use contact_vault::spam::phone::PhoneChecker;
use proptest::prelude::*;

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 192,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Text that looks like what the parsers meet: mostly printable, often digits and separators,
/// sometimes control characters, combining marks, wide characters or nothing at all.
fn texty() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => ".{0,40}",
        2 => "[+0-9 ().\\-]{0,24}",
        1 => "[a-z0-9._%+\\-]{0,12}@[a-z0-9.\\-]{0,12}",
        1 => "[\\x00-\\x1f\\x7f\u{0300}-\u{036f}\u{200b}\u{feff}\u{1F600}]{0,8}",
        1 => any::<String>(),
    ]
}

fn opt_text() -> impl Strategy<Value = Option<String>> {
    prop::option::of(texty())
}

// --- CSV import ------------------------------------------------------------------------------

const CSV_COLUMNS: [&str; 12] = [
    "name", "phone", "email", "address", "company", "notes", "tags", "favorite", "created", "NAME",
    " Phone ", "extra",
];

/// A cell as a spreadsheet might write it: plain, quoted with doubled quotes, or raw bytes.
fn csv_cell() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => texty().prop_map(|s| {
            if s.contains([',', '"', '\n', '\r']) {
                format!("\"{}\"", s.replace('"', "\"\"")).into_bytes()
            } else {
                s.into_bytes()
            }
        }),
        1 => prop::sample::select(vec![
            "true", "False", "yes", "1", "maybe", "2025-06-03T09:00:00Z",
            "2025-06-03 09:00:00.123", "9999-99-99T99:99:99Z", "+44 7700 900123", "'=SUM(A1)",
            "'+1 555", "\"unterminated", "a\"b", "\u{feff}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ]
}

/// A file with a header row of known and unknown columns and ragged rows.
fn csv_file() -> impl Strategy<Value = Vec<u8>> {
    (
        any::<bool>(),
        prop::collection::vec(prop::sample::select(CSV_COLUMNS.to_vec()), 0..10),
        prop::collection::vec(prop::collection::vec(csv_cell(), 0..11), 0..12),
        prop::sample::select(vec![&b"\n"[..], b"\r\n", b"\r"]),
    )
        .prop_map(|(bom, header, rows, eol)| {
            let mut out = Vec::new();
            if bom {
                out.extend_from_slice(b"\xEF\xBB\xBF");
            }
            out.extend_from_slice(header.join(",").as_bytes());
            for row in rows {
                out.extend_from_slice(eol);
                out.extend_from_slice(&row.join(&b","[..]));
            }
            out
        })
}

fn check_csv(data: &[u8]) {
    match parse_file(data) {
        Ok((rows, ignored)) => {
            for row in rows {
                if let Some(t) = row.created {
                    assert!(!rfc3339(t).is_empty(), "a kept creation time can be shown");
                }
                // Every accepted row is a contact the rules accept as it stands.
                let c = row.contact;
                let again = Contact::parse(ContactDraft {
                    name: Some(c.name.clone()),
                    phone: Some(c.phone.clone()),
                    email: Some(c.email.clone()),
                    address: Some(c.address.clone()),
                    company: Some(c.company.clone()),
                    notes: Some(c.notes.clone()),
                    tags: Some(c.tags.clone()),
                    favorite: Some(c.favorite),
                });
                assert_eq!(
                    again.as_ref(),
                    Ok(&c),
                    "an accepted row re-validates unchanged"
                );
            }
            for column in ignored {
                assert!(!["name", "phone", "created"].contains(&column.as_str()));
            }
        }
        Err(ImportError::Rows(errors)) => {
            assert!(!errors.is_empty());
            let lines: BTreeSet<u64> = errors.iter().map(|(line, _)| *line).collect();
            assert_eq!(lines.len(), errors.len(), "one message per line");
            assert!(
                lines.iter().all(|&line| line >= 2),
                "rows start after the header"
            );
        }
        Err(ImportError::File(message)) => assert!(!message.is_empty()),
        Err(ImportError::Book(e)) => panic!("parsing alone cannot fail with {e}"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn csv_import_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_csv(&data);
    }

    #[test]
    fn csv_import_never_panics_on_spreadsheet_like_files(data in csv_file()) {
        check_csv(&data);
    }
}

// --- contacts, phones, e-mail ----------------------------------------------------------------

fn draft() -> impl Strategy<Value = ContactDraft> {
    (
        (opt_text(), opt_text(), opt_text(), opt_text()),
        (opt_text(), opt_text()),
        prop::option::of(prop::collection::vec(texty(), 0..25)),
        prop::option::of(any::<bool>()),
    )
        .prop_map(
            |((name, phone, email, address), (company, notes), tags, favorite)| ContactDraft {
                name,
                phone,
                email,
                address,
                company,
                notes,
                tags,
                favorite,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn contact_parse_never_panics_and_keeps_its_rules(d in draft()) {
        if let Ok(c) = Contact::parse(d) {
            prop_assert!(!c.name.is_empty() && c.name.chars().count() <= contact::MAX_NAME);
            prop_assert_eq!(c.name.trim(), c.name.as_str());
            prop_assert!(is_plausible_phone(&c.phone));
            prop_assert!(c.email.is_empty() || is_valid_email(&c.email));
            prop_assert!(c.address.chars().count() <= contact::MAX_ADDRESS);
            prop_assert!(c.company.chars().count() <= contact::MAX_COMPANY);
            prop_assert!(c.notes.chars().count() <= contact::MAX_NOTES);
            prop_assert!(c.tags.len() <= contact::MAX_TAGS);
            for t in &c.tags {
                prop_assert!(!t.is_empty() && t.chars().count() <= contact::MAX_TAG);
                prop_assert!(!t.contains('|'));
            }
        }
    }

    #[test]
    fn phone_helpers_never_panic(phone in texty()) {
        let plausible = is_plausible_phone(&phone);
        let digits = phone_digits(&phone);
        prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
        if plausible {
            prop_assert!((7..=15).contains(&digits.len()));
        }
    }

    #[test]
    fn offline_phone_check_never_panics(phone in texty(), country in prop::sample::select(vec!["US", "GB", "DE", "FR", "IN", "JP", "BR"])) {
        let checker = PhoneChecker::new("http://127.0.0.1:9/validate", None, country)
            .expect("checker");
        if let Some((e164, _country)) = checker.offline(&phone) {
            prop_assert!(e164.starts_with('+'));
            prop_assert!(e164[1..].bytes().all(|b| b.is_ascii_digit()));
        }
        let _ = checker.check_offline(&phone);
    }

    #[test]
    fn email_check_never_panics(email in texty(), local in "[a-z0-9]{1,10}", domain in "[a-z]{1,10}\\.[a-z]{2,4}") {
        let _ = is_valid_email(&email);
        let plain = format!("{local}@{domain}");
        prop_assert!(is_valid_email(&plain), "{} is a valid address", plain);
    }

    #[test]
    fn tags_never_panic(cell in texty(), list in prop::collection::vec(texty(), 0..30)) {
        let split = split_tags(&cell);
        prop_assert!(!split.is_empty());
        if let Ok(tags) = parse_tags(list) {
            let folded: BTreeSet<String> = tags.iter().map(|t| t.to_lowercase()).collect();
            prop_assert_eq!(folded.len(), tags.len(), "no repeats");
        }
        let _ = parse_tags(split);
    }

    #[test]
    fn usernames_and_timestamps_never_panic(name in texty(), stamp in texty(), action in texty()) {
        if let Ok(u) = Username::parse(&name) {
            prop_assert!((3..=32).contains(&u.as_str().len()));
        }
        if let Some(t) = parse_timestamp(&stamp) {
            prop_assert!(!rfc3339(t).is_empty(), "{:?} parses to {}, which cannot be shown", stamp, t);
        }
        for sign in ["-", "+"] {
            let signed = format!("{sign}0001-01-01T00:00:00");
            if let Some(t) = parse_timestamp(&signed) {
                prop_assert!(!rfc3339(t).is_empty(), "{} parses to {}, which cannot be shown", signed, t);
            }
        }
        let action = sanitize_action(&action);
        prop_assert!(!action.is_empty() && action.len() <= 40);
        prop_assert!(action.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'));
    }
}

// --- list queries ------------------------------------------------------------------------------

fn query_value() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        2 => texty(),
        1 => prop::sample::select(vec![
            "1", "0", "-1", "200", "201", "9223372036854775807", "9223372036854775808",
            "-9223372036854775808", "1e3", " 7 ", "name", "created", "asc", "desc", "true",
            "false", "on", "",
        ])
        .prop_map(str::to_string),
    ])
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn list_query_parse_never_panics(
        q in query_value(), tag in query_value(), favorites in query_value(), sort in query_value(),
        order in query_value(), page in query_value(), per_page in query_value(),
    ) {
        let raw = RawListQuery { q, tag, favorites, sort, order, page, per_page };
        match ListQuery::parse(&raw) {
            Ok(query) => {
                prop_assert!(query.paging.page >= 1);
                prop_assert!((1..=200).contains(&query.paging.per_page));
                prop_assert!(query.paging.offset() >= 0);
                prop_assert!(query.q.chars().count() <= 200);
            }
            Err(fields) => prop_assert!(!fields.is_empty()),
        }
        let _ = Paging::parse(raw.page.as_deref(), raw.per_page.as_deref());
    }
}

// --- TOTP ------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config())]

    #[test]
    fn totp_parse_code_never_panics(input in texty()) {
        if let Some(code) = totp::parse_code(&input) {
            prop_assert_eq!(code.len(), 6);
            prop_assert!(code.bytes().all(|b| b.is_ascii_digit()));
        }
        let _ = totp::normalize_recovery_code(&input);
    }

    #[test]
    fn totp_verify_never_panics(
        secret in prop::collection::vec(any::<u8>(), 0..40),
        input in texty(),
        now in prop_oneof![any::<u64>(), Just(u64::MAX), Just(0u64), 0u64..4_000_000_000],
        last in prop::option::of(prop_oneof![any::<u64>(), Just(u64::MAX)]),
    ) {
        if let Some(step) = totp::verify(&secret, &input, now, last) {
            prop_assert!(last.is_none_or(|l| step > l));
            prop_assert!(step.abs_diff(now / 30) <= 1);
        }
    }

    #[test]
    fn totp_accepts_its_own_code_once(
        secret in prop::collection::vec(any::<u8>(), 1..40),
        now in 30u64..4_000_000_000,
    ) {
        let code = totp::code_at(&secret, now);
        let step = totp::verify(&secret, &code, now, None);
        prop_assert!(step.is_some());
        prop_assert_eq!(totp::verify(&secret, &code, now, step), None, "the step is used up");
    }
}

/// Found by `csv_import_never_panics_on_spreadsheet_like_files`: with `\r\n` line ends (what
/// Excel and Python's csv module write) every bad row was reported one line too early, the
/// first one on the header's line; with a lone `\r` every row was "line 1".
#[test]
fn csv_errors_name_the_right_line_whatever_the_line_ends() {
    for eol in ["\n", "\r\n", "\r"] {
        let file = [
            "name,phone,notes",
            "Ann,+44 7700 900001,",
            "",
            "Bad,12,",
            "Cy,+44 7700 900002,\"two",
            "lines\"",
            "Worse,,",
        ]
        .join(eol);
        let Err(ImportError::Rows(errors)) = parse_file(file.as_bytes()) else {
            panic!("two rows are invalid");
        };
        let lines: Vec<u64> = errors.iter().map(|(line, _)| *line).collect();
        assert_eq!(lines, vec![4, 7], "line ends {eol:?}");
    }
}

/// Text that looks like a `.vcf` file: card frames, known and unknown properties, parameters,
/// folds, escapes and junk, in any order.
fn vcf_file() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        Just("BEGIN:VCARD".to_string()),
        Just("END:VCARD".to_string()),
        Just("VERSION:3.0".to_string()),
        Just("VERSION:4.0".to_string()),
        "FN:[ -~À-ÿ]{0,30}",
        "N:[a-z;,]{0,20}",
        "TEL(;TYPE=(CELL|PREF|work))?:[+0-9 ()tel:-]{0,20}",
        "EMAIL(;PREF=[0-9])?:[a-z@.]{0,20}",
        "ADR:[a-z;, ]{0,30}",
        "NOTE;ENCODING=QUOTED-PRINTABLE:[=0-9A-F a-z]{0,30}",
        "PHOTO;ENCODING=b;TYPE=JPEG:[A-Za-z0-9+/=]{0,40}",
        "CATEGORIES:[a-z,\\\\]{0,20}",
        "X-[A-Z]{1,5}(;X-P=[a-z\"]{0,5})?:.{0,20}",
        " [ -~]{0,20}",
        ".{0,30}",
    ];
    prop::collection::vec(line, 0..40).prop_flat_map(|lines| {
        prop_oneof![Just("\n"), Just("\r\n"), Just("\r")]
            .prop_map(move |end| lines.join(end).into_bytes())
    })
}

/// Parses `data` as a vCard file: no panic, and what is accepted keeps the book's rules and
/// keeps its card, which reads back.
fn check_vcf(data: &[u8]) {
    match contact_vault::book::cards::parse_file(data) {
        Ok((parsed, _)) => {
            for p in parsed {
                let card = p.card.expect("a card is kept");
                assert!(card.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"), "{card}");
                assert!(contact_vault::book::vcard::parse(&card).is_ok(), "{card}");
                assert!(is_plausible_phone(&p.contact.phone));
                assert!(!p.contact.name.is_empty());
            }
        }
        Err(ImportError::Rows(errors)) => {
            assert!(!errors.is_empty());
            assert!(errors.iter().all(|(n, _)| *n >= 1), "cards count from 1");
        }
        Err(ImportError::File(message)) => assert!(!message.is_empty()),
        Err(ImportError::Book(e)) => panic!("parsing alone cannot fail with {e}"),
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn vcard_import_never_panics_on_bytes(data in prop::collection::vec(any::<u8>(), 0..2048)) {
        check_vcf(&data);
    }

    #[test]
    fn vcard_import_never_panics_on_card_like_files(data in vcf_file()) {
        check_vcf(&data);
    }
}
