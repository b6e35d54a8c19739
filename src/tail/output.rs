//! The record output of the tail loop: lines are gathered into batches, worker threads parse
//! and encode the batches into JSON lines while the loop reads on, and the encoded batches are
//! written to the output in the order their lines were read.
//!
//! Parsing and encoding are most of ls-tail's work: spreading them over the cores lets one file
//! be read faster than one core parses it. The commit rule (DESIGN.md §2: a position is stored
//! only once its record reached the output) is kept by counting batches: [`Output::seal`]
//! returns how many batches hold every line given so far, and [`Output::written`] how many were
//! written to the output and flushed, in order.

use std::collections::BTreeMap;
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use anyhow::{Context, Result, anyhow};
use chrono::{DateTime, Utc};

use super::category::FileCategories;
use super::multiline::Event;
use crate::parse::{Parser, ParserConfig};
use crate::record::write::{FileFields, write_file_record};
use crate::record::{Category, Level, LineId, Record};

/// Line bytes gathered before a batch goes to the workers even if nobody seals it, so that
/// reading a large file in one go does not hold it all in memory.
const BATCH_BYTES: usize = 128 << 10;
/// The most worker threads: one thread reading and splitting lines keeps up with about this many.
const MAX_WORKERS: usize = 4;
/// Batches sealed but not written yet, per worker: enough to keep the workers busy while the
/// output is written, few enough to bound memory.
const IN_FLIGHT_PER_WORKER: u64 = 2;

/// The lines of one file within a batch.
#[derive(Clone)]
struct Part {
    /// The index of its first line in [`Batch::lines`].
    first: usize,
    fields: Arc<FileFields>,
    fid: Arc<str>,
    categories: Arc<FileCategories>,
    /// The timestamp of lines that carry none.
    now: DateTime<Utc>,
}

/// One line to turn into a record.
struct Pending {
    /// Where its bytes end in [`Batch::text`] (they start where the previous line's end).
    end: usize,
    lsn: u64,
    offset: u64,
    crc: u32,
}

/// Lines on their way to the output, then their records.
#[derive(Default)]
struct Batch {
    number: u64,
    text: Vec<u8>,
    lines: Vec<Pending>,
    parts: Vec<Part>,
    encoded: Vec<u8>,
    /// Encoding panicked (the panic hook printed why).
    failed: bool,
}

impl Batch {
    /// Empties the batch, keeping its buffers.
    fn clear(&mut self) {
        self.text.clear();
        self.lines.clear();
        self.parts.clear();
        self.encoded.clear();
        self.failed = false;
    }

    fn start_part(&mut self, mut part: Part) {
        part.first = self.lines.len();
        match self.parts.last_mut() {
            // The previous part got no line: replace it.
            Some(last) if last.first == part.first => *last = part,
            _ => self.parts.push(part),
        }
    }
}

/// Turns lines into records on worker threads and writes them, in order, to `W`.
pub struct Output<W: Write> {
    out: W,
    source: String,
    /// The batch being filled; it will be number `sealed`.
    batch: Batch,
    /// The file being read (see [`Output::begin`]), by its name.
    file: Option<(String, Part)>,
    /// Batches handed to the workers.
    sealed: u64,
    /// Batches written to `out` and flushed: the first `written` ones.
    written: u64,
    in_flight_limit: u64,
    jobs: Option<Sender<Batch>>,
    results: Receiver<Batch>,
    /// Encoded batches waiting for an earlier one to be written.
    ready: BTreeMap<u64, Batch>,
    /// Written batches, for their buffers.
    spare: Vec<Batch>,
    workers: Vec<JoinHandle<()>>,
    /// Set by the first failure; nothing is written after it.
    error: Option<anyhow::Error>,
    broken: bool,
    records: u64,
    /// Multi-line events whose text was cut at the longest message.
    events_cut: u64,
    last: Option<(u64, u64, u32)>,
}

impl<W: Write> Output<W> {
    /// Starts the workers, one per core (up to [`MAX_WORKERS`]), each with a parser of `parser`.
    pub fn new(out: W, parser: &ParserConfig, source: String) -> Result<Output<W>> {
        let count = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_WORKERS);
        let (jobs, queue) = mpsc::channel::<Batch>();
        let queue = Arc::new(Mutex::new(queue));
        let (done, results) = mpsc::channel();
        let mut workers = Vec::with_capacity(count);
        for n in 0..count {
            let parser = Parser::new(parser.clone())?;
            let (queue, done) = (Arc::clone(&queue), done.clone());
            let worker = std::thread::Builder::new()
                .name(format!("ls-tail-encode-{n}"))
                .spawn(move || encode_batches(parser, &queue, &done))
                .context("cannot start an encoding thread")?;
            workers.push(worker);
        }
        Ok(Output {
            out,
            source,
            batch: Batch::default(),
            file: None,
            sealed: 0,
            written: 0,
            in_flight_limit: IN_FLIGHT_PER_WORKER * count as u64,
            jobs: Some(jobs),
            results,
            ready: BTreeMap::new(),
            spare: Vec::new(),
            workers,
            error: None,
            broken: false,
            records: 0,
            events_cut: 0,
            last: None,
        })
    }

    /// Prepares for lines of the file `name` with identity `fid`.
    pub fn begin(&mut self, name: &str, fid: &str, categories: &Arc<FileCategories>) {
        self.last = None;
        let now = Utc::now();
        match &mut self.file {
            Some((file, part)) if file == name && &*part.fid == fid => {
                part.categories = Arc::clone(categories);
                part.now = now;
            }
            _ => {
                let part = Part {
                    first: 0,
                    fields: Arc::new(FileFields::new(&self.source, name, fid)),
                    fid: Arc::from(fid),
                    categories: Arc::clone(categories),
                    now,
                };
                self.file = Some((name.to_string(), part));
            }
        }
        let (_, part) = self.file.as_ref().expect("set above");
        self.batch.start_part(part.clone());
    }

    /// Adds the line numbered `lsn` of the file of the last [`Output::begin`], which ends at
    /// `offset` and has the crc `crc`.
    pub fn emit(&mut self, text: &[u8], lsn: u64, offset: u64, crc: u32) {
        debug_assert!(!self.batch.parts.is_empty(), "begin comes first");
        self.batch.text.extend_from_slice(text);
        self.batch.lines.push(Pending {
            end: self.batch.text.len(),
            lsn,
            offset,
            crc,
        });
        self.last = Some((lsn, offset, crc));
        self.records += 1;
        if self.batch.text.len() >= BATCH_BYTES {
            self.seal();
        }
    }

    /// Adds a multi-line event, as [`Output::emit`] adds a line; one cut at the longest message
    /// is warned about and counted.
    pub fn emit_event(&mut self, event: &Event) {
        if event.cut {
            self.events_cut += 1;
            let file = self.file.as_ref().map_or("", |(name, _)| name.as_str());
            log::warn!(
                "{file}: the multi-line event ending at line {} is longer than --max-line-bytes: its message is cut there",
                event.lsn
            );
        }
        self.emit(&event.text, event.lsn, event.end, event.crc);
    }

    /// Multi-line events cut at the longest message so far.
    pub fn events_cut(&self) -> u64 {
        self.events_cut
    }

    /// The last line emitted since [`Output::begin`]: (lsn, offset, crc).
    pub fn last(&self) -> Option<(u64, u64, u32)> {
        self.last
    }

    /// Records emitted so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Batches written and flushed to the output so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Hands the lines emitted so far to the workers and writes what they encoded, waiting
    /// only if too many batches are in flight. Returns the number of batches that hold every
    /// line emitted so far: once [`Output::written`] reaches it, they are all out.
    pub fn seal(&mut self) -> u64 {
        if !self.batch.lines.is_empty() {
            let mut next = self.spare.pop().unwrap_or_default();
            next.clear();
            // Lines of the current file may follow without another `begin`.
            if let Some((_, part)) = &self.file {
                next.start_part(part.clone());
            }
            let mut batch = std::mem::replace(&mut self.batch, next);
            batch.number = self.sealed;
            self.sealed += 1;
            let sent = self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send(batch).is_ok());
            if !sent {
                self.fail(anyhow!("the record encoding threads stopped"));
            }
        }
        self.collect(false);
        while !self.broken && self.sealed - self.written >= self.in_flight_limit {
            self.collect(true);
        }
        self.sealed
    }

    /// Seals, then waits until every batch is written; returns [`Output::written`].
    pub fn drain(&mut self) -> u64 {
        self.seal();
        while !self.broken && self.written < self.sealed {
            self.collect(true);
        }
        self.written
    }

    /// The first failure to encode or write records, if any (then the output is unusable).
    pub fn check(&mut self) -> Result<()> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn fail(&mut self, error: anyhow::Error) {
        if !self.broken {
            self.broken = true;
            self.error = Some(error);
        }
    }

    /// Takes the encoded batches (waiting for one if `wait`) and writes those next in order.
    fn collect(&mut self, wait: bool) {
        if wait {
            match self.results.recv() {
                Ok(batch) => {
                    self.ready.insert(batch.number, batch);
                }
                Err(_) => self.fail(anyhow!("the record encoding threads stopped")),
            }
        }
        while let Ok(batch) = self.results.try_recv() {
            self.ready.insert(batch.number, batch);
        }
        while !self.broken {
            let Some(batch) = self.ready.remove(&self.written) else {
                break;
            };
            if batch.failed {
                self.fail(anyhow!(
                    "internal error while encoding records (see the panic message above)"
                ));
                break;
            }
            let outcome = self
                .out
                .write_all(&batch.encoded)
                .and_then(|()| self.out.flush());
            if let Err(e) = outcome {
                self.fail(anyhow::Error::new(e).context("cannot write records to the output"));
                break;
            }
            self.written += 1;
            self.spare.push(batch);
        }
    }
}

impl<W: Write> Drop for Output<W> {
    fn drop(&mut self) {
        // Closing the queue ends the workers.
        self.jobs = None;
        for worker in self.workers.drain(..) {
            // A worker's panic was reported through its batch already.
            let _ = worker.join();
        }
    }
}

/// A worker: encodes the batches of `queue` and sends them to `done`, until the queue closes.
fn encode_batches(mut parser: Parser, queue: &Mutex<Receiver<Batch>>, done: &Sender<Batch>) {
    let mut record = Record {
        timestamp: Utc::now(),
        log_level: Level::Info,
        message: String::new(),
        source: String::new(),
        category: Category::default_category(),
        id: String::new(),
        origin: None,
        extra: Default::default(),
    };
    loop {
        // Only `recv` runs under the lock: it cannot be poisoned.
        let Ok(Ok(mut batch)) = queue.lock().map(|queue| queue.recv()) else {
            return;
        };
        let encoded = catch_unwind(AssertUnwindSafe(|| {
            encode(&mut parser, &mut record, &mut batch)
        }));
        batch.failed = encoded.is_err();
        if done.send(batch).is_err() {
            return;
        }
    }
}

fn encode(parser: &mut Parser, record: &mut Record, batch: &mut Batch) {
    let Batch {
        text,
        lines,
        parts,
        encoded,
        ..
    } = batch;
    let mut start = 0;
    for (k, part) in parts.iter().enumerate() {
        let end = parts.get(k + 1).map_or(lines.len(), |next| next.first);
        for line in &lines[part.first..end] {
            parser.parse_into(&text[start..line.end], part.now, record);
            start = line.end;
            let category = part.categories.pick(record.log_level);
            if record.category != *category {
                record.category = category.clone();
            }
            write_file_record(
                record,
                &part.fields,
                &LineId::new(&part.fid, line.lsn),
                line.lsn,
                line.offset,
                Some(line.crc),
                encoded,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Origin, line_id, write_record};
    use crate::tail::category::CategoryRules;
    use std::path::Path;

    /// Many files' lines through several batches come out in order, as records written one by
    /// one would, and `written` reaches what `seal` promised.
    #[test]
    fn records_come_out_in_order_as_written_one_by_one() {
        let config = ParserConfig::default();
        let rules = CategoryRules {
            rules: vec!["error:level>=ERROR".parse().unwrap()],
            default: Category::default_category(),
        };
        let categories = Arc::new(rules.for_file(Path::new("app.log")));
        let mut output = Output::new(Vec::new(), &config, "host".into()).unwrap();
        let mut parser = Parser::new(config).unwrap();
        let mut expected = Vec::new();
        let mut lsn = 0;
        let mut promised = 0;
        for round in 0..40 {
            let (name, fid) = (
                format!("/logs/f{}.log", round % 3),
                format!("fid{}", round % 3),
            );
            output.begin(&name, &fid, &categories);
            for _ in 0..2000 {
                lsn += 1;
                let level = ["INFO", "ERROR", "WARN"][lsn as usize % 3];
                let line = format!("2026-11-22 10:00:00,{:03} {level} line {lsn}", lsn % 1000);
                output.emit(line.as_bytes(), lsn, lsn * 100, lsn as u32);
                let mut record = Record {
                    timestamp: Utc::now(),
                    log_level: Level::Info,
                    message: String::new(),
                    source: "host".into(),
                    category: Category::default_category(),
                    id: line_id(&fid, lsn),
                    origin: Some(Origin {
                        file: name.clone(),
                        fid: fid.clone(),
                        lsn,
                        offset: lsn * 100,
                        crc: Some(lsn as u32),
                    }),
                    extra: Default::default(),
                };
                parser.parse_into(line.as_bytes(), Utc::now(), &mut record);
                record.category = categories.pick(record.log_level).clone();
                write_record(&record, &mut expected);
            }
            if round % 4 == 0 {
                promised = output.seal();
            }
        }
        assert!(output.written() <= promised);
        let written = output.drain();
        assert!(written >= promised && written > 1, "{written} batches");
        output.check().unwrap();
        let out = std::mem::take(&mut output.out);
        assert_eq!(out.len(), expected.len());
        assert!(out == expected, "records differ");
    }
}
