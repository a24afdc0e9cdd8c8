-- Per-device passwords for CardDAV clients (which send HTTP Basic and cannot do TOTP). The
-- password itself is shown once and stored only as its SHA-256 (it has 120 random bits); the
-- device's name is a Fernet token like every other personal field.
CREATE TABLE app_passwords (
    id          TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL UNIQUE,
    created     INTEGER NOT NULL,
    last_used   INTEGER
);
CREATE INDEX app_passwords_user ON app_passwords (user_id);
