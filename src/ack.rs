//! Acknowledgement tracking: which lines a stage has made durable, and how far each file's
//! position may advance.
//!
//! Kafka acknowledges, MongoDB commits and the archive syncs records out of order. The LSN
//! store may only move a file's position to the end of the longest run of lines that are *all*
//! durable (DESIGN.md §2), or a crash would skip the unacknowledged ones. A stage [`track`]s each
//! record in the order it read them, [`ack`]s it when durable, and periodically
//! [`take_advanced`] gives the positions to store.
//!
//! [`track`]: AckTracker::track
//! [`ack`]: AckTracker::ack
//! [`take_advanced`]: AckTracker::take_advanced

use std::collections::{HashMap, VecDeque};

use crate::lsn::Position;
use crate::record::Origin;

/// A handle for one tracked record, to acknowledge it later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ticket {
    file: u32,
    seq: u64,
}

/// Per file identity: the records in flight, in reading order.
#[derive(Debug)]
struct FileAcks {
    fid: String,
    /// Sequence number of `pending[0]`.
    base: u64,
    pending: VecDeque<(Origin, bool)>,
    /// The end of the contiguous acknowledged run, not yet taken.
    advanced: Option<Origin>,
}

/// Tracks in-flight records per file and the contiguous acknowledged prefix of each.
#[derive(Debug, Default)]
pub struct AckTracker {
    files: Vec<FileAcks>,
    by_fid: HashMap<String, u32>,
    in_flight: usize,
}

impl AckTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts tracking a record read from `origin`. Records of one file must be tracked in the
    /// order they were read.
    pub fn track(&mut self, origin: &Origin) -> Ticket {
        let file = match self.by_fid.get(&origin.fid) {
            Some(&i) => i,
            None => {
                let i = self.files.len() as u32;
                self.files.push(FileAcks {
                    fid: origin.fid.clone(),
                    base: 0,
                    pending: VecDeque::new(),
                    advanced: None,
                });
                self.by_fid.insert(origin.fid.clone(), i);
                i
            }
        };
        let acks = &mut self.files[file as usize];
        let seq = acks.base + acks.pending.len() as u64;
        acks.pending.push_back((origin.clone(), false));
        self.in_flight += 1;
        Ticket { file, seq }
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
        while acks.pending.front().is_some_and(|(_, acked)| *acked) {
            let (origin, _) = acks.pending.pop_front().expect("front exists");
            acks.base += 1;
            acks.advanced = Some(origin);
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
            .filter_map(|acks| acks.advanced.take())
            .map(|origin| Position::from_origin(&origin))
            .collect()
    }

    /// The file identities tracked so far.
    pub fn fids(&self) -> impl Iterator<Item = &str> {
        self.files.iter().map(|f| f.fid.as_str())
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
        let a: Vec<Ticket> = (1..=4).map(|l| tracker.track(&origin("a", l))).collect();
        let b1 = tracker.track(&origin("b", 7));
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
}
