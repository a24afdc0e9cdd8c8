-- Accounts, web sessions, API tokens and the audit chain.
-- Personal fields never appear here in plaintext: the only encrypted column
-- in this migration is users.totp_secret (a Fernet token).

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,  -- ids are never reused
    username          TEXT    NOT NULL UNIQUE,
    password_hash     TEXT    NOT NULL,
    role              TEXT    NOT NULL CHECK (role IN ('admin', 'user')),
    totp_secret       TEXT,                         -- Fernet token; set during enrolment
    totp_enabled      INTEGER NOT NULL DEFAULT 0,
    totp_last_step    INTEGER,                      -- last accepted time step (replay guard)
    totp_failures     INTEGER NOT NULL DEFAULT 0,
    totp_locked_until INTEGER,                      -- unix seconds
    created           INTEGER NOT NULL,             -- unix seconds
    data_version      INTEGER NOT NULL DEFAULT 0    -- bumped by every write to the user's data
);

CREATE TABLE recovery_codes (
    id        INTEGER PRIMARY KEY,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash TEXT    NOT NULL,
    used_at   INTEGER
);
CREATE INDEX recovery_codes_user ON recovery_codes (user_id);

-- Server-side web sessions. The cookie carries a random key; only its SHA-256 is stored.
CREATE TABLE sessions (
    key_hash TEXT    PRIMARY KEY,
    user_id  INTEGER REFERENCES users (id) ON DELETE CASCADE,
    state    TEXT    NOT NULL,                      -- JSON map, no personal data
    created  INTEGER NOT NULL,
    expires  INTEGER NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires);

CREATE TABLE api_tokens (
    token_hash TEXT    PRIMARY KEY,                 -- SHA-256 of the bearer token
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Append-only; every row carries the hash of the previous one.
CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY,
    ts        INTEGER NOT NULL,
    user_id   INTEGER,                              -- no FK: the trail outlives deleted users
    username  TEXT    NOT NULL,
    action    TEXT    NOT NULL,
    detail    TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL
);
CREATE INDEX audit_log_user ON audit_log (user_id, id);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
