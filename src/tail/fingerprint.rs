//! File identity from content: what makes `app.log` and, after a rename or a copy, `app.log.1`
//! the same file, and two files with the same first line different ones.
//!
//! The **head** of a file is its first line (newline included), or its first [`HEAD_MAX`] bytes
//! when that line is longer. A file with no complete first line yet has no head: it is not read
//! until it has one, so a file shorter than any fixed fingerprint size is still handled as soon as
//! it holds one line. Device and inode numbers are deliberately not part of the identity: a copy
//! (copytruncate) has a new inode, and a deleted file's inode is reused by unrelated files.
//!
//! The head alone cannot tell apart files that start alike (a banner, a CSV header). The
//! checkpoint module resolves that by [`verify`]ing a candidate identity's position against the
//! file's content, and gives a genuinely different file with a known head a new *generation*
//! ([`fid`]).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

/// The most bytes of the first line that go into the head.
pub const HEAD_MAX: usize = 1024;

/// The hash of a file's head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Head(pub u64);

/// Reads the head of `file`; `None` while it has no complete first line (and is shorter than
/// [`HEAD_MAX`]).
pub fn head(file: &File) -> io::Result<Option<Head>> {
    let mut buf = [0u8; HEAD_MAX];
    let n = read_at_most(file, &mut buf, 0)?;
    let bytes = match memchr::memchr(b'\n', &buf[..n]) {
        Some(i) => &buf[..=i],
        None if n == HEAD_MAX => &buf[..],
        None => return Ok(None),
    };
    Ok(Some(Head(xxhash_rust::xxh3::xxh3_64(bytes))))
}

/// The file identity string of the `generation`-th distinct file seen with `head`.
pub fn fid(head: Head, generation: u32) -> String {
    if generation == 0 {
        format!("{:016x}", head.0)
    } else {
        format!("{:016x}-{generation}", head.0)
    }
}

/// Splits a file identity into its head and generation; `None` for identities not made by [`fid`].
pub fn parse_fid(fid: &str) -> Option<(Head, u32)> {
    let (hash, generation) = match fid.split_once('-') {
        Some((hash, generation)) => (hash, generation.parse().ok()?),
        None => (fid, 0),
    };
    if hash.len() != 16 {
        return None;
    }
    Some((Head(u64::from_str_radix(hash, 16).ok()?), generation))
}

/// CRC-32 of a line's bytes without its line ending (`\n` or `\r\n`), as records carry it.
pub fn line_crc(line: &[u8]) -> u32 {
    crc32fast::hash(line)
}

/// Strips a trailing `\n` or `\r\n`.
pub fn strip_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// True if `file` still holds, ending exactly at byte `offset`, a complete line whose
/// [`line_crc`] is `crc` (or, without a crc, any complete line). Offset 0 always verifies.
/// This is what makes a resume point trustworthy: a truncated or replaced file fails it.
pub fn verify(file: &File, offset: u64, crc: Option<u32>) -> io::Result<bool> {
    if offset == 0 {
        return Ok(true);
    }
    if file.metadata()?.len() < offset {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    if read_at_most(file, &mut last, offset - 1)? != 1 || last[0] != b'\n' {
        return Ok(false);
    }
    let Some(crc) = crc else { return Ok(true) };
    // Find the line's start: scan back from its newline, in chunks, for the previous newline.
    const CHUNK: u64 = 64 * 1024;
    let mut buf = vec![0u8; CHUNK as usize];
    let line_end = offset - 1;
    let mut start = 0;
    let mut scan_end = line_end;
    while scan_end > 0 {
        let from = scan_end.saturating_sub(CHUNK);
        let n = (scan_end - from) as usize;
        if !read_all_at(file, &mut buf[..n], from)? {
            return Ok(false);
        }
        if let Some(i) = memchr::memrchr(b'\n', &buf[..n]) {
            start = from + i as u64 + 1;
            break;
        }
        scan_end = from;
    }
    // A `\r` right before the newline is part of the line ending, not of the line.
    let mut end = line_end;
    if end > start && read_at_most(file, &mut last, end - 1)? == 1 && last[0] == b'\r' {
        end -= 1;
    }
    let mut hasher = crc32fast::Hasher::new();
    let mut pos = start;
    while pos < end {
        let n = (end - pos).min(CHUNK) as usize;
        if !read_all_at(file, &mut buf[..n], pos)? {
            return Ok(false);
        }
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    Ok(hasher.finalize() == crc)
}

/// Fills `buf` from `offset`; false when the file ends first: it was truncated meanwhile
/// (copytruncate), which fails the verification rather than the tool.
fn read_all_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<bool> {
    Ok(read_at_most(file, buf, offset)? == buf.len())
}

fn read_at_most(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file_with(bytes: &[u8]) -> File {
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(bytes).unwrap();
        f
    }

    #[test]
    fn the_head_is_the_first_complete_line() {
        assert_eq!(head(&file_with(b"")).unwrap(), None);
        assert_eq!(head(&file_with(b"partial")).unwrap(), None);
        let a = head(&file_with(b"one\n")).unwrap().unwrap();
        assert_eq!(head(&file_with(b"one\ntwo\n")).unwrap(), Some(a));
        assert_ne!(head(&file_with(b"uno\n")).unwrap(), Some(a));
        let long = vec![b'x'; HEAD_MAX + 10];
        assert!(head(&file_with(&long)).unwrap().is_some());
    }

    #[test]
    fn fids_round_trip() {
        let h = Head(0xabc);
        assert_eq!(parse_fid(&fid(h, 0)), Some((h, 0)));
        assert_eq!(parse_fid(&fid(h, 3)), Some((h, 3)));
        assert_eq!(parse_fid("nonsense"), None);
    }

    #[test]
    fn verify_checks_the_line_ending_at_the_offset() {
        let f = file_with(b"first\nsecond\r\nthird\n");
        assert!(verify(&f, 0, None).unwrap());
        assert!(verify(&f, 6, Some(line_crc(b"first"))).unwrap());
        assert!(verify(&f, 14, Some(line_crc(b"second"))).unwrap());
        assert!(!verify(&f, 14, Some(line_crc(b"second\r"))).unwrap());
        assert!(!verify(&f, 13, None).unwrap());
        assert!(!verify(&f, 20, Some(line_crc(b"thirdd"))).unwrap());
        assert!(verify(&f, 20, Some(line_crc(b"third"))).unwrap());
        assert!(!verify(&f, 21, None).unwrap());
        let mut long = vec![b'y'; 200_000];
        long.push(b'\n');
        let f = file_with(&[b"a\n".as_slice(), &long].concat());
        assert!(verify(&f, 2 + long.len() as u64, Some(line_crc(&long[..200_000]))).unwrap());
    }
}
