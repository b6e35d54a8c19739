//! The LSN store (DESIGN.md §2): for each tailed file identity, the last line known to be safe.
//!
//! A directory holding:
//! - `lsn.buffer`: append-only, one checksummed [`entry`] line per advance. Appends are cheap and
//!   nothing is updated in place.
//! - `lsn`: the compacted LSN file, the latest entry per file identity, replaced atomically
//!   (write `lsn.tmp`, fsync, rename, fsync the directory) when the buffer passes a size or an age.
//!   The buffer is emptied only after that.
//! - `lsn.lock`: the single writer's lock, holding its pid for the error message.
//!
//! Every entry carries a sequence number, so replaying the buffer over the LSN file, or a buffer
//! left behind by a compaction that crashed before emptying it, always ends at the newest state.
//! A torn or corrupt entry fails its checksum and is ignored (and counted), never trusted.
//!
//! Readers ([`Snapshot::read`]) take no lock: they read the buffer first, then the LSN file. A
//! compaction renames the new LSN file before it empties the buffer, so whichever moment a reader
//! looks, the two together hold every advance.

mod entry;

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

pub use entry::{Entry, Position};

const BUFFER: &str = "lsn.buffer";
const LSN_FILE: &str = "lsn";
const LSN_TMP: &str = "lsn.tmp";
const LOCK: &str = "lsn.lock";

/// When the writer compacts and syncs.
#[derive(Debug, Clone)]
pub struct LsnOptions {
    /// Compact when the buffer grows past this many bytes.
    pub compact_bytes: u64,
    /// Compact at least this often while there are advances.
    pub compact_interval: Duration,
    /// fsync the buffer at most this long after an advance. Zero syncs every advance. A process
    /// crash loses nothing either way (the data is in the page cache); this bounds what a power
    /// loss can take back, which then only means lines read twice, never lost.
    pub sync_interval: Duration,
}

impl Default for LsnOptions {
    fn default() -> Self {
        LsnOptions {
            compact_bytes: 4 << 20,
            compact_interval: Duration::from_secs(60),
            sync_interval: Duration::from_secs(1),
        }
    }
}

/// What a read of the store found.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// The newest position per file identity.
    pub positions: HashMap<String, Position>,
    /// Entries that failed their checksum or did not parse (a torn tail, bit rot), ignored.
    pub corrupt_entries: u64,
    /// The highest sequence number seen.
    pub last_seq: u64,
}

impl Snapshot {
    /// Reads the store in `dir` without taking the lock. A missing store reads as empty.
    pub fn read(dir: &Path) -> Result<Snapshot> {
        let mut snapshot = Snapshot::default();
        // Buffer first, then the LSN file: see the module docs for why this order is safe.
        let buffer = read_if_exists(&dir.join(BUFFER))?;
        let lsn_file = read_if_exists(&dir.join(LSN_FILE))?;
        snapshot.apply_all(&lsn_file);
        snapshot.apply_all(&buffer);
        Ok(snapshot)
    }

    fn apply_all(&mut self, bytes: &[u8]) {
        for line in bytes.split_inclusive(|&b| b == b'\n') {
            match Entry::decode(line) {
                Some(entry) => self.apply(entry),
                None => self.corrupt_entries += 1,
            }
        }
    }

    fn apply(&mut self, entry: Entry) {
        self.last_seq = self.last_seq.max(entry.seq());
        let fid = entry.fid().to_string();
        let newer = self.positions.get(&fid).is_none_or(|p| p.seq < entry.seq());
        match entry {
            Entry::Advance(position) if newer => {
                self.positions.insert(fid, position);
            }
            Entry::Forget { .. } if newer => {
                self.positions.remove(&fid);
            }
            _ => {}
        }
    }

    /// The position of one file identity.
    pub fn get(&self, fid: &str) -> Option<&Position> {
        self.positions.get(fid)
    }
}

fn read_if_exists(path: &Path) -> Result<Vec<u8>> {
    match fs::read(path) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The single writer of an LSN store.
pub struct LsnStore {
    dir: PathBuf,
    options: LsnOptions,
    /// Held for the writer's lifetime; the OS releases the lock if the process dies.
    _lock: File,
    buffer: File,
    buffer_len: u64,
    state: Snapshot,
    last_compact: Instant,
    /// Appended but not yet fsynced since this instant.
    unsynced_since: Option<Instant>,
    scratch: Vec<u8>,
}

impl LsnStore {
    /// Opens (creating if needed) the store in `dir` as its single writer.
    pub fn open(dir: &Path) -> Result<LsnStore> {
        Self::open_with(dir, LsnOptions::default())
    }

    pub fn open_with(dir: &Path, options: LsnOptions) -> Result<LsnStore> {
        fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the LSN directory {}", dir.display()))?;
        let lock = take_lock(dir)?;
        let state = Snapshot::read(dir)?;
        let buffer_path = dir.join(BUFFER);
        let mut buffer = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&buffer_path)
            .with_context(|| format!("cannot open {}", buffer_path.display()))?;
        let buffer_len = cut_torn_tail(&mut buffer)
            .with_context(|| format!("cannot repair the torn end of {}", buffer_path.display()))?;
        if state.corrupt_entries > 0 {
            log::warn!(
                "LSN store {}: ignored {} corrupt or torn entries (checksum mismatch); the last good position of each file is used",
                dir.display(),
                state.corrupt_entries
            );
        }
        Ok(LsnStore {
            dir: dir.to_path_buf(),
            options,
            _lock: lock,
            buffer,
            buffer_len,
            state,
            last_compact: Instant::now(),
            unsynced_since: None,
            scratch: Vec::new(),
        })
    }

    /// The directory of the store.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The current state, as a reader would see it.
    pub fn snapshot(&self) -> &Snapshot {
        &self.state
    }

    /// The position of one file identity.
    pub fn get(&self, fid: &str) -> Option<&Position> {
        self.state.get(fid)
    }

    /// Records new positions in one append. A position that is not past the one already stored
    /// for its file identity is skipped: stages may confirm lines again after a restart, and a
    /// position never moves back by accident (use [`LsnStore::set`] for that).
    pub fn advance<I: IntoIterator<Item = Position>>(&mut self, positions: I) -> Result<()> {
        let forward = positions.into_iter().filter(|p| {
            self.state
                .get(&p.fid)
                .is_none_or(|current| p.lsn > current.lsn)
        });
        let entries: Vec<Entry> = forward.map(Entry::Advance).collect();
        self.append(entries)
    }

    /// Sets a position by hand, also backwards (ls-recover: skip or re-read a region).
    pub fn set(&mut self, position: Position) -> Result<()> {
        self.append(vec![Entry::Advance(position)])
    }

    /// Stops tracking a file identity.
    pub fn forget(&mut self, fid: &str) -> Result<()> {
        self.append(vec![Entry::Forget {
            seq: 0,
            fid: fid.to_string(),
        }])
    }

    fn append(&mut self, mut entries: Vec<Entry>) -> Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        self.scratch.clear();
        for entry in &mut entries {
            self.state.last_seq += 1;
            match entry {
                Entry::Advance(p) => p.seq = self.state.last_seq,
                Entry::Forget { seq, .. } => *seq = self.state.last_seq,
            }
            entry.encode(&mut self.scratch);
        }
        // One write(2) of whole lines: a crash leaves at most one torn line at the end.
        self.buffer
            .write_all(&self.scratch)
            .with_context(|| format!("cannot append to {}", self.dir.join(BUFFER).display()))?;
        self.buffer_len += self.scratch.len() as u64;
        for entry in entries {
            self.state.apply(entry);
        }
        let now = Instant::now();
        let since = *self.unsynced_since.get_or_insert(now);
        if now.duration_since(since) >= self.options.sync_interval {
            self.sync()?;
        }
        if self.buffer_len >= self.options.compact_bytes
            || now.duration_since(self.last_compact) >= self.options.compact_interval
        {
            self.compact()?;
        }
        Ok(())
    }

    /// fsyncs the buffer: every advance so far survives a power loss.
    pub fn sync(&mut self) -> Result<()> {
        if self.unsynced_since.take().is_some() {
            self.buffer
                .sync_data()
                .with_context(|| format!("cannot sync {}", self.dir.join(BUFFER).display()))?;
        }
        Ok(())
    }

    /// Writes the newest position per file into the LSN file and empties the buffer.
    pub fn compact(&mut self) -> Result<()> {
        self.sync()?;
        let mut bytes = Vec::new();
        let mut positions: Vec<&Position> = self.state.positions.values().collect();
        positions.sort_by(|a, b| a.fid.cmp(&b.fid));
        for position in positions {
            Entry::Advance(position.clone()).encode(&mut bytes);
        }
        let tmp = self.dir.join(LSN_TMP);
        let target = self.dir.join(LSN_FILE);
        write_synced(&tmp, &bytes).with_context(|| format!("cannot write {}", tmp.display()))?;
        fs::rename(&tmp, &target)
            .with_context(|| format!("cannot rename {} to {}", tmp.display(), target.display()))?;
        sync_dir(&self.dir)?;
        // Only now is the buffer redundant. A crash before this line leaves entries that the
        // LSN file already holds, with sequence numbers no newer: replaying them changes nothing.
        self.buffer
            .set_len(0)
            .and_then(|()| self.buffer.sync_data())
            .with_context(|| format!("cannot empty {}", self.dir.join(BUFFER).display()))?;
        self.buffer_len = 0;
        self.last_compact = Instant::now();
        Ok(())
    }
}

impl Drop for LsnStore {
    fn drop(&mut self) {
        if let Err(e) = self.sync() {
            log::error!("{e:#}");
        }
    }
}

/// Takes the writer lock of the store, or says who holds it.
fn take_lock(dir: &Path) -> Result<File> {
    let path = dir.join(LOCK);
    let mut file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .with_context(|| format!("cannot open the lock file {}", path.display()))?;
    let own_pid = std::process::id().to_string();
    let started = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => {
                file.set_len(0)?;
                file.write_all(format!("{own_pid}\n").as_bytes())?;
                return Ok(file);
            }
            Err(fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                file.seek(SeekFrom::Start(0))?;
                let _ = file.read_to_string(&mut holder);
                // Held under our own pid: a store of this process was just closed, but a child
                // forked at that moment holds the lock until its exec closes the descriptor.
                if holder.trim() == own_pid && started.elapsed() < Duration::from_secs(2) {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                }
                bail!(
                    "the LSN store {} is in use by another process (pid {}); stop it, or use a reader command",
                    dir.display(),
                    holder.trim()
                )
            }
            Err(fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
    }
}

/// Cuts a torn last line (no newline: an append interrupted by a crash) off the buffer, so
/// that the next append starts on a line of its own. Returns the buffer's new length.
fn cut_torn_tail(buffer: &mut File) -> io::Result<u64> {
    let len = buffer.seek(SeekFrom::End(0))?;
    if len == 0 {
        return Ok(0);
    }
    // Entries are small; the last newline is within the last 64 KiB unless the tail is garbage.
    let window = len.min(64 * 1024);
    let mut tail = vec![0; window as usize];
    buffer.seek(SeekFrom::Start(len - window))?;
    buffer.read_exact(&mut tail)?;
    let keep = match memchr::memrchr(b'\n', &tail) {
        Some(i) => len - window + i as u64 + 1,
        None if window == len => 0,
        None => return Ok(len),
    };
    if keep < len {
        log::warn!(
            "cut a torn entry of {} bytes off the LSN buffer",
            len - keep
        );
        buffer.set_len(keep)?;
        buffer.sync_data()?;
    }
    Ok(keep)
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot sync the directory {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(fid: &str, lsn: u64) -> Position {
        Position {
            seq: 0,
            fid: fid.into(),
            file: format!("/logs/{fid}.log"),
            lsn,
            offset: lsn * 100,
            line_crc: None,
            updated_ms: 0,
        }
    }

    fn options() -> LsnOptions {
        LsnOptions {
            compact_bytes: u64::MAX,
            compact_interval: Duration::from_secs(3600),
            sync_interval: Duration::ZERO,
        }
    }

    #[test]
    fn positions_survive_reopen_and_compaction() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
            store.advance([position("a", 1), position("b", 5)]).unwrap();
            store.advance([position("a", 2)]).unwrap();
            // Not forward: ignored.
            store.advance([position("b", 4)]).unwrap();
            store.compact().unwrap();
            store.advance([position("a", 3)]).unwrap();
        }
        let snap = Snapshot::read(dir.path()).unwrap();
        assert_eq!(snap.get("a").unwrap().lsn, 3);
        assert_eq!(snap.get("b").unwrap().lsn, 5);
        assert_eq!(snap.corrupt_entries, 0);
        let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
        store.set(position("b", 2)).unwrap();
        store.forget("a").unwrap();
        drop(store);
        let snap = Snapshot::read(dir.path()).unwrap();
        assert_eq!(snap.get("b").unwrap().lsn, 2);
        assert!(snap.get("a").is_none());
    }

    #[test]
    fn a_second_writer_is_refused_with_the_holders_pid() {
        let dir = tempfile::tempdir().unwrap();
        let _store = LsnStore::open(dir.path()).unwrap();
        let err = LsnStore::open(dir.path()).err().unwrap().to_string();
        assert!(
            err.contains(&format!("pid {}", std::process::id())),
            "{err}"
        );
    }

    #[test]
    fn a_crash_in_the_middle_of_an_append_keeps_the_last_good_position() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
            for lsn in 1..=10 {
                store.advance([position("a", lsn)]).unwrap();
            }
        }
        let buffer = dir.path().join(BUFFER);
        let full = fs::read(&buffer).unwrap();
        let entry_len = full.len() / 10;
        // Cut the file at every byte of the last entry: the lookup gives line 9, then 10 once whole.
        for cut in full.len() - entry_len..=full.len() {
            fs::write(&buffer, &full[..cut]).unwrap();
            let expected = if cut == full.len() { 10 } else { 9 };
            assert_eq!(
                Snapshot::read(dir.path()).unwrap().get("a").unwrap().lsn,
                expected
            );
            // The writer cuts the torn part and appends cleanly after it.
            let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
            store.advance([position("a", 11)]).unwrap();
            drop(store);
            let snap = Snapshot::read(dir.path()).unwrap();
            assert_eq!(snap.get("a").unwrap().lsn, 11);
            assert_eq!(snap.corrupt_entries, 0);
        }
    }

    #[test]
    fn corrupt_entries_are_ignored_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
            store.advance([position("a", 1)]).unwrap();
            store.advance([position("a", 2)]).unwrap();
        }
        let buffer = dir.path().join(BUFFER);
        let mut bytes = fs::read(&buffer).unwrap();
        // Flip a digit of the second entry's lsn: "lsn":2 becomes "lsn":3 without a new checksum.
        let at = bytes.windows(7).rposition(|w| w == b"\"lsn\":2").unwrap() + 6;
        bytes[at] = b'3';
        fs::write(&buffer, &bytes).unwrap();
        let snap = Snapshot::read(dir.path()).unwrap();
        assert_eq!(snap.get("a").unwrap().lsn, 1);
        assert_eq!(snap.corrupt_entries, 1);
    }

    #[test]
    fn a_crash_in_the_middle_of_a_compaction_loses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
        store.advance([position("a", 1), position("b", 1)]).unwrap();
        store.compact().unwrap();
        store.advance([position("a", 2)]).unwrap();
        store.set(position("b", 0)).unwrap();
        drop(store);
        let buffer_before = fs::read(dir.path().join(BUFFER)).unwrap();
        let expect = |dir: &Path| {
            let snap = Snapshot::read(dir).unwrap();
            assert_eq!(snap.get("a").unwrap().lsn, 2);
            assert_eq!(snap.get("b").unwrap().lsn, 0);
        };
        // 1. Crashed while writing the temporary file: a half lsn.tmp is left, never read.
        fs::write(dir.path().join(LSN_TMP), b"0badc0de {\"op\":").unwrap();
        expect(dir.path());
        // 2. Crashed after the rename, before emptying the buffer: the old entries replay harmlessly.
        let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
        store.compact().unwrap();
        drop(store);
        fs::write(dir.path().join(BUFFER), &buffer_before).unwrap();
        expect(dir.path());
        // And a writer opened on that state carries on from it.
        let mut store = LsnStore::open_with(dir.path(), options()).unwrap();
        store.advance([position("b", 1)]).unwrap();
        drop(store);
        assert_eq!(Snapshot::read(dir.path()).unwrap().get("b").unwrap().lsn, 1);
    }

    #[test]
    fn compaction_triggers_by_size() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = LsnStore::open_with(
            dir.path(),
            LsnOptions {
                compact_bytes: 1000,
                ..options()
            },
        )
        .unwrap();
        for lsn in 1..=100 {
            store.advance([position("a", lsn)]).unwrap();
        }
        assert!(fs::metadata(dir.path().join(BUFFER)).unwrap().len() < 1000);
        assert!(dir.path().join(LSN_FILE).exists());
        assert_eq!(store.get("a").unwrap().lsn, 100);
        drop(store);
        assert_eq!(
            Snapshot::read(dir.path()).unwrap().get("a").unwrap().lsn,
            100
        );
    }
}
