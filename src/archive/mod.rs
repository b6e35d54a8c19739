//! Rolling archive files, local and HDFS, and the spool (ls-roll, ls-recover).
//!
//! - [`naming`]: the file names of DESIGN.md §3 and the serials.
//! - [`target`]: where files go ([`local`] directory or [`hdfs`]), one interface.
//! - [`roller`]: open files per category and date, size and time triggers, encoding, sync.
//! - [`spool`]: switching to a local spool when the archive fails, alerts, and the import.
//! - [`recovery`]: salvaging in-progress files left by a crash or an outage.
//! - [`stream`]: the ls-roll loop from a record stream, with LSN commits.
//! - [`units`]: sizes and durations in flags.

pub mod hdfs;
pub mod local;
pub mod naming;
pub mod recovery;
pub mod roller;
pub mod spool;
pub mod stream;
pub mod target;
pub mod units;

pub use roller::{Format, RollConfig, RollStats, Roller, RouteBy};
pub use spool::{Alerts, Spool, import};
pub use target::{Target, TargetFile, open_target, open_target_with_deadline};
