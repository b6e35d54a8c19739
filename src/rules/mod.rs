//! Alert rules over record streams: what ls-watch evaluates.
//!
//! - [`rule`]: the rule kinds (immediate, threshold, absence) and which records they match.
//! - [`config`]: rules from a JSON file or from the short flag syntax, with the default pair.
//! - [`window`]: event-time bookkeeping (watermark, lateness, idle closing) and the counters.
//! - [`alert`]: the alert JSON that ls-watch writes.
//! - [`engine`]: feeds records and clock ticks through the rules and collects alerts.
//! - [`stats`]: per-level / source / category rates for `--stats`.
//! - [`exec`]: running a command per alert (`--exec`), never through a shell.
//! - [`topic`]: producing each alert to a Kafka topic (`--alerts-topic`).
//! - [`watch`]: the ls-watch stream loop: input, ticks, outputs.

pub mod alert;
pub mod config;
pub mod engine;
pub mod exec;
pub mod rule;
pub mod stats;
pub mod topic;
pub mod watch;
pub mod window;

pub use alert::{Alert, AlertState, Severity};
pub use config::{
    RuleSet, absent_flag, critical_at, default_rules, rules_from_json, threshold_flag,
};
pub use engine::{Engine, EngineOptions};
pub use rule::{GroupKey, LevelMatch, Matcher, Rule, RuleKind, WindowKind};
pub use window::TimeMode;
