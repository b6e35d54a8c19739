//! Kafka: the flags every Kafka-facing tool shares ([`args`]), the consumer behind the shared
//! record input ([`consumer`], used through [`crate::input`]), the producer ([`producer`]), and
//! what both do the same way: check the brokers at start and report client errors without
//! flooding stderr.

pub mod args;
pub mod consumer;
pub mod producer;

use std::collections::HashMap;
use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use rdkafka::ClientContext;
use rdkafka::client::Client;
use rdkafka::config::RDKafkaLogLevel;

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

/// Fails with one clear line when no broker answers within `timeout`. A wrong address given at
/// start is a mistake to report at once; an outage later on is waited out by the tools.
pub(crate) fn ensure_reachable<C: ClientContext>(
    client: &Client<C>,
    brokers: &str,
    timeout: Duration,
) -> Result<()> {
    client.fetch_metadata(None, timeout).map(drop).map_err(|e| {
        anyhow!(
            "cannot reach the Kafka brokers {brokers} within {}s ({e}): check --brokers or \
             LOGSPHERE_BROKERS, or allow longer with --connect-timeout",
            timeout.as_secs_f32()
        )
    })
}

/// How long the same client error is not repeated on stderr.
const REPEAT_AFTER: Duration = Duration::from_secs(10);

/// Logs a Kafka client error, at most once per [`REPEAT_AFTER`] for the same error: librdkafka
/// reports a broker that is down several times a second for as long as it is down. The next
/// line that gets through says how many were held back.
pub(crate) fn log_client_error(level: log::Level, error: &dyn std::fmt::Display, detail: &str) {
    /// Per error text: when it was last shown, and how many times it came since.
    static SHOWN: Mutex<Option<HashMap<String, (Instant, u64)>>> = Mutex::new(None);
    let held_back = {
        let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
        let shown = shown.get_or_insert_with(HashMap::new);
        match shown.get_mut(&error.to_string()) {
            Some((at, count)) if at.elapsed() < REPEAT_AFTER => {
                *count += 1;
                return;
            }
            Some((at, count)) => {
                *at = Instant::now();
                std::mem::take(count)
            }
            None => {
                shown.insert(error.to_string(), (Instant::now(), 0));
                0
            }
        }
    };
    let separator = if detail.is_empty() { "" } else { ": " };
    if held_back > 0 {
        log::log!(
            level,
            "Kafka: {error}{separator}{detail} ({held_back} more like it in the last {}s)",
            REPEAT_AFTER.as_secs()
        );
    } else {
        log::log!(level, "Kafka: {error}{separator}{detail}");
    }
}

/// Logs one of librdkafka's own lines. Its errors are about connections it retries by itself,
/// so they are warnings here: `error` is kept for what ends the program.
pub(crate) fn log_librdkafka(level: RDKafkaLogLevel, facility: &str, message: &str) {
    let level = match level {
        RDKafkaLogLevel::Emerg
        | RDKafkaLogLevel::Alert
        | RDKafkaLogLevel::Critical
        | RDKafkaLogLevel::Error
        | RDKafkaLogLevel::Warning => log::Level::Warn,
        RDKafkaLogLevel::Notice | RDKafkaLogLevel::Info => log::Level::Info,
        RDKafkaLogLevel::Debug => {
            // Only there when asked for (`-X debug=...`): every line, not one per facility
            // and interval as for errors.
            log::debug!("Kafka: librdkafka {facility}: {message}");
            return;
        }
    };
    log_client_error(level, &format_args!("librdkafka {facility}"), message);
}
