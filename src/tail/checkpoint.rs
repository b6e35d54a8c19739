//! Resume points: which identity a file has, where to resume it, and committing positions to the
//! LSN store (`crate::lsn`).
//!
//! Every identity with a known position (from the store, or read in this run) is a candidate for
//! a file with the same head (see `fingerprint`). A candidate is taken only if its position
//! *verifies* against the file: the file still holds, ending at the recorded offset, the line
//! with the recorded crc. So:
//! - a renamed file, or a copy of a file (copytruncate's `app.log.1`) keeps its identity and is
//!   resumed where reading stopped: its lines do not come out again under new ids;
//! - a file truncated or replaced while ls-tail was stopped fails the check and becomes a new
//!   identity read from its start (the caller logs a warning);
//! - a different file with a known head (same banner, reused inode) becomes the next
//!   *generation* of that head, so its ids never collide with the earlier file's.
//!
//! When a file verifies as an identity still followed on another live file, it is a copy of it
//! ([`Resolution::CopyOf`]) and is not read while the original is there.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io;
use std::path::Path;
use std::time::Duration;

use anyhow::Result;

use super::fingerprint::{Head, fid, parse_fid, verify};
use crate::lsn::{LsnStore, Position, Snapshot};

/// Who advances the LSN store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CommitMode {
    /// ls-tail, after the records are written and flushed to stdout.
    #[value(name = "self")]
    SelfCommit,
    /// The next stage, once the records are durable there; ls-tail only reads positions.
    Downstream,
}

/// The last known position of an identity.
#[derive(Debug, Clone)]
struct Known {
    offset: u64,
    lsn: u64,
    crc: Option<u32>,
    path: String,
}

/// Where a file resumes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// A known identity, continued from its position.
    Resume {
        fid: String,
        offset: u64,
        lsn: u64,
        crc: Option<u32>,
    },
    /// The content of an identity followed on another file: not read while that one lives.
    CopyOf(String),
    /// A new identity, read from the start.
    New(String),
    /// Not decided yet: the file is shorter than a known position of its head and was written
    /// just now, so it is most likely a copy still being made (copytruncate's `cp`). Deciding
    /// now would take it for a different file and read the copied lines again under new ids.
    Wait,
}

/// An identity that verifies against a file being resolved.
struct Candidate {
    /// Preference: last seen at this path, then followed by no other file, then the furthest.
    rank: (bool, bool, u64),
    fid: String,
    /// The length now of another live file that follows this identity, if one does.
    followed_len: Option<u64>,
}

/// How long after its last write a file shorter than a known position of its head is taken for
/// a copy in progress rather than a different file.
const COPY_GRACE: Duration = Duration::from_secs(2);

/// The identities' positions and the store they are committed to.
pub struct Checkpoints {
    /// The writer, in commit mode `self` with a store.
    store: Option<LsnStore>,
    known: HashMap<String, Known>,
    /// The number of generations of each head.
    generations: HashMap<Head, u32>,
    /// Positions read since the last [`Checkpoints::seal`].
    unsaved: HashMap<String, Position>,
    /// Sealed positions, oldest first, each with the number of output batches that must be
    /// written before it may be committed.
    sealed: VecDeque<(u64, HashMap<String, Position>)>,
    /// The identities the store had for each path at start.
    stored_paths: HashMap<String, Vec<String>>,
}

impl Checkpoints {
    /// Loads the positions of the store in `dir`, opening it as the writer in commit mode `self`.
    pub fn open(dir: Option<&Path>, mode: CommitMode) -> Result<Checkpoints> {
        let (store, snapshot) = match (dir, mode) {
            (None, _) => (None, Snapshot::default()),
            (Some(dir), CommitMode::SelfCommit) => {
                let store = LsnStore::open(dir)?;
                let snapshot = store.snapshot().clone();
                (Some(store), snapshot)
            }
            (Some(dir), CommitMode::Downstream) => (None, Snapshot::read(dir)?),
        };
        let mut checkpoints = Checkpoints {
            store,
            known: HashMap::new(),
            generations: HashMap::new(),
            unsaved: HashMap::new(),
            sealed: VecDeque::new(),
            stored_paths: HashMap::new(),
        };
        for position in snapshot.positions.into_values() {
            if let Some((head, generation)) = parse_fid(&position.fid) {
                let count = checkpoints.generations.entry(head).or_default();
                *count = (*count).max(generation + 1);
            }
            checkpoints
                .stored_paths
                .entry(position.file.clone())
                .or_default()
                .push(position.fid.clone());
            checkpoints.known.insert(
                position.fid,
                Known {
                    offset: position.offset,
                    lsn: position.lsn,
                    crc: position.line_crc,
                    path: position.file,
                },
            );
        }
        Ok(checkpoints)
    }

    /// Decides the identity of `file` (at `path`, with `head`). `followed` gives, for an
    /// identity being read from another live file, that file's length now; `patient`, whether a
    /// file that looks like a copy in progress may be left undecided ([`Resolution::Wait`]) to be
    /// resolved again later.
    pub fn resolve(
        &mut self,
        file: &File,
        path: &str,
        head: Head,
        followed: impl Fn(&str) -> Option<u64>,
        patient: bool,
    ) -> io::Result<Resolution> {
        let generations = self.generations.get(&head).copied().unwrap_or(0);
        // Prefer the identity last seen at this path, then one nobody follows, then the furthest.
        let mut best: Option<Candidate> = None;
        for generation in 0..generations {
            let candidate = fid(head, generation);
            let Some(known) = self.known.get(&candidate) else {
                continue;
            };
            if !verify(file, known.offset, known.crc)? {
                continue;
            }
            let followed_len = followed(&candidate);
            let rank = (known.path == path, followed_len.is_none(), known.offset);
            if best.as_ref().is_none_or(|b| rank > b.rank) {
                best = Some(Candidate {
                    rank,
                    fid: candidate,
                    followed_len,
                });
            }
        }
        if let Some(Candidate {
            fid: candidate,
            followed_len: Some(original_len),
            ..
        }) = &best
        {
            let original_len = *original_len;
            // A copy holds at most what its original held. A file longer than an original that
            // still has every byte read from it is a different file that begins with the same
            // lines (a new `app.log` starting with the whole of the rotated `app.log.1`): it is
            // the head's next generation, read from its start.
            let intact = original_len >= self.known[candidate].offset;
            if !(intact && file.metadata()?.len() > original_len) {
                return Ok(Resolution::CopyOf(candidate.clone()));
            }
            best = None;
        }
        if best.is_none() && patient && self.copy_in_progress(file, head, generations)? {
            return Ok(Resolution::Wait);
        }
        Ok(match best {
            Some(Candidate { fid: candidate, .. }) => {
                let known = &self.known[&candidate];
                Resolution::Resume {
                    offset: known.offset,
                    lsn: known.lsn,
                    crc: known.crc,
                    fid: candidate,
                }
            }
            None => {
                let new = fid(head, generations);
                self.generations.insert(head, generations + 1);
                self.known.insert(
                    new.clone(),
                    Known {
                        offset: 0,
                        lsn: 0,
                        crc: None,
                        path: path.to_string(),
                    },
                );
                Resolution::New(new)
            }
        })
    }

    /// True if `file` was written within [`COPY_GRACE`] and is shorter than a known position
    /// of its head: a copy of that identity's file that has not reached the position yet.
    fn copy_in_progress(&self, file: &File, head: Head, generations: u32) -> io::Result<bool> {
        let meta = file.metadata()?;
        let fresh = meta
            .modified()?
            .elapsed()
            .map_or(true, |age| age < COPY_GRACE);
        Ok(fresh
            && (0..generations)
                .filter_map(|g| self.known.get(&fid(head, g)))
                .any(|known| known.offset > meta.len()))
    }

    /// The identities the store had for `path` when ls-tail started.
    pub fn stored_at(&self, path: &str) -> &[String] {
        self.stored_paths.get(path).map_or(&[], Vec::as_slice)
    }

    /// Notes that the records of `fid` up to line `lsn` ending at `offset` were written.
    pub fn emitted(&mut self, fid: &str, path: &str, lsn: u64, offset: u64, crc: u32) {
        if let Some(known) = self.known.get_mut(fid) {
            known.offset = offset;
            known.lsn = lsn;
            known.crc = Some(crc);
            if known.path != path {
                known.path = path.to_string();
            }
        }
        if self.store.is_some() {
            let position = Position {
                seq: 0,
                fid: fid.to_string(),
                file: path.to_string(),
                lsn,
                offset,
                line_crc: Some(crc),
                updated_ms: chrono::Utc::now().timestamp_millis(),
            };
            self.unsaved.insert(position.fid.clone(), position);
        }
    }

    /// Ties the positions noted since the last seal to the output: they may be committed once
    /// `batches` output batches are written.
    pub fn seal(&mut self, batches: u64) {
        if self.unsaved.is_empty() {
            return;
        }
        match self.sealed.back_mut() {
            Some((last, positions)) if *last == batches => positions.extend(self.unsaved.drain()),
            _ => self
                .sealed
                .push_back((batches, std::mem::take(&mut self.unsaved))),
        }
    }

    /// Writes, in one append, the sealed positions whose records are in the first `written`
    /// output batches, which were written and flushed.
    pub fn commit(&mut self, written: u64) -> Result<()> {
        let mut ready: Option<HashMap<String, Position>> = None;
        while self.sealed.front().is_some_and(|(b, _)| *b <= written) {
            let (_, positions) = self.sealed.pop_front().expect("checked above");
            match &mut ready {
                // Later positions of a file replace earlier ones.
                Some(ready) => ready.extend(positions),
                None => ready = Some(positions),
            }
        }
        if let (Some(store), Some(ready)) = (&mut self.store, ready) {
            store.advance(ready.into_values())?;
        }
        Ok(())
    }

    /// Commits the positions whose records are in the first `written` output batches and makes
    /// the store durable (at exit).
    pub fn close(mut self, written: u64) -> Result<()> {
        self.commit(written)?;
        if let Some(store) = &mut self.store {
            store.sync()?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A position is stored only once the output batches holding its line were written.
    #[test]
    fn positions_wait_for_the_batches_holding_their_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut checkpoints = Checkpoints::open(Some(dir.path()), CommitMode::SelfCommit).unwrap();
        let stored = |fid: &str| {
            Snapshot::read(dir.path())
                .unwrap()
                .positions
                .get(fid)
                .map(|p| p.lsn)
        };
        checkpoints.emitted("a", "a.log", 10, 100, 1);
        checkpoints.seal(2);
        checkpoints.emitted("a", "a.log", 20, 200, 2);
        checkpoints.emitted("b", "b.log", 5, 50, 3);
        checkpoints.seal(3);
        checkpoints.commit(1).unwrap();
        assert_eq!(stored("a"), None);
        checkpoints.commit(2).unwrap();
        assert_eq!((stored("a"), stored("b")), (Some(10), None));
        checkpoints.emitted("b", "b.log", 6, 60, 4);
        checkpoints.seal(3);
        checkpoints.close(3).unwrap();
        assert_eq!((stored("a"), stored("b")), (Some(20), Some(6)));
    }
}
