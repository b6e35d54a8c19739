//! The HDFS target, through the hdfs-native client (no JVM): create, write, hsync, close,
//! rename, list, and lease recovery for files a dead writer left open.
//!
//! A file being written is a task on the client's runtime that owns the block writer and runs
//! the writes, hsyncs and the close in order, so that the caller encodes and queues the next
//! bytes while the DataNode writes and fsyncs the previous ones (an hsync of tens of MiB waits
//! for a disk, tens of milliseconds). What is queued is bounded in bytes: a full queue makes
//! the caller wait. An hsync's result comes back later ([`TargetFile::start_sync`]), and only an
//! hsync HDFS acknowledged makes bytes synced.
//!
//! Every call has a deadline (`--hdfs-timeout`): the client's block writer has none, and a
//! DataNode that stops under it can block an hsync for good. A call that misses its deadline
//! fails like any other HDFS error (a file's queued call, from when the task starts it), and
//! the roller abandons the file (see [`super::spool`]). Such a call may still take effect
//! later, so:
//! - a late write or hsync cannot add records: the salvage of an abandoned file first recovers
//!   its lease, which fences the dropped writer, and keeps only the bytes of acknowledged
//!   hsyncs before the failure;
//! - a namespace call (create, rename, delete) that missed its deadline keeps running in the
//!   background, and [`Target::probe`] fails until HDFS has answered it one way or the other: so
//!   ls-roll goes back to HDFS, and salvages, only once no late call can change a name any more.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, mpsc};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use hdfs_native::client::IORuntime;
use hdfs_native::file::FileWriter;
use hdfs_native::{Client, ClientBuilder, HdfsError, WriteOptions};
use tokio::runtime::Runtime;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinHandle;

use super::target::{Completion, Target, TargetFile};

/// Lock file name in an HDFS root; `_`-prefixed so that Hadoop tools skip it.
const LOCK_FILE: &str = "_ls-roll.lock";
/// How long [`Target::recover`] waits for the NameNode to close a file.
const RECOVERY_WAIT: Duration = Duration::from_secs(90);
/// The default deadline of one HDFS call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes moved by one call, so that one deadline fits any file size.
const PIECE: usize = 8 << 20;
/// Bytes queued for a file's writer task at most: enough to keep the caller busy while an
/// hsync waits for the DataNode's disk, little enough to bound the memory.
const QUEUE_BYTES: usize = 32 << 20;

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

fn timed_out(what: &str, deadline: Duration) -> io::Error {
    io::Error::new(
        io::ErrorKind::TimedOut,
        format!("HDFS did not complete {what} within {deadline:?}"),
    )
}

impl Calls {
    fn timed_out(&self, what: &str) -> io::Error {
        timed_out(what, self.deadline)
    }

    /// Waits for `call` until the deadline; a call that misses it is dropped.
    fn wait<T>(
        &self,
        what: &str,
        call: impl Future<Output = hdfs_native::Result<T>>,
    ) -> io::Result<T> {
        // The timer is made inside the runtime, whose clock it needs.
        self.runtime.block_on(within(what, self.deadline, call))
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

/// What a file's writer task does, in order.
enum Command {
    /// Writes the bytes; the permit holds their room in the queue until they are written.
    Write(Vec<u8>, OwnedSemaphorePermit),
    Sync(mpsc::Sender<io::Result<()>>),
    Close(mpsc::Sender<io::Result<()>>),
}

/// A file being written: the handle of the task that writes it (see the module doc). After a
/// failed call the writer is in an unknown state (a write may have been cut half-way), so the
/// task refuses every later call: the roller abandons the file. Dropping the handle stops the
/// task, so that an abandoned file is not written any further; a closing file's task ends by
/// itself.
struct HdfsFile {
    commands: UnboundedSender<Command>,
    /// Room in the queue, one permit per byte.
    room: Arc<Semaphore>,
    /// Why the task stopped, once a call failed.
    failure: Arc<OnceLock<String>>,
    calls: Calls,
    /// The task, stopped when the handle is dropped; `None` once the file is closing.
    task: Option<JoinHandle<()>>,
}

impl HdfsFile {
    /// Starts the task that writes with `writer`.
    fn start(writer: FileWriter, calls: Calls) -> HdfsFile {
        let (commands, queue) = unbounded_channel();
        let failure = Arc::new(OnceLock::new());
        let task =
            (calls.runtime).spawn(run_writer(writer, queue, calls.deadline, failure.clone()));
        HdfsFile {
            commands,
            room: Arc::new(Semaphore::new(QUEUE_BYTES)),
            failure,
            calls,
            task: Some(task),
        }
    }

    /// The error of a call on a file whose earlier call failed.
    fn refused(&self, what: &str) -> io::Error {
        refused(what, self.failure.get().map_or("", String::as_str))
    }

    fn send(&self, what: &str, command: Command) -> io::Result<()> {
        if self.failure.get().is_some() {
            return Err(self.refused(what));
        }
        self.commands.send(command).map_err(|_| self.refused(what))
    }

    /// Queues `command` and gives the channel its reply comes back on.
    fn request(
        &self,
        what: &str,
        command: impl FnOnce(mpsc::Sender<io::Result<()>>) -> Command,
    ) -> io::Result<mpsc::Receiver<io::Result<()>>> {
        let (reply, result) = mpsc::channel();
        self.send(what, command(reply))?;
        Ok(result)
    }
}

fn refused(what: &str, failure: &str) -> io::Error {
    io::Error::other(format!(
        "cannot {what}: an earlier HDFS call on this file failed: {failure}"
    ))
}

impl Drop for HdfsFile {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// Waits for `call` until `deadline`, which fails it like an HDFS error.
async fn within<T>(
    what: &str,
    deadline: Duration,
    call: impl Future<Output = hdfs_native::Result<T>>,
) -> io::Result<T> {
    match tokio::time::timeout(deadline, call).await {
        Ok(result) => result.map_err(io_error),
        Err(_) => Err(timed_out(what, deadline)),
    }
}

/// The task of an [`HdfsFile`]: runs the commands in order, each within `deadline`; after a
/// failure, answers every later command with a refusal.
async fn run_writer(
    mut writer: FileWriter,
    mut queue: UnboundedReceiver<Command>,
    deadline: Duration,
    failure: Arc<OnceLock<String>>,
) {
    while let Some(command) = queue.recv().await {
        let (what, result, reply) = match command {
            Command::Write(bytes, _room) => {
                let call = writer.write_bytes(bytes.into());
                (
                    "write",
                    within("a write", deadline, call).await.map(drop),
                    None,
                )
            }
            Command::Sync(reply) => {
                let result = within("an hsync", deadline, writer.hsync()).await;
                ("hsync", result, Some(reply))
            }
            Command::Close(reply) => {
                let result = within("a close", deadline, writer.close()).await;
                ("close", result, Some(reply))
            }
        };
        let failed = result.as_ref().err().map(|err| format!("{what}: {err}"));
        if let Some(reply) = reply {
            // The caller may have stopped waiting (an abandoned file).
            let _ = reply.send(result);
        }
        if let Some(failed) = failed {
            let _ = failure.set(failed);
            break;
        }
    }
    queue.close();
    let failure = failure.get().map_or("", String::as_str);
    while let Some(command) = queue.recv().await {
        match command {
            Command::Write(..) => {}
            Command::Sync(reply) => drop(reply.send(Err(refused("hsync", failure)))),
            Command::Close(reply) => drop(reply.send(Err(refused("close", failure)))),
        }
    }
}

impl TargetFile for HdfsFile {
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        for piece in data.chunks(PIECE) {
            let bytes = piece.len() as u32;
            let room = match self.room.clone().try_acquire_many_owned(bytes) {
                Ok(room) => room,
                // The queue is full: wait for the task to write some of it (or to fail).
                Err(_) => (self.calls.runtime)
                    .block_on(self.room.clone().acquire_many_owned(bytes))
                    .map_err(|_| self.refused("write"))?,
            };
            self.send("write", Command::Write(piece.to_vec(), room))?;
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.start_sync().wait()
    }

    fn start_sync(&mut self) -> Completion {
        match self.request("hsync", Command::Sync) {
            Ok(result) => Completion::running(result),
            Err(err) => Completion::done(Err(err)),
        }
    }

    fn close(self: Box<Self>) -> io::Result<()> {
        self.close_in_background().wait()
    }

    fn close_in_background(mut self: Box<Self>) -> Completion {
        match self.request("close", Command::Close) {
            Ok(result) => {
                // The task ends after the close (or its deadline): the handle may go.
                self.task = None;
                Completion::running(result)
            }
            Err(err) => Completion::done(Err(err)),
        }
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
        Ok(Box::new(HdfsFile::start(writer, self.calls.clone())))
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
