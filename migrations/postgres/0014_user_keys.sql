-- PostgreSQL twin of migrations/sqlite/0014_user_keys.sql (see 0001 for the translations).
-- Per-user keys (issue 18). Each user gets a random data key and an X25519 key pair, kept
-- only wrapped (docs/SECURITY.md): under a key derived from the password (Argon2id with
-- `key_salt`), under each API token and app password (`key_wrap` there), and under each web
-- session (inside the session's state, opened with the browser's unlock cookie). NULL
-- `key_wrap`: the user's rows are still under the server keys, converted at the next sign-in.
-- `key_state`: 'converting' while that runs (resumable), then 'ready'.
ALTER TABLE users ADD COLUMN public_key TEXT;
ALTER TABLE users ADD COLUMN key_salt TEXT;
ALTER TABLE users ADD COLUMN key_wrap TEXT;
ALTER TABLE users ADD COLUMN key_state TEXT CHECK (key_state IN ('converting', 'ready'));
ALTER TABLE api_tokens ADD COLUMN key_wrap TEXT;
ALTER TABLE app_passwords ADD COLUMN key_wrap TEXT;
