-- CardDAV sync at scale: an index for "changed after version N" (a sync with a recent token
-- reads only what changed), and tombstones that end. Each tombstone now carries the time it
-- was written (wall-clock seconds; those already kept count from this migration), and a purge
-- removes those older than 90 days (ops::purge_expired). A user's `dav_purged_version` is the
-- newest version purged from their book: a sync token below it might miss a deletion, so it is
-- refused with DAV:valid-sync-token and the client syncs afresh.
CREATE INDEX contacts_changed ON contacts (owner_id, changed_version);

ALTER TABLE dav_tombstones ADD COLUMN deleted_at INTEGER NOT NULL DEFAULT 0;
UPDATE dav_tombstones SET deleted_at = CAST(strftime('%s', 'now') AS INTEGER);
CREATE INDEX dav_tombstones_age ON dav_tombstones (deleted_at);

ALTER TABLE users ADD COLUMN dav_purged_version INTEGER NOT NULL DEFAULT 0;

DROP TRIGGER contacts_tombstone;
CREATE TRIGGER contacts_tombstone AFTER DELETE ON contacts
BEGIN
    INSERT INTO dav_tombstones (owner_id, contact_id, dav_name, dav_key, version, deleted_at)
    VALUES (OLD.owner_id, OLD.id, OLD.dav_name, OLD.dav_key,
            COALESCE((SELECT data_version + 1 FROM users WHERE id = OLD.owner_id), 0),
            CAST(strftime('%s', 'now') AS INTEGER));
END;
