//! `ls-recover lsn`: look at and repair an LSN store.
//!
//! Reading commands (`show`, `verify`) take no lock and are safe while ls-tail runs; changing
//! commands (`compact`, `set`, `forget`) take the writer lock and refuse, naming the holder, while
//! another process writes the store.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Serialize;

use crate::lsn::{LsnStore, Position, Snapshot};

/// What `verify` found for one position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// The file holds, just before the offset, the line the position recorded.
    Ok,
    /// The file holds a line ending at the offset, but the position has no checksum to compare.
    Unchecked,
    /// No file at the recorded path.
    Missing,
    /// The file is shorter than the offset: it was truncated (or rotated by copytruncate).
    Truncated,
    /// The file at the path holds other content at the offset: it was replaced.
    Replaced,
}

impl Verdict {
    /// True when ls-tail can resume at the position without reading anything twice or skipping.
    pub fn is_resumable(self) -> bool {
        matches!(self, Verdict::Ok | Verdict::Unchecked)
    }
}

/// Checks a position against the file at its recorded path.
pub fn verify(position: &Position) -> io::Result<Verdict> {
    let mut file = match File::open(&position.file) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Verdict::Missing),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    if len < position.offset {
        return Ok(Verdict::Truncated);
    }
    if position.offset == 0 {
        return Ok(Verdict::Ok);
    }
    let Some(line) = line_ending_at(&mut file, position.offset)? else {
        return Ok(Verdict::Replaced);
    };
    Ok(match position.line_crc {
        Some(crc) if crc == crc32fast::hash(&line) => Verdict::Ok,
        Some(_) => Verdict::Replaced,
        None => Verdict::Unchecked,
    })
}

/// The bytes of the line that ends (with `\n`) just before `offset`, without its line ending;
/// `None` when the byte before `offset` is not a newline. Lines longer than 16 MiB are not read.
fn line_ending_at(file: &mut File, offset: u64) -> io::Result<Option<Vec<u8>>> {
    const MAX_LINE: u64 = 16 << 20;
    let start = offset.saturating_sub(MAX_LINE);
    let mut bytes = vec![0; (offset - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut bytes)?;
    if bytes.pop() != Some(b'\n') {
        return Ok(None);
    }
    let line_start = memchr::memrchr(b'\n', &bytes).map_or(0, |i| i + 1);
    let mut line = bytes.split_off(line_start);
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// The offset just past line `lsn` (1-based) of the file at `path`, and that line's CRC-32.
pub fn locate_line(path: &Path, lsn: u64) -> Result<(u64, Option<u32>)> {
    if lsn == 0 {
        return Ok((0, None));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let mut offset = 0u64;
    let mut line = Vec::new();
    for n in 1..=lsn {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .with_context(|| format!("cannot read {}", path.display()))?;
        if read == 0 || line.last() != Some(&b'\n') {
            bail!(
                "{} has only {} complete lines, fewer than {lsn}",
                path.display(),
                n - 1
            );
        }
        offset += read as u64;
    }
    line.pop();
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok((offset, Some(crc32fast::hash(&line))))
}

/// Positions sorted by path, then identity, for stable output.
fn sorted(snapshot: &Snapshot) -> Vec<&Position> {
    let mut positions: Vec<&Position> = snapshot.positions.values().collect();
    positions.sort_by(|a, b| (&a.file, &a.fid).cmp(&(&b.file, &b.fid)));
    positions
}

fn format_time(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_else(|| ms.to_string())
}

/// `show`: every tracked file, as an aligned table or as JSON lines.
pub fn show(dir: &Path, json: bool, out: &mut dyn Write) -> Result<()> {
    let snapshot = read_existing(dir)?;
    let positions = sorted(&snapshot);
    if json {
        for position in positions {
            serde_json::to_writer(&mut *out, position)?;
            out.write_all(b"\n")?;
        }
    } else {
        let rows: Vec<[String; 5]> = positions
            .iter()
            .map(|p| {
                [
                    p.fid.clone(),
                    p.lsn.to_string(),
                    p.offset.to_string(),
                    format_time(p.updated_ms),
                    p.file.clone(),
                ]
            })
            .collect();
        write_table(out, ["FID", "LSN", "OFFSET", "UPDATED", "FILE"], &rows)?;
    }
    if snapshot.corrupt_entries > 0 {
        log::warn!(
            "{} corrupt or torn entries were ignored; `ls-recover lsn compact` rewrites the store without them",
            snapshot.corrupt_entries
        );
    }
    Ok(())
}

/// `verify`: checks every position against its file; returns how many are not resumable.
pub fn verify_all(dir: &Path, json: bool, out: &mut dyn Write) -> Result<usize> {
    let snapshot = read_existing(dir)?;
    let mut bad = 0;
    let mut rows = Vec::new();
    for position in sorted(&snapshot) {
        let verdict =
            verify(position).with_context(|| format!("cannot check {}", position.file))?;
        if !verdict.is_resumable() {
            bad += 1;
        }
        if json {
            let row = serde_json::json!({
                "fid": position.fid, "file": position.file, "lsn": position.lsn,
                "offset": position.offset, "verdict": verdict,
            });
            writeln!(out, "{row}")?;
        } else {
            let verdict = serde_json::to_value(verdict)?
                .as_str()
                .unwrap_or_default()
                .to_string();
            rows.push([
                verdict,
                position.fid.clone(),
                position.lsn.to_string(),
                position.file.clone(),
            ]);
        }
    }
    if !json {
        write_table(out, ["VERDICT", "FID", "LSN", "FILE"], &rows)?;
    }
    Ok(bad)
}

/// `compact`: rewrites the LSN file from the buffer, dropping corrupt entries.
pub fn compact(dir: &Path) -> Result<()> {
    let mut store = open_existing(dir)?;
    store.compact()
}

/// `set`: moves the position of `fid` to line `lsn` of its file (also backwards).
pub fn set(dir: &Path, fid: &str, lsn: u64, file: Option<&Path>) -> Result<Position> {
    let mut store = open_existing(dir)?;
    let current = store.get(fid).cloned();
    let path = match (file, &current) {
        (Some(path), _) => path.to_path_buf(),
        (None, Some(current)) => current.file.clone().into(),
        (None, None) => bail!(
            "{fid} is not tracked in {}; name its file with --file",
            dir.display()
        ),
    };
    let (offset, line_crc) = locate_line(&path, lsn)?;
    let position = Position {
        seq: 0,
        fid: fid.to_string(),
        file: path.to_string_lossy().into_owned(),
        lsn,
        offset,
        line_crc,
        updated_ms: chrono::Utc::now().timestamp_millis(),
    };
    store.set(position.clone())?;
    store.sync()?;
    Ok(position)
}

/// `forget`: stops tracking the given identities, or (with `missing`) every file no longer on disk.
/// Returns the identities forgotten.
pub fn forget(dir: &Path, fids: &[String], missing: bool) -> Result<Vec<String>> {
    let mut store = open_existing(dir)?;
    let mut targets: Vec<String> = Vec::new();
    for fid in fids {
        if store.get(fid).is_none() {
            bail!("{fid} is not tracked in {}", dir.display());
        }
        targets.push(fid.clone());
    }
    if missing {
        for position in store.snapshot().positions.values() {
            if !Path::new(&position.file).exists() && !targets.contains(&position.fid) {
                targets.push(position.fid.clone());
            }
        }
    }
    for fid in &targets {
        store.forget(fid)?;
    }
    store.sync()?;
    Ok(targets)
}

fn read_existing(dir: &Path) -> Result<Snapshot> {
    if !dir.is_dir() {
        bail!("no LSN store at {}: check --lsn-dir", dir.display());
    }
    Snapshot::read(dir)
}

fn open_existing(dir: &Path) -> Result<LsnStore> {
    if !dir.is_dir() {
        bail!("no LSN store at {}: check --lsn-dir", dir.display());
    }
    LsnStore::open(dir)
}

/// Writes rows under a header, each column as wide as its widest cell; the last column unpadded.
fn write_table<const N: usize>(
    out: &mut dyn Write,
    header: [&str; N],
    rows: &[[String; N]],
) -> io::Result<()> {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let header = header.map(str::to_string);
    for row in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == N {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<width$}  ", width = widths[i]));
            }
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_tells_ok_truncated_replaced_and_missing_apart() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("app.log");
        std::fs::write(&log, "one\ntwo\r\nthree\n").unwrap();
        let (offset, crc) = locate_line(&log, 2).unwrap();
        assert_eq!(offset, 9);
        let position = Position {
            seq: 1,
            fid: "f".into(),
            file: log.to_string_lossy().into(),
            lsn: 2,
            offset,
            line_crc: crc,
            updated_ms: 0,
        };
        assert_eq!(verify(&position).unwrap(), Verdict::Ok);
        std::fs::write(&log, "one\ntwx\r\nthree\n").unwrap();
        assert_eq!(verify(&position).unwrap(), Verdict::Replaced);
        std::fs::write(&log, "one\n").unwrap();
        assert_eq!(verify(&position).unwrap(), Verdict::Truncated);
        std::fs::remove_file(&log).unwrap();
        assert_eq!(verify(&position).unwrap(), Verdict::Missing);
        assert!(locate_line(&dir.path().join("none"), 1).is_err());
    }
}
