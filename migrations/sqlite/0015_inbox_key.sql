-- The inbox's own key (issue 18). Submissions and admin notes are sealed to `public_key`
-- (X25519 sealed boxes), so the server writes them but cannot read them back. The secret key
-- is kept only sealed to each admin's own public key (`inbox_grants`). While no admin with
-- keys exists (a fresh install), `held` keeps it under the server keys; the first such admin
-- replaces the key pair, reseals what arrived and `held` is cleared (docs/SECURITY.md).
CREATE TABLE inbox_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    public_key TEXT    NOT NULL,
    held       TEXT,                                -- Fernet token of the secret, or NULL
    created    INTEGER NOT NULL
);

CREATE TABLE inbox_grants (
    user_id INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    sealed  TEXT    NOT NULL,                       -- the secret, sealed to the admin's key
    created INTEGER NOT NULL
);
