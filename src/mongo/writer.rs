//! Writing documents: idempotent unordered bulk inserts for the bulk of the stream, and
//! multi-document transactions for critical records together with the consumer's progress.
//!
//! Every write is retried until MongoDB takes it: a server that is down, failing over or not
//! satisfying the write concern only pauses the writer (with a growing backoff, logged), and the
//! caller advances nothing meanwhile, which is the backpressure upstream. Only two things end a
//! write early: an error no retry can fix (bad credentials, an invalid option), returned as an
//! error, and a document MongoDB refuses for good (too large, failing validation), which goes to
//! the dead-letter file with the server's reason, or, without one, stops the writer.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use mongodb::bson::{Bson, Document, RawDocumentBuf, doc};
use mongodb::error::{
    Error as MongoError, ErrorKind, TRANSIENT_TRANSACTION_ERROR, UNKNOWN_TRANSACTION_COMMIT_RESULT,
};
use mongodb::options::{Acknowledgment, ReadConcern, WriteConcern};
use mongodb::{Client, ClientSession, Collection};

use super::Target;

/// MongoDB's code for a duplicate key: the document is already stored.
const DUPLICATE_KEY: i32 = 11000;

/// How many critical documents go into one transaction; the consumer's progress rides in the
/// last one. Large enough to amortize the commit, small enough to stay far from the limits on
/// a transaction's size and lifetime.
const TRANSACTION_DOCS: usize = 5_000;

/// The name of the collection holding the consumers' progress, next to the records.
pub const PROGRESS_COLLECTION: &str = "progress";

/// How far a consumer has durably stored its input: `offset` is the next one to read in the
/// input stream named `key` (for Kafka: `<group>/<topic>/<partition>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    pub key: String,
    pub offset: i64,
}

/// One unit of work: documents in the order they were read, each marked critical or not, and
/// the progress that becomes true once all of them are stored.
#[derive(Debug, Default)]
pub struct Batch {
    pub bulk: Vec<RawDocumentBuf>,
    pub critical: Vec<RawDocumentBuf>,
    pub progress: Vec<Progress>,
}

/// What a write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub inserted: u64,
    /// Already stored (a replay): counted, not an error.
    pub duplicates: u64,
    /// Refused by MongoDB for good and written to the dead-letter file.
    pub rejected: u64,
}

impl std::ops::AddAssign for Outcome {
    fn add_assign(&mut self, other: Outcome) {
        self.inserted += other.inserted;
        self.duplicates += other.duplicates;
        self.rejected += other.rejected;
    }
}

/// How the writer writes.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Write concern of every write and commit; majority by default, so that a stored record
    /// survives the loss of the primary.
    pub write_concern: Acknowledgment,
    /// Where documents MongoDB refuses for good are kept, with the reason.
    pub dead_letter: Option<std::path::PathBuf>,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            write_concern: Acknowledgment::Majority,
            dead_letter: None,
        }
    }
}

/// The writer's handle on the records collection and the progress collection. Cheap to clone:
/// clones share the connection pool and the dead-letter file, so several batches can be in flight.
#[derive(Clone)]
pub struct Store {
    client: Client,
    logs: Collection<RawDocumentBuf>,
    progress: Collection<Document>,
    write_concern: WriteConcern,
    dead_letter: Option<Arc<Mutex<DeadLetter>>>,
    /// What the application names of all writers of this collection start with.
    app_prefix: String,
    /// This writer's application name: the prefix and something unique to the process.
    app_name: String,
}

impl Store {
    /// Opens the collections of `target`. Nothing is sent yet: a server that is down is waited
    /// for by the first write.
    pub async fn open(target: &Target, options: &WriterOptions) -> Result<Store> {
        // The application name tells which process left a transaction open (see
        // `abort_abandoned_transactions`): the writers of one collection share a prefix.
        let app_prefix = format!(
            "ls-store {:016x} ",
            xxhash_rust::xxh3::xxh3_64(format!("{}.{}", target.db, target.collection).as_bytes())
        );
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let app_name = format!("{app_prefix}{}-{nanos}", std::process::id());
        let client = target.client_named(&app_name).await?;
        let write_concern = WriteConcern::builder()
            .w(options.write_concern.clone())
            .build();
        let db = client.database(&target.db);
        let logs = with_concern(&db, &target.collection, &write_concern);
        let progress = with_concern(&db, PROGRESS_COLLECTION, &write_concern);
        let dead_letter = match &options.dead_letter {
            Some(path) => Some(Arc::new(Mutex::new(DeadLetter::open(path)?))),
            None => None,
        };
        Ok(Store {
            client,
            logs,
            progress,
            write_concern,
            dead_letter,
            app_prefix,
            app_name,
        })
    }

    /// The records collection, for reading.
    pub fn logs(&self) -> Collection<Document> {
        self.logs.clone_with_type()
    }

    /// Writes a batch: first the bulk documents, then the critical ones in transactions, the
    /// last of which also records the batch's progress. So stored progress always means that
    /// everything before it is stored too. Retries until done (see the module docs).
    pub async fn write(&self, batch: Batch) -> Result<Outcome> {
        let mut outcome = self.insert_bulk(batch.bulk).await?;
        if batch.critical.is_empty() && batch.progress.is_empty() {
            return Ok(outcome);
        }
        let mut chunks: Vec<Vec<RawDocumentBuf>> = Vec::new();
        let mut critical = batch.critical.into_iter().peekable();
        while critical.peek().is_some() {
            chunks.push(critical.by_ref().take(TRANSACTION_DOCS).collect());
        }
        if chunks.is_empty() {
            chunks.push(Vec::new());
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let progress = if i == last { &batch.progress[..] } else { &[] };
            outcome += self.insert_critical(chunk, progress).await?;
        }
        Ok(outcome)
    }

    /// Inserts `docs` unordered, retrying until every one is stored, already there, or refused
    /// for good (dead-lettered).
    pub async fn insert_bulk(&self, mut docs: Vec<RawDocumentBuf>) -> Result<Outcome> {
        let mut outcome = Outcome::default();
        let mut backoff = Backoff::new();
        while !docs.is_empty() {
            let error = match self.logs.insert_many(&docs).ordered(false).await {
                Ok(result) => {
                    outcome.inserted += result.inserted_ids.len() as u64;
                    break;
                }
                Err(error) => error,
            };
            let ErrorKind::InsertMany(failure) = error.kind.as_ref() else {
                backoff.wait_or_fail(&error).await?;
                continue;
            };
            // Documents already stored or refused for good leave the batch. Anything else (a
            // write concern not satisfied, a write cut by a failover) means retrying the rest:
            // what did get in then comes back as duplicates.
            let mut retry_rest = failure.write_concern_error.is_some();
            let mut settled = vec![false; docs.len()];
            let mut refused = Vec::new();
            for write_error in failure.write_errors.iter().flatten() {
                if write_error.code == DUPLICATE_KEY {
                    outcome.duplicates += 1;
                    settled[write_error.index] = true;
                } else if is_permanent_write_error(write_error.code) {
                    settled[write_error.index] = true;
                    refused.push((write_error.index, write_error.message.clone()));
                } else {
                    retry_rest = true;
                }
            }
            for (index, reason) in refused {
                self.dead_letter(&docs[index], &reason)?;
                outcome.rejected += 1;
            }
            let mut flags = settled.into_iter();
            docs.retain(|_| !flags.next().expect("one flag per document"));
            if !retry_rest {
                outcome.inserted += docs.len() as u64;
                break;
            }
            backoff.wait_or_fail(&error).await?;
        }
        Ok(outcome)
    }

    /// Inserts `docs` (missing ones only) and records `progress` in one transaction, retrying the
    /// whole transaction until it commits. A document refused for good is dead-lettered and the
    /// transaction redone without it.
    pub async fn insert_critical(
        &self,
        mut docs: Vec<RawDocumentBuf>,
        progress: &[Progress],
    ) -> Result<Outcome> {
        let mut backoff = Backoff::new();
        let mut rejected = 0;
        loop {
            let attempt = async {
                let mut txn = self.begin().await?;
                let outcome = txn.insert(&docs).await?;
                txn.record_progress(progress).await?;
                txn.commit().await?;
                Ok::<_, TxnError>(outcome)
            };
            match attempt.await {
                Ok(mut outcome) => {
                    outcome.rejected = rejected;
                    return Ok(outcome);
                }
                Err(TxnError::Refused { index, reason }) => {
                    let doc = docs.remove(index);
                    self.dead_letter(&doc, &reason)?;
                    rejected += 1;
                }
                Err(TxnError::Mongo(error)) => backoff.wait_or_fail(&error).await?,
            }
        }
    }

    /// Starts a transaction on the records and the progress collections, with the writer's write
    /// concern and snapshot reads.
    pub async fn begin(&self) -> Result<Transaction<'_>, MongoError> {
        let mut session = self.client.start_session().await?;
        session
            .start_transaction()
            .read_concern(ReadConcern::snapshot())
            .write_concern(self.write_concern.clone())
            .await?;
        Ok(Transaction {
            store: self,
            session,
        })
    }

    /// The stored progress of the input stream `key`: the next offset to read.
    pub async fn stored_progress(&self, key: &str) -> Result<Option<i64>> {
        let found = retry(|| self.progress.find_one(doc! {"_id": key})).await?;
        Ok(found.and_then(|d| d.get_i64("offset").ok()))
    }

    /// Aborts the idle transactions of the other writers of this collection. A writer killed in
    /// a transaction leaves it open on the server, holding its documents and progress, until
    /// MongoDB's transaction lifetime limit (60 s by default) ends it; its successor's
    /// transactions on the same records or progress meanwhile fail with write conflicts.
    /// Aborting one is what the crash would have done had the server noticed; a live writer
    /// that loses a transaction this way just retries it. Returns how many were aborted.
    pub async fn abort_abandoned_transactions(&self) -> Result<usize> {
        let admin = self.client.database("admin");
        let pipeline = [
            doc! {"$currentOp": {"idleSessions": true, "allUsers": false}},
            doc! {"$match": {
                "type": "idleSession",
                "transaction": {"$exists": true},
                "appName": {"$regex": format!("^{}", regex::escape(&self.app_prefix)), "$ne": &self.app_name},
            }},
            doc! {"$project": {"lsid.id": 1}},
        ];
        let mut cursor = retry(|| admin.aggregate(pipeline.clone())).await?;
        let mut sessions = Vec::new();
        while cursor.advance().await? {
            let op = cursor.deserialize_current()?;
            if let Ok(lsid) = op.get_document("lsid")
                && let Some(id) = lsid.get("id")
            {
                sessions.push(doc! {"id": id.clone()});
            }
        }
        if !sessions.is_empty() {
            let count = sessions.len();
            retry(|| admin.run_command(doc! {"killSessions": sessions.clone()})).await?;
            log::info!("aborted {count} transactions left open by another ls-store");
        }
        Ok(sessions.len())
    }

    fn dead_letter(&self, doc: &RawDocumentBuf, reason: &str) -> Result<()> {
        let id = doc.get_str("_id").unwrap_or_default();
        let Some(dead_letter) = &self.dead_letter else {
            bail!(
                "MongoDB refused the document {id} for good ({reason}); give --dead-letter FILE to keep such documents aside and go on"
            );
        };
        log::warn!("MongoDB refused the document {id}: {reason}; it goes to the dead-letter file");
        dead_letter
            .lock()
            .expect("dead-letter lock poisoned")
            .write(doc, reason)
    }
}

fn with_concern<T: Send + Sync>(
    db: &mongodb::Database,
    name: &str,
    write_concern: &WriteConcern,
) -> Collection<T> {
    db.collection_with_options(
        name,
        mongodb::options::CollectionOptions::builder()
            .write_concern(write_concern.clone())
            .build(),
    )
}

/// Write errors that no retry fixes: the document itself is unacceptable.
fn is_permanent_write_error(code: i32) -> bool {
    matches!(
        code,
        2      // BadValue
        | 10334 // BSONObjectTooLarge
        | 17280 // KeyTooLong
        | 121   // DocumentValidationFailure
        | 52    // DollarPrefixedFieldName
        | 57 // DottedFieldName
    )
}

/// A transaction in progress: records and progress written in it become visible together at
/// [`Transaction::commit`], or not at all (abort, drop, crash).
pub struct Transaction<'a> {
    store: &'a Store,
    session: ClientSession,
}

/// Why a transaction did not commit.
#[derive(Debug)]
pub enum TxnError {
    /// The document at `index` was refused for good.
    Refused {
        index: usize,
        reason: String,
    },
    Mongo(MongoError),
}

impl From<MongoError> for TxnError {
    fn from(error: MongoError) -> Self {
        TxnError::Mongo(error)
    }
}

impl std::fmt::Display for TxnError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TxnError::Refused { index, reason } => write!(f, "document {index} refused: {reason}"),
            TxnError::Mongo(error) => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for TxnError {}

impl Transaction<'_> {
    /// Inserts those of `docs` that are not stored yet. Reading first, in the transaction's
    /// snapshot, rather than counting duplicate-key errors: a write error aborts a transaction.
    /// A concurrent writer inserting the same id makes the commit fail with a transient error,
    /// and the retry then finds the id stored.
    pub async fn insert(&mut self, docs: &[RawDocumentBuf]) -> Result<Outcome, TxnError> {
        if docs.is_empty() {
            return Ok(Outcome::default());
        }
        let ids: Vec<&str> = docs.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        let mut cursor = self
            .store
            .logs
            .find(doc! {"_id": {"$in": ids}})
            .projection(doc! {"_id": 1})
            .session(&mut self.session)
            .await?;
        let mut stored = std::collections::HashSet::new();
        while cursor.advance(&mut self.session).await? {
            if let Ok(id) = cursor.current().get_str("_id") {
                stored.insert(id.to_string());
            }
        }
        // A batch can hold one record twice (sent again by ls-ship, read again by the
        // consumer): inserting both copies would abort every attempt with a duplicate key.
        let mut taken = std::collections::HashSet::new();
        let missing: Vec<(usize, &RawDocumentBuf)> = docs
            .iter()
            .enumerate()
            .filter(|(_, d)| {
                d.get_str("_id")
                    .is_ok_and(|id| !stored.contains(id) && taken.insert(id))
            })
            .collect();
        let outcome = Outcome {
            inserted: missing.len() as u64,
            duplicates: (docs.len() - missing.len()) as u64,
            rejected: 0,
        };
        if missing.is_empty() {
            return Ok(outcome);
        }
        let result = self
            .store
            .logs
            .insert_many(missing.iter().map(|(_, d)| *d))
            .session(&mut self.session)
            .await;
        if let Err(error) = result {
            if let ErrorKind::InsertMany(failure) = error.kind.as_ref()
                && let Some(refused) = failure
                    .write_errors
                    .iter()
                    .flatten()
                    .find(|e| is_permanent_write_error(e.code))
            {
                return Err(TxnError::Refused {
                    index: missing[refused.index].0,
                    reason: refused.message.clone(),
                });
            }
            return Err(error.into());
        }
        Ok(outcome)
    }

    /// Records the consumer's progress: each key's offset only ever moves forward.
    pub async fn record_progress(&mut self, progress: &[Progress]) -> Result<(), TxnError> {
        for p in progress {
            self.store
                .progress
                .update_one(doc! {"_id": &p.key}, doc! {"$max": {"offset": p.offset}})
                .upsert(true)
                .session(&mut self.session)
                .await?;
        }
        Ok(())
    }

    /// Commits, retrying the commit itself while its result is unknown (a failover during the
    /// commit): committing twice is harmless, guessing is not.
    pub async fn commit(mut self) -> Result<(), TxnError> {
        loop {
            match self.session.commit_transaction().await {
                Ok(()) => return Ok(()),
                Err(error) if error.contains_label(UNKNOWN_TRANSACTION_COMMIT_RESULT) => {
                    log::warn!("transaction commit result unknown, committing again: {error}");
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    /// Aborts: nothing written in the transaction becomes visible.
    pub async fn abort(mut self) -> Result<(), TxnError> {
        Ok(self.session.abort_transaction().await?)
    }
}

/// Retries a read until it succeeds or fails for good.
async fn retry<T, F, Fut>(mut op: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::IntoFuture<Output = Result<T, MongoError>>,
{
    let mut backoff = Backoff::new();
    loop {
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) => backoff.wait_or_fail(&error).await?,
        }
    }
}

/// Exponential backoff between retries, from 100 ms up to 10 s.
struct Backoff {
    delay: Duration,
    attempts: u32,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(100);
    const MAX: Duration = Duration::from_secs(10);

    fn new() -> Backoff {
        Backoff {
            delay: Self::FIRST,
            attempts: 0,
        }
    }

    /// Fails at once on an error no retry can fix, else sleeps before the next attempt.
    async fn wait_or_fail(&mut self, error: &MongoError) -> Result<()> {
        if is_fatal(error) {
            return Err(anyhow!("{}", super::redact_error(error)));
        }
        self.attempts += 1;
        let message = super::redact_error(error);
        if self.attempts == 1 || self.attempts.is_power_of_two() {
            log::warn!(
                "MongoDB write failed (attempt {}), retrying in {:?}: {message}",
                self.attempts,
                self.delay
            );
        }
        tokio::time::sleep(self.delay).await;
        self.delay = (self.delay * 2).min(Self::MAX);
        Ok(())
    }
}

/// Errors that waiting does not fix: the operator has to change something.
fn is_fatal(error: &MongoError) -> bool {
    if error.contains_label(TRANSIENT_TRANSACTION_ERROR) {
        return false;
    }
    matches!(
        error.kind.as_ref(),
        ErrorKind::Authentication { .. } | ErrorKind::InvalidArgument { .. }
    ) || matches!(
        error.kind.as_ref(),
        // Unauthorized: the user lacks the rights to write here.
        ErrorKind::Command(command) if command.code == 13
    )
}

/// Where documents refused for good are kept: one JSON line per document,
/// `{"reason": ..., "document": ...}` (the document in relaxed extended JSON), synced before the
/// writer moves on, so that a refused document is never lost either.
struct DeadLetter {
    file: File,
    path: std::path::PathBuf,
}

impl DeadLetter {
    fn open(path: &Path) -> Result<DeadLetter> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .with_context(|| format!("cannot open the dead-letter file {}", path.display()))?;
        Ok(DeadLetter {
            file,
            path: path.to_path_buf(),
        })
    }

    fn write(&mut self, doc: &RawDocumentBuf, reason: &str) -> Result<()> {
        let document = match doc.to_document() {
            Ok(document) => Bson::Document(document).into_relaxed_extjson(),
            Err(e) => serde_json::Value::String(format!("undecodable document: {e}")),
        };
        let line = serde_json::json!({"reason": reason, "document": document});
        let mut bytes = serde_json::to_vec(&line).expect("JSON to memory");
        bytes.push(b'\n');
        self.file
            .write_all(&bytes)
            .and_then(|()| self.file.sync_data())
            .with_context(|| format!("cannot write the dead-letter file {}", self.path.display()))
    }
}
