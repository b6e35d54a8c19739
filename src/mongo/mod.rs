//! Storing records in MongoDB and querying them back (ls-store).
//!
//! - [`doc`]: a record as a document (`_id` = record id, timestamp as a BSON date).
//! - [`writer`]: unordered idempotent bulk inserts, transactions for critical records with the
//!   consumer's progress, retries while MongoDB is away, the dead-letter file.
//! - [`ingest`]: the streaming loop from the shared input (stdin or a Kafka consumer group) to
//!   the writer, with batching, several batches in flight, offsets committed and the LSN store
//!   advanced after commit.
//! - [`resume`]: where a consumer group member resumes: the progress stored with the critical
//!   records, or the group's committed offsets when further on.
//! - [`indexes`]: the indexes queries need, an optional TTL, an optional time-series collection.
//! - [`query`]: the incident-investigation queries of `ls-store query`.
//!
//! # The exactly-once guarantee
//!
//! *Each record id is stored at most once, and every record the input delivered is stored before
//! the input's progress moves past it.* Precisely:
//!
//! 1. **At most once per id.** A record's `_id` is its deterministic id, and `_id` is unique in a
//!    collection, so a record written again (a replay after a crash, the same file fed twice, a
//!    write retried after a failover) finds its id taken: the bulk path counts the duplicate-key
//!    error as "already stored", the transactional path reads which ids are stored and inserts
//!    only the others. Two records with the same id are the same record by design (DESIGN.md §1).
//! 2. **At least once.** Progress (the LSN store with `--lsn-dir`; the consumer's offsets) only
//!    moves past a record once its write was acknowledged with the configured write concern
//!    (majority by default: the write survives a failover). Until then a crash or an outage
//!    leaves the record to be read again. MongoDB being down or failing over pauses the writer,
//!    which retries with backoff and advances nothing meanwhile; nothing is dropped. A document
//!    MongoDB refuses for good is written, with the reason, to the dead-letter file (synced)
//!    before progress moves past it; without `--dead-letter` the writer stops instead.
//! 3. **Critical records atomically with progress.** Records at or above the critical level
//!    (ERROR by default) are inserted in multi-document transactions; with a Kafka consumer
//!    group, the batch's offsets (`progress` collection: `{_id: "<group>/<topic>/<partition>",
//!    offset}`, the next offset to read) are written in the last of them, after the batch's
//!    non-critical records are acknowledged and after every earlier batch is stored. So stored
//!    progress always means that everything before it is stored, and a batch's critical records
//!    (up to 5,000 per transaction) and the offsets that cover them are visible together or not
//!    at all: an aborted or interrupted transaction leaves nothing behind. The group's offsets
//!    are committed to Kafka only after that transaction, in batch order.
//! 4. **Resuming.** A partition resumes at its stored progress when that is ahead of the group's
//!    committed offset, else at the committed offset ([`resume`]). Both only name stored records,
//!    so nothing is skipped; after a crash the critical records of every committed transaction
//!    are not even read again, and what is read again (the batches in flight at the crash) is
//!    deduplicated by id (1.).
//!
//! Together: the collection ends up holding each delivered record exactly once, across crashes
//! (`kill -9` included), restarts and failovers. What is *not* promised: a record refused for
//! good is in the dead-letter file, not in the collection; a reader may see a non-critical batch
//! partly written while it is in flight; with `--time-series` MongoDB does not enforce unique
//! `_id`s, so a replay can store a record twice (at least once); Kafka without `--group` commits
//! and stores no progress (every run reads the whole topic, deduplicated by id).

pub mod doc;
pub mod indexes;
pub mod ingest;
pub mod query;
pub mod resume;
pub mod writer;

use anyhow::{Context, Result, bail};
use mongodb::Client;
use mongodb::options::ClientOptions;

/// Where records live: a deployment, a database and a collection.
#[derive(Clone)]
pub struct Target {
    /// The connection string, credentials included: never print it, print [`Target::display`].
    pub uri: String,
    pub db: String,
    pub collection: String,
}

impl Target {
    /// The connection string without credentials, for messages.
    pub fn display(&self) -> String {
        redact_uri(&self.uri)
    }

    /// A client for the deployment. Connecting is lazy: a server that is down is waited for by
    /// the first operation.
    pub async fn client(&self) -> Result<Client> {
        self.client_named("ls-store").await
    }

    /// Like [`client`](Self::client), with the application name MongoDB shows for its
    /// operations and sessions (unless the URI sets `appName`).
    pub async fn client_named(&self, app_name: &str) -> Result<Client> {
        if !self.uri.starts_with("mongodb://") && !self.uri.starts_with("mongodb+srv://") {
            bail!(
                "the MongoDB URI {} does not start with mongodb:// (give --mongo, LOGSPHERE_MONGO_URI or --mongo-uri-file)",
                self.display()
            );
        }
        let mut options = ClientOptions::parse(&self.uri)
            .await
            .map_err(|e| anyhow::anyhow!("{}", redact_error(&e)))
            .with_context(|| format!("invalid MongoDB URI {}", self.display()))?;
        options.app_name.get_or_insert_with(|| app_name.into());
        // Fail a server selection within seconds so that the writer's own retry loop, which
        // says what it is waiting for, takes over.
        options
            .server_selection_timeout
            .get_or_insert(std::time::Duration::from_secs(5));
        Client::with_options(options)
            .map_err(|e| anyhow::anyhow!("{}", redact_error(&e)))
            .with_context(|| format!("cannot set up a MongoDB client for {}", self.display()))
    }
}

/// `uri` with any `user:password@` replaced by `***@`.
pub fn redact_uri(uri: &str) -> String {
    let Some(scheme_end) = uri.find("://").map(|i| i + 3) else {
        return uri.to_string();
    };
    let rest = &uri[scheme_end..];
    let host_end = rest.find('/').unwrap_or(rest.len());
    match rest[..host_end].rfind('@') {
        Some(at) => format!("{}***{}", &uri[..scheme_end], &rest[at..]),
        None => uri.to_string(),
    }
}

/// A driver error as text, with anything that looks like a connection string redacted: the
/// driver's messages may quote the URI it was given.
pub fn redact_error(error: &mongodb::error::Error) -> String {
    if let mongodb::error::ErrorKind::ServerSelection { message, .. } = &*error.kind {
        // The driver's message dumps its whole topology; the first server's error is the news.
        let cause = message
            .split_once("Error: Kind: ")
            .and_then(|(_, rest)| rest.split(", labels").next())
            .unwrap_or("no answer");
        return format!(
            "no MongoDB server answered ({cause}): check the hosts in the URI and that MongoDB runs there"
        );
    }
    error
        .to_string()
        .split(' ')
        .map(|word| {
            if word.contains("://") {
                redact_uri(word)
            } else {
                word.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_redacted() {
        assert_eq!(
            redact_uri("mongodb://ann:s3cr%40t@db1:27017,db2/?replicaSet=rs0"),
            "mongodb://***@db1:27017,db2/?replicaSet=rs0"
        );
        assert_eq!(
            redact_uri("mongodb://127.0.0.1:27018/?replicaSet=rs0"),
            "mongodb://127.0.0.1:27018/?replicaSet=rs0"
        );
        assert_eq!(
            redact_uri("mongodb+srv://u:p@x.example/db"),
            "mongodb+srv://***@x.example/db"
        );
    }
}
