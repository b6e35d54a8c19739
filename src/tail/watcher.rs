//! What to tail and when to look: the roots given on the command line (files, directories,
//! globs), listing their current files, and change notifications (inotify through `notify`),
//! with polling when the filesystem gives no events.
//!
//! Directories are not descended into. A glob may have wildcards in its file name only
//! (`/var/log/app/*.log`). A file root may not exist yet: its directory is watched, so it is
//! picked up when it appears. Compressed files (`.gz`, `.bz2`, `.xz`, `.zst`, `.zip`, `.lz4`)
//! found in directories or globs are skipped by name: logrotate compresses only files already
//! rotated, whose lines were read from the uncompressed file before.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use anyhow::{Result, bail};
use notify::event::ModifyKind;
use notify::{EventKind, RecursiveMode, Watcher as _};

use super::glob::{Glob, is_pattern};

const COMPRESSED: [&str; 6] = [".gz", ".bz2", ".xz", ".zst", ".zip", ".lz4"];

#[derive(Debug)]
enum Root {
    File(PathBuf),
    Dir(PathBuf),
    Glob { dir: PathBuf, name: Glob },
}

/// The paths given on the command line, with the name filters for directory entries.
#[derive(Debug)]
pub struct Roots {
    roots: Vec<Root>,
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl Roots {
    /// `include`: if not empty, directory entries must match one of these; `exclude`: and none
    /// of these. Files named explicitly are always taken.
    pub fn new(paths: &[PathBuf], include: Vec<Glob>, exclude: Vec<Glob>) -> Result<Roots> {
        let mut roots = Vec::new();
        for path in paths {
            let text = path.to_string_lossy();
            let parent = match path.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                _ => PathBuf::from("."),
            };
            if is_pattern(&text) {
                if is_pattern(&parent.to_string_lossy()) {
                    bail!("{text}: only the file name part of a path may have wildcards (* ? [)");
                }
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                roots.push(Root::Glob {
                    dir: parent,
                    name: Glob::new(&name)?,
                });
            } else if path.is_dir() {
                roots.push(Root::Dir(path.clone()));
            } else if parent.is_dir() {
                roots.push(Root::File(path.clone()));
            } else {
                bail!(
                    "{text}: no such file or directory (a file root may be missing, but its directory must exist)"
                );
            }
        }
        Ok(Roots {
            roots,
            include,
            exclude,
        })
    }

    /// Appends the paths of the files the roots name now (files of directories, glob matches,
    /// the named files that exist). Unreadable directories are reported and skipped.
    pub fn list(&self, out: &mut Vec<PathBuf>) {
        for root in &self.roots {
            match root {
                Root::File(path) => out.push(path.clone()),
                Root::Dir(dir) | Root::Glob { dir, .. } => match std::fs::read_dir(dir) {
                    Ok(entries) => out.extend(
                        entries
                            .filter_map(|e| e.ok())
                            .map(|e| e.path())
                            .filter(|p| self.in_root(root, p)),
                    ),
                    Err(e) => log::warn!("cannot list {}: {e}", dir.display()),
                },
            }
        }
    }

    /// True if `path` is one of the files the roots name.
    pub fn contains(&self, path: &Path) -> bool {
        self.roots.iter().any(|root| self.in_root(root, path))
    }

    fn in_root(&self, root: &Root, path: &Path) -> bool {
        let name = match path.file_name() {
            Some(n) => n.to_string_lossy(),
            None => return false,
        };
        match root {
            Root::File(file) => file == path,
            Root::Dir(dir) => {
                path.parent() == Some(dir.as_path())
                    && !is_compressed(&name)
                    && (self.include.is_empty() || self.include.iter().any(|g| g.matches(&name)))
                    && !self.exclude.iter().any(|g| g.matches(&name))
            }
            Root::Glob { dir, name: glob } => {
                path.parent() == Some(dir.as_path())
                    && glob.matches(&name)
                    && !is_compressed(&name)
                    && !self.exclude.iter().any(|g| g.matches(&name))
            }
        }
    }

    /// The directories to watch for changes.
    fn dirs(&self) -> Vec<PathBuf> {
        let mut dirs: Vec<PathBuf> = self
            .roots
            .iter()
            .map(|root| match root {
                Root::Dir(dir) | Root::Glob { dir, .. } => dir.clone(),
                Root::File(file) => match file.parent() {
                    Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
                    _ => PathBuf::from("."),
                },
            })
            .collect();
        dirs.sort();
        dirs.dedup();
        dirs
    }
}

/// True for the names of compressed files, which are not tailed.
pub fn is_compressed(name: &str) -> bool {
    COMPRESSED.iter().any(|ext| name.ends_with(ext))
}

/// What the watcher saw.
#[derive(Debug, Default)]
pub struct Changes {
    /// Files whose content changed.
    pub modified: HashSet<PathBuf>,
    /// Files appeared, disappeared or were renamed, or events were lost: list the roots again.
    pub rescan: bool,
}

/// Change notifications for the roots' directories; `None` inside means polling.
pub struct Watcher {
    events: Option<(
        notify::RecommendedWatcher,
        Receiver<notify::Result<notify::Event>>,
    )>,
}

impl Watcher {
    /// Watches the roots' directories; falls back to polling (with a warning) where events are
    /// not available, or when `poll` asks for it.
    pub fn new(roots: &Roots, poll: bool) -> Watcher {
        if poll {
            return Watcher { events: None };
        }
        let (tx, rx) = channel();
        let watcher = notify::recommended_watcher(move |event| {
            // The receiver is gone only while the tailer shuts down.
            let _ = tx.send(event);
        })
        .and_then(|mut watcher| {
            for dir in roots.dirs() {
                watcher.watch(&dir, RecursiveMode::NonRecursive)?;
            }
            Ok(watcher)
        });
        match watcher {
            Ok(watcher) => Watcher {
                events: Some((watcher, rx)),
            },
            Err(e) => {
                log::warn!("file change events unavailable ({e}); polling instead");
                Watcher { events: None }
            }
        }
    }

    /// True when changes are found only by polling.
    pub fn is_polling(&self) -> bool {
        self.events.is_none()
    }

    /// Waits up to `timeout` for changes (just sleeps when polling), then collects all that
    /// arrived into `changes`.
    pub fn wait(&self, timeout: Duration, roots: &Roots, changes: &mut Changes) {
        let Some((_, rx)) = &self.events else {
            std::thread::sleep(timeout);
            return;
        };
        let first = match rx.recv_timeout(timeout) {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => return,
            Err(RecvTimeoutError::Disconnected) => {
                changes.rescan = true;
                return;
            }
        };
        Self::note(first, roots, changes);
        while let Ok(event) = rx.try_recv() {
            Self::note(event, roots, changes);
        }
    }

    fn note(event: notify::Result<notify::Event>, roots: &Roots, changes: &mut Changes) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                log::debug!("watch error: {e}");
                changes.rescan = true;
                return;
            }
        };
        if event.need_rescan() {
            changes.rescan = true;
            return;
        }
        match event.kind {
            EventKind::Access(_) | EventKind::Modify(ModifyKind::Metadata(_)) => {}
            EventKind::Modify(ModifyKind::Data(_)) | EventKind::Modify(ModifyKind::Any) => {
                changes.modified.extend(event.paths);
            }
            _ => {
                if event.paths.iter().any(|p| roots.contains(p)) {
                    changes.rescan = true;
                }
            }
        }
    }
}
