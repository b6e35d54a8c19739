//! The JSON-lines writer: records out as fast as the hot path needs.
//!
//! Hand-written rather than `serde_json::to_writer` on a struct because every tool spends its
//! time here: the core fields are written in a fixed order with a fast string escaper, and only
//! the extra fields go through serde.

use std::io::{self, Write};

use super::{LineId, OriginRef, Record, format_timestamp};

/// Appends `record` as one JSON object and a newline to `out`.
pub fn write_record(record: &Record, out: &mut Vec<u8>) {
    write_head(record, out);
    out.extend_from_slice(b",\"source\":");
    write_json_str(&record.source, out);
    write_category(record, out);
    out.extend_from_slice(b",\"id\":");
    write_json_str(&record.id, out);
    if let Some(origin) = &record.origin {
        out.extend_from_slice(b",\"origin\":");
        write_origin(origin.borrowed(), out);
    }
    write_extra_and_end(record, out);
}

/// The fields that all records read from one file share (`source`, and the origin's `file` and
/// `fid`), encoded once for [`write_file_record`] instead of once per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileFields {
    /// `,"source":"…"`
    source: Vec<u8>,
    /// `,"origin":{"file":"…","fid":"…"`
    origin: Vec<u8>,
}

impl FileFields {
    pub fn new(source: &str, file: &str, fid: &str) -> FileFields {
        let mut encoded_source = b",\"source\":".to_vec();
        write_json_str(source, &mut encoded_source);
        let mut origin = b",\"origin\":".to_vec();
        write_origin_head(file, fid, &mut origin);
        FileFields {
            source: encoded_source,
            origin,
        }
    }
}

/// Appends, like [`write_record`], a record read from a file: its `source`, `file` and `fid` from
/// `fields`, its `id` and the rest of its origin from the arguments; the record's own `source`,
/// `id` and `origin` are not looked at.
pub fn write_file_record(
    record: &Record,
    fields: &FileFields,
    id: &LineId,
    lsn: u64,
    offset: u64,
    crc: Option<u32>,
    out: &mut Vec<u8>,
) {
    write_head(record, out);
    out.extend_from_slice(&fields.source);
    write_category(record, out);
    out.extend_from_slice(b",\"id\":\"");
    out.extend_from_slice(id.as_bytes());
    out.push(b'"');
    out.extend_from_slice(&fields.origin);
    write_origin_position(lsn, offset, crc, out);
    write_extra_and_end(record, out);
}

/// `{"timestamp":…,"log_level":…,"message":…`
fn write_head(record: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    format_timestamp(&record.timestamp, out);
    out.extend_from_slice(b"\",\"log_level\":\"");
    out.extend_from_slice(record.log_level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    write_json_str(&record.message, out);
}

fn write_category(record: &Record, out: &mut Vec<u8>) {
    // Categories are [a-z0-9_-] by construction: nothing to escape.
    out.extend_from_slice(b",\"category\":\"");
    out.extend_from_slice(record.category.as_str().as_bytes());
    out.push(b'"');
}

/// The extra fields and the end of the object.
fn write_extra_and_end(record: &Record, out: &mut Vec<u8>) {
    for (key, value) in &record.extra {
        out.push(b',');
        write_json_str(key, out);
        out.push(b':');
        // Writing a serde_json::Value into a Vec cannot fail.
        serde_json::to_writer(&mut *out, value).expect("writing JSON to memory");
    }
    out.extend_from_slice(b"}\n");
}

/// Appends `origin` as a JSON object (what the `origin` field of a record holds).
pub fn write_origin(origin: OriginRef<'_>, out: &mut Vec<u8>) {
    write_origin_head(origin.file, origin.fid, out);
    write_origin_position(origin.lsn, origin.offset, origin.crc, out);
}

/// `{"file":…,"fid":…`
fn write_origin_head(file: &str, fid: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"file\":");
    write_json_str(file, out);
    out.extend_from_slice(b",\"fid\":");
    write_json_str(fid, out);
}

/// `,"lsn":…,"offset":…,"crc":…}`
fn write_origin_position(lsn: u64, offset: u64, crc: Option<u32>, out: &mut Vec<u8>) {
    out.extend_from_slice(b",\"lsn\":");
    out.extend_from_slice(itoa::Buffer::new().format(lsn).as_bytes());
    out.extend_from_slice(b",\"offset\":");
    out.extend_from_slice(itoa::Buffer::new().format(offset).as_bytes());
    if let Some(crc) = crc {
        out.extend_from_slice(b",\"crc\":");
        out.extend_from_slice(itoa::Buffer::new().format(crc).as_bytes());
    }
    out.push(b'}');
}

/// Appends `s` as a JSON string literal (quotes included).
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        // Most text needs no escaping: skip it eight bytes at a time.
        if let Some(chunk) = bytes.get(i..i + 8) {
            let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
            if !any_needs_escape(word) {
                i += 8;
                continue;
            }
        }
        let b = bytes[i];
        let escape: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f | 0x7f => {
                out.extend_from_slice(&bytes[start..i]);
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[(b >> 4) as usize]);
                out.push(HEX[(b & 0xf) as usize]);
                i += 1;
                start = i;
                continue;
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        i += 1;
        start = i;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes of `word` is a control character, `"`, `\\` or DEL (the
/// classic "has a zero byte / has a byte below n" bit tricks, exact for the "any" question).
fn any_needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word;
    let special = has_zero(word ^ (ONES * u64::from(b'"')))
        | has_zero(word ^ (ONES * u64::from(b'\\')))
        | has_zero(word ^ (ONES * 0x7f));
    (below_space | special) & HIGH != 0
}

/// A buffered record writer over any `Write`, flushing in large chunks.
pub struct RecordWriter<W: Write> {
    inner: W,
    buf: Vec<u8>,
    records: u64,
}

impl<W: Write> RecordWriter<W> {
    /// Bytes buffered before a write to the underlying writer.
    const CHUNK: usize = 256 * 1024;

    pub fn new(inner: W) -> Self {
        RecordWriter {
            inner,
            buf: Vec::with_capacity(Self::CHUNK + 4096),
            records: 0,
        }
    }

    /// Buffers one record; writes the buffer out when it is full.
    pub fn write(&mut self, record: &Record) -> io::Result<()> {
        write_record(record, &mut self.buf);
        self.records += 1;
        if self.buf.len() >= Self::CHUNK {
            self.write_buffer()?;
        }
        Ok(())
    }

    /// Buffers a line that is already a serialized record (newline included or not).
    pub fn write_raw(&mut self, line: &[u8]) -> io::Result<()> {
        self.buf.extend_from_slice(line);
        if line.last() != Some(&b'\n') {
            self.buf.push(b'\n');
        }
        self.records += 1;
        if self.buf.len() >= Self::CHUNK {
            self.write_buffer()?;
        }
        Ok(())
    }

    /// Writes out everything buffered and flushes the underlying writer. After it returns, the
    /// records are with the reader of the pipe or in the file's page cache.
    pub fn flush(&mut self) -> io::Result<()> {
        self.write_buffer()?;
        self.inner.flush()
    }

    /// Records written so far (buffered or not).
    pub fn records(&self) -> u64 {
        self.records
    }

    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.flush()?;
        Ok(self.inner)
    }

    fn write_buffer(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Category, Level, Origin};

    #[test]
    fn file_records_are_written_as_records_are() {
        let origin = Origin {
            file: "/var/log/a \"b\".log".into(),
            fid: "f\\1".into(),
            lsn: 42,
            offset: 4096,
            crc: Some(7),
        };
        let mut extra = serde_json::Map::new();
        extra.insert("user".into(), serde_json::json!({"id": 3}));
        let record = Record {
            timestamp: chrono::Utc::now(),
            log_level: Level::Warn,
            message: "disk \"full\"\n".into(),
            source: "host\t1".into(),
            category: Category::new("error").unwrap(),
            id: crate::record::line_id(&origin.fid, origin.lsn),
            origin: Some(origin.clone()),
            extra,
        };
        let fields = FileFields::new(&record.source, &origin.file, &origin.fid);
        let mut expected = Vec::new();
        write_record(&record, &mut expected);
        let mut out = Vec::new();
        let other = Record {
            source: "ignored".into(),
            id: String::new(),
            origin: None,
            ..record.clone()
        };
        write_file_record(
            &other,
            &fields,
            &LineId::new(&origin.fid, origin.lsn),
            origin.lsn,
            origin.offset,
            origin.crc,
            &mut out,
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            String::from_utf8(expected).unwrap()
        );
    }

    #[test]
    fn strings_round_trip_through_escaping_at_any_position() {
        let specials: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['é', '€', '😀'])
            .collect();
        for &special in &specials {
            for position in 0..17 {
                let mut text: String = "abcdefghijklmnop".chars().take(position).collect();
                text.push(special);
                text.push_str("tail after it");
                let mut out = Vec::new();
                write_json_str(&text, &mut out);
                let back: String = serde_json::from_slice(&out).unwrap_or_else(|e| {
                    panic!("{text:?} -> {}: {e}", String::from_utf8_lossy(&out))
                });
                assert_eq!(back, text);
                let escaped = special.is_control() || special == '"' || special == '\\';
                assert_eq!(out.len() > text.len() + 2, escaped, "{special:?}");
            }
        }
    }
}
