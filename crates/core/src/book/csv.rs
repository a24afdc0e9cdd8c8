//! CSV import and export in the old app's format (see API.md):
//! `name,phone,email,address,company,notes,tags,favorite[,created]`, tags joined by `|`.

use bytes::Bytes;

use crate::accounts::actor;
use crate::audit::{self, action};
use crate::clock::{parse_timestamp, rfc3339};
use crate::crypto::user_keys::BookKeys;
use crate::domain::contact::{Contact, ContactDraft, split_tags};
use crate::store::contacts::{self as rows, SealedContact};
use crate::store::{self, users::UserRow};
use crate::vault::Vault;

use super::import::import_with;
pub use super::import::{ImportError, ImportReport, MAX_IMPORT_BYTES, Parsed};
use super::{keys_of, open};
use crate::error::Error;

const EXPORT_BATCH: i64 = 1000;
const COLUMNS: [&str; 8] = [
    "name", "phone", "email", "address", "company", "notes", "tags", "favorite",
];

/// `true`, `1`, `yes` (any case) are true; empty and `false`, `0`, `no` are false.
fn parse_bool(cell: &str) -> Option<bool> {
    match cell.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "y" => Some(true),
        "" | "false" | "0" | "no" | "n" => Some(false),
        _ => None,
    }
}

/// Undoes the export's formula guard (`'=SUM(…)` back to `=SUM(…)`).
fn unguard(cell: &str) -> String {
    match cell.strip_prefix('\'') {
        Some(rest) if rest.starts_with(['=', '+', '-', '@', '\t', '\r']) => rest.to_string(),
        _ => cell.to_string(),
    }
}

/// Line numbers for messages. csv counts only `\n`, and with `\r\n` line ends (Excel, Python's
/// csv module) it places each record on the line before its own; this counts `\r\n`, `\n`
/// and a lone `\r` as one line break each, moving forward through the file once.
#[derive(Default)]
struct LineCounter {
    pos: usize,
    breaks: u64,
}

impl LineCounter {
    /// The 1-based line of the first byte of the record that starts at byte `start` (a
    /// record's position may point at the line break before it).
    fn line_at(&mut self, data: &[u8], start: u64) -> u64 {
        let mut start = usize::try_from(start).unwrap_or(usize::MAX).min(data.len());
        while start < data.len() && matches!(data[start], b'\r' | b'\n') {
            start += 1;
        }
        let mut i = self.pos.min(start);
        while i < start {
            if data[i] == b'\r' && data.get(i + 1) == Some(&b'\n') && i + 1 < start {
                i += 1;
            }
            if matches!(data[i], b'\r' | b'\n') {
                self.breaks += 1;
            }
            i += 1;
        }
        self.pos = self.pos.max(start);
        self.breaks + 1
    }
}

/// Parses and checks every row; nothing is stored unless every row is valid. Returns the rows
/// and the ignored column names. Public for the property tests (`tests/props.rs`).
pub fn parse_file(data: &[u8]) -> Result<(Vec<Parsed>, Vec<String>), ImportError> {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(data);
    let headers = reader
        .byte_headers()
        .map_err(|e| ImportError::File(format!("the header row cannot be read: {e}")))?
        .iter()
        .map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase())
        .collect::<Vec<_>>();
    let col = |name: &str| headers.iter().position(|h| h == name);
    if col("name").is_none() || col("phone").is_none() {
        return Err(ImportError::File(
            "the header row needs at least the columns name and phone".into(),
        ));
    }
    let ignored: Vec<String> = headers
        .iter()
        .filter(|h| !COLUMNS.contains(&h.as_str()) && h.as_str() != "created")
        .cloned()
        .collect();

    let mut parsed = Vec::new();
    let mut errors = Vec::new();
    let mut record = csv::ByteRecord::new();
    let mut lines = LineCounter::default();
    loop {
        let before = reader.position().byte();
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                errors.push((lines.line_at(data, before), format!("unreadable row: {e}")));
                break;
            }
        }
        let start = record.position().map_or(before, |p| p.byte());
        let line = lines.line_at(data, start);
        if record.iter().all(|c| c.iter().all(u8::is_ascii_whitespace)) {
            continue;
        }
        let cell = |name: &str| -> Result<Option<String>, String> {
            match col(name).and_then(|i| record.get(i)) {
                None => Ok(None),
                Some(bytes) => std::str::from_utf8(bytes)
                    .map(|s| Some(unguard(s)))
                    .map_err(|_| format!("the {name} column is not valid UTF-8")),
            }
        };
        let row = (|| -> Result<Parsed, String> {
            let favorite = match cell("favorite")? {
                Some(v) => Some(
                    parse_bool(&v)
                        .ok_or_else(|| format!("favorite must be true or false, not {v:?}"))?,
                ),
                None => None,
            };
            let draft = ContactDraft {
                name: cell("name")?,
                phone: cell("phone")?,
                email: cell("email")?,
                address: cell("address")?,
                company: cell("company")?,
                notes: cell("notes")?,
                tags: cell("tags")?.map(|t| split_tags(&t)),
                favorite,
            };
            let contact = Contact::parse(draft).map_err(|fields| {
                fields
                    .iter()
                    .map(|(f, m)| format!("{f}: {m}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            })?;
            let created = cell("created")?.as_deref().and_then(parse_timestamp);
            Ok(Parsed {
                contact,
                created,
                card: None,
            })
        })();
        match row {
            Ok(p) => parsed.push(p),
            Err(message) => errors.push((line, message)),
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows(errors));
    }
    Ok((parsed, ignored))
}

/// Imports a CSV file into `user`'s book: all rows or none. Rows that duplicate an existing
/// contact or an earlier row are skipped.
pub async fn import(
    vault: &Vault,
    user: &UserRow,
    data: &[u8],
) -> Result<ImportReport, ImportError> {
    import_with(vault, user, data.to_vec(), parse_file, action::IMPORT_CSV).await
}

/// Writes a cell so that a spreadsheet does not run it as a formula.
fn guard(cell: &str, is_phone: bool) -> String {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let phone_number = is_phone
        && cell
            .strip_prefix('+')
            .is_some_and(|r| r.starts_with(|c: char| c.is_ascii_digit()));
    if risky && !phone_number {
        format!("'{cell}")
    } else {
        cell.to_string()
    }
}

fn csv_line(fields: &[String]) -> anyhow::Result<Bytes> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields)?;
    Ok(Bytes::from(
        w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    ))
}

/// The header row of an export.
pub fn header() -> anyhow::Result<Bytes> {
    let mut names: Vec<String> = COLUMNS.iter().map(|s| s.to_string()).collect();
    names.push("created".into());
    csv_line(&names)
}

/// Records the export in the audit log and returns how many contacts it will contain.
pub async fn begin_export(vault: &Vault, user: &UserRow) -> Result<i64, Error> {
    // Not held across the awaits below (see `book::list`).
    let count = vault
        .directories
        .get(vault, user.id, &keys_of(vault, user)?)
        .await?
        .len() as i64;
    let mut tx = store::begin_write(&vault.db).await?;
    audit::record(
        &mut tx,
        &vault.keys.audit,
        vault.clock.now(),
        actor(user),
        action::EXPORT_CSV,
        &format!("count={count}"),
    )
    .await?;
    tx.commit().await?;
    Ok(count)
}

/// One batch of `user`'s book as CSV text, the rows after cursor `after` and the cursor to
/// pass next; cursor 0 also yields the header. `None` at the end. A face streams the book this
/// way, so memory stays flat however large the book is.
pub async fn export_batch(
    vault: &Vault,
    user: &UserRow,
    after: i64,
) -> Result<Option<(Bytes, i64)>, Error> {
    let batch = rows::batch_after(&vault.db, user.id, after, EXPORT_BATCH).await?;
    let mut out = if after == 0 {
        header()?.to_vec()
    } else {
        Vec::new()
    };
    let Some(last) = batch.last().map(|(rowid, _)| *rowid) else {
        // An empty book still gets its header; after that the stream ends.
        return Ok((after == 0).then(|| (Bytes::from(out), i64::MAX)));
    };
    // Decrypting is the slow part: off the async workers, split across the cores.
    let keys = keys_of(vault, user)?;
    let lines = tokio::task::spawn_blocking(move || {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 8);
        let chunk = batch.len().div_ceil(threads).max(1);
        std::thread::scope(|scope| {
            let parts: Vec<_> = batch
                .chunks(chunk)
                .map(|part| scope.spawn(|| csv_rows(&keys, part)))
                .collect();
            let mut lines = Vec::new();
            for part in parts {
                let part = part
                    .join()
                    .map_err(|_| anyhow::anyhow!("an export thread panicked"))??;
                lines.extend_from_slice(&part);
            }
            Ok::<_, anyhow::Error>(lines)
        })
    })
    .await
    .map_err(anyhow::Error::from)??;
    out.extend_from_slice(&lines);
    Ok(Some((Bytes::from(out), last)))
}

/// The CSV lines of decrypted rows, through one writer.
fn csv_rows(keys: &BookKeys, batch: &[(i64, SealedContact)]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    for (_, row) in batch {
        let view = open(keys, row)?;
        let c = &view.contact;
        w.write_record([
            guard(&c.name, false),
            guard(&c.phone, true),
            guard(&c.email, false),
            guard(&c.address, false),
            guard(&c.company, false),
            guard(&c.notes, false),
            guard(&c.tags.join("|"), false),
            c.favorite.to_string(),
            rfc3339(view.created),
        ])?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_guarded_but_phone_numbers_are_not() {
        assert_eq!(guard("=SUM(A1:A9)", false), "'=SUM(A1:A9)");
        assert_eq!(guard("@cmd", false), "'@cmd");
        assert_eq!(guard("-1", false), "'-1");
        assert_eq!(guard("+44 7700 000001", true), "+44 7700 000001");
        assert_eq!(guard("+=1", true), "'+=1");
        assert_eq!(guard("+44", false), "'+44");
        assert_eq!(guard("Alice", false), "Alice");
        assert_eq!(unguard("'=SUM(A1)"), "=SUM(A1)");
        assert_eq!(unguard("'quoted"), "'quoted");
    }

    #[test]
    fn booleans() {
        for t in ["True", "true", "1", "YES"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["", "False", "0", "no"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn parses_the_seed_example_and_reports_every_bad_line() {
        let good = "name,phone,email,address,company,notes,tags,favorite\n\
                    Alice Smith,+44 7700 000001,alice@example.com,\"London, UK\",ACME Corp,VIP client,work|vip,true\n\
                    Bob Jones,+1 555 000 0000,bob@example.com,,Freelance,,friend,false\n";
        let (rows, ignored) = parse_file(good.as_bytes()).unwrap();
        assert_eq!(rows.len(), 2);
        assert!(ignored.is_empty());
        assert_eq!(rows[0].contact.address, "London, UK");
        assert_eq!(rows[0].contact.tags, vec!["work", "vip"]);
        assert!(rows[0].contact.favorite);

        let bad = "phone,name,extra\n123,,x\n5550100,Ok Person,y\n12,Short Phone,z\n";
        match parse_file(bad.as_bytes()) {
            Err(ImportError::Rows(errors)) => {
                let lines: Vec<u64> = errors.iter().map(|(l, _)| *l).collect();
                assert_eq!(lines, vec![2, 4]);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_file(b"email\nx@example.com\n"),
            Err(ImportError::File(_))
        ));
    }
}
