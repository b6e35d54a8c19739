//! Following files through rotation (ls-tail): the scan/tail loop that ties together the roots
//! and change events ([`watcher`]), file identities ([`fingerprint`], [`checkpoint`]), line
//! reading ([`reader`]), joining continuation lines ([`multiline`]) and categories
//! ([`category`]), and writes one JSON record per line.
//!
//! Files are tracked by inode while they are open or listed, and by content identity (fid) across
//! renames, copies and restarts. Rotation:
//! - rename + create: the old inode is followed under its new name if a root still lists it,
//!   else through its open handle until it is idle, then read to its end; the new file is a new
//!   identity read from the start;
//! - copytruncate: the truncation is seen (size below the offset, or the line at the offset
//!   changed); the copy (`app.log.1`) verifies as the same identity and only its unread rest is
//!   read; the truncated file is new content;
//! - delete while open: the handle is drained before it is closed;
//! - symlink swap: the path now leads to another inode; the old one is drained like a rename.
//!
//! Open handles are bounded by `max_open_files`: the least recently active are closed (files
//! with unread data and files only reachable through their handle last) and reopened by path,
//! checking the inode. A file rotated away while its handle was closed can only be found again
//! if a root lists it under its new name. Handles idle for `idle_timeout` are closed.
//!
//! Lines are parsed and encoded on worker threads ([`output`]) while this loop reads on.
//! Positions are committed (commit mode `self`) once the records of their lines were written and
//! flushed to the output, checked every [`COMMIT_BYTES`] read and whenever the loop goes idle: a
//! crash re-sends at most what was in flight, under the same ids.

pub mod category;
pub mod checkpoint;
pub mod fingerprint;
pub mod glob;
pub mod multiline;
pub mod output;
pub mod reader;
pub mod watcher;

use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use self::category::{CategoryRules, FileCategories};
use self::checkpoint::{Checkpoints, CommitMode, Resolution};
use self::multiline::{Event, Joiner, MultilineConfig};
use self::output::Output;
use self::reader::{Line, LineReader, ReadOutcome};
use self::watcher::{Changes, Roots, Watcher};
use crate::cli::Shutdown;
use crate::parse::ParserConfig;

/// Everything ls-tail is told.
#[derive(Debug, Clone)]
pub struct TailConfig {
    pub paths: Vec<PathBuf>,
    /// Name patterns directory entries must match (any of them); empty: all.
    pub include: Vec<glob::Glob>,
    /// Name patterns of directory entries to leave out.
    pub exclude: Vec<glob::Glob>,
    pub parser: ParserConfig,
    pub source: String,
    pub categories: CategoryRules,
    pub lsn_dir: Option<PathBuf>,
    pub commit: CommitMode,
    /// Files found at start with no position start at their end instead of their start.
    pub from_end: bool,
    pub multiline: Option<MultilineConfig>,
    pub max_open_files: usize,
    /// How often to list the roots and stat the files when polling.
    pub poll_interval: Duration,
    /// How often to list the roots again even with change events (events can be lost).
    pub rescan_interval: Duration,
    /// Close handles of files with no new data for this long (and finish rotated-away files).
    pub idle_timeout: Duration,
    pub poll: bool,
    pub once: bool,
    /// The longest message kept from one line.
    pub max_line: usize,
}

/// What a run did, for the summary on stderr.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub files: u64,
    pub lines: u64,
    pub records: u64,
    pub bytes: u64,
    pub copies_skipped: u64,
    pub truncations: u64,
    pub replaced_while_stopped: u64,
    /// Files that have bytes after their last complete line, left for the next run.
    pub unfinished_lines: u64,
    /// Lines longer than `max_line` whose message was cut there, and multi-line events cut the
    /// same way.
    pub lines_cut: u64,
    pub elapsed: Duration,
}

impl Summary {
    /// Counts what one read of the file `name` did.
    fn add(&mut self, name: &str, outcome: &ReadOutcome, max_line: usize) {
        self.bytes += outcome.bytes;
        self.lines += outcome.lines;
        if outcome.cut > 0 {
            self.lines_cut += outcome.cut;
            log::warn!(
                "{name}: {} line(s) longer than {max_line} bytes (--max-line-bytes): their messages are cut there",
                outcome.cut
            );
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.elapsed.as_secs_f64();
        write!(
            f,
            "{} records from {} lines ({:.1} MiB) of {} files in {:.2} s ({:.0} MiB/s); \
             {} copies of read content skipped, {} truncations, {} files replaced while stopped, \
             {} unfinished last lines left for the next run, {} long lines cut",
            self.records,
            self.lines,
            self.bytes as f64 / (1 << 20) as f64,
            self.files,
            secs,
            self.bytes as f64 / (1 << 20) as f64 / secs.max(1e-9),
            self.copies_skipped,
            self.truncations,
            self.replaced_while_stopped,
            self.unfinished_lines,
            self.lines_cut,
        )
    }
}

/// Tails the configured roots into `out` until `shutdown` (or, with `once`, the end of the data).
pub fn run<W: Write>(config: TailConfig, out: W, shutdown: &Shutdown) -> Result<Summary> {
    let mut tailer = Tailer::new(config, out)?;
    tailer.run(shutdown)?;
    tailer.finish()
}

/// Bytes read from one file before the others get their turn.
const TURN_BUDGET: u64 = 256 << 10;
/// Bytes read after which the lines read are handed to the output and the positions of those
/// written are committed, also within a round: this bounds what a crash makes the next run send
/// again.
const COMMIT_BYTES: u64 = 256 << 10;
/// The read buffer, shared by all files.
const READ_SIZE: usize = 256 << 10;
/// [`Tailer::evict`] closes this share of the open-files bound at once.
const EVICT_SHARE: usize = 16;
/// The longest wait for events, so that a stop request and timeouts are seen promptly.
const MAX_WAIT: Duration = Duration::from_millis(250);

#[derive(Debug)]
enum State {
    /// No complete first line yet.
    Unidentified,
    Follow(Follow),
    /// Holds content of an identity followed on another file.
    Copy,
}

#[derive(Debug)]
struct Follow {
    fid: String,
    reader: LineReader,
    joiner: Joiner,
    /// Check the line at the offset before reading on: the file was caught up or reopened.
    verify: bool,
}

#[derive(Debug)]
struct Tracked {
    path: PathBuf,
    /// `path` as records carry it.
    name: String,
    inode: (u64, u64),
    handle: Option<File>,
    state: State,
    categories: Arc<FileCategories>,
    last_active: Instant,
    /// The scan that last listed the file.
    seen: u64,
    /// The size the last scan saw.
    size: u64,
    /// Has (or may have) data not read yet.
    dirty: bool,
    /// Listed by the last scan; otherwise only its handle reaches it.
    reachable: bool,
}

struct Tailer<W: Write> {
    config: TailConfig,
    roots: Roots,
    watcher: Watcher,
    checkpoints: Checkpoints,
    output: Output<W>,
    files: Vec<Option<Tracked>>,
    free: Vec<usize>,
    by_inode: HashMap<(u64, u64), usize>,
    by_path: HashMap<PathBuf, usize>,
    /// Symlinked roots' targets, so that change events on a target find the file.
    by_target: HashMap<PathBuf, usize>,
    by_fid: HashMap<String, usize>,
    /// Files with an open handle.
    open: Vec<usize>,
    buf: Vec<u8>,
    scans: u64,
    last_scan: Instant,
    rescan: bool,
    last_housekeeping: Instant,
    summary: Summary,
    /// `summary.bytes` at the last commit.
    committed_bytes: u64,
    started: Instant,
}

impl<W: Write> Tailer<W> {
    fn new(config: TailConfig, out: W) -> Result<Tailer<W>> {
        let roots = Roots::new(
            &config.paths,
            config.include.clone(),
            config.exclude.clone(),
        )?;
        let checkpoints = Checkpoints::open(config.lsn_dir.as_deref(), config.commit)?;
        let output = Output::new(out, &config.parser, config.source.clone())?;
        let watcher = Watcher::new(&roots, config.poll || config.once);
        Ok(Tailer {
            roots,
            watcher,
            checkpoints,
            output,
            files: Vec::new(),
            free: Vec::new(),
            by_inode: HashMap::new(),
            by_path: HashMap::new(),
            by_target: HashMap::new(),
            by_fid: HashMap::new(),
            open: Vec::new(),
            buf: vec![0; READ_SIZE],
            scans: 0,
            last_scan: Instant::now(),
            rescan: false,
            last_housekeeping: Instant::now(),
            summary: Summary::default(),
            committed_bytes: 0,
            started: Instant::now(),
            config,
        })
    }

    fn run(&mut self, shutdown: &Shutdown) -> Result<()> {
        self.scan();
        let mut changes = Changes::default();
        loop {
            let now = Instant::now();
            let scan_every = if self.watcher.is_polling() {
                self.config.poll_interval
            } else {
                self.config.rescan_interval
            };
            if self.rescan || now.duration_since(self.last_scan) >= scan_every {
                self.scan();
            }
            let mut busy = false;
            for i in 0..self.files.len() {
                if self.files[i].as_ref().is_some_and(|t| t.dirty) {
                    busy |= self.read(i)?;
                    if self.summary.bytes - self.committed_bytes >= COMMIT_BYTES {
                        self.commit()?;
                    }
                }
                if shutdown.requested() {
                    break;
                }
            }
            if now.duration_since(self.last_housekeeping) >= MAX_WAIT {
                self.housekeeping(now)?;
            }
            if shutdown.requested() || (self.config.once && !busy) {
                return Ok(());
            }
            if busy {
                self.commit()?;
                continue;
            }
            // All caught up: everything read goes out before waiting.
            self.commit_all()?;
            let wait = MAX_WAIT.min(scan_every.saturating_sub(self.last_scan.elapsed()));
            self.watcher.wait(wait, &self.roots, &mut changes);
            self.apply(&mut changes);
        }
    }

    /// Hands the lines read to the output, then commits the positions of the records it wrote.
    fn commit(&mut self) -> Result<()> {
        self.committed_bytes = self.summary.bytes;
        let batches = self.output.seal();
        self.checkpoints.seal(batches);
        self.output.check()?;
        self.checkpoints.commit(self.output.written())
    }

    /// Writes out every line read, then commits all positions.
    fn commit_all(&mut self) -> Result<()> {
        self.commit()?;
        let written = self.output.drain();
        self.output.check()?;
        self.checkpoints.commit(written)
    }

    fn apply(&mut self, changes: &mut Changes) {
        self.rescan |= std::mem::take(&mut changes.rescan);
        for path in changes.modified.drain() {
            match self
                .by_path
                .get(&path)
                .or_else(|| self.by_target.get(&path))
            {
                Some(&i) => {
                    if let Some(t) = self.files[i].as_mut() {
                        t.dirty = true;
                    }
                }
                None if self.roots.contains(&path) => self.rescan = true,
                None => {}
            }
        }
    }

    /// Lists the roots: new files are tracked, renamed ones follow their inode, grown ones are
    /// marked for reading, and files no longer listed are only reachable through their handle.
    fn scan(&mut self) {
        self.scans += 1;
        self.rescan = false;
        self.last_scan = Instant::now();
        let mut paths = Vec::new();
        self.roots.list(&mut paths);
        for path in paths {
            self.visit(path);
        }
        for i in 0..self.files.len() {
            let scans = self.scans;
            let Some(t) = self.files[i].as_mut() else {
                continue;
            };
            if t.seen != scans && t.reachable {
                t.reachable = false;
                // Read what it has now; it is finished once idle.
                t.dirty = true;
                if self.by_path.get(&t.path) == Some(&i) {
                    self.by_path.remove(&t.path);
                }
                log::debug!("{}: no longer listed (rotated or deleted)", t.name);
            }
            if matches!(t.state, State::Copy | State::Unidentified) {
                // Decide again: the original of a copy may have moved on or gone, and a copy in
                // progress is decided once it is complete or has stopped growing.
                t.state = State::Unidentified;
                t.dirty = true;
            }
        }
    }

    fn visit(&mut self, path: PathBuf) {
        let Ok(meta) = std::fs::metadata(&path) else {
            return;
        };
        if !meta.is_file() {
            return;
        }
        let inode = (meta.dev(), meta.ino());
        let scans = self.scans;
        if let Some(&i) = self.by_inode.get(&inode) {
            let t = self.files[i].as_mut().expect("indexed files exist");
            if t.seen == scans && t.path != path {
                // A second name (hard link, symlink) of a file already listed.
                return;
            }
            t.seen = scans;
            t.reachable = true;
            if t.path != path {
                log::info!("{} is now {}", t.name, path.display());
                if self.by_path.get(&t.path) == Some(&i) {
                    self.by_path.remove(&t.path);
                }
                t.name = path.to_string_lossy().into_owned();
                t.categories = Arc::new(self.config.categories.for_file(&path));
                t.path = path.clone();
            }
            self.by_path.insert(path, i);
            if meta.len() != t.size {
                t.size = meta.len();
                t.dirty = true;
            }
            return;
        }
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_symlink());
        let tracked = Tracked {
            name: path.to_string_lossy().into_owned(),
            categories: Arc::new(self.config.categories.for_file(&path)),
            path: path.clone(),
            inode,
            handle: None,
            state: State::Unidentified,
            last_active: Instant::now(),
            seen: scans,
            size: meta.len(),
            dirty: true,
            reachable: true,
        };
        let i = match self.free.pop() {
            Some(i) => {
                self.files[i] = Some(tracked);
                i
            }
            None => {
                self.files.push(Some(tracked));
                self.files.len() - 1
            }
        };
        if is_link && let Ok(target) = std::fs::canonicalize(&path) {
            self.by_target.insert(target, i);
        }
        self.by_inode.insert(inode, i);
        self.by_path.insert(path, i);
        self.summary.files += 1;
    }

    /// Opens the file's handle if needed, within the open-files bound. False if the path no
    /// longer leads to this file.
    fn ensure_open(&mut self, i: usize) -> bool {
        let t = self.files[i].as_ref().expect("file exists");
        if t.handle.is_some() {
            return true;
        }
        if !t.reachable {
            return false;
        }
        if self.open.len() >= self.config.max_open_files {
            self.evict(i);
        }
        let t = self.files[i].as_mut().expect("file exists");
        let file = match File::open(&t.path) {
            Ok(file) => file,
            Err(e) => {
                log::debug!("cannot open {}: {e}", t.name);
                self.rescan = true;
                return false;
            }
        };
        match file.metadata() {
            Ok(meta) if (meta.dev(), meta.ino()) == t.inode => {}
            _ => {
                // Another file took the path; a scan finds where this one went, if anywhere.
                self.rescan = true;
                return false;
            }
        }
        t.handle = Some(file);
        if let State::Follow(follow) = &mut t.state {
            follow.verify = true;
        }
        self.open.push(i);
        true
    }

    /// Makes room for a handle: closes the least recently active handles other than `keep`'s,
    /// preferring caught-up files, never one only reachable through its handle. A sixteenth of
    /// the bound goes at once, so that opening thousands of files in turn does not look through
    /// all open handles for each.
    fn evict(&mut self, keep: usize) {
        let max_open = self.config.max_open_files;
        let count = (self.open.len() + 1)
            .saturating_sub(max_open)
            .max(max_open / EVICT_SHARE)
            .max(1);
        let mut candidates: Vec<(bool, Instant, usize)> = self
            .open
            .iter()
            .filter(|&&j| j != keep)
            .filter_map(|&j| {
                let t = self.files[j].as_ref()?;
                t.reachable.then_some((t.dirty, t.last_active, j))
            })
            .collect();
        if candidates.len() > count {
            candidates.select_nth_unstable(count - 1);
            candidates.truncate(count);
        }
        for (_, _, j) in candidates {
            if let Some(t) = self.files[j].as_mut() {
                t.handle = None;
            }
        }
        let files = &self.files;
        self.open
            .retain(|&j| files[j].as_ref().is_some_and(|t| t.handle.is_some()));
    }

    fn close(&mut self, i: usize) {
        if let Some(t) = self.files[i].as_mut()
            && t.handle.take().is_some()
        {
            self.open.retain(|&j| j != i);
        }
    }

    /// Reads what the file has; returns true if data is left for another round.
    fn read(&mut self, i: usize) -> Result<bool> {
        if !self.ensure_open(i) {
            let t = self.files[i].as_mut().expect("file exists");
            t.dirty = false;
            if !t.reachable {
                self.forget(i);
            }
            return Ok(false);
        }
        if matches!(
            self.files[i].as_ref().expect("file exists").state,
            State::Unidentified
        ) && !self.identify(i)?
        {
            self.files[i].as_mut().expect("file exists").dirty = false;
            return Ok(false);
        }
        let Tailer {
            files,
            output,
            buf,
            config,
            checkpoints,
            summary,
            ..
        } = self;
        let t = files[i].as_mut().expect("file exists");
        let State::Follow(follow) = &mut t.state else {
            t.dirty = false;
            return Ok(false);
        };
        let handle = t.handle.as_ref().expect("opened above");
        if follow.verify {
            follow.verify = false;
            let reader = &follow.reader;
            let intact = handle.metadata()?.len() >= reader.offset()
                && (reader.in_long_line()
                    || fingerprint::verify(handle, reader.offset(), reader.last_crc())?);
            if !intact {
                self.truncated(i);
                return Ok(true);
            }
        }
        output.begin(&t.name, &follow.fid, &t.categories);
        let mut on_line = |line: Line| match &config.multiline {
            Some(multiline) => follow
                .joiner
                .push(multiline, &line, &mut |e: &Event| output.emit_event(e)),
            None => output.emit(line.bytes, line.lsn, line.end, line.crc),
        };
        let outcome = follow
            .reader
            .read(handle, buf, TURN_BUDGET, &mut on_line)
            .with_context(|| format!("cannot read {}", t.name))?;
        summary.add(&t.name, &outcome, config.max_line);
        if let Some((lsn, end, crc)) = output.last() {
            checkpoints.emitted(&follow.fid, &t.name, lsn, end, crc);
        }
        if outcome.bytes > 0 {
            t.last_active = Instant::now();
        }
        if outcome.at_eof {
            t.dirty = false;
            // The next read starts after a pause: check the file was not truncated meanwhile.
            follow.verify = true;
        }
        Ok(!outcome.at_eof)
    }

    /// Gives an unidentified file its identity; false while it has no complete first line or is
    /// a copy.
    fn identify(&mut self, i: usize) -> Result<bool> {
        let initial = self.scans == 1;
        let t = self.files[i].as_mut().expect("file exists");
        let handle = t.handle.as_ref().expect("opened by the caller");
        let Some(head) = fingerprint::head(handle)? else {
            return Ok(false);
        };
        let (by_fid, files) = (&self.by_fid, &self.files);
        // Another file reading the identity, even one rotated away and draining, keeps it.
        let followed = |fid: &str| {
            let other = files[*by_fid.get(fid).filter(|&&j| j != i)?].as_ref()?;
            let len = other.handle.as_ref().and_then(|h| h.metadata().ok());
            Some(len.map_or(other.size, |meta| meta.len()))
        };
        let t = self.files[i].as_ref().expect("file exists");
        let handle = t.handle.as_ref().expect("opened by the caller");
        let patient = !self.config.once;
        let resolution = self
            .checkpoints
            .resolve(handle, &t.name, head, followed, patient)?;
        let max_line = self.config.max_line;
        let stored_here = !self.checkpoints.stored_at(&t.name).is_empty();
        let (fid, reader) = match resolution {
            Resolution::CopyOf(of) => {
                log::info!(
                    "{}: a copy of content already read ({of}); not read again",
                    t.name
                );
                self.summary.copies_skipped += 1;
                let t = self.files[i].as_mut().expect("file exists");
                t.state = State::Copy;
                return Ok(false);
            }
            Resolution::Wait => {
                log::debug!(
                    "{}: shorter than content read before; a copy in progress?",
                    t.name
                );
                return Ok(false);
            }
            Resolution::Resume {
                fid,
                offset,
                lsn,
                crc,
            } => (fid, LineReader::new(offset, lsn, crc, max_line)),
            Resolution::New(fid) => {
                if stored_here && initial {
                    log::warn!(
                        "{}: no position recorded for this path matches its content (truncated, replaced or rotated while ls-tail was stopped); reading it from the start",
                        t.name
                    );
                    self.summary.replaced_while_stopped += 1;
                }
                let mut reader = LineReader::new(0, 0, None, max_line);
                if initial && self.config.from_end && !stored_here {
                    // Count the lines skipped, so that ids do not depend on where reading began.
                    reader.read(handle, &mut self.buf, u64::MAX, &mut |_| {})?;
                }
                (fid, reader)
            }
        };
        log::debug!("{}: identity {fid}", t.name);
        self.by_fid.insert(fid.clone(), i);
        let t = self.files[i].as_mut().expect("file exists");
        t.state = State::Follow(Follow {
            fid,
            reader,
            joiner: Joiner::default(),
            verify: false,
        });
        Ok(true)
    }

    /// The file is shorter than what was read, or changed under the offset: copytruncate, or
    /// rewritten. Its identity stays with the content read (a copy may continue it); the file
    /// is identified again from its start.
    fn truncated(&mut self, i: usize) {
        let t = self.files[i].as_mut().expect("file exists");
        log::warn!(
            "{}: truncated or rewritten; reading its new content from the start",
            t.name
        );
        self.summary.truncations += 1;
        if let State::Follow(follow) = std::mem::replace(&mut t.state, State::Unidentified) {
            self.flush_joiner(i, follow);
        }
        if let Some(t) = self.files[i].as_mut() {
            t.dirty = true;
        }
        for other in self.files.iter_mut().flatten() {
            if matches!(other.state, State::Copy) {
                other.state = State::Unidentified;
                other.dirty = true;
            }
        }
    }

    /// Emits a pending multi-line event of a file that stops being followed.
    fn flush_joiner(&mut self, i: usize, mut follow: Follow) {
        if self.by_fid.get(&follow.fid) == Some(&i) {
            self.by_fid.remove(&follow.fid);
        }
        if follow.joiner.is_empty() {
            return;
        }
        let t = self.files[i].as_ref().expect("file exists");
        let output = &mut self.output;
        output.begin(&t.name, &follow.fid, &t.categories);
        follow.joiner.flush(&mut |e: &Event| output.emit_event(e));
        if let Some((lsn, end, crc)) = output.last() {
            self.checkpoints
                .emitted(&follow.fid, &t.name, lsn, end, crc);
        }
    }

    /// Flushes multi-line events that waited too long, closes idle handles, and finishes files
    /// rotated away once they are idle.
    fn housekeeping(&mut self, now: Instant) -> Result<()> {
        self.last_housekeeping = now;
        for i in 0..self.files.len() {
            let Some(t) = self.files[i].as_mut() else {
                continue;
            };
            if let (State::Follow(follow), Some(multiline)) = (&mut t.state, &self.config.multiline)
                && follow.joiner.due(multiline, now)
            {
                let output = &mut self.output;
                output.begin(&t.name, &follow.fid, &t.categories);
                follow.joiner.flush(&mut |e: &Event| output.emit_event(e));
                if let Some((lsn, end, crc)) = output.last() {
                    self.checkpoints
                        .emitted(&follow.fid, &t.name, lsn, end, crc);
                }
            }
            let idle = now.duration_since(t.last_active) >= self.config.idle_timeout;
            if idle && !t.dirty {
                if t.reachable {
                    self.close(i);
                } else {
                    self.drain(i)?;
                }
            }
        }
        Ok(())
    }

    /// Reads a file nobody will write again to its very end (an unfinished last line included),
    /// then stops tracking it.
    fn drain(&mut self, i: usize) -> Result<()> {
        let Tailer {
            files,
            output,
            buf,
            config,
            checkpoints,
            summary,
            ..
        } = self;
        let t = files[i].as_mut().expect("file exists");
        if let (State::Follow(follow), Some(handle)) = (&mut t.state, &t.handle) {
            output.begin(&t.name, &follow.fid, &t.categories);
            let mut on_line = |line: Line| match &config.multiline {
                Some(multiline) => follow
                    .joiner
                    .push(multiline, &line, &mut |e: &Event| output.emit_event(e)),
                None => output.emit(line.bytes, line.lsn, line.end, line.crc),
            };
            let outcome = follow
                .reader
                .finish(handle, buf, &mut on_line)
                .with_context(|| format!("cannot read {}", t.name))?;
            follow.joiner.flush(&mut |e: &Event| output.emit_event(e));
            summary.add(&t.name, &outcome, config.max_line);
            if let Some((lsn, end, crc)) = output.last() {
                checkpoints.emitted(&follow.fid, &t.name, lsn, end, crc);
            }
            log::debug!("{}: finished after rotation or deletion", t.name);
        }
        self.forget(i);
        Ok(())
    }

    fn forget(&mut self, i: usize) {
        self.close(i);
        let Some(t) = self.files[i].take() else {
            return;
        };
        if self.by_inode.get(&t.inode) == Some(&i) {
            self.by_inode.remove(&t.inode);
        }
        if self.by_path.get(&t.path) == Some(&i) {
            self.by_path.remove(&t.path);
        }
        self.by_target.retain(|_, &mut j| j != i);
        if let State::Follow(follow) = &t.state
            && self.by_fid.get(&follow.fid) == Some(&i)
        {
            if follow.reader.offset() < t.size && t.handle.is_none() {
                log::warn!(
                    "{}: rotated away while its handle was closed (--max-open-files); bytes after offset {} could not be read",
                    t.name,
                    follow.reader.offset()
                );
            }
            self.by_fid.remove(&follow.fid);
        }
        self.free.push(i);
    }

    /// At the end: emits pending multi-line events, drains files rotated away or deleted, commits.
    fn finish(mut self) -> Result<Summary> {
        for i in 0..self.files.len() {
            let Some(t) = self.files[i].as_mut() else {
                continue;
            };
            // A deleted file still open can be read by nobody after this process: drain it.
            let deleted = t
                .handle
                .as_ref()
                .and_then(|h| h.metadata().ok())
                .is_some_and(|m| m.nlink() == 0);
            if !t.reachable || deleted {
                self.drain(i)?;
                continue;
            }
            if let State::Follow(follow) = std::mem::replace(&mut t.state, State::Unidentified) {
                let unfinished = follow.reader.offset() < t.size;
                self.summary.unfinished_lines += unfinished as u64;
                self.flush_joiner(i, follow);
            }
        }
        self.commit_all()?;
        self.summary.records = self.output.records();
        self.summary.lines_cut += self.output.events_cut();
        self.summary.elapsed = self.started.elapsed();
        let written = self.output.written();
        self.checkpoints.close(written)?;
        Ok(self.summary)
    }
}

/// The host name, the default `source`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".to_string())
}
