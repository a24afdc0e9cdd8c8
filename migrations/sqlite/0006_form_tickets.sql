-- The public form's single-use state, one row per form shown. The visitor's session holds only
-- the row's id; posting the form claims the row with one DELETE … RETURNING, so of several
-- posts on one session exactly one gets it (the session state itself is read by every
-- concurrent request alike, so taking a key out of it is not atomic).
CREATE TABLE form_tickets (
    id             TEXT    PRIMARY KEY,   -- random
    started        INTEGER NOT NULL,      -- when the form was shown (the minimum fill time)
    answer         TEXT,                  -- the CAPTCHA shown with it, upper case; NULL until one is
    answer_expires INTEGER,
    expires        INTEGER NOT NULL       -- the row is purged after this
);
CREATE INDEX form_tickets_expires ON form_tickets (expires);
