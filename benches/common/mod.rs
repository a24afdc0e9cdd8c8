//! Synthetic contacts shared by the benches: deterministic, varied enough that searches and
//! sorts behave as on a real book (the same shape as the CSV that `bench/run.sh` imports).

#![allow(dead_code)]

use contact_vault::crypto::FieldCipher;
use contact_vault::crypto::user_keys::BookKeys;
use contact_vault::domain::contact::Contact;

pub const FIRST: [&str; 24] = [
    "Anna",
    "Bruno",
    "Chloé",
    "David",
    "Elena",
    "Farid",
    "Greta",
    "Hugo",
    "Ingrid",
    "Jonas",
    "Katarzyna",
    "Luis",
    "Marta",
    "Nils",
    "Olga",
    "Pedro",
    "Quentin",
    "Rosa",
    "Sven",
    "Tomás",
    "Ulla",
    "Viktor",
    "Wen",
    "Zoë",
];
pub const LAST: [&str; 20] = [
    "Almeida", "Berg", "Castro", "Dubois", "Eriksson", "Fischer", "García", "Hansen", "Ivanova",
    "Jensen", "Kowalski", "Larsen", "Müller", "Novak", "Olsen", "Petrov", "Rossi", "Schmidt",
    "Tanaka", "Weber",
];
pub const COMPANIES: [&str; 8] = [
    "ACME Corp",
    "Globex",
    "Initech",
    "Umbrella",
    "Stark Industries",
    "Wayne Enterprises",
    "Hooli",
    "",
];
pub const TAGS: [&str; 6] = ["work", "friend", "family", "vip", "client", "supplier"];

/// Contact number `i` of a synthetic book (unique name + phone, so no duplicates).
pub fn contact(i: usize) -> Contact {
    let first = FIRST[i % FIRST.len()];
    let last = LAST[(i / FIRST.len()) % LAST.len()];
    let name = format!("{first} {last} {i}");
    let tags = if i.is_multiple_of(3) {
        vec![]
    } else {
        vec![TAGS[i % TAGS.len()].to_string()]
    };
    Contact {
        email: format!(
            "{}.{}{i}@example.com",
            first.to_lowercase(),
            last.to_lowercase()
        ),
        phone: format!("+1 555 {:03} {:04}", (i / 10_000) % 1000, i % 10_000),
        address: format!("{} Main Street, Springfield", i % 997 + 1),
        company: COMPANIES[i % COMPANIES.len()].to_string(),
        notes: if i.is_multiple_of(4) {
            format!("Met at the {} conference", 2000 + i % 25)
        } else {
            String::new()
        },
        tags,
        favorite: i.is_multiple_of(10),
        name,
    }
}

/// Fresh random keys of one book.
pub fn keys() -> BookKeys {
    let key = fernet::Fernet::generate_key();
    BookKeys {
        cipher: FieldCipher::from_keys(&[&key]).expect("a generated key parses"),
        blind_index_key: [7u8; 32],
    }
}
