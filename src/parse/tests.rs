//! Per-format tests of line parsing, tricky lines included.
//!
//! Lines marked "loghub" are taken from the loghub samples (https://github.com/logpai/loghub,
//! free for research and academic work; cite Zhu et al., "Loghub: A Large Collection of System
//! Log Datasets for AI-driven Log Analytics", ISSRE 2023).

use chrono::{DateTime, TimeZone, Utc};
use serde_json::json;

use super::*;

/// The fixed "now" of these tests.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

fn utc(text: &str) -> DateTime<Utc> {
    crate::record::parse_timestamp(text).expect("test timestamp")
}

fn blank() -> Record {
    Record::empty(now(), Level::Info, "test")
}

fn parse_with(config: ParserConfig, line: &str) -> (Record, Format) {
    let mut parser = Parser::new(config).expect("parser");
    let mut record = blank();
    parser.parse_into(line.as_bytes(), now(), &mut record);
    (record, parser.detected())
}

fn parse(line: &str) -> (Record, Format) {
    parse_with(ParserConfig::default(), line)
}

/// Asserts time, level, message and format of an auto-detected line.
fn check(line: &str, time: &str, level: Level, message: &str, format: Format) {
    let (record, detected) = parse(line);
    assert_eq!(record.timestamp, utc(time), "time of {line:?}");
    assert_eq!(record.log_level, level, "level of {line:?}");
    assert_eq!(record.message, message, "message of {line:?}");
    assert_eq!(detected, format, "format of {line:?}");
}

#[test]
fn log4j_hadoop_spark_zookeeper_hdfs_styles() {
    // loghub Hadoop
    check(
        "2015-10-18 18:01:47,978 INFO [main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster\r",
        "2015-10-18T18:01:47.978Z",
        Level::Info,
        "[main] org.apache.hadoop.mapreduce.v2.app.MRAppMaster: Created MRAppMaster",
        Format::Log4j,
    );
    // loghub Spark
    check(
        "17/06/09 20:10:40 INFO executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
        "2017-06-09T20:10:40Z",
        Level::Info,
        "executor.CoarseGrainedExecutorBackend: Registered signal handlers for [TERM, HUP, INT]",
        Format::Log4j,
    );
    // loghub Zookeeper
    check(
        "2015-07-29 19:04:29,071 - WARN  [SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
        "2015-07-29T19:04:29.071Z",
        Level::Warn,
        "[SendWorker:188978561024:QuorumCnxManager$SendWorker@688] - Send worker leaving thread",
        Format::Log4j,
    );
    // loghub HDFS: the pid before the level stays in the message.
    check(
        "081109 203615 148 INFO dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
        "2008-11-09T20:36:15Z",
        Level::Info,
        "148 dfs.DataNode$PacketResponder: PacketResponder 1 terminating",
        Format::Log4j,
    );
}

#[test]
fn message_words_never_override_an_earlier_level() {
    check(
        "2015-10-18 18:01:47,978 INFO [main] Foo: Error while reading; FATAL retry",
        "2015-10-18T18:01:47.978Z",
        Level::Info,
        "[main] Foo: Error while reading; FATAL retry",
        Format::Log4j,
    );
    check(
        "2015-10-18 18:01:47,978 [main] WARN Foo - ERROR count went up",
        "2015-10-18T18:01:47.978Z",
        Level::Warn,
        "[main] Foo - ERROR count went up",
        Format::Log4j,
    );
    // No level in the header: words in the message do not make one.
    let (record, _) = parse("2015-10-18 18:01:47 worker.Pool: Error while reading");
    assert_eq!(record.log_level, Level::Info);
    assert_eq!(record.message, "worker.Pool: Error while reading");
}

#[test]
fn python_logback_spring_and_other_unseen_layouts() {
    check(
        "2019-03-05 10:57:51,112 - app.db - ERROR - connection lost",
        "2019-03-05T10:57:51.112Z",
        Level::Error,
        "app.db connection lost",
        Format::Log4j,
    );
    check(
        "WARNING:root:disk almost full",
        "2026-11-22T12:00:00Z",
        Level::Warn,
        "root:disk almost full",
        Format::Log4j,
    );
    check(
        "2019-03-05 10:57:51.112  INFO 45469 --- [main] o.s.b.w.e.t.TomcatWebServer : Tomcat started",
        "2019-03-05T10:57:51.112Z",
        Level::Info,
        "45469 --- [main] o.s.b.w.e.t.TomcatWebServer : Tomcat started",
        Format::Log4j,
    );
    check(
        "[2019-03-05T10:57:51,112][WARN ][o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark",
        "2019-03-05T10:57:51.112Z",
        Level::Warn,
        "[o.e.c.r.a.DiskThresholdMonitor] [node-1] high disk watermark",
        Format::Log4j,
    );
    check(
        "2019/03/05 10:57:51 [error] 1234#0: *1 open() failed (2: No such file or directory)",
        "2019-03-05T10:57:51Z",
        Level::Error,
        "1234#0: *1 open() failed (2: No such file or directory)",
        Format::Log4j,
    );
    check(
        "05-Mar-2019 10:57:51.112 SEVERE [main] org.apache.catalina.startup.Catalina.start failed",
        "2019-03-05T10:57:51.112Z",
        Level::Critical,
        "[main] org.apache.catalina.startup.Catalina.start failed",
        Format::Log4j,
    );
    check(
        "2019-03-05T10:57:51.112+01:00 | warn | cache miss",
        "2019-03-05T09:57:51.112Z",
        Level::Warn,
        "cache miss",
        Format::Log4j,
    );
    check(
        "[INFO] 2019-03-05 10:57:51 build started",
        "2019-03-05T10:57:51Z",
        Level::Info,
        "build started",
        Format::Log4j,
    );
    check(
        "1445144423.722 DEBUG cache warmed",
        "2015-10-18T05:00:23.722Z",
        Level::Debug,
        "cache warmed",
        Format::Log4j,
    );
}

#[test]
fn apache_error_logs() {
    // loghub Apache
    check(
        "[Sun Dec 04 04:47:44 2005] [error] mod_jk child workerEnv in error state 6",
        "2005-12-04T04:47:44Z",
        Level::Error,
        "mod_jk child workerEnv in error state 6",
        Format::Apache,
    );
    check(
        "[Wed Oct 11 14:32:52.123456 2000] [core:warn] [pid 1234:tid 5678] AH00098: pid file overwritten",
        "2000-10-11T14:32:52.123456Z",
        Level::Warn,
        "[pid 1234:tid 5678] AH00098: pid file overwritten",
        Format::Apache,
    );
}

#[test]
fn access_logs_get_their_level_from_the_status() {
    let line = r#"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://example.com/" "Mozilla/4.08""#;
    let (record, format) = parse(line);
    assert_eq!(format, Format::Apache);
    assert_eq!(record.timestamp, utc("2000-10-10T20:55:36Z"));
    assert_eq!(record.log_level, Level::Info);
    assert_eq!(record.message, line);
    assert_eq!(
        serde_json::Value::Object(record.extra),
        json!({"client": "127.0.0.1", "user": "frank", "method": "GET", "path": "/apache_pb.gif",
               "protocol": "HTTP/1.0", "status": 200, "bytes": 2326,
               "referer": "http://example.com/", "user_agent": "Mozilla/4.08"})
    );
    let (record, _) =
        parse(r#"10.0.0.9 - - [10/Oct/2000:13:55:36 +0000] "POST /login HTTP/1.1" 503 -"#);
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.extra["status"], json!(503));
    assert!(!record.extra.contains_key("bytes"));
    let (record, _) = parse(
        r#"example.com:80 10.0.0.9 - - [10/Oct/2000:13:55:36 +0000] "GET /x HTTP/1.1" 404 12"#,
    );
    assert_eq!(record.log_level, Level::Warn);
    assert_eq!(record.extra["vhost"], json!("example.com:80"));
}

#[test]
fn bsd_syslog_without_priority_and_the_year_rule() {
    // loghub Linux: no year; "now" is November 2026, so June is this year.
    let (record, format) = parse(
        "Jun 14 15:16:01 combo sshd(pam_unix)[19939]: authentication failure; logname= uid=0",
    );
    assert_eq!(format, Format::Syslog);
    assert_eq!(record.timestamp, utc("2026-06-14T15:16:01Z"));
    assert_eq!(record.log_level, Level::Info);
    assert_eq!(record.message, "authentication failure; logname= uid=0");
    assert_eq!(
        serde_json::Value::Object(record.extra),
        json!({"host": "combo", "app": "sshd(pam_unix)", "pid": "19939"})
    );
    // loghub OpenSSH: December read in late November is more than a week ahead: last year.
    let (record, _) = parse("Dec 10 06:55:46 LabSZ sshd[24200]: error: Received disconnect");
    assert_eq!(record.timestamp, utc("2025-12-10T06:55:46Z"));
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.message, "Received disconnect");
    // A few days ahead is clock skew, not last year.
    let (record, _) = parse("Nov 25 06:55:46 host cron: ok");
    assert_eq!(record.timestamp, utc("2026-11-25T06:55:46Z"));
    // Single-digit days are space padded.
    let (record, _) = parse("Jul  1 00:21:28 combo su: ok");
    assert_eq!(record.timestamp, utc("2026-07-01T00:21:28Z"));
}

#[test]
fn syslog_with_priority() {
    let (record, format) = parse("<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick");
    assert_eq!(format, Format::Syslog);
    assert_eq!(record.log_level, Level::Critical);
    assert_eq!(record.timestamp, utc("2026-10-11T22:14:15Z"));
    assert_eq!(record.message, "'su root' failed for lonvick");
    assert_eq!(record.extra["facility"], json!(4));
    let (record, format) = parse(
        r#"<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventID="1011"] An application event"#,
    );
    assert_eq!(format, Format::Syslog);
    assert_eq!(record.log_level, Level::Notice);
    assert_eq!(record.timestamp, utc("2003-10-11T22:14:15.003Z"));
    assert_eq!(record.message, "An application event");
    assert_eq!(
        serde_json::Value::Object(record.extra),
        json!({"facility": 20, "host": "mymachine.example.com", "app": "evntslog", "msgid": "ID47",
               "structured_data": r#"[exampleSDID@32473 iut="3" eventID="1011"]"#})
    );
    let (record, _) = parse("<13>1 - - - - - - \u{feff}hello");
    assert_eq!(record.timestamp, now());
    assert_eq!(record.message, "hello");
}

#[test]
fn json_lines() {
    let (record, format) = parse(
        r#"{"ts":1445144423722,"level":"warning","msg":"slow query","ms":812,"db":{"name":"main"}}"#,
    );
    assert_eq!(format, Format::Json);
    assert_eq!(record.timestamp, utc("2015-10-18T05:00:23.722Z"));
    assert_eq!(record.log_level, Level::Warn);
    assert_eq!(record.message, "slow query");
    assert_eq!(
        serde_json::Value::Object(record.extra),
        json!({"ms": 812, "db": {"name": "main"}})
    );
    // bunyan numeric levels, @timestamp strings.
    let (record, _) =
        parse(r#"{"@timestamp":"2019-03-05T10:57:51.112Z","level":50,"message":"x"}"#);
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.timestamp, utc("2019-03-05T10:57:51.112Z"));
    // An unreadable time stays as a field; no message key keeps the whole line.
    let line = r#"{"time":"yesterday","event":"boot"}"#;
    let (record, _) = parse(line);
    assert_eq!(record.timestamp, now());
    assert_eq!(record.message, line);
    assert_eq!(record.extra["time"], json!("yesterday"));
    // Not JSON after all: a raw line.
    let (record, format) = parse("{oops");
    assert_eq!(format, Format::Raw);
    assert_eq!(record.message, "{oops");
}

#[test]
fn logfmt_lines() {
    let (record, format) =
        parse(r#"time=2019-03-05T10:57:51Z level=error msg="payment \"declined\"" user=bob retry"#);
    assert_eq!(format, Format::Logfmt);
    assert_eq!(record.timestamp, utc("2019-03-05T10:57:51Z"));
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.message, r#"payment "declined""#);
    assert_eq!(
        serde_json::Value::Object(record.extra),
        json!({"user": "bob", "retry": true})
    );
    // After a leading timestamp.
    let (record, format) = parse("2019-03-05 10:57:51 lvl=warn msg=hot");
    assert_eq!(format, Format::Logfmt);
    assert_eq!(record.timestamp, utc("2019-03-05T10:57:51Z"));
    assert_eq!(record.log_level, Level::Warn);
}

#[test]
fn android_logcat() {
    check(
        "03-17 16:13:38.811  1702  2395 D WindowManager: printFreezingDisplayLogs",
        "2026-03-17T16:13:38.811Z",
        Level::Debug,
        "1702  2395 WindowManager: printFreezingDisplayLogs",
        Format::Logcat,
    );
    check(
        "E/AndroidRuntime( 2345): FATAL EXCEPTION: main",
        "2026-11-22T12:00:00Z",
        Level::Error,
        "AndroidRuntime( 2345): FATAL EXCEPTION: main",
        Format::Logcat,
    );
}

#[test]
fn raw_lines_get_the_default_level_and_the_read_time() {
    let config = ParserConfig {
        default_level: Level::Notice,
        ..ParserConfig::default()
    };
    for line in [
        "just some text",
        "A connection was reset",
        "Notice how it fails",
        "",
    ] {
        let (record, format) = parse_with(config.clone(), line);
        assert_eq!(format, Format::Raw, "{line:?}");
        assert_eq!(record.log_level, Level::Notice);
        assert_eq!(record.timestamp, now());
        assert_eq!(record.message, line);
    }
}

#[test]
fn invalid_utf8_is_decoded_lossily() {
    let mut parser = Parser::new(ParserConfig::default()).unwrap();
    let mut record = blank();
    parser.parse_into(
        b"2019-03-05 10:57:51 ERROR bad \xff byte",
        now(),
        &mut record,
    );
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.message, "bad \u{fffd} byte");
}

#[test]
fn the_zone_applies_to_times_without_one() {
    let config = ParserConfig {
        timezone: chrono_tz::Europe::Paris,
        ..ParserConfig::default()
    };
    let (record, _) = parse_with(config.clone(), "2019-07-05 10:57:51 INFO summer");
    assert_eq!(record.timestamp, utc("2019-07-05T08:57:51Z"));
    let (record, _) = parse_with(config, "2019-07-05T10:57:51Z INFO explicit zone wins");
    assert_eq!(record.timestamp, utc("2019-07-05T10:57:51Z"));
}

#[test]
fn user_pattern_with_extra_groups() {
    let config = ParserConfig {
        pattern: Some(
            r"^(?P<timestamp>\S+ \S+) <(?P<level>\w+)> (?P<service>\w+): (?P<message>.*)$".into(),
        ),
        ..ParserConfig::default()
    };
    let mut parser = Parser::new(config).unwrap();
    let mut record = blank();
    parser.parse_into(
        b"2019-03-05 10:57:51 <crit> billing: card store down",
        now(),
        &mut record,
    );
    assert_eq!(parser.detected(), Format::Pattern);
    assert_eq!(record.timestamp, utc("2019-03-05T10:57:51Z"));
    assert_eq!(record.log_level, Level::Critical);
    assert_eq!(record.message, "card store down");
    assert_eq!(record.extra["service"], json!("billing"));
    // Lines the pattern does not match are detected as usual.
    parser.parse_into(b"2019-03-05 10:57:51 WARN other", now(), &mut record);
    assert_eq!(parser.detected(), Format::Log4j);
    assert!(record.extra.is_empty());
}

#[test]
fn user_time_format() {
    let config = ParserConfig {
        time_format: Some("%d.%m.%Y %Hh%M".into()),
        ..ParserConfig::default()
    };
    let (record, _) = parse_with(config.clone(), "05.03.2019 10h57 ERROR boiler");
    assert_eq!(record.timestamp, utc("2019-03-05T10:57:00Z"));
    assert_eq!(record.log_level, Level::Error);
    assert_eq!(record.message, "boiler");
    // A format without a year follows the year rule.
    let config = ParserConfig {
        time_format: Some("%b/%d %H:%M:%S".into()),
        ..ParserConfig::default()
    };
    let (record, _) = parse_with(config, "Dec/24 10:00:00 INFO late");
    assert_eq!(record.timestamp, utc("2025-12-24T10:00:00Z"));
}

#[test]
fn bad_configurations_are_usage_errors() {
    let bad_pattern = ParserConfig {
        pattern: Some("(?P<message>".into()),
        ..ParserConfig::default()
    };
    assert!(Parser::new(bad_pattern).is_err());
    let no_pattern = ParserConfig {
        format: Format::Pattern,
        ..ParserConfig::default()
    };
    assert!(Parser::new(no_pattern).is_err());
    let bad_time = ParserConfig {
        time_format: Some("%Q".into()),
        ..ParserConfig::default()
    };
    assert!(Parser::new(bad_time).is_err());
}

#[test]
fn forced_formats_fall_back_to_raw_lines() {
    for format in [Format::Json, Format::Logfmt, Format::Syslog, Format::Apache] {
        let config = ParserConfig {
            format,
            ..ParserConfig::default()
        };
        let (record, detected) = parse_with(config, "nothing structured here");
        assert_eq!(detected, Format::Raw, "{format:?}");
        assert_eq!(record.message, "nothing structured here");
    }
    let raw = ParserConfig {
        format: Format::Raw,
        ..ParserConfig::default()
    };
    let (record, _) = parse_with(raw, "2019-03-05 10:57:51 ERROR kept whole");
    assert_eq!(record.timestamp, now());
    assert_eq!(record.log_level, Level::Info);
    assert_eq!(record.message, "2019-03-05 10:57:51 ERROR kept whole");
}

#[test]
fn timestamp_recognizers() {
    let clock = time::Clock {
        zone: Tz::UTC,
        now: now(),
    };
    for (text, expected) in [
        ("2015-10-18T18:01:47Z", "2015-10-18T18:01:47Z"),
        (
            "2015-10-18T18:01:47.123456789+02:00",
            "2015-10-18T16:01:47.123456789Z",
        ),
        ("2015-10-18 18:01:47 -0700", "2015-10-19T01:01:47Z"),
        ("2015-10-18 18:01", "2015-10-18T18:01:00Z"),
        ("10/Oct/2000:13:55:36 -0700", "2000-10-10T20:55:36Z"),
        ("03/05/2019 10:57:51", "2019-03-05T10:57:51Z"),
        ("17/06/09 20:10:40", "2017-06-09T20:10:40Z"),
        ("05.03.2019 10:57:51", "2019-03-05T10:57:51Z"),
        ("Sun Dec 04 04:47:44 2005", "2005-12-04T04:47:44Z"),
        ("081109 203615", "2008-11-09T20:36:15Z"),
        ("1445144423", "2015-10-18T05:00:23Z"),
        ("1445144423722", "2015-10-18T05:00:23.722Z"),
        ("15:16:01.5", "2026-11-22T15:16:01.500Z"),
        ("2016-12-31T23:59:60Z", "2016-12-31T23:59:59Z"),
    ] {
        let parsed = time::whole(text.as_bytes(), &clock).unwrap_or_else(|| panic!("{text}"));
        // A leap second reads as 23:59:59 plus a second of nanoseconds.
        assert_eq!(parsed.timestamp(), utc(expected).timestamp(), "{text}");
        assert_eq!(
            parsed.timestamp_subsec_nanos() % 1_000_000_000,
            utc(expected).timestamp_subsec_nanos() % 1_000_000_000,
            "{text}"
        );
    }
    for not_a_time in [
        "2015-13-18 18:01:47",
        "2015-10-18 25:01:47",
        "123456 1234567",
        "12345",
        "99999999999",
        "Mayday 14 15:16:01",
        "Jun 14",
        "2015-10-18T18:01:47+2",
    ] {
        assert_eq!(
            time::whole(not_a_time.as_bytes(), &clock),
            None,
            "{not_a_time}"
        );
    }
}

#[test]
fn every_line_gets_a_message() {
    for line in [
        "2019-03-05 10:57:51",
        "INFO",
        "[ERROR]",
        "<13>",
        "{}",
        "   ",
    ] {
        let (record, _) = parse(line);
        assert_eq!(record.message, line, "{line:?}");
    }
}

#[test]
fn more_layouts_the_rules_cover_without_knowing_them() {
    // Redis: a prefix before a day-month-year time.
    check(
        "1234:M 15 Jan 2024 10:30:00.123 * Ready to accept connections",
        "2024-01-15T10:30:00.123Z",
        Level::Info,
        "1234:M * Ready to accept connections",
        Format::Log4j,
    );
    // A host before the time, then a level.
    check(
        "web01 2024-01-15 10:30:00 ERROR upstream timed out",
        "2024-01-15T10:30:00Z",
        Level::Error,
        "web01 upstream timed out",
        Format::Log4j,
    );
    // Cassandra: level, thread, then the time.
    check(
        "INFO  [main] 2024-01-15 10:30:00,123 CassandraDaemon.java:123 - Starting",
        "2024-01-15T10:30:00.123Z",
        Level::Info,
        "[main] CassandraDaemon.java:123 - Starting",
        Format::Log4j,
    );
    // glog/klog.
    check(
        "W0115 10:30:00.123456    1234 main.go:42] slow sync",
        "2026-01-15T10:30:00.123456Z",
        Level::Warn,
        "1234 main.go:42] slow sync",
        Format::Log4j,
    );
    // PostgreSQL: a zone name after the time.
    check(
        "2024-01-15 10:30:00.123 UTC [1234] ERROR:  relation \"x\" does not exist",
        "2024-01-15T10:30:00.123Z",
        Level::Error,
        "[1234] relation \"x\" does not exist",
        Format::Log4j,
    );
    // Monolog keeps its channel.
    check(
        "[2024-01-15 10:30:00] production.WARNING: Slow query",
        "2024-01-15T10:30:00Z",
        Level::Warn,
        "production.WARNING: Slow query",
        Format::Log4j,
    );
    // rsyslog with an ISO timestamp.
    let (record, format) = parse("2024-01-15T10:30:00+00:00 web01 nginx[123]: worker exited");
    assert_eq!(format, Format::Syslog);
    assert_eq!(record.timestamp, utc("2024-01-15T10:30:00Z"));
    assert_eq!(record.message, "worker exited");
    // A time of day later in a line is not the event's time.
    let (record, format) = parse("job finished at 10:30:00 after retries");
    assert_eq!(format, Format::Raw);
    assert_eq!(record.timestamp, now());
}
