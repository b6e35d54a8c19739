//! ls-recover against stores written by ls-tail, archives written by ls-roll, and spools imported
//! into local directories and the real HDFS from `scripts/services`.

mod common;

use common::private::{self, PrivateService};

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

const LS_RECOVER: &str = env!("CARGO_BIN_EXE_ls-recover");
const LS_TAIL: &str = env!("CARGO_BIN_EXE_ls-tail");
const LS_ROLL: &str = env!("CARGO_BIN_EXE_ls-roll");

fn run(bin: &str, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Fails the test with the tool's stderr when it did not exit 0.
fn assert_ok(output: &Output) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn records(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A record stream of `n` records over two categories and two days.
fn input_records(n: usize) -> String {
    (0..n)
        .map(|i| {
            let (category, day) = if i % 3 == 0 { ("error", 21) } else { ("access", 22) };
            let level = if i % 3 == 0 { "ERROR" } else { "INFO" };
            format!(
                "{{\"timestamp\":\"2026-11-{day}T{:02}:{:02}:00.000Z\",\"log_level\":\"{level}\",\"message\":\"event {i}\",\"source\":\"web-{}\",\"category\":\"{category}\",\"id\":\"id-{i}\"}}\n",
                (n - i) / 60 % 24,
                (n - i) % 60,
                i % 2
            )
        })
        .collect()
}

fn by_id(values: Vec<Value>) -> BTreeMap<String, Value> {
    values
        .into_iter()
        .map(|v| (v["id"].as_str().unwrap().to_string(), v))
        .collect()
}

#[test]
fn lsn_show_and_verify_a_store_written_by_ls_tail() {
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let lsn = dir.path().join("lsn");
    fs::create_dir(&logs).unwrap();
    fs::write(
        logs.join("a.log"),
        "2026-11-22 10:00:00,000 INFO one\n2026-11-22 10:00:01,000 ERROR two\n",
    )
    .unwrap();
    fs::write(logs.join("b.log"), "2026-11-22 10:00:00,000 INFO b1\n").unwrap();
    let tail = run(
        LS_TAIL,
        &[
            "--once",
            "--from-start",
            "--lsn-dir",
            lsn.to_str().unwrap(),
            logs.to_str().unwrap(),
        ],
        b"",
    );
    assert_ok(&tail);
    assert_eq!(stdout(&tail).lines().count(), 3);

    let show = run(
        LS_RECOVER,
        &["lsn", "show", "--json", "--lsn-dir", lsn.to_str().unwrap()],
        b"",
    );
    assert!(show.status.success());
    let positions = records(&stdout(&show));
    assert_eq!(positions.len(), 2);
    let lsns: Vec<u64> = positions
        .iter()
        .map(|p| p["lsn"].as_u64().unwrap())
        .collect();
    assert_eq!(lsns, [2, 1]);

    let verify = run(
        LS_RECOVER,
        &["lsn", "verify", "--lsn-dir", lsn.to_str().unwrap()],
        b"",
    );
    assert!(verify.status.success(), "{}", stdout(&verify));
    assert_eq!(
        stdout(&verify).matches("ok ").count(),
        2,
        "{}",
        stdout(&verify)
    );

    // A truncated log file and a corrupted buffer tail.
    fs::write(logs.join("a.log"), "x\n").unwrap();
    let buffer = lsn.join("lsn.buffer");
    let mut bytes = fs::read(&buffer).unwrap();
    bytes.extend_from_slice(b"0badc0de {\"op\":\"advance\",\"seq\":99");
    fs::write(&buffer, &bytes).unwrap();
    let verify = run(
        LS_RECOVER,
        &[
            "lsn",
            "verify",
            "--json",
            "--lsn-dir",
            lsn.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!(verify.status.code(), Some(1));
    let verdicts: Vec<String> = records(&stdout(&verify))
        .iter()
        .map(|v| v["verdict"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(verdicts, ["truncated", "ok"]);

    // Compaction drops the torn entry; set moves a position back; forget drops one.
    let compact = run(
        LS_RECOVER,
        &["lsn", "compact", "--lsn-dir", lsn.to_str().unwrap()],
        b"",
    );
    assert_ok(&compact);
    let b_fid = positions[1]["fid"].as_str().unwrap();
    let set = run(
        LS_RECOVER,
        &[
            "lsn",
            "set",
            b_fid,
            "--lsn",
            "0",
            "--lsn-dir",
            lsn.to_str().unwrap(),
        ],
        b"",
    );
    assert_ok(&set);
    let a_fid = positions[0]["fid"].as_str().unwrap();
    let forget = run(
        LS_RECOVER,
        &["lsn", "forget", a_fid, "--lsn-dir", lsn.to_str().unwrap()],
        b"",
    );
    assert!(forget.status.success());
    let show = records(&stdout(&run(
        LS_RECOVER,
        &["lsn", "show", "--json", "--lsn-dir", lsn.to_str().unwrap()],
        b"",
    )));
    assert_eq!(show.len(), 1);
    assert_eq!(
        (
            show[0]["fid"].as_str().unwrap(),
            show[0]["lsn"].as_u64().unwrap()
        ),
        (b_fid, 0)
    );

    // ls-tail resumes from the changed store: b.log is read again from its start.
    let tail = run(
        LS_TAIL,
        &[
            "--once",
            "--lsn-dir",
            lsn.to_str().unwrap(),
            logs.join("b.log").to_str().unwrap(),
        ],
        b"",
    );
    assert_ok(&tail);
    assert_eq!(stdout(&tail).lines().count(), 1);
}

#[test]
fn changing_commands_refuse_while_another_writer_holds_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let _writer = logsphere::lsn::LsnStore::open(dir.path()).unwrap();
    let out = run(
        LS_RECOVER,
        &["lsn", "compact", "--lsn-dir", dir.path().to_str().unwrap()],
        b"",
    );
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("in use by another process"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    // Reading commands still work.
    let show = run(
        LS_RECOVER,
        &["lsn", "show", "--lsn-dir", dir.path().to_str().unwrap()],
        b"",
    );
    assert!(show.status.success());
}

#[test]
fn replay_round_trips_what_ls_roll_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let input = input_records(300);
    for gzip in [false, true] {
        let out = archive.join(if gzip { "gz" } else { "plain" });
        let mut args = vec!["--out", out.to_str().unwrap(), "--max-size", "4KiB"];
        if gzip {
            args.push("--gzip");
        }
        let roll = run(LS_ROLL, &args, input.as_bytes());
        assert_ok(&roll);
        let replay = run(LS_RECOVER, &["replay", out.to_str().unwrap()], b"");
        assert_ok(&replay);
        let replayed = records(&stdout(&replay));
        assert_eq!(replayed.len(), 300);
        assert_eq!(by_id(replayed), by_id(records(&input)), "gzip: {gzip}");

        // In time order within each file.
        let error_day = out.join("error");
        let files: Vec<_> = fs::read_dir(&error_day)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(files.len() > 1, "the size trigger rolled files");
        for file in files {
            let replay = run(LS_RECOVER, &["replay", file.to_str().unwrap()], b"");
            let times: Vec<String> = records(&stdout(&replay))
                .iter()
                .map(|r| r["timestamp"].as_str().unwrap().to_string())
                .collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        }
    }

    // Filters and a wildcard source.
    let plain = archive.join("plain");
    let pattern = format!("{}/error/2026-11-2*", plain.display());
    let replay = run(
        LS_RECOVER,
        &[
            "replay",
            &pattern,
            "--level",
            "ERROR",
            "--source",
            "web-0",
            "--grep",
            "event [0-9]*0$",
        ],
        b"",
    );
    assert_ok(&replay);
    let got: Vec<String> = records(&stdout(&replay))
        .iter()
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = (0..300)
        .filter(|i| i % 3 == 0 && i % 2 == 0 && i % 10 == 0)
        .map(|i| format!("event {i}"))
        .collect();
    let mut got_sorted = got.clone();
    got_sorted.sort();
    let mut expected_sorted = expected;
    expected_sorted.sort();
    assert_eq!(got_sorted, expected_sorted);

    let missing = run(
        LS_RECOVER,
        &["replay", dir.path().join("nope").to_str().unwrap()],
        b"",
    );
    assert_eq!(missing.status.code(), Some(1));
}

/// Archives `input_records(300)` with ls-roll into `dir/archive`.
fn archive_records(dir: &Path) -> (std::path::PathBuf, String) {
    let archive = dir.join("archive");
    let input = input_records(300);
    assert_ok(&run(
        LS_ROLL,
        &["--out", archive.to_str().unwrap(), "--max-size", "4KiB"],
        input.as_bytes(),
    ));
    (archive, input)
}

#[test]
fn replay_to_kafka_publishes_exactly_the_period_once_as_ls_ship_does() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (archive, input) = archive_records(dir.path());
    let prefix = common::unique_name("replay");
    let (since, until) = ("2026-11-21T03:00:00.000Z", "2026-11-22T02:00:00.000Z");
    let replay = run(
        LS_RECOVER,
        &[
            "replay",
            archive.to_str().unwrap(),
            "--since",
            since,
            "--until",
            until,
            "--to-kafka",
            "--brokers",
            &brokers,
            "--topic-template",
            &format!("{prefix}.{{category}}"),
        ],
        b"",
    );
    assert_ok(&replay);
    assert!(
        stdout(&replay).is_empty(),
        "records went to Kafka, not stdout"
    );

    let expected: Vec<Value> = records(&input)
        .into_iter()
        .filter(|r| {
            let ts = r["timestamp"].as_str().unwrap();
            (since..until).contains(&ts)
        })
        .collect();
    let categories: Vec<&str> = expected
        .iter()
        .map(|r| r["category"].as_str().unwrap())
        .collect();
    assert!(
        categories.contains(&"error") && categories.contains(&"access"),
        "the period spans both categories"
    );
    let mut published = Vec::new();
    for category in ["error", "access"] {
        for message in common::kafka::read_topic(&brokers, &format!("{prefix}.{category}")) {
            let record: Value = serde_json::from_str(&message.payload).unwrap();
            assert_eq!(record["category"], category);
            assert_eq!(message.key.as_deref(), record["source"].as_str());
            assert_eq!(
                message.headers.get("id").map(String::as_str),
                record["id"].as_str()
            );
            published.push(record);
        }
    }
    assert_eq!(published.len(), expected.len(), "each record once");
    assert_eq!(by_id(published), by_id(expected));
}

#[test]
fn replay_to_kafka_exits_1_when_records_are_not_delivered() {
    let Some(brokers) = common::brokers() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let huge = format!(
        "{{\"timestamp\":\"2026-11-22T10:00:00.000Z\",\"log_level\":\"INFO\",\"message\":\"{}\",\"source\":\"web-0\",\"category\":\"access\",\"id\":\"huge\"}}\n",
        "m".repeat(50_000)
    );
    let input = input_records(10) + &huge;
    assert_ok(&run(
        LS_ROLL,
        &["--out", archive.to_str().unwrap()],
        input.as_bytes(),
    ));
    let prefix = common::unique_name("replay-refused");
    let replay = run(
        LS_RECOVER,
        &[
            "replay",
            archive.to_str().unwrap(),
            "--to-kafka",
            "--brokers",
            &brokers,
            "--topic-template",
            &format!("{prefix}.{{category}}"),
            "-X",
            "message.max.bytes=10000",
        ],
        b"",
    );
    assert_eq!(replay.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&replay.stderr);
    assert!(
        stderr.contains("1 of 11 replayed records could not be delivered to Kafka"),
        "{stderr}"
    );
}

/// The files in the category folders of a local archive or spool, relative path → content.
fn tree(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    for category in fs::read_dir(root).unwrap() {
        let category = category.unwrap().path();
        if !category.is_dir() {
            continue;
        }
        for file in fs::read_dir(&category).unwrap() {
            let file = file.unwrap().path();
            let rel = file
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            files.insert(rel, fs::read(&file).unwrap());
        }
    }
    files
}

/// `ls-recover spool FLAGS` from `spool` into `to` (a directory or an HDFS URI).
fn import_spool(spool: &Path, to: &str, flags: &[&str]) -> Output {
    let mut args = vec!["spool", "--spool", spool.to_str().unwrap(), "--to", to];
    args.extend(flags);
    run(LS_RECOVER, &args, b"")
}

fn make_spool(spool: &Path) -> BTreeMap<String, Vec<u8>> {
    let roll = run(
        LS_ROLL,
        &["--out", spool.to_str().unwrap(), "--max-size", "2KiB"],
        input_records(200).as_bytes(),
    );
    assert_ok(&roll);
    let files = tree(spool);
    assert!(files.len() > 4);
    files
}

#[test]
fn spool_import_is_verified_resumable_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let archive = dir.path().join("archive");
    let spooled = make_spool(&spool);

    // --dry-run lists and changes nothing.
    let dry = import_spool(&spool, archive.to_str().unwrap(), &["--dry-run"]);
    assert!(dry.status.success());
    assert_eq!(stdout(&dry).lines().count(), spooled.len());
    assert_eq!(tree(&spool), spooled);

    // The state a crash leaves: one file already renamed into the archive but not deleted from
    // the spool, and another one's partial importing copy.
    let mut names = spooled.keys();
    let done = names.next().unwrap();
    let partial = names.next().unwrap();
    fs::create_dir_all(archive.join(Path::new(done).parent().unwrap())).unwrap();
    fs::write(archive.join(done), &spooled[done]).unwrap();
    let (cat, name) = partial.split_once('/').unwrap();
    fs::create_dir_all(archive.join(cat)).unwrap();
    fs::write(
        archive.join(cat).join(format!(".{name}")),
        &spooled[partial][..10],
    )
    .unwrap();
    // And a collision: the archive has other content under a spooled name.
    let collide = names.next().unwrap();
    let (cat, _) = collide.split_once('/').unwrap();
    fs::create_dir_all(archive.join(cat)).unwrap();
    fs::write(archive.join(collide), b"other content\n").unwrap();

    let import = import_spool(&spool, archive.to_str().unwrap(), &[]);
    assert_ok(&import);
    assert!(tree(&spool).is_empty(), "spool emptied");
    let archived = tree(&archive);
    // Every spooled file once, byte-identical; the colliding name kept its other content.
    let mut contents: Vec<&Vec<u8>> = archived
        .values()
        .filter(|c| c.as_slice() != b"other content\n")
        .collect();
    let mut expected: Vec<&Vec<u8>> = spooled.values().collect();
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected);
    assert_eq!(archived[collide], b"other content\n");
    assert!(
        !archived.keys().any(|k| k.contains("/.")),
        "no importing copies left"
    );

    // A second run has nothing to do.
    let again = import_spool(&spool, archive.to_str().unwrap(), &[]);
    assert!(again.status.success());
    assert_eq!(tree(&archive), archived);
}

#[test]
fn spool_import_into_hdfs_and_through_an_outage() {
    let Some(hdfs) = common::hdfs_uri() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let spooled = make_spool(&spool);
    let root = format!("{hdfs}/{}", common::unique_name("recover"));

    let import = import_spool(&spool, &root, &[]);
    assert_ok(&import);
    assert!(tree(&spool).is_empty());
    let replay = run(LS_RECOVER, &["replay", &root], b"");
    assert_ok(&replay);
    let expected: Vec<Value> = spooled
        .values()
        .flat_map(|c| records(&String::from_utf8_lossy(c)))
        .collect();
    assert_eq!(by_id(records(&stdout(&replay))), by_id(expected));
}

#[test]
fn spool_import_resumes_after_hdfs_goes_down_in_the_middle() {
    // Needs the services script's HDFS; under CI the shared one proves the script works.
    if common::hdfs_uri().is_none() {
        return;
    }
    // A private HDFS: this test stops it, which must not disturb the shared one.
    let hdfs = PrivateService::start("hdfs");
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let spooled = make_spool(&spool);
    let root = format!("{}/archive", hdfs.env("LOGSPHERE_HDFS_URI"));

    // The client reads the Hadoop configuration like any HDFS client: give up on an unreachable
    // NameNode within seconds.
    let conf = private::impatient_hadoop_conf(dir.path());
    // Each file costs HDFS about half a second to close: stop it while the import runs.
    let import = Command::new(LS_RECOVER)
        .args(["spool", "--spool", spool.to_str().unwrap(), "--to", &root])
        .env("HADOOP_CONF_DIR", &conf)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Stop HDFS once the first file is in (its spool copy is gone), however loaded the machine.
    let spooled_now = || {
        let categories = fs::read_dir(&spool).into_iter().flatten().flatten();
        categories
            .flat_map(|c| fs::read_dir(c.path()).into_iter().flatten().flatten())
            .filter(|f| f.file_name().to_string_lossy().ends_with(".jsonl"))
            .count()
    };
    let started = std::time::Instant::now();
    while spooled_now() == spooled.len() {
        assert!(
            started.elapsed().as_secs() < 120,
            "the import never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    hdfs.down();
    let first = import.wait_with_output().unwrap();
    let left = tree(&spool).len();
    assert_eq!(
        first.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        left > 0 && left < spooled.len(),
        "some imported, some left: {left} of {}",
        spooled.len()
    );
    assert!(String::from_utf8_lossy(&first.stderr).contains("left in the spool"));

    hdfs.up();
    let second = import_spool(&spool, &root, &[]);
    assert_ok(&second);
    assert!(tree(&spool).is_empty());
    let replay = run(LS_RECOVER, &["replay", &root], b"");
    assert_ok(&replay);
    let replayed = records(&stdout(&replay));
    let expected: Vec<Value> = spooled
        .values()
        .flat_map(|c| records(&String::from_utf8_lossy(c)))
        .collect();
    assert_eq!(replayed.len(), expected.len(), "every record exactly once");
    assert_eq!(by_id(replayed), by_id(expected));
}
