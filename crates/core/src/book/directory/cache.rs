//! The cache of decrypted directories: one per recently used book, bounded by a byte budget
//! (least recently used first out), patched in version order by this process's writes, and
//! rebuilt by one reader at a time when another process changed the book.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::crypto::FieldCipher;
use crate::crypto::user_keys::BookKeys;
use crate::store::{self, contacts as rows};
use crate::vault::Vault;

use super::{Change, Directory};

const MAX_EARLY: usize = 256;

/// Rows of a book read and decrypted at a time when its directory is built.
const BUILD_BATCH: i64 = 10_000;

/// How long a reader waits for this process's writes to patch a directory that is behind
/// before it rebuilds it (a write by another process never patches it here).
const PATCH_WAIT: Duration = Duration::from_millis(250);

struct Slot {
    dir: Arc<Directory>,
    bytes: usize,
    last_used: Instant,
    /// Committed changes whose turn has not come: writers finish in any order, so version
    /// n + 2 may report before n + 1. Applied in version order once the gap closes.
    early: BTreeMap<i64, Change>,
}

impl Slot {
    fn new(dir: Directory, early: BTreeMap<i64, Change>) -> Slot {
        let mut slot = Slot {
            bytes: dir.bytes(),
            dir: Arc::new(dir),
            last_used: Instant::now(),
            early,
        };
        slot.catch_up();
        slot
    }

    /// Applies the held-back changes that follow the directory's version without a gap.
    /// False when too many are waiting for a gap that does not close.
    fn catch_up(&mut self) -> bool {
        let version = self.dir.version;
        self.early = self.early.split_off(&(version + 1));
        if self.early.contains_key(&(version + 1)) {
            let dir = Arc::make_mut(&mut self.dir);
            while let Some(change) = self.early.remove(&(dir.version + 1)) {
                let next = dir.version + 1;
                dir.apply(change, next);
            }
            self.bytes = dir.bytes();
        }
        self.early.len() <= MAX_EARLY
    }
}

#[derive(Default)]
struct Books {
    slots: HashMap<i64, Slot>,
    /// Books being rebuilt, with the changes committed meanwhile: the new directory catches
    /// up on them instead of being stale on arrival.
    building: HashMap<i64, BTreeMap<i64, Change>>,
}

/// Ends a book's collection of changes however its rebuild ends (a cancelled request too).
struct Collecting<'a> {
    cache: &'a DirectoryCache,
    owner_id: i64,
}

impl Drop for Collecting<'_> {
    fn drop(&mut self) {
        self.cache.lock().building.remove(&self.owner_id);
    }
}

/// The directories of recently active books, bounded by an approximate byte budget.
pub struct DirectoryCache {
    books: Mutex<Books>,
    /// One rebuild per book at a time: readers who find a book stale wait for the rebuild under
    /// way instead of each decrypting the whole book (that took every core and ~85 MB per
    /// reader of a 100,000-contact book).
    gates: Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>,
    /// Woken by every patch, for readers waiting for one (see `patched_by`).
    patched: tokio::sync::Notify,
    /// 0 keeps no directory at all: every read decrypts the whole book (what the old app
    /// did; for comparisons, `DIRECTORY_CACHE_MB=0`).
    budget_bytes: usize,
    /// Directories built since start (for the operations log and the benchmarks).
    builds: AtomicU64,
}

impl DirectoryCache {
    pub fn new(budget_bytes: usize) -> Self {
        DirectoryCache {
            books: Mutex::new(Books::default()),
            gates: Mutex::new(HashMap::new()),
            patched: tokio::sync::Notify::new(),
            budget_bytes,
            builds: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Books> {
        // A panic while holding the lock leaves only a cache behind: keep using it.
        self.books
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn gate(&self, owner_id: i64) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gates.entry(owner_id).or_default().clone()
    }

    /// The cached directory once it has every change up to `version`. A write of this
    /// process may have committed without having patched the directory yet (it does right
    /// after): rather than rebuilding the whole book, wait a moment for that.
    async fn patched_by(&self, owner_id: i64, version: i64) -> Option<Arc<Directory>> {
        let deadline = tokio::time::Instant::now() + PATCH_WAIT;
        loop {
            let mut patched = std::pin::pin!(self.patched.notified());
            patched.as_mut().enable();
            if let Some(dir) = self.cached(owner_id, version) {
                return Some(dir);
            }
            if !self.lock().slots.contains_key(&owner_id) {
                return None;
            }
            tokio::time::timeout_at(deadline, patched).await.ok()?;
        }
    }

    /// The cached directory, if it has every change up to `version`.
    fn cached(&self, owner_id: i64, version: i64) -> Option<Arc<Directory>> {
        let mut books = self.lock();
        let slot = books.slots.get_mut(&owner_id)?;
        if slot.dir.version < version {
            return None;
        }
        slot.last_used = Instant::now();
        Some(slot.dir.clone())
    }

    /// A directory of `owner_id`'s book with every change committed before this call.
    pub async fn get(
        &self,
        vault: &Vault,
        owner_id: i64,
        keys: &BookKeys,
    ) -> anyhow::Result<Arc<Directory>> {
        let version = rows::version(&vault.db, owner_id).await?;
        self.at_least(vault, owner_id, version, keys).await
    }

    /// A directory of `owner_id`'s book with every change up to `version` (the book's version
    /// read earlier in the request, e.g. with the user's row). `keys` open the book if it has
    /// to be built: only a request that unlocked them reaches a cached one.
    pub async fn at_least(
        &self,
        vault: &Vault,
        owner_id: i64,
        version: i64,
        keys: &BookKeys,
    ) -> anyhow::Result<Arc<Directory>> {
        if let Some(dir) = self.patched_by(owner_id, version).await {
            return Ok(dir);
        }
        let gate = self.gate(owner_id);
        let _turn = gate.lock().await;
        // The rebuild we waited for may have done it.
        if let Some(dir) = self.cached(owner_id, version) {
            return Ok(dir);
        }
        // Changes committed from here on are collected for the new directory.
        self.lock().building.insert(owner_id, BTreeMap::new());
        let _collecting = Collecting {
            cache: self,
            owner_id,
        };
        let started = Instant::now();
        let built = self.build(vault, owner_id, &keys.cipher).await;
        if let Ok(dir) = &built {
            let builds = self.builds.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::info!(
                owner_id,
                contacts = dir.len(),
                bytes = dir.bytes(),
                ms = started.elapsed().as_millis() as u64,
                builds,
                "directory built"
            );
        }
        // (Declared after `_collecting`, so released before it drops and locks again.)
        let mut books = self.lock();
        let early = books.building.remove(&owner_id).unwrap_or_default();
        let slot = Slot::new(built?, early);
        let dir = slot.dir.clone();
        books.slots.insert(owner_id, slot);
        Self::evict_over_budget(&mut books.slots, self.budget_bytes, owner_id);
        Ok(dir)
    }

    async fn build(
        &self,
        vault: &Vault,
        owner_id: i64,
        cipher: &FieldCipher,
    ) -> anyhow::Result<Directory> {
        // One read snapshot, so the version and every batch agree; the changes collected
        // meanwhile are applied on top, in order. Each batch is decrypted (on the blocking
        // pool, across the cores) before the next is read: one batch of sealed rows is in
        // memory at a time, not the whole book's (~450 bytes a contact).
        let mut tx = store::begin_read(&vault.db).await?;
        let version = rows::version_in(&mut tx, owner_id).await?;
        let mut entries = Vec::new();
        let mut after = 0;
        loop {
            let batch = rows::summaries_after(&mut tx, owner_id, after, BUILD_BATCH).await?;
            let Some(last) = batch.last() else {
                break;
            };
            after = last.seq;
            let full = batch.len() as i64 == BUILD_BATCH;
            let cipher = cipher.clone();
            entries.extend(
                tokio::task::spawn_blocking(move || super::decrypt_rows(&batch, &cipher)).await??,
            );
            if !full {
                break;
            }
        }
        tx.commit().await?;
        Ok(tokio::task::spawn_blocking(move || Directory::new(version, entries)).await?)
    }

    /// Patches the cached directory with a write that moved the book to `new_version`, in
    /// version order (held back until the versions before it have arrived).
    pub fn apply(&self, owner_id: i64, new_version: i64, change: Change) {
        let mut books = self.lock();
        if let Some(pending) = books.building.get_mut(&owner_id) {
            pending.insert(new_version, change);
            return;
        }
        let Some(slot) = books.slots.get_mut(&owner_id) else {
            return;
        };
        slot.early.insert(new_version, change);
        if !slot.catch_up() {
            books.slots.remove(&owner_id);
        }
        drop(books);
        self.patched.notify_waiters();
    }

    /// Drops a book's directory (its owner was deleted).
    pub fn forget(&self, owner_id: i64) {
        self.lock().slots.remove(&owner_id);
    }

    /// Drops directories nobody used for `idle`.
    pub fn evict_idle(&self, idle: Duration) {
        let mut books = self.lock();
        books
            .slots
            .retain(|_, slot| slot.last_used.elapsed() < idle);
        let mut gates = self
            .gates
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        gates.retain(|id, gate| books.slots.contains_key(id) || Arc::strong_count(gate) > 1);
    }

    fn evict_over_budget(slots: &mut HashMap<i64, Slot>, budget: usize, keep: i64) {
        if budget == 0 {
            slots.clear();
            return;
        }
        while slots.values().map(|s| s.bytes).sum::<usize>() > budget && slots.len() > 1 {
            let oldest = slots
                .iter()
                .filter(|(id, _)| **id != keep)
                .min_by_key(|(_, s)| s.last_used)
                .map(|(id, _)| *id);
            match oldest {
                Some(id) => slots.remove(&id),
                None => break,
            };
        }
    }

    /// Directories built since the process started.
    pub fn builds(&self) -> u64 {
        self.builds.load(Ordering::Relaxed)
    }

    /// Books cached and their approximate size (for logs and benchmarks).
    pub fn usage(&self) -> (usize, usize) {
        let books = self.lock();
        (
            books.slots.len(),
            books.slots.values().map(|s| s.bytes).sum(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::book::ListQuery;
    use crate::book::directory::tests::{dir, entry};

    fn cache_with(owner: i64, d: Directory) -> DirectoryCache {
        let cache = DirectoryCache::new(usize::MAX);
        cache
            .lock()
            .slots
            .insert(owner, Slot::new(d, BTreeMap::new()));
        cache
    }

    fn cached_ids(cache: &DirectoryCache, owner: i64, version: i64) -> Option<Vec<String>> {
        let d = cache.cached(owner, version)?;
        Some(d.select(&ListQuery::default()).ids())
    }

    #[test]
    fn changes_reported_out_of_order_are_applied_in_version_order() {
        let cache = cache_with(9, dir());
        let bea = || entry("6", "Bea", "5550000000", "", &[], false, 60);
        // Version 3 reports before version 2: held back, the directory stays at 1.
        cache.apply(9, 3, Change::Remove("6".into()));
        assert_eq!(cached_ids(&cache, 9, 2), None);
        assert_eq!(cache.cached(9, 1).unwrap().len(), 5);
        cache.apply(9, 2, Change::Upsert(bea()));
        // 2 then 3: Bea added, then removed again; nothing left waiting.
        assert_eq!(
            cached_ids(&cache, 9, 3).unwrap(),
            vec!["4", "3", "5", "1", "2"]
        );
        assert!(cache.lock().slots[&9].early.is_empty());
        // A change the directory already has (a rebuild saw it) is ignored.
        cache.apply(9, 3, Change::Upsert(bea()));
        assert_eq!(cache.cached(9, 3).unwrap().len(), 5);
    }

    #[test]
    fn a_rebuilt_directory_catches_up_on_changes_committed_meanwhile() {
        let cache = DirectoryCache::new(usize::MAX);
        cache.lock().building.insert(9, BTreeMap::new());
        cache.apply(9, 1, Change::Remove("4".into())); // already in the snapshot (version 1)
        cache.apply(9, 3, Change::Remove("5".into()));
        cache.apply(9, 2, Change::Remove("1".into()));
        let early = cache.lock().building.remove(&9).unwrap();
        let slot = Slot::new(dir(), early);
        assert_eq!(slot.dir.version, 3);
        assert_eq!(
            slot.dir.select(&ListQuery::default()).ids(),
            vec!["4", "3", "2"]
        );
    }

    #[test]
    fn a_zero_budget_keeps_no_directory_and_any_other_keeps_the_newest() {
        let mut slots = HashMap::new();
        slots.insert(9, Slot::new(dir(), BTreeMap::new()));
        DirectoryCache::evict_over_budget(&mut slots, 0, 9);
        assert!(slots.is_empty());
        slots.insert(8, Slot::new(dir(), BTreeMap::new()));
        slots.insert(9, Slot::new(dir(), BTreeMap::new()));
        DirectoryCache::evict_over_budget(&mut slots, 1, 9);
        assert_eq!(
            slots.keys().collect::<Vec<_>>(),
            vec![&9],
            "the book just built stays, even over the budget"
        );
    }

    #[test]
    fn a_gap_that_never_closes_drops_the_directory() {
        let cache = cache_with(9, dir());
        // Version 2 was written by another process: this one never hears of it.
        for v in 3..3 + MAX_EARLY as i64 {
            cache.apply(9, v, Change::Remove("1".into()));
        }
        assert!(cache.lock().slots.contains_key(&9));
        cache.apply(9, 3 + MAX_EARLY as i64, Change::Remove("1".into()));
        assert!(
            !cache.lock().slots.contains_key(&9),
            "the next reader rebuilds"
        );
    }
}
