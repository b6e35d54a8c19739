//! Following one file: complete lines out of a file from a byte offset, each with its LSN (line
//! number within the file identity), the offset just past it and the crc of its bytes.
//!
//! The reader keeps no per-file buffer: each read `pread`s from the first unconsumed byte into a
//! buffer shared by all files, so an unfinished last line is simply read again next time. A line
//! without its newline is not emitted while the file may still grow: a writer is in the middle of
//! it, and giving it an LSN now would make the next resume check fail once it is completed. Only
//! [`LineReader::finish`], for a file that was deleted or rotated away and went idle, emits it.
//! A line longer than the buffer is consumed in pieces: its crc covers all of it, its message
//! keeps the first `max_line` bytes.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use super::fingerprint::{line_crc, strip_eol};

/// One complete line.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    /// The line's bytes without the line ending.
    pub bytes: &'a [u8],
    pub lsn: u64,
    /// The offset just past the line (ending included).
    pub end: u64,
    pub crc: u32,
}

/// What one [`LineReader::read`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReadOutcome {
    pub bytes: u64,
    pub lines: u64,
    /// True if the file's end was reached (nothing left but, maybe, an unfinished line).
    pub at_eof: bool,
    /// Lines longer than `max_line` whose message was cut there.
    pub cut: u64,
}

/// A line longer than the read buffer, being consumed in pieces.
#[derive(Debug, Default)]
struct LongLine {
    kept: Vec<u8>,
    crc: crc32fast::Hasher,
    /// The previous piece ended in `\r`, not yet hashed: it is the line ending if `\n` follows.
    pending_cr: bool,
    truncated: bool,
}

/// The reading position in one file.
#[derive(Debug)]
pub struct LineReader {
    /// The first byte not consumed.
    offset: u64,
    /// The LSN of the last line read.
    lsn: u64,
    /// The crc of the last line read, to verify `offset` when the file is looked at again.
    last_crc: Option<u32>,
    long: Option<LongLine>,
    max_line: usize,
}

impl LineReader {
    pub fn new(offset: u64, lsn: u64, last_crc: Option<u32>, max_line: usize) -> LineReader {
        LineReader {
            offset,
            lsn,
            last_crc,
            long: None,
            max_line,
        }
    }

    pub fn offset(&self) -> u64 {
        self.offset
    }

    pub fn lsn(&self) -> u64 {
        self.lsn
    }

    pub fn last_crc(&self) -> Option<u32> {
        self.last_crc
    }

    /// True if the reader stopped inside a line longer than its buffer.
    pub fn in_long_line(&self) -> bool {
        self.long.is_some()
    }

    /// Reads complete lines into `on_line` until the end of the file or until about `budget`
    /// bytes were consumed. `buf`'s length is the read size (and the longest line read in one go).
    pub fn read(
        &mut self,
        file: &File,
        buf: &mut [u8],
        budget: u64,
        on_line: &mut impl FnMut(Line),
    ) -> io::Result<ReadOutcome> {
        let mut outcome = ReadOutcome::default();
        while outcome.bytes < budget {
            let n = read_at(file, buf, self.offset)?;
            if n == 0 {
                outcome.at_eof = true;
                break;
            }
            let consumed = self.lines_in(&buf[..n], on_line, &mut outcome);
            let consumed = if consumed == 0 && n == buf.len() {
                // No newline in a full buffer: the start of a long line.
                self.long_piece(&buf[..n]);
                n
            } else {
                consumed
            };
            self.offset += consumed as u64;
            outcome.bytes += consumed as u64;
            if n < buf.len() {
                outcome.at_eof = true;
                break;
            }
        }
        Ok(outcome)
    }

    /// Reads what is left, then emits an unfinished last line: for a file nobody will write again.
    pub fn finish(
        &mut self,
        file: &File,
        buf: &mut [u8],
        on_line: &mut impl FnMut(Line),
    ) -> io::Result<ReadOutcome> {
        let mut outcome = self.read(file, buf, u64::MAX, on_line)?;
        let n = read_at(file, buf, self.offset)?;
        if n > 0 || self.long.is_some() {
            let mut partial = buf[..n].to_vec();
            partial.push(b'\n');
            self.lines_in(&partial, on_line, &mut outcome);
            // The newline added above is not in the file.
            self.offset -= 1;
            outcome.bytes += n as u64;
        }
        Ok(outcome)
    }

    /// Emits the complete lines at the start of `data`; returns the bytes consumed.
    fn lines_in(
        &mut self,
        data: &[u8],
        on_line: &mut impl FnMut(Line),
        outcome: &mut ReadOutcome,
    ) -> usize {
        let mut start = 0;
        for nl in memchr::memchr_iter(b'\n', data) {
            self.lsn += 1;
            outcome.lines += 1;
            let end = self.offset + nl as u64 + 1;
            if let Some(mut long) = self.long.take() {
                let tail = &data[..nl];
                // A `\r` held back from the last piece was the line ending if nothing follows it.
                if !tail.is_empty() {
                    if long.pending_cr {
                        long.add(b"\r", self.max_line);
                    }
                    long.add(tail.strip_suffix(b"\r").unwrap_or(tail), self.max_line);
                }
                let crc = long.crc.finalize();
                outcome.cut += u64::from(long.truncated);
                self.last_crc = Some(crc);
                on_line(Line {
                    bytes: &long.kept,
                    lsn: self.lsn,
                    end,
                    crc,
                });
            } else {
                let bytes = strip_eol(&data[start..=nl]);
                let crc = line_crc(bytes);
                self.last_crc = Some(crc);
                on_line(Line {
                    bytes,
                    lsn: self.lsn,
                    end,
                    crc,
                });
            }
            start = nl + 1;
        }
        start
    }

    fn long_piece(&mut self, piece: &[u8]) {
        let long = self.long.get_or_insert_with(LongLine::default);
        if long.pending_cr {
            long.add(b"\r", self.max_line);
        }
        long.pending_cr = piece.last() == Some(&b'\r');
        long.add(piece.strip_suffix(b"\r").unwrap_or(piece), self.max_line);
    }
}

impl LongLine {
    fn add(&mut self, bytes: &[u8], max_line: usize) {
        self.crc.update(bytes);
        let room = max_line.saturating_sub(self.kept.len());
        self.truncated |= bytes.len() > room;
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

fn read_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    loop {
        match file.read_at(buf, offset) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tail::fingerprint::verify;
    use std::io::Write;

    /// (bytes, lsn, end, crc) of each line read.
    type Read = Vec<(Vec<u8>, u64, u64, u32)>;

    fn lines_of(content: &[u8], buf_size: usize) -> (Read, LineReader) {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        let mut reader = LineReader::new(0, 0, None, 1 << 20);
        let mut buf = vec![0; buf_size];
        let mut out = Vec::new();
        reader
            .read(&file, &mut buf, u64::MAX, &mut |l: Line| {
                out.push((l.bytes.to_vec(), l.lsn, l.end, l.crc));
                assert!(verify(&file, l.end, Some(l.crc)).unwrap());
            })
            .unwrap();
        (out, reader)
    }

    #[test]
    fn unfinished_lines_wait_and_long_lines_are_whole() {
        let (out, reader) = lines_of(b"a\r\nbb\nccc", 4);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].0, b"a");
        assert_eq!((out[1].1, out[1].2), (2, 6));
        assert_eq!(reader.offset(), 6);
        let long = [b"x".repeat(10), b"\r\n".to_vec(), b"y\n".to_vec()].concat();
        for size in [3, 4, 5, 11, 12, 64] {
            let (out, _) = lines_of(&long, size);
            assert_eq!(out[0].0, b"x".repeat(10), "buffer {size}");
            assert_eq!(out[0].3, line_crc(&b"x".repeat(10)));
            assert_eq!((out[1].1, out[1].2), (2, 14));
        }
    }
}
