//! Recovery of in-progress files: the ones a killed ls-roll left (found at start-up) and the
//! ones abandoned when the archive failed (salvaged when it answers again).
//!
//! The rule at start-up, for each `_<name>` on the archive and on the spool, oldest serial
//! first: recover its lease (HDFS), read it, keep its complete lines (a torn last line, or the
//! undecodable tail of a gzip member, is dropped; records before the last sync are always
//! complete), and for JSON lines drop every record whose id an earlier recovered file of this
//! pass already holds. The kept lines become a new final file under the next serial of the same
//! date, then the stray file is deleted. The ids recovered are remembered for the run, so that
//! the records the input sends again (everything after the last committed LSN or Kafka offset)
//! are not written twice. Raw-message files have no ids: after a crash they can repeat lines.

use std::io::{self, Read};

use flate2::Compression;
use flate2::read::MultiGzDecoder;
use flate2::write::GzEncoder;

use super::naming::{self, Entry, FileName, Serials};
use super::spool::{Abandoned, Spool};
use super::target::Target;
use crate::record::{Category, RecordReader};
use std::collections::HashSet;
use std::io::Write;

/// The complete lines of a file's content: decoded when gzip, cut after the last newline.
pub fn complete_lines(bytes: &[u8], gzip: bool) -> Vec<u8> {
    let mut plain = if gzip {
        let mut decoder = MultiGzDecoder::new(bytes);
        let mut out = Vec::with_capacity(bytes.len() * 4);
        let mut buf = vec![0; 1 << 16];
        // A truncated member ends in an error; everything decoded before it is kept.
        while let Ok(n @ 1..) = decoder.read(&mut buf) {
            out.extend_from_slice(&buf[..n]);
        }
        out
    } else {
        bytes.to_vec()
    };
    let end = memchr::memrchr(b'\n', &plain).map_or(0, |i| i + 1);
    plain.truncate(end);
    plain
}

/// Keeps the JSON lines whose record id is not in `seen`, adding the kept ids; lines that are
/// not records are dropped.
fn drop_seen_ids(lines: &[u8], seen: &mut HashSet<String>) -> Vec<u8> {
    let mut kept = Vec::with_capacity(lines.len());
    let mut reader = RecordReader::new(lines);
    while let Ok(Some(result)) = reader.next_record() {
        if let Ok(record) = result
            && seen.insert(record.id)
        {
            kept.extend_from_slice(reader.raw_line());
            kept.push(b'\n');
        }
    }
    kept
}

/// Writes `lines` as a complete final file `category/name` through its in-progress name.
pub fn write_final(
    target: &dyn Target,
    category: &str,
    name: &FileName,
    lines: &[u8],
    gzip: bool,
) -> io::Result<()> {
    let in_progress = naming::relative_path(category, &name.in_progress());
    let mut file = target.create(&in_progress)?;
    if gzip {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(lines)?;
        file.write(&encoder.finish()?)?;
    } else {
        file.write(lines)?;
    }
    file.sync()?;
    file.close()?;
    target.rename(
        &in_progress,
        &naming::relative_path(category, &name.to_string()),
    )
}

/// Salvages every stray in-progress file of `target` (the rule above); returns how many.
pub fn recover_strays(
    target: &dyn Target,
    serials: &mut Serials,
    seen: &mut HashSet<String>,
) -> io::Result<u64> {
    let mut count = 0;
    for dir in target.list("")? {
        let Ok(category) = Category::new(&dir) else {
            continue;
        };
        let names = target.list(&dir)?;
        serials.note(&category, names.iter().map(String::as_str));
        let mut strays: Vec<FileName> = names
            .iter()
            .filter_map(|n| match Entry::parse(n) {
                Some(Entry::InProgress(name)) => Some(name),
                _ => None,
            })
            .collect();
        strays.sort();
        for stray in strays {
            let path = naming::relative_path(&dir, &stray.in_progress());
            target.recover(&path)?;
            let gzip = stray.ext.ends_with(".gz");
            let mut lines = complete_lines(&target.read(&path)?, gzip);
            if stray.ext.starts_with(".jsonl") {
                lines = drop_seen_ids(&lines, seen);
            }
            if !lines.is_empty() {
                let name = serials.allocate(&category, stray.date, &stray.ext);
                write_final(target, &dir, &name, &lines, gzip)?;
                log::warn!(
                    "recovered {} ({} bytes of complete lines) as {}/{name}",
                    path,
                    lines.len(),
                    dir
                );
            }
            target.remove(&path)?;
            count += 1;
        }
    }
    Ok(count)
}

/// Salvages each file abandoned at an archive failure (the rule in [`super::spool`]). On
/// failure the files not yet done stay abandoned, for the next probe.
pub fn salvage_abandoned(
    spool: &mut Spool,
    archive: &dyn Target,
    serials: &mut Serials,
) -> io::Result<u64> {
    let mut todo = spool.take_abandoned();
    let mut count = 0;
    while let Some(file) = todo.first_mut() {
        if let Err(err) = salvage_one(archive, serials, file) {
            spool.restore(todo);
            return Err(err);
        }
        todo.remove(0);
        count += 1;
    }
    Ok(count)
}

fn salvage_one(
    archive: &dyn Target,
    serials: &mut Serials,
    file: &mut Abandoned,
) -> io::Result<()> {
    let category = file.category.as_str();
    let path = naming::relative_path(category, &file.name.in_progress());
    if file.closed {
        let names = archive.list(category)?;
        if names.contains(&file.name.to_string()) && !names.contains(&file.name.in_progress()) {
            return Ok(());
        }
        return archive.rename(
            &path,
            &naming::relative_path(category, &file.name.to_string()),
        );
    }
    archive.recover(&path)?;
    let bytes = match archive.read(&path) {
        Ok(bytes) => bytes,
        // Nothing reached the archive (the create itself failed), or an earlier salvage ended.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let synced = (file.synced as usize).min(bytes.len());
    let lines = complete_lines(&bytes[..synced], file.gzip);
    if !lines.is_empty() {
        let names = archive.list(category)?;
        let copy = match &file.copy {
            Some(copy) => copy.clone(),
            None => {
                serials.note(&file.category, names.iter().map(String::as_str));
                let copy = serials.allocate(&file.category, file.name.date, &file.name.ext);
                file.copy = Some(copy.clone());
                copy
            }
        };
        // A retry after the copy was named final must not copy again.
        if !names.contains(&copy.to_string()) {
            if names.contains(&copy.in_progress()) {
                archive.remove(&naming::relative_path(category, &copy.in_progress()))?;
            }
            write_final(archive, category, &copy, &lines, file.gzip)?;
            log::info!("salvaged the synced part of {path} as {category}/{copy}");
        }
    }
    archive.remove(&path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complete_lines_drop_torn_tails() {
        assert_eq!(complete_lines(b"a\nb\nc", false), b"a\nb\n");
        assert_eq!(complete_lines(b"abc", false), b"");
        let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
        encoder.write_all(b"one\ntwo\n").unwrap();
        encoder.flush().unwrap();
        let synced = encoder.get_ref().len();
        encoder.write_all(b"three\nfou").unwrap();
        let whole = encoder.finish().unwrap();
        // The synced prefix of a gzip member decodes to exactly the lines written before it.
        assert_eq!(complete_lines(&whole[..synced], true), b"one\ntwo\n");
        assert_eq!(complete_lines(&whole, true), b"one\ntwo\nthree\n");
        assert_eq!(
            complete_lines(&whole[..whole.len() - 3], true),
            b"one\ntwo\nthree\n"
        );
    }

    fn name(serial: u32) -> FileName {
        FileName {
            date: "2026-11-22".parse().unwrap(),
            serial,
            ext: ".jsonl".into(),
        }
    }

    fn names(dir: &std::path::Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    /// The cases a call that missed its deadline leaves: a rename that landed late or not at
    /// all, and a salvage whose copy was made but whose deletion failed.
    #[test]
    fn salvage_finishes_renames_and_never_copies_twice() {
        use crate::archive::local::LocalTarget;
        use crate::archive::spool::Alerts;
        let (archive_dir, spool_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let archive = LocalTarget::new(archive_dir.path().into()).unwrap();
        let category = Category::new("a").unwrap();
        let dir = archive_dir.path().join("a");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("2026-11-22.0.jsonl"), "landed\n").unwrap();
        std::fs::write(dir.join("_2026-11-22.1.jsonl"), "closed\n").unwrap();
        std::fs::write(dir.join("2026-11-22.2.jsonl"), "copied\n").unwrap();
        std::fs::write(dir.join("_2026-11-22.3.jsonl"), "copied\ntorn").unwrap();
        let mut spool = Spool::new(
            Box::new(LocalTarget::new(spool_dir.path().into()).unwrap()),
            Alerts::default(),
            chrono::Duration::seconds(1),
        );
        for serial in [0, 1] {
            spool.abandon(Abandoned {
                closed: true,
                ..Abandoned::open(&category, name(serial), 7, false)
            });
        }
        spool.abandon(Abandoned {
            copy: Some(name(2)),
            ..Abandoned::open(&category, name(3), 7, false)
        });
        let mut serials = Serials::default();
        assert_eq!(
            salvage_abandoned(&mut spool, &archive, &mut serials).unwrap(),
            3
        );
        assert_eq!(
            names(&dir),
            [
                "2026-11-22.0.jsonl",
                "2026-11-22.1.jsonl",
                "2026-11-22.2.jsonl"
            ]
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("2026-11-22.2.jsonl")).unwrap(),
            "copied\n"
        );
    }
}
