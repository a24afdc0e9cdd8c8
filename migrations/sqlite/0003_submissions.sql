-- Messages from the public contact form, and the admins' notes on them.
-- name, email, phone, message and note bodies are Fernet tokens; the rest is plaintext
-- (preferred time, status, verification result, timestamps). `repeat_key` is a blind index
-- over the normalised e-mail + phone digits, so repeat senders are recognised without
-- decrypting anything.

CREATE TABLE submissions (
    id             TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    email          TEXT    NOT NULL,
    phone          TEXT    NOT NULL,
    message        TEXT    NOT NULL,
    preferred_time TEXT    NOT NULL CHECK (preferred_time IN ('morning', 'afternoon', 'evening')),
    preferred_date TEXT,                            -- YYYY-MM-DD or NULL
    status         TEXT    NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'contacted', 'closed', 'spam')),
    verification   TEXT    NOT NULL CHECK (verification IN ('online', 'offline')),
    line_type      TEXT,
    carrier        TEXT,
    country        TEXT,
    repeat_key     TEXT    NOT NULL,
    contact_id     TEXT,                            -- the contact it was turned into
    created        INTEGER NOT NULL,
    updated        INTEGER NOT NULL
);
CREATE INDEX submissions_created ON submissions (created);
CREATE INDEX submissions_status ON submissions (status, created);
CREATE INDEX submissions_repeat ON submissions (repeat_key);

CREATE TABLE submission_notes (
    id            INTEGER PRIMARY KEY,
    submission_id TEXT    NOT NULL REFERENCES submissions (id) ON DELETE CASCADE,
    author        TEXT    NOT NULL,                 -- username
    body          TEXT    NOT NULL,                 -- Fernet token
    created       INTEGER NOT NULL
);
CREATE INDEX submission_notes_submission ON submission_notes (submission_id, id);
