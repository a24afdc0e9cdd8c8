-- CardDAV: the resource name a client chose for a card (a Fernet token, with a blind index to
-- find it by), the book version at which each contact last changed (its ETag, and what
-- sync-collection compares), and a tombstone per deleted contact. Triggers keep
-- `changed_version` and the tombstones, so no write path can forget them: every write
-- transaction bumps the owner's `data_version` exactly once, after its changes, so
-- `data_version + 1` read inside it is the version it commits as.
ALTER TABLE contacts ADD COLUMN dav_name TEXT;
ALTER TABLE contacts ADD COLUMN dav_key TEXT;
ALTER TABLE contacts ADD COLUMN changed_version INTEGER NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX contacts_dav_key ON contacts (owner_id, dav_key) WHERE dav_key IS NOT NULL;

-- No foreign key: rows are written while a deleted user's contacts cascade away, and removed
-- with the user (store::users::delete).
CREATE TABLE dav_tombstones (
    owner_id   INTEGER NOT NULL,
    contact_id TEXT NOT NULL,
    dav_name   TEXT,
    dav_key    TEXT,
    version    INTEGER NOT NULL
);
CREATE INDEX dav_tombstones_owner ON dav_tombstones (owner_id, version);

CREATE TRIGGER contacts_changed_on_insert AFTER INSERT ON contacts
BEGIN
    UPDATE contacts
       SET changed_version = COALESCE((SELECT data_version + 1 FROM users WHERE id = NEW.owner_id), 0)
     WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER contacts_changed_on_update
AFTER UPDATE OF name, phone, email, address, company, notes, tags, favorite, card, dav_key ON contacts
BEGIN
    UPDATE contacts
       SET changed_version = COALESCE((SELECT data_version + 1 FROM users WHERE id = NEW.owner_id), 0)
     WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER contacts_tombstone AFTER DELETE ON contacts
BEGIN
    INSERT INTO dav_tombstones (owner_id, contact_id, dav_name, dav_key, version)
    VALUES (OLD.owner_id, OLD.id, OLD.dav_name, OLD.dav_key,
            COALESCE((SELECT data_version + 1 FROM users WHERE id = OLD.owner_id), 0));
END;
