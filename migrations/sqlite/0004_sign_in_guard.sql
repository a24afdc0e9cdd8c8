-- Per-account sign-in throttling, remembered browsers, and what the account page shows of a
-- user's sessions and tokens.

-- Wrong passwords per account name (also for names that do not exist, so a lock tells nothing
-- about which accounts exist). Rows go once their last failure is a day old.
CREATE TABLE login_failures (
    username     TEXT    PRIMARY KEY,
    failures     INTEGER NOT NULL,
    locked_until INTEGER,                           -- unix seconds
    last_failure INTEGER NOT NULL
);

-- Browsers that completed a sign-in: the cookie carries a random token, only its SHA-256 is
-- kept. A remembered browser is exempt from the account's lock (not from its own failures),
-- so a stranger's wrong guesses cannot lock a person out of the browser they use.
CREATE TABLE known_devices (
    token_hash TEXT    PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    failures   INTEGER NOT NULL DEFAULT 0,
    created    INTEGER NOT NULL,
    expires    INTEGER NOT NULL
);
CREATE INDEX known_devices_user ON known_devices (user_id);

-- A public label of a signed-in session (random, not a credential) and the browser it came from.
ALTER TABLE sessions ADD COLUMN sid TEXT;
ALTER TABLE sessions ADD COLUMN user_agent TEXT;
CREATE INDEX sessions_sid ON sessions (user_id, sid);

