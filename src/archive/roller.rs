//! The roller: one open archive file per category and date, with the size and time triggers,
//! the output encoding, the sync policy, and the switch to the spool when the archive fails.
//!
//! Time comes in as an argument (`now`) to every call, so tests drive the clock and the binary
//! passes the wall clock. The caller calls [`Roller::tick`] by [`Roller::next_deadline`] even
//! when no record arrives: that is the time trigger.
//!
//! Records are routed by `date(timestamp)` in the configured zone (`--by event`, the default) or
//! by the date they arrive (`--by arrival`). At the day boundary every file of an earlier date is
//! closed; a late record for a closed date opens that date's next serial.
//!
//! Durability: each caller token (an LSN ticket, a Kafka offset) comes back from
//! [`Roller::take_durable`] only once its record is synced (fsync/hsync) — at the sync interval,
//! when 32 MiB are pending, and on every roll.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, Write};

use anyhow::{Context, Result};
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use flate2::Compression;
use flate2::write::GzEncoder;

use super::naming::{self, FileName, Serials};
use super::recovery;
use super::spool::Spool;
use super::target::{Target, TargetFile};
use crate::record::{Category, Record, write_record};

/// Bytes handed to the target per write call.
const CHUNK: usize = 1 << 20;
/// Unsynced bytes per file that force a sync, which bounds the memory kept for rewriting them.
const MAX_PENDING: usize = 32 << 20;

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
    /// Of those, bytes synced.
    synced: u64,
    /// Encoded lines since the last sync, kept to rewrite them elsewhere if the target fails.
    pending: Vec<u8>,
    /// Of `pending`, bytes already written to the target.
    pushed: usize,
    tokens: Vec<T>,
    opened: DateTime<Utc>,
    last_write: DateTime<Utc>,
    last_sync: DateTime<Utc>,
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
        }
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

    /// Makes everything written durable; returns the tokens that became durable.
    fn sync(&mut self, now: DateTime<Utc>) -> io::Result<Vec<T>> {
        self.push()?;
        if let Some(gz) = &mut self.gz {
            // A sync flush ends the deflate stream on a byte boundary: the synced prefix of the
            // file decodes completely (see recovery).
            gz.flush()?;
            self.write_compressed()?;
        }
        self.file.sync()?;
        self.synced = self.written;
        self.pending.clear();
        self.pushed = 0;
        self.last_sync = now;
        Ok(std::mem::take(&mut self.tokens))
    }

    /// Completes, syncs and closes a synced file; the caller renames it.
    fn finish(mut self) -> io::Result<()> {
        self.push()?;
        if let Some(gz) = self.gz.take() {
            let out = gz.finish()?;
            self.file.write(&out)?;
        }
        self.file.sync()?;
        self.file.close()
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
    durable: Vec<T>,
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
            durable: Vec::new(),
            stats: RollStats::default(),
            _locks: locks,
        };
        roller.recover_strays(Place::Spool)?;
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
    pub fn take_durable(&mut self) -> Vec<T> {
        std::mem::take(&mut self.durable)
    }

    fn target(&self, place: Place) -> &dyn Target {
        match place {
            Place::Archive => self.archive.as_ref(),
            Place::Spool => self.spool.as_ref().expect("spool files need a spool").target(),
        }
    }

    fn place_now(&self) -> Place {
        if self.spooling() { Place::Spool } else { Place::Archive }
    }

    /// Appends a record; `token` comes back from [`Roller::take_durable`] once it is synced.
    pub fn write(&mut self, record: &Record, token: T, now: DateTime<Utc>) -> Result<()> {
        if !self.recovered_ids.is_empty() && self.recovered_ids.contains(&record.id) {
            self.stats.duplicates += 1;
            self.durable.push(token);
            return Ok(());
        }
        let when = match self.config.by {
            RouteBy::Event => record.timestamp,
            RouteBy::Arrival => now,
        };
        let key = (record.category.clone(), naming::date_in(self.config.tz, when));
        let result = self.append(&key, record, token, now);
        self.retry_on_spool(now, result)?;
        self.stats.records += 1;
        Ok(())
    }

    fn append(
        &mut self,
        key: &(Category, NaiveDate),
        record: &Record,
        token: T,
        now: DateTime<Utc>,
    ) -> io::Result<()> {
        if !self.open.contains_key(key) {
            let file = self.create(key, self.place_now(), now)?;
            self.open.insert(key.clone(), file);
        }
        let file = self.open.get_mut(key).expect("just opened");
        match self.config.format {
            Format::Jsonl => write_record(record, &mut file.pending),
            Format::Raw => {
                file.pending.extend_from_slice(record.message.as_bytes());
                file.pending.push(b'\n');
            }
        }
        file.tokens.push(token);
        file.last_write = now;
        if file.pending.len() - file.pushed >= CHUNK {
            file.push()?;
        }
        if file.size() >= self.config.max_size {
            self.finalize(key)?;
        } else if file.pending.len() >= MAX_PENDING {
            let tokens = file.sync(now)?;
            self.durable.extend(tokens);
        }
        Ok(())
    }

    /// Runs the time-driven work due at `now`: day boundary, `--roll-every`, idle close, sync
    /// interval, and probing the archive while spooling.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Result<()> {
        let result = self.tick_files(now);
        self.retry_on_spool(now, result)?;
        if self.spool.as_ref().is_some_and(|s| s.probe_due(now)) {
            self.try_switch_back(now)?;
        }
        Ok(())
    }

    fn tick_files(&mut self, now: DateTime<Utc>) -> io::Result<()> {
        let today = naming::date_in(self.config.tz, now);
        let keys: Vec<_> = self.open.keys().cloned().collect();
        for key in keys {
            let file = &self.open[&key];
            let expired = key.1 < today
                || self.config.roll_every.is_some_and(|d| now >= file.opened + d)
                || self.config.idle_close.is_some_and(|d| now >= file.last_write + d);
            if expired {
                self.finalize(&key)?;
            } else if now >= file.last_sync + self.config.sync_interval && file.size() > file.synced {
                let tokens = self.open.get_mut(&key).expect("listed").sync(now)?;
                self.durable.extend(tokens);
            }
        }
        Ok(())
    }

    /// When [`Roller::tick`] has work next; `None` when nothing is open or spooled.
    pub fn next_deadline(&self) -> Option<DateTime<Utc>> {
        let files = self.open.iter().flat_map(|((_, date), f)| {
            [
                Some(naming::day_end(self.config.tz, *date)),
                self.config.roll_every.map(|d| f.opened + d),
                self.config.idle_close.map(|d| f.last_write + d),
                (f.size() > f.synced).then(|| f.last_sync + self.config.sync_interval),
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

    /// Closes the file of `key` and gives it its final name. If the sync fails, the file stays
    /// open (for failing over); once synced, a failure to close or rename leaves a whole
    /// in-progress file that the archive's recovery salvages.
    fn finalize(&mut self, key: &(Category, NaiveDate)) -> io::Result<()> {
        let mut file = self.open.remove(key).expect("finalize an open file");
        match file.sync(file.last_write) {
            Ok(tokens) => self.durable.extend(tokens),
            Err(err) => {
                self.open.insert(key.clone(), file);
                return Err(err);
            }
        }
        let (name, place, synced) = (file.name.clone(), file.place, file.synced);
        let category = key.0.as_str();
        let from = naming::relative_path(category, &name.in_progress());
        let to = naming::relative_path(category, &name.to_string());
        let result = file
            .finish()
            .and_then(|()| self.target(place).rename(&from, &to));
        if let Err(err) = result {
            if place == Place::Archive
                && let Some(spool) = &mut self.spool
            {
                spool.abandon(&key.0, name, synced, self.config.gzip);
            }
            return Err(err);
        }
        self.stats.files += 1;
        log::debug!("closed {category}/{name} ({place:?})");
        Ok(())
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
        let file = self.target(place).create(&path)?;
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
            pending: Vec::with_capacity(CHUNK * 2),
            pushed: 0,
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
        self.serials.note(category, names.iter().map(String::as_str));
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
    /// abandoned at its last sync (its synced part is salvaged when the archive answers again)
    /// and its unsynced records are rewritten into a spool file. So every record ends up in
    /// exactly one final file.
    fn fail_over(&mut self, now: DateTime<Utc>, err: io::Error) -> Result<()> {
        let Some(spool) = &mut self.spool else {
            return Err(anyhow::Error::new(err)
                .context(format!("cannot write to {}", self.archive.describe())));
        };
        spool.activate(now, &self.archive.describe(), &err);
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
                .abandon(&key.0, old.name.clone(), old.synced, self.config.gzip);
            let mut file = self
                .create(&key, Place::Spool, now)
                .context("cannot write to the spool either")?;
            file.pending = old.pending;
            file.tokens = old.tokens;
            file.opened = old.opened;
            file.last_write = old.last_write;
            file.push().context("cannot write to the spool either")?;
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
            self.finalize(&key)
                .context("cannot close a spool file")?;
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
