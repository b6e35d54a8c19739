//! LogSphere: the shared library behind the six `ls-*` tools.
//!
//! Each module is one concept; the binaries in `src/bin/` only parse flags and call in here.
//!
//! - [`record`]: the log record every stage reads and writes, as JSON lines (DESIGN.md §1).
//! - [`parse`]: raw log lines into records, with format detection.
//! - [`cli`]: exit codes, diagnostics, signals: what every binary shares.
//! - [`lsn`]: the LSN store, each tailed file's last safe line (DESIGN.md §2).
//! - [`ack`]: the contiguous-acknowledgement tracker that decides how far the LSN store advances.
//! - [`seen_lines`]: the lines of tailed files a stage has taken in, to tell copies sent again.
//! - [`fid_table`]: per-file state by file identity, shared by the two above.
//! - [`tail`]: following files through rotation (ls-tail).
//! - [`kafka`]: producing records to topics, and the consumer input every stage shares (ls-ship).
//! - [`input`]: the record input of every consumer stage: stdin JSON lines or a Kafka group.
//! - [`mongo`]: storing and querying records in MongoDB (ls-store).
//! - [`rules`]: alert rules over record streams (ls-watch).
//! - [`archive`]: rolling archive files, the rollover naming (DESIGN.md §3), HDFS and the spool
//!   (ls-roll, ls-recover).
//! - [`recover`]: repairing checkpoints, importing the spool, replaying the archive (ls-recover).

pub mod ack;
pub mod archive;
pub mod cli;
pub mod fid_table;
pub mod input;
pub mod kafka;
pub mod lsn;
pub mod mongo;
pub mod parse;
pub mod record;
pub mod recover;
pub mod rules;
pub mod seen_lines;
pub mod tail;

/// Every tool hands records between threads (a reader thread and the stage) and allocates a
/// little per record; mimalloc makes those allocations, and freeing them on another thread,
/// several times cheaper than the system allocator (see BENCHMARKS.md). The `override` feature
/// makes it the C allocator too: librdkafka allocates and frees per message, and under glibc's
/// malloc that was a tenth of ls-ship's CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
