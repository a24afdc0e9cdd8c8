//! Reading and rewriting every encrypted column, a batch of rows at a time (key rotation).

use sqlx::Row;

use super::{Conn, DbResult};

/// A table and its Fernet-encrypted columns. `owner` names the column of the user whose book
/// the row belongs to: once that user has their own keys, these values are under them, not
/// the server's (`accounts::keys`), and key rotation leaves them alone.
pub struct EncryptedTable {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    pub owner: Option<&'static str>,
}

/// Every encrypted column of the schema. A migration that adds one adds it here too.
pub const ENCRYPTED: &[EncryptedTable] = &[
    EncryptedTable {
        table: "users",
        columns: &["notify_email"],
        owner: None,
    },
    // Under the user's own keys once they have signed in since they got them.
    EncryptedTable {
        table: "users",
        columns: &["totp_secret"],
        owner: Some("id"),
    },
    EncryptedTable {
        table: "users",
        columns: &["book_name"],
        owner: Some("id"),
    },
    EncryptedTable {
        table: "contacts",
        columns: &[
            "name", "phone", "email", "address", "company", "notes", "tags", "summary", "card",
            "dav_name",
        ],
        owner: Some("owner_id"),
    },
    EncryptedTable {
        table: "dav_tombstones",
        columns: &["dav_name"],
        owner: Some("owner_id"),
    },
    EncryptedTable {
        table: "app_passwords",
        columns: &["name"],
        owner: Some("user_id"),
    },
    // Submissions and notes are sealed to the inbox key (`inbox::key`), not the server's;
    // only the inbox secret the server holds while no admin has keys is under them.
    EncryptedTable {
        table: "inbox_key",
        columns: &["held"],
        owner: None,
    },
];

/// One row of a batch: its rowid, whether its owner has their own keys, and the values of
/// the columns (NULL as None).
pub struct BatchRow {
    pub rowid: i64,
    pub owner_keyed: bool,
    pub values: Vec<Option<String>>,
}

/// Up to `limit` rows after `after_rowid`.
pub async fn batch(
    db: &mut Conn,
    t: &EncryptedTable,
    after_rowid: i64,
    limit: i64,
) -> DbResult<Vec<BatchRow>> {
    let owned = match t.owner {
        Some(owner) => format!(
            "CAST(CASE WHEN {owner} IN (SELECT id FROM users WHERE key_state IS NOT NULL)
                  THEN 1 ELSE 0 END AS BIGINT)"
        ),
        None => "CAST(0 AS BIGINT)".to_string(),
    };
    let sql = format!(
        "SELECT rowid, {owned}, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
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
            let values = (2..t.columns.len() + 2)
                .map(|i| r.try_get::<Option<String>, _>(i))
                .collect::<Result<_, _>>()?;
            Ok(BatchRow {
                rowid: r.try_get::<i64, _>(0)?,
                owner_keyed: r.try_get::<i64, _>(1)? == 1,
                values,
            })
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
