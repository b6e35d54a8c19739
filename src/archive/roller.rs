//! The roller: one open archive file per category and date, with the size and time triggers,
//! the output encoding, the sync policy, and the switch to the spool when the archive fails.
//!
//! Time comes in as an argument (`now`) to every call, so tests drive the clock and the binary
//! passes the wall clock. The caller calls [`Roller::tick`] by [`Roller::next_deadline`] even
//! when no record arrives: that is the time trigger.
//!
//! Records are routed by `date(timestamp)` in the configured zone (`--by event`, the default) or
//! by the date they arrive (`--by arrival`). At the day boundary the files of the day that ended
//! are closed. A late record (its date already over when it arrives) goes to a file of its date
//! that stays open while late records keep coming, and closes when idle (`--idle-close`), full
//! or old (`--roll-every`): a backfill or a source with old timestamps makes one file per date,
//! not one per tick. At most [`MAX_OPEN_FILES`] are open; beyond, the least recently written
//! closes.
//!
//! Durability: each caller token (an LSN ticket, a Kafka offset) comes back from
//! [`Roller::take_durable`] only once its record is synced (fsync/hsync). A file's sync starts at
//! the sync interval, when 32 MiB are pending, and on every roll; the roller goes on writing
//! while it runs (an HDFS hsync waits for the DataNode's disk) and learns on later writes and
//! ticks that it has ended: only then do the tokens of the records it covers come back. A roll
//! waits for its file's last sync, so closed files are wholly durable.
//!
//! A closed file keeps its in-progress name until the caller has committed every token of its
//! records ([`Roller::take_closed`], then [`Roller::name`]): a crash in between leaves it to the
//! start-up recovery, which remembers its ids and drops the records the input sends again. Named
//! at once, it would hold records whose offsets were not committed, and a restart would archive
//! them a second time.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::naming::{self, FileName, Serials};
use super::recovery;
use super::spool::{Abandoned, Spool};
use super::target::{Completion, Target, TargetFile};
use crate::record::{Category, RecordLine};
use crate::seen_lines::SeenLines;

/// Bytes handed to the target per write call.
const CHUNK: usize = 1 << 20;
/// Bytes per file written since the last sync started that make another one due, which bounds
/// the memory kept for rewriting unsynced lines.
const MAX_PENDING: usize = 32 << 20;
/// Bytes per file written since the sync in flight started at which the roller waits for it to
/// start the next: a file keeps the lines of at most two such spans for rewriting.
const MAX_UNSYNCED: usize = 2 * MAX_PENDING;
/// Open files at most (categories × dates): bounds memory, descriptors and HDFS leases when
/// records of many dates arrive together.
pub const MAX_OPEN_FILES: usize = 64;

/// What each line of an archive file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The records as JSON lines (`.jsonl`).
    Jsonl,
    /// The raw messages, one per line (`.log`).
    Raw,
}

/// Which date files a record goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RouteBy {
    /// The date of the record's timestamp.
    Event,
    /// The date it arrives at ls-roll.
    Arrival,
}

#[derive(Debug, Clone)]
pub struct RollConfig {
    /// Size trigger: once a file has this many bytes, it is closed.
    pub max_size: u64,
    pub tz: Tz,
    /// Also roll files that have been open this long.
    pub roll_every: Option<chrono::Duration>,
    pub format: Format,
    pub gzip: bool,
    pub sync_interval: chrono::Duration,
    pub by: RouteBy,
    /// Close files that received nothing for this long.
    pub idle_close: Option<chrono::Duration>,
}

impl RollConfig {
    /// The extension of the files: `.jsonl`, `.log`, plus `.gz`.
    pub fn extension(&self) -> String {
        let base = match self.format {
            Format::Jsonl => ".jsonl",
            Format::Raw => ".log",
        };
        if self.gzip {
            format!("{base}.gz")
        } else {
            base.to_string()
        }
    }
}

/// Counts for the summary line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollStats {
    pub records: u64,
    /// Records dropped because a recovered file already holds their id.
    pub duplicates: u64,
    /// Files given their final name.
    pub files: u64,
    /// Files recovered at start-up or after an outage.
    pub recovered: u64,
}

/// A file synced and closing, still under its in-progress name: see [`Roller::take_closed`].
#[derive(Debug)]
pub struct Closed {
    category: Category,
    name: FileName,
    place: Place,
    synced: u64,
    /// Its close, which goes on in the background (HDFS) until the file is named.
    closing: Completion,
}

/// Which target a file lives on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Place {
    Archive,
    Spool,
}

struct OpenFile<T> {
    name: FileName,
    place: Place,
    file: Box<dyn TargetFile>,
    gz: Option<GzEncoder<Vec<u8>>>,
    /// Bytes written to the target.
    written: u64,
    /// Of those, bytes whose sync the target confirmed.
    synced: u64,
    /// The sync started and not confirmed yet.
    syncing: Option<InFlight>,
    /// Encoded lines not written to the target yet; for an archive file with a spool to switch
    /// to, every line since the last confirmed sync, kept to rewrite them there if the archive
    /// fails.
    pending: Vec<u8>,
    /// Of `pending`, bytes already written to the target.
    pushed: usize,
    /// Whether `pending` keeps the lines written to the target until they are synced: only an
    /// archive file with a spool to switch to rewrites them; otherwise the buffer stays small
    /// (a chunk), in the cache.
    keep_unsynced: bool,
    /// Bytes of the lines since the last sync started, uncompressed.
    unsynced: usize,
    /// The tokens of the records since the last confirmed sync.
    tokens: Vec<T>,
    opened: DateTime<Utc>,
    last_write: DateTime<Utc>,
    /// When the last sync started.
    last_sync: DateTime<Utc>,
}

/// A sync of an [`OpenFile`] that may still be running, and what it covers.
struct InFlight {
    syncing: Completion,
    covers: Watermark,
}

/// How far an [`OpenFile`] was when a sync started.
#[derive(Debug, Clone, Copy)]
struct Watermark {
    /// Bytes written to the target.
    written: u64,
    /// Of `pending`, the bytes of the lines written.
    lines: usize,
    /// Of `tokens`, how many.
    tokens: usize,
}

impl<T> OpenFile<T> {
    fn size(&self) -> u64 {
        self.written + (self.pending.len() - self.pushed) as u64
    }

    /// Writes what is pending to the target (compressing it first with gzip).
    fn push(&mut self) -> io::Result<()> {
        let fresh = &self.pending[self.pushed..];
        self.pushed = self.pending.len();
        match &mut self.gz {
            Some(gz) => {
                gz.write_all(fresh)?;
                self.write_compressed()
            }
            None if fresh.is_empty() => Ok(()),
            None => {
                self.file.write(fresh)?;
                self.written += fresh.len() as u64;
                Ok(())
            }
        }?;
        if !self.keep_unsynced {
            self.pending.clear();
            self.pushed = 0;
        }
        Ok(())
    }

    fn write_compressed(&mut self) -> io::Result<()> {
        let gz = self.gz.as_mut().expect("only called with gzip");
        let out = std::mem::take(gz.get_mut());
        if !out.is_empty() {
            self.file.write(&out)?;
            self.written += out.len() as u64;
        }
        // Give the buffer back, so that steady state allocates nothing.
        let mut out = out;
        out.clear();
        *gz.get_mut() = out;
        Ok(())
    }

    /// The bytes synced once the sync in flight, if any, is confirmed.
    fn covered(&self) -> u64 {
        self.syncing
            .as_ref()
            .map_or(self.synced, |sync| sync.covers.written)
    }

    /// Starts a sync of everything written, once the sync in flight has ended; the tokens it
    /// covers move to `durable` when it is confirmed ([`OpenFile::poll_sync`]).
    fn start_sync(&mut self, now: DateTime<Utc>, durable: &mut Vec<T>) -> io::Result<()> {
        self.settle(durable)?;
        self.push()?;
        if let Some(gz) = &mut self.gz {
            // A sync flush ends the deflate stream on a byte boundary: the synced prefix of the
            // file decodes completely (see recovery).
            gz.flush()?;
            self.write_compressed()?;
        }
        self.syncing = Some(InFlight {
            syncing: self.file.start_sync(),
            covers: Watermark {
                written: self.written,
                lines: self.pending.len(),
                tokens: self.tokens.len(),
            },
        });
        self.unsynced = 0;
        self.last_sync = now;
        Ok(())
    }

    /// Starts a sync that is due, unless one is in flight: the next one then starts when it is
    /// due again after that one's confirmation, so that the roller does not wait for a sync
    /// while it can keep writing (and the syncs of a slow target merge). It waits only once
    /// [`MAX_UNSYNCED`] bytes were written since the sync in flight started.
    fn sync_due(&mut self, now: DateTime<Utc>, durable: &mut Vec<T>) -> io::Result<()> {
        self.poll_sync(durable)?;
        if self.syncing.is_some() && self.unsynced < MAX_UNSYNCED {
            return Ok(());
        }
        self.start_sync(now, durable)
    }

    /// Takes the result of the sync in flight, if it has ended.
    fn poll_sync(&mut self, durable: &mut Vec<T>) -> io::Result<()> {
        let Some(result) = self.syncing.as_mut().and_then(|sync| sync.syncing.poll()) else {
            return Ok(());
        };
        let covers = self.syncing.take().expect("polled").covers;
        result?;
        self.confirm(covers, durable);
        Ok(())
    }

    /// Waits for the sync in flight, if any.
    fn settle(&mut self, durable: &mut Vec<T>) -> io::Result<()> {
        let Some(InFlight {
            mut syncing,
            covers,
        }) = self.syncing.take()
        else {
            return Ok(());
        };
        syncing.wait()?;
        self.confirm(covers, durable);
        Ok(())
    }

    /// Notes a confirmed sync: its bytes are synced, its lines need no rewriting, the tokens
    /// of its records are durable.
    fn confirm(&mut self, covers: Watermark, durable: &mut Vec<T>) {
        self.synced = covers.written;
        self.pending.drain(..covers.lines);
        self.pushed -= covers.lines;
        // Drained, not taken: both vectors keep their capacity, so that steady state allocates
        // nothing.
        durable.extend(self.tokens.drain(..covers.tokens));
    }

    /// Makes everything written durable; moves the tokens that became durable to `durable`.
    fn sync(&mut self, now: DateTime<Utc>, durable: &mut Vec<T>) -> io::Result<()> {
        self.start_sync(now, durable)?;
        self.settle(durable)
    }

    /// Completes a synced file (syncing the end of its gzip member), and starts closing it; the
    /// caller renames it once the close has ended.
    fn finish(mut self) -> io::Result<Completion> {
        debug_assert!(self.written == self.synced && self.pending.len() == self.pushed);
        if let Some(gz) = self.gz.take() {
            let out = gz.finish()?;
            self.file.write(&out)?;
            self.file.sync()?;
        }
        Ok(self.file.close_in_background())
    }
}

/// Writes records into rolling archive files.
pub struct Roller<T> {
    config: RollConfig,
    ext: String,
    archive: Box<dyn Target>,
    spool: Option<Spool>,
    open: BTreeMap<(Category, NaiveDate), OpenFile<T>>,
    serials: Serials,
    listed: HashSet<(Place, Category)>,
    /// Ids of records in files recovered at start-up: re-sent copies are dropped.
    recovered_ids: HashSet<String>,
    /// The lines of tailed files archived by this run: copies sent again are dropped.
    archived_lines: SeenLines,
    durable: Vec<T>,
    /// The empty `pending` buffers of closed files. Each is allocated once at its largest (only
    /// the pages used are backed): growing one to tens of MiB for every file, copying it at
    /// each step, cost more than the copying that fills it.
    spare_buffers: Vec<Vec<u8>>,
    /// The day of the last record routed: its first instant, the first of the next day, its date.
    routed_day: Option<(DateTime<Utc>, DateTime<Utc>, NaiveDate)>,
    closed: Vec<Closed>,
    /// Files handed to [`Roller::name`] whose close has not ended yet.
    naming: Vec<Closed>,
    stats: RollStats,
    _locks: Vec<Box<dyn Send>>,
}

impl<T> Roller<T> {
    /// Locks the archive (and the spool), then recovers files a previous run left in progress
    /// (see [`recovery`]).
    pub fn open(
        config: RollConfig,
        archive: Box<dyn Target>,
        spool: Option<Spool>,
        now: DateTime<Utc>,
    ) -> Result<Roller<T>> {
        let mut locks = vec![archive.lock()?];
        if let Some(spool) = &spool {
            locks.push(spool.target().lock()?);
        }
        let mut roller = Roller {
            ext: config.extension(),
            config,
            archive,
            spool,
            open: BTreeMap::new(),
            serials: Serials::default(),
            listed: HashSet::new(),
            recovered_ids: HashSet::new(),
            archived_lines: SeenLines::default(),
            durable: Vec::new(),
            spare_buffers: Vec::new(),
            routed_day: None,
            closed: Vec::new(),
            naming: Vec::new(),
            stats: RollStats::default(),
            _locks: locks,
        };
        if let Some(spool) = &roller.spool {
            let spool = spool.target().describe();
            roller.recover_strays(Place::Spool).with_context(|| {
                format!("cannot recover the files a previous run left in the spool {spool}")
            })?;
        }
        if let Err(err) = roller.recover_strays(Place::Archive) {
            roller
                .fail_over(now, err)
                .context("cannot recover the files a previous run left in progress")?;
        }
        Ok(roller)
    }

    pub fn stats(&self) -> &RollStats {
        &self.stats
    }

    /// True while writing to the spool.
    pub fn spooling(&self) -> bool {
        self.spool.as_ref().is_some_and(Spool::active)
    }

    /// Tokens whose records are durable, since the last call.
    pub fn take_durable(&mut self) -> std::vec::Drain<'_, T> {
        self.durable.drain(..)
    }

    /// Files closed since the last call, to be given their final names with [`Roller::name`]
    /// once every token of their records is committed.
    pub fn take_closed(&mut self) -> Vec<Closed> {
        std::mem::take(&mut self.closed)
    }

    /// Gives closed files their final names once their close has ended: with `wait`, waits for
    /// every close; otherwise a file still closing is named by a later call or tick, so that
    /// the writing goes on meanwhile. A file the archive fails to close or rename is abandoned
    /// to the spool (salvaged when the archive answers again) and the roller switches to the
    /// spool.
    pub fn name(&mut self, files: Vec<Closed>, now: DateTime<Utc>, wait: bool) -> Result<()> {
        self.naming.extend(files);
        let mut failure = Ok(());
        for mut file in std::mem::take(&mut self.naming) {
            let closed = if wait {
                Some(file.closing.wait())
            } else {
                file.closing.poll()
            };
            let Some(closed) = closed else {
                self.naming.push(file);
                continue;
            };
            if let Err(err) = closed {
                self.abandon_open(&file.category, file.name, file.place, file.synced);
                if failure.is_ok() {
                    failure = Err(err);
                }
                continue;
            }
            let category = file.category.as_str();
            let from = naming::relative_path(category, &file.name.in_progress());
            let to = naming::relative_path(category, &file.name.to_string());
            match self.target(file.place).rename(&from, &to) {
                Ok(()) => {
                    self.stats.files += 1;
                    log::debug!("closed {category}/{} ({:?})", file.name, file.place);
                }
                Err(err) => {
                    if file.place == Place::Archive
                        && let Some(spool) = &mut self.spool
                    {
                        // Synced and closed: only the rename is missing.
                        spool.abandon(Abandoned {
                            closed: true,
                            ..Abandoned::open(
                                &file.category,
                                file.name,
                                file.synced,
                                self.config.gzip,
                            )
                        });
                    }
                    if failure.is_ok() {
                        failure = Err(err);
                    }
                }
            }
        }
        self.retry_on_spool(now, failure)
    }

    fn target(&self, place: Place) -> &dyn Target {
        match place {
            Place::Archive => self.archive.as_ref(),
            Place::Spool => self
                .spool
                .as_ref()
                .expect("spool files need a spool")
                .target(),
        }
    }

    fn place_now(&self) -> Place {
        if self.spooling() {
            Place::Spool
        } else {
            Place::Archive
        }
    }

    /// Appends a record; `token` comes back from [`Roller::take_durable`] once it is synced.
    pub fn write(&mut self, record: &RecordLine, token: T, now: DateTime<Utc>) -> Result<()> {
        let recovered = !self.recovered_ids.is_empty() && self.recovered_ids.contains(record.id());
        let line = (record.origin()).map(|o| (self.archived_lines.file(o.fid), o.lsn));
        if recovered || line.is_some_and(|(file, lsn)| self.archived_lines.contains(file, lsn)) {
            self.stats.duplicates += 1;
            self.durable.push(token);
            return Ok(());
        }
        let when = match self.config.by {
            RouteBy::Event => record.timestamp,
            RouteBy::Arrival => now,
        };
        let date = self.date_of(when);
        let result = self.append(date, record, token, now);
        self.retry_on_spool(now, result)?;
        if let Some((file, lsn)) = line {
            self.archived_lines.insert(file, lsn);
        }
        self.stats.records += 1;
        Ok(())
    }

    /// The date of `when` in the configured zone. A day runs from one day boundary of the time
    /// trigger ([`naming::day_end`]) to the next; the last one is kept, since records mostly come
    /// in order and converting each to the zone is costly.
    fn date_of(&mut self, when: DateTime<Utc>) -> NaiveDate {
        if let Some((start, end, date)) = self.routed_day
            && start <= when
            && when < end
        {
            return date;
        }
        let date = naming::date_in(self.config.tz, when);
        let start = date
            .pred_opt()
            .map_or(when, |before| naming::day_end(self.config.tz, before));
        self.routed_day = Some((start, naming::day_end(self.config.tz, date), date));
        date
    }

    /// Appends a record to the open file of its category and `date`, opening one if needed.
    fn append(
        &mut self,
        date: NaiveDate,
        record: &RecordLine,
        token: T,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        // Finding the record's file among the open ones by its category and date saves making
        // a key (a category string) per record.
        let is_key = |(category, d): &(Category, NaiveDate)| {
            *d == date && category.as_str() == record.category()
        };
        let (key, file) = match self.open.iter_mut().find(|(key, _)| is_key(key)) {
            Some(open) => open,
            None => {
                self.make_room()?;
                let key = (Category::new(record.category()).expect("valid"), date);
                let file = self.create(&key, self.place_now(), now)?;
                self.open.insert(key, file);
                (self.open.iter_mut())
                    .find(|(key, _)| is_key(key))
                    .expect("just opened")
            }
        };
        let before = file.pending.len();
        match self.config.format {
            Format::Jsonl => file.pending.extend_from_slice(record.json()),
            Format::Raw => file
                .pending
                .extend_from_slice(record.record().message.as_bytes()),
        }
        file.pending.push(b'\n');
        file.unsynced += file.pending.len() - before;
        file.tokens.push(token);
        file.last_write = now;
        if file.pending.len() - file.pushed >= CHUNK {
            file.push()?;
            file.poll_sync(&mut self.durable)?;
        }
        if file.size() >= self.config.max_size {
            let key = key.clone();
            self.finalize(&key)?;
        } else if file.unsynced >= MAX_PENDING {
            file.sync_due(now, &mut self.durable)?;
        }
        Ok(())
    }

    /// Runs the time-driven work due at `now`: day boundary, `--roll-every`, idle close, sync
    /// interval, naming the files whose close has ended, and probing the archive while spooling.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<()> {
        self.name(Vec::new(), now, false)?;
        let result = self.tick_files(now);
        self.retry_on_spool(now, result)?;
        if self.spool.as_ref().is_some_and(|s| s.probe_due(now)) {
            self.try_switch_back(now)?;
        }
        Ok(())
    }

    /// Closes the least recently written file when [`MAX_OPEN_FILES`] are open.
    fn make_room(&mut self) -> io::Result<()> {
        if self.open.len() < MAX_OPEN_FILES {
            return Ok(());
        }
        let oldest = self
            .open
            .iter()
            .min_by_key(|(_, file)| file.last_write)
            .map(|(key, _)| key.clone());
        oldest.map_or(Ok(()), |key| self.finalize(&key))
    }

    /// When the file of `key` closes for its day being over: at the day boundary if it was open
    /// then; never for a file of late records (opened after its day ended).
    fn day_over(&self, key: &(Category, NaiveDate), file: &OpenFile<T>) -> Option<DateTime<Utc>> {
        let end = naming::day_end(self.config.tz, key.1);
        (file.opened < end).then_some(end)
    }

    fn tick_files(&mut self, now: DateTime<Utc>) -> io::Result<()> {
        let keys: Vec<_> = self.open.keys().cloned().collect();
        for key in keys {
            let file = &self.open[&key];
            let expired = self.day_over(&key, file).is_some_and(|end| now >= end)
                || self
                    .config
                    .roll_every
                    .is_some_and(|d| now >= file.opened + d)
                || self
                    .config
                    .idle_close
                    .is_some_and(|d| now >= file.last_write + d);
            if expired {
                self.finalize(&key)?;
                continue;
            }
            let file = self.open.get_mut(&key).expect("listed");
            file.poll_sync(&mut self.durable)?;
            if now >= file.last_sync + self.config.sync_interval && file.size() > file.covered() {
                file.sync_due(now, &mut self.durable)?;
            }
        }
        Ok(())
    }

    /// When [`Roller::tick`] has work next; `None` when nothing is open or spooled.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        let files = self.open.iter().flat_map(|(key, f)| {
            [
                self.day_over(key, f),
                self.config.roll_every.map(|d| f.opened + d),
                self.config.idle_close.map(|d| f.last_write + d),
                // A sync in flight is looked at on every tick: the next one waits for it.
                (f.syncing.is_none() && f.size() > f.synced)
                    .then(|| f.last_sync + self.config.sync_interval),
            ]
        });
        let probe = self.spool.as_ref().and_then(Spool::next_probe);
        files.chain([probe]).flatten().min()
    }

    /// Syncs, closes and names every open file (shutdown, end of input).
    pub fn close_all(&mut self, now: DateTime<Utc>) -> Result<()> {
        let result = self.finalize_all();
        self.retry_on_spool(now, result)?;
        let result = self.finalize_all();
        self.retry_on_spool(now, result)
    }

    fn finalize_all(&mut self) -> io::Result<()> {
        let keys: Vec<_> = self.open.keys().cloned().collect();
        keys.iter().try_for_each(|key| self.finalize(key))
    }

    /// Closes the file of `key`, for [`Roller::take_closed`]. If the sync fails, the file stays
    /// open (for failing over); once synced, a failure to close (here or when it is named)
    /// leaves a whole in-progress file that the archive's recovery salvages.
    fn finalize(&mut self, key: &(Category, NaiveDate)) -> io::Result<()> {
        let mut file = self.open.remove(key).expect("finalize an open file");
        if let Err(err) = file.sync(file.last_write, &mut self.durable) {
            self.open.insert(key.clone(), file);
            return Err(err);
        }
        // Synced, so empty: the next file reuses it instead of growing a new one.
        self.spare_buffers.push(std::mem::take(&mut file.pending));
        let (name, place, synced) = (file.name.clone(), file.place, file.synced);
        let closing = match file.finish() {
            Ok(closing) => closing,
            Err(err) => {
                self.abandon_open(&key.0, name, place, synced);
                return Err(err);
            }
        };
        self.closed.push(Closed {
            category: key.0.clone(),
            name,
            place,
            synced,
            closing,
        });
        Ok(())
    }

    /// Leaves a synced archive file that could not be closed to the spool's salvage.
    fn abandon_open(&mut self, category: &Category, name: FileName, place: Place, synced: u64) {
        if place == Place::Archive
            && let Some(spool) = &mut self.spool
        {
            spool.abandon(Abandoned::open(category, name, synced, self.config.gzip));
        }
    }

    /// Opens a new in-progress file for `key` on `place`, under the next serial.
    fn create(
        &mut self,
        key: &(Category, NaiveDate),
        place: Place,
        now: DateTime<Utc>,
    ) -> io::Result<OpenFile<T>> {
        let name = self.allocate(key, place)?;
        let path = naming::relative_path(key.0.as_str(), &name.in_progress());
        let file = match self.target(place).create(&path) {
            Ok(file) => file,
            Err(err) => {
                // The create may still happen (it missed its deadline): salvage deletes the file.
                if place == Place::Archive
                    && let Some(spool) = &mut self.spool
                {
                    spool.abandon(Abandoned::open(&key.0, name, 0, self.config.gzip));
                }
                return Err(err);
            }
        };
        log::debug!("opened {path} ({place:?})");
        Ok(OpenFile {
            name,
            place,
            file,
            gz: self
                .config
                .gzip
                .then(|| GzEncoder::new(Vec::with_capacity(CHUNK), Compression::fast())),
            written: 0,
            synced: 0,
            syncing: None,
            pending: self
                .spare_buffers
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(2 * MAX_UNSYNCED + CHUNK)),
            pushed: 0,
            keep_unsynced: place == Place::Archive && self.spool.is_some(),
            unsynced: 0,
            tokens: Vec::new(),
            opened: now,
            last_write: now,
            last_sync: now,
        })
    }

    /// The next file name for `key`: after every serial of that date on the targets that can be
    /// listed now (the archive is skipped while spooling) and every serial allocated by this run.
    fn allocate(&mut self, key: &(Category, NaiveDate), place: Place) -> io::Result<FileName> {
        let mut places = vec![place];
        if self.spool.is_some() && place == Place::Archive {
            places.push(Place::Spool);
        }
        for place in places {
            self.list_serials(place, &key.0)?;
        }
        Ok(self.serials.allocate(&key.0, key.1, &self.ext))
    }

    /// Learns the serials present for `category` on `place`, once per run.
    fn list_serials(&mut self, place: Place, category: &Category) -> io::Result<()> {
        if self.listed.contains(&(place, category.clone())) {
            return Ok(());
        }
        let names = self.target(place).list(category.as_str())?;
        self.serials
            .note(category, names.iter().map(String::as_str));
        self.listed.insert((place, category.clone()));
        Ok(())
    }

    /// Turns an archive failure into a switch to the spool; any other failure is returned.
    fn retry_on_spool(&mut self, now: DateTime<Utc>, result: io::Result<()>) -> Result<()> {
        match result {
            Ok(()) => Ok(()),
            Err(err) if !self.spooling() && self.spool.is_some() => self.fail_over(now, err),
            Err(err) => {
                let place = self.place_now();
                Err(anyhow::Error::new(err).context(format!(
                    "cannot write to {}{}",
                    self.target(place).describe(),
                    if place == Place::Archive && self.spool.is_none() {
                        " (give --spool DIR to keep going while it is down)"
                    } else {
                        ""
                    }
                )))
            }
        }
    }

    /// Switches to the spool after the archive failed with `err`: each open archive file is
    /// abandoned at its last confirmed sync (its synced part is salvaged when the archive
    /// answers again) and its other records, those of a sync still in flight too, are rewritten
    /// into a spool file. So every record ends up in exactly one final file.
    fn fail_over(&mut self, now: DateTime<Utc>, err: io::Error) -> Result<()> {
        let Some(spool) = &mut self.spool else {
            return Err(anyhow::Error::new(err)
                .context(format!("cannot write to {}", self.archive.describe())));
        };
        spool.activate(now, &self.archive.describe(), &err);
        let spool_failed = format!(
            "cannot write to the spool {} either",
            spool.target().describe()
        );
        let keys: Vec<_> = self
            .open
            .iter()
            .filter(|(_, f)| f.place == Place::Archive)
            .map(|(k, _)| k.clone())
            .collect();
        for key in keys {
            let old = self.open.remove(&key).expect("listed");
            self.spool
                .as_mut()
                .expect("checked")
                .abandon(Abandoned::open(
                    &key.0,
                    old.name.clone(),
                    old.synced,
                    self.config.gzip,
                ));
            let mut file = self
                .create(&key, Place::Spool, now)
                .with_context(|| spool_failed.clone())?;
            file.pending = old.pending;
            file.unsynced = file.pending.len();
            file.tokens = old.tokens;
            file.opened = old.opened;
            file.last_write = old.last_write;
            file.push().with_context(|| spool_failed.clone())?;
            self.open.insert(key, file);
        }
        Ok(())
    }

    /// Probes the archive; when it answers, closes the spool files, salvages the abandoned
    /// archive files and writes to the archive again.
    fn try_switch_back(&mut self, now: DateTime<Utc>) -> Result<()> {
        let spool = self.spool.as_mut().expect("probing needs a spool");
        if let Err(err) = self.archive.probe() {
            spool.still_down(now, &err);
            return Ok(());
        }
        let spooled: Vec<_> = self
            .open
            .iter()
            .filter(|(_, f)| f.place == Place::Spool)
            .map(|(k, _)| k.clone())
            .collect();
        for key in spooled {
            self.finalize(&key).context("cannot close a spool file")?;
        }
        let spool = self.spool.as_mut().expect("checked");
        match recovery::salvage_abandoned(spool, self.archive.as_ref(), &mut self.serials) {
            Ok(count) => {
                self.stats.recovered += count;
                // Serials written meanwhile by ls-recover's import must be seen again.
                self.listed.retain(|(place, _)| *place != Place::Archive);
                spool.deactivate(now, &self.archive.describe());
            }
            Err(err) => spool.still_down(now, &err),
        }
        Ok(())
    }

    /// Salvages the in-progress files a previous run left on `place` (see [`recovery`]).
    fn recover_strays(&mut self, place: Place) -> io::Result<()> {
        if place == Place::Spool && self.spool.is_none() {
            return Ok(());
        }
        let target = match place {
            Place::Archive => self.archive.as_ref(),
            Place::Spool => self.spool.as_ref().expect("checked").target(),
        };
        let report = recovery::recover_strays(target, &mut self.serials, &mut self.recovered_ids)?;
        self.stats.recovered += report;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex, mpsc};

    use chrono::TimeZone;

    use super::*;
    use crate::archive::local::LocalTarget;
    use crate::archive::spool::{Alerts, import};
    use crate::record::{Level, Record};

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn record(i: u64, ts: DateTime<Utc>, category: &str) -> RecordLine {
        RecordLine::from(&Record {
            timestamp: ts,
            log_level: Level::Info,
            message: format!("event {i:04}"),
            source: "host".into(),
            category: Category::new(category).unwrap(),
            id: format!("id-{i}"),
            origin: None,
            extra: Default::default(),
        })
    }

    fn config() -> RollConfig {
        RollConfig {
            max_size: 1 << 20,
            tz: Tz::UTC,
            roll_every: None,
            format: Format::Jsonl,
            gzip: false,
            sync_interval: chrono::Duration::seconds(1),
            by: RouteBy::Arrival,
            idle_close: None,
        }
    }

    fn local(dir: &Path) -> Box<dyn Target> {
        Box::new(LocalTarget::new(dir.to_path_buf()).unwrap())
    }

    /// Runs the time trigger and names the files closed, as ls-roll does once their records
    /// are committed.
    fn tick(roller: &mut Roller<u64>, now: DateTime<Utc>) {
        roller.tick(now).unwrap();
        let closed = roller.take_closed();
        roller.name(closed, now, true).unwrap();
    }

    fn close_all(roller: &mut Roller<u64>, now: DateTime<Utc>) {
        roller.close_all(now).unwrap();
        let closed = roller.take_closed();
        roller.name(closed, now, true).unwrap();
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Every record id in the final files under `root`, gzip or not.
    fn final_ids(root: &Path) -> Vec<String> {
        let mut ids = Vec::new();
        for category in names(root).iter().filter(|n| Category::new(n).is_ok()) {
            for name in names(&root.join(category)) {
                if let Some(naming::Entry::Final(f)) = naming::Entry::parse(&name) {
                    let bytes = std::fs::read(root.join(category).join(&name)).unwrap();
                    let lines = recovery::complete_lines(&bytes, f.ext.ends_with(".gz"));
                    let mut reader = crate::record::RecordReader::new(&lines[..]);
                    while let Some(r) = reader.next_record().unwrap() {
                        ids.push(r.unwrap().id);
                    }
                }
            }
        }
        ids.sort();
        ids
    }

    #[test]
    fn size_trigger_rolls_to_the_next_serial_and_hides_open_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut roller: Roller<u64> = Roller::open(
            RollConfig {
                max_size: 400,
                ..config()
            },
            local(dir.path()),
            None,
            at("2026-11-22T10:00:00Z"),
        )
        .unwrap();
        let now = at("2026-11-22T10:00:00Z");
        for i in 0..3 {
            roller.write(&record(i, now, "error"), i, now).unwrap();
        }
        // Open files are only visible under the in-progress mark.
        assert_eq!(names(&dir.path().join("error")), ["_2026-11-22.0.jsonl"]);
        for i in 3..6 {
            roller.write(&record(i, now, "error"), i, now).unwrap();
        }
        close_all(&mut roller, now);
        let files = names(&dir.path().join("error"));
        assert!(files.len() >= 2, "{files:?}");
        for (serial, name) in files.iter().enumerate() {
            assert_eq!(name, &format!("2026-11-22.{serial}.jsonl"));
        }
        // Each file passed the limit with its last line, not before.
        for name in &files[..files.len() - 1] {
            let len = std::fs::metadata(dir.path().join("error").join(name))
                .unwrap()
                .len();
            assert!(len >= 400, "{name}: {len}");
        }
        let mut durable: Vec<u64> = roller.take_durable().collect();
        durable.sort();
        assert_eq!(durable, (0..6).collect::<Vec<_>>());
        assert_eq!(final_ids(dir.path()).len(), 6);
    }

    #[test]
    fn a_record_sent_again_is_archived_once() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T10:00:00Z");
        let mut roller: Roller<u64> = Roller::open(config(), local(dir.path()), None, now).unwrap();
        let of_line = |i: u64| {
            let mut record = record(i, now, "error").record();
            record.origin = Some(crate::record::Origin {
                file: "/var/log/app.log".into(),
                fid: "f1".into(),
                lsn: i,
                offset: i * 10,
                crc: None,
            });
            RecordLine::from(&record)
        };
        // ls-ship crashed after sending lines 1 to 3 and sends 2 and 3 again.
        for (token, lsn) in [1, 2, 3, 2, 3, 4].into_iter().enumerate() {
            roller.write(&of_line(lsn), token as u64, now).unwrap();
        }
        close_all(&mut roller, now);
        assert_eq!(final_ids(dir.path()), ["id-1", "id-2", "id-3", "id-4"]);
        assert_eq!(roller.stats().duplicates, 2);
        assert_eq!(
            roller.take_durable().len(),
            6,
            "copies are acknowledged too"
        );
    }

    #[test]
    fn a_closed_file_keeps_its_in_progress_name_until_named() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T10:00:00Z");
        let mut roller: Roller<u64> = Roller::open(config(), local(dir.path()), None, now).unwrap();
        roller.write(&record(0, now, "error"), 0, now).unwrap();
        roller.close_all(now).unwrap();
        assert!(roller.take_durable().eq([0]));
        // Synced and closed, but its record's offset is not committed yet.
        assert_eq!(names(&dir.path().join("error")), ["_2026-11-22.0.jsonl"]);
        let closed = roller.take_closed();
        roller.name(closed, now, true).unwrap();
        assert_eq!(names(&dir.path().join("error")), ["2026-11-22.0.jsonl"]);
    }

    #[test]
    fn day_boundary_rolls_on_the_timer_at_midnight() {
        let dir = tempfile::tempdir().unwrap();
        let last = at("2026-11-22T23:59:59.999Z");
        let mut roller: Roller<u64> =
            Roller::open(config(), local(dir.path()), None, last).unwrap();
        roller.write(&record(1, last, "access"), 1, last).unwrap();
        let midnight = at("2026-11-23T00:00:00Z");
        // The timer wakes at midnight, before the sync interval, even if nothing is written.
        assert_eq!(roller.next_deadline(), Some(midnight));
        tick(&mut roller, last);
        assert_eq!(names(&dir.path().join("access")), ["_2026-11-22.0.jsonl"]);
        tick(&mut roller, midnight);
        assert_eq!(names(&dir.path().join("access")), ["2026-11-22.0.jsonl"]);
        roller
            .write(&record(2, midnight, "access"), 2, midnight)
            .unwrap();
        assert_eq!(
            names(&dir.path().join("access")),
            ["2026-11-22.0.jsonl", "_2026-11-23.0.jsonl"]
        );
        assert_eq!(
            roller.next_deadline(),
            Some(midnight + chrono::Duration::seconds(1))
        );
    }

    #[test]
    fn late_records_of_many_dates_make_one_file_per_date() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T10:00:00Z");
        let cfg = RollConfig {
            by: RouteBy::Event,
            idle_close: Some(chrono::Duration::minutes(5)),
            ..config()
        };
        let mut roller: Roller<u64> = Roller::open(cfg, local(dir.path()), None, now).unwrap();
        // Old timestamps of three dates, interleaved, with a tick after every record.
        let days = [
            "2005-12-04T04:47:44Z",
            "2015-10-18T18:01:47Z",
            "2026-11-21T23:00:00Z",
        ];
        for i in 0..30u64 {
            let t = now + chrono::Duration::seconds(i as i64);
            let old = at(days[i as usize % 3]);
            roller.write(&record(i, old, "a"), i, t).unwrap();
            tick(&mut roller, t);
            // Late files have no day boundary ahead: the next deadline is the sync, not now.
            assert!(roller.next_deadline().unwrap() > t);
        }
        assert_eq!(
            names(&dir.path().join("a")),
            [
                "_2005-12-04.0.jsonl",
                "_2015-10-18.0.jsonl",
                "_2026-11-21.0.jsonl"
            ]
        );
        tick(&mut roller, now + chrono::Duration::minutes(6));
        assert_eq!(
            names(&dir.path().join("a")),
            [
                "2005-12-04.0.jsonl",
                "2015-10-18.0.jsonl",
                "2026-11-21.0.jsonl"
            ]
        );
        assert_eq!(final_ids(dir.path()).len(), 30);
    }

    #[test]
    fn past_the_open_file_limit_the_least_recently_written_closes() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T10:00:00Z");
        let cfg = RollConfig {
            by: RouteBy::Event,
            ..config()
        };
        let mut roller: Roller<u64> = Roller::open(cfg, local(dir.path()), None, now).unwrap();
        let first = at("2000-01-01T12:00:00Z");
        for day in 0..=MAX_OPEN_FILES as i64 {
            let t = now + chrono::Duration::seconds(day);
            let old = first + chrono::Duration::days(day);
            roller.write(&record(day as u64, old, "a"), 0, t).unwrap();
        }
        let closed = roller.take_closed();
        roller.name(closed, now, true).unwrap();
        let names = names(&dir.path().join("a"));
        assert_eq!(names.len(), MAX_OPEN_FILES + 1);
        assert_eq!(names[0], "2000-01-01.0.jsonl");
        assert!(names[1..].iter().all(|name| name.starts_with('_')));
    }

    #[test]
    fn day_boundary_follows_the_zone() {
        let dir = tempfile::tempdir().unwrap();
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let last = tz
            .with_ymd_and_hms(2026, 11, 22, 23, 59, 59)
            .unwrap()
            .with_timezone(&Utc)
            + chrono::Duration::milliseconds(999);
        let mut roller: Roller<u64> = Roller::open(
            RollConfig {
                tz,
                sync_interval: chrono::Duration::hours(1),
                ..config()
            },
            local(dir.path()),
            None,
            last,
        )
        .unwrap();
        roller.write(&record(1, last, "access"), 1, last).unwrap();
        assert_eq!(
            roller.next_deadline(),
            Some(last + chrono::Duration::milliseconds(1))
        );
        tick(&mut roller, last + chrono::Duration::milliseconds(1));
        assert_eq!(names(&dir.path().join("access")), ["2026-11-22.0.jsonl"]);
    }

    #[test]
    fn roll_every_and_idle_close_roll_without_writes() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = at("2026-11-22T10:00:00Z");
        let cfg = RollConfig {
            roll_every: Some(chrono::Duration::hours(1)),
            idle_close: Some(chrono::Duration::minutes(5)),
            ..config()
        };
        let mut roller: Roller<u64> = Roller::open(cfg, local(dir.path()), None, t0).unwrap();
        roller.write(&record(1, t0, "a"), 1, t0).unwrap();
        tick(&mut roller, t0 + chrono::Duration::minutes(4));
        assert_eq!(names(&dir.path().join("a")), ["_2026-11-22.0.jsonl"]);
        tick(&mut roller, t0 + chrono::Duration::minutes(5));
        assert_eq!(names(&dir.path().join("a")), ["2026-11-22.0.jsonl"]);
        let t1 = t0 + chrono::Duration::minutes(10);
        for minute in 0..60 {
            let now = t1 + chrono::Duration::minutes(minute);
            roller
                .write(&record(100 + minute as u64, now, "a"), 0, now)
                .unwrap();
            tick(&mut roller, now);
        }
        assert_eq!(
            names(&dir.path().join("a")),
            ["2026-11-22.0.jsonl", "_2026-11-22.1.jsonl"]
        );
        tick(&mut roller, t1 + chrono::Duration::hours(1));
        assert_eq!(
            names(&dir.path().join("a")),
            ["2026-11-22.0.jsonl", "2026-11-22.1.jsonl"]
        );
    }

    #[test]
    fn serials_continue_after_a_restart_from_archive_and_spool() {
        let (archive, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        std::fs::create_dir_all(archive.path().join("error")).unwrap();
        std::fs::create_dir_all(spool.path().join("error")).unwrap();
        std::fs::write(archive.path().join("error/2026-11-22.0.jsonl"), "").unwrap();
        std::fs::write(archive.path().join("error/2026-11-22.1.jsonl.gz"), "").unwrap();
        std::fs::write(spool.path().join("error/2026-11-22.4.jsonl"), "").unwrap();
        std::fs::write(archive.path().join("error/2026-11-23.9.jsonl"), "").unwrap();
        let now = at("2026-11-22T12:00:00Z");
        let spool_target = Spool::new(
            local(spool.path()),
            Alerts::default(),
            chrono::Duration::seconds(10),
        );
        let mut roller: Roller<u64> =
            Roller::open(config(), local(archive.path()), Some(spool_target), now).unwrap();
        roller.write(&record(1, now, "error"), 1, now).unwrap();
        close_all(&mut roller, now);
        assert!(names(&archive.path().join("error")).contains(&"2026-11-22.5.jsonl".to_string()));
    }

    #[test]
    fn gzip_files_are_one_complete_member() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T12:00:00Z");
        let mut roller: Roller<u64> = Roller::open(
            RollConfig {
                gzip: true,
                ..config()
            },
            local(dir.path()),
            None,
            now,
        )
        .unwrap();
        for i in 0..100 {
            roller.write(&record(i, now, "a"), i, now).unwrap();
            if i == 50 {
                tick(&mut roller, now + chrono::Duration::seconds(2));
            }
        }
        close_all(&mut roller, now);
        let bytes = std::fs::read(dir.path().join("a/2026-11-22.0.jsonl.gz")).unwrap();
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut plain)
            .unwrap();
        assert_eq!(plain.lines().count(), 100);
    }

    #[test]
    fn a_crash_leaves_files_that_the_next_run_recovers_without_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let now = at("2026-11-22T12:00:00Z");
        let records: Vec<RecordLine> = (0..50).map(|i| record(i, now, "a")).collect();
        let mut roller: Roller<u64> = Roller::open(config(), local(dir.path()), None, now).unwrap();
        for r in &records[..30] {
            roller.write(r, 0, now).unwrap();
        }
        tick(&mut roller, now + chrono::Duration::seconds(1));
        for r in &records[30..40] {
            roller.write(r, 0, now).unwrap();
        }
        // Crash: nothing is closed; a torn line is left at the end of the file.
        drop(roller);
        let stray = dir.path().join("a/_2026-11-22.0.jsonl");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&stray)
            .unwrap();
        std::io::Write::write_all(&mut file, b"{\"timestamp\":\"2026-11-22T1").unwrap();
        // The input sends everything after the last commit again; commits lag behind syncs, so
        // it resends some records the file already holds: here, from record 20 on.
        let mut roller: Roller<u64> = Roller::open(config(), local(dir.path()), None, now).unwrap();
        assert_eq!(roller.stats().recovered, 1);
        assert!(!stray.exists());
        for r in &records[20..] {
            roller.write(r, 0, now).unwrap();
        }
        close_all(&mut roller, now);
        assert_eq!(roller.stats().duplicates, 10);
        let mut expected: Vec<String> = records.iter().map(|r| r.id().to_string()).collect();
        expected.sort();
        assert_eq!(final_ids(dir.path()), expected);
        assert!(
            names(&dir.path().join("a"))
                .iter()
                .all(|n| !n.starts_with('_'))
        );
    }

    /// A local target that fails every operation while `down` is set, like an unreachable HDFS.
    struct Flaky {
        inner: LocalTarget,
        down: Arc<AtomicBool>,
        gate: Arc<Gate>,
    }

    struct FlakyFile {
        inner: Box<dyn TargetFile>,
        down: Arc<AtomicBool>,
        gate: Arc<Gate>,
    }

    /// A held call and where its result goes.
    type HeldCall = (
        mpsc::Sender<io::Result<()>>,
        Box<dyn FnOnce() -> io::Result<()> + Send>,
    );

    /// Where the syncs and closes of a [`Flaky`] target's files wait while held, as an HDFS
    /// hsync or close runs while the roller goes on, until the test releases them.
    #[derive(Default)]
    struct Gate {
        syncs: AtomicBool,
        closes: AtomicBool,
        held: Mutex<Vec<HeldCall>>,
    }

    impl Gate {
        fn hold(&self, call: impl FnOnce() -> io::Result<()> + Send + 'static) -> Completion {
            let (sender, result) = mpsc::channel();
            self.held.lock().unwrap().push((sender, Box::new(call)));
            Completion::running(result)
        }

        /// Ends the held calls, in order; a call fails if the target is down by then.
        fn release(&self) {
            for (sender, call) in self.held.lock().unwrap().drain(..) {
                sender.send(call()).unwrap();
            }
        }
    }

    fn check(down: &AtomicBool) -> io::Result<()> {
        if down.load(Ordering::Relaxed) {
            Err(io::Error::new(io::ErrorKind::ConnectionRefused, "down"))
        } else {
            Ok(())
        }
    }

    impl TargetFile for FlakyFile {
        fn write(&mut self, data: &[u8]) -> io::Result<()> {
            check(&self.down)?;
            self.inner.write(data)
        }
        fn sync(&mut self) -> io::Result<()> {
            check(&self.down)?;
            self.inner.sync()
        }
        fn start_sync(&mut self) -> Completion {
            if !self.gate.syncs.load(Ordering::Relaxed) {
                return Completion::done(self.sync());
            }
            // The bytes are in the file already; the held sync only says whether it worked.
            let down = self.down.clone();
            self.gate.hold(move || check(&down))
        }
        fn close(self: Box<Self>) -> io::Result<()> {
            check(&self.down)?;
            self.inner.close()
        }
        fn close_in_background(self: Box<Self>) -> Completion {
            if !self.gate.closes.load(Ordering::Relaxed) {
                return Completion::done(self.close());
            }
            let gate = self.gate.clone();
            gate.hold(move || self.close())
        }
    }

    impl Target for Flaky {
        fn describe(&self) -> String {
            "flaky".into()
        }
        fn create(&self, path: &str) -> io::Result<Box<dyn TargetFile>> {
            check(&self.down)?;
            let inner = self.inner.create(path)?;
            Ok(Box::new(FlakyFile {
                inner,
                down: self.down.clone(),
                gate: self.gate.clone(),
            }))
        }
        fn rename(&self, from: &str, to: &str) -> io::Result<()> {
            check(&self.down)?;
            self.inner.rename(from, to)
        }
        fn list(&self, dir: &str) -> io::Result<Vec<String>> {
            check(&self.down)?;
            self.inner.list(dir)
        }
        fn read(&self, path: &str) -> io::Result<Vec<u8>> {
            check(&self.down)?;
            self.inner.read(path)
        }
        fn remove(&self, path: &str) -> io::Result<()> {
            check(&self.down)?;
            self.inner.remove(path)
        }
        fn recover(&self, path: &str) -> io::Result<()> {
            check(&self.down)?;
            self.inner.recover(path)
        }
        fn probe(&self) -> io::Result<()> {
            check(&self.down)
        }
        fn lock(&self) -> Result<Box<dyn Send>> {
            self.inner.lock()
        }
    }

    /// A roller on a local archive that fails while `down` is set and holds syncs and closes
    /// at its gate, with a spool (alerts in `spool/alerts.jsonl`) probed every 10 s.
    fn flaky_roller(
        cfg: RollConfig,
        archive: &Path,
        spool: &Path,
        now: DateTime<Utc>,
    ) -> (Roller<u64>, Arc<AtomicBool>, Arc<Gate>) {
        let down = Arc::new(AtomicBool::new(false));
        let gate = Arc::new(Gate::default());
        let flaky = Flaky {
            inner: LocalTarget::new(archive.into()).unwrap(),
            down: down.clone(),
            gate: gate.clone(),
        };
        let spool_target = Spool::new(
            local(&spool.join("spool")),
            Alerts {
                file: Some(spool.join("alerts.jsonl")),
            },
            chrono::Duration::seconds(10),
        );
        let roller = Roller::open(cfg, Box::new(flaky), Some(spool_target), now).unwrap();
        (roller, down, gate)
    }

    #[test]
    fn an_outage_spools_and_every_record_ends_up_once() {
        for gzip in [false, true] {
            let (archive, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let alerts = spool.path().join("alerts.jsonl");
            let t0 = at("2026-11-22T12:00:00Z");
            let cfg = RollConfig { gzip, ..config() };
            let (mut roller, down, _) = flaky_roller(cfg, archive.path(), spool.path(), t0);
            let mut now = t0;
            for i in 0..300u64 {
                now = t0 + chrono::Duration::milliseconds(100 * i as i64);
                if i == 100 {
                    down.store(true, Ordering::Relaxed);
                }
                if i == 200 {
                    down.store(false, Ordering::Relaxed);
                }
                roller
                    .write(&record(i, now, if i % 3 == 0 { "a" } else { "b" }), i, now)
                    .unwrap();
                tick(&mut roller, now);
                if i == 150 {
                    assert!(roller.spooling());
                }
            }
            assert!(!roller.spooling(), "switched back after a probe");
            close_all(&mut roller, now);
            let mut durable: Vec<u64> = roller.take_durable().collect();
            durable.sort();
            assert_eq!(durable, (0..300).collect::<Vec<_>>());
            let alert_lines = std::fs::read_to_string(&alerts).unwrap();
            assert!(
                alert_lines.contains("\"alert\":\"hdfs_unavailable\",\"severity\":\"critical\""),
                "{alert_lines}"
            );
            assert!(alert_lines.contains("hdfs_recovered"));
            // Abandoned files were salvaged; nothing in progress is left anywhere.
            for root in [archive.path(), &spool.path().join("spool")] {
                for category in ["a", "b"] {
                    assert!(
                        names(&root.join(category))
                            .iter()
                            .all(|n| !n.starts_with('_'))
                    );
                }
            }
            let spool_root = local(&spool.path().join("spool"));
            let report = import(spool_root.as_ref(), local(archive.path()).as_ref()).unwrap();
            assert!(report.files > 0);
            let mut expected: Vec<String> = (0..300).map(|i| format!("id-{i}")).collect();
            expected.sort();
            assert_eq!(final_ids(archive.path()), expected, "gzip: {gzip}");
        }
    }

    #[test]
    fn a_close_that_fails_before_its_file_is_named_leaves_the_file_to_salvage() {
        let (archive, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let t0 = at("2026-11-22T12:00:00Z");
        let (mut roller, down, gate) = flaky_roller(config(), archive.path(), spool.path(), t0);
        for i in 0..50u64 {
            roller.write(&record(i, t0, "a"), i, t0).unwrap();
        }
        // Synced and closing; the target goes down before the close ends.
        gate.closes.store(true, Ordering::Relaxed);
        roller.close_all(t0).unwrap();
        assert_eq!(roller.take_durable().count(), 50);
        down.store(true, Ordering::Relaxed);
        gate.release();
        let closed = roller.take_closed();
        roller.name(closed, t0, true).unwrap();
        assert!(roller.spooling());
        assert_eq!(names(&archive.path().join("a")), ["_2026-11-22.0.jsonl"]);
        down.store(false, Ordering::Relaxed);
        let later = t0 + chrono::Duration::seconds(11);
        tick(&mut roller, later);
        assert!(!roller.spooling(), "switched back after a probe");
        close_all(&mut roller, later);
        assert!(
            names(&archive.path().join("a"))
                .iter()
                .all(|n| !n.starts_with('_'))
        );
        let mut expected: Vec<String> = (0..50).map(|i| format!("id-{i}")).collect();
        expected.sort();
        assert_eq!(final_ids(archive.path()), expected);
    }

    /// The tokens taken from the roller, sorted.
    fn durable(roller: &mut Roller<u64>) -> Vec<u64> {
        let mut tokens: Vec<u64> = roller.take_durable().collect();
        tokens.sort();
        tokens
    }

    #[test]
    fn tokens_are_durable_only_once_their_sync_is_confirmed() {
        let (archive, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let t0 = at("2026-11-22T12:00:00Z");
        let (mut roller, _, gate) = flaky_roller(config(), archive.path(), spool.path(), t0);
        gate.syncs.store(true, Ordering::Relaxed);
        let second = |s: f64| t0 + chrono::Duration::milliseconds((s * 1000.0) as i64);
        for i in 0..10 {
            roller.write(&record(i, t0, "a"), i, t0).unwrap();
        }
        tick(&mut roller, second(1.0));
        assert!(durable(&mut roller).is_empty(), "the sync has not ended");
        // Written while the sync runs: not covered by it.
        for i in 10..20 {
            roller.write(&record(i, t0, "a"), i, second(1.0)).unwrap();
        }
        tick(&mut roller, second(1.5));
        assert!(durable(&mut roller).is_empty());
        gate.release();
        tick(&mut roller, second(1.6));
        assert_eq!(durable(&mut roller), (0..10).collect::<Vec<_>>());
        // The next sync covers the rest.
        tick(&mut roller, second(2.0));
        assert!(durable(&mut roller).is_empty());
        gate.release();
        tick(&mut roller, second(2.1));
        assert_eq!(durable(&mut roller), (10..20).collect::<Vec<_>>());
        gate.syncs.store(false, Ordering::Relaxed);
        close_all(&mut roller, second(2.1));
        let mut expected: Vec<String> = (0..20).map(|i| format!("id-{i}")).collect();
        expected.sort();
        assert_eq!(final_ids(archive.path()), expected);
    }

    #[test]
    fn a_sync_that_fails_after_more_writes_leaves_only_the_confirmed_bytes_to_salvage() {
        // Records of about 160 bytes: more than a chunk in all.
        const RECORDS: u64 = 10_000;
        for gzip in [false, true] {
            let (archive, spool) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
            let t0 = at("2026-11-22T12:00:00Z");
            // One file: a roll would wait for the held sync.
            let cfg = RollConfig {
                gzip,
                max_size: 64 << 20,
                ..config()
            };
            let (mut roller, down, gate) = flaky_roller(cfg, archive.path(), spool.path(), t0);
            gate.syncs.store(true, Ordering::Relaxed);
            let second = |s: f64| t0 + chrono::Duration::milliseconds((s * 1000.0) as i64);
            for i in 0..10 {
                roller.write(&record(i, t0, "a"), i, t0).unwrap();
            }
            tick(&mut roller, second(1.0));
            gate.release();
            tick(&mut roller, second(1.5));
            assert_eq!(durable(&mut roller), (0..10).collect::<Vec<_>>());
            for i in 10..20 {
                roller.write(&record(i, t0, "a"), i, second(1.5)).unwrap();
            }
            // This sync covers records 10 to 19; the next ones are written while it runs (more
            // than a chunk, so that they reach the file), and it fails: the file holds them
            // all, of which only the first 10 are synced.
            tick(&mut roller, second(2.5));
            for i in 20..RECORDS {
                roller.write(&record(i, t0, "a"), i, second(2.5)).unwrap();
            }
            down.store(true, Ordering::Relaxed);
            gate.release();
            down.store(false, Ordering::Relaxed);
            gate.syncs.store(false, Ordering::Relaxed);
            tick(&mut roller, second(2.6));
            assert!(roller.spooling());
            assert!(
                durable(&mut roller).is_empty(),
                "nothing past the failed sync is durable"
            );
            let stray = archive.path().join(format!(
                "a/_2026-11-22.0.jsonl{}",
                if gzip { ".gz" } else { "" }
            ));
            let held = recovery::complete_lines(&std::fs::read(&stray).unwrap(), gzip);
            assert!(held.iter().filter(|&&b| b == b'\n').count() > 20);
            // The probe finds the archive back: the spool file closes, the abandoned file is
            // salvaged.
            tick(&mut roller, second(13.0));
            assert!(!roller.spooling(), "switched back after a probe");
            close_all(&mut roller, second(13.0));
            assert_eq!(durable(&mut roller), (10..RECORDS).collect::<Vec<_>>());
            let spool_root = local(&spool.path().join("spool"));
            import(spool_root.as_ref(), local(archive.path()).as_ref()).unwrap();
            let mut expected: Vec<String> = (0..RECORDS).map(|i| format!("id-{i}")).collect();
            expected.sort();
            assert_eq!(final_ids(archive.path()), expected, "gzip: {gzip}");
        }
    }
}
