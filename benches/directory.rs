//! `cargo bench --bench directory`: the per-user directory of a 100,000-contact book.
//!
//! - building it from the encrypted summaries (what the first request after a start or a
//!   change made by another process pays: decrypt, fold, sort);
//! - a search with several terms, a one-term search, a phone-digit search and the first
//!   page of the unfiltered list (what every list request pays before the page's own rows
//!   are read and decrypted).

use std::hint::black_box;
use std::time::Duration;

use contact_vault::book::directory::SummaryRow;
use contact_vault::book::directory::build;
use contact_vault::book::{ListQuery, seal};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};

mod common;

const BOOK: usize = 100_000;

/// The stored rows of a synthetic book, as the directory reads them.
type Stored = Vec<SummaryRow>;

fn stored(keys: &contact_vault::crypto::user_keys::BookKeys) -> Stored {
    (0..BOOK)
        .map(|i| {
            let row = seal(
                keys,
                1,
                &format!("{i:032x}"),
                &common::contact(i),
                i as i64,
                0,
            )
            .expect("sealing works");
            SummaryRow {
                id: row.sealed.id,
                summary: row.summary,
                address: row.sealed.address,
                notes: row.sealed.notes,
                favorite: row.sealed.favorite,
                created: row.sealed.created,
                updated: row.sealed.updated,
                seq: i as i64 + 1,
            }
        })
        .collect()
}

fn rows(stored: &Stored) -> Vec<SummaryRow> {
    stored.clone()
}

fn q(text: &str) -> ListQuery {
    ListQuery {
        q: text.into(),
        ..ListQuery::default()
    }
}

fn directory(c: &mut Criterion) {
    let keys = common::keys();
    let summaries = stored(&keys);
    let dir = build(1, rows(&summaries), &keys.cipher).unwrap();
    assert_eq!(dir.len(), BOOK);

    let mut g = c.benchmark_group("directory 100k");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.bench_function("build (decrypt + fold + sort)", |b| {
        b.iter_batched(
            || rows(&summaries),
            |rows| build(1, rows, &keys.cipher).unwrap(),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("select over 100k");
    for (label, text) in [
        ("search 'mar sch' (2 terms)", "mar sch"),
        ("search 'anna müller 42' (3 terms)", "anna müller 42"),
        ("search 'globex' (1 term, many hits)", "globex"),
        ("search '555 012' (phone digits)", "555 012"),
        ("search 'zzzz-none' (no match, the worst case)", "zzzz-none"),
        ("search '555' (1 phone term, every contact)", "555"),
        ("search 'walker' (1 term, no match)", "walker"),
        ("first page, no filter", ""),
    ] {
        let query = q(text);
        g.bench_function(label, |b| b.iter(|| dir.select(black_box(&query))));
    }
    let newest = ListQuery {
        sort: contact_vault::book::Sort::Created,
        desc: true,
        ..ListQuery::default()
    };
    g.bench_function("first page by created, newest first", |b| {
        b.iter(|| dir.select(black_box(&newest)))
    });
    g.bench_function("tags + favourite count (sidebar of a list page)", |b| {
        b.iter(|| (dir.tags(), dir.favorites()))
    });
    g.finish();
}

criterion_group!(benches, directory);
criterion_main!(benches);
