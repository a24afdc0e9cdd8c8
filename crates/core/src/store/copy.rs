//! `migrate-db`: every row of a SQLite database into an empty PostgreSQL one, in one
//! transaction on the target (all or nothing), from one snapshot of the source.
//!
//! The tables, their columns and their order come from the target's own catalogue (its
//! schema is this binary's migrations), so a table added later is copied without a change
//! here. Identifiers are therefore the schema's own, never input; they are quoted anyway.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, bail};
use sqlx::Row;

use super::{Backend, Conn, Db, begin_read};

/// A table and how many rows it holds on each side once copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub table: String,
    pub source_rows: i64,
    pub target_rows: i64,
}

/// Rows read from the source per statement.
const PAGE: i64 = 500;
/// Parameters per INSERT, below PostgreSQL's 65,535.
const MAX_PARAMS: usize = 30_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Text,
}

struct Table {
    name: String,
    columns: Vec<(String, Kind)>,
}

fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Copies everything; refuses unless `source` is SQLite, `target` PostgreSQL, both at the
/// same migration, and every table of the target empty.
pub async fn sqlite_to_postgres(source: &Db, target: &Db) -> anyhow::Result<Vec<Copied>> {
    if Backend::of(source) != Backend::Sqlite || Backend::of(target) != Backend::Postgres {
        bail!("migrate-db copies a sqlite:// database into a postgres:// one");
    }
    let (from_version, to_version) = (
        latest_migration(source).await?,
        latest_migration(target).await?,
    );
    if from_version != to_version {
        bail!(
            "the source is at migration {from_version} and this binary at {to_version}: start this \
             version of Contact Vault once on the source (it upgrades it), then migrate"
        );
    }
    let tables = tables_in_order(target).await?;
    let mut read = begin_read(source).await?;
    let mut write = target.begin().await?;
    for table in &tables {
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            quoted(&table.name)
        )))
        .fetch_one(&mut *write)
        .await?;
        if rows > 0 {
            bail!(
                "the target is not empty (table {} holds {rows} rows): migrate-db fills a new, empty \
                 database only",
                table.name
            );
        }
    }
    // Rows arrive as they were: no trigger may stamp them again (the contacts' change
    // versions, their tombstones). Constraints stay on: a row that breaks one stops the copy.
    for table in &tables {
        set_triggers(&mut write, &table.name, false).await?;
    }
    let mut copied = Vec::new();
    for table in &tables {
        let source_rows = copy_table(&mut read, &mut write, table)
            .await
            .with_context(|| format!("copying {}", table.name))?;
        let target_rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            quoted(&table.name)
        )))
        .fetch_one(&mut *write)
        .await?;
        if source_rows != target_rows {
            bail!(
                "{}: {source_rows} rows read but {target_rows} written; nothing was kept",
                table.name
            );
        }
        copied.push(Copied {
            table: table.name.clone(),
            source_rows,
            target_rows,
        });
    }
    for table in &tables {
        set_triggers(&mut write, &table.name, true).await?;
    }
    advance_identities(&mut write).await?;
    write.commit().await?;
    read.rollback().await?;
    Ok(copied)
}

async fn latest_migration(db: &Db) -> anyhow::Result<i64> {
    sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
        .fetch_one(db)
        .await
        .context("not a database of Contact Vault (no migrations table)")
}

/// The target's tables, parents before children (its foreign keys), with their columns.
async fn tables_in_order(target: &Db) -> anyhow::Result<Vec<Table>> {
    let columns = sqlx::query(
        "SELECT table_name::TEXT, column_name::TEXT, data_type::TEXT
         FROM information_schema.columns c
         WHERE table_schema = current_schema() AND table_name <> '_sqlx_migrations'
           AND EXISTS (SELECT 1 FROM information_schema.tables t
                       WHERE t.table_schema = c.table_schema AND t.table_name = c.table_name
                         AND t.table_type = 'BASE TABLE')
         ORDER BY table_name, ordinal_position",
    )
    .fetch_all(target)
    .await?;
    let mut by_table: BTreeMap<String, Vec<(String, Kind)>> = BTreeMap::new();
    for row in columns {
        let (table, column, data_type): (String, String, String) =
            (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
        let kind = match data_type.as_str() {
            "bigint" => Kind::Integer,
            "text" => Kind::Text,
            other => bail!("{table}.{column} has type {other}, which migrate-db does not copy"),
        };
        by_table.entry(table).or_default().push((column, kind));
    }
    let edges = sqlx::query(
        "SELECT src.relname::TEXT, dst.relname::TEXT FROM pg_constraint k
         JOIN pg_class src ON src.oid = k.conrelid
         JOIN pg_class dst ON dst.oid = k.confrelid
         JOIN pg_namespace n ON n.oid = src.relnamespace
         WHERE k.contype = 'f' AND n.nspname = current_schema()",
    )
    .fetch_all(target)
    .await?;
    let mut parents: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for row in edges {
        let (child, parent): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        if child != parent {
            parents.entry(child).or_default().insert(parent);
        }
    }
    let mut ordered = Vec::new();
    let mut done = BTreeSet::new();
    while done.len() < by_table.len() {
        let ready: Vec<String> = by_table
            .keys()
            .filter(|t| !done.contains(*t))
            .filter(|t| {
                parents
                    .get(*t)
                    .is_none_or(|p| p.iter().all(|p| done.contains(p)))
            })
            .cloned()
            .collect();
        if ready.is_empty() {
            bail!("the foreign keys of the target form a cycle");
        }
        for name in ready {
            let columns = by_table.get(&name).cloned().unwrap_or_default();
            done.insert(name.clone());
            ordered.push(Table { name, columns });
        }
    }
    Ok(ordered)
}

async fn set_triggers(write: &mut Conn, table: &str, on: bool) -> anyhow::Result<()> {
    let verb = if on { "ENABLE" } else { "DISABLE" };
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE {} {verb} TRIGGER USER",
        quoted(table)
    )))
    .execute(write)
    .await?;
    Ok(())
}

/// Copies one table page by page in SQLite's rowid order; returns how many rows it read.
async fn copy_table(read: &mut Conn, write: &mut Conn, table: &Table) -> anyhow::Result<i64> {
    let names: Vec<String> = table.columns.iter().map(|(c, _)| quoted(c)).collect();
    // SQLite's own rowid is the cursor; a table that has a `rowid` column on PostgreSQL gets
    // it copied too (the creation order that paging and CardDAV's change lists follow).
    let select = format!(
        "SELECT rowid AS cursor_, {} FROM {} WHERE rowid > $1 ORDER BY rowid LIMIT $2",
        names.join(", "),
        quoted(&table.name)
    );
    let per_insert = (MAX_PARAMS / table.columns.len().max(1)).max(1);
    let mut after = i64::MIN;
    let mut read_rows = 0;
    loop {
        let page = sqlx::query(sqlx::AssertSqlSafe(select.clone()))
            .bind(after)
            .bind(PAGE)
            .fetch_all(&mut *read)
            .await?;
        let Some(last) = page.last() else { break };
        after = last.try_get(0)?;
        read_rows += page.len() as i64;
        for chunk in page.chunks(per_insert) {
            let mut sql = format!(
                "INSERT INTO {} ({}) VALUES ",
                quoted(&table.name),
                names.join(", ")
            );
            let width = table.columns.len();
            for r in 0..chunk.len() {
                let marks: Vec<String> =
                    (1..=width).map(|c| format!("${}", r * width + c)).collect();
                if r > 0 {
                    sql.push_str(", ");
                }
                sql.push('(');
                sql.push_str(&marks.join(", "));
                sql.push(')');
            }
            let mut insert = sqlx::query(sqlx::AssertSqlSafe(sql));
            for row in chunk {
                for (i, (_, kind)) in table.columns.iter().enumerate() {
                    insert = match kind {
                        Kind::Integer => insert.bind(row.try_get::<Option<i64>, _>(i + 1)?),
                        Kind::Text => insert.bind(row.try_get::<Option<String>, _>(i + 1)?),
                    };
                }
            }
            insert.execute(&mut *write).await?;
        }
    }
    Ok(read_rows)
}

/// Every identity column continues after the largest value copied into it.
async fn advance_identities(write: &mut Conn) -> anyhow::Result<()> {
    let identities = sqlx::query(
        "SELECT table_name::TEXT, column_name::TEXT FROM information_schema.columns
         WHERE table_schema = current_schema() AND is_identity = 'YES'",
    )
    .fetch_all(&mut *write)
    .await?;
    for row in identities {
        let (table, column): (String, String) = (row.try_get(0)?, row.try_get(1)?);
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT setval(pg_get_serial_sequence($1, $2), COALESCE((SELECT MAX({}) FROM {}), 0) + 1, false)",
            quoted(&column),
            quoted(&table)
        )))
        .bind(quoted(&table))
        .bind(column.clone())
        .execute(&mut *write)
        .await?;
    }
    Ok(())
}
