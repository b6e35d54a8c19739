//! Joining continuation lines (stack traces) into one event.
//!
//! A line *continues* the current event when it matches the rule: by default, when it starts with
//! whitespace, `Caused by:` or `...`; with `--multiline-start REGEX`, when it does not match the
//! regex that starts events. An event is emitted when the next event starts, when it reaches
//! `max_lines`, or when no line has arrived for the flush timeout (the caller asks [`Joiner::due`]).
//! The emitted event carries its last line's LSN, offset and crc, so a resume after it never
//! splits it.

use std::time::{Duration, Instant};

use regex::bytes::Regex;

use super::reader::Line;

/// How continuation lines are recognized, and when a pending event is flushed.
#[derive(Debug, Clone)]
pub struct MultilineConfig {
    /// Lines matching this start a new event; `None`: the stack-trace rule.
    pub start: Option<Regex>,
    pub timeout: Duration,
    pub max_lines: usize,
    /// The most bytes of an event's text: the rest is cut off, as a line's past `max_line`, so
    /// that joined lines can neither exhaust memory nor make a record no stage reads.
    pub max_bytes: usize,
}

impl MultilineConfig {
    fn continues(&self, line: &[u8]) -> bool {
        match &self.start {
            Some(start) => !start.is_match(line),
            None => {
                line.first().is_some_and(|b| *b == b' ' || *b == b'\t')
                    || line.starts_with(b"Caused by:")
                    || line.starts_with(b"...")
            }
        }
    }
}

/// A joined event: its lines separated by `\n`, and where its last line ends.
#[derive(Debug, Default)]
pub struct Event {
    pub text: Vec<u8>,
    pub lines: usize,
    pub lsn: u64,
    pub end: u64,
    pub crc: u32,
    /// The text was cut at `max_bytes`.
    pub cut: bool,
}

/// The pending event of one file.
#[derive(Debug, Default)]
pub struct Joiner {
    pending: Event,
    last_line_at: Option<Instant>,
}

impl Joiner {
    /// Adds a line; calls `emit` with the previous event when this line starts a new one, or with
    /// the current event when it reached `max_lines`.
    pub fn push(&mut self, config: &MultilineConfig, line: &Line, emit: &mut impl FnMut(&Event)) {
        if self.pending.lines > 0 && !config.continues(line.bytes) {
            self.flush(emit);
        }
        if self.pending.lines > 0 {
            self.pending.text.push(b'\n');
        }
        self.pending.text.extend_from_slice(line.bytes);
        if self.pending.text.len() > config.max_bytes {
            self.pending.text.truncate(config.max_bytes);
            self.pending.cut = true;
        }
        self.pending.lines += 1;
        self.pending.lsn = line.lsn;
        self.pending.end = line.end;
        self.pending.crc = line.crc;
        self.last_line_at = Some(Instant::now());
        if self.pending.lines >= config.max_lines {
            self.flush(emit);
        }
    }

    /// True when an event is pending and no line arrived for the timeout.
    pub fn due(&self, config: &MultilineConfig, now: Instant) -> bool {
        self.pending.lines > 0
            && self
                .last_line_at
                .is_some_and(|t| now.duration_since(t) >= config.timeout)
    }

    /// Emits the pending event, if any.
    pub fn flush(&mut self, emit: &mut impl FnMut(&Event)) {
        if self.pending.lines > 0 {
            emit(&self.pending);
            self.pending.text.clear();
            self.pending.lines = 0;
            self.pending.cut = false;
            self.last_line_at = None;
        }
    }

    pub fn is_empty(&self) -> bool {
        self.pending.lines == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: &MultilineConfig, lines: &[&str]) -> Vec<(String, u64)> {
        let mut joiner = Joiner::default();
        let mut out = Vec::new();
        let mut emit = |e: &Event| out.push((String::from_utf8(e.text.clone()).unwrap(), e.lsn));
        for (i, l) in lines.iter().enumerate() {
            let line = Line {
                bytes: l.as_bytes(),
                lsn: i as u64 + 1,
                end: 0,
                crc: 0,
            };
            joiner.push(config, &line, &mut emit);
        }
        joiner.flush(&mut emit);
        out
    }

    #[test]
    fn stack_traces_join_and_carry_their_last_lsn() {
        let config = MultilineConfig {
            start: None,
            timeout: Duration::from_secs(1),
            max_lines: 100,
            max_bytes: 1 << 20,
        };
        let out = run(
            &config,
            &[
                "ERROR boom",
                "\tat a.b(C.java:1)",
                "Caused by: x",
                "\t... 3 more",
                "INFO next",
            ],
        );
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].1, 4);
        assert!(out[0].0.starts_with("ERROR boom\n\tat a.b"));
        assert_eq!(out[1], ("INFO next".to_string(), 5));
    }

    #[test]
    fn a_start_regex_and_max_lines_bound_events() {
        let config = MultilineConfig {
            start: Some(Regex::new(r"^\d{4}-").unwrap()),
            timeout: Duration::from_secs(1),
            max_lines: 3,
            max_bytes: 1 << 20,
        };
        let out = run(&config, &["2026- a", "x", "y", "z", "2026- b"]);
        let lsns: Vec<u64> = out.iter().map(|o| o.1).collect();
        assert_eq!(lsns, [3, 4, 5]);
    }
}
