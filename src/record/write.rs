//! The JSON-lines writer: records out as fast as the hot path needs.
//!
//! Hand-written rather than `serde_json::to_writer` on a struct because every tool spends its
//! time here: the core fields are written in a fixed order with a fast string escaper, and only
//! the extra fields go through serde.

use std::io::{self, Write};

use super::{Record, format_timestamp};

/// Appends `record` as one JSON object and a newline to `out`.
pub fn write_record(record: &Record, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\"timestamp\":\"");
    format_timestamp(&record.timestamp, out);
    out.extend_from_slice(b"\",\"log_level\":\"");
    out.extend_from_slice(record.log_level.as_str().as_bytes());
    out.extend_from_slice(b"\",\"message\":");
    write_json_str(&record.message, out);
    out.extend_from_slice(b",\"source\":");
    write_json_str(&record.source, out);
    // Categories are [a-z0-9_-] by construction: nothing to escape.
    out.extend_from_slice(b",\"category\":\"");
    out.extend_from_slice(record.category.as_str().as_bytes());
    out.extend_from_slice(b"\",\"id\":");
    write_json_str(&record.id, out);
    if let Some(origin) = &record.origin {
        out.extend_from_slice(b",\"origin\":{\"file\":");
        write_json_str(&origin.file, out);
        out.extend_from_slice(b",\"fid\":");
        write_json_str(&origin.fid, out);
        out.extend_from_slice(b",\"lsn\":");
        out.extend_from_slice(itoa::Buffer::new().format(origin.lsn).as_bytes());
        out.extend_from_slice(b",\"offset\":");
        out.extend_from_slice(itoa::Buffer::new().format(origin.offset).as_bytes());
        if let Some(crc) = origin.crc {
            out.extend_from_slice(b",\"crc\":");
            out.extend_from_slice(itoa::Buffer::new().format(crc).as_bytes());
        }
        out.push(b'}');
    }
    for (key, value) in &record.extra {
        out.push(b',');
        write_json_str(key, out);
        out.push(b':');
        // Writing a serde_json::Value into a Vec cannot fail.
        serde_json::to_writer(&mut *out, value).expect("writing JSON to memory");
    }
    out.extend_from_slice(b"}\n");
}

/// Appends `s` as a JSON string literal (quotes included).
pub fn write_json_str(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    // Most text needs no escaping: skip it eight bytes at a time.
    let mut clean = 0;
    while clean + 8 <= bytes.len() {
        let word = u64::from_le_bytes(bytes[clean..clean + 8].try_into().expect("8 bytes"));
        if needs_escape(word) {
            break;
        }
        clean += 8;
    }
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
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
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escape);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// True if any byte of `word` is below 0x20, `"`, `\\` or 0x7f (bit tricks from "Bit Twiddling
/// Hacks": `x - 0x01..01 & !x & 0x80..80` is non-zero exactly when some byte of x is zero).
fn needs_escape(word: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH;
    let below_space = word.wrapping_sub(ONES * 0x20) & !word & HIGH;
    (below_space
        | has_zero(word ^ (ONES * b'"' as u64))
        | has_zero(word ^ (ONES * b'\\' as u64))
        | has_zero(word ^ (ONES * 0x7f)))
        != 0
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

    #[test]
    fn strings_escape_as_serde_json_does() {
        let samples = [
            "",
            "plain ascii text that is long enough to take the fast path",
            "quote \" in the middle of a long line of text",
            "0123456\\backslash at byte 7",
            "tab\tnewline\ncr\r and \u{1} \u{1f} \u{7f} controls, then more text",
            "unicode: é ü 漢字 🎉 and \"quotes\" after eight bytes",
        ];
        for s in samples {
            let mut out = Vec::new();
            write_json_str(s, &mut out);
            let back: String = serde_json::from_slice(&out).unwrap();
            assert_eq!(back, s);
            if !s.contains('\u{7f}') {
                assert_eq!(out, serde_json::to_vec(s).unwrap(), "{s:?}");
            }
        }
        for b in 0u8..=0x7f {
            let s = format!("abcdefgh{}ijklmnop", b as char);
            let mut out = Vec::new();
            write_json_str(&s, &mut out);
            assert_eq!(serde_json::from_slice::<String>(&out).unwrap(), s);
        }
    }
}
