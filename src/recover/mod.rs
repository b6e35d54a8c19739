//! ls-recover: the operator's tool after a failure. [`lsn`] inspects and repairs the LSN store.
//!
pub mod lsn;
