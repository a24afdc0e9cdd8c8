//! `cargo bench --bench crypto`: the per-field costs everything else is built from.
//!
//! - Fernet encrypt and decrypt of one typical field (a name), and of the JSON summary that
//!   the directory is built from;
//! - opening a whole stored contact (seven field decrypts): the crypto cost of one row of a
//!   list page, so `1 / (rows × this)` per core is the crypto-bound limit of a page;
//! - the blind index of the duplicate check;
//! - Argon2id hash and verify with the production parameters (m = 19 MiB, t = 2, p = 1).

use std::hint::black_box;
use std::time::Duration;

use contact_vault::book::{open, seal};
use contact_vault::crypto::{blind, password};
use criterion::{Criterion, criterion_group, criterion_main};

mod common;

fn fernet(c: &mut Criterion) {
    let keys = common::keys();
    let cipher = &keys.cipher;
    let name = "Katarzyna Kowalski 12345";
    let token = cipher.encrypt(name);
    let contact = common::contact(12_345);
    let row = seal(&keys, 1, "0123456789abcdef0123456789abcdef", &contact, 1, 1).unwrap();

    let mut g = c.benchmark_group("fernet");
    g.bench_function("encrypt one field", |b| {
        b.iter(|| cipher.encrypt(black_box(name)))
    });
    g.bench_function("decrypt one field", |b| {
        b.iter(|| cipher.decrypt(black_box(&token)).unwrap())
    });
    g.bench_function("decrypt the summary of one contact", |b| {
        b.iter(|| cipher.decrypt(black_box(&row.summary)).unwrap())
    });
    g.bench_function("open one contact (7 fields)", |b| {
        b.iter(|| open(&keys, black_box(&row.sealed)).unwrap())
    });
    g.bench_function("seal one contact (8 tokens + blind index)", |b| {
        b.iter(|| seal(&keys, 1, "id", black_box(&contact), 1, 1).unwrap())
    });
    g.finish();
}

fn blind_index(c: &mut Criterion) {
    let root = [7u8; 32];
    c.bench_function("blind index of one contact", |b| {
        b.iter(|| {
            blind::contact_dup_key(
                black_box(&root),
                42,
                black_box("katarzyna kowalski 12345"),
                black_box("15550011234"),
            )
        })
    });
}

fn argon2(c: &mut Criterion) {
    let stored = password::hash_password("correct horse battery").unwrap();
    let mut g = c.benchmark_group("argon2id m=19MiB t=2 p=1");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    g.bench_function("hash", |b| {
        b.iter(|| password::hash_password(black_box("correct horse battery")).unwrap())
    });
    g.bench_function("verify", |b| {
        b.iter(|| password::verify_password(black_box(&stored), "correct horse battery"))
    });
    g.finish();
}

criterion_group!(benches, fernet, blind_index, argon2);
criterion_main!(benches);
