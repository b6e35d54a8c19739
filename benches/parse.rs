//! Parse benchmark: automatic-detection parsing plus JSON-lines encoding, on one thread.
//!
//! Builds a mixed corpus in memory by interleaving the lines of the seven loghub samples (see
//! `tests/common/loghub.rs` for the corpus and its license) and repeating them to at least
//! [`CORPUS_BYTES`], then times `Parser::parse_into` + `record::write_record` into a reused buffer
//! over all of it, and prints MiB/s (of raw input) and lines/s, the best of [`RUNS`].
//!
//! Throughput is computed from the thread's own CPU time (Linux `/proc/thread-self/schedstat`),
//! so that other processes competing for the cores do not lower the one-core figure; wall-clock
//! figures are printed next to it (and used where schedstat is not available).
//!
//! Run: `cargo bench --bench parse` (set `LOGSPHERE_CORPUS` if the corpus is elsewhere).

#[path = "../tests/common/loghub.rs"]
mod loghub;

use std::time::Instant;

use chrono::Utc;
use logsphere::parse::{Parser, ParserConfig};
use logsphere::record::{Category, Level, Record, write_record};

/// Size of the corpus built in memory.
const CORPUS_BYTES: usize = 200 * 1024 * 1024;
/// Timed runs; the best is reported.
const RUNS: usize = 3;
/// Output bytes buffered before the buffer is reused, as a writer would flush it.
const FLUSH_AT: usize = 256 * 1024;

fn main() {
    let Some(dir) = loghub::dir() else { return };
    let samples: Vec<Vec<u8>> = loghub::SYSTEMS
        .iter()
        .map(|system| std::fs::read(loghub::log_path(&dir, system)).expect("read log sample"))
        .collect();
    let (corpus, lines) = build_corpus(&samples);
    let mib = corpus.len() as f64 / (1024.0 * 1024.0);
    eprintln!(
        "corpus: {mib:.0} MiB, {lines} lines from {} systems",
        samples.len()
    );

    let mut parser = Parser::new(ParserConfig::default()).expect("default parser");
    let now = Utc::now();
    let mut record = Record {
        timestamp: now,
        log_level: Level::Info,
        message: String::new(),
        source: "bench-host".into(),
        category: Category::default_category(),
        id: "0123456789abcdef0123456789abcdef".into(),
        origin: None,
        extra: Default::default(),
    };
    let mut out = Vec::with_capacity(FLUSH_AT + 64 * 1024);
    let mut best = f64::INFINITY;
    let mut encoded = 0usize;
    for run in 1..=RUNS {
        let start = Instant::now();
        let cpu_start = thread_cpu_seconds();
        encoded = 0;
        let mut line_start = 0;
        for line_end in memchr::memchr_iter(b'\n', &corpus).chain([corpus.len()]) {
            parser.parse_into(&corpus[line_start..line_end], now, &mut record);
            line_start = line_end + 1;
            write_record(&record, &mut out);
            if out.len() >= FLUSH_AT {
                encoded += out.len();
                out.clear();
            }
        }
        encoded += out.len();
        out.clear();
        let wall = start.elapsed().as_secs_f64();
        let seconds = match (cpu_start, thread_cpu_seconds()) {
            (Some(begin), Some(end)) => end - begin,
            _ => wall,
        };
        eprintln!(
            "run {run}: {seconds:.3} s on CPU ({wall:.3} s wall), {:.0} MiB/s, {:.0} lines/s (wall: {:.0} MiB/s)",
            mib / seconds,
            lines as f64 / seconds,
            mib / wall
        );
        best = best.min(seconds);
    }
    println!(
        "parse+encode (auto detection, 1 thread, best of {RUNS}): {:.0} MiB/s, {:.2} M lines/s ({:.0} MiB of JSON out)",
        mib / best,
        lines as f64 / best / 1e6,
        encoded as f64 / (1024.0 * 1024.0)
    );
}

/// CPU time this thread has run, in seconds (Linux); `None` elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let nanos: u64 = stat.split_whitespace().next()?.parse().ok()?;
    Some(nanos as f64 / 1e9)
}

/// The samples' lines interleaved in blocks (as a collector reading several files sees them),
/// repeated to at least `CORPUS_BYTES`, without a final newline.
fn build_corpus(samples: &[Vec<u8>]) -> (Vec<u8>, usize) {
    const BLOCK: usize = 16;
    let per_system: Vec<Vec<&[u8]>> = samples
        .iter()
        .map(|sample| {
            sample
                .strip_suffix(b"\n")
                .unwrap_or(sample)
                .split(|&b| b == b'\n')
                .collect()
        })
        .collect();
    let mut mixed = Vec::new();
    let longest = per_system.iter().map(Vec::len).max().unwrap_or(0);
    for block in (0..longest).step_by(BLOCK) {
        for lines in &per_system {
            for line in lines.iter().skip(block).take(BLOCK) {
                mixed.extend_from_slice(line);
                mixed.push(b'\n');
            }
        }
    }
    let mixed_lines = mixed.iter().filter(|&&b| b == b'\n').count();
    let repeats = CORPUS_BYTES.div_ceil(mixed.len());
    let mut corpus = mixed.repeat(repeats);
    corpus.pop();
    (corpus, mixed_lines * repeats)
}
