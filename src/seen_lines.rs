//! The lines of tailed files a stage has taken in, by file identity and LSN (`Origin::fid`,
//! `Origin::lsn`), so that it can tell a copy from a new record: after a crash ls-ship sends
//! again, under the same ids, what Kafka had not acknowledged, and ls-tail what follows its last
//! committed position. ls-roll archives a copy once; ls-watch counts it once.
//!
//! The lines are kept as ranges, so that memory grows with the files, not the records: lines of
//! one file come in order, and make one range.

use std::collections::BTreeMap;

use crate::fid_table::FidTable;

/// The lines of tailed files seen, as ranges of LSNs per file identity.
///
/// Looked up and added to once per record, so made for the common case: consecutive records
/// mostly come from one file (its identity is compared, not hashed), and lines of one file
/// mostly arrive in order (they extend its highest range).
#[derive(Debug, Default)]
pub struct SeenLines(FidTable<LineRanges>);

impl SeenLines {
    /// The index of the file identity `fid`, for [`SeenLines::contains`] and
    /// [`SeenLines::insert`]; added if new.
    pub fn file(&mut self, fid: &str) -> usize {
        self.0.index(fid)
    }

    pub fn contains(&self, file: usize, lsn: u64) -> bool {
        let lines = self.0.get(file).expect("an index from SeenLines::file");
        lines.contains(lsn)
    }

    /// Adds a line not in yet.
    pub fn insert(&mut self, file: usize, lsn: u64) {
        let lines = self.0.get_mut(file).expect("an index from SeenLines::file");
        lines.insert(lsn);
    }
}

/// The archived lines of one file, as maximal ranges of LSNs. They hold whatever order records
/// come in (categories go to different topics); lines mostly arrive in order, so a file is
/// about one range, `last`, extended in place.
#[derive(Debug, Default, PartialEq, Eq)]
struct LineRanges {
    /// The highest range, first and last line.
    last: Option<(u64, u64)>,
    /// The ranges below it, first line → last line; none touches another or `last`.
    earlier: BTreeMap<u64, u64>,
}

impl LineRanges {
    pub fn contains(&self, lsn: u64) -> bool {
        match self.last {
            None => false,
            Some((start, end)) if lsn >= start => lsn <= end,
            Some(_) => self
                .earlier
                .range(..=lsn)
                .next_back()
                .is_some_and(|(_, &end)| lsn <= end),
        }
    }

    /// Adds a line not in yet, merging it with the ranges it touches.
    fn insert(&mut self, lsn: u64) {
        let Some(last) = &mut self.last else {
            self.last = Some((lsn, lsn));
            return;
        };
        if lsn == last.1 + 1 {
            last.1 = lsn;
        } else if lsn > last.1 {
            self.earlier.insert(last.0, last.1);
            *last = (lsn, lsn);
        } else if lsn + 1 == last.0 {
            last.0 = match self.earlier.last_key_value() {
                Some((&start, &end)) if end + 1 == lsn => {
                    self.earlier.pop_last();
                    start
                }
                _ => lsn,
            };
        } else {
            let before = self
                .earlier
                .range(..lsn)
                .next_back()
                .filter(|(_, end)| **end + 1 == lsn)
                .map(|(&start, _)| start);
            let end = self.earlier.remove(&(lsn + 1)).unwrap_or(lsn);
            self.earlier.insert(before.unwrap_or(lsn), end);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_known_in_any_order() {
        let mut lines = SeenLines::default();
        for (fid, lsn) in [
            ("f", 3),
            ("f", 1),
            ("g", 1),
            ("f", 5),
            ("f", 2),
            ("f", 4),
            ("f", 9),
        ] {
            let file = lines.file(fid);
            assert!(!lines.contains(file, lsn));
            lines.insert(file, lsn);
        }
        let f = lines.file("f");
        assert_eq!(lines.0.get(f).unwrap().last, Some((9, 9)));
        assert_eq!(lines.0.get(f).unwrap().earlier, BTreeMap::from([(1, 5)]));
        assert!((1..=5).chain([9]).all(|lsn| lines.contains(f, lsn)));
        assert!(![0, 6, 8, 10].iter().any(|&lsn| lines.contains(f, lsn)));
        let g = lines.file("g");
        assert!(lines.contains(g, 1) && !lines.contains(g, 2));
        let h = lines.file("h");
        assert!(!lines.contains(h, 1));
    }

    proptest::proptest! {
        /// Whatever the order, the ranges hold exactly the lines added, each range as long as
        /// it can be.
        #[test]
        fn line_ranges_hold_exactly_the_lines_added(
            lsns in proptest::collection::vec(0u64..80, 0..200)
        ) {
            let mut ranges = LineRanges::default();
            let mut added = std::collections::BTreeSet::new();
            for lsn in lsns {
                proptest::prop_assert_eq!(ranges.contains(lsn), added.contains(&lsn));
                if added.insert(lsn) {
                    ranges.insert(lsn);
                }
            }
            let all: Vec<(u64, u64)> = ranges.earlier.iter().map(|(&s, &e)| (s, e)).chain(ranges.last).collect();
            let held: Vec<u64> = all.iter().flat_map(|&(s, e)| s..=e).collect();
            proptest::prop_assert_eq!(held, added.into_iter().collect::<Vec<_>>());
            proptest::prop_assert!(all.windows(2).all(|w| w[0].1 + 1 < w[1].0));
        }
    }
}
