//! One entry of the LSN store, as a checksummed line: `<crc32 hex8> <json>\n`.
//!
//! Text, so that an operator can read the store with `cat` during an incident; the checksum covers
//! the JSON, so a torn append or a flipped bit makes the entry fail [`Entry::decode`].

use serde::{Deserialize, Serialize};

use crate::record::Origin;

/// The safe resume point of one file identity: everything up to and including line `lsn`,
/// ending at byte `offset`, has been made durable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Sequence number of the advance that wrote this position (store-wide, increasing).
    pub seq: u64,
    /// The file identity (see the tail module's fingerprinter).
    pub fid: String,
    /// The path the file had when the position was recorded.
    pub file: String,
    /// The last safe line number.
    pub lsn: u64,
    /// The byte offset just past that line.
    pub offset: u64,
    /// CRC-32 of that line's bytes (without its line ending), when known: with `offset` it lets a
    /// reader verify, before resuming, that the file still holds the same line there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_crc: Option<u32>,
    /// When the position was recorded, in milliseconds since the Unix epoch.
    pub updated_ms: i64,
}

impl Position {
    /// The position just past a record's line. The sequence number is given by the store.
    pub fn from_origin(origin: &Origin) -> Position {
        Position {
            seq: 0,
            fid: origin.fid.clone(),
            file: origin.file.clone(),
            lsn: origin.lsn,
            offset: origin.offset,
            line_crc: origin.crc,
            updated_ms: chrono::Utc::now().timestamp_millis(),
        }
    }
}

/// One line of the buffer or of the LSN file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "lowercase")]
pub enum Entry {
    /// A new position for a file identity.
    Advance(Position),
    /// The file identity is no longer tracked.
    Forget { seq: u64, fid: String },
}

impl Entry {
    pub fn seq(&self) -> u64 {
        match self {
            Entry::Advance(p) => p.seq,
            Entry::Forget { seq, .. } => *seq,
        }
    }

    pub fn fid(&self) -> &str {
        match self {
            Entry::Advance(p) => &p.fid,
            Entry::Forget { fid, .. } => fid,
        }
    }

    /// Appends the entry's line to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let json = serde_json::to_vec(self).expect("an entry always serializes");
        let crc = crc32fast::hash(&json);
        out.extend_from_slice(format!("{crc:08x} ").as_bytes());
        out.extend_from_slice(&json);
        out.push(b'\n');
    }

    /// Decodes one line (with its newline). `None` for anything torn or corrupt: a line without
    /// its newline, a checksum mismatch, or JSON that is not an entry.
    pub fn decode(line: &[u8]) -> Option<Entry> {
        let line = line.strip_suffix(b"\n")?;
        let (crc_hex, json) = (line.get(..8)?, line.get(9..)?);
        if line[8] != b' ' {
            return None;
        }
        let crc = u32::from_str_radix(std::str::from_utf8(crc_hex).ok()?, 16).ok()?;
        if crc32fast::hash(json) != crc {
            return None;
        }
        serde_json::from_slice(json).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(seq: u64) -> Position {
        Position {
            seq,
            fid: "fid-1".into(),
            file: "/var/log/app.log".into(),
            lsn: 42,
            offset: 4200,
            line_crc: Some(7),
            updated_ms: 1,
        }
    }

    #[test]
    fn entries_round_trip_and_corruption_is_detected() {
        let entry = Entry::Advance(position(3));
        let mut line = Vec::new();
        entry.encode(&mut line);
        assert_eq!(Entry::decode(&line), Some(entry));
        // Torn: no newline, or cut anywhere.
        for cut in 0..line.len() {
            assert_eq!(Entry::decode(&line[..cut]), None, "cut at {cut}");
        }
        // Any flipped byte in the JSON fails the checksum.
        for i in 9..line.len() - 1 {
            let mut bad = line.clone();
            bad[i] ^= 0x20;
            assert_eq!(Entry::decode(&bad), None, "flip at {i}");
        }
    }
}
