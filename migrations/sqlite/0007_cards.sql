-- The whole vCard a client sent, kept beside the book's fields (which are derived from it):
-- a Fernet token of the card as vCard 4.0 text, or NULL for a contact made in the book itself.
ALTER TABLE contacts ADD COLUMN card TEXT;
