//! The fault matrix's "disk full" and "bad input" rows: the tools under a full disk and under
//! hostile input, each case ending with a check by id that no accepted record was lost.
//!
//! Disk full is a real full filesystem: a small tmpfs mounted for the test (we run as root here
//! and in CI; elsewhere the disk-full tests skip, and fail under `CI=true`), filled with a filler
//! file at a chosen moment, then freed by deleting it. An injected write failure (`prlimit
//! --fsize`) was not used: it kills the process with SIGXFSZ instead of returning ENOSPC.
//! The LSN store is compacted (`ls-recover lsn compact`) before the disk is filled, so that its
//! buffer is empty and the very next advance needs a new page: the failure point is exact.
//!
//! Bad input goes to every stage on stdin (malformed JSON, missing fields, wrong types, invalid
//! UTF-8, NUL bytes, a record over the 8 MiB line limit, categories that would be paths) and to
//! ls-tail as files (binary, invalid UTF-8, NUL bytes, a 10 MB line); ls-watch's `--exec` gets
//! alerts built from records whose ids, sources and messages are shell code.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use logsphere::archive::naming::Entry;
use logsphere::lsn::Snapshot;
use logsphere::record::Record;
use logsphere::record::read::parse_record;
use serde_json::Value;

/// No test waits on a tool longer than this: a hung tool fails the test instead of CI.
const TOOL_LIMIT: Duration = Duration::from_secs(60);

/// `ls-tail --once` of `log` leaving the LSN store `lsn` to the next stage.
fn tail_downstream(lsn: &Path, log: &Path) -> Command {
    tool(
        "ls-tail",
        &[
            "--once",
            "--lsn-dir",
            s(lsn),
            "--lsn-commit",
            "downstream",
            s(log),
        ],
    )
}

/// A tool's command with no `LOGSPHERE_*` variable from the developer's shell: every setting a
/// case needs is a flag.
fn tool(name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(common::bin(name));
    command.args(args);
    for (var, _) in std::env::vars() {
        if var.starts_with("LOGSPHERE_") {
            command.env_remove(var);
        }
    }
    command
}

/// What a finished tool did.
#[derive(Debug)]
struct Run {
    status: ExitStatus,
    stdout: Vec<u8>,
    stderr: String,
}

impl Run {
    #[track_caller]
    fn assert_success(&self) -> &Run {
        assert!(self.status.success(), "{self:?}");
        self.assert_no_panic()
    }

    /// Exit 1 with one error line on stderr that says all of `expected`.
    #[track_caller]
    fn assert_error(&self, expected: &[&str]) -> &Run {
        assert_eq!(self.status.code(), Some(1), "{}", self.stderr);
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.contains(": error: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line: {}", self.stderr);
        for text in expected {
            assert!(errors[0].contains(text), "{text:?} not in {}", errors[0]);
        }
        self.assert_no_panic()
    }

    #[track_caller]
    fn assert_no_panic(&self) -> &Run {
        assert!(
            !self.stderr.contains("panicked") && !self.stderr.contains("RUST_BACKTRACE"),
            "{}",
            self.stderr
        );
        self
    }

    /// The ids of the records on stdout (every line must be a record).
    fn ids(&self) -> Vec<String> {
        records_of(&self.stdout).into_iter().map(|r| r.id).collect()
    }
}

fn records_of(bytes: &[u8]) -> Vec<Record> {
    bytes
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| {
            parse_record(line)
                .unwrap_or_else(|e| panic!("not a record ({e}): {}", String::from_utf8_lossy(line)))
        })
        .collect()
}

/// Waits for `child` (its stdout and stderr piped) within [`TOOL_LIMIT`], killing it after.
fn finish(mut child: Child) -> Run {
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take().expect("stderr piped");
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(stdout) = &mut stdout {
            stdout.read_to_end(&mut bytes).unwrap();
        }
        bytes
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let deadline = Instant::now() + TOOL_LIMIT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a tool ran longer than {TOOL_LIMIT:?}: {:?}", err.join());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    }
}

/// Runs `command` with nothing on its stdin.
fn output(mut command: Command) -> Run {
    finish(
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Runs `command` with `input` on its stdin.
fn run_with_input(mut command: Command, input: Vec<u8>) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // A tool that stops reading early is the case's concern, not a broken pipe here.
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let run = finish(child);
    feeder.join().unwrap();
    run
}

/// Runs `first | second`; returns both runs.
fn pipe(mut first: Command, mut second: Command) -> (Run, Run) {
    let mut upstream = first
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let downstream = second
        .stdin(upstream.stdout.take().unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The command keeps the pipe's read end: with it open, `first` would never see that
    // `second` died.
    drop(second);
    let second = finish(downstream);
    (finish(upstream), second)
}

/// A tmpfs of a given size mounted on a temporary directory; unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or says why it cannot (not root) and returns `None`; under `CI=true` that is
    /// a failure: the disk-full row must never pass untested.
    fn mount(size: &str) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().unwrap();
        let output = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0755"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match output {
            Ok(output) if output.status.success() => Some(Tmpfs { dir }),
            other => {
                let msg =
                    format!("cannot mount a tmpfs (the disk-full tests need root): {other:?}");
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("{msg}");
                }
                eprintln!("SKIPPED: {msg}");
                None
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Takes every free byte of the filesystem with the file `filler` (tmpfs hands out whole
    /// pages, so page-sized writes fill it exactly).
    fn fill(&self) -> PathBuf {
        let path = self.path().join("filler");
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .unwrap();
        let page = [0u8; 4096];
        loop {
            match file.write(&page) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(28) => break,
                Err(e) => panic!("filling {}: {e}", path.display()),
            }
        }
        path
    }

    /// Fills the filesystem but for `free` bytes.
    fn fill_leaving(&self, free: u64) -> PathBuf {
        let path = self.fill();
        let file = OpenOptions::new().write(true).open(&path).unwrap();
        let len = file.metadata().unwrap().len();
        file.set_len(len.saturating_sub(free)).unwrap();
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // Lazy: a process of a failed test may still hold a file open.
        let _ = Command::new("umount")
            .arg("--lazy")
            .arg(self.dir.path())
            .status();
    }
}

fn s(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Appends `count` log lines numbered from `first` to `path`.
fn append_lines(path: &Path, first: usize, count: usize) {
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    let mut text = String::new();
    for i in first..first + count {
        text.push_str(&format!(
            "2026-11-22T10:00:00Z INFO event {i} {}\n",
            "x".repeat(60)
        ));
    }
    file.write_all(text.as_bytes()).unwrap();
}

/// The ids ls-tail gives the lines of `log` (they depend on its content only).
fn line_ids(log: &Path) -> BTreeSet<String> {
    let run = output(tool("ls-tail", &["--once", s(log)]));
    run.assert_success();
    run.ids().into_iter().collect()
}

/// The line the LSN store in `dir` holds for its only file, read as any reader would.
fn stored_lsn(dir: &Path) -> u64 {
    let snapshot = Snapshot::read(dir).unwrap();
    assert!(snapshot.positions.len() <= 1, "{snapshot:?}");
    snapshot.positions.values().next().map_or(0, |p| p.lsn)
}

/// Empties the LSN buffer into the LSN file, so that the next advance needs a new page.
fn compact(lsn_dir: &Path) {
    output(tool(
        "ls-recover",
        &["lsn", "compact", "--lsn-dir", s(lsn_dir)],
    ))
    .assert_success();
}

/// A run that failed on the full disk under the LSN store `lsn`: one error line naming the
/// store's buffer and what to do, and the store still at its last good position `kept`.
fn assert_full_lsn_store(failed: &Run, lsn: &Path, kept: u64) {
    failed.assert_error(&[
        &lsn.join("lsn.buffer").display().to_string(),
        "No space left on device",
        "free space",
    ]);
    assert_eq!(stored_lsn(lsn), kept, "the last good position is kept");
}

#[test]
fn a_full_lsn_directory_stops_ls_tail_at_its_last_good_position() {
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("app.log");
    let lsn = disk.path().join("lsn");
    append_lines(&log, 0, 2000);
    let once = || tool("ls-tail", &["--once", "--lsn-dir", s(&lsn), s(&log)]);

    let first = output(once());
    first.assert_success();
    assert_eq!(stored_lsn(&lsn), 2000);
    compact(&lsn);
    let filler = disk.fill();
    // 20 MB: ls-tail advances every 256 KiB, so it must append to the full disk.
    append_lines(&log, 2000, 200_000);
    let failed = output(once());
    assert_full_lsn_store(&failed, &lsn, 2000);

    fs::remove_file(filler).unwrap();
    let after = output(once());
    after.assert_success();
    assert_eq!(stored_lsn(&lsn), 202_000);
    // Lines written before the failed advance come again, under the same ids; none is skipped.
    let resumed: Vec<String> = after.ids();
    let mut got: BTreeSet<String> = first.ids().into_iter().collect();
    let expected = line_ids(&log);
    assert_eq!(resumed.len(), 200_000, "resumed right after line 2000");
    got.extend(resumed);
    assert_eq!(got, expected);
    assert!(
        failed.ids().iter().all(|id| expected.contains(id)),
        "the failed run wrote only lines of the file"
    );
}

#[test]
fn a_full_lsn_directory_stops_ls_ship_and_loses_no_acknowledged_line() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let Some(disk) = Tmpfs::mount("1m") else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("app.log");
    let lsn = disk.path().join("lsn");
    let prefix = common::unique_name("faults-lsn");
    let template = format!("{prefix}.{{category}}");
    append_lines(&log, 0, 2000);
    let ship = || {
        pipe(
            tail_downstream(&lsn, &log),
            tool(
                "ls-ship",
                &[
                    "--brokers",
                    &brokers,
                    "--topic-template",
                    &template,
                    "--lsn-dir",
                    s(&lsn),
                ],
            ),
        )
    };

    let (tail, shipped) = ship();
    tail.assert_success();
    shipped.assert_success();
    assert_eq!(stored_lsn(&lsn), 2000);
    compact(&lsn);
    let filler = disk.fill();
    append_lines(&log, 2000, 2000);
    let (tail, failed) = ship();
    tail.assert_no_panic();
    assert_full_lsn_store(&failed, &lsn, 2000);

    fs::remove_file(filler).unwrap();
    let (tail, shipped) = ship();
    tail.assert_success();
    shipped.assert_success();
    assert_eq!(stored_lsn(&lsn), 4000);
    let topic = format!("{prefix}.default");
    let got: BTreeSet<String> = common::kafka::read_topic(&brokers, &topic)
        .iter()
        .map(|m| parse_record(m.payload.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(got, line_ids(&log));
}

/// How many times each id appears in the final files under `root` (a local archive or spool);
/// panics on a file left in progress.
fn archived_ids(root: &Path) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for category in fs::read_dir(root).unwrap().flatten() {
        if !category.file_type().unwrap().is_dir() {
            continue;
        }
        for file in fs::read_dir(category.path()).unwrap().flatten() {
            let name = file.file_name().into_string().unwrap();
            match Entry::parse(&name) {
                Some(Entry::Final(_)) => {
                    for record in records_of(&fs::read(file.path()).unwrap()) {
                        *ids.entry(record.id).or_insert(0) += 1;
                    }
                }
                _ => panic!("not a final archive file: {}", file.path().display()),
            }
        }
    }
    ids
}

#[test]
fn a_full_spool_stops_ls_roll_and_the_restart_loses_nothing() {
    let (Some(archive), Some(spool)) = (Tmpfs::mount("4m"), Tmpfs::mount("4m")) else {
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let log = scratch.path().join("app.log");
    let lsn = scratch.path().join("lsn");
    let alerts = scratch.path().join("alerts.jsonl");
    append_lines(&log, 0, 12_000); // 1.2 MB
    let roll = || {
        pipe(
            tail_downstream(&lsn, &log),
            tool(
                "ls-roll",
                &[
                    "--out",
                    s(archive.path()),
                    "--spool",
                    s(spool.path()),
                    "--lsn-dir",
                    s(&lsn),
                    "--alerts",
                    s(&alerts),
                ],
            ),
        )
    };

    // The archive disk is full from the start, the spool's has 256 KiB left.
    let archive_filler = archive.fill();
    let spool_filler = spool.fill_leaving(256 << 10);
    let (tail, failed) = roll();
    tail.assert_no_panic();
    failed.assert_error(&[
        &format!("file://{}", spool.path().display()),
        "No space left on device",
        "free space",
    ]);
    let alert = fs::read_to_string(&alerts).unwrap();
    assert!(
        alert.contains("No space left on device") && alert.contains("spooling to"),
        "{alert}"
    );
    let accepted = stored_lsn(&lsn);

    fs::remove_file(archive_filler).unwrap();
    fs::remove_file(spool_filler).unwrap();
    let (tail, rolled) = roll();
    tail.assert_success();
    rolled.assert_success();
    assert_eq!(stored_lsn(&lsn), 12_000);
    assert!(accepted <= 12_000);
    output(tool(
        "ls-recover",
        &[
            "spool",
            "--spool",
            s(spool.path()),
            "--to",
            s(archive.path()),
        ],
    ))
    .assert_success();

    assert!(
        archived_ids(spool.path()).is_empty(),
        "the spool is imported"
    );
    let ids = archived_ids(archive.path());
    let twice: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "archived twice: {:?}",
        &twice[..twice.len().min(3)]
    );
    assert_eq!(ids.keys().cloned().collect::<BTreeSet<_>>(), line_ids(&log));
}

/// Record lines every stage takes, ids `good-000`...
fn good(i: usize) -> Vec<u8> {
    format!(
        "{{\"timestamp\":\"2026-11-22T10:00:00.000Z\",\"log_level\":\"INFO\",\"message\":\"good {i}\",\"source\":\"web-1\",\"category\":\"good\",\"id\":\"good-{i:03}\"}}"
    )
    .into_bytes()
}

/// Category names that must never become a path or a topic name.
fn hostile_categories() -> Vec<String> {
    [
        "../../etc",
        "..",
        ".",
        "a/b",
        "/abs",
        "",
        "Error",
        "a b",
        "caf\u{e9}",
        "x\u{0}y",
    ]
    .iter()
    .map(|c| c.to_string())
    .chain(["x".repeat(65)])
    .collect()
}

/// Lines that are not records: each stage must skip and count every one.
fn bad_lines() -> Vec<Vec<u8>> {
    let with = |fields: &str| {
        format!(
            "{{\"timestamp\":\"2026-11-22T10:00:00Z\",\"log_level\":\"INFO\",\"message\":\"m\",\"source\":\"s\"{fields}}}"
        )
        .into_bytes()
    };
    let mut lines: Vec<Vec<u8>> = vec![
        b"not json at all".to_vec(),
        b"{\"timestamp\":\"2026-11-22T10:00:00Z\",\"log_level\":\"INFO\"".to_vec(),
        b"[1,2,3]".to_vec(),
        b"\"a string\"".to_vec(),
        br#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":"no source"}"#.to_vec(),
        br#"{"log_level":"INFO","message":"no time","source":"s"}"#.to_vec(),
        br#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":7,"source":"s"}"#.to_vec(),
        br#"{"timestamp":1763805600,"log_level":"INFO","message":"m","source":"s"}"#.to_vec(),
        br#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"LOUD","message":"m","source":"s"}"#.to_vec(),
        br#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"INFO","message":"m","source":["s"]}"#.to_vec(),
        b"{\"timestamp\":\"2026-11-22T10:00:00Z\",\"log_level\":\"INFO\",\"message\":\"\xff\xfe\",\"source\":\"s\"}".to_vec(),
        b"{\"timestamp\":\"2026-11-22T10:00:00Z\",\"log_level\":\"INFO\",\"message\":\"a\0b\",\"source\":\"s\"}".to_vec(),
        b"\0\0\0\0\x7fELF\x02\x01".to_vec(),
        // A record over the 8 MiB line limit.
        with(&format!(",\"blob\":\"{}\"", "h".repeat(9 << 20))),
    ];
    for category in hostile_categories() {
        lines.push(with(&format!(",\"category\":{}", Value::from(category))));
    }
    lines
}

/// Good records with every bad line between two of them; the ids of the good ones.
fn hostile_stream() -> (Vec<u8>, Vec<String>, usize) {
    let bad = bad_lines();
    let mut input = Vec::new();
    let mut ids = Vec::new();
    for i in 0..=bad.len() {
        input.extend(good(i));
        input.push(b'\n');
        ids.push(format!("good-{i:03}"));
        if let Some(line) = bad.get(i) {
            input.extend(line);
            input.push(b'\n');
        }
    }
    (input, ids, bad.len())
}

/// Checks that stderr reports the bad lines one by one (the first ten) and their total.
#[track_caller]
fn assert_bad_lines_reported(run: &Run, summary: &str) {
    run.assert_success();
    assert!(
        run.stderr
            .contains("skipped input line 2: not a JSON record"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(summary),
        "no {summary:?} in {}",
        run.stderr
    );
}

#[test]
fn ls_roll_skips_and_counts_bad_records_and_never_writes_outside_its_root() {
    let base = tempfile::tempdir().unwrap();
    let root = base.path().join("a/b/root");
    let (input, ids, bad) = hostile_stream();
    let run = run_with_input(tool("ls-roll", &["--out", s(&root)]), input);
    assert_bad_lines_reported(
        &run,
        &format!("skipped {bad} input lines that were not records"),
    );
    let archived = archived_ids(&root);
    assert_eq!(archived.keys().cloned().collect::<Vec<_>>(), ids);
    assert!(archived.values().all(|n| *n == 1), "{archived:?}");
    // Nothing but the archive's own category folder and lock exist anywhere under the base.
    let mut found = Vec::new();
    let mut dirs = vec![base.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).unwrap().flatten() {
            let path = entry.path();
            let relative = path
                .strip_prefix(base.path())
                .unwrap()
                .display()
                .to_string();
            if entry.file_type().unwrap().is_dir() {
                dirs.push(path);
            }
            found.push(relative);
        }
    }
    found.sort();
    let good_files: Vec<_> = found
        .iter()
        .filter(|p| p.starts_with("a/b/root/good/"))
        .collect();
    assert_eq!(good_files.len(), 1, "{found:?}");
    assert_eq!(
        found.len(),
        6,
        "only a, a/b, a/b/root, its lock, good/ and one file: {found:?}"
    );
    // Nor can a category given on the command line be a path.
    for flag in [
        vec!["--category", "../../etc"],
        vec!["--category-rule", "../x:level>=ERROR"],
    ] {
        let mut args = vec!["--once"];
        args.extend(flag);
        args.push(s(base.path()));
        let run = output(tool("ls-tail", &args));
        assert_eq!(run.status.code(), Some(2), "{}", run.stderr);
        assert!(run.stderr.contains("invalid category"), "{}", run.stderr);
    }
}

#[test]
fn ls_watch_skips_and_counts_bad_records_and_passes_the_good_ones_on() {
    let dir = tempfile::tempdir().unwrap();
    let alerts = dir.path().join("alerts.jsonl");
    let (input, ids, bad) = hostile_stream();
    let run = run_with_input(tool("ls-watch", &["--tee", "--alerts", s(&alerts)]), input);
    assert_bad_lines_reported(&run, &format!("skipped {bad} bad input lines in all"));
    assert_eq!(run.ids(), ids);
}

#[test]
fn ls_ship_skips_and_counts_bad_records_and_makes_no_topic_of_a_bad_category() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let prefix = common::unique_name("faults-bad");
    let template = format!("{prefix}.{{category}}");
    let (input, ids, bad) = hostile_stream();
    let run = run_with_input(
        tool(
            "ls-ship",
            &["--brokers", &brokers, "--topic-template", &template],
        ),
        input,
    );
    assert_bad_lines_reported(
        &run,
        &format!("skipped {bad} input lines that were not records"),
    );
    let topic = format!("{prefix}.good");
    let got: Vec<String> = common::kafka::read_topic(&brokers, &topic)
        .iter()
        .map(|m| parse_record(m.payload.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(got, ids);
    assert_eq!(common::kafka::topics_named(&brokers, &prefix), [topic]);
}

#[test]
fn a_record_kafka_refuses_goes_to_the_dead_letter_file_and_the_rest_is_shipped() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let dead = dir.path().join("dead.jsonl");
    let prefix = common::unique_name("faults-big");
    let template = format!("{prefix}.{{category}}");
    // Within the 8 MiB line limit, above Kafka's 1 MB message limit.
    let big = serde_json::json!({
        "timestamp": "2026-11-22T10:00:00Z", "log_level": "INFO", "message": "b".repeat(2 << 20),
        "source": "web-1", "category": "good", "id": "too-big",
    });
    let mut input = Vec::new();
    for i in 0..6 {
        if i == 3 {
            input.extend(big.to_string().into_bytes());
            input.push(b'\n');
        }
        input.extend(good(i));
        input.push(b'\n');
    }
    let run = run_with_input(
        tool(
            "ls-ship",
            &[
                "--brokers",
                &brokers,
                "--topic-template",
                &template,
                "--dead-letter",
                s(&dead),
            ],
        ),
        input,
    );
    assert_eq!(run.status.code(), Some(1), "{}", run.stderr);
    run.assert_no_panic();
    assert!(
        run.stderr
            .contains("1 of 7 records could not be delivered (1 written to the dead-letter file)"),
        "{}",
        run.stderr
    );
    let refused: Vec<String> = records_of(&fs::read(&dead).unwrap())
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(refused, ["too-big"]);
    let got: Vec<String> = common::kafka::read_topic(&brokers, &format!("{prefix}.good"))
        .iter()
        .map(|m| parse_record(m.payload.as_bytes()).unwrap().id)
        .collect();
    assert_eq!(
        got,
        (0..6).map(|i| format!("good-{i:03}")).collect::<Vec<_>>()
    );
}

#[test]
fn ls_store_skips_and_counts_bad_records_and_stores_the_good_ones() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = common::unique_name("faults-bad");
    let (input, ids, bad) = hostile_stream();
    let run = run_with_input(tool("ls-store", &["--mongo", &uri, "--db", &db]), input);
    assert_bad_lines_reported(
        &run,
        &format!("skipped {bad} input lines or messages that were not records"),
    );
    let query = output(tool(
        "ls-store",
        &[
            "query",
            "--mongo",
            &uri,
            "--db",
            &db,
            "--since",
            "2000-01-01T00:00:00Z",
        ],
    ));
    query.assert_success();
    let mut got = query.ids();
    got.sort();
    assert_eq!(got, ids);
}

/// Deterministic bytes that look like a binary file.
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

#[test]
fn ls_tail_reads_binary_broken_and_huge_lines_and_every_record_goes_downstream() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    fs::create_dir(&logs).unwrap();
    let mut mixed = Vec::new();
    mixed.extend(b"2026-11-22T10:00:00Z INFO before\n");
    mixed.extend(b"2026-11-22T10:00:01Z ERROR bad utf8 \xff\xfe\xc3\x28 end\n");
    mixed.extend(b"2026-11-22T10:00:02Z WARN nul \0\0 bytes\n");
    mixed.extend(b"2026-11-22T10:00:03Z INFO huge ");
    mixed.extend(vec![b'y'; 10 << 20]);
    mixed.extend(b"\n2026-11-22T10:00:04Z INFO after 1\n2026-11-22T10:00:05Z INFO after 2\n");
    fs::write(logs.join("mixed.log"), &mixed).unwrap();
    let mut binary = noise(256 << 10);
    binary.push(b'\n');
    fs::write(logs.join("blob.bin"), &binary).unwrap();

    let run = output(tool("ls-tail", &["--once", "--from-start", s(&logs)]));
    run.assert_success();
    let records = records_of(&run.stdout);
    let of = |file: &str| -> Vec<&Record> {
        records
            .iter()
            .filter(|r| r.origin.as_ref().unwrap().file.ends_with(file))
            .collect()
    };
    let mixed = of("mixed.log");
    let messages: Vec<&str> = mixed.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages.len(), 6);
    assert_eq!(messages[0], "before");
    assert_eq!(messages[1], "bad utf8 \u{fffd}\u{fffd}\u{fffd}( end");
    assert_eq!(messages[2], "nul \0\0 bytes");
    // The documented --max-line-bytes behaviour: the message is cut at 1 MiB, counted once.
    assert!(messages[3].starts_with("huge yyy"));
    assert!(messages[3].len() <= 1 << 20, "{}", messages[3].len());
    assert!(messages[3].len() > (1 << 20) - 64, "{}", messages[3].len());
    assert_eq!(&messages[4..], ["after 1", "after 2"]);
    let lsns: Vec<u64> = mixed
        .iter()
        .map(|r| r.origin.as_ref().unwrap().lsn)
        .collect();
    assert_eq!(lsns, [1, 2, 3, 4, 5, 6]);
    assert!(run.stderr.contains(", 1 long lines cut"), "{}", run.stderr);
    assert!(
        run.stderr
            .contains("mixed.log: 1 line(s) longer than 1048576 bytes"),
        "{}",
        run.stderr
    );
    // A binary file is read as lines like any other: one record per newline, nothing lost.
    let newlines = binary.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(of("blob.bin").len(), newlines);

    // Every record ls-tail wrote is taken by the next stage, the cut one included.
    let archive = dir.path().join("archive");
    let rolled = run_with_input(tool("ls-roll", &["--out", s(&archive)]), run.stdout.clone());
    rolled.assert_success();
    assert!(!rolled.stderr.contains("skipped"), "{}", rolled.stderr);
    let archived = archived_ids(&archive);
    let expected: BTreeMap<String, usize> = records.iter().map(|r| (r.id.clone(), 1)).collect();
    assert_eq!(archived, expected);
}

#[test]
fn ls_tail_cuts_a_huge_multi_line_event_like_a_long_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("trace.log");
    let mut text = b"2026-11-22T10:00:00Z ERROR boom\n".to_vec();
    // 12 MiB of lines each under the 1 MiB limit.
    for _ in 0..24 {
        text.extend(b" at frame ");
        text.extend(vec![b'z'; 512 << 10]);
        text.push(b'\n');
    }
    text.extend(b"2026-11-22T10:00:01Z INFO after\n");
    fs::write(&log, &text).unwrap();
    let run = output(tool(
        "ls-tail",
        &["--once", "--from-start", "--multiline", s(&log)],
    ));
    run.assert_success();
    let records = records_of(&run.stdout);
    let messages: Vec<&str> = records.iter().map(|r| r.message.as_str()).collect();
    assert_eq!(messages.len(), 2);
    assert!(messages[0].starts_with("boom\n at frame zzz"));
    assert!(messages[0].len() <= 1 << 20, "{}", messages[0].len());
    assert_eq!(messages[1], "after");
    assert_eq!(records[0].origin.as_ref().unwrap().lsn, 25);
    assert!(
        run.stderr.contains("event ending at line 25 is longer"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains(", 1 long lines cut"), "{}", run.stderr);
    let archive = dir.path().join("archive");
    let rolled = run_with_input(tool("ls-roll", &["--out", s(&archive)]), run.stdout.clone());
    rolled.assert_success();
    let expected: BTreeMap<String, usize> = records.iter().map(|r| (r.id.clone(), 1)).collect();
    assert_eq!(archived_ids(&archive), expected);
}

#[test]
fn alert_exec_gets_hostile_text_as_data_and_no_shell_runs_it() {
    let dir = tempfile::tempdir().unwrap();
    let received = dir.path().join("received.jsonl");
    let d = dir.path().display();
    let hostile = |tag: &str| {
        vec![
            format!("$(touch {d}/{tag}-subst)"),
            format!("`touch {d}/{tag}-tick`"),
            format!("x; touch {d}/{tag}-semi"),
            format!("x && touch {d}/{tag}-and || touch {d}/{tag}-or | touch {d}/{tag}-pipe"),
            format!("'; touch {d}/{tag}-q1; echo '"),
            format!("\"; touch {d}/{tag}-q2; echo \""),
            format!("a\ntouch {d}/{tag}-nl\n"),
            format!("-rf --help > {d}/{tag}-redirect \\"),
        ]
    };
    let (ids, sources, messages) = (hostile("id"), hostile("source"), hostile("message"));
    let mut input = Vec::new();
    for i in 0..ids.len() {
        let record = serde_json::json!({
            "timestamp": "2026-11-22T10:00:00Z",
            "log_level": "CRITICAL",
            "message": messages[i],
            "source": sources[i],
            "category": "good",
            "id": ids[i],
        });
        input.extend(record.to_string().into_bytes());
        input.push(b'\n');
    }
    let run = run_with_input(
        tool(
            "ls-watch",
            &[
                "--threshold",
                "CRITICAL+ >0 in 1m by source",
                "--exec-concurrency",
                "1",
                "--exec",
                "tee",
                "-a",
                s(&received),
            ],
        ),
        input,
    );
    run.assert_success();
    let left: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, ["received.jsonl"], "a command ran");
    // Each alert reached the command as JSON data, the hostile text intact in it.
    let alerts: Vec<Value> = fs::read_to_string(&received)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut samples = BTreeSet::new();
    let mut groups = BTreeSet::new();
    for alert in &alerts {
        for id in alert["samples"].as_array().unwrap() {
            samples.insert(id.as_str().unwrap().to_string());
        }
        if let Some(source) = alert["group"]["source"].as_str() {
            groups.insert(source.to_string());
        }
    }
    assert_eq!(samples, ids.into_iter().collect(), "{alerts:?}");
    assert_eq!(groups, sources.into_iter().collect(), "{alerts:?}");
}
