-- The name a user gives their address book (what phones show for it): a Fernet token, NULL
-- for the default ("Contacts of USERNAME").
ALTER TABLE users ADD COLUMN book_name TEXT;
