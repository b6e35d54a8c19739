//! Time and windows: the engine's clock (event time with a watermark, or processing time) and
//! the counters that threshold rules keep per group.
//!
//! All times are nanoseconds since the Unix epoch (`i64`), event times and wall-clock times alike.
//!
//! **Event time.** A record counts at its own timestamp. Records may arrive out of order by up to
//! the *allowance*: the watermark trails the latest event time seen by that much, and a record
//! older than the watermark is *late*: it is counted as late, not added to any window, because
//! the windows it belonged to may already have been decided. When no record arrives, event time
//! is taken to advance with the wall clock (unless idle closing is off, as in backtests), so an
//! idle input does not hold windows open, delay recovery notices or hide an absent source.
//!
//! **Processing time.** A record counts at the wall-clock time it was read; nothing is late.

use std::collections::VecDeque;
use std::time::Duration;

/// A duration in nanoseconds, saturating.
pub fn nanos(d: Duration) -> i64 {
    i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)
}

/// Which time windows count in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeMode {
    /// The record's timestamp, with this out-of-order allowance.
    Event { allowance: Duration },
    /// The wall-clock time the record was read.
    Processing,
}

/// Where a record falls in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placed {
    /// The time the record counts at.
    pub time: i64,
    /// Older than the watermark: not to be added to windows.
    pub late: bool,
}

/// The engine's notion of time.
#[derive(Debug, Clone)]
pub struct Clock {
    mode: TimeMode,
    /// Whether wall-clock ticks move event time along when input is idle.
    idle_close: bool,
    /// The latest event time seen (event mode), or the latest wall time (processing mode).
    latest: Option<i64>,
    /// Wall time of the latest record's arrival.
    latest_arrival: i64,
    /// The current time for decisions: `latest`, pushed on by the wall clock while idle.
    now: i64,
    watermark: i64,
}

impl Clock {
    pub fn new(mode: TimeMode, idle_close: bool) -> Clock {
        Clock {
            mode,
            idle_close,
            latest: None,
            latest_arrival: i64::MIN,
            now: i64::MIN,
            watermark: i64::MIN,
        }
    }

    fn allowance(&self) -> i64 {
        match self.mode {
            TimeMode::Event { allowance } => nanos(allowance),
            TimeMode::Processing => 0,
        }
    }

    /// Places a record with event time `event` read at wall time `wall`, and moves time on.
    pub fn place(&mut self, event: i64, wall: i64) -> Placed {
        let time = match self.mode {
            TimeMode::Event { .. } => event,
            TimeMode::Processing => wall,
        };
        let late = time < self.watermark;
        self.latest_arrival = wall;
        if self.latest.is_none_or(|latest| time > latest) {
            self.latest = Some(time);
        }
        self.advance(time);
        Placed { time, late }
    }

    /// Moves time on by the wall clock: in processing mode always, in event mode while no
    /// record arrives (event time is taken to keep pace with the wall clock).
    pub fn tick(&mut self, wall: i64) {
        let time = match (self.mode, self.latest) {
            (TimeMode::Processing, _) => wall,
            (TimeMode::Event { .. }, Some(latest)) if self.idle_close => {
                latest.saturating_add(wall.saturating_sub(self.latest_arrival).max(0))
            }
            _ => return,
        };
        self.advance(time);
    }

    /// End of input: nothing older than the latest event can still arrive.
    pub fn finish(&mut self) {
        self.watermark = self.watermark.max(self.now);
    }

    fn advance(&mut self, time: i64) {
        self.now = self.now.max(time);
        self.watermark = self
            .watermark
            .max(self.now.saturating_sub(self.allowance()));
    }

    /// The current time for alert decisions (never goes back).
    pub fn now(&self) -> i64 {
        self.now
    }

    /// No record at or before the watermark is still expected.
    pub fn watermark(&self) -> i64 {
        self.watermark
    }
}

/// A window's count and span, as an alert reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    pub start: i64,
    pub end: i64,
    pub count: u64,
    /// Times of the first and last record counted.
    pub first: i64,
    pub last: i64,
}

/// A sliding window's record times for one group, in time order.
#[derive(Debug, Clone, Default)]
pub struct SlidingCounter {
    times: VecDeque<i64>,
}

impl SlidingCounter {
    /// Adds a record at `time` and returns the fullest window `(r - length, r]` that contains it.
    /// In order (the usual case) that is the window ending at `time`; an out-of-order record
    /// can also complete windows ending at the later records.
    pub fn insert(&mut self, time: i64, length: i64) -> WindowCount {
        if self.times.back().is_none_or(|&last| last <= time) {
            self.times.push_back(time);
            return self.count_in(time, length);
        }
        let at = self.times.partition_point(|&t| t <= time);
        self.times.insert(at, time);
        let mut best: Option<WindowCount> = None;
        let mut end_index = at;
        while end_index < self.times.len() && self.times[end_index] < time.saturating_add(length) {
            let end = self.times[end_index];
            let count = self.count_in(end, length);
            if best.is_none_or(|b| count.count > b.count) {
                best = Some(count);
            }
            end_index = self.times.partition_point(|&t| t <= end);
        }
        best.expect("the window ending at the new record was looked at")
    }

    /// The records in `(end - length, end]`.
    pub fn count_in(&self, end: i64, length: i64) -> WindowCount {
        let start = end.saturating_sub(length);
        let lo = self.times.partition_point(|&t| t <= start);
        let hi = if self.times.back().is_some_and(|&last| last <= end) {
            self.times.len()
        } else {
            self.times.partition_point(|&t| t <= end)
        };
        WindowCount {
            start,
            end,
            count: (hi - lo) as u64,
            first: self.times.get(lo).copied().unwrap_or(end),
            last: if hi > lo { self.times[hi - 1] } else { end },
        }
    }

    /// Forgets records that no window ending at or after `watermark` can contain.
    pub fn evict(&mut self, watermark: i64, length: i64) {
        let horizon = watermark.saturating_sub(length);
        while self.times.front().is_some_and(|&t| t <= horizon) {
            self.times.pop_front();
        }
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }
}

/// Tumbling windows `[k·length, (k+1)·length)` still open for one group, oldest first.
#[derive(Debug, Clone, Default)]
pub struct TumblingCounter {
    open: Vec<WindowCount>,
}

impl TumblingCounter {
    /// Counts a record at `time` in its window and returns that window.
    pub fn insert(&mut self, time: i64, length: i64) -> WindowCount {
        let start = time.div_euclid(length) * length;
        let at = self.open.partition_point(|w| w.start < start);
        match self.open.get_mut(at) {
            Some(w) if w.start == start => {
                w.count += 1;
                w.first = w.first.min(time);
                w.last = w.last.max(time);
            }
            _ => self.open.insert(
                at,
                WindowCount {
                    start,
                    end: start.saturating_add(length),
                    count: 1,
                    first: time,
                    last: time,
                },
            ),
        }
        self.open[at]
    }

    /// The open window starting at `start`, if any record fell into it.
    pub fn window_at(&self, start: i64) -> Option<WindowCount> {
        self.open.iter().find(|w| w.start == start).copied()
    }

    /// Closes (forgets) the windows that end at or before `watermark`.
    pub fn close(&mut self, watermark: i64) {
        self.open.retain(|w| w.end > watermark);
    }

    pub fn is_empty(&self) -> bool {
        self.open.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    #[test]
    fn watermark_trails_the_latest_event_by_the_allowance() {
        let mut clock = Clock::new(
            TimeMode::Event {
                allowance: Duration::from_secs(5),
            },
            true,
        );
        assert!(!clock.place(100 * S, 0).late);
        assert_eq!(clock.watermark(), 95 * S);
        // Out of order within the allowance: fine; beyond it: late.
        assert!(!clock.place(96 * S, 0).late);
        assert!(clock.place(94 * S, 0).late);
        assert_eq!(clock.now(), 100 * S);
        // Idle for 30 s of wall time: event time follows the wall clock.
        clock.tick(30 * S);
        assert_eq!(clock.now(), 130 * S);
        assert_eq!(clock.watermark(), 125 * S);
        clock.finish();
        assert_eq!(clock.watermark(), 130 * S);
    }

    #[test]
    fn without_idle_closing_ticks_do_not_move_event_time() {
        let mut clock = Clock::new(
            TimeMode::Event {
                allowance: Duration::ZERO,
            },
            false,
        );
        clock.place(10 * S, 0);
        clock.tick(1000 * S);
        assert_eq!(clock.now(), 10 * S);
    }

    #[test]
    fn processing_time_uses_the_wall_clock() {
        let mut clock = Clock::new(TimeMode::Processing, true);
        let placed = clock.place(5 * S, 100 * S);
        assert_eq!(
            placed,
            Placed {
                time: 100 * S,
                late: false
            }
        );
        clock.tick(200 * S);
        assert_eq!(clock.watermark(), 200 * S);
    }

    #[test]
    fn sliding_window_is_half_open() {
        let mut counter = SlidingCounter::default();
        assert_eq!(counter.insert(0, 60 * S).count, 1);
        assert_eq!(counter.insert(60 * S - 1, 60 * S).count, 2);
        // Exactly one window length after the first: the first is out.
        let w = counter.insert(60 * S, 60 * S);
        assert_eq!((w.count, w.first, w.last), (2, 60 * S - 1, 60 * S));
    }

    #[test]
    fn out_of_order_insert_completes_later_windows() {
        let mut counter = SlidingCounter::default();
        counter.insert(0, 10 * S);
        counter.insert(9 * S, 10 * S);
        counter.insert(20 * S, 10 * S);
        // Arrives last, belongs between: the window ending at 9 s now holds 3.
        let w = counter.insert(5 * S, 10 * S);
        assert_eq!((w.count, w.end), (3, 9 * S));
        counter.evict(15 * S, 10 * S);
        assert_eq!(counter.count_in(20 * S, 10 * S).count, 1);
    }

    #[test]
    fn tumbling_windows_align_to_the_epoch() {
        let mut counter = TumblingCounter::default();
        assert_eq!(counter.insert(59 * S, 60 * S).start, 0);
        let w = counter.insert(60 * S, 60 * S);
        assert_eq!((w.start, w.count), (60 * S, 1));
        assert_eq!(counter.insert(1, 60 * S).count, 2);
        counter.close(60 * S);
        assert_eq!(counter.open.len(), 1);
        counter.close(120 * S);
        assert!(counter.is_empty());
    }
}
