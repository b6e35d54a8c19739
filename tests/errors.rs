//! Every failure a user can cause, met the way a new user meets it: a bad flag, an unreachable
//! broker or database, a bad URI, a directory that cannot be written, a missing permission. Each
//! gives exit 2 (usage) or 1 (runtime) and one clear line that names what to fix, never a Rust
//! panic or backtrace.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

const RECORD: &str = "{\"timestamp\":\"2026-11-22T10:00:00Z\",\"log_level\":\"CRITICAL\",\"message\":\"m\",\"source\":\"s\"}\n";

/// Runs `command` with one record on stdin. No variable from the developer's shell (say,
/// LOGSPHERE_BROKERS) may stand in for what a case leaves out.
fn run(mut command: Command) -> Output {
    for (var, _) in std::env::vars() {
        if var.starts_with("LOGSPHERE_") {
            command.env_remove(var);
        }
    }
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // A tool that fails before reading closes its stdin: that is not this test's concern.
    let _ = child.stdin.take().unwrap().write_all(RECORD.as_bytes());
    child.wait_with_output().unwrap()
}

fn tool(tool: &str, args: &[&str]) -> Output {
    let mut command = Command::new(common::bin(tool));
    command.args(args);
    run(command)
}

/// Checks the exit code and that stderr is one line (clap's usage errors: one `error:` line and
/// its hints) saying `expected`, with no panic.
#[track_caller]
fn assert_fails(output: &Output, code: i32, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(code), "stderr: {stderr}");
    assert!(
        stderr.contains(expected),
        "stderr does not say {expected:?}: {stderr}"
    );
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{stderr}"
    );
    let is_error = |line: &str| {
        line.starts_with("error:")
            || line
                .split_once(": ")
                .is_some_and(|(_, rest)| rest.starts_with("error:"))
    };
    let errors = stderr.lines().filter(|l| is_error(l)).count();
    assert_eq!(errors, 1, "one error line, not: {stderr}");
}

#[test]
fn a_bad_flag_is_a_usage_error_naming_the_flag() {
    for name in common::TOOLS {
        assert_fails(&tool(name, &["--no-such-flag"]), 2, "'--no-such-flag'");
    }
    assert_fails(
        &tool("ls-roll", &["--out", "/tmp", "--max-size", "12XB"]),
        2,
        "--max-size",
    );
    assert_fails(
        &tool("ls-tail", &["--once", "--format", "klingon", "/tmp"]),
        2,
        "klingon",
    );
    assert_fails(
        &tool(
            "ls-store",
            &[
                "query",
                "--mongo",
                "mongodb://h/",
                "--since",
                "yesterdayish",
            ],
        ),
        2,
        "yesterdayish",
    );
}

#[test]
fn an_unreachable_broker_is_reported_at_start() {
    // Nothing listens on port 1; a broker that is down later on is waited out instead.
    let unreachable = ["--brokers", "127.0.0.1:1", "--connect-timeout", "2s"];
    let consume = ["--topic", "t", "--group", "g"];
    let cases: [(&str, Vec<&str>); 3] = [
        ("ls-ship", unreachable.to_vec()),
        ("ls-watch", [&unreachable[..], &consume].concat()),
        (
            "ls-roll",
            [&unreachable[..], &consume, &["--out", "/tmp/unused"]].concat(),
        ),
    ];
    for (name, args) in cases {
        assert_fails(
            &tool(name, &args),
            1,
            "cannot reach the Kafka brokers 127.0.0.1:1",
        );
    }
}

#[test]
fn an_unreachable_database_is_reported_without_credentials() {
    let output = tool(
        "ls-store",
        &[
            "--mongo",
            "mongodb://ops:s3cret@127.0.0.1:1/?serverSelectionTimeoutMS=500",
        ],
    );
    assert_fails(&output, 1, "no MongoDB server answered");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("s3cret"));
}

#[test]
fn a_bad_uri_says_what_a_good_one_looks_like() {
    assert_fails(
        &tool("ls-store", &["--mongo", "mongo//db:27017"]),
        1,
        "does not start with mongodb://",
    );
    assert_fails(
        &tool("ls-roll", &["--out", "ftp://host/logs"]),
        1,
        "use hdfs://namenode:port/path",
    );
    assert_fails(
        &tool("ls-roll", &["--out", "hdfs://"]),
        1,
        "like hdfs://namenode:8020/logs",
    );
    assert_fails(
        &tool("ls-recover", &["replay", "file://relative/dir"]),
        1,
        "absolute path",
    );
}

#[test]
fn a_directory_that_cannot_be_written_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // A path below a regular file can be created by nobody, root included.
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let below = file.join("sub");
    let below = below.to_str().unwrap();
    let logs = dir.path().to_str().unwrap();
    let cases: [(&str, Vec<&str>, &str); 6] = [
        (
            "ls-tail",
            vec!["--once", "--lsn-dir", below, logs],
            "LSN directory",
        ),
        ("ls-roll", vec!["--out", below], "archive directory"),
        (
            "ls-roll",
            vec!["--out", logs, "--spool", below],
            "Not a directory",
        ),
        ("ls-watch", vec!["--alerts", below], "alerts file"),
        (
            "ls-recover",
            vec!["spool", "--spool", logs, "--to", below],
            "Not a directory",
        ),
        (
            "ls-recover",
            vec!["lsn", "show", "--lsn-dir", below],
            "LSN store",
        ),
    ];
    for (name, args, expected) in cases {
        let output = tool(name, &args);
        assert_fails(&output, 1, expected);
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(below),
            "{name} names the path: {output:?}"
        );
    }
}

/// Runs `tool` as an unprivileged user (root reads and writes anything), or as this user when it
/// is not root. `None` when root cannot switch (no `setpriv`).
fn unprivileged(name: &str, args: &[&str]) -> Option<Output> {
    let root = String::from_utf8(Command::new("id").arg("-u").output().ok()?.stdout).ok()?;
    let mut command = if root.trim() == "0" {
        let mut command = Command::new("setpriv");
        command.args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            common::bin(name),
        ]);
        command
    } else {
        Command::new(common::bin(name))
    };
    command.args(args);
    let output = run(command);
    // setpriv missing or refused: there is no one to be denied.
    (!String::from_utf8_lossy(&output.stderr).starts_with("setpriv:")).then_some(output)
}

#[test]
fn a_missing_permission_is_named() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let locked = dir.path().join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
    let secret = dir.path().join("2026-11-22.1.jsonl");
    std::fs::write(&secret, RECORD).unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o000)).unwrap();
    let in_locked = |name: &str| locked.join(name).to_str().unwrap().to_string();
    let (lsn, out, alerts) = (in_locked("lsn"), in_locked("out"), in_locked("alerts"));
    let cases: [(&str, Vec<&str>); 4] = [
        ("ls-tail", vec!["--once", "--lsn-dir", &lsn, "/tmp"]),
        ("ls-roll", vec!["--out", &out]),
        ("ls-watch", vec!["--alerts", &alerts]),
        ("ls-recover", vec!["replay", secret.to_str().unwrap()]),
    ];
    for (name, args) in cases {
        let Some(output) = unprivileged(name, &args) else {
            eprintln!("SKIPPED: running as root without setpriv");
            return;
        };
        assert_fails(&output, 1, "Permission denied");
    }
}
