//! The reader's fast path for the common line: a flat record object as ls-tail writes it.
//!
//! serde_json spends most of a [`RecordLine`](super::RecordLine)'s reading time in its generic
//! visitor machinery and in scanning strings a byte at a time. Lines that stages hand each
//! other are almost always simple: one object, string and number values, one nested `origin`
//! object, no control characters, no `\u` escapes. [`scan`] reads exactly those, finding string
//! ends from the line's byte classes ([`classify`](super::classify)), and gives up (`None`) on
//! anything else: nested extras, exponents, duplicate keys, a field of the wrong type, escapes
//! in a routing field, a malformed line. The caller then reads the line with serde_json, which
//! decides, and says what is wrong. So the fast path never accepts a line that serde_json would
//! refuse, nor reads one differently (a property test checks both against serde_json).

use super::OriginRef;
use super::classify::{BLOCK, Classes, classify};

/// The fields of a line the fast path read.
pub(super) struct Scanned<'a> {
    pub timestamp: Option<&'a str>,
    pub log_level: Option<&'a str>,
    /// Whether the line has a string `message`.
    pub message: bool,
    pub source: Option<&'a str>,
    pub category: Option<&'a str>,
    pub id: Option<&'a str>,
    pub origin: Option<OriginRef<'a>>,
}

/// Reads `line` if it is a simple record object; `None` leaves it to serde_json.
pub(super) fn scan(line: &str) -> Option<Scanned<'_>> {
    let mut cursor = Cursor::new(line);
    let mut scanned = Scanned {
        timestamp: None,
        log_level: None,
        message: false,
        source: None,
        category: None,
        id: None,
        origin: None,
    };
    cursor.expect(b'{')?;
    loop {
        let key = cursor.plain_string()?;
        cursor.expect(b':')?;
        match key {
            "timestamp" => once(&mut scanned.timestamp, cursor.plain_string()?)?,
            "log_level" => once(&mut scanned.log_level, cursor.plain_string()?)?,
            "source" => once(&mut scanned.source, cursor.plain_string()?)?,
            "category" => once(&mut scanned.category, cursor.plain_string()?)?,
            "id" => once(&mut scanned.id, cursor.plain_string()?)?,
            "message" if !scanned.message => {
                cursor.string()?;
                scanned.message = true;
            }
            "origin" => once(&mut scanned.origin, cursor.origin()?)?,
            "message" => return None,
            _ => cursor.scalar()?,
        }
        if !cursor.next_member()? {
            break;
        }
    }
    cursor.at_end().then_some(scanned)
}

/// Fills an empty slot; `None` when it was full (a duplicate key, left to serde_json).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    slot.replace(value).is_none().then_some(())
}

/// A position in the line being scanned.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    /// Where the block that `classes` describes starts.
    block: usize,
    classes: Classes,
}

impl<'a> Cursor<'a> {
    fn new(line: &'a str) -> Self {
        Cursor {
            line,
            pos: 0,
            block: 0,
            classes: classify(line.as_bytes()),
        }
    }

    /// Where the plain text of a string that runs from the cursor ends: the first `"` or `\`.
    /// `None` at the line's end, or when a control byte comes first: JSON forbids them raw in a
    /// string (tabs and carriage returns between tokens, rare, are refused by the grammar and
    /// left to serde_json too).
    fn plain_text_end(&mut self) -> Option<usize> {
        let mut from = self.pos;
        loop {
            if (self.block..self.block + BLOCK).contains(&from) {
                let shift = from - self.block;
                let specials = self.classes.specials >> shift;
                let controls = self.classes.controls >> shift;
                if specials != 0 {
                    let end = specials.trailing_zeros();
                    return (controls & ((1 << end) - 1) == 0).then(|| from + end as usize);
                }
                if controls != 0 {
                    return None;
                }
                from = self.block + BLOCK;
            }
            if from >= self.line.len() {
                return None;
            }
            self.block = from;
            self.classes = classify(&self.bytes()[from..]);
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    /// The next byte after spaces, not consumed.
    fn peek(&mut self) -> Option<u8> {
        while self.bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
        self.bytes().get(self.pos).copied()
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// After a member: `true` on a comma (another member follows), `false` on the closing brace.
    fn next_member(&mut self) -> Option<bool> {
        let byte = self.peek()?;
        self.pos += 1;
        match byte {
            b',' => Some(true),
            b'}' => Some(false),
            _ => None,
        }
    }

    fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// A string; whether it has escapes. Only the two-character escapes are read here.
    fn string(&mut self) -> Option<(&'a str, bool)> {
        self.expect(b'"')?;
        let start = self.pos;
        let mut escaped = false;
        loop {
            self.pos = self.plain_text_end()?;
            if self.bytes()[self.pos] == b'"' {
                self.pos += 1;
                return Some((&self.line[start..self.pos - 1], escaped));
            }
            match self.bytes().get(self.pos + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.pos += 2,
                _ => return None,
            }
            escaped = true;
        }
    }

    /// A string without escapes: its text is the line's.
    fn plain_string(&mut self) -> Option<&'a str> {
        match self.string()? {
            (text, false) => Some(text),
            (_, true) => None,
        }
    }

    /// A number that is a non-negative integer fitting a `u64` (no sign, fraction or exponent).
    fn unsigned(&mut self) -> Option<u64> {
        self.peek()?;
        let start = self.pos;
        let mut value = 0u64;
        while let Some(&digit @ b'0'..=b'9') = self.bytes().get(self.pos) {
            value = value
                .checked_mul(10)?
                .checked_add(u64::from(digit - b'0'))?;
            self.pos += 1;
        }
        let digits = self.pos - start;
        let leading_zero = digits > 1 && self.bytes()[start] == b'0';
        let not_integer = matches!(self.bytes().get(self.pos), Some(b'.' | b'e' | b'E'));
        (digits > 0 && !leading_zero && !not_integer).then_some(value)
    }

    /// Any string, number (no exponent), `true`, `false` or `null`.
    fn scalar(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(drop),
            b'-' | b'0'..=b'9' => self.number(),
            b't' => self.literal("true"),
            b'f' => self.literal("false"),
            b'n' => self.literal("null"),
            _ => None,
        }
    }

    fn literal(&mut self, word: &str) -> Option<()> {
        self.line[self.pos..]
            .starts_with(word)
            .then(|| self.pos += word.len())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)?`: JSON's number grammar without an exponent.
    fn number(&mut self) -> Option<()> {
        if self.bytes()[self.pos] == b'-' {
            self.pos += 1;
        }
        let digits = |cursor: &Cursor| {
            cursor.bytes()[cursor.pos..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count()
        };
        let integer = digits(self);
        if integer == 0 || (integer > 1 && self.bytes()[self.pos] == b'0') {
            return None;
        }
        self.pos += integer;
        if self.bytes().get(self.pos) == Some(&b'.') {
            self.pos += 1;
            let fraction = digits(self);
            if fraction == 0 {
                return None;
            }
            self.pos += fraction;
        }
        match self.bytes().get(self.pos) {
            Some(b'e' | b'E') => None,
            _ => Some(()),
        }
    }

    /// The `origin` object, with exactly the fields [`Origin`](super::Origin) has, each once.
    fn origin(&mut self) -> Option<OriginRef<'a>> {
        self.expect(b'{')?;
        let (mut file, mut fid, mut lsn, mut offset, mut crc) = (None, None, None, None, None);
        loop {
            let key = self.plain_string()?;
            self.expect(b':')?;
            match key {
                "file" => once(&mut file, self.plain_string()?)?,
                "fid" => once(&mut fid, self.plain_string()?)?,
                "lsn" => once(&mut lsn, self.unsigned()?)?,
                "offset" => once(&mut offset, self.unsigned()?)?,
                "crc" => {
                    let value = match self.peek()? {
                        b'n' => self.literal("null").map(|()| None)?,
                        _ => Some(u32::try_from(self.unsigned()?).ok()?),
                    };
                    once(&mut crc, value)?
                }
                _ => return None,
            }
            if !self.next_member()? {
                break;
            }
        }
        Some(OriginRef {
            file: file?,
            fid: fid?,
            lsn: lsn?,
            offset: offset?,
            crc: crc.flatten(),
        })
    }
}
