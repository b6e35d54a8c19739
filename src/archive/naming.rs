//! Archive file names (DESIGN.md §3): `<category>/<YYYY-MM-DD>.<serial>[.ext]` under a root, the
//! in-progress mark, parsing names back, and the next serial from the names already present.
//!
//! A file being written is named `_<final name>`: Hadoop tools and readers skip names starting
//! with `_` or `.`, so nobody sees half a file under a final name. The `.` prefix is left to
//! importers (ls-recover) for their own in-progress copies, so that ls-roll's start-up recovery
//! never mistakes an import for a file it abandoned.

use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

use crate::record::Category;

/// The mark of a file ls-roll is still writing.
pub const IN_PROGRESS_PREFIX: char = '_';
/// The mark of a file an importer is still copying.
pub const IMPORT_PREFIX: char = '.';

/// A final archive file name: date, serial and extension (`.jsonl`, `.log.gz`, or empty).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileName {
    pub date: NaiveDate,
    pub serial: u32,
    pub ext: String,
}

/// What a directory entry's name says about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Final(FileName),
    /// `_` + a final name: a file ls-roll was writing (or abandoned).
    InProgress(FileName),
    /// `.` + a final name: a file an importer was copying.
    Importing(FileName),
}

impl Entry {
    /// Parses a directory entry's name; `None` for names that are not archive files.
    pub fn parse(name: &str) -> Option<Entry> {
        if let Some(rest) = name.strip_prefix(IN_PROGRESS_PREFIX) {
            FileName::parse(rest).map(Entry::InProgress)
        } else if let Some(rest) = name.strip_prefix(IMPORT_PREFIX) {
            FileName::parse(rest).map(Entry::Importing)
        } else {
            FileName::parse(name).map(Entry::Final)
        }
    }

    pub fn file_name(&self) -> &FileName {
        match self {
            Entry::Final(f) | Entry::InProgress(f) | Entry::Importing(f) => f,
        }
    }
}

impl FileName {
    /// Parses `YYYY-MM-DD.<serial>[.ext]`.
    pub fn parse(name: &str) -> Option<FileName> {
        let date = NaiveDate::parse_from_str(name.get(..10)?, "%Y-%m-%d").ok()?;
        let rest = name.get(10..)?.strip_prefix('.')?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        // No leading zeros: every serial has exactly one spelling.
        if digits == 0 || (digits > 1 && rest.starts_with('0')) {
            return None;
        }
        let serial = rest[..digits].parse().ok()?;
        let ext = &rest[digits..];
        if !(ext.is_empty() || ext.starts_with('.')) {
            return None;
        }
        Some(FileName {
            date,
            serial,
            ext: ext.to_string(),
        })
    }

    /// The name while the file is being written.
    pub fn in_progress(&self) -> String {
        format!("{IN_PROGRESS_PREFIX}{self}")
    }

    /// The name while an importer copies the file.
    pub fn importing(&self) -> String {
        format!("{IMPORT_PREFIX}{self}")
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{}{}",
            self.date.format("%Y-%m-%d"),
            self.serial,
            self.ext
        )
    }
}

/// The path of `name` (any prefix already applied) for `category`, relative to a root.
pub fn relative_path(category: &str, name: &str) -> String {
    format!("{category}/{name}")
}

/// The highest serial used for `date` among directory entries, final or in progress; `None` when
/// there is none. Serials continue after it, whatever the extension.
pub fn highest_serial<'a>(names: impl IntoIterator<Item = &'a str>, date: NaiveDate) -> Option<u32> {
    names
        .into_iter()
        .filter_map(Entry::parse)
        .filter(|e| e.file_name().date == date)
        .map(|e| e.file_name().serial)
        .max()
}

/// The next serial of each category and date, learnt from directory listings and bumped by
/// every allocation, so that a run never reuses a serial it saw or gave out.
#[derive(Debug, Default)]
pub struct Serials(HashMap<(Category, NaiveDate), u32>);

impl Serials {
    /// Takes note of the names in `category`'s directory.
    pub fn note<'a>(&mut self, category: &Category, names: impl IntoIterator<Item = &'a str>) {
        for entry in names.into_iter().filter_map(Entry::parse) {
            let name = entry.file_name();
            let next = self.0.entry((category.clone(), name.date)).or_insert(0);
            *next = (*next).max(name.serial + 1);
        }
    }

    /// The next file name for `category` and `date`.
    pub fn allocate(&mut self, category: &Category, date: NaiveDate, ext: &str) -> FileName {
        let next = self.0.entry((category.clone(), date)).or_insert(0);
        let serial = *next;
        *next += 1;
        FileName {
            date,
            serial,
            ext: ext.to_string(),
        }
    }
}

/// The calendar date of `ts` in `tz`.
pub fn date_in(tz: Tz, ts: DateTime<Utc>) -> NaiveDate {
    ts.with_timezone(&tz).date_naive()
}

/// The first instant of the day after `date` in `tz`: when the files of `date` roll over. Where
/// midnight does not exist (a DST gap), the first local time that does.
pub fn day_end(tz: Tz, date: NaiveDate) -> DateTime<Utc> {
    let next = date
        .checked_add_days(Days::new(1))
        .expect("dates stay far from chrono's limits");
    let mut local = next.and_hms_opt(0, 0, 0).expect("midnight is a valid time");
    loop {
        if let Some(t) = tz.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += chrono::Duration::minutes(15);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(date: &str, serial: u32, ext: &str) -> FileName {
        FileName {
            date: date.parse().unwrap(),
            serial,
            ext: ext.into(),
        }
    }

    #[test]
    fn names_round_trip() {
        let n = name("2026-11-22", 12, ".jsonl.gz");
        assert_eq!(n.to_string(), "2026-11-22.12.jsonl.gz");
        assert_eq!(n.in_progress(), "_2026-11-22.12.jsonl.gz");
        assert_eq!(FileName::parse("2026-11-22.12.jsonl.gz"), Some(n.clone()));
        assert_eq!(
            Entry::parse("_2026-11-22.12.jsonl.gz"),
            Some(Entry::InProgress(n.clone()))
        );
        assert_eq!(
            Entry::parse(".2026-11-22.12.jsonl.gz"),
            Some(Entry::Importing(n))
        );
        assert_eq!(FileName::parse("2026-11-22.0"), Some(name("2026-11-22", 0, "")));
    }

    #[test]
    fn other_names_are_not_archive_files() {
        for bad in [
            "2026-11-22",
            "2026-11-22.",
            "2026-11-22.01.jsonl",
            "2026-11-22.1x",
            "2026-13-01.0",
            "notes.txt",
            "_ls-roll.lock",
            "",
        ] {
            assert_eq!(Entry::parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn highest_serial_counts_every_state_of_one_date() {
        let names = [
            "2026-11-22.0.jsonl",
            "2026-11-22.1.log.gz",
            "_2026-11-22.4.jsonl",
            "2026-11-23.9.jsonl",
            "junk",
        ];
        let d = "2026-11-22".parse().unwrap();
        assert_eq!(highest_serial(names, d), Some(4));
        assert_eq!(highest_serial(names, "2026-11-21".parse().unwrap()), None);
    }

    #[test]
    fn serials_continue_after_every_name_seen() {
        let mut serials = Serials::default();
        let cat = Category::new("error").unwrap();
        let d: NaiveDate = "2026-11-22".parse().unwrap();
        assert_eq!(serials.allocate(&cat, d, ".jsonl").serial, 0);
        serials.note(&cat, ["2026-11-22.0.jsonl", "_2026-11-22.6.log"]);
        assert_eq!(serials.allocate(&cat, d, ".jsonl").to_string(), "2026-11-22.7.jsonl");
        serials.note(&cat, ["2026-11-22.2.jsonl"]);
        assert_eq!(serials.allocate(&cat, d, ".jsonl").serial, 8);
        let other = Category::new("access").unwrap();
        assert_eq!(serials.allocate(&other, d, ".jsonl").serial, 0);
    }

    #[test]
    fn dates_and_day_ends_follow_the_zone() {
        let tz: Tz = "Asia/Tokyo".parse().unwrap();
        let t = Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap();
        assert_eq!(date_in(tz, t), "2026-11-23".parse::<NaiveDate>().unwrap());
        assert_eq!(date_in(Tz::UTC, t), "2026-11-22".parse::<NaiveDate>().unwrap());
        assert_eq!(
            day_end(tz, "2026-11-22".parse().unwrap()),
            Utc.with_ymd_and_hms(2026, 11, 22, 15, 0, 0).unwrap()
        );
        // Midnight does not exist on 2026-03-08 in Havana (DST starts at 00:00).
        let havana: Tz = "America/Havana".parse().unwrap();
        let end = day_end(havana, "2026-03-07".parse().unwrap());
        assert_eq!(date_in(havana, end), "2026-03-08".parse::<NaiveDate>().unwrap());
        assert!(date_in(havana, end - chrono::Duration::milliseconds(1)) < date_in(havana, end));
    }
}
