//! The inbox's key pair and its grants (migration 0015), and the reads and writes that
//! reseal the inbox under a new key (`inbox::key`).

use sqlx::FromRow;

use super::{Conn, Db, DbResult};

/// The inbox's public key, and its secret under the server keys while no admin has it.
#[derive(Clone, Debug, FromRow)]
pub struct InboxKeyRow {
    pub public_key: String,
    pub held: Option<String>,
}

/// An admin with keys of their own, who may get the inbox key.
#[derive(Clone, Debug, FromRow)]
pub struct KeyedAdmin {
    pub id: i64,
    pub username: String,
    pub public_key: String,
}

/// A submission's sealed fields, by rowid.
#[derive(Clone, Debug, FromRow)]
pub struct SealedSubmission {
    pub rowid: i64,
    pub name: String,
    pub email: String,
    pub phone: String,
    pub message: String,
}

pub async fn current(db: &mut Conn) -> DbResult<Option<InboxKeyRow>> {
    sqlx::query_as("SELECT public_key, held FROM inbox_key WHERE id = 1")
        .fetch_optional(db)
        .await
}

/// Is there any submission at all?
pub async fn any_submission(db: &mut Conn) -> DbResult<bool> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM (SELECT 1 FROM submissions LIMIT 1) s")
        .fetch_one(db)
        .await?;
    Ok(n > 0)
}

/// Stores the first key pair; `false` when another instance stored one first.
pub async fn create(
    db: &mut Conn,
    public_key: &str,
    held: Option<&str>,
    now: i64,
) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO inbox_key (id, public_key, held, created) VALUES (1, $1, $2, $3)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(public_key)
    .bind(held)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Replaces the key pair with one no longer held by the server.
pub async fn replace(db: &mut Conn, public_key: &str, now: i64) -> DbResult<()> {
    sqlx::query("UPDATE inbox_key SET public_key = $1, held = NULL, created = $2 WHERE id = 1")
        .bind(public_key)
        .bind(now)
        .execute(db)
        .await?;
    Ok(())
}

/// What an admin request checks on its way: is there a key (`None`: not yet), is it held by
/// the server (1) or not (0), and how many admins with keys have no grant.
pub async fn pass_by_state(db: &Db) -> DbResult<(Option<i64>, i64)> {
    sqlx::query_as(
        "SELECT (SELECT CAST(CASE WHEN held IS NULL THEN 0 ELSE 1 END AS BIGINT)
                   FROM inbox_key WHERE id = 1),
                (SELECT COUNT(*) FROM users u
                  WHERE u.role = 'admin' AND u.public_key IS NOT NULL
                    AND NOT EXISTS (SELECT 1 FROM inbox_grants g WHERE g.user_id = u.id))",
    )
    .fetch_one(db)
    .await
}

/// Admins with keys and no grant yet, by id.
pub async fn admins_without_grant(db: &mut Conn) -> DbResult<Vec<KeyedAdmin>> {
    sqlx::query_as(
        "SELECT u.id, u.username, u.public_key FROM users u
          WHERE u.role = 'admin' AND u.public_key IS NOT NULL
            AND NOT EXISTS (SELECT 1 FROM inbox_grants g WHERE g.user_id = u.id)
          ORDER BY u.id",
    )
    .fetch_all(db)
    .await
}

/// Every grant goes (the key pair is being replaced).
pub async fn drop_grants(db: &mut Conn) -> DbResult<()> {
    sqlx::query("DELETE FROM inbox_grants").execute(db).await?;
    Ok(())
}

/// `false` if the admin had a grant already.
pub async fn add_grant(db: &mut Conn, user_id: i64, sealed: &str, now: i64) -> DbResult<bool> {
    let done = sqlx::query(
        "INSERT INTO inbox_grants (user_id, sealed, created) VALUES ($1, $2, $3)
         ON CONFLICT (user_id) DO NOTHING",
    )
    .bind(user_id)
    .bind(sealed)
    .bind(now)
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The inbox secret sealed to this admin, if they have a grant.
pub async fn grant_of(db: &Db, user_id: i64) -> DbResult<Option<String>> {
    sqlx::query_scalar("SELECT sealed FROM inbox_grants WHERE user_id = $1")
        .bind(user_id)
        .fetch_optional(db)
        .await
}

/// The ids of the admins who hold the inbox key.
pub async fn holders(db: &mut Conn) -> DbResult<Vec<i64>> {
    sqlx::query_scalar("SELECT user_id FROM inbox_grants ORDER BY user_id")
        .fetch_all(db)
        .await
}

/// Up to `limit` submissions after `after_rowid`; with `legacy`, only those whose fields are
/// not sealed yet (Fernet tokens of the server keys, from before the inbox had a key).
pub async fn submissions_after(
    db: &mut Conn,
    after_rowid: i64,
    limit: i64,
    legacy: bool,
) -> DbResult<Vec<SealedSubmission>> {
    sqlx::query_as(
        "SELECT rowid, name, email, phone, message FROM submissions
          WHERE rowid > $1 AND ($3 = 0 OR name NOT LIKE 'cvs1:%')
          ORDER BY rowid LIMIT $2",
    )
    .bind(after_rowid)
    .bind(limit)
    .bind(i64::from(legacy))
    .fetch_all(db)
    .await
}

pub async fn reseal_submission(db: &mut Conn, row: &SealedSubmission) -> DbResult<()> {
    sqlx::query(
        "UPDATE submissions SET name = $1, email = $2, phone = $3, message = $4 WHERE rowid = $5",
    )
    .bind(&row.name)
    .bind(&row.email)
    .bind(&row.phone)
    .bind(&row.message)
    .bind(row.rowid)
    .execute(db)
    .await?;
    Ok(())
}

/// Up to `limit` notes after `after_id` (as with [`submissions_after`]): (id, body).
pub async fn notes_after(
    db: &mut Conn,
    after_id: i64,
    limit: i64,
    legacy: bool,
) -> DbResult<Vec<(i64, String)>> {
    sqlx::query_as(
        "SELECT id, body FROM submission_notes
          WHERE id > $1 AND ($3 = 0 OR body NOT LIKE 'cvs1:%')
          ORDER BY id LIMIT $2",
    )
    .bind(after_id)
    .bind(limit)
    .bind(i64::from(legacy))
    .fetch_all(db)
    .await
}

pub async fn reseal_note(db: &mut Conn, id: i64, body: &str) -> DbResult<()> {
    sqlx::query("UPDATE submission_notes SET body = $1 WHERE id = $2")
        .bind(body)
        .bind(id)
        .execute(db)
        .await?;
    Ok(())
}
