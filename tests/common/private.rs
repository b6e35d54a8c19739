//! Private service instances and child processes that clean up after a failing test.
//!
//! An outage test stops and restarts its server, which must never disturb the shared instance
//! the other tests use at the same time: it starts its own with `scripts/services` in a state
//! dir of its own. Both the server and the tool under test are stopped when their guard is
//! dropped, so a test that panics half-way leaves no process behind to flood the next tests'
//! output or hold their ports.

use std::ops::{Deref, DerefMut};
use std::path::Path;
use std::process::{Child, Command};

/// One service (`kafka`, `mongo` or `hdfs`) of `scripts/services` in a temporary state dir,
/// on ports of its own; stopped when dropped.
pub struct PrivateService {
    state: tempfile::TempDir,
    name: &'static str,
}

impl PrivateService {
    /// Starts `name` on free ports and waits until it is ready.
    pub fn start(name: &'static str) -> PrivateService {
        let service = PrivateService {
            state: tempfile::tempdir().unwrap(),
            name,
        };
        service.up();
        service
    }

    /// Starts the service again on the ports it had, and waits until it is ready.
    pub fn up(&self) {
        self.services("up");
    }

    /// Stops the service (its data stays).
    pub fn down(&self) {
        self.services("down");
    }

    /// Freezes the service's processes (SIGSTOP): they hold their connections and data but
    /// answer nothing, as a server that hangs or sits behind a network partition.
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets frozen processes run again (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        for pid in self.pids() {
            let status = Command::new("kill").args([signal, &pid]).status().unwrap();
            assert!(status.success(), "kill {signal} {pid}");
        }
    }

    /// The processes of the service, from the pid files of its state dir.
    fn pids(&self) -> Vec<String> {
        let dir = self.state.path().join(self.name);
        std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|entry| entry.path().extension().is_some_and(|e| e == "pid"))
            .filter_map(|entry| std::fs::read_to_string(entry.path()).ok())
            .map(|pid| pid.trim().to_string())
            .collect()
    }

    /// The value of `var` in what `scripts/services env` prints, e.g. `LOGSPHERE_HDFS_URI`.
    pub fn env(&self, var: &str) -> String {
        let env = self.services("env");
        let prefix = format!("export {var}=");
        env.lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .unwrap_or_else(|| panic!("`scripts/services env` prints no {var}: {env}"))
            .trim_matches(['"', '\''])
            .to_string()
    }

    fn services(&self, command: &str) -> String {
        let port_var = format!("LOGSPHERE_{}_PORT", self.name.to_uppercase());
        let output = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services"))
            .args([command, self.name])
            .env("LOGSPHERE_SERVICES_DIR", self.state.path())
            .env(port_var, "auto")
            .output()
            .expect("run scripts/services");
        assert!(
            output.status.success(),
            "scripts/services {command} {} failed: {}",
            self.name,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }
}

impl Drop for PrivateService {
    fn drop(&mut self) {
        // A frozen process would not stop on SIGTERM.
        for pid in self.pids() {
            let _ = Command::new("kill").args(["-CONT", &pid]).status();
        }
        // Not `down()`: a failed stop must not turn into a panic while unwinding.
        let _ = Command::new(Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/services"))
            .args(["down", self.name])
            .env("LOGSPHERE_SERVICES_DIR", self.state.path())
            .output();
    }
}

/// A Hadoop configuration directory (for `HADOOP_CONF_DIR`) in `dir` that makes the HDFS client
/// give up on an unreachable NameNode after three attempts, a few seconds, instead of the
/// default fifteen (minutes): outage tests then see the tools react within their time limits.
pub fn impatient_hadoop_conf(dir: &Path) -> std::path::PathBuf {
    let conf = dir.join("hadoop-conf");
    std::fs::create_dir_all(&conf).unwrap();
    std::fs::write(
        conf.join("hdfs-site.xml"),
        "<configuration><property><name>dfs.client.failover.max.attempts</name>\
         <value>3</value></property></configuration>",
    )
    .unwrap();
    conf
}

/// A child process that is killed (and reaped) when dropped, unless it has exited already.
pub struct KillOnDrop(pub Child);

impl Deref for KillOnDrop {
    type Target = Child;
    fn deref(&self) -> &Child {
        &self.0
    }
}

impl DerefMut for KillOnDrop {
    fn deref_mut(&mut self) -> &mut Child {
        &mut self.0
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
