-- The contact book. Every personal column holds a Fernet token; `summary` is one more token
-- holding the searchable fields together (name, phone, email, company, tags), so the
-- in-memory directory is built with one decryption per contact. `dup_key` is a blind index.

CREATE TABLE contacts (
    id       TEXT    PRIMARY KEY,                   -- random, opaque
    owner_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name     TEXT    NOT NULL,
    phone    TEXT    NOT NULL,
    email    TEXT    NOT NULL,
    address  TEXT    NOT NULL,
    company  TEXT    NOT NULL,
    notes    TEXT    NOT NULL,
    tags     TEXT    NOT NULL,                      -- encrypted JSON array
    summary  TEXT    NOT NULL,                      -- encrypted JSON of the searchable fields
    favorite INTEGER NOT NULL DEFAULT 0,
    dup_key  TEXT    NOT NULL,
    created  INTEGER NOT NULL,
    updated  INTEGER NOT NULL
);
CREATE INDEX contacts_owner ON contacts (owner_id);
CREATE UNIQUE INDEX contacts_owner_dup ON contacts (owner_id, dup_key);

-- What `import-legacy` already brought over, so a second run adds nothing.
CREATE TABLE legacy_imports (
    kind      TEXT NOT NULL,                        -- 'contact' | 'audit'
    legacy_id TEXT NOT NULL,
    PRIMARY KEY (kind, legacy_id)
);
