//! Kafka: the flags every Kafka-facing tool shares ([`args`]), the consumer behind the shared
//! record input ([`consumer`], used through [`crate::input`]).

pub mod args;
pub mod consumer;
pub mod producer;

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result};

use crate::cli::Shutdown;
use crate::input::{CommitToken, Input};
use crate::record::RecordWriter;

/// Copies records from `input` to `out` as JSON lines (`ls-ship --consume`), committing each
/// batch's offsets once it is flushed. Ends at the input's end, on a stop request, or quietly
/// when the reader of `out` goes away (`| head`). Returns the number of records written.
pub async fn read_back(input: &mut Input, out: impl Write, shutdown: &Shutdown) -> Result<u64> {
    let mut writer = RecordWriter::new(out);
    let mut last = CommitToken::default();
    while !shutdown.requested() {
        let Some(batch) = input.next_batch(10_000, Duration::from_millis(200)).await? else {
            break;
        };
        let written = batch
            .records
            .iter()
            .try_for_each(|record| writer.write(record))
            .and_then(|()| writer.flush());
        match written {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            Err(e) => return Err(e).context("cannot write to stdout"),
        }
        input.commit(&batch.token)?;
        last.merge(batch.token);
    }
    input.commit_and_wait(&last)?;
    Ok(writer.records())
}
