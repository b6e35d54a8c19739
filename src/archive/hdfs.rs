//! The HDFS target, through the hdfs-native client (no JVM): create, write, hsync, close,
//! rename, list, and lease recovery for files a dead writer left open.

use std::io;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use hdfs_native::sync::{Client, ClientBuilder, FileWriter};
use hdfs_native::{HdfsError, WriteOptions};

use super::target::{Target, TargetFile};

/// Lock file name in an HDFS root; `_`-prefixed so that Hadoop tools skip it.
const LOCK_FILE: &str = "_ls-roll.lock";
/// How long [`Target::recover`] waits for the NameNode to close a file.
const RECOVERY_WAIT: Duration = Duration::from_secs(90);

pub struct HdfsTarget {
    client: Client,
    /// `hdfs://nn:port` + `base` is the root.
    uri: String,
    /// Absolute path of the root in HDFS, without a trailing `/`.
    base: String,
}

fn io_error(err: HdfsError) -> io::Error {
    let kind = match &err {
        HdfsError::AlreadyExists(_) => io::ErrorKind::AlreadyExists,
        HdfsError::FileNotFound(_) => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, err)
}

impl HdfsTarget {
    /// Connects to `hdfs://nn:port/path`. Nothing is sent until the first operation.
    pub fn connect(location: &str) -> Result<HdfsTarget> {
        let rest = location
            .strip_prefix("hdfs://")
            .context("an HDFS location starts with hdfs://")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            bail!("{location:?}: name the NameNode, like hdfs://namenode:8020/logs");
        }
        let uri = format!("hdfs://{authority}");
        let client = ClientBuilder::new()
            .with_url(&uri)
            .build()
            .with_context(|| format!("cannot set up an HDFS client for {uri}"))?;
        Ok(HdfsTarget {
            client,
            uri,
            base: path.trim_end_matches('/').to_string(),
        })
    }

    fn path(&self, relative: &str) -> String {
        if relative.is_empty() {
            return if self.base.is_empty() { "/".into() } else { self.base.clone() };
        }
        format!("{}/{relative}", self.base)
    }
}

struct HdfsFile(FileWriter);

impl TargetFile for HdfsFile {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.0
            .write_bytes(data.to_vec().into())
            .map(drop)
            .map_err(io_error)
    }

    fn sync(&mut self) -> io::Result<()> {
        self.0.hsync().map_err(io_error)
    }

    fn close(mut self: Box<Self>) -> io::Result<()> {
        self.0.close().map_err(io_error)
    }
}

/// Holds the lock file open: HDFS grants one writer lease per file, renewed by the client while
/// it lives.
struct LockGuard {
    client: Client,
    path: String,
    writer: Option<FileWriter>,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        if let Some(mut writer) = self.writer.take() {
            let _ = writer.close();
        }
        let _ = self.client.delete(&self.path, false);
    }
}

impl Target for HdfsTarget {
    fn describe(&self) -> String {
        format!("{}{}", self.uri, self.base)
    }

    fn create(&self, path: &str) -> io::Result<Box<dyn TargetFile>> {
        let writer = self
            .client
            .create(&self.path(path), WriteOptions::default())
            .map_err(io_error)?;
        Ok(Box::new(HdfsFile(writer)))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        self.client
            .rename(&self.path(from), &self.path(to), false)
            .map_err(io_error)
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        match self.client.list_status(&self.path(dir), false) {
            Ok(statuses) => Ok(statuses
                .into_iter()
                .filter_map(|s| s.path.rsplit('/').next().map(str::to_string))
                .collect()),
            Err(HdfsError::FileNotFound(_)) => Ok(Vec::new()),
            Err(e) => Err(io_error(e)),
        }
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let reader = self.client.read(&self.path(path)).map_err(io_error)?;
        let bytes = reader
            .read_range(0, reader.file_length())
            .map_err(io_error)?;
        Ok(bytes.to_vec())
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        self.client
            .delete(&self.path(path), false)
            .map(drop)
            .map_err(io_error)
    }

    fn recover(&self, path: &str) -> io::Result<()> {
        let path = self.path(path);
        let deadline = std::time::Instant::now() + RECOVERY_WAIT;
        loop {
            match self.client.recover_lease(&path) {
                Ok(true) | Err(HdfsError::FileNotFound(_)) => return Ok(()),
                Ok(false) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_secs(1))
                }
                Ok(false) => {
                    return Err(io::Error::other(format!(
                        "HDFS did not close {path} within {RECOVERY_WAIT:?} of lease recovery"
                    )));
                }
                Err(e) => return Err(io_error(e)),
            }
        }
    }

    fn probe(&self) -> io::Result<()> {
        self.client
            .get_file_info("/")
            .map(drop)
            .map_err(io_error)
    }

    fn lock(&self) -> Result<Box<dyn Send>> {
        let path = self.path(LOCK_FILE);
        let writer = match self.client.create(&path, WriteOptions::default()) {
            Ok(writer) => writer,
            // Left by a process that exited without removing it: free once its lease is gone.
            Err(HdfsError::AlreadyExists(_)) => self.client.append(&path).map_err(|e| {
                anyhow::anyhow!(
                    "another ls-roll is writing to {} (it holds the lease of {path}: {e}); stop it, \
                     or if it was killed, retry after HDFS expires its lease (about a minute)",
                    self.describe()
                )
            })?,
            Err(e) => {
                return Err(io_error(e))
                    .with_context(|| format!("cannot reach HDFS at {}", self.describe()));
            }
        };
        Ok(Box::new(LockGuard {
            client: self.client.clone(),
            path,
            writer: Some(writer),
        }))
    }
}
