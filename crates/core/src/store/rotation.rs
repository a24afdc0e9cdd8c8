//! Reading and rewriting every encrypted column, a batch of rows at a time (key rotation).

use sqlx::Row;

use super::{Conn, DbResult};

/// A table and its Fernet-encrypted columns.
pub struct EncryptedTable {
    pub table: &'static str,
    pub columns: &'static [&'static str],
}

/// Every encrypted column of the schema. A migration that adds one adds it here too.
pub const ENCRYPTED: &[EncryptedTable] = &[
    EncryptedTable {
        table: "users",
        columns: &["totp_secret", "book_name", "notify_email"],
    },
    EncryptedTable {
        table: "contacts",
        columns: &[
            "name", "phone", "email", "address", "company", "notes", "tags", "summary", "card",
            "dav_name",
        ],
    },
    EncryptedTable {
        table: "dav_tombstones",
        columns: &["dav_name"],
    },
    EncryptedTable {
        table: "app_passwords",
        columns: &["name"],
    },
    EncryptedTable {
        table: "submissions",
        columns: &["name", "email", "phone", "message"],
    },
    EncryptedTable {
        table: "submission_notes",
        columns: &["body"],
    },
];

/// Up to `limit` rows after `after_rowid`: (rowid, values of the columns, NULL as None).
pub async fn batch(
    db: &mut Conn,
    t: &EncryptedTable,
    after_rowid: i64,
    limit: i64,
) -> DbResult<Vec<(i64, Vec<Option<String>>)>> {
    let sql = format!(
        "SELECT rowid, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
        t.columns.join(", "),
        t.table
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(after_rowid)
        .bind(limit)
        .fetch_all(db)
        .await?;
    rows.iter()
        .map(|r| {
            let values = (1..=t.columns.len())
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect::<Result<_, _>>()?;
            Ok((r.try_get::<i64, _>(0)?, values))
        })
        .collect()
}

pub async fn update(
    db: &mut Conn,
    t: &EncryptedTable,
    rowid: i64,
    values: &[Option<String>],
) -> DbResult<()> {
    let sets: Vec<String> = (t.columns.iter().zip(1..))
        .map(|(c, i)| format!("{c} = ${i}"))
        .collect();
    let sql = format!(
        "UPDATE {} SET {} WHERE rowid = ${}",
        t.table,
        sets.join(", "),
        t.columns.len() + 1
    );
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
    for v in values {
        q = q.bind(v.clone());
    }
    q.bind(rowid).execute(db).await?;
    Ok(())
}

pub async fn count(db: &mut Conn, t: &EncryptedTable) -> DbResult<i64> {
    sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {}",
        t.table
    )))
    .fetch_one(db)
    .await
}
