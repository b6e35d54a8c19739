//! The HDFS target, through the hdfs-native client (no JVM): create, write, hsync, close,
//! rename, list, and lease recovery for files a dead writer left open.
//!
//! Every call has a deadline (`--hdfs-timeout`): the client's block writer has none, and a
//! DataNode that stops under it can block an hsync for good. A call that misses its deadline
//! fails like any other HDFS error, and the roller abandons the file (see [`super::spool`]). Such
//! a call may still take effect later, so:
//! - a late write or hsync cannot add records: the salvage of an abandoned file first recovers
//!   its lease, which fences the dropped writer, and keeps only the bytes synced before the
//!   failure;
//! - a namespace call (create, rename, delete) that missed its deadline keeps running in the
//!   background, and [`Target::probe`] fails until HDFS has answered it one way or the other: so
//!   ls-roll goes back to HDFS, and salvages, only once no late call can change a name any more.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdfs_native::client::IORuntime;
use hdfs_native::file::FileWriter;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use tokio::runtime::Runtime;
use tokio::task::JoinHandle;

use super::target::{Closing, Target, TargetFile};

/// Lock file name in an HDFS root; `_`-prefixed so that Hadoop tools skip it.
const LOCK_FILE: &str = "_ls-roll.lock";
/// How long [`Target::recover`] waits for the NameNode to close a file.
const RECOVERY_WAIT: Duration = Duration::from_secs(90);
/// The default deadline of one HDFS call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes moved by one call, so that one deadline fits any file size.
const PIECE: usize = 8 << 20;

fn io_error(err: HdfsError) -> io::Error {
    let kind = match &err {
        HdfsError::AlreadyExists(_) => io::ErrorKind::AlreadyExists,
        HdfsError::FileNotFound(_) => io::ErrorKind::NotFound,
        _ => io::ErrorKind::Other,
    };
    io::Error::new(kind, err)
}

/// Runs HDFS calls on the client's runtime, each within the deadline.
#[derive(Clone)]
struct Calls {
    runtime: Arc<Runtime>,
    deadline: Duration,
    /// Namespace calls started and not ended: between calls, the ones that missed their deadline.
    running: Arc<AtomicUsize>,
}

/// Counts a namespace call as running until it ends, however it ends.
struct Running(Arc<AtomicUsize>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Calls {
    fn timed_out(&self, what: &str) -> io::Error {
        io::Error::new(
            io::ErrorKind::TimedOut,
            format!("HDFS did not complete {what} within {:?}", self.deadline),
        )
    }

    /// Waits for `call` until the deadline; a call that misses it is dropped.
    fn wait<T>(
        &self,
        what: &str,
        call: impl Future<Output = hdfs_native::Result<T>>,
    ) -> io::Result<T> {
        // The timer is made inside the runtime, whose clock it needs.
        let bounded = async { tokio::time::timeout(self.deadline, call).await };
        match self.runtime.block_on(bounded) {
            Ok(result) => result.map_err(io_error),
            Err(_) => Err(self.timed_out(what)),
        }
    }

    /// Runs a namespace call as a task of its own, which goes on after a missed deadline until
    /// HDFS answers, counted in `running`.
    fn detach<T: Send + 'static>(
        &self,
        what: &str,
        call: impl Future<Output = hdfs_native::Result<T>> + Send + 'static,
    ) -> io::Result<T> {
        self.running.fetch_add(1, Ordering::SeqCst);
        let running = Running(self.running.clone());
        let mut task = self.runtime.spawn(async move {
            let _running = running;
            call.await
        });
        let deadline = Instant::now() + self.deadline;
        self.join(what, &mut task, deadline)
            .unwrap_or_else(|| Err(self.timed_out(what)))
    }

    /// Starts `call` as a task; the returned wait gives its result, failing if it has not ended
    /// within the deadline from now (the task is then stopped).
    fn start<T: Send + 'static>(
        &self,
        what: &'static str,
        call: impl Future<Output = hdfs_native::Result<T>> + Send + 'static,
    ) -> impl FnOnce() -> io::Result<T> + Send + 'static {
        let calls = self.clone();
        let mut task = self.runtime.spawn(call);
        let deadline = Instant::now() + self.deadline;
        move || {
            calls.join(what, &mut task, deadline).unwrap_or_else(|| {
                task.abort();
                Err(calls.timed_out(what))
            })
        }
    }

    /// Waits for a call running as `task` until `deadline`; `None` when it missed it (the task
    /// is left running).
    fn join<T>(
        &self,
        what: &str,
        task: &mut JoinHandle<hdfs_native::Result<T>>,
        deadline: Instant,
    ) -> Option<io::Result<T>> {
        let bounded = async { tokio::time::timeout_at(deadline.into(), task).await };
        match self.runtime.block_on(bounded) {
            Ok(Ok(result)) => Some(result.map_err(io_error)),
            Ok(Err(join)) => Some(Err(io::Error::other(format!("HDFS {what}: {join}")))),
            Err(_) => None,
        }
    }

    /// Fails while a namespace call that missed its deadline has not ended.
    fn settled(&self) -> io::Result<()> {
        match self.running.load(Ordering::SeqCst) {
            0 => Ok(()),
            late => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("{late} HDFS call(s) that missed their deadline have not ended yet"),
            )),
        }
    }
}

pub struct HdfsTarget {
    client: Client,
    calls: Calls,
    /// `hdfs://nn:port` + `base` is the root.
    uri: String,
    /// Absolute path of the root in HDFS, without a trailing `/`.
    base: String,
}

impl HdfsTarget {
    /// Connects to `hdfs://nn:port/path`, each call bounded by `deadline`. Nothing is sent until
    /// the first operation.
    pub fn connect(location: &str, deadline: Duration) -> Result<HdfsTarget> {
        let rest = location
            .strip_prefix("hdfs://")
            .context("an HDFS location starts with hdfs://")?;
        let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        if authority.is_empty() {
            bail!("{location:?}: name the NameNode, like hdfs://namenode:8020/logs");
        }
        let uri = format!("hdfs://{authority}");
        // Multi-threaded: the client's lease renewal and block writers run between calls.
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("hdfs-client")
            .enable_all()
            .build()
            .context("cannot start the HDFS client's runtime")?;
        let client = ClientBuilder::new()
            .with_url(&uri)
            .with_io_runtime(IORuntime::Handle(runtime.handle().clone()))
            .build()
            .with_context(|| format!("cannot set up an HDFS client for {uri}"))?;
        Ok(HdfsTarget {
            client,
            calls: Calls {
                runtime: Arc::new(runtime),
                deadline,
                running: Arc::default(),
            },
            uri,
            base: path.trim_end_matches('/').to_string(),
        })
    }

    fn path(&self, relative: &str) -> String {
        if relative.is_empty() {
            return if self.base.is_empty() {
                "/".into()
            } else {
                self.base.clone()
            };
        }
        format!("{}/{relative}", self.base)
    }

    fn create_writer(&self, path: &str) -> io::Result<FileWriter> {
        let (client, owned) = (self.client.clone(), path.to_string());
        self.calls
            .detach(&format!("the creation of {path}"), async move {
                client.create(&owned, WriteOptions::default()).await
            })
    }
}

/// A file being written. After a failed call its writer is in an unknown state (a write may
/// have been cut half-way), so it refuses any further call: the roller abandons it.
struct HdfsFile {
    writer: FileWriter,
    calls: Calls,
    broken: bool,
}

impl HdfsFile {
    fn guard<T>(
        &mut self,
        what: &str,
        call: impl FnOnce(&mut Self) -> io::Result<T>,
    ) -> io::Result<T> {
        if self.broken {
            return Err(Self::refused(what));
        }
        let result = call(self);
        self.broken = result.is_err();
        result
    }

    /// The error of a call on a file whose earlier call failed.
    fn refused(what: &str) -> io::Error {
        io::Error::other(format!(
            "cannot {what}: an earlier HDFS call on this file failed"
        ))
    }
}

impl TargetFile for HdfsFile {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        self.guard("write", |file| {
            for piece in data.chunks(PIECE) {
                let call = file.writer.write_bytes(piece.to_vec().into());
                file.calls.wait("a write", call)?;
            }
            Ok(())
        })
    }

    fn sync(&mut self) -> io::Result<()> {
        self.guard("hsync", |file| {
            file.calls.wait("an hsync", file.writer.hsync())
        })
    }

    fn close(mut self: Box<Self>) -> io::Result<()> {
        self.guard("close", |file| {
            file.calls.wait("a close", file.writer.close())
        })
    }

    fn close_in_background(self: Box<Self>) -> Closing {
        if self.broken {
            return Closing::Done(Err(Self::refused("close")));
        }
        let HdfsFile {
            mut writer, calls, ..
        } = *self;
        Closing::Running(Box::new(
            calls.start("a close", async move { writer.close().await }),
        ))
    }
}

/// Holds the lock file open: HDFS grants one writer lease per file, renewed by the client while
/// it lives.
struct LockGuard {
    client: Client,
    calls: Calls,
    path: String,
    writer: FileWriter,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.calls.wait("a close", self.writer.close());
        let _ = self
            .calls
            .wait("a delete", self.client.delete(&self.path, false));
    }
}

impl Target for HdfsTarget {
    fn describe(&self) -> String {
        format!("{}{}", self.uri, self.base)
    }

    fn create(&self, path: &str) -> io::Result<Box<dyn TargetFile>> {
        let writer = self.create_writer(&self.path(path))?;
        Ok(Box::new(HdfsFile {
            writer,
            calls: self.calls.clone(),
            broken: false,
        }))
    }

    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let (client, from, to) = (self.client.clone(), self.path(from), self.path(to));
        let what = format!("the rename of {from}");
        self.calls
            .detach(&what, async move { client.rename(&from, &to, false).await })
    }

    fn list(&self, dir: &str) -> io::Result<Vec<String>> {
        let path = self.path(dir);
        match self
            .calls
            .wait("a listing", self.client.list_status(&path, false))
        {
            Ok(statuses) => Ok(statuses
                .into_iter()
                .filter_map(|s| s.path.rsplit('/').next().map(str::to_string))
                .collect()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        let path = self.path(path);
        let reader = self.calls.wait("an open", self.client.read(&path))?;
        let mut bytes = Vec::with_capacity(reader.file_length());
        while bytes.len() < reader.file_length() {
            let len = PIECE.min(reader.file_length() - bytes.len());
            let piece = self
                .calls
                .wait("a read", reader.read_range(bytes.len(), len))?;
            bytes.extend_from_slice(&piece);
        }
        Ok(bytes)
    }

    fn remove(&self, path: &str) -> io::Result<()> {
        let (client, path) = (self.client.clone(), self.path(path));
        let what = format!("the deletion of {path}");
        self.calls
            .detach(&what, async move { client.delete(&path, false).await })
            .map(drop)
    }

    fn recover(&self, path: &str) -> io::Result<()> {
        let path = self.path(path);
        let deadline = Instant::now() + RECOVERY_WAIT;
        loop {
            match self
                .calls
                .wait("a lease recovery", self.client.recover_lease(&path))
            {
                Ok(true) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Ok(false) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_secs(1))
                }
                Ok(false) => {
                    return Err(io::Error::other(format!(
                        "HDFS did not close {path} within {RECOVERY_WAIT:?} of lease recovery"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn probe(&self) -> io::Result<()> {
        self.calls.settled()?;
        self.calls
            .wait("a probe", self.client.get_file_info("/"))
            .map(drop)
    }

    fn lock(&self) -> Result<Box<dyn Send>> {
        let path = self.path(LOCK_FILE);
        let writer = match self.create_writer(&path) {
            Ok(writer) => writer,
            // Left by a process that exited without removing it: free once its lease is gone.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => self
                .calls
                .wait("an append", self.client.append(&path))
                .map_err(|e| {
                    anyhow::anyhow!(
                        "another ls-roll is writing to {} (it holds the lease of {path}: {e}); stop it, \
                         or if it was killed, retry after HDFS expires its lease (about a minute)",
                        self.describe()
                    )
                })?,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot reach HDFS at {}", self.describe()));
            }
        };
        Ok(Box::new(LockGuard {
            client: self.client.clone(),
            calls: self.calls.clone(),
            path,
            writer,
        }))
    }
}
