//! ls-recover: the operator's tool after a failure.
//!
//! - [`lsn`]: inspect and repair the LSN store.
//! - [`spool`]: import what ls-roll spooled while the archive was down.
//! - [`replay`]: read the archive back as records.

pub mod lsn;
pub mod replay;
pub mod spool;
