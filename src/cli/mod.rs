//! What every `ls-*` binary shares: the common flags, how a tool runs and exits, its
//! diagnostics on stderr, and its reaction to SIGTERM/SIGINT.
//!
//! Exit codes follow DESIGN.md §4: 0 done, 1 runtime failure, 2 usage error (clap's own).

pub mod diag;
pub mod generate;
pub mod shutdown;
pub mod time;

use std::process::ExitCode;

use clap::Args;

pub use generate::parse;
pub use shutdown::Shutdown;

/// Exit code for a runtime failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error: a bad flag or argument value.
pub const EXIT_USAGE: u8 = 2;

/// Flags every tool has: how much to say on stderr, and in which form.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// Say more on stderr (-v: info, -vv: debug, -vvv: trace).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Say only errors on stderr.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Form of diagnostics on stderr: text for people, json for log collectors.
    #[arg(long, value_enum, default_value_t = diag::LogFormat::Text, env = "LOGSPHERE_LOG_FORMAT", global = true)]
    pub log_format: diag::LogFormat,
}

impl CommonArgs {
    fn level(&self) -> log::LevelFilter {
        if self.quiet {
            return log::LevelFilter::Error;
        }
        match self.verbose {
            0 => log::LevelFilter::Warn,
            1 => log::LevelFilter::Info,
            2 => log::LevelFilter::Debug,
            _ => log::LevelFilter::Trace,
        }
    }
}

/// Runs a tool's body after setting up its diagnostics, and turns its outcome into the exit code:
/// an error is printed as one line, `TOOL: error: what failed: why`, and exits 1. A body that
/// wants another code (say, 1 after a partial failure it already reported) returns it.
pub fn run(
    tool: &'static str,
    common: &CommonArgs,
    body: impl FnOnce() -> anyhow::Result<ExitCode>,
) -> ExitCode {
    diag::init(tool, common.level(), common.log_format);
    match body() {
        Ok(code) => code,
        Err(err) => {
            diag::error_line(tool, &err);
            ExitCode::from(EXIT_FAILURE)
        }
    }
}
