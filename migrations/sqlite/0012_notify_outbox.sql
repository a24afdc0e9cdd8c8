-- Notifications that messages arrived through the public form (issue 17): the outbox, one row
-- per channel and burst. It is written in the submission's own transaction, so a message is
-- never stored without its notification. A pending row gathers the submissions that arrive
-- before it goes out (the digest); the sender marks it sent, or moves `due` on with a backoff,
-- or gives up after its last attempt. No personal data: counts, times and an error text.
CREATE TABLE notify_outbox (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL CHECK (channel IN ('email', 'webhook')),
    messages INTEGER NOT NULL CHECK (messages > 0),
    created INTEGER NOT NULL,
    due INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    last_error TEXT,
    sent INTEGER
);
CREATE INDEX notify_outbox_due ON notify_outbox (status, due);
