//! ls-tail against real files and real rotation, running the built binary.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ls-tail");

/// A running ls-tail whose stdout goes to a file, so that what it wrote survives a kill -9.
struct Tail {
    child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Tail {
    fn start(args: &[&str], out: &Path) -> Tail {
        let err = out.with_extension("err");
        let child = Command::new(BIN)
            .args(["--format", "raw"])
            .args(args)
            .stdout(File::create(out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .unwrap();
        Tail {
            child,
            out: out.to_path_buf(),
            err,
        }
    }

    fn records(&self) -> Vec<Value> {
        records(&self.out)
    }

    /// Waits until the output holds records with all of `messages`.
    fn wait_for(&self, messages: &[String]) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let seen: HashSet<String> = messages_of(&self.records()).into_iter().collect();
            let missing: Vec<&String> = messages.iter().filter(|m| !seen.contains(*m)).collect();
            if missing.is_empty() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "ls-tail did not output {} lines, first {:?}; stderr: {}",
                missing.len(),
                missing[0],
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stderr(&self) -> String {
        fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// SIGTERM: ls-tail must stop, flush, commit and exit 0.
    fn stop(mut self) -> Vec<Value> {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(status.success(), "exit {status}: {}", self.stderr());
        self.records()
    }

    fn kill9(mut self) -> Vec<Value> {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.records()
    }
}

impl Drop for Tail {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The records in an output file; a torn last line (kill -9) is left out.
fn records(path: &Path) -> Vec<Value> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn messages_of(records: &[Value]) -> Vec<String> {
    records
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect()
}

fn once(args: &[&str]) -> (Vec<Value>, String) {
    // Raw lines: the tests compare messages with the lines written.
    let output = Command::new(BIN)
        .args(["--once", "--format", "raw"])
        .args(args)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    let records = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (records, stderr)
}

fn append(path: &Path, lines: &[String]) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut text = String::new();
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    f.write_all(text.as_bytes()).unwrap();
}

/// Empties `path` in place, as copytruncate does after its copy.
fn truncate(path: &Path) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .set_len(0)
        .unwrap();
}

fn lines(prefix: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|i| format!("{prefix} line {i}")).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A scratch directory: `logs/` to tail (with `app.log` in it, not yet written) and the LSN
/// store and outputs beside it.
struct Scratch {
    dir: tempfile::TempDir,
    logs: PathBuf,
    log: PathBuf,
    lsn: PathBuf,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        let logs = dir.path().join("logs");
        fs::create_dir(&logs).unwrap();
        Scratch {
            log: logs.join("app.log"),
            lsn: dir.path().join("lsn"),
            logs,
            dir,
        }
    }

    /// A path beside `logs/`.
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

/// Every expected message exactly once, nothing else.
fn assert_exactly(records: &[Value], expected: &[String]) {
    let mut got = messages_of(records);
    got.sort();
    let mut want = expected.to_vec();
    want.sort();
    assert_eq!(got.len(), want.len(), "record count");
    assert_eq!(got, want);
}

fn follow_args<'a>(root: &'a str, lsn: &'a str) -> Vec<&'a str> {
    vec![root, "--lsn-dir", lsn, "--idle-timeout", "1"]
}

#[test]
fn rename_and_create_finishes_the_old_file_then_follows_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lsn = dir.path().join("lsn");
    let mut expected = lines("old", 0..100);
    append(&log, &expected);
    // Only app.log is named: the renamed file is reached through its handle alone.
    let tail = Tail::start(&follow_args(s(&log), s(&lsn)), &dir.path().join("out"));
    tail.wait_for(&expected);
    let rotated = dir.path().join("app.log.1");
    // The writer still holds the old file and writes a last burst after the rename.
    let mut writer = OpenOptions::new().append(true).open(&log).unwrap();
    fs::rename(&log, &rotated).unwrap();
    append(&log, &lines("new", 0..50));
    for line in lines("late", 0..30) {
        writeln!(writer, "{line}").unwrap();
    }
    expected.extend(lines("new", 0..50));
    expected.extend(lines("late", 0..30));
    tail.wait_for(&expected);
    let out = tail.stop();
    assert_exactly(&out, &expected);
}

#[test]
fn a_new_file_that_begins_with_the_rotated_files_whole_content_is_read() {
    // Rename + create where the new file's first lines equal all of the rotated one's (a banner
    // written at every start): it is no copy, since it comes to hold more than the original.
    let scratch = Scratch::new();
    let banner = lines("banner", 0..3);
    append(&scratch.log, &banner);
    let mut args = follow_args(s(&scratch.logs), s(&scratch.lsn));
    args.extend(["--rescan-interval", "1"]);
    let tail = Tail::start(&args, &scratch.path("out"));
    tail.wait_for(&banner);
    fs::rename(&scratch.log, scratch.logs.join("app.log.1")).unwrap();
    // At first the same lines only: as far as can be told, a copy...
    append(&scratch.log, &banner);
    std::thread::sleep(Duration::from_millis(1500));
    // ...until more comes: then a file of its own, read from its start.
    let more = lines("new", 0..5);
    append(&scratch.log, &more);
    tail.wait_for(&more);
    let out = tail.stop();
    let expected: Vec<String> = [banner.clone(), banner, more].concat();
    assert_exactly(&out, &expected);
}

#[test]
fn copytruncate_reads_the_rest_from_the_copy_and_the_new_content_once() {
    let scratch = Scratch::new();
    let (logs, log, lsn) = (&scratch.logs, &scratch.log, &scratch.lsn);
    let mut expected = lines("a", 0..100);
    append(log, &expected);
    let tail = Tail::start(&follow_args(s(logs), s(lsn)), &scratch.path("out"));
    tail.wait_for(&expected);
    // Lines written after ls-tail caught up, then copied away and truncated at once.
    let unread = lines("b", 0..40);
    append(log, &unread);
    fs::copy(log, logs.join("app.log.1")).unwrap();
    truncate(log);
    append(log, &lines("c", 0..20));
    expected.extend(unread);
    expected.extend(lines("c", 0..20));
    tail.wait_for(&expected);
    std::thread::sleep(Duration::from_millis(500));
    let out = tail.stop();
    assert_exactly(&out, &expected);
}

#[test]
fn a_copy_seen_half_made_is_not_read_again() {
    let scratch = Scratch::new();
    let (logs, log, lsn) = (&scratch.logs, &scratch.log, &scratch.lsn);
    let mut expected = lines("a", 0..1000);
    append(log, &expected);
    let tail = Tail::start(&follow_args(s(logs), s(lsn)), &scratch.path("out"));
    tail.wait_for(&expected);
    // copytruncate's `cp`, caught half-way: the copy is shorter than what was read of its
    // content, then complete; then the original is truncated and written on.
    let content = fs::read(log).unwrap();
    let copy = logs.join("app.log.1");
    fs::write(&copy, &content[..content.len() / 2]).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    OpenOptions::new()
        .append(true)
        .open(&copy)
        .unwrap()
        .write_all(&content[content.len() / 2..])
        .unwrap();
    truncate(log);
    append(log, &lines("b", 0..20));
    expected.extend(lines("b", 0..20));
    tail.wait_for(&expected);
    std::thread::sleep(Duration::from_millis(500));
    assert_exactly(&tail.stop(), &expected);
}

#[test]
fn a_file_deleted_while_open_is_drained() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lsn = dir.path().join("lsn");
    let mut expected = lines("kept", 0..10);
    append(&log, &expected);
    let tail = Tail::start(
        &[s(dir.path()), "--glob", "*.log", "--lsn-dir", s(&lsn)],
        &dir.path().join("out"),
    );
    tail.wait_for(&expected);
    let last = lines("last", 0..500);
    append(&log, &last);
    // An unfinished last line too: nobody can complete it once the file is gone.
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"no newline")
        .unwrap();
    fs::remove_file(&log).unwrap();
    expected.extend(last);
    expected.push("no newline".into());
    // Deleted files are finished once idle (default 60 s) or at exit.
    let out = tail.stop();
    assert_exactly(&out, &expected);
}

#[test]
fn a_symlink_swap_drains_the_old_target_and_follows_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a.log"), dir.path().join("b.log"));
    let current = dir.path().join("current.log");
    let lsn = dir.path().join("lsn");
    append(&a, &lines("a", 0..20));
    std::os::unix::fs::symlink(&a, &current).unwrap();
    let tail = Tail::start(&follow_args(s(&current), s(&lsn)), &dir.path().join("out"));
    tail.wait_for(&lines("a", 0..20));
    append(&b, &lines("b", 0..20));
    let tmp = dir.path().join("current.tmp");
    std::os::unix::fs::symlink(&b, &tmp).unwrap();
    fs::rename(&tmp, &current).unwrap();
    append(&a, &lines("a", 20..25));
    append(&b, &lines("b", 20..25));
    let mut expected = lines("a", 0..25);
    expected.extend(lines("b", 0..25));
    tail.wait_for(&expected);
    let out = tail.stop();
    assert_exactly(&out, &expected);
    assert!(out.iter().all(|r| r["origin"]["file"] == s(&current)));
}

#[test]
fn restarts_resume_at_the_exact_line_and_replacement_while_stopped_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lsn = dir.path().join("lsn");
    let args = [s(&log), "--lsn-dir", s(&lsn)];
    append(&log, &lines("x", 0..10));
    // An unfinished line waits for its newline.
    OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(b"x line 1")
        .unwrap();
    let (first, stderr) = once(&args);
    assert_exactly(&first, &lines("x", 0..10));
    assert!(stderr.contains("1 unfinished last lines"), "{stderr}");
    append(&log, &["0".into()]);
    append(&log, &lines("x", 11..15));
    let (second, _) = once(&args);
    assert_exactly(&second, &lines("x", 10..15));
    assert_eq!(second[0]["origin"]["lsn"], 11);
    assert_eq!(once(&args).0.len(), 0);

    // Truncated and rewritten with the same first line but other content, longer than before.
    let old_ids: HashSet<Value> = first
        .iter()
        .chain(&second)
        .map(|r| r["id"].clone())
        .collect();
    let mut replaced = lines("x", 0..1);
    replaced.extend(lines("y", 0..30));
    fs::remove_file(&log).unwrap();
    append(&log, &replaced);
    let (third, stderr) = once(&args);
    assert!(stderr.contains("reading it from the start"), "{stderr}");
    assert_exactly(&third, &replaced);
    assert!(third.iter().all(|r| !old_ids.contains(&r["id"])));
    assert_ne!(third[0]["origin"]["fid"], first[0]["origin"]["fid"]);

    // Truncated to fewer lines while stopped.
    fs::write(&log, "z line 0\n").unwrap();
    let (fourth, _) = once(&args);
    assert_exactly(&fourth, &["z line 0".to_string()]);
}

#[test]
fn a_rotated_copy_of_read_content_is_not_read_again() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lsn = dir.path().join("lsn");
    let args = [s(dir.path()), "--glob", "app.log*", "--lsn-dir", s(&lsn)];
    append(&log, &lines("a", 0..10));
    assert_eq!(once(&args).0.len(), 10);
    // copytruncate while stopped, and a file with the same first line but other content.
    append(&log, &lines("a", 10..12));
    fs::copy(&log, dir.path().join("app.log.1")).unwrap();
    fs::write(&log, "").unwrap();
    let mut other = lines("a", 0..1);
    other.extend(lines("other", 0..3));
    append(&dir.path().join("app.log.2"), &other);
    let (out, _) = once(&args);
    let mut expected = lines("a", 10..12);
    expected.extend(other);
    assert_exactly(&out, &expected);
}

#[test]
fn resume_from_a_store_with_a_corrupted_buffer_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let lsn = dir.path().join("lsn");
    let args = [s(&log), "--lsn-dir", s(&lsn)];
    append(&log, &lines("l", 0..10));
    let (first, _) = once(&args);
    append(&log, &lines("l", 10..20));
    let (second, _) = once(&args);
    assert_eq!(second.len(), 10);
    // A crash in the middle of the last append: its entry is torn.
    let buffer = lsn.join("lsn.buffer");
    let bytes = fs::read(&buffer).unwrap();
    fs::write(&buffer, &bytes[..bytes.len() - 20]).unwrap();
    append(&log, &lines("l", 20..25));
    let (third, stderr) = once(&args);
    assert!(stderr.contains("torn"), "{stderr}");
    // Resumed from the last good position: the second run's lines again, under the same ids.
    assert_exactly(&third, &lines("l", 10..25));
    let second_ids: Vec<&Value> = second.iter().map(|r| &r["id"]).collect();
    let again: Vec<&Value> = third[..10].iter().map(|r| &r["id"]).collect();
    assert_eq!(again, second_ids);
    // A flipped byte instead of a cut: same outcome.
    let bytes = fs::read(&buffer).unwrap();
    let mut flipped = bytes.clone();
    let at = bytes.len() - 30;
    flipped[at] ^= 0x01;
    fs::write(&buffer, &flipped).unwrap();
    let (fourth, _) = once(&args);
    assert!(!fourth.is_empty() && fourth.len() <= 15);
    assert_eq!(first.len(), 10);
}

#[test]
fn multiline_events_join_and_carry_their_last_lsn() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("app.log");
    let text = "2026-11-22 ERROR boom\n\tat a.B.c(B.java:1)\nCaused by: x\n\t... 2 more\n\
                2026-11-22 INFO fine\n2026-11-22 WARN last\n  continued\n";
    fs::write(&log, text).unwrap();
    let (out, _) = once(&[s(&log), "--multiline"]);
    let msgs = messages_of(&out);
    assert_eq!(
        msgs,
        [
            "2026-11-22 ERROR boom\n\tat a.B.c(B.java:1)\nCaused by: x\n\t... 2 more",
            "2026-11-22 INFO fine",
            "2026-11-22 WARN last\n  continued",
        ]
    );
    let lsns: Vec<&Value> = out.iter().map(|r| &r["origin"]["lsn"]).collect();
    assert_eq!(lsns, [4, 5, 7]);
    let (out, _) = once(&[s(&log), "--multiline-start", r"^\d{4}-"]);
    assert_eq!(out.len(), 3);

    // Followed: a pending event is flushed after the timeout, and resumes do not split it.
    let lsn = dir.path().join("lsn");
    let log2 = dir.path().join("b.log");
    append(&log2, &["2026 ERROR a".into(), " at x".into()]);
    let tail = Tail::start(
        &[
            s(&log2),
            "--multiline",
            "--multiline-timeout",
            "0.3",
            "--lsn-dir",
            s(&lsn),
        ],
        &dir.path().join("out"),
    );
    tail.wait_for(&["2026 ERROR a\n at x".to_string()]);
    append(&log2, &["2026 INFO b".into()]);
    tail.wait_for(&["2026 INFO b".to_string()]);
    tail.stop();
    append(&log2, &[" at y".into(), "2026 INFO c".into()]);
    let (out, _) = once(&[s(&log2), "--multiline", "--lsn-dir", s(&lsn)]);
    assert_eq!(messages_of(&out), [" at y", "2026 INFO c"]);
}

#[test]
fn once_prints_a_summary_and_categories_follow_the_rules() {
    let dir = tempfile::tempdir().unwrap();
    append(&dir.path().join("access.log"), &lines("GET", 0..3));
    append(&dir.path().join("app.log"), &lines("app", 0..2));
    fs::write(dir.path().join("old.log.2.gz"), b"\x1f\x8bnot read").unwrap();
    let (out, stderr) = once(&[
        s(dir.path()),
        "--source",
        "web-1",
        "--category",
        "activity",
        "--category-rule",
        "access:file=*access*",
    ]);
    assert_eq!(out.len(), 5);
    for r in &out {
        let access = r["origin"]["file"]
            .as_str()
            .unwrap()
            .ends_with("access.log");
        assert_eq!(r["category"], if access { "access" } else { "activity" });
        assert_eq!(r["source"], "web-1");
    }
    assert!(stderr.contains("5 records from 5 lines"), "{stderr}");
    assert!(stderr.contains("of 2 files"), "{stderr}");

    let bad = Command::new(BIN)
        .args([s(dir.path()), "--category-rule", "Bad:level>=ERROR"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let missing = Command::new(BIN)
        .args(["/nonexistent/dir/x.log", "--once"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn thousands_of_files_with_few_open_handles() {
    let scratch = Scratch::new();
    let (logs, lsn) = (&scratch.logs, &scratch.lsn);
    let mut expected = Vec::new();
    for f in 0..2000 {
        let l = lines(&format!("f{f}"), 0..3);
        append(&logs.join(format!("{f}.log")), &l);
        expected.extend(l);
    }
    let (out, _) = once(&[s(logs), "--max-open-files", "16", "--lsn-dir", s(lsn)]);
    assert_exactly(&out, &expected);

    // Followed: every file grows again, and a burst of new files appears.
    let tail = Tail::start(
        &[s(logs), "--max-open-files", "16", "--lsn-dir", s(lsn)],
        &scratch.path("out"),
    );
    let mut more = Vec::new();
    for f in (0..2000).step_by(7) {
        let l = lines(&format!("f{f}"), 3..5);
        append(&logs.join(format!("{f}.log")), &l);
        more.extend(l);
    }
    for f in 0..300 {
        let l = lines(&format!("burst{f}"), 0..2);
        append(&logs.join(format!("burst{f}.log")), &l);
        more.extend(l);
    }
    tail.wait_for(&more);
    let out = tail.stop();
    assert_exactly(&out, &more);
}

/// Writes lines and rotates (rename, copytruncate, delete) while ls-tail is killed with
/// SIGKILL at random points and restarted: the union of its outputs, deduplicated by id, is
/// exactly the input.
#[test]
fn kill_9_at_random_points_during_rotation_loses_and_invents_nothing() {
    let scratch = Scratch::new();
    let (logs, log, lsn) = (&scratch.logs, &scratch.log, &scratch.lsn);
    let seed = std::env::var("LS_TAIL_KILL_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill -9 test seed: {seed} (replay with LS_TAIL_KILL_SEED)");
    let mut rng = Rng(seed);
    let mut expected: Vec<String> = Vec::new();
    let mut next = 0usize;
    let mut rotated = 0usize;
    let mut write = |n: usize, expected: &mut Vec<String>| {
        let l = lines("k", next..next + n);
        next += n;
        append(log, &l);
        expected.extend(l);
    };
    let mut all = Vec::new();
    for round in 0..25 {
        let out = scratch.path(&format!("out.{round}"));
        let tail = Tail::start(&[s(logs), "--lsn-dir", s(lsn)], &out);
        for _ in 0..rng.below(4) + 1 {
            write(rng.below(3000) + 1, &mut expected);
            std::thread::sleep(Duration::from_millis(rng.below(60) as u64));
            match rng.below(4) {
                0 => {
                    rotated += 1;
                    fs::rename(log, logs.join(format!("app.log.{rotated}"))).unwrap();
                }
                1 => {
                    rotated += 1;
                    fs::copy(log, logs.join(format!("app.log.{rotated}"))).unwrap();
                    truncate(log);
                }
                2 => {
                    // Delete while open: only once ls-tail has the file open (it read a line
                    // of it), or the lines would be lost by the test itself.
                    write(1, &mut expected);
                    tail.wait_for(&expected[expected.len() - 1..]);
                    write(rng.below(200) + 1, &mut expected);
                    fs::remove_file(log).unwrap();
                    let tail_lines = expected[expected.len() - 1..].to_vec();
                    tail.wait_for(&tail_lines);
                }
                _ => {}
            }
        }
        // Kill while it is likely in the middle of reading a burst.
        write(rng.below(20_000) + 1, &mut expected);
        std::thread::sleep(Duration::from_millis(rng.below(80) as u64));
        all.extend(tail.kill9());
        // Lines also arrive while ls-tail is down.
        if rng.below(2) == 0 {
            write(rng.below(500) + 1, &mut expected);
        }
    }
    let (last, _) = once(&[s(logs), "--lsn-dir", s(lsn)]);
    all.extend(last);
    let mut by_id: HashMap<String, String> = HashMap::new();
    let mut duplicates = 0;
    for r in &all {
        let id = r["id"].as_str().unwrap().to_string();
        let message = r["message"].as_str().unwrap().to_string();
        if let Some(previous) = by_id.insert(id, message.clone()) {
            assert_eq!(previous, message, "one id, two lines");
            duplicates += 1;
        }
    }
    let unique: Vec<Value> = by_id
        .into_values()
        .map(|m| serde_json::json!({ "message": m }))
        .collect();
    assert_exactly(&unique, &expected);
    eprintln!(
        "kill -9 test: {} lines, {} records written, {duplicates} duplicates across restarts",
        expected.len(),
        all.len()
    );
}

/// A small deterministic generator, so that a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}
