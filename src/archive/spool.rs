//! The spool: a local directory with the archive's own naming that takes the records while the
//! archive (HDFS) fails, the alerts that say so, and the import that moves spooled files into
//! the archive afterwards (ls-recover reuses [`import`]).
//!
//! The rule for a file being written when the archive fails (on write, sync, create, close or
//! rename, with an error or by missing the `--hdfs-timeout` deadline): it is *abandoned* at its
//! last successful sync. Its records since then are still in memory and are rewritten into a
//! spool file; ls-roll probes the archive every `--probe-every`, and when it answers (and every
//! HDFS call that missed its deadline has ended, see [`super::hdfs`]), closes the spool files and
//! salvages each abandoned file (see [`super::recovery::salvage_abandoned`]):
//! - a file that was synced and closed and only missed its rename is renamed to its final name
//!   (or found there: the late rename went through);
//! - any other file has its lease recovered, which fences the abandoned writer, and its synced
//!   prefix (which holds exactly the records synced before the failure: anything a late write
//!   added is cut) is copied into a new final file under the next serial, remembered so that a
//!   retry never copies twice; then it is deleted. A create that failed leaves at most an empty
//!   file, deleted the same way.
//!
//! Every record thus lands in exactly one final file, in the archive or in the spool.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{DateTime, SecondsFormat, Utc};

use super::naming::{self, Entry, FileName};
use super::target::Target;
use crate::record::Category;

/// Where alert lines go: stderr, or appended to a file (`--alerts`).
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    pub file: Option<PathBuf>,
}

impl Alerts {
    /// Writes one alert line in the ls-watch alert format.
    pub fn raise(
        &self,
        alert: &str,
        severity: &str,
        now: DateTime<Utc>,
        fields: serde_json::Value,
    ) {
        let mut value = serde_json::json!({
            "alert": alert,
            "severity": severity,
            "time": now.to_rfc3339_opts(SecondsFormat::Millis, true),
            "tool": "ls-roll",
        });
        if let (Some(object), serde_json::Value::Object(extra)) = (value.as_object_mut(), fields) {
            object.extend(extra);
        }
        let line = format!("{value}\n");
        let written = match &self.file {
            Some(path) => OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .and_then(|mut f| f.write_all(line.as_bytes())),
            None => io::stderr().lock().write_all(line.as_bytes()),
        };
        if let Err(err) = written {
            log::error!("cannot write the alert {alert}: {err}");
        }
    }
}

/// An archive file left in progress at a failure, with how much of it was synced.
#[derive(Debug, Clone)]
pub struct Abandoned {
    pub category: Category,
    pub name: FileName,
    pub synced: u64,
    pub gzip: bool,
    /// Synced and closed: only the rename to the final name is missing.
    pub closed: bool,
    /// The final file its synced prefix is being copied into, once chosen.
    pub copy: Option<FileName>,
}

impl Abandoned {
    /// A file abandoned `synced` bytes in, before it was closed.
    pub fn open(category: &Category, name: FileName, synced: u64, gzip: bool) -> Abandoned {
        Abandoned {
            category: category.clone(),
            name,
            synced,
            gzip,
            closed: false,
            copy: None,
        }
    }
}

/// The spool target and the failover state.
pub struct Spool {
    target: Box<dyn Target>,
    alerts: Alerts,
    probe_every: chrono::Duration,
    /// Set while records go to the spool: when to probe the archive next.
    next_probe: Option<DateTime<Utc>>,
    abandoned: Vec<Abandoned>,
}

impl Spool {
    pub fn new(target: Box<dyn Target>, alerts: Alerts, probe_every: chrono::Duration) -> Spool {
        Spool {
            target,
            alerts,
            probe_every,
            next_probe: None,
            abandoned: Vec::new(),
        }
    }

    pub fn target(&self) -> &dyn Target {
        self.target.as_ref()
    }

    pub fn active(&self) -> bool {
        self.next_probe.is_some()
    }

    pub fn next_probe(&self) -> Option<DateTime<Utc>> {
        self.next_probe
    }

    pub fn probe_due(&self, now: DateTime<Utc>) -> bool {
        self.next_probe.is_some_and(|t| now >= t)
    }

    /// Starts spooling after `err`, with an alert (once per outage).
    pub fn activate(&mut self, now: DateTime<Utc>, archive: &str, err: &io::Error) {
        if self.active() {
            return;
        }
        self.next_probe = Some(now + self.probe_every);
        self.alerts.raise(
            "hdfs_unavailable",
            "critical",
            now,
            serde_json::json!({
                "message": format!("cannot write to {archive}: {err}; spooling to {}", self.target.describe()),
                "archive": archive,
                "spool": self.target.describe(),
            }),
        );
    }

    /// The archive is still down: probe again later.
    pub fn still_down(&mut self, now: DateTime<Utc>, err: &dyn std::fmt::Display) {
        log::info!("archive still unavailable: {err}");
        self.next_probe = Some(now + self.probe_every);
    }

    /// Writing to the archive again.
    pub fn deactivate(&mut self, now: DateTime<Utc>, archive: &str) {
        self.next_probe = None;
        self.alerts.raise(
            "hdfs_recovered",
            "info",
            now,
            serde_json::json!({
                "message": format!("writing to {archive} again; import the spool {} with ls-recover", self.target.describe()),
                "archive": archive,
                "spool": self.target.describe(),
            }),
        );
    }

    pub fn abandon(&mut self, file: Abandoned) {
        self.abandoned.push(file);
    }

    /// The abandoned files, to salvage; the ones handed back by [`Spool::restore`] stay.
    pub fn take_abandoned(&mut self) -> Vec<Abandoned> {
        std::mem::take(&mut self.abandoned)
    }

    pub fn restore(&mut self, abandoned: Vec<Abandoned>) {
        self.abandoned.extend(abandoned);
    }
}

/// What [`import`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub files: u64,
    pub bytes: u64,
    /// Files imported under another serial because the archive had other content under theirs.
    pub renamed: u64,
    /// Files the archive already had, byte for byte (an earlier import died before deleting).
    pub already_there: u64,
}

/// One closed spool file waiting to be imported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpoolFile {
    pub category: String,
    pub name: FileName,
}

impl SpoolFile {
    /// Its path relative to the spool root (and to the archive root).
    pub fn path(&self) -> String {
        naming::relative_path(&self.category, &self.name.to_string())
    }
}

/// How one file's import ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Imported {
    /// Copied under its own name.
    Copied { bytes: u64 },
    /// Copied under another serial, because the archive had other content under its name.
    Renamed { bytes: u64, name: FileName },
    /// The archive already had the same bytes (under its name or, after a collision, another).
    AlreadyThere,
}

/// The closed files of the spool, in name order per category. In-progress spool files are left
/// to ls-roll's recovery; names that are not categories or archive files are not touched.
pub fn pending(spool: &dyn Target) -> Result<Vec<SpoolFile>> {
    let mut files = Vec::new();
    for category in spool.list("")? {
        if Category::new(&category).is_err() {
            continue;
        }
        let mut names: Vec<FileName> = spool
            .list(&category)?
            .iter()
            .filter_map(|n| match Entry::parse(n) {
                Some(Entry::Final(name)) => Some(name),
                _ => None,
            })
            .collect();
        names.sort();
        files.extend(names.into_iter().map(|name| SpoolFile {
            category: category.clone(),
            name,
        }));
    }
    Ok(files)
}

/// Moves one spool file into the archive: copied under an importing name (`.` prefix), synced,
/// read back and compared, renamed to its final name, and only then deleted from the spool. A
/// rerun after a crash at any point neither loses nor duplicates it. A name the archive already
/// has with other content is never overwritten: the file takes the next free serial of its date,
/// unless a file of that date already holds the same bytes (an earlier import that died between
/// its rename and the delete).
pub fn import_file(spool: &dyn Target, archive: &dyn Target, file: &SpoolFile) -> Result<Imported> {
    let source = file.path();
    let bytes = spool
        .read(&source)
        .with_context(|| format!("cannot read {source} in the spool"))?;
    let archived = archive.list(&file.category)?;
    let mut target_name = file.name.clone();
    if archived.contains(&file.name.to_string()) {
        let same_date = archived.iter().filter(
            |n| matches!(Entry::parse(n), Some(Entry::Final(f)) if f.date == file.name.date),
        );
        for name in same_date {
            if archive.read(&naming::relative_path(&file.category, name))? == bytes {
                spool.remove(&source)?;
                return Ok(Imported::AlreadyThere);
            }
        }
        let names = archived.iter().map(String::as_str);
        target_name.serial = naming::highest_serial(names, file.name.date).map_or(0, |s| s + 1);
    }
    copy_in(archive, &file.category, &target_name, &bytes)
        .with_context(|| format!("cannot import {source} into {}", archive.describe()))?;
    spool.remove(&source)?;
    let len = bytes.len() as u64;
    Ok(if target_name == file.name {
        Imported::Copied { bytes: len }
    } else {
        Imported::Renamed {
            bytes: len,
            name: target_name,
        }
    })
}

/// Moves every closed file of the spool into the archive (see [`import_file`]), stopping at the
/// first failure.
pub fn import(spool: &dyn Target, archive: &dyn Target) -> Result<ImportReport> {
    let mut report = ImportReport::default();
    for file in pending(spool)? {
        match import_file(spool, archive, &file)? {
            Imported::Copied { bytes } => {
                report.files += 1;
                report.bytes += bytes;
            }
            Imported::Renamed { bytes, .. } => {
                report.files += 1;
                report.bytes += bytes;
                report.renamed += 1;
            }
            Imported::AlreadyThere => report.already_there += 1,
        }
    }
    Ok(report)
}

/// Writes `bytes` as the final file `name` through an importing name.
fn copy_in(archive: &dyn Target, category: &str, name: &FileName, bytes: &[u8]) -> io::Result<()> {
    let importing = naming::relative_path(category, &name.importing());
    // Left by an import that died: it was never renamed, so it is only a partial copy.
    if archive.list(category)?.contains(&name.importing()) {
        archive.remove(&importing)?;
    }
    let mut file = archive.create(&importing)?;
    file.write(bytes)?;
    file.sync()?;
    file.close()?;
    // Read back before the rename: a final name only ever holds a verified copy.
    let copy = archive.read(&importing)?;
    if copy != bytes {
        return Err(io::Error::other(format!(
            "the copy {importing} reads back other content than the spool file ({} of {} bytes)",
            copy.len(),
            bytes.len()
        )));
    }
    archive.rename(
        &importing,
        &naming::relative_path(category, &name.to_string()),
    )
}
