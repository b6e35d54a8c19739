//! `ls-recover spool`: imports the files ls-roll spooled while the archive was down.
//!
//! The per-file mechanism (copy under an importing name, verify, rename, delete) is
//! [`archive::spool::import_file`]; this drives it for the operator: a plan for `--dry-run`, a
//! progress bar on a terminal or a summary line otherwise, and a list of what was left behind
//! and why. When the archive stops answering in the middle, the rest is left for the next run.

use std::io::{IsTerminal, Write};

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};

use crate::archive::spool::{Imported, SpoolFile, import_file, pending};
use crate::archive::target::Target;

/// What a spool import did.
#[derive(Debug, Default)]
pub struct SpoolSummary {
    pub imported: u64,
    pub bytes: u64,
    pub renamed: u64,
    pub already_there: u64,
    /// Files left in the spool, with the reason.
    pub left: Vec<(String, String)>,
}

/// Lists what an import would move, one `path<TAB>bytes` line each.
pub fn dry_run(spool: &dyn Target, out: &mut dyn Write) -> Result<u64> {
    let files = pending(spool)?;
    for file in &files {
        let path = file.path();
        let len = spool.read(&path)?.len();
        writeln!(out, "{path}\t{len}")?;
    }
    Ok(files.len() as u64)
}

/// Imports every closed spool file into `archive`.
pub fn import_all(spool: &dyn Target, archive: &dyn Target) -> Result<SpoolSummary> {
    let files = pending(spool)?;
    let bar = progress_bar(files.len() as u64);
    let mut summary = SpoolSummary::default();
    for (i, file) in files.iter().enumerate() {
        bar.set_message(file.path());
        match import_file(spool, archive, file) {
            Ok(outcome) => count(&mut summary, file, outcome),
            Err(err) => {
                summary.left.push((file.path(), format!("{err:#}")));
                // An archive that stopped answering fails every file after this one too:
                // leave them for the next run rather than wait on each.
                if let Err(down) = archive.probe() {
                    let reason = format!("{} is not answering: {down}", archive.describe());
                    for rest in &files[i + 1..] {
                        summary.left.push((rest.path(), reason.clone()));
                    }
                    break;
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    Ok(summary)
}

fn count(summary: &mut SpoolSummary, file: &SpoolFile, outcome: Imported) {
    match outcome {
        Imported::Copied { bytes } => {
            summary.imported += 1;
            summary.bytes += bytes;
        }
        Imported::Renamed { bytes, name } => {
            log::warn!(
                "{}: the archive has other content under that name; imported as {}/{name}",
                file.path(),
                file.category
            );
            summary.imported += 1;
            summary.bytes += bytes;
            summary.renamed += 1;
        }
        Imported::AlreadyThere => summary.already_there += 1,
    }
}

/// A bar with files, bytes and rate on a terminal; hidden otherwise (cron gets the summary).
fn progress_bar(files: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(files);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} files {per_sec} {wide_msg}",
        )
        .expect("a valid template"),
    );
    bar
}
