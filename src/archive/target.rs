//! Where archive files go: a small interface over a local directory and HDFS, so that the
//! roller, the spool and ls-recover's import work the same on both.
//!
//! Paths are relative to the target's root (`<category>/<name>`). Every operation is blocking,
//! except that a file's sync and close may go on while the caller does other work
//! ([`TargetFile::start_sync`], [`TargetFile::close_in_background`]); the HDFS client runs its
//! own runtime, and every HDFS call has a deadline.

use std::io;
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::hdfs::{self, HdfsTarget};
use super::local::LocalTarget;

/// A file open for writing.
pub trait TargetFile: Send {
    fn write(&mut self, data: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable (fsync / hsync).
    fn sync(&mut self) -> io::Result<()>;
    /// Starts making everything written so far durable, which may go on while the caller writes
    /// more: an HDFS hsync waits for the DataNode's fsync. The bytes written before the call are
    /// durable once the returned [`Completion`] says so, and not before. Synced at once unless
    /// the target says otherwise.
    fn start_sync(&mut self) -> Completion {
        Completion::done(self.sync())
    }
    /// Closes the file; it must have been synced for its content to be durable.
    fn close(self: Box<Self>) -> io::Result<()>;
    /// Starts closing the file, which may go on while the caller does other work: an HDFS close
    /// waits for the NameNode to learn of the last block, often half a second. Closed at once
    /// unless the target says otherwise.
    fn close_in_background(self: Box<Self>) -> Completion {
        Completion::done(self.close())
    }
}

/// A sync or a close that may still be running ([`TargetFile::start_sync`],
/// [`TargetFile::close_in_background`]): its result comes over a channel, and a sender dropped
/// without an answer (its writer stopped) is a failure.
#[derive(Debug)]
pub struct Completion(mpsc::Receiver<io::Result<()>>);

impl Completion {
    /// A call that has already ended with `result`.
    pub fn done(result: io::Result<()>) -> Completion {
        let (sender, receiver) = mpsc::channel();
        sender.send(result).expect("the receiver is here");
        Completion(receiver)
    }

    /// A call whose result the other end of `result` sends.
    pub fn running(result: mpsc::Receiver<io::Result<()>>) -> Completion {
        Completion(result)
    }

    /// The call's result if it has ended, without waiting; `None` while it runs. Once it has
    /// given the result, the completion is spent.
    pub fn poll(&mut self) -> Option<io::Result<()>> {
        match self.0.try_recv() {
            Ok(result) => Some(result),
            Err(mpsc::TryRecvError::Empty) => None,
            Err(mpsc::TryRecvError::Disconnected) => Some(Err(Self::stopped())),
        }
    }

    /// Waits for the call's result; the completion is then spent.
    pub fn wait(&mut self) -> io::Result<()> {
        self.0.recv().unwrap_or_else(|_| Err(Self::stopped()))
    }

    fn stopped() -> io::Error {
        io::Error::other("the file's writer stopped before the call ended")
    }
}

/// A root directory that holds archive files.
pub trait Target: Send {
    /// The root, for messages: `file:///dir` or `hdfs://nn:port/path`.
    fn describe(&self) -> String;
    /// Creates a new file, with its parent directories; fails if it exists.
    fn create(&self, path: &str) -> io::Result<Box<dyn TargetFile>>;
    /// Renames a file; fails rather than replace an existing `to`.
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// The names of the entries of directory `dir` (`""` is the root); empty when it is missing.
    fn list(&self, dir: &str) -> io::Result<Vec<String>>;
    /// The whole content of a file.
    fn read(&self, path: &str) -> io::Result<Vec<u8>>;
    fn remove(&self, path: &str) -> io::Result<()>;
    /// Makes sure no writer (a killed process, or this one before an outage) still holds the
    /// file, so that its length is final. A no-op for local files.
    fn recover(&self, path: &str) -> io::Result<()>;
    /// A cheap round trip that fails while the target is unreachable.
    fn probe(&self) -> io::Result<()>;
    /// Takes the one-writer-per-root lock, held until the returned guard is dropped. Fails with a
    /// message for the user when another process holds it.
    fn lock(&self) -> Result<Box<dyn Send>>;
}

/// Opens `--out`-style locations: `hdfs://nn:port/path`, `file:///dir`, or a plain path; HDFS
/// calls get the default deadline.
pub fn open_target(location: &str) -> Result<Box<dyn Target>> {
    open_target_with_deadline(location, hdfs::DEFAULT_TIMEOUT)
}

/// [`open_target`], each HDFS call failing after `hdfs_deadline` (`--hdfs-timeout`).
pub fn open_target_with_deadline(
    location: &str,
    hdfs_deadline: Duration,
) -> Result<Box<dyn Target>> {
    if location.starts_with("hdfs://") {
        return Ok(Box::new(HdfsTarget::connect(location, hdfs_deadline)?));
    }
    let path = match location.strip_prefix("file://") {
        Some(path) if path.starts_with('/') => path,
        Some(_) => {
            bail!("{location:?}: a file URL needs an absolute path, like file:///var/archive")
        }
        None if location.contains("://") => {
            bail!(
                "{location:?}: unsupported location; use hdfs://namenode:port/path, file:///dir or a directory path"
            )
        }
        None => location,
    };
    let target = LocalTarget::new(path.into())
        .with_context(|| format!("cannot use {path:?} as an archive directory"))?;
    Ok(Box::new(target))
}
