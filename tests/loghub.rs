//! Accuracy of automatic detection on the loghub samples (see `common/loghub.rs` for the corpus
//! and its license): every line of each system is parsed with `Format::Auto` and compared with the
//! ground-truth CSV. Bars (issue 2): the level agrees on ≥ 99% of lines of the systems whose CSV has
//! a real level, and a timestamp is parsed and agrees with the CSV's date/time columns on ≥ 99%
//! of lines of every system (fields the log does not have, such as syslog's year, are not
//! compared). Run with `--nocapture` to see the table.

#[path = "common/loghub.rs"]
mod loghub;

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use logsphere::parse::{Parser, ParserConfig};
use logsphere::record::{Level, Record};

/// How a system's CSV writes the time: its columns (joined with a space) and their chrono format.
struct TimeColumns {
    columns: &'static [&'static str],
    format: &'static str,
    /// The log carries no year: compare month, day and time only.
    has_year: bool,
}

struct System {
    name: &'static str,
    /// The CSV's `Level` column is a real level (Linux's holds the host name; OpenSSH has none).
    level_checked: bool,
    time: TimeColumns,
}

const SYSTEMS: [System; 7] = [
    System {
        name: "Apache",
        level_checked: true,
        time: TimeColumns {
            columns: &["Time"],
            format: "%a %b %d %H:%M:%S %Y",
            has_year: true,
        },
    },
    System {
        name: "HDFS",
        level_checked: true,
        time: TimeColumns {
            columns: &["Date", "Time"],
            format: "%y%m%d %H%M%S",
            has_year: true,
        },
    },
    System {
        name: "Hadoop",
        level_checked: true,
        time: TimeColumns {
            columns: &["Date", "Time"],
            format: "%Y-%m-%d %H:%M:%S,%3f",
            has_year: true,
        },
    },
    System {
        name: "Linux",
        level_checked: false,
        time: TimeColumns {
            columns: &["Month", "Date", "Time"],
            format: "%Y %b %d %H:%M:%S",
            has_year: false,
        },
    },
    System {
        name: "OpenSSH",
        level_checked: false,
        time: TimeColumns {
            columns: &["Date", "Day", "Time"],
            format: "%Y %b %d %H:%M:%S",
            has_year: false,
        },
    },
    System {
        name: "Spark",
        level_checked: true,
        time: TimeColumns {
            columns: &["Date", "Time"],
            format: "%y/%m/%d %H:%M:%S",
            has_year: true,
        },
    },
    System {
        name: "Zookeeper",
        level_checked: true,
        time: TimeColumns {
            columns: &["Date", "Time"],
            format: "%Y-%m-%d %H:%M:%S,%3f",
            has_year: true,
        },
    },
];

/// The bar, in percent of lines.
const BAR: f64 = 99.0;

struct Score {
    lines: usize,
    level_agree: usize,
    time_agree: usize,
}

/// The expected time of a CSV row; for year-less logs, in a leap year so that Feb 29 reads.
fn expected_time(
    system: &System,
    headers: &csv::StringRecord,
    row: &csv::StringRecord,
) -> NaiveDateTime {
    let mut text = String::new();
    if !system.time.has_year {
        text.push_str("2000 ");
    }
    for (i, column) in system.time.columns.iter().enumerate() {
        let index = headers
            .iter()
            .position(|h| h == *column)
            .expect("time column");
        if i > 0 {
            text.push(' ');
        }
        text.push_str(&row[index]);
    }
    NaiveDateTime::parse_from_str(&text, system.time.format)
        .unwrap_or_else(|e| panic!("{}: CSV time {text:?}: {e}", system.name))
}

fn time_agrees(parsed: DateTime<Utc>, expected: NaiveDateTime, has_year: bool) -> bool {
    if has_year {
        return parsed.naive_utc() == expected;
    }
    let shape = "%m-%d %H:%M:%S%.f";
    parsed.format(shape).to_string() == expected.format(shape).to_string()
}

fn score(system: &System, dir: &std::path::Path, now: DateTime<Utc>) -> Score {
    let log = std::fs::read(loghub::log_path(dir, system.name)).expect("read log sample");
    let mut csv = csv::Reader::from_path(loghub::csv_path(dir, system.name)).expect("open CSV");
    let headers = csv.headers().expect("CSV headers").clone();
    let level_column = headers.iter().position(|h| h == "Level");
    let rows: Vec<csv::StringRecord> = csv.records().map(|r| r.expect("CSV row")).collect();
    let lines: Vec<&[u8]> = log
        .strip_suffix(b"\n")
        .unwrap_or(&log)
        .split(|&b| b == b'\n')
        .collect();
    assert_eq!(
        lines.len(),
        rows.len(),
        "{}: lines and CSV rows differ",
        system.name
    );

    let mut parser = Parser::new(ParserConfig::default()).expect("default parser");
    let mut record = blank_record(now);
    let mut score = Score {
        lines: lines.len(),
        level_agree: 0,
        time_agree: 0,
    };
    for (line, row) in lines.iter().zip(&rows) {
        parser.parse_into(line, now, &mut record);
        if let Some(column) = level_column.filter(|_| system.level_checked) {
            let expected = Level::from_name(row[column].as_bytes())
                .unwrap_or_else(|| panic!("{}: CSV level {:?}", system.name, &row[column]));
            if record.log_level == expected {
                score.level_agree += 1;
            }
        }
        let expected = expected_time(system, &headers, row);
        // A line without a timestamp gets `now`, which never agrees with the CSV.
        if record.timestamp != now && time_agrees(record.timestamp, expected, system.time.has_year)
        {
            score.time_agree += 1;
        }
    }
    score
}

fn blank_record(now: DateTime<Utc>) -> Record {
    Record::empty(now, Level::Info, "test")
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

#[test]
fn auto_detection_meets_the_accuracy_bar_on_loghub() {
    let Some(dir) = loghub::dir() else { return };
    let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
    let mut failures = Vec::new();
    eprintln!(
        "{:<10} {:>6} {:>9} {:>9}",
        "system", "lines", "level %", "time %"
    );
    for system in &SYSTEMS {
        let score = score(system, &dir, now);
        let level = percent(score.level_agree, score.lines);
        let time = percent(score.time_agree, score.lines);
        let level_cell = if system.level_checked {
            format!("{level:.2}")
        } else {
            "-".into()
        };
        eprintln!(
            "{:<10} {:>6} {:>9} {:>9.2}",
            system.name, score.lines, level_cell, time
        );
        if system.level_checked && level < BAR {
            failures.push(format!(
                "{}: level agrees on {level:.2}% < {BAR}%",
                system.name
            ));
        }
        if time < BAR {
            failures.push(format!(
                "{}: time agrees on {time:.2}% < {BAR}%",
                system.name
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
