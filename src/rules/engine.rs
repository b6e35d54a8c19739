//! The rule engine: records and clock ticks in, alerts out.
//!
//! The engine never reads a clock itself: every call passes the wall-clock time, so tests drive
//! time by hand and backtests run on event time alone. Threshold alerts fire as soon as a
//! window's count passes the threshold; recovery notices and absence alerts are decided at the
//! watermark, which [`Engine::feed`] moves with the data and [`Engine::tick`] with the wall clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
// Group keys are hashed for every matching record: a fast hash, as in the rest of the crate.
use xxhash_rust::xxh3::Xxh3DefaultBuilder;

use crate::record::Record;
use crate::seen_lines::SeenLines;

use super::alert::{Alert, AlertState, AlertWindow};
use super::rule::{GROUP_SEPARATOR, Rule, RuleKind, WindowKind};
use super::window::{Clock, SlidingCounter, TumblingCounter, WindowCount, nanos};

pub use super::window::TimeMode;

/// How the engine keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EngineOptions {
    pub mode: TimeMode,
    /// Let the wall clock move event time on while no record arrives (off for backtests).
    pub idle_close: bool,
}

/// Ids of the most recent records of a group since its last alert, for an alert's `samples`.
#[derive(Debug, Default)]
struct Samples {
    ids: Vec<String>,
    next: usize,
}

impl Samples {
    const KEPT: usize = 5;

    fn push(&mut self, id: &str) {
        if self.ids.len() < Self::KEPT {
            self.ids.push(id.to_owned());
        } else {
            // Reuse the oldest slot's allocation: this runs for every matching record.
            let slot = &mut self.ids[self.next];
            slot.clear();
            slot.push_str(id);
        }
        self.next = (self.next + 1) % Self::KEPT;
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.next = 0;
    }

    /// Oldest first.
    fn ordered(&self) -> Vec<String> {
        let (newer, older) = self.ids.split_at(self.next.min(self.ids.len()));
        older.iter().chain(newer).cloned().collect()
    }
}

#[derive(Debug)]
enum Counter {
    None,
    Sliding(SlidingCounter),
    Tumbling(TumblingCounter),
}

/// One rule's state for one group.
#[derive(Debug)]
struct Group {
    counter: Counter,
    samples: Samples,
    /// The rule's condition holds now.
    firing: bool,
    /// An alert went out for the current condition and no recovery notice yet.
    notified: bool,
    last_alert: Option<i64>,
    suppressed: u64,
    late: u64,
    /// Absence: the latest time a record of the group was seen.
    last_seen: i64,
    /// Tumbling: the end of the latest window over the threshold.
    last_exceeded_end: i64,
}

impl Group {
    fn new(kind: &RuleKind) -> Group {
        Group {
            counter: match kind {
                RuleKind::Threshold {
                    kind: WindowKind::Sliding,
                    ..
                } => Counter::Sliding(SlidingCounter::default()),
                RuleKind::Threshold {
                    kind: WindowKind::Tumbling,
                    ..
                } => Counter::Tumbling(TumblingCounter::default()),
                _ => Counter::None,
            },
            samples: Samples::default(),
            firing: false,
            notified: false,
            last_alert: None,
            suppressed: 0,
            late: 0,
            last_seen: i64::MIN,
            last_exceeded_end: i64::MIN,
        }
    }

    fn may_alert(&self, now: i64, realert: i64) -> bool {
        self.last_alert
            .is_none_or(|t| now.saturating_sub(t) >= realert)
    }

    /// Nothing worth keeping: no counts, no open condition, no suppression running.
    fn is_idle(&self, now: i64, realert: i64) -> bool {
        let counter_empty = match &self.counter {
            Counter::None => true,
            Counter::Sliding(c) => c.is_empty(),
            Counter::Tumbling(c) => c.is_empty(),
        };
        counter_empty && !self.firing && !self.notified && self.may_alert(now, realert)
    }
}

/// A rule and how it turns conditions into alerts.
struct Policy {
    rule: Rule,
    realert: i64,
}

/// A rule with its groups.
struct RuleState {
    policy: Policy,
    groups: HashMap<String, Group, Xxh3DefaultBuilder>,
}

/// What an alert says about its window and records, apart from the rule and group.
struct Finding {
    state: AlertState,
    window: Option<AlertWindow>,
    count: u64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Policy {
    fn threshold(&self) -> u64 {
        match self.rule.kind {
            RuleKind::Threshold { more_than, .. } => more_than,
            _ => 0,
        }
    }

    fn alert(&self, key: &str, group: &mut Group, finding: Finding, now: i64) -> Alert {
        if finding.state == AlertState::Firing {
            group.last_alert = Some(now);
            group.notified = true;
        }
        let values: Vec<&str> = if self.rule.group_by.is_empty() {
            Vec::new()
        } else {
            key.split(GROUP_SEPARATOR).collect()
        };
        let alert = Alert {
            name: self.rule.name.clone(),
            rule: self.rule.kind.name(),
            state: finding.state,
            severity: self.rule.severity,
            window: finding.window,
            count: finding.count,
            threshold: self.threshold(),
            group: self
                .rule
                .group_by
                .iter()
                .zip(values)
                .map(|(k, v)| (k.name().to_string(), v.to_string()))
                .collect(),
            first: finding.first,
            last: finding.last,
            samples: group.samples.ordered(),
            late: group.late,
            suppressed: group.suppressed,
        };
        // Each alert tells of the records since the group's previous one.
        group.samples.clear();
        group.late = 0;
        group.suppressed = 0;
        alert
    }

    /// The condition holds at `now`: alert unless suppressed (a new condition within the
    /// re-alert interval) or already told (an ongoing one, until the interval has passed).
    fn condition_holds(
        &self,
        key: &str,
        group: &mut Group,
        finding: Finding,
        now: i64,
    ) -> Option<Alert> {
        let newly = !group.firing;
        group.firing = true;
        if group.may_alert(now, self.realert) {
            return Some(self.alert(key, group, finding, now));
        }
        if newly {
            group.suppressed += 1;
        }
        None
    }

    /// The condition no longer holds: a recovery notice if an alert went out for it.
    fn condition_clears(
        &self,
        key: &str,
        group: &mut Group,
        finding: Finding,
        now: i64,
    ) -> Option<Alert> {
        let was_notified = group.firing && group.notified;
        group.firing = false;
        group.notified = false;
        was_notified.then(|| self.alert(key, group, finding, now))
    }

    fn window_finding(&self, state: AlertState, w: WindowCount) -> Finding {
        let (length, kind) = match self.rule.kind {
            RuleKind::Threshold { window, kind, .. } => (window, kind.name()),
            RuleKind::Absence { after } => (after, "absence"),
            RuleKind::Immediate => (std::time::Duration::ZERO, "instant"),
        };
        Finding {
            state,
            window: Some(AlertWindow {
                kind,
                length,
                start: w.start,
                end: w.end,
            }),
            count: w.count,
            first: (w.count > 0).then_some(w.first),
            last: (w.count > 0).then_some(w.last),
        }
    }
}

/// Where a record falls, as the engine has placed it.
#[derive(Clone, Copy)]
struct At {
    time: i64,
    late: bool,
    now: i64,
    watermark: i64,
}

impl RuleState {
    /// Counts one matching record of group `key`.
    fn feed(&mut self, key: &str, record: &Record, at: At) -> Option<Alert> {
        let policy = &self.policy;
        let group = match self.groups.get_mut(key) {
            Some(group) => group,
            None => self
                .groups
                .entry(key.to_owned())
                .or_insert_with(|| Group::new(&policy.rule.kind)),
        };
        group.samples.push(&record.id);
        let At {
            time,
            late,
            now,
            watermark,
        } = at;
        match &policy.rule.kind {
            RuleKind::Immediate => {
                if group.may_alert(now, policy.realert) {
                    let finding = Finding {
                        state: AlertState::Firing,
                        window: None,
                        count: 1,
                        first: Some(time),
                        last: Some(time),
                    };
                    Some(policy.alert(key, group, finding, now))
                } else {
                    group.suppressed += 1;
                    None
                }
            }
            RuleKind::Absence { .. } => {
                group.last_seen = group.last_seen.max(time);
                let w = WindowCount {
                    start: time,
                    end: time,
                    count: 1,
                    first: time,
                    last: time,
                };
                let finding = policy.window_finding(AlertState::Resolved, w);
                policy.condition_clears(key, group, finding, now)
            }
            RuleKind::Threshold {
                more_than, window, ..
            } => {
                if late {
                    group.late += 1;
                    None
                } else {
                    let length = nanos(*window);
                    let w = match &mut group.counter {
                        Counter::Sliding(c) => {
                            c.evict(watermark, length);
                            c.insert(time, length)
                        }
                        Counter::Tumbling(c) => c.insert(time, length),
                        Counter::None => unreachable!("threshold groups have a counter"),
                    };
                    if w.count > *more_than {
                        group.last_exceeded_end = group.last_exceeded_end.max(w.end);
                        let finding = policy.window_finding(AlertState::Firing, w);
                        policy.condition_holds(key, group, finding, now)
                    } else {
                        None
                    }
                }
            }
        }
    }

    /// Decides what the watermark settles: recoveries, closed windows, absences.
    fn evaluate(&mut self, watermark: i64, now: i64, alerts: &mut Vec<Alert>) {
        let policy = &self.policy;
        for (key, group) in self.groups.iter_mut() {
            let alert = match &policy.rule.kind {
                RuleKind::Threshold {
                    more_than, window, ..
                } => {
                    let length = nanos(*window);
                    let cleared = match &mut group.counter {
                        Counter::Sliding(c) => {
                            c.evict(watermark, length);
                            // Only windows ending after the last one over the threshold tell
                            // that the condition cleared.
                            let w = c.count_in(watermark, length);
                            (watermark >= group.last_exceeded_end && w.count <= *more_than)
                                .then_some(w)
                        }
                        Counter::Tumbling(c) => {
                            // The window after the last one over the threshold closed below it.
                            let start = group.last_exceeded_end;
                            let end = start.saturating_add(length);
                            let closed = (watermark >= end).then(|| {
                                c.window_at(start).unwrap_or(WindowCount {
                                    start,
                                    end,
                                    count: 0,
                                    first: start,
                                    last: start,
                                })
                            });
                            c.close(watermark);
                            closed
                        }
                        Counter::None => None,
                    };
                    match cleared {
                        Some(w) if group.firing => {
                            let finding = policy.window_finding(AlertState::Resolved, w);
                            policy.condition_clears(key, group, finding, now)
                        }
                        _ => None,
                    }
                }
                RuleKind::Absence { after } => {
                    if watermark.saturating_sub(group.last_seen) >= nanos(*after) {
                        let w = WindowCount {
                            start: group.last_seen,
                            end: watermark,
                            count: 0,
                            first: group.last_seen,
                            last: group.last_seen,
                        };
                        let mut finding = policy.window_finding(AlertState::Firing, w);
                        finding.first = Some(group.last_seen);
                        finding.last = Some(group.last_seen);
                        policy.condition_holds(key, group, finding, now)
                    } else {
                        None
                    }
                }
                RuleKind::Immediate => None,
            };
            alerts.extend(alert);
        }
        let realert = policy.realert;
        if !matches!(policy.rule.kind, RuleKind::Absence { .. }) {
            self.groups.retain(|_, g| !g.is_idle(now, realert));
        }
    }
}

/// Evaluates a set of rules over a record stream.
pub struct Engine {
    clock: Clock,
    rules: Vec<RuleState>,
    /// Scratch space for group keys, reused for every record.
    key: String,
    late: u64,
    /// The lines of tailed files fed: a copy sent again is counted once.
    seen: SeenLines,
    duplicates: u64,
    /// The watermark at which to evaluate next, so that recoveries and absences are decided as
    /// event time moves on, also without wall-clock ticks (backtests).
    next_evaluation: i64,
}

impl Engine {
    /// Event time between evaluations driven by the data.
    const EVALUATION_STEP: i64 = 1_000_000_000;

    pub fn new(rules: Vec<Rule>, options: EngineOptions) -> Engine {
        Engine {
            clock: Clock::new(options.mode, options.idle_close),
            rules: rules
                .into_iter()
                .map(|rule| RuleState {
                    policy: Policy {
                        realert: nanos(rule.realert),
                        rule,
                    },
                    groups: HashMap::default(),
                })
                .collect(),
            key: String::new(),
            late: 0,
            seen: SeenLines::default(),
            duplicates: 0,
            next_evaluation: i64::MIN,
        }
    }

    /// Runs one record read at wall time `wall` through every rule; a copy of a line of a tailed
    /// file fed already (same file identity and LSN) is only counted as a duplicate.
    pub fn feed(&mut self, record: &Record, wall: i64, alerts: &mut Vec<Alert>) {
        if let Some(origin) = &record.origin {
            let file = self.seen.file(&origin.fid);
            if self.seen.contains(file, origin.lsn) {
                self.duplicates += 1;
                return;
            }
            self.seen.insert(file, origin.lsn);
        }
        let placed = self.clock.place(event_nanos(&record.timestamp), wall);
        self.late += u64::from(placed.late);
        let at = At {
            time: placed.time,
            late: placed.late,
            now: self.clock.now(),
            watermark: self.clock.watermark(),
        };
        for state in &mut self.rules {
            if !state.policy.rule.matcher.matches(record) {
                continue;
            }
            state.policy.rule.group_of(record, &mut self.key);
            alerts.extend(state.feed(&self.key, record, at));
        }
        let watermark = at.watermark;
        if watermark >= self.next_evaluation {
            self.evaluate(alerts);
        }
    }

    /// Lets wall time `wall` pass: closes windows and notices absences on an idle input.
    pub fn tick(&mut self, wall: i64, alerts: &mut Vec<Alert>) {
        self.clock.tick(wall);
        self.evaluate(alerts);
    }

    /// End of input: decides everything up to the latest record's time.
    pub fn finish(&mut self, alerts: &mut Vec<Alert>) {
        self.clock.finish();
        self.evaluate(alerts);
    }

    /// Records that arrived later than the out-of-order allowance.
    pub fn late(&self) -> u64 {
        self.late
    }

    /// Copies of lines fed already, not counted again.
    pub fn duplicates(&self) -> u64 {
        self.duplicates
    }

    fn evaluate(&mut self, alerts: &mut Vec<Alert>) {
        let (now, watermark) = (self.clock.now(), self.clock.watermark());
        for state in &mut self.rules {
            state.evaluate(watermark, now, alerts);
        }
        self.next_evaluation = watermark.saturating_add(Self::EVALUATION_STEP);
    }
}

/// A timestamp in nanoseconds, clamped for times outside ±292 years of 1970.
fn event_nanos(ts: &DateTime<Utc>) -> i64 {
    ts.timestamp_nanos_opt().unwrap_or(if ts.timestamp() < 0 {
        i64::MIN
    } else {
        i64::MAX
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::record::{Category, Level};
    use crate::rules::config::{absent_flag, critical_at, default_rules, threshold_flag};

    const S: i64 = 1_000_000_000;
    const MS: i64 = 1_000_000;
    /// A wall-clock start far from the event times, to show which clock decides.
    const WALL: i64 = 1_000_000 * S;

    fn rec(at: i64, level: Level, source: &str) -> Record {
        Record {
            timestamp: DateTime::from_timestamp_nanos(at),
            log_level: level,
            message: "m".into(),
            source: source.into(),
            category: Category::new("app").unwrap(),
            id: format!("{source}@{at}"),
            origin: None,
            extra: serde_json::Map::new(),
        }
    }

    fn event_engine(rules: Vec<Rule>, allowance: Duration, idle_close: bool) -> Engine {
        Engine::new(
            rules,
            EngineOptions {
                mode: TimeMode::Event { allowance },
                idle_close,
            },
        )
    }

    /// Feeds records all read at wall time `wall`; returns the alerts.
    fn feed_all(engine: &mut Engine, records: &[Record], wall: i64) -> Vec<Alert> {
        let mut alerts = Vec::new();
        for r in records {
            engine.feed(r, wall, &mut alerts);
        }
        alerts
    }

    fn errors_at(times: impl IntoIterator<Item = i64>, source: &str) -> Vec<Record> {
        times
            .into_iter()
            .map(|t| rec(t, Level::Error, source))
            .collect()
    }

    #[test]
    fn immediate_rule_alerts_on_every_critical_record() {
        let mut engine = event_engine(default_rules(None), Duration::ZERO, false);
        let alerts = feed_all(
            &mut engine,
            &[
                rec(S, Level::Error, "a"),
                rec(2 * S, Level::Critical, "a"),
                rec(3 * S, Level::Critical, "b"),
            ],
            WALL,
        );
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[0].name, "critical");
        assert_eq!(alerts[0].severity, crate::rules::Severity::Critical);
        assert_eq!(alerts[0].samples, vec![format!("a@{}", 2 * S)]);
        assert_eq!(alerts[1].first, Some(3 * S));
        // Each alert names its own record, not those of the alerts before it.
        assert_eq!(alerts[1].samples, vec![format!("b@{}", 3 * S)]);
    }

    #[test]
    fn a_line_sent_again_is_counted_once() {
        let rules = vec![
            critical_at(Level::Critical, None),
            threshold_flag("ERROR+ >2 in 1m", None).unwrap(),
        ];
        // Copies arrive out of order: within the allowance, so that they are not late.
        let allowance = Duration::from_secs(60);
        let line = |lsn: u64, level| Record {
            origin: Some(crate::record::Origin {
                file: "/var/log/app.log".into(),
                fid: "f1".into(),
                lsn,
                offset: lsn * 100,
                crc: None,
            }),
            ..rec(lsn as i64 * S, level, "a")
        };
        // An error and a critical line, then the same two again (a shipper's re-send), between
        // lines no rule counts.
        let sent = [line(1, Level::Error), line(2, Level::Critical)];
        let mut stream = sent.to_vec();
        stream.push(line(3, Level::Info));
        stream.extend(sent);
        stream.push(line(4, Level::Info));

        let mut engine = event_engine(rules.clone(), allowance, false);
        let alerts = feed_all(&mut engine, &stream, WALL);
        let names: Vec<&str> = alerts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["critical"]);
        assert_eq!(engine.duplicates(), 2);

        // Records that do not say which line they are all count: the copies raise the critical
        // alert again and cross the threshold.
        let anonymous: Vec<Record> = (stream.into_iter())
            .map(|record| Record {
                origin: None,
                ..record
            })
            .collect();
        let mut engine = event_engine(rules, allowance, false);
        let alerts = feed_all(&mut engine, &anonymous, WALL);
        assert_eq!(alerts.len(), 3);
        assert_eq!(engine.duplicates(), 0);
    }

    #[test]
    fn immediate_rule_with_realert_suppresses_and_counts() {
        let mut engine = event_engine(
            vec![critical_at(Level::Error, Some(Duration::from_secs(10)))],
            Duration::ZERO,
            false,
        );
        let records: Vec<Record> = (0..5).map(|i| rec(i * S, Level::Error, "a")).collect();
        assert_eq!(feed_all(&mut engine, &records, WALL).len(), 1);
        let alerts = feed_all(&mut engine, &[rec(10 * S, Level::Critical, "a")], WALL);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].suppressed, 4);
    }

    #[test]
    fn exactly_one_hundred_in_a_minute_is_not_more_than_one_hundred() {
        let mut engine = event_engine(default_rules(None), Duration::ZERO, false);
        // 100 errors spread over [0, 59.4 s]: at the threshold, not over it.
        let hundred = errors_at((0..100).map(|i| i * 600 * MS), "a");
        assert!(feed_all(&mut engine, &hundred, WALL).is_empty());
        // The 101st within the same minute fires.
        let alerts = feed_all(&mut engine, &errors_at([59_999 * MS], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(
            (a.name.as_str(), a.count, a.threshold),
            ("errors", 101, 100)
        );
        assert_eq!((a.first, a.last), (Some(0), Some(59_999 * MS)));
        assert_eq!(a.state, AlertState::Firing);
        assert_eq!(a.samples.len(), 5);
    }

    #[test]
    fn a_record_one_window_after_the_first_does_not_share_its_window() {
        let mut engine = event_engine(default_rules(None), Duration::ZERO, false);
        let mut records = errors_at([0], "a");
        records.extend(errors_at((0..99).map(|i| (i + 1) * 500 * MS), "a"));
        // At exactly 60 s the record at 0 s has left the window (t - 60 s, t].
        records.extend(errors_at([60 * S], "a"));
        assert!(feed_all(&mut engine, &records, WALL).is_empty());
        // One more in the same window makes 101.
        assert_eq!(
            feed_all(&mut engine, &errors_at([60 * S], "a"), WALL).len(),
            1
        );
    }

    #[test]
    fn tumbling_windows_split_at_the_boundary() {
        let rule = threshold_flag("ERROR+ >100 in 1m tumbling", None).unwrap();
        let mut engine = event_engine(vec![rule], Duration::ZERO, false);
        // 100 in [0, 60 s) and 100 in [60 s, 120 s): 200 within a minute's span, but no window
        // holds more than 100.
        let records = errors_at((0..200).map(|i| 30 * S + i * 300 * MS), "a");
        assert!(feed_all(&mut engine, &records, WALL).is_empty());
        let alerts = feed_all(&mut engine, &errors_at([119_999 * MS], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        let w = alerts[0].window.as_ref().unwrap();
        assert_eq!((w.kind, w.start, w.end), ("tumbling", 60 * S, 120 * S));
        assert_eq!(alerts[0].count, 101);
    }

    #[test]
    fn out_of_order_records_within_the_allowance_count() {
        let rule = threshold_flag(">2 in 10s", None).unwrap();
        let mut engine = event_engine(vec![rule], Duration::from_secs(5), false);
        assert!(feed_all(&mut engine, &errors_at([20 * S, 29 * S], "a"), WALL).is_empty());
        // 25 s arrives after 29 s: 4 s out of order, within the 5 s allowance.
        let alerts = feed_all(&mut engine, &errors_at([25 * S], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].count, alerts[0].last), (3, Some(29 * S)));
        assert_eq!(engine.late(), 0);
    }

    #[test]
    fn late_records_are_counted_not_windowed() {
        let rule = threshold_flag(">2 in 10s", Some(Duration::ZERO)).unwrap();
        let mut engine = event_engine(vec![rule], Duration::from_secs(5), false);
        assert!(feed_all(&mut engine, &errors_at([20 * S, 30 * S], "a"), WALL).is_empty());
        // 22 s is 8 s behind 30 s: late. It would have made 3 in (20 s, 30 s].
        assert!(feed_all(&mut engine, &errors_at([22 * S, 23 * S], "a"), WALL).is_empty());
        assert_eq!(engine.late(), 2);
        // The next alert of the group says how many of its records were late.
        let alerts = feed_all(&mut engine, &errors_at([31 * S, 32 * S], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].count, alerts[0].late), (3, 2));
    }

    #[test]
    fn suppression_and_recovery() {
        let rule = threshold_flag("ERROR+ >2 in 10s", Some(Duration::from_secs(60))).unwrap();
        let mut engine = event_engine(vec![rule], Duration::ZERO, false);
        let alerts = feed_all(&mut engine, &errors_at([0, S, 2 * S, 3 * S], "a"), WALL);
        assert_eq!(alerts.len(), 1, "an ongoing condition alerts once");
        // At 13 s only the record at 3 s... is gone too: the window (3 s, 13 s] is empty.
        let mut alerts = feed_all(&mut engine, &[rec(13 * S, Level::Info, "a")], WALL);
        engine.finish(&mut alerts);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].state, AlertState::Resolved);
        assert_eq!(alerts[0].count, 0);
        // Over the threshold again 20 s after the alert: suppressed, and no recovery follows.
        let mut alerts = feed_all(&mut engine, &errors_at([20 * S, 21 * S, 22 * S], "a"), WALL);
        feed_all(&mut engine, &[rec(40 * S, Level::Info, "a")], WALL);
        engine.finish(&mut alerts);
        assert!(alerts.is_empty(), "{alerts:?}");
        // 60 s after the alert it may fire again, and says one was suppressed.
        let alerts = feed_all(&mut engine, &errors_at([61 * S, 62 * S, 63 * S], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].suppressed, 1);
    }

    #[test]
    fn an_ongoing_condition_realerts_after_the_interval() {
        let rule = threshold_flag(">2 in 10s", Some(Duration::from_secs(30))).unwrap();
        let mut engine = event_engine(vec![rule], Duration::ZERO, false);
        let records = errors_at((0..60).map(|i| i * S), "a");
        let alerts = feed_all(&mut engine, &records, WALL);
        let firsts: Vec<i64> = alerts.iter().map(|a| a.last.unwrap() / S).collect();
        assert_eq!(firsts, vec![2, 32]);
    }

    #[test]
    fn groups_count_separately() {
        let rule = threshold_flag("ERROR+ >100 in 1m by source", None).unwrap();
        let mut engine = event_engine(vec![rule], Duration::ZERO, false);
        let mut records = Vec::new();
        for i in 0..60 {
            records.extend(errors_at([i * S], "b"));
            records.extend(errors_at([i * S], "c"));
        }
        assert!(feed_all(&mut engine, &records, WALL).is_empty());
        let alerts = feed_all(
            &mut engine,
            &errors_at((0..101).map(|i| 60 * S + i * MS), "a"),
            WALL,
        );
        assert_eq!(alerts.len(), 1);
        assert_eq!(
            alerts[0].group,
            vec![("source".to_string(), "a".to_string())]
        );
    }

    #[test]
    fn absence_alerts_for_a_quiet_source_and_clears_when_it_returns() {
        let rule = absent_flag("5m by source", None).unwrap();
        let mut engine = event_engine(vec![rule], Duration::ZERO, false);
        let mut alerts = Vec::new();
        for minute in 0..10 {
            engine.feed(&rec(minute * 60 * S, Level::Info, "a"), WALL, &mut alerts);
            if minute < 2 {
                engine.feed(&rec(minute * 60 * S, Level::Info, "b"), WALL, &mut alerts);
            }
        }
        assert_eq!(alerts.len(), 1, "{alerts:?}");
        assert_eq!(alerts[0].rule, "absence");
        assert_eq!(alerts[0].group[0].1, "b");
        assert_eq!(alerts[0].last, Some(60 * S));
        engine.feed(&rec(600 * S, Level::Info, "b"), WALL, &mut alerts);
        assert_eq!(alerts.len(), 2);
        assert_eq!(alerts[1].state, AlertState::Resolved);
    }

    #[test]
    fn idle_input_closes_windows_on_the_wall_clock() {
        let rule = threshold_flag(">2 in 1m", None).unwrap();
        // Processing time, with the wall clock driven by hand.
        let mut engine = Engine::new(
            vec![rule.clone()],
            EngineOptions {
                mode: TimeMode::Processing,
                idle_close: true,
            },
        );
        let alerts = feed_all(&mut engine, &errors_at([0, 0, 0], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        let mut alerts = Vec::new();
        engine.tick(WALL + 59 * S, &mut alerts);
        assert!(alerts.is_empty());
        engine.tick(WALL + 60 * S, &mut alerts);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].state, AlertState::Resolved);

        // Event time: the wall clock carries event time on while nothing arrives.
        let mut engine = event_engine(vec![rule.clone()], Duration::from_secs(5), true);
        let alerts = feed_all(&mut engine, &errors_at([0, 0, 0], "a"), WALL);
        assert_eq!(alerts.len(), 1);
        let mut alerts = Vec::new();
        engine.tick(WALL + 64 * S, &mut alerts);
        assert!(alerts.is_empty());
        engine.tick(WALL + 65 * S, &mut alerts);
        assert_eq!(alerts.len(), 1);

        // A backtest ignores the wall clock; the end of input decides.
        let mut engine = event_engine(vec![rule], Duration::from_secs(5), false);
        feed_all(&mut engine, &errors_at([0, 0, 0], "a"), WALL);
        let mut alerts = Vec::new();
        engine.tick(WALL + 3600 * S, &mut alerts);
        assert!(alerts.is_empty());
    }

    #[test]
    fn absence_is_noticed_on_an_idle_input() {
        let rule = absent_flag("5m", None).unwrap();
        let mut engine = event_engine(vec![rule], Duration::from_secs(5), true);
        feed_all(&mut engine, &[rec(0, Level::Info, "a")], WALL);
        let mut alerts = Vec::new();
        engine.tick(WALL + 304 * S, &mut alerts);
        assert!(alerts.is_empty());
        engine.tick(WALL + 305 * S, &mut alerts);
        assert_eq!(alerts.len(), 1);
        assert!(alerts[0].group.is_empty());
    }
}
