//! Property tests of line parsing: on any bytes, in every format, the parser never panics and
//! always yields a record with a message (the line's text when nothing else is found).

use chrono::{TimeZone, Utc};
use logsphere::parse::{Format, Parser, ParserConfig};
use logsphere::record::{Category, Level, Record};
use proptest::prelude::*;

/// Openings of real formats, so that random tails reach deep into each parser.
const PREFIXES: [&str; 12] = [
    "",
    "{\"ts\":",
    "<34>1 2003-10-11T22:14:15.003Z ",
    "<13>Jun 14 15:16:01 ",
    "Jun 14 15:16:01 combo app[",
    "[Sun Dec 04 04:47:44 2005] [",
    "2015-10-18 18:01:47,978 ",
    "17/06/09 20:10:40 ",
    "127.0.0.1 - - [10/Oct/2000:13:55:36 -0700] \"",
    "level=info msg=\"",
    "03-17 16:13:38.811  1702  2395 ",
    "081109 203615 148 ",
];

const FORMATS: [Format; 8] = [
    Format::Auto,
    Format::Json,
    Format::Logfmt,
    Format::Syslog,
    Format::Apache,
    Format::Log4j,
    Format::Logcat,
    Format::Raw,
];

fn parsers() -> Vec<Parser> {
    let mut parsers: Vec<Parser> = FORMATS
        .iter()
        .map(|&format| {
            Parser::new(ParserConfig {
                format,
                ..ParserConfig::default()
            })
            .unwrap()
        })
        .collect();
    parsers.push(
        Parser::new(ParserConfig {
            pattern: Some(
                r"^(?P<timestamp>\S+) (?P<level>\S+) (?P<extra>\S+) (?P<message>.*)".into(),
            ),
            time_format: Some("%Y-%m-%dT%H:%M:%S%.f%:z".into()),
            timezone: chrono_tz::America::New_York,
            ..ParserConfig::default()
        })
        .unwrap(),
    );
    parsers
}

fn line_strategy() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(&PREFIXES[..]),
        prop::collection::vec(
            prop_oneof![
                any::<u8>(),
                prop::sample::select(b" []<>\":=-/\\0123456789{}".to_vec())
            ],
            0..120,
        ),
    )
        .prop_map(|(prefix, tail)| [prefix.as_bytes(), &tail].concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_always_gives_a_message(line in line_strategy()) {
        let now = Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap();
        let mut record = Record {
            timestamp: now,
            log_level: Level::Info,
            message: "stale".into(),
            source: "test".into(),
            category: Category::default_category(),
            id: String::new(),
            origin: None,
            extra: Default::default(),
        };
        let has_text = !line.trim_ascii().is_empty();
        for mut parser in parsers() {
            parser.parse_into(&line, now, &mut record);
            prop_assert!(!has_text || !record.message.is_empty(),
                "{:?} gave an empty message for {:?}", parser.detected(), String::from_utf8_lossy(&line));
            let mut out = Vec::new();
            logsphere::record::write_record(&record, &mut out);
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        }
    }
}
