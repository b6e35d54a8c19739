//! `--exec CMD ARGS...`: runs a command per alert with the alert JSON on its stdin.
//!
//! The command and its arguments are fixed when ls-watch starts and are spawned directly, never
//! through a shell: nothing from a log record ever reaches an argument list or a command line,
//! it only arrives as JSON on stdin. A few commands run at a time (a pool of workers behind a
//! bounded queue, so a flood of alerts slows ls-watch down instead of forking without end);
//! each gets a timeout after which it is killed; failures are logged, never fatal. The
//! command's stdout goes to ls-watch's stderr: ls-watch's stdout is data.

use std::io::Write;
use std::os::fd::AsFd;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How alerts are handed to a command.
#[derive(Debug, Clone)]
pub struct ExecConfig {
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// Commands running at once.
    pub concurrency: usize,
    /// A command still running after this long is killed.
    pub timeout: Duration,
}

/// The running pool.
pub struct Exec {
    queue: Option<SyncSender<String>>,
    workers: Vec<JoinHandle<()>>,
}

impl Exec {
    /// Alerts waiting per worker before [`Exec::submit`] blocks.
    const QUEUED_PER_WORKER: usize = 64;

    pub fn start(config: ExecConfig) -> Exec {
        let workers = config.concurrency.max(1);
        let (queue, alerts) = sync_channel::<String>(workers * Self::QUEUED_PER_WORKER);
        let alerts = Arc::new(Mutex::new(alerts));
        let config = Arc::new(config);
        let workers = (0..workers)
            .map(|_| {
                let alerts = alerts.clone();
                let config = config.clone();
                std::thread::spawn(move || work(&config, &alerts))
            })
            .collect();
        Exec {
            queue: Some(queue),
            workers,
        }
    }

    /// Queues one alert (its JSON line); waits while the queue is full.
    pub fn submit(&self, alert_json: String) {
        if let Some(queue) = &self.queue {
            // The workers only stop once the queue is dropped, so sending cannot fail.
            let _ = queue.send(alert_json);
        }
    }

    /// Waits for every queued alert's command to finish.
    pub fn finish(mut self) {
        self.queue = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

fn work(config: &ExecConfig, alerts: &Mutex<Receiver<String>>) {
    loop {
        // Hold the lock only to take the next alert, not while its command runs.
        let next = alerts.lock().map(|queue| queue.recv());
        let Ok(Ok(alert)) = next else { return };
        let program = &config.argv[0];
        match run_one(config, &alert) {
            Ok(status) if status.success() => {}
            Ok(status) => log::warn!("--exec {program}: {status} for an alert"),
            Err(e) => log::warn!("--exec {program}: {e}"),
        }
    }
}

/// Runs the command once with `input` on its stdin, within the timeout.
pub fn run_one(config: &ExecConfig, input: &str) -> Result<ExitStatus, String> {
    let stdout: Stdio = match std::io::stderr().as_fd().try_clone_to_owned() {
        Ok(fd) => fd.into(),
        Err(_) => Stdio::null(),
    };
    let mut child = Command::new(&config.argv[0])
        .args(&config.argv[1..])
        .stdin(Stdio::piped())
        .stdout(stdout)
        .spawn()
        .map_err(|e| format!("cannot run it: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A command that does not read its input is its own business: a broken pipe is fine.
        if let Err(e) = stdin.write_all(input.as_bytes())
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            log::warn!("--exec {}: cannot write the alert: {e}", config.argv[0]);
        }
    }
    wait_with_timeout(&mut child, config.timeout)
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Result<ExitStatus, String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("killed after the timeout of {timeout:?}"));
            }
            Ok(None) => {
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_millis(50));
            }
            Err(e) => return Err(format!("cannot wait for it: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(argv: &[&str], timeout: Duration) -> ExecConfig {
        ExecConfig {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            concurrency: 2,
            timeout,
        }
    }

    #[test]
    fn a_slow_command_is_killed_at_the_timeout() {
        let err =
            run_one(&config(&["sleep", "5"], Duration::from_millis(100)), "{}\n").unwrap_err();
        assert!(err.contains("timeout"), "{err}");
    }

    #[test]
    fn a_missing_command_is_an_error_not_a_panic() {
        let err = run_one(
            &config(&["/nonexistent/alert-hook"], Duration::from_secs(1)),
            "{}\n",
        )
        .unwrap_err();
        assert!(err.contains("cannot run"), "{err}");
    }

    #[test]
    fn every_submitted_alert_runs() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat >> {}", out.display());
        let exec = Exec::start(config(&["sh", "-c", &script], Duration::from_secs(10)));
        for i in 0..10 {
            exec.submit(format!("{{\"n\":{i}}}\n"));
        }
        exec.finish();
        let text = std::fs::read_to_string(out).unwrap();
        assert_eq!(text.lines().count(), 10);
    }
}
