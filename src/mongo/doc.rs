//! Records to MongoDB documents and back.
//!
//! The record id is the document's `_id`, so the collection's unique `_id` index is what makes a
//! replay insert nothing twice. The timestamp is a BSON date (milliseconds), so range queries and
//! TTL indexes work on it; a finer fraction, when the record has one, is kept in
//! `timestamp_ns` (nanoseconds past the millisecond) so that nothing of the record is lost.
//! Extra fields go under `extra`, where they can never collide with `_id` or a core field.

use chrono::{DateTime, Utc};
use mongodb::bson::{self, Bson, Document, RawArrayBuf, RawBson, RawDocumentBuf};
use serde_json::{Map, Value};

use crate::record::{Category, Level, Origin, Record};

/// Nanoseconds past the millisecond, stored only when not zero.
const SUB_MILLI_FIELD: &str = "timestamp_ns";

/// The document stored for `record`, built directly as BSON bytes: the writer's hot path, and
/// the form the driver sends without converting it again.
pub fn to_document(record: &Record) -> RawDocumentBuf {
    let mut document = RawDocumentBuf::new();
    document.append("_id", record.id.as_str());
    document.append(
        "timestamp",
        bson::DateTime::from_millis(record.timestamp.timestamp_millis()),
    );
    let sub_milli = record.timestamp.timestamp_subsec_nanos() % 1_000_000;
    if sub_milli != 0 {
        document.append(SUB_MILLI_FIELD, sub_milli as i32);
    }
    document.append("log_level", record.log_level.as_str());
    document.append("message", record.message.as_str());
    document.append("source", record.source.as_str());
    document.append("category", record.category.as_str());
    if let Some(origin) = &record.origin {
        let mut origin_doc = RawDocumentBuf::new();
        origin_doc.append("file", origin.file.as_str());
        origin_doc.append("fid", origin.fid.as_str());
        origin_doc.append("lsn", to_i64(origin.lsn));
        origin_doc.append("offset", to_i64(origin.offset));
        if let Some(crc) = origin.crc {
            origin_doc.append("crc", i64::from(crc));
        }
        document.append("origin", origin_doc);
    }
    if !record.extra.is_empty() {
        document.append("extra", object_to_raw(&record.extra));
    }
    document
}

/// The record a stored document holds. Fails with a message naming the field when the document
/// was not written by [`to_document`] (someone else's collection, a hand edit).
pub fn from_document(document: &Document) -> Result<Record, String> {
    let text = |field: &str| {
        document
            .get_str(field)
            .map_err(|_| format!("document lacks the string field {field:?}"))
    };
    let date = document
        .get_datetime("timestamp")
        .map_err(|_| "document lacks the date field \"timestamp\"".to_string())?;
    let sub_milli = document.get_i32(SUB_MILLI_FIELD).unwrap_or(0);
    let timestamp = DateTime::<Utc>::from_timestamp_millis(date.timestamp_millis())
        .ok_or("timestamp out of range")?
        + chrono::Duration::nanoseconds(i64::from(sub_milli));
    let log_level: Level = text("log_level")?.parse().map_err(|e| format!("{e}"))?;
    let category = Category::new(text("category")?).map_err(|e| e.to_string())?;
    let origin = match document.get_document("origin") {
        Ok(origin) => Some(Origin {
            file: origin.get_str("file").unwrap_or_default().to_string(),
            fid: origin.get_str("fid").unwrap_or_default().to_string(),
            lsn: origin.get_i64("lsn").unwrap_or(0) as u64,
            offset: origin.get_i64("offset").unwrap_or(0) as u64,
            crc: origin.get_i64("crc").ok().map(|crc| crc as u32),
        }),
        Err(_) => None,
    };
    let extra = match document.get("extra") {
        Some(extra @ Bson::Document(_)) => match extra.clone().into_relaxed_extjson() {
            Value::Object(map) => map,
            _ => Map::new(),
        },
        _ => Map::new(),
    };
    Ok(Record {
        timestamp,
        log_level,
        message: text("message")?.to_string(),
        source: text("source")?.to_string(),
        category,
        id: text("_id")?.to_string(),
        origin,
        extra,
    })
}

/// Counters and offsets above i64::MAX do not occur; clamp rather than wrap if one ever does.
fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// Plain JSON to BSON, value for value. Not `Bson::try_from(Value)`: that reads extended JSON,
/// and a log's own `{"$date": ...}` or `{"$oid": ...}` must stay what it was.
fn object_to_raw(object: &Map<String, Value>) -> RawDocumentBuf {
    let mut document = RawDocumentBuf::new();
    for (key, value) in object {
        document.append(key, json_to_raw(value));
    }
    document
}

fn json_to_raw(value: &Value) -> RawBson {
    match value {
        Value::Null => RawBson::Null,
        Value::Bool(b) => RawBson::Boolean(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => RawBson::Int64(i),
            None => RawBson::Double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => RawBson::String(s.clone()),
        Value::Array(items) => {
            let mut array = RawArrayBuf::new();
            for item in items {
                array.push(json_to_raw(item));
            }
            RawBson::Array(array)
        }
        Value::Object(object) => RawBson::Document(object_to_raw(object)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn record() -> Record {
        let mut extra = Map::new();
        extra.insert("_id".into(), Value::from("not the id"));
        extra.insert(
            "user".into(),
            serde_json::json!({"name": "ann", "$oid": "x"}),
        );
        extra.insert("latency".into(), Value::from(1.5));
        Record {
            timestamp: Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap()
                + chrono::Duration::nanoseconds(123_456_789),
            log_level: Level::Error,
            message: "disk full".into(),
            source: "web-1".into(),
            category: Category::new("error").unwrap(),
            id: "abc".into(),
            origin: Some(Origin {
                file: "/var/log/app.log".into(),
                fid: "f1".into(),
                lsn: 42,
                offset: 4096,
                crc: Some(7),
            }),
            extra,
        }
    }

    #[test]
    fn a_record_survives_the_round_trip() {
        let record = record();
        let document = to_document(&record).to_document().unwrap();
        assert_eq!(document.get_str("_id").unwrap(), "abc");
        assert_eq!(
            document
                .get_datetime("timestamp")
                .unwrap()
                .timestamp_millis(),
            record.timestamp.timestamp_millis()
        );
        assert_eq!(
            document
                .get_document("extra")
                .unwrap()
                .get_str("_id")
                .unwrap(),
            "not the id"
        );
        assert_eq!(from_document(&document).unwrap(), record);
    }

    #[test]
    fn foreign_documents_are_refused_with_the_field_named() {
        let err = from_document(&mongodb::bson::doc! {"_id": "x"}).unwrap_err();
        assert!(err.contains("timestamp"), "{err}");
    }
}
