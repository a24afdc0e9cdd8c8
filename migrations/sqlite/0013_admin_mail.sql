-- An admin's own address for the notifications of new messages (issue 17), a Fernet token
-- (NULL: none given), and whether they want mail there (1) or not (0). Only admins' rows
-- are read for mail; the address never leaves the row unsealed except into a mail's envelope.
ALTER TABLE users ADD COLUMN notify_email TEXT;
ALTER TABLE users ADD COLUMN notify_mail INTEGER NOT NULL DEFAULT 0 CHECK (notify_mail IN (0, 1));
