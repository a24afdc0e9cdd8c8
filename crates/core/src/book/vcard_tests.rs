//! The vCard mapping: files split by card number, the book's fields read from cards of each
//! version, edits that change only their own properties, and 3.0 cards written as 4.0.

use super::cards::parse_file;
use super::import::ImportError;
use super::vcard::{apply, details, fields, parse, photo, split, to_text, upgrade};
use crate::domain::contact::Contact;

const V3: &str = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Müller;Jürgen;;Dr.;\r\nFN:Dr. Jürgen Müller\r\n\
ORG:Globex;R&D\r\nTEL;TYPE=CELL:+49 170 5555 000\r\nTEL;TYPE=WORK,VOICE,PREF:+49 30 1234 567\r\n\
EMAIL;TYPE=INTERNET,HOME:juergen@example.com\r\nADR;TYPE=HOME:;;Hauptstraße 1;Berlin;;10115;Germany\r\n\
BDAY:1980-02-29\r\nNOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9 au=\r\n lait\r\n\
CATEGORIES:friends,work\r\nPHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAP//////\r\n \
//////////////////////////////////////////////////////////////////////\r\n\
X-FOO;X-PARAM=1:kept as it was\r\nUID:abc-123\r\nEND:VCARD\r\n";

const V4: &str = "BEGIN:VCARD\nVERSION:4.0\nFN:山田 太郎\nTEL;VALUE=uri;TYPE=\"voice,home\";PREF=1:tel:+1-555-555-5555\n\
TEL;TYPE=cell:tel:+1-555-000-1111\nEMAIL;PREF=2:taro@example.jp\nNOTE:A long note that was folded by the producer at some po\n int.\nEND:VCARD\n";

fn contact(card: &str) -> Contact {
    Contact::parse(fields(&parse(card).expect("card reads"))).expect("fields pass")
}

#[test]
fn the_books_fields_come_from_the_preferred_properties() {
    let c = contact(V3);
    assert_eq!(c.name, "Dr. Jürgen Müller");
    assert_eq!(
        c.phone, "+49 30 1234 567",
        "TYPE=PREF wins over the first TEL"
    );
    assert_eq!(c.email, "juergen@example.com");
    assert_eq!(c.address, "Hauptstraße 1, Berlin, 10115, Germany");
    assert_eq!(c.company, "Globex, R&D");
    assert_eq!(c.notes, "café au lait");
    assert_eq!(c.tags, ["friends", "work"]);
    assert!(!c.favorite);

    let c = contact(V4);
    assert_eq!(c.name, "山田 太郎");
    assert_eq!(c.phone, "+1-555-555-5555", "tel: URIs lose their scheme");
    assert_eq!(
        c.notes,
        "A long note that was folded by the producer at some point."
    );
}

#[test]
fn a_name_comes_from_n_when_there_is_no_fn() {
    let card =
        "BEGIN:VCARD\nVERSION:3.0\nN:Lovelace;Ada;Augusta;Countess;\nTEL:555 0100 200\nEND:VCARD\n";
    assert_eq!(contact(card).name, "Countess Ada Augusta Lovelace");
}

#[test]
fn an_edit_changes_its_own_properties_and_keeps_the_rest() {
    let mut card = parse(V3).expect("card");
    upgrade(&mut card, "unused");
    let mut c = contact(V3);
    c.phone = "+49 30 9999 999".into();
    c.tags = vec!["family".into()];
    c.favorite = true;
    apply(&mut card, &c);
    let text = to_text(&card);
    let back = parse(&text).expect("written card reads");
    assert_eq!(Contact::parse(fields(&back)).expect("fields"), c);
    assert!(
        text.contains("+49 170 5555 000"),
        "the other TEL is kept: {text}"
    );
    assert!(text.contains("X-FOO;X-PARAM=1:kept as it was"), "{text}");
    assert!(text.contains("BDAY:19800229"), "{text}");
    assert!(
        text.contains("FN:Dr. Jürgen Müller"),
        "an unchanged name is not rewritten"
    );
    assert!(text.contains("N:Müller;Jürgen;;Dr.;"), "{text}");
    assert!(text.contains("UID:abc-123"), "{text}");
    assert!(photo(&back).is_some_and(|p| p.starts_with("data:image/jpeg;base64,")));
}

#[test]
fn a_3_0_card_is_written_as_4_0() {
    let mut card = parse(V3).expect("card");
    upgrade(&mut card, "unused");
    let text = to_text(&card);
    assert!(text.starts_with("BEGIN:VCARD\r\nVERSION:4.0\r\n"), "{text}");
    assert!(
        !text.contains("TYPE=PREF") && !text.contains("INTERNET"),
        "{text}"
    );
    assert!(text.contains("PREF=1"), "{text}");
    assert!(text.contains("PHOTO:data:image/jpeg;base64,/9j/"), "{text}");
    assert!(!text.replace("\r\n", "").contains('\n'), "CRLF only");
    assert!(text.split("\r\n").all(|line| line.len() <= 75), "{text}");
    let shown = details(&parse(&text).expect("reads"));
    assert!(
        shown
            .iter()
            .any(|(k, v)| k.starts_with("Birthday") && v == "1980-02-29"),
        "{shown:?}"
    );
    assert_eq!(
        shown.iter().filter(|(k, _)| k.starts_with("Phone")).count(),
        2
    );
}

#[test]
fn a_file_is_split_by_card_and_every_bad_card_is_named() {
    let two = format!("{V3}\r\n{V4}");
    assert_eq!(split(&two).map(|c| c.len()).ok(), Some(2));
    let bad = format!(
        "{V3}BEGIN:VCARD\nVERSION:4.0\nFN:Bad Phone\nTEL:12\nEND:VCARD\n\
         BEGIN:VCARD\nVERSION:4.0\nTEL:555 0100 300\nEND:VCARD\n{V4}"
    );
    match parse_file(bad.as_bytes()) {
        Err(ImportError::Rows(errors)) => {
            let numbers: Vec<u64> = errors.iter().map(|(n, _)| *n).collect();
            assert_eq!(numbers, [2, 3], "{errors:?}");
            assert!(errors[0].1.contains("phone"), "{errors:?}");
            assert!(errors[1].1.contains("name"), "{errors:?}");
        }
        other => panic!("expected card errors, got {other:?}"),
    }
    for (input, want) in [
        ("BEGIN:VCARD\nVERSION:4.0\nFN:A\n", "no END:VCARD"),
        ("hello\n", "outside a card"),
        ("", "no card"),
    ] {
        match parse_file(input.as_bytes()) {
            Err(ImportError::Rows(errors)) => {
                assert!(errors[0].1.contains(want), "{input:?}: {errors:?}")
            }
            other => panic!("{input:?}: expected an error, got {other:?}"),
        }
    }
    assert!(matches!(
        parse_file(b"BEGIN:VCARD\n\xff\xfe\nEND:VCARD\n"),
        Err(ImportError::File(_))
    ));
}

#[test]
fn a_card_without_a_uid_gets_one_and_keeps_it() {
    let (parsed, _) = parse_file(V4.as_bytes()).expect("valid");
    let stored = parsed[0].card.as_deref().expect("card kept");
    assert!(stored.contains("UID:urn:uuid:"), "{stored}");
    let (parsed, _) = parse_file(V3.as_bytes()).expect("valid");
    assert!(
        parsed[0]
            .card
            .as_deref()
            .is_some_and(|c| c.contains("UID:abc-123"))
    );
}
