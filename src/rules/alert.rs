//! The alert ls-watch writes: one JSON object per line.
//!
//! ```json
//! {"alert":"errors","rule":"threshold","state":"firing","severity":"warning",
//!  "window":{"type":"sliding","length_ms":60000,"start":"...","end":"..."},
//!  "count":101,"threshold":100,"group":{"source":"web-1"},
//!  "first":"...","last":"...","samples":["id1","id2"],"late":0,"suppressed":0}
//! ```
//! `state` is `resolved` for the recovery notice that follows a threshold or absence alert once
//! the condition has cleared. `late` counts records of the group that arrived after the
//! out-of-order allowance and so were not counted; `suppressed` counts the times the rule fired
//! for the group within the re-alert interval since the previous alert.

use std::time::Duration;

use serde_json::{Map, Value, json};

use crate::record::format_timestamp;

/// How urgent an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    Critical,
    Warning,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Warning => "warning",
        }
    }

    pub fn parse(text: &str) -> Result<Severity, String> {
        match text {
            "critical" => Ok(Severity::Critical),
            "warning" => Ok(Severity::Warning),
            _ => Err(format!(
                "unknown severity {text:?} (expected critical or warning)"
            )),
        }
    }
}

/// Whether an alert raises or clears a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    Firing,
    Resolved,
}

/// The span an alert's count covers, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertWindow {
    pub kind: &'static str,
    pub length: Duration,
    pub start: i64,
    pub end: i64,
}

/// One alert or recovery notice.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub name: String,
    /// The rule kind's name: immediate, threshold, absence.
    pub rule: &'static str,
    pub state: AlertState,
    pub severity: Severity,
    pub window: Option<AlertWindow>,
    pub count: u64,
    pub threshold: u64,
    /// The group's key names and values, in the rule's order.
    pub group: Vec<(String, String)>,
    /// Event times (ns) of the first and last record the alert is about, when there are any.
    pub first: Option<i64>,
    pub last: Option<i64>,
    /// Ids of the most recent matching records.
    pub samples: Vec<String>,
    pub late: u64,
    pub suppressed: u64,
}

fn time_value(nanos: i64) -> Value {
    let mut out = Vec::with_capacity(32);
    format_timestamp(&chrono::DateTime::from_timestamp_nanos(nanos), &mut out);
    Value::String(String::from_utf8(out).expect("timestamps are ASCII"))
}

impl Alert {
    pub fn to_json(&self) -> Value {
        let group: Map<String, Value> = self
            .group
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        json!({
            "alert": self.name,
            "rule": self.rule,
            "state": match self.state {
                AlertState::Firing => "firing",
                AlertState::Resolved => "resolved",
            },
            "severity": self.severity.as_str(),
            "window": self.window.as_ref().map(|w| json!({
                "type": w.kind,
                "length_ms": w.length.as_millis() as u64,
                "start": time_value(w.start),
                "end": time_value(w.end),
            })),
            "count": self.count,
            "threshold": self.threshold,
            "group": group,
            "first": self.first.map(time_value),
            "last": self.last.map(time_value),
            "samples": self.samples,
            "late": self.late,
            "suppressed": self.suppressed,
        })
    }

    /// The alert as one JSON line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = self.to_json().to_string();
        line.push('\n');
        line
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_json_has_the_documented_fields() {
        let alert = Alert {
            name: "errors".into(),
            rule: "threshold",
            state: AlertState::Firing,
            severity: Severity::Warning,
            window: Some(AlertWindow {
                kind: "sliding",
                length: Duration::from_secs(60),
                start: 0,
                end: 60_000_000_000,
            }),
            count: 101,
            threshold: 100,
            group: vec![("source".into(), "web \"1\"".into())],
            first: Some(1_000_000),
            last: Some(59_000_000_000),
            samples: vec!["a".into()],
            late: 2,
            suppressed: 0,
        };
        let line = alert.to_line();
        assert!(line.ends_with('\n') && !line[..line.len() - 1].contains('\n'));
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["alert"], "errors");
        assert_eq!(v["severity"], "warning");
        assert_eq!(v["state"], "firing");
        assert_eq!(v["count"], 101);
        assert_eq!(v["threshold"], 100);
        assert_eq!(v["group"]["source"], "web \"1\"");
        assert_eq!(v["window"]["end"], "1970-01-01T00:01:00.000Z");
        assert_eq!(v["first"], "1970-01-01T00:00:00.001Z");
        assert_eq!(v["samples"][0], "a");
        assert_eq!(v["late"], 2);
    }
}
