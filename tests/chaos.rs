//! The pipeline under fire (issue #11: crashes, rotation, scale), live over the real services.
//!
//! Simulated servers write log lines continuously (loghub samples and generated lines) while
//! `ls-tail --lsn-commit downstream | ls-ship --lsn-dir` runs per server and ls-store, ls-roll
//! and ls-watch consume the topics in consumer groups. Meanwhile stages are killed with SIGKILL
//! and restarted, or the logs rotated by the real `logrotate`, or each consumer runs as two
//! instances of one group and one of them is killed. Then the writers stop, everything drains,
//! and each test ends with the exactly-once check of tests/pipeline.rs: every line once in
//! MongoDB and once in the archive, as ls-tail makes it of the whole log, and the expected alerts.
//!
//! The archive is a local directory, not HDFS: a restarted ls-roll first recovers the in-progress
//! files its killed predecessor left, and on HDFS that waits for the NameNode's lease recovery
//! of each one, seconds to a minute, which a test killing ls-roll several times cannot afford in
//! CI. The crash handling itself (in-progress files, recovery, dedup by id) is the roller's and the
//! same for both targets; tests/pipeline.rs covers HDFS end to end.
//!
//! The random moments and victims come from one seed, printed at the start of each test; set
//! `LOGSPHERE_CHAOS_SEED` to run the same schedule again.

mod common;
#[path = "common/loghub.rs"]
mod loghub;
#[path = "common/pipeline.rs"]
mod pipeline;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::private::KillOnDrop;
use mongodb::bson::{Document, doc};
use pipeline::{Fields, TAIL_FLAGS};
use proptest::prelude::RngExt;
use proptest::test_runner::{RngAlgorithm, TestRng};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Partitions of every topic: two, so that two instances of a stage can share them.
const PARTITIONS: i32 = 2;
/// The categories ls-tail gives (TAIL_FLAGS), hence the topics.
const CATEGORIES: [&str; 3] = ["access", "default", "error"];
/// How long the servers write their ordinary lines.
const WRITING: Duration = Duration::from_secs(20);
/// Generated lines per server, written over `WRITING`.
const GENERATED: usize = 120;
/// Lines taken from each loghub sample.
const LOGHUB_LINES: usize = 60;
/// The errors the burst server writes within one minute at the end: more than the threshold.
const BURST_ERRORS: usize = 150;
/// How long everything may take to drain once the writers stopped.
const DRAIN: Duration = Duration::from_secs(120);

/// The rules ls-watch runs with. Servers' records reach the topic out of order by the seconds a
/// restart takes: none of them may count as late.
const WATCH_FLAGS: [&str; 6] = [
    "--threshold",
    pipeline::THRESHOLD,
    "--critical-at",
    "CRITICAL",
    "--lateness",
    "10m",
];

/// The servers: their sources and the loghub sample each one writes next to its `app.log`.
const SERVERS: [(&str, Option<&str>); 4] = [
    ("web-1", Some("Apache")),
    ("data-1", Some("HDFS")),
    ("coord-1", Some("Zookeeper")),
    ("burst-1", None),
];
/// The server that ends with a burst of errors (the one threshold alert).
const BURST_SOURCE: &str = "burst-1";

/// The seeded random source of a test, its seed printed so that a failure can be replayed.
fn rng(test: &str) -> TestRng {
    let seed: u64 = std::env::var("LOGSPHERE_CHAOS_SEED")
        .ok()
        .map(|s| s.parse().expect("LOGSPHERE_CHAOS_SEED is a number"))
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("{test}: seed {seed} (LOGSPHERE_CHAOS_SEED={seed} replays it)");
    let mut bytes = [0; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRng::from_seed(RngAlgorithm::ChaCha, &bytes)
}

/// A scratch directory that is kept, and named on stderr, when the test fails: it holds every
/// stage's stderr.
struct Scratch(Option<tempfile::TempDir>);

impl Scratch {
    fn new() -> Scratch {
        Scratch(Some(tempfile::tempdir().unwrap()))
    }

    fn path(&self) -> &Path {
        self.0.as_ref().unwrap().path()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let dir = self.0.take().unwrap().keep();
            eprintln!("kept the scratch directory {}", dir.display());
        }
    }
}

/// One simulated server: its log directory and what it writes, line by line, in order.
struct Server {
    source: &'static str,
    logs: PathBuf,
    /// (file name, line with its newline), in the order written.
    lines: Vec<(String, String)>,
    /// Lines at the end written at once rather than spread over `WRITING` (the burst).
    burst: usize,
}

/// A generated line of `source`: log4j form, unique by its sequence number, timestamped
/// `at`; every 25th is FATAL (a critical alert) and every 10th an ERROR.
fn generated_line(source: &str, seq: usize, at: chrono::DateTime<chrono::Utc>) -> String {
    let level = match seq {
        s if s % 25 == 24 => "FATAL",
        s if s % 10 == 3 => "ERROR",
        s if s % 7 == 0 => "WARN",
        _ => "INFO",
    };
    format!(
        "{} {level} [worker-{}] {source} request {seq} handled\n",
        at.format("%Y-%m-%d %H:%M:%S,%3f"),
        seq % 4
    )
}

/// The servers' lines: loghub samples and generated lines, timestamped from now on, and the
/// burst server's errors at the end.
fn servers(root: &Path, corpus: &Path) -> Vec<Server> {
    let start = chrono::Utc::now();
    let step = WRITING / GENERATED as u32;
    SERVERS
        .iter()
        .map(|&(source, system)| {
            let generated: Vec<String> = (0..GENERATED)
                .map(|seq| generated_line(source, seq, start + step * seq as u32))
                .collect();
            let sample: Vec<String> = system
                .map(|system| {
                    // Distinct lines only: a file that starts with the whole content of one
                    // rotated away just before (a repeated line, in files rotated every few
                    // lines) is taken by ls-tail for a copy of it and not read (reported).
                    let mut seen = std::collections::HashSet::new();
                    std::fs::read_to_string(loghub::log_path(corpus, system))
                        .unwrap()
                        .lines()
                        .filter(|l| !l.trim().is_empty() && seen.insert(l.to_string()))
                        .take(LOGHUB_LINES)
                        .map(|l| format!("{l}\n"))
                        .collect()
                })
                .unwrap_or_default();
            // Interleaved: one sample line after every second generated line.
            let mut lines = Vec::new();
            let mut sample_lines = sample.into_iter();
            for (i, line) in generated.into_iter().enumerate() {
                lines.push(("app.log".to_string(), line));
                if i % 2 == 1
                    && let Some(l) = sample_lines.next()
                {
                    lines.push((format!("{}.log", system.unwrap()), l));
                }
            }
            let mut burst = 0;
            if source == BURST_SOURCE {
                let after = start + WRITING;
                for i in 0..BURST_ERRORS {
                    let at = after + Duration::from_millis(i as u64 * 200);
                    lines.push((
                        "payments.log".to_string(),
                        format!(
                            "{} ERROR payment failed for order {i}\n",
                            at.format("%Y-%m-%d %H:%M:%S,%3f")
                        ),
                    ));
                }
                lines.push((
                    "payments.log".to_string(),
                    format!(
                        "{} FATAL ledger unreachable; stopping\n",
                        (after + Duration::from_secs(31)).format("%Y-%m-%d %H:%M:%S,%3f")
                    ),
                ));
                burst = BURST_ERRORS + 1;
            }
            let logs = root.join("servers").join(source).join("logs");
            std::fs::create_dir_all(&logs).unwrap();
            Server {
                source,
                logs,
                lines,
                burst,
            }
        })
        .collect()
}

/// The records ls-tail makes of the servers' whole logs (each file written at once, unrotated),
/// by id: the fields every stage must hold, whatever ids the live run gives.
fn reference(servers: &[Server], scratch: &Path) -> BTreeMap<String, Fields> {
    let mut dirs = Vec::new();
    for server in servers {
        let dir = scratch.join("reference").join(server.source);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, line) in &server.lines {
            append(&dir.join(file), line);
        }
        dirs.push((server.source.to_string(), dir));
    }
    let records = pipeline::reference(&dirs, scratch);
    let lines: usize = servers.iter().map(|s| s.lines.len()).sum();
    assert_eq!(records.len(), lines, "one record per line");
    records
}

fn append(path: &Path, text: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
}

/// The writers: one thread per server, writing its lines as an application does, through a
/// handle kept open and reopened when the path leads to a new file (after a rename rotation).
/// Each write holds `pause` for its moment, so that a rotation holding it sees no write.
struct Writers {
    threads: Vec<JoinHandle<()>>,
}

impl Writers {
    fn start(servers: &[Server], pause: &Arc<Mutex<()>>) -> Writers {
        let threads = servers
            .iter()
            .map(|server| {
                let logs = server.logs.clone();
                let lines = server.lines.clone();
                let ordinary = lines.len() - server.burst;
                let pause = Arc::clone(pause);
                std::thread::spawn(move || {
                    let interval = WRITING / ordinary as u32;
                    let mut handles: BTreeMap<String, (File, u64)> = BTreeMap::new();
                    for (i, (file, line)) in lines.iter().enumerate() {
                        let path = logs.join(file);
                        let _writing = pause.lock().unwrap();
                        let current = std::fs::metadata(&path).ok().map(|m| m.ino());
                        let stale = handles
                            .get(file)
                            .is_none_or(|(_, ino)| current.is_some_and(|c| c != *ino));
                        if stale {
                            let handle = OpenOptions::new()
                                .create(true)
                                .append(true)
                                .open(&path)
                                .unwrap();
                            let ino = handle.metadata().unwrap().ino();
                            handles.insert(file.clone(), (handle, ino));
                        }
                        handles
                            .get_mut(file)
                            .unwrap()
                            .0
                            .write_all(line.as_bytes())
                            .unwrap();
                        drop(_writing);
                        let pace = if i < ordinary {
                            interval
                        } else {
                            Duration::from_millis(5)
                        };
                        std::thread::sleep(pace);
                    }
                })
            })
            .collect();
        Writers { threads }
    }

    fn join(self) {
        for thread in self.threads {
            thread.join().unwrap();
        }
    }
}

/// A stage the tests kill.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Tail,
    Ship,
    Store,
    Watch,
    Roll,
}

impl Stage {
    fn name(self) -> &'static str {
        match self {
            Stage::Tail => "tail",
            Stage::Ship => "ship",
            Stage::Store => "store",
            Stage::Watch => "watch",
            Stage::Roll => "roll",
        }
    }
}

/// `ls-tail | ls-ship` of one server.
struct Shipper {
    tail: KillOnDrop,
    ship: KillOnDrop,
}

/// One running consumer: its stage, instance name and process.
struct Member {
    stage: Stage,
    instance: String,
    child: KillOnDrop,
}

/// The whole pipeline, live.
struct Live {
    scratch: PathBuf,
    brokers: String,
    mongo: String,
    prefix: String,
    db: String,
    topics: Vec<String>,
    archive: PathBuf,
    servers: Vec<(String, PathBuf)>,
    shippers: Vec<Option<Shipper>>,
    members: Vec<Member>,
}

impl Live {
    async fn new(scratch: &Path, brokers: &str, mongo: &str, servers: &[Server]) -> Live {
        let prefix = common::unique_name("chaos");
        let topics: Vec<String> = CATEGORIES.iter().map(|c| format!("{prefix}.{c}")).collect();
        for topic in &topics {
            common::kafka::create_topic(brokers, topic, PARTITIONS).await;
        }
        Live {
            scratch: scratch.to_path_buf(),
            brokers: brokers.to_string(),
            mongo: mongo.to_string(),
            db: prefix.replace('.', "-"),
            prefix,
            topics,
            archive: scratch.join("archive"),
            servers: servers
                .iter()
                .map(|s| (s.source.to_string(), s.logs.clone()))
                .collect(),
            shippers: servers.iter().map(|_| None).collect(),
            members: Vec::new(),
        }
    }

    /// Where a process's stderr goes (appended across restarts).
    fn log(&self, name: &str) -> File {
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.scratch.join(format!("{name}.stderr")))
            .unwrap()
    }

    fn start_shipper(&mut self, server: usize) {
        let (source, logs) = &self.servers[server];
        let lsn = self.scratch.join(format!("lsn-{source}"));
        let mut tail = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_ls-tail"))
                .args(["--source", source, "--lsn-commit", "downstream"])
                .arg("--lsn-dir")
                .arg(&lsn)
                .args(TAIL_FLAGS)
                .arg(logs)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(self.log(&format!("tail-{source}")))
                .spawn()
                .unwrap(),
        );
        let ship = KillOnDrop(
            Command::new(env!("CARGO_BIN_EXE_ls-ship"))
                .args(["--brokers", &self.brokers])
                .args(["--topic-template", &format!("{}.{{category}}", self.prefix)])
                .arg("--lsn-dir")
                .arg(&lsn)
                .stdin(tail.stdout.take().unwrap())
                .stdout(Stdio::null())
                .stderr(self.log(&format!("ship-{source}")))
                .spawn()
                .unwrap(),
        );
        self.shippers[server] = Some(Shipper { tail, ship });
    }

    /// The topics a consumer stage reads.
    fn topics_of(&self, stage: Stage) -> Vec<String> {
        match stage {
            // Thresholds want one category's records in order (README, ls-watch).
            Stage::Watch => vec![format!("{}.error", self.prefix)],
            _ => self.topics.clone(),
        }
    }

    fn start_member(&mut self, stage: Stage, instance: &str) {
        let group = format!("{}-{}", self.prefix, stage.name());
        let topics = self.topics_of(stage).join(",");
        let mut command = Command::new(match stage {
            Stage::Store => env!("CARGO_BIN_EXE_ls-store"),
            Stage::Watch => env!("CARGO_BIN_EXE_ls-watch"),
            Stage::Roll => env!("CARGO_BIN_EXE_ls-roll"),
            Stage::Tail | Stage::Ship => unreachable!("not a consumer"),
        });
        command
            .args([
                "--brokers",
                &self.brokers,
                "--topic",
                &topics,
                "--group",
                &group,
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log(&format!("{}-{instance}", stage.name())));
        // Static membership: a restarted member takes its predecessor's place at once.
        command.args([
            "-X".to_string(),
            format!("group.instance.id={group}-{instance}"),
        ]);
        match stage {
            Stage::Store => command.args(["--mongo", &self.mongo, "--db", &self.db]),
            // One archive per instance: an archive has one writer at a time (its lock).
            Stage::Roll => command.arg("--out").arg(self.archive.join(instance)),
            Stage::Watch => command
                .args(WATCH_FLAGS)
                .arg("--alerts")
                .arg(self.alerts_file(instance)),
            Stage::Tail | Stage::Ship => unreachable!("not a consumer"),
        };
        let child = KillOnDrop(command.spawn().unwrap());
        self.members.push(Member {
            stage,
            instance: instance.to_string(),
            child,
        });
    }

    fn alerts_file(&self, instance: &str) -> PathBuf {
        self.scratch.join(format!("alerts-{instance}.jsonl"))
    }

    /// Starts every server's shipper and `instances` members of each consumer stage.
    fn start(&mut self, instances: &[&str]) {
        for server in 0..self.servers.len() {
            self.start_shipper(server);
        }
        for stage in [Stage::Store, Stage::Roll, Stage::Watch] {
            for instance in instances {
                self.start_member(stage, instance);
            }
        }
    }

    /// Kills `stage` with SIGKILL: for ls-tail and ls-ship, the one of server `server` (and
    /// waits for the other half of its pipe to exit), else the consumer `instance`.
    fn kill(&mut self, stage: Stage, server: usize, instance: &str) {
        match stage {
            Stage::Tail | Stage::Ship => {
                let shipper = self.shippers[server].as_mut().unwrap();
                let (victim, other) = if stage == Stage::Tail {
                    (&mut shipper.tail, &mut shipper.ship)
                } else {
                    (&mut shipper.ship, &mut shipper.tail)
                };
                victim.kill().unwrap();
                victim.wait().unwrap();
                // The pipe is broken: ls-ship reads its end and drains, ls-tail fails its next
                // write. The survivor must be gone before a new pair takes the LSN store.
                let deadline = Instant::now() + Duration::from_secs(20);
                while other.try_wait().unwrap().is_none() {
                    assert!(
                        Instant::now() < deadline,
                        "the other half of a broken pipe ({stage:?} killed) never exited"
                    );
                    std::thread::sleep(Duration::from_millis(50));
                }
                self.shippers[server] = None;
            }
            _ => {
                let at = self
                    .members
                    .iter()
                    .position(|m| m.stage == stage && m.instance == instance)
                    .unwrap();
                let mut member = self.members.remove(at);
                member.child.kill().unwrap();
                member.child.wait().unwrap();
            }
        }
    }

    /// Waits until MongoDB holds `count` records and every consumer group has committed the
    /// topics' ends: everything written went through every stage.
    async fn drain(&self, count: u64) {
        let deadline = Instant::now() + DRAIN;
        let logs = mongodb::Client::with_uri_str(&self.mongo)
            .await
            .unwrap()
            .database(&self.db)
            .collection::<Document>("logs");
        loop {
            let stored = logs.count_documents(doc! {}).await.unwrap();
            if stored >= count {
                break;
            }
            if Instant::now() > deadline {
                eprintln!("drain: MongoDB holds {stored} of {count} records after {DRAIN:?}");
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        for stage in [Stage::Store, Stage::Roll, Stage::Watch] {
            let group = format!("{}-{}", self.prefix, stage.name());
            let topics = self.topics_of(stage);
            loop {
                let lag = lag(&self.brokers, &group, &topics);
                if lag == 0 {
                    break;
                }
                if Instant::now() > deadline {
                    eprintln!("drain: group {group} still {lag} records behind");
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }

    /// Stops every process with SIGTERM (drain, commit, exit 0), shippers first.
    fn stop(&mut self) {
        for shipper in self.shippers.iter_mut().flatten() {
            terminate(&mut shipper.tail, "ls-tail");
            terminate(&mut shipper.ship, "ls-ship");
        }
        for member in &mut self.members {
            terminate(
                &mut member.child,
                &format!("{:?} {}", member.stage, member.instance),
            );
        }
    }

    /// Every alert every ls-watch instance wrote.
    fn alerts(&self, instances: &[&str]) -> Vec<serde_json::Value> {
        instances
            .iter()
            .flat_map(|i| {
                pipeline::parse_alerts(
                    &std::fs::read_to_string(self.alerts_file(i)).unwrap_or_default(),
                )
            })
            .collect()
    }

    /// The messages in the topics and how many of them repeat an id already sent: ls-ship's
    /// re-sends after a crash, which the stores drop.
    fn resent(&self) -> (usize, usize) {
        let mut ids = BTreeMap::<String, usize>::new();
        for topic in &self.topics {
            for message in common::kafka::read_topic(&self.brokers, topic) {
                *ids.entry(message.headers["id"].clone()).or_default() += 1;
            }
        }
        let messages: usize = ids.values().sum();
        (messages, messages - ids.len())
    }
}

/// SIGTERM, then waits for a clean exit.
fn terminate(child: &mut KillOnDrop, what: &str) {
    if child.try_wait().unwrap().is_none() {
        Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{what} exited with {status} on SIGTERM");
            return;
        }
        assert!(Instant::now() < deadline, "{what} did not stop on SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many records of `topics` the group `group` has not committed yet.
fn lag(brokers: &str, group: &str, topics: &[String]) -> i64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .unwrap();
    let timeout = Duration::from_secs(10);
    let mut partitions = TopicPartitionList::new();
    for topic in topics {
        for partition in 0..PARTITIONS {
            partitions.add_partition(topic, partition);
        }
    }
    let committed = consumer.committed_offsets(partitions, timeout).unwrap();
    committed
        .elements()
        .iter()
        .map(|e| {
            let (_, high) = consumer
                .fetch_watermarks(e.topic(), e.partition(), timeout)
                .unwrap();
            match e.offset() {
                Offset::Offset(done) => high - done,
                _ => high,
            }
        })
        .sum()
}

/// A test's pipeline, running, with its servers writing.
struct Run {
    live: Live,
    expected: BTreeMap<String, Fields>,
    writers: Writers,
    started: Instant,
    // Last: dropped after the processes whose stderr it holds.
    scratch: Scratch,
}

impl Run {
    /// Starts the pipeline with `instances` members of each consumer stage, then the servers'
    /// writers, which hold `pause` for each write. `None` when the services are not there.
    async fn start(instances: &[&str], pause: &Arc<Mutex<()>>) -> Option<Run> {
        let (Some(brokers), Some(mongo), Some(corpus)) =
            (common::brokers(), common::mongo_uri(), loghub::dir())
        else {
            return None;
        };
        let scratch = Scratch::new();
        let servers = servers(scratch.path(), &corpus);
        let expected = reference(&servers, scratch.path());
        let mut live = Live::new(scratch.path(), &brokers, &mongo, &servers).await;
        live.start(instances);
        Some(Run {
            live,
            expected,
            writers: Writers::start(&servers, pause),
            started: Instant::now(),
            scratch,
        })
    }

    /// Waits for the writers, drains and stops the pipeline.
    async fn stop(&mut self) {
        let writers = std::mem::replace(
            &mut self.writers,
            Writers {
                threads: Vec::new(),
            },
        );
        tokio::task::spawn_blocking(move || writers.join())
            .await
            .unwrap();
        self.live.drain(self.expected.len() as u64).await;
        eprintln!("drained after {:?}", self.started.elapsed());
        self.live.stop();
    }

    /// Stops the pipeline and checks (see [`check`]).
    async fn finish(mut self, instances: &[&str], watch_killed: bool) {
        self.stop().await;
        check(&self.live, &self.expected, instances, watch_killed).await;
    }
}

/// The common end of every test: the exactly-once check (the archive is the union of the
/// `instances`' archives), and the alerts of the ls-watch `instances`. A kill of ls-watch may
/// repeat critical alerts (for records after its last commit) but never lose one
/// (`watch_killed`); the burst's threshold alert fires exactly once.
async fn check(
    live: &Live,
    expected: &BTreeMap<String, Fields>,
    instances: &[&str],
    watch_killed: bool,
) {
    let stored = pipeline::stored(&live.mongo, &live.db).await;
    let roots: Vec<String> = instances
        .iter()
        .map(|i| live.archive.join(i).to_str().unwrap().to_string())
        .collect();
    let archived = pipeline::archived(&roots.iter().map(String::as_str).collect::<Vec<_>>());
    pipeline::assert_exactly_once(
        &expected.values().cloned().collect::<Vec<_>>(),
        &stored,
        &archived,
    );
    let (messages, resent) = live.resent();
    let alerts = live.alerts(instances);
    let critical = pipeline::critical_alerts(&alerts);
    let critical_ids = pipeline::critical_ids(&stored);
    let repeated: usize = critical.values().map(|n| n - 1).sum();
    eprintln!(
        "{} lines: {messages} messages in Kafka ({resent} re-sent under the same id), \
         {} critical alerts for {} critical records ({repeated} repeated)",
        expected.len(),
        critical.values().sum::<usize>(),
        critical_ids.len(),
    );
    assert!(
        critical.keys().eq(critical_ids.iter()),
        "every critical record alerts, and only those: {critical:?} vs {critical_ids:?}"
    );
    if !watch_killed {
        assert_eq!(repeated, 0, "one alert per critical record");
    }
    assert_eq!(
        pipeline::threshold_firings(&alerts),
        [BURST_SOURCE],
        "the burst's errors fire the threshold once: {alerts:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_stage_killed_at_random_moments_loses_and_duplicates_nothing() {
    let mut rng = rng("kill -9");
    let Some(mut run) = Run::start(&["a"], &Arc::default()).await else {
        return;
    };
    // Two kills of each stage at random moments of the writing, the last ones well before the
    // burst, so that ls-watch counts the whole burst after its last restart.
    let stages = [
        Stage::Tail,
        Stage::Ship,
        Stage::Store,
        Stage::Watch,
        Stage::Roll,
    ];
    let end = WRITING.as_millis() as u64 - 3000;
    let mut kills: Vec<(Duration, Stage)> = Vec::new();
    for stage in stages.iter().flat_map(|&s| [s, s]) {
        // ls-roll knows what it archived for its run only (README): a copy ls-ship sends again
        // after a kill of the pipe, arriving once ls-roll has been restarted, would be archived
        // twice, and so would the records of the files a restarted ls-roll recovered if it is
        // killed again before it read them again. So the pipes die in the first half, ls-roll in
        // the second, its two kills at least 3 s apart.
        let window = match stage {
            Stage::Tail | Stage::Ship => 1000..end / 2,
            Stage::Roll => end / 2 + 2000..end,
            Stage::Store | Stage::Watch => 1000..end,
        };
        let clear = |at: u64| {
            stage != Stage::Roll
                || kills.iter().all(|(other, s)| {
                    *s != Stage::Roll || other.as_millis().abs_diff(u128::from(at)) >= 3000
                })
        };
        let at = std::iter::repeat_with(|| rng.random_range(window.clone()))
            .take(1000)
            .find(|&at| clear(at))
            .expect("ls-roll's second kill 3 s from its first");
        kills.push((Duration::from_millis(at), stage));
    }
    kills.sort();
    for (at, stage) in kills {
        tokio::time::sleep(at.saturating_sub(run.started.elapsed())).await;
        let server = rng.random_range(0..SERVERS.len());
        eprintln!(
            "{:>6} ms: kill -9 {stage:?}{}",
            run.started.elapsed().as_millis(),
            match stage {
                Stage::Tail | Stage::Ship => format!(" of {}", SERVERS[server].0),
                _ => String::new(),
            }
        );
        run.live.kill(stage, server, "a");
        match stage {
            Stage::Tail | Stage::Ship => run.live.start_shipper(server),
            _ => run.live.start_member(stage, "a"),
        }
    }
    run.finish(&["a"], true).await;
}

/// Rotates every server's logs with logrotate in `mode` (its directive lines) every 100 to
/// 200 ms while the servers write, and checks exactly once at the end.
async fn rotate_while_writing(test: &str, mode: &str, pause_writers: bool) {
    let mut rng = rng(test);
    let pause = Arc::new(Mutex::new(()));
    let Some(run) = Run::start(&["a"], &pause).await else {
        return;
    };
    let config = run.scratch.path().join("logrotate.conf");
    // Rotated files stay next to the live ones, where ls-tail looks; none is deleted.
    std::fs::write(
        &config,
        format!(
            "{}/servers/*/logs/*.log {{\n    rotate 1000\n    missingok\n{mode}}}\n",
            run.scratch.path().display()
        ),
    )
    .unwrap();
    let state = run.scratch.path().join("logrotate.state");
    let mut rotations = 0;
    while run.started.elapsed() < WRITING {
        std::thread::sleep(Duration::from_millis(rng.random_range(100..200)));
        let _paused = pause_writers.then(|| pause.lock().unwrap());
        pipeline::output(
            Command::new(logrotate())
                .arg("-f")
                .arg("-s")
                .arg(&state)
                .arg(&config),
        );
        rotations += 1;
    }
    let rotated = SERVERS
        .iter()
        .map(|(source, _)| {
            std::fs::read_dir(run.scratch.path().join("servers").join(source).join("logs"))
                .unwrap()
                .count()
        })
        .sum::<usize>();
    eprintln!("{test}: {rotations} rotations, {rotated} files in the log directories");
    run.finish(&["a"], false).await;
}

/// logrotate, which Debian installs in /usr/sbin, outside the PATH of most users.
fn logrotate() -> &'static str {
    if Path::new("/usr/sbin/logrotate").is_file() {
        "/usr/sbin/logrotate"
    } else {
        "logrotate"
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_create_at_high_frequency_loses_and_duplicates_nothing() {
    // The writers keep writing to their open handle until they notice the new file, as an
    // application does until its reopen signal arrives.
    rotate_while_writing("logrotate create", "    create\n", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logrotate_copytruncate_at_high_frequency_loses_and_duplicates_nothing() {
    // copytruncate loses what is written between its copy and its truncation (logrotate(8)):
    // the writers pause for that moment, so that every line written is in some file.
    rotate_while_writing("logrotate copytruncate", "    copytruncate\n", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_of_each_consumer_share_the_partitions_through_a_kill() {
    let instances = ["a", "b"];
    let Some(mut run) = Run::start(&instances, &Arc::default()).await else {
        return;
    };
    // Both members of each group work for a while, then one of each pair is killed and
    // restarted (the broker of scripts/services never expires a dead member's session, so its
    // partitions wait for the member to come back: see the README). Not while the group is still
    // forming: that broker then waits for the dead member's join for the whole rebalance timeout
    // (minutes), the restarted member's join notwithstanding.
    tokio::time::sleep(WRITING / 3).await;
    for stage in [Stage::Store, Stage::Roll, Stage::Watch] {
        let group = format!("{}-{}", run.live.prefix, stage.name());
        wait_until_stable(&run.live.brokers, &group, instances.len());
    }
    for stage in [Stage::Store, Stage::Roll, Stage::Watch] {
        eprintln!(
            "{:>6} ms: kill -9 {stage:?} a",
            run.started.elapsed().as_millis()
        );
        run.live.kill(stage, 0, "a");
        run.live.start_member(stage, "a");
    }
    run.stop().await;
    // Every source writes to these two: each of their partitions has records, so that each
    // instance of a group had some.
    for category in ["default", "error"] {
        let topic = format!("{}.{category}", run.live.prefix);
        let sizes = partition_sizes(&run.live.brokers, &topic);
        assert!(sizes.iter().all(|&n| n > 0), "{topic}: {sizes:?}");
    }
    check(&run.live, &run.expected, &instances, true).await;
    for instance in instances {
        let root = run.live.archive.join(instance);
        let archived = pipeline::archived(&[root.to_str().unwrap()]);
        assert!(!archived.is_empty(), "ls-roll {instance} archived nothing");
    }
    // A threshold by source counts each source's records in the one instance that owns the
    // source's partition: split over two instances it fires exactly as one instance reading the
    // whole topic does.
    let single = pipeline::consume(
        env!("CARGO_BIN_EXE_ls-watch"),
        &run.live.brokers,
        &run.live.topics_of(Stage::Watch),
        &format!("{}-single-watch", run.live.prefix),
        &WATCH_FLAGS,
    );
    let single = pipeline::parse_alerts(&String::from_utf8(single.stdout).unwrap());
    assert_eq!(
        pipeline::threshold_firings(&single),
        pipeline::threshold_firings(&run.live.alerts(&instances)),
    );
}

/// Waits until the consumer group `group` has `members` members and is done rebalancing.
fn wait_until_stable(brokers: &str, group: &str, members: usize) {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = consumer
            .fetch_group_list(Some(group), Duration::from_secs(10))
            .unwrap();
        let state = list
            .groups()
            .first()
            .map(|g| (g.state().to_string(), g.members().len()));
        if state
            .as_ref()
            .is_some_and(|(s, n)| s == "Stable" && *n == members)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{group}: never stable with {members} members: {state:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// How many messages each partition of `topic` holds.
fn partition_sizes(brokers: &str, topic: &str) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .create()
        .unwrap();
    (0..PARTITIONS)
        .map(|p| {
            let (low, high) = consumer
                .fetch_watermarks(topic, p, Duration::from_secs(10))
                .unwrap();
            high - low
        })
        .collect()
}

/// What a crash makes of a critical record: two copies in one batch of ls-store (ls-ship sent it
/// again, or the consumer read it again after a rebalance). ls-store used to retry the
/// transaction of such a batch for ever, each attempt aborted by the duplicate key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_critical_record_twice_in_one_batch_is_stored_once() {
    let Some(mongo) = common::mongo_uri() else {
        return;
    };
    let db = common::unique_name("chaos-twice").replace('.', "-");
    let record = r#"{"timestamp":"2026-11-22T10:00:00Z","log_level":"ERROR","message":"disk failed","source":"web-1","category":"error","id":"twice"}"#;
    let mut store = KillOnDrop(
        Command::new(env!("CARGO_BIN_EXE_ls-store"))
            .args(["--mongo", &mongo, "--db", &db])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stdin = store.stdin.take().unwrap();
    writeln!(stdin, "{record}\n{record}").unwrap();
    drop(stdin);
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.try_wait().unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "ls-store never finished the batch"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(store.wait().unwrap().success());
    let stored = pipeline::stored(&mongo, &db).await;
    assert_eq!(stored.keys().collect::<Vec<_>>(), ["twice"]);
}
