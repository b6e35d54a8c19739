//! ls-roll end to end: the binary against a local directory (kill -9 and restart, from stdin and
//! from a Kafka consumer group on the real broker) and against the real HDFS from
//! `scripts/services` (writing and rolling; an outage of a private instance).

mod common;

use common::private::{self, KillOnDrop, PrivateService};

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use logsphere::archive::naming::Entry;
use logsphere::archive::recovery::complete_lines;
use logsphere::archive::{self, Target};
use logsphere::record::RecordReader;

fn ls_roll(args: &[&str]) -> KillOnDrop {
    ls_roll_with_env(args, &[])
}

fn ls_roll_with_env(args: &[&str], env: &[(&str, &Path)]) -> KillOnDrop {
    KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ls-roll"))
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ls-roll"),
    )
}

/// The JSON line of record `i`, in category `a` or `b`, read from line `i + 1` of file `f1`.
fn line(i: u64) -> String {
    format!(
        "{{\"timestamp\":\"2026-11-22T10:00:00.000Z\",\"log_level\":\"INFO\",\"message\":\"event {i} {}\",\"source\":\"h\",\"category\":\"{}\",\"id\":\"id-{i:06}\",\"origin\":{{\"file\":\"/log\",\"fid\":\"f1\",\"lsn\":{},\"offset\":{}}}}}\n",
        "x".repeat(200),
        if i.is_multiple_of(2) { "a" } else { "b" },
        i + 1,
        (i + 1) * 300,
    )
}

/// How many times each id appears in the final files of `target`; panics on an in-progress
/// file when `no_in_progress` is set.
fn final_ids(target: &dyn Target, no_in_progress: bool) -> BTreeMap<String, usize> {
    let mut ids = BTreeMap::new();
    for category in target.list("").unwrap() {
        if logsphere::record::Category::new(&category).is_err() {
            continue;
        }
        for name in target.list(&category).unwrap() {
            match Entry::parse(&name) {
                Some(Entry::Final(f)) => {
                    let bytes = target.read(&format!("{category}/{name}")).unwrap();
                    let lines = complete_lines(&bytes, f.ext.ends_with(".gz"));
                    let mut reader = RecordReader::new(&lines[..]);
                    while let Some(r) = reader.next_record().unwrap() {
                        *ids.entry(r.unwrap().id).or_insert(0) += 1;
                    }
                }
                Some(_) if no_in_progress => panic!("in-progress file left: {category}/{name}"),
                _ => {}
            }
        }
    }
    ids
}

fn assert_exactly_once(ids: &BTreeMap<String, usize>, count: u64) {
    let dups: Vec<_> = ids.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        dups.is_empty(),
        "duplicated ids: {:?}",
        &dups[..dups.len().min(5)]
    );
    let missing: Vec<_> = (0..count)
        .map(|i| format!("id-{i:06}"))
        .filter(|id| !ids.contains_key(id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} ids missing, first {:?}",
        missing.len(),
        missing.first()
    );
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
    // Shown with a failure: where a slow run spent its time.
    eprintln!("waited {:.1?} for {what}", start.elapsed());
}

#[test]
fn kill_9_mid_file_and_restart_loses_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let out_arg = out.to_str().unwrap();
    let lsn_dir = dir.path().join("lsn");
    let args = [
        "--out",
        out_arg,
        "--sync-interval",
        "1s",
        "--max-size",
        "400KiB",
        "--lsn-dir",
        lsn_dir.to_str().unwrap(),
    ];
    let mut child = ls_roll(&args);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..3000 {
        stdin.write_all(line(i).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    // One sync interval passes, then more records come that the kill catches unsynced.
    std::thread::sleep(Duration::from_millis(1300));
    for i in 3000..6000 {
        stdin.write_all(line(i).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    child.kill().unwrap();
    child.wait().unwrap();
    let local = archive::open_target(out_arg).unwrap();
    let has_stray = local
        .list("a")
        .unwrap()
        .iter()
        .chain(local.list("b").unwrap().iter())
        .any(|n| n.starts_with('_'));
    assert!(has_stray, "the kill left files in progress");
    // The input resumes after the last line the LSN store says is synced; what the killed run
    // wrote past it (into the file in progress) dedupes by id against the recovered file.
    let resume = logsphere::lsn::Snapshot::read(&lsn_dir)
        .unwrap()
        .get("f1")
        .map_or(0, |p| p.lsn);
    assert!(resume > 0 && resume < 6000, "synced up to line {resume}");
    let mut child = ls_roll(&args);
    let mut stdin = child.stdin.take().unwrap();
    for i in resume..8000 {
        stdin.write_all(line(i).as_bytes()).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    assert_exactly_once(&final_ids(local.as_ref(), true), 8000);
}

#[test]
fn a_second_ls_roll_on_the_same_root_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut first = ls_roll(&["--out", out]);
    std::thread::sleep(Duration::from_millis(500));
    let second = Command::new(env!("CARGO_BIN_EXE_ls-roll"))
        .args(["--out", out])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&second.stderr).contains("another ls-roll"));
    drop(first.stdin.take());
    assert!(first.wait().unwrap().success());
}

#[test]
fn writes_and_rolls_in_hdfs() {
    let Some(uri) = common::hdfs_uri() else {
        return;
    };
    let root = format!("{uri}/{}", common::unique_name("roll"));
    let mut child = ls_roll(&["--out", &root, "--max-size", "100KiB", "--gzip"]);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..4000 {
        stdin.write_all(line(i).as_bytes()).unwrap();
    }
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let hdfs = archive::open_target(&root).unwrap();
    let mut names = hdfs.list("a").unwrap();
    names.sort();
    assert!(names.len() >= 2, "{names:?}");
    assert!(names.contains(&"2026-11-22.0.jsonl.gz".to_string()));
    assert!(names.contains(&"2026-11-22.1.jsonl.gz".to_string()));
    assert_exactly_once(&final_ids(hdfs.as_ref(), true), 4000);
}

/// Writes records `line(0)`, `line(1)`... to a child's stdin from a thread of its own, a few
/// every 50 ms, so that an ls-roll that blocks cannot block the test: the test waits for what it
/// expects with a time limit, and a kill of the child ends the thread.
struct Feeder {
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Feeder {
    fn start(mut stdin: std::process::ChildStdin) -> Feeder {
        let (sent, stop) = (
            Arc::new(AtomicU64::new(0)),
            Arc::new(AtomicBool::new(false)),
        );
        let (counter, stopped) = (sent.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !stopped.load(Ordering::SeqCst) {
                let next = counter.load(Ordering::SeqCst);
                let batch: String = (next..next + 10).map(line).collect();
                if stdin.write_all(batch.as_bytes()).is_err() || stdin.flush().is_err() {
                    return;
                }
                counter.store(next + 10, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Feeder { sent, stop, thread }
    }

    fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Stops, closes the child's stdin, and returns how many records were sent.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().unwrap();
        self.sent.load(Ordering::SeqCst)
    }
}

#[test]
fn hdfs_outage_spools_with_an_alert_then_resumes_and_import_leaves_every_record_once() {
    outage_spools_then_resumes(PrivateService::down, PrivateService::up);
}

#[test]
fn hdfs_that_hangs_is_an_outage_once_a_call_misses_its_deadline() {
    // Frozen, HDFS keeps its connections open and answers nothing (a hung server, a network
    // partition): no error ever comes, only the deadline of each call notices.
    outage_spools_then_resumes(PrivateService::pause, PrivateService::resume);
}

/// ls-roll writes to a private HDFS, which `stop` takes away and `start` gives back: records go
/// to the spool with an alert meanwhile, then to HDFS again; after the import every record is
/// there exactly once.
fn outage_spools_then_resumes(stop: fn(&PrivateService), start: fn(&PrivateService)) {
    // The shared HDFS being up says the machine can run HDFS; this test starts its own.
    if common::hdfs_uri().is_none() {
        return;
    }
    let server = PrivateService::start("hdfs");
    let uri = server.env("LOGSPHERE_HDFS_URI");
    let dir = tempfile::tempdir().unwrap();
    let root = format!("{uri}/archive");
    let spool = dir.path().join("spool");
    let alerts = dir.path().join("alerts.jsonl");
    // Notice the outage within seconds, not after the HDFS client's minutes of retries; the
    // deadline of each call also covers a write pipeline that hangs when the DataNode stops.
    let conf = private::impatient_hadoop_conf(dir.path());
    let mut child = ls_roll_with_env(
        &[
            "--out",
            &root,
            "--spool",
            spool.to_str().unwrap(),
            "--alerts",
            alerts.to_str().unwrap(),
            "--probe-every",
            "1s",
            "--sync-interval",
            "200ms",
            "--hdfs-timeout",
            "5s",
            // The probes and salvages in the output say why, should it stay on the spool.
            "-v",
        ],
        &[("HADOOP_CONF_DIR", &conf)],
    );
    let feeder = Feeder::start(child.stdin.take().unwrap());
    let alerts_say = |what: &str| std::fs::read_to_string(&alerts).is_ok_and(|t| t.contains(what));
    wait_for("records before the outage", Duration::from_secs(30), || {
        feeder.sent() >= 300
    });
    std::thread::sleep(Duration::from_millis(500));
    stop(&server);
    wait_for("the outage alert", Duration::from_secs(120), || {
        alerts_say("\"alert\":\"hdfs_unavailable\",\"severity\":\"critical\"")
    });
    let spooling = feeder.sent();
    wait_for("records while spooling", Duration::from_secs(30), || {
        feeder.sent() >= spooling + 300
    });
    // An import meanwhile fails within its own --hdfs-timeout (well before the default 30 s of
    // a call that never answers) and leaves the spool as it was. (ls-roll's spool has no
    // finished file yet: this one is another spool's.)
    let other_spool = dir.path().join("other-spool");
    let spooled_file = other_spool.join("z/2026-11-22.0.jsonl");
    std::fs::create_dir_all(spooled_file.parent().unwrap()).unwrap();
    std::fs::write(&spooled_file, line(0)).unwrap();
    let mut import = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ls-recover"))
            .args([
                "spool",
                "--spool",
                other_spool.to_str().unwrap(),
                "--to",
                &root,
            ])
            .args(["--hdfs-timeout", "2s"])
            .env("HADOOP_CONF_DIR", &conf)
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ls-recover"),
    );
    wait_for(
        "ls-recover spool to give up",
        Duration::from_secs(28),
        || import.try_wait().unwrap().is_some(),
    );
    assert_eq!(import.wait().unwrap().code(), Some(1));
    assert_eq!(std::fs::read_to_string(&spooled_file).unwrap(), line(0));
    start(&server);
    wait_for(
        "ls-roll to write to HDFS again",
        Duration::from_secs(180),
        || alerts_say("hdfs_recovered"),
    );
    let back = feeder.sent();
    wait_for("records after the outage", Duration::from_secs(30), || {
        feeder.sent() >= back + 300
    });
    let total = feeder.finish();
    wait_for("ls-roll to exit", Duration::from_secs(60), || {
        child.try_wait().unwrap().is_some()
    });
    assert!(child.wait().unwrap().success());
    let hdfs = archive::open_target(&root).unwrap();
    let spooled = archive::open_target(spool.to_str().unwrap()).unwrap();
    assert!(
        !final_ids(spooled.as_ref(), true).is_empty(),
        "records went to the spool"
    );
    archive::import(spooled.as_ref(), hdfs.as_ref()).unwrap();
    assert_exactly_once(&final_ids(hdfs.as_ref(), true), total);
}

#[test]
fn sigterm_drains_closes_and_names_every_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut child = ls_roll(&["--out", out]);
    let mut stdin = child.stdin.take().unwrap();
    for i in 0..1000 {
        stdin.write_all(line(i).as_bytes()).unwrap();
    }
    stdin.flush().unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // stdin stays open: the signal alone ends the run.
    assert!(child.wait().unwrap().success());
    drop(stdin);
    let local = archive::open_target(out).unwrap();
    assert_exactly_once(&final_ids(local.as_ref(), true), 1000);
}

/// Produces the records `ids` into `topic`, round-robin over its two partitions, acknowledged.
fn produce(brokers: &str, topic: &str, ids: std::ops::Range<u64>) {
    let lines: Vec<String> = ids.map(|i| line(i).trim_end().to_string()).collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(common::kafka::produce(brokers, topic, 2, &lines));
}

fn create_topic(brokers: &str, topic: &str) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(common::kafka::create_topic(brokers, topic, 2));
}

#[test]
fn kafka_group_kill_9_and_restart_archives_every_record_once() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let topic = common::unique_name("roll");
    let group = common::unique_name("roll-group");
    let instance = format!("group.instance.id={group}");
    create_topic(&brokers, &topic);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let mut args = vec![
        "--out",
        out,
        "--brokers",
        &brokers,
        "--topic",
        &topic,
        "--group",
        &group,
        "--sync-interval",
        "1s",
        "--max-size",
        "400KiB",
        // Static membership: the restart takes the killed member's place at once instead of
        // waiting for its session to expire.
        "-X",
        &instance,
    ];
    let mut child = ls_roll(&args);
    produce(&brokers, &topic, 0..3000);
    let local = archive::open_target(out).unwrap();
    // Final files prove records were synced, so their offsets were committed.
    wait_for("a first final file", Duration::from_secs(20), || {
        !final_ids(local.as_ref(), false).is_empty()
    });
    std::thread::sleep(Duration::from_millis(1300));
    produce(&brokers, &topic, 3000..6000);
    child.kill().unwrap();
    child.wait().unwrap();
    // The restart reads from the committed offsets; records re-delivered past them dedupe by id
    // against the recovered files in progress. Without committed offsets the records of the
    // final files would come again and be archived twice.
    produce(&brokers, &topic, 6000..8000);
    args.push("--exit-at-end");
    let mut child = ls_roll(&args);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    assert_exactly_once(&final_ids(local.as_ref(), true), 8000);
}
