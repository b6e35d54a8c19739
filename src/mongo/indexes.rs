//! The indexes queries rely on, created at start when missing: `timestamp`,
//! `log_level + timestamp`, `source + timestamp`. With a retention, the timestamp index is a TTL
//! index and MongoDB deletes records older than it. Optionally the collection is created as a
//! time-series collection (MongoDB 5.0+), which stores logs more compactly but does not enforce
//! unique `_id`s (see the exactly-once guarantee in the module docs of [`crate::mongo`]).

use std::time::Duration;

use anyhow::{Context, Result, bail};
use mongodb::bson::{Document, doc};
use mongodb::options::{IndexOptions, TimeseriesGranularity, TimeseriesOptions};
use mongodb::{Collection, Database, IndexModel};

/// What to create besides the three query indexes.
#[derive(Debug, Clone, Default)]
pub struct IndexPlan {
    /// Delete records this much older than their timestamp (a TTL on `timestamp`).
    pub retain: Option<Duration>,
    /// Create the collection as a time-series collection if it does not exist yet.
    pub time_series: bool,
}

/// The name of the timestamp index, which carries the TTL when there is one.
pub const TIMESTAMP_INDEX: &str = "timestamp_1";

/// Creates the collection (time-series if asked) and the indexes that are missing, and makes
/// the TTL match `plan.retain`.
pub async fn ensure(coll: &Collection<Document>, plan: &IndexPlan) -> Result<()> {
    let db = coll.client().database(&coll.namespace().db);
    let db = &db;
    let collection = coll.name();
    if plan.time_series {
        create_time_series(db, collection).await?;
    }
    let mut timestamp_options = IndexOptions::builder()
        .name(TIMESTAMP_INDEX.to_string())
        .build();
    timestamp_options.expire_after = plan.retain;
    let models = vec![
        IndexModel::builder()
            .keys(doc! {"timestamp": 1})
            .options(timestamp_options)
            .build(),
        IndexModel::builder()
            .keys(doc! {"log_level": 1, "timestamp": 1})
            .build(),
        IndexModel::builder()
            .keys(doc! {"source": 1, "timestamp": 1})
            .build(),
    ];
    match coll.create_indexes(models.clone()).await {
        Ok(_) => Ok(()),
        // The timestamp index exists with another TTL (or none): change it in place.
        Err(e) if is_options_conflict(&e) => {
            set_ttl(db, collection, plan.retain).await?;
            coll.create_indexes(models)
                .await
                .with_context(|| format!("cannot create the indexes of {collection}"))?;
            Ok(())
        }
        Err(e) => Err(anyhow::anyhow!("{}", super::redact_error(&e)))
            .with_context(|| format!("cannot create the indexes of {collection}")),
    }
}

/// IndexOptionsConflict (85) or IndexKeySpecsConflict (86): the index exists with other options.
fn is_options_conflict(error: &mongodb::error::Error) -> bool {
    matches!(
        error.kind.as_ref(),
        mongodb::error::ErrorKind::Command(command) if matches!(command.code, 85 | 86)
    )
}

async fn set_ttl(db: &Database, collection: &str, retain: Option<Duration>) -> Result<()> {
    let Some(retain) = retain else {
        bail!(
            "the timestamp index of {collection} has a TTL; give --retain to keep one, or drop the index {TIMESTAMP_INDEX} to keep records forever"
        );
    };
    db.run_command(doc! {
        "collMod": collection,
        "index": {"name": TIMESTAMP_INDEX, "expireAfterSeconds": retain.as_secs() as i64},
    })
    .await
    .map_err(|e| anyhow::anyhow!("{}", super::redact_error(&e)))
    .with_context(|| {
        format!(
            "cannot set the retention of {collection} (a timestamp index without TTL cannot be changed into one: drop {TIMESTAMP_INDEX} first)"
        )
    })?;
    Ok(())
}

async fn create_time_series(db: &Database, collection: &str) -> Result<()> {
    let existing = db
        .list_collection_names()
        .await
        .map_err(|e| anyhow::anyhow!("{}", super::redact_error(&e)))?;
    if existing.iter().any(|name| name == collection) {
        return Ok(());
    }
    let options = TimeseriesOptions::builder()
        .time_field("timestamp".to_string())
        .meta_field(Some("source".to_string()))
        .granularity(Some(TimeseriesGranularity::Seconds))
        .build();
    db.create_collection(collection)
        .timeseries(options)
        .await
        .map_err(|e| anyhow::anyhow!("{}", super::redact_error(&e)))
        .with_context(|| {
            format!("cannot create the time-series collection {collection} (MongoDB 5.0 or later is needed)")
        })
}
