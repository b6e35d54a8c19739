//! ls-recover: inspect and repair checkpoints, import the spool, replay the archive.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use logsphere::cli::{self, CommonArgs};
use logsphere::recover;

const EXAMPLES: &str = "\
Examples:
  ls-recover lsn show --lsn-dir /var/lib/logsphere/lsn
  ls-recover lsn verify --lsn-dir /var/lib/logsphere/lsn || echo 'some positions need attention'
  ls-recover lsn set --lsn-dir /var/lib/logsphere/lsn 3f2a...e1 --lsn 1200
  ls-recover lsn forget --lsn-dir /var/lib/logsphere/lsn --missing";

/// Inspect and repair LSN checkpoints, import the spool, replay the archive.
#[derive(Debug, Parser)]
#[command(name = "ls-recover", version, after_help = EXAMPLES)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Inspect and repair an LSN store.
    Lsn {
        /// The LSN store directory.
        #[arg(long, env = "LOGSPHERE_LSN_DIR", global = true)]
        lsn_dir: Option<PathBuf>,
        #[command(subcommand)]
        command: LsnCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LsnCommand {
    /// Show every tracked file: identity, line, offset, last update, path.
    Show {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Check each position against its file on disk; exit 1 if any cannot be resumed.
    Verify {
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Compact the buffer into the LSN file (drops torn and corrupt entries).
    Compact,
    /// Move a file's position to a given line, forwards or backwards.
    Set {
        /// The file identity (see `lsn show`).
        fid: String,
        /// The last line to count as done: reading resumes at the line after it (0: from the start).
        #[arg(long)]
        lsn: u64,
        /// The file to locate the line in, when not the path the store recorded.
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Stop tracking files.
    Forget {
        /// File identities to forget.
        fids: Vec<String>,
        /// Also forget every file that no longer exists at its recorded path.
        #[arg(long)]
        missing: bool,
    },
}

fn main() -> ExitCode {
    let args: Args = cli::parse();
    cli::run("ls-recover", &args.common, || match args.command {
        Command::Lsn { lsn_dir, command } => {
            let Some(dir) = lsn_dir else {
                anyhow::bail!("no LSN store given: pass --lsn-dir DIR or set LOGSPHERE_LSN_DIR");
            };
            run_lsn(&dir, command)
        }
    })
}

fn run_lsn(dir: &std::path::Path, command: LsnCommand) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    match command {
        LsnCommand::Show { json } => recover::lsn::show(dir, json, &mut stdout)?,
        LsnCommand::Verify { json } => {
            let bad = recover::lsn::verify_all(dir, json, &mut stdout)?;
            if bad > 0 {
                log::error!(
                    "{bad} position(s) cannot be resumed as recorded; ls-tail will log them and read the new content from its start"
                );
                return Ok(ExitCode::from(cli::EXIT_FAILURE));
            }
        }
        LsnCommand::Compact => {
            recover::lsn::compact(dir)?;
            log::info!("compacted {}", dir.display());
        }
        LsnCommand::Set { fid, lsn, file } => {
            let position = recover::lsn::set(dir, &fid, lsn, file.as_deref())?;
            writeln!(stdout, "{}", serde_json::to_string(&position)?)?;
        }
        LsnCommand::Forget { fids, missing } => {
            if fids.is_empty() && !missing {
                anyhow::bail!("name the file identities to forget, or pass --missing");
            }
            for fid in recover::lsn::forget(dir, &fids, missing)? {
                writeln!(stdout, "{fid}")?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
