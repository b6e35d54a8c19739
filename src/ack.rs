//! Acknowledgement tracking: which lines a stage has made durable, and how far each file's
//! position may advance.
//!
//! Kafka acknowledges, MongoDB commits and the archive syncs records out of order. The LSN
//! store may only move a file's position to the end of the longest run of lines that are *all*
//! durable (DESIGN.md §2), or a crash would skip the unacknowledged ones. A stage [`track`]s each
//! record in the order it read them, [`ack`]s it when durable, and periodically
//! [`take_advanced`] gives the positions to store.
//!
//! Both calls come once per record, so they allocate nothing in the steady state: a record in
//! flight is kept as its line's place only, and the file's path once per change of path.
//!
//! [`track`]: AckTracker::track
//! [`ack`]: AckTracker::ack
//! [`take_advanced`]: AckTracker::take_advanced

use std::collections::VecDeque;

use crate::fid_table::FidTable;
use crate::lsn::Position;
use crate::record::{Origin, OriginRef};

/// A handle for one tracked record, to acknowledge it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    file: u32,
    seq: u64,
}

/// Where a record's line is in its file: the part of its [`Origin`] that differs per line.
#[derive(Debug, Clone, Copy)]
struct Line {
    lsn: u64,
    offset: u64,
    crc: Option<u32>,
}

/// Per file identity: the records in flight, in reading order.
#[derive(Debug, Default)]
struct FileAcks {
    /// Sequence number of `pending[0]`.
    base: u64,
    /// Per record: its line, and whether it is acknowledged.
    pending: VecDeque<(Line, bool)>,
    /// The paths the file was read under (a renamed file keeps its identity), each with the
    /// sequence number of its first record; the front one is the path of the record before
    /// `pending[0]`, or of `pending[0]` when none was acknowledged yet.
    paths: VecDeque<(u64, String)>,
    /// The end of the contiguous acknowledged run, not yet taken: the record before `pending[0]`.
    advanced: Option<Line>,
}

/// Tracks in-flight records per file and the contiguous acknowledged prefix of each.
#[derive(Debug, Default)]
pub struct AckTracker {
    files: FidTable<FileAcks>,
    in_flight: usize,
}

impl AckTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts tracking a record read from `origin`. Records of one file must be tracked in the
    /// order they were read.
    pub fn track(&mut self, origin: OriginRef<'_>) -> Ticket {
        let file = self.files.index(origin.fid);
        let acks = self.files.get_mut(file).expect("just indexed");
        let seq = acks.base + acks.pending.len() as u64;
        if acks
            .paths
            .back()
            .is_none_or(|(_, path)| path != origin.file)
        {
            acks.paths.push_back((seq, origin.file.to_string()));
        }
        let line = Line {
            lsn: origin.lsn,
            offset: origin.offset,
            crc: origin.crc,
        };
        acks.pending.push_back((line, false));
        self.in_flight += 1;
        Ticket {
            file: file as u32,
            seq,
        }
    }

    /// Marks a tracked record durable. Acknowledging twice, or a ticket already passed, is harmless.
    pub fn ack(&mut self, ticket: Ticket) {
        let Some(acks) = self.files.get_mut(ticket.file as usize) else {
            return;
        };
        let Some(index) = ticket.seq.checked_sub(acks.base) else {
            return;
        };
        if let Some(entry) = acks.pending.get_mut(index as usize)
            && !entry.1
        {
            entry.1 = true;
            self.in_flight -= 1;
        }
        let before = acks.base;
        while acks.pending.front().is_some_and(|(_, acked)| *acked) {
            let (line, _) = acks.pending.pop_front().expect("front exists");
            acks.base += 1;
            acks.advanced = Some(line);
        }
        if acks.base > before {
            let last = acks.base - 1;
            while acks.paths.get(1).is_some_and(|(first, _)| *first <= last) {
                acks.paths.pop_front();
            }
        }
    }

    /// Records tracked and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// The positions that moved since the last call: one per file, at the end of its contiguous
    /// acknowledged run.
    pub fn take_advanced(&mut self) -> Vec<Position> {
        self.files
            .iter_mut()
            .filter_map(|(fid, acks)| {
                let line = acks.advanced.take()?;
                let (_, path) = acks
                    .paths
                    .front()
                    .expect("an acknowledged record has a path");
                Some(Position::from_origin(&Origin {
                    file: path.clone(),
                    fid: fid.to_string(),
                    lsn: line.lsn,
                    offset: line.offset,
                    crc: line.crc,
                }))
            })
            .collect()
    }

    /// The file identities tracked so far.
    pub fn fids(&self) -> impl Iterator<Item = &str> {
        self.files.fids()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(fid: &str, lsn: u64) -> Origin {
        Origin {
            file: format!("/logs/{fid}"),
            fid: fid.into(),
            lsn,
            offset: lsn * 10,
            crc: None,
        }
    }

    #[test]
    fn advances_only_over_contiguous_acknowledged_lines() {
        let mut tracker = AckTracker::new();
        let a: Vec<Ticket> = (1..=4)
            .map(|l| tracker.track(origin("a", l).borrowed()))
            .collect();
        let b1 = tracker.track(origin("b", 7).borrowed());
        assert_eq!(tracker.in_flight(), 5);

        tracker.ack(a[1]);
        tracker.ack(a[3]);
        tracker.ack(b1);
        let moved = tracker.take_advanced();
        assert_eq!(
            moved.len(),
            1,
            "a is held back by its unacknowledged line 1"
        );
        assert_eq!((moved[0].fid.as_str(), moved[0].lsn), ("b", 7));

        tracker.ack(a[0]);
        let moved = tracker.take_advanced();
        assert_eq!((moved[0].fid.as_str(), moved[0].lsn), ("a", 2));
        tracker.ack(a[2]);
        tracker.ack(a[2]);
        let moved = tracker.take_advanced();
        assert_eq!((moved[0].lsn, moved[0].offset), (4, 40));
        assert_eq!(tracker.in_flight(), 0);
        assert!(tracker.take_advanced().is_empty());
    }

    #[test]
    fn a_position_has_the_path_its_line_was_read_under() {
        let mut tracker = AckTracker::new();
        let renamed = |lsn| Origin {
            file: "/logs/a.1".into(),
            ..origin("a", lsn)
        };
        let tickets = [
            tracker.track(origin("a", 1).borrowed()),
            tracker.track(origin("b", 1).borrowed()),
            tracker.track(origin("a", 2).borrowed()),
            tracker.track(renamed(3).borrowed()),
            tracker.track(renamed(4).borrowed()),
        ];
        let files = |moved: Vec<Position>| -> Vec<(String, u64)> {
            moved.into_iter().map(|p| (p.file, p.lsn)).collect()
        };
        tracker.ack(tickets[0]);
        tracker.ack(tickets[2]);
        tracker.ack(tickets[4]);
        assert_eq!(files(tracker.take_advanced()), [("/logs/a".into(), 2)]);
        tracker.ack(tickets[3]);
        assert_eq!(files(tracker.take_advanced()), [("/logs/a.1".into(), 4)]);
        let after = tracker.track(origin("a", 5).borrowed());
        tracker.ack(after);
        assert_eq!(files(tracker.take_advanced()), [("/logs/a".into(), 5)]);
    }
}
