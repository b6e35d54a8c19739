//! Diagnostics on stderr, as text for people or JSON lines for log collectors.
//!
//! The library logs through the `log` facade (librdkafka's messages arrive the same way); this is
//! the one logger the binaries install. Nothing here ever writes to stdout: stdout is data.

use std::io::Write;

use clap::ValueEnum;

/// How diagnostics are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// `ls-tail: warning: message`
    Text,
    /// `{"time":...,"tool":"ls-tail","level":"warn","message":...}`
    Json,
}

struct StderrLogger {
    tool: &'static str,
    format: LogFormat,
}

impl log::Log for StderrLogger {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let line = match self.format {
            LogFormat::Text => {
                let level = match record.level() {
                    log::Level::Error => "error",
                    log::Level::Warn => "warning",
                    log::Level::Info => "info",
                    log::Level::Debug => "debug",
                    log::Level::Trace => "trace",
                };
                format!("{}: {level}: {}\n", self.tool, record.args())
            }
            LogFormat::Json => {
                let value = serde_json::json!({
                    "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "tool": self.tool,
                    "level": record.level().as_str().to_ascii_lowercase(),
                    "target": record.target(),
                    "message": record.args().to_string(),
                });
                format!("{value}\n")
            }
        };
        // One write per line so that lines from several threads do not interleave; a closed
        // stderr is no reason to fail.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// Installs the stderr logger. Later calls (tests running several tools in one process) keep
/// the first logger and only change the level.
pub fn init(tool: &'static str, level: log::LevelFilter, format: LogFormat) {
    let logger = Box::new(StderrLogger { tool, format });
    let _ = log::set_boxed_logger(logger);
    log::set_max_level(level);
}

/// Prints a fatal error as one line: the error and its causes joined by `: `.
pub fn error_line(tool: &str, err: &anyhow::Error) {
    let mut message = err.to_string();
    for cause in err.chain().skip(1) {
        message.push_str(": ");
        message.push_str(&cause.to_string());
    }
    if is_disk_full(err) {
        message.push_str(" (the disk is full: free space on it, then start the tool again)");
    }
    log::error!("{message}");
    if !log::log_enabled!(log::Level::Error) || log::max_level() == log::LevelFilter::Off {
        eprintln!("{tool}: error: {message}");
    }
}

/// Whether `err` comes from a full disk or an exhausted quota: the one failure whose fix is the
/// same for every tool, and that the OS message alone does not spell out.
fn is_disk_full(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.downcast_ref::<std::io::Error>().is_some_and(|e| {
            matches!(
                e.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            )
        })
    })
}

/// Reports bad input lines without flooding stderr: the first few in full, then every
/// thousandth, and a total at the end from the caller's own count.
#[derive(Debug, Default)]
pub struct BadInputReporter {
    seen: u64,
}

impl BadInputReporter {
    const SHOWN_IN_FULL: u64 = 10;

    pub fn report(&mut self, what: &dyn std::fmt::Display) {
        self.seen += 1;
        if self.seen <= Self::SHOWN_IN_FULL || self.seen.is_multiple_of(1000) {
            log::warn!("skipped {what} ({} bad so far)", self.seen);
        }
    }

    pub fn count(&self) -> u64 {
        self.seen
    }
}
