//! ls-store against the real MongoDB replica set (and Kafka broker) of `scripts/services`:
//! exactly once across replays, kill -9 (from stdin and from a consumer group) and a MongoDB
//! restart; transactions for critical records; dead letters; queries, time parsing, stats and
//! index use.

mod common;

use common::private::{KillOnDrop, PrivateService};

use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use logsphere::lsn::Snapshot;
use logsphere::mongo::Target;
use logsphere::mongo::doc::to_document;
use logsphere::mongo::query::{Query, StatsBy, parse_levels, plan_stages};
use logsphere::mongo::writer::{PROGRESS_COLLECTION, Progress, Store, WriterOptions};
use logsphere::record::{Category, Level, Origin, Record, line_id, write_record};
use mongodb::bson::{Document, doc};
use mongodb::{Client, Collection};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

const FID: &str = "store-test-file";

fn record(
    lsn: u64,
    at: DateTime<Utc>,
    level: Level,
    source: &str,
    category: &str,
    message: &str,
) -> Record {
    Record {
        timestamp: at,
        log_level: level,
        message: message.to_string(),
        source: source.to_string(),
        category: Category::new(category).unwrap(),
        id: line_id(FID, lsn),
        origin: Some(Origin {
            file: "/var/log/app.log".into(),
            fid: FID.into(),
            lsn,
            offset: lsn * 100,
            crc: None,
        }),
        extra: Default::default(),
    }
}

/// `n` records of one file, lines 1..=n, every fifth one ERROR or CRITICAL (the transactional
/// path), as JSON lines, one `Vec` per line.
fn stream(n: u64) -> Vec<Vec<u8>> {
    let base = Utc.with_ymd_and_hms(2026, 11, 22, 9, 0, 0).unwrap();
    (1..=n)
        .map(|lsn| {
            let level = match lsn % 10 {
                0 => Level::Critical,
                5 => Level::Error,
                3 => Level::Warn,
                _ => Level::Info,
            };
            let at = base + chrono::Duration::milliseconds(lsn as i64);
            let mut line = Vec::new();
            write_record(
                &record(
                    lsn,
                    at,
                    level,
                    "web-1",
                    "app",
                    &format!("request {lsn} served"),
                ),
                &mut line,
            );
            line
        })
        .collect()
}

fn ls_store(uri: &str, db: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ls-store"));
    command.env("LOGSPHERE_MONGO_URI", uri).args(["--db", db]);
    command
}

/// Feeds `lines` to a spawned ls-store's stdin from a thread; a killed ls-store just ends it.
fn feed(child: &mut Child, lines: Vec<Vec<u8>>) -> std::thread::JoinHandle<()> {
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        for line in lines {
            if stdin.write_all(&line).is_err() {
                return;
            }
        }
    })
}

fn wait_success(child: &mut Child, limit: Duration) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "ls-store failed: {status}");
            return;
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            panic!("ls-store did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

async fn logs(uri: &str, db: &str) -> Collection<Document> {
    Client::with_uri_str(uri)
        .await
        .unwrap()
        .database(db)
        .collection("logs")
        .clone()
}

/// Every id of lines 1..=n is stored, and nothing else.
async fn assert_exactly(coll: &Collection<Document>, n: u64) {
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), n);
    let ids: Vec<String> = (1..=n).map(|lsn| line_id(FID, lsn)).collect();
    assert_eq!(
        coll.count_documents(doc! {"_id": {"$in": ids}})
            .await
            .unwrap(),
        n,
        "some ids are missing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_records_fed_twice_are_stored_once() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = common::unique_name("store-twice");
    let lines: Vec<u8> = stream(100_000).concat();
    let input = std::env::temp_dir().join(format!("{db}.jsonl"));
    std::fs::write(&input, &lines).unwrap();
    for _ in 0..2 {
        let status = ls_store(&uri, &db)
            .stdin(std::fs::File::open(&input).unwrap())
            .status()
            .unwrap();
        assert!(status.success());
    }
    std::fs::remove_file(&input).unwrap();
    assert_exactly(&logs(&uri, &db).await, 100_000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_mid_batch_loses_and_duplicates_nothing() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = common::unique_name("store-kill");
    let lsn_dir = tempfile::tempdir().unwrap();
    let total = 60_000u64;
    let lines = stream(total);
    let coll = logs(&uri, &db).await;
    let resume_point = || {
        Snapshot::read(lsn_dir.path())
            .unwrap()
            .get(FID)
            .map_or(0, |p| p.lsn)
    };
    for round in 0..4 {
        // Like ls-tail: resume after the last line the LSN store calls safe.
        let resume = resume_point();
        let mut child = ls_store(&uri, &db)
            .args(["--batch", "1000", "--lsn-dir"])
            .arg(lsn_dir.path())
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        let feeder = feed(&mut child, lines[resume as usize..].to_vec());
        let before = coll.count_documents(doc! {}).await.unwrap();
        let start = Instant::now();
        while coll.count_documents(doc! {}).await.unwrap() < before + 3_000 {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "ls-store stored nothing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        feeder.join().unwrap();
        let safe = resume_point();
        assert!(safe >= resume, "round {round}: the LSN position went back");
        // Everything the LSN store calls safe is stored.
        assert_eq!(
            coll.count_documents(doc! {"origin.lsn": {"$lte": safe as i64}})
                .await
                .unwrap(),
            safe,
            "round {round}: lines up to {safe} are not all stored"
        );
    }
    let resume = resume_point();
    assert!(
        resume < total,
        "the kills came too late to interrupt anything"
    );
    let mut child = ls_store(&uri, &db)
        .arg("--lsn-dir")
        .arg(lsn_dir.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    feed(&mut child, lines[resume as usize..].to_vec())
        .join()
        .unwrap();
    wait_success(&mut child, Duration::from_secs(120));
    assert_eq!(resume_point(), total);
    assert_exactly(&coll, total).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_aborted_transaction_leaves_nothing() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let target = Target {
        uri: uri.clone(),
        db: common::unique_name("store-txn"),
        collection: "logs".into(),
    };
    let store = Store::open(&target, &WriterOptions::default())
        .await
        .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let docs: Vec<mongodb::bson::RawDocumentBuf> = (1..=50)
        .map(|lsn| {
            to_document(&record(
                lsn,
                at,
                Level::Error,
                "db-1",
                "error",
                "replica down",
            ))
        })
        .collect();
    let progress = [Progress {
        key: "group/logs.error/0".into(),
        offset: 50,
    }];
    let progress_coll: Collection<Document> = store
        .logs()
        .client()
        .database(&target.db)
        .collection(PROGRESS_COLLECTION);

    // Half-way: the first half inserted and progress recorded, then aborted.
    let mut txn = store.begin().await.unwrap();
    txn.insert(&docs[..25]).await.unwrap();
    txn.record_progress(&progress).await.unwrap();
    assert_eq!(
        store.logs().count_documents(doc! {}).await.unwrap(),
        0,
        "uncommitted writes are visible outside the transaction"
    );
    txn.abort().await.unwrap();
    assert_eq!(store.logs().count_documents(doc! {}).await.unwrap(), 0);
    assert_eq!(progress_coll.count_documents(doc! {}).await.unwrap(), 0);

    // Dropped mid-way (as by a crash): nothing either.
    let mut txn = store.begin().await.unwrap();
    txn.insert(&docs[25..]).await.unwrap();
    drop(txn);
    assert_eq!(store.logs().count_documents(doc! {}).await.unwrap(), 0);
    assert_eq!(store.stored_progress(&progress[0].key).await.unwrap(), None);

    // Committed: all of it, with the progress; again: nothing new.
    let outcome = store
        .insert_critical(docs.clone(), &progress)
        .await
        .unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (50, 0));
    assert_eq!(store.logs().count_documents(doc! {}).await.unwrap(), 50);
    assert_eq!(
        store.stored_progress(&progress[0].key).await.unwrap(),
        Some(50)
    );
    let outcome = store.insert_critical(docs, &progress).await.unwrap();
    assert_eq!((outcome.inserted, outcome.duplicates), (0, 50));
}

#[tokio::test(flavor = "multi_thread")]
async fn refused_documents_go_to_the_dead_letter_file() {
    let Some(uri) = common::mongo_uri() else {
        return;
    };
    let db = common::unique_name("store-dead");
    let client = Client::with_uri_str(&uri).await.unwrap();
    client
        .database(&db)
        .create_collection("logs")
        .validator(doc! {"message": {"$not": {"$regex": "poison"}}})
        .await
        .unwrap();
    let at = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let mut input = Vec::new();
    for (lsn, level, message) in [
        (1, Level::Info, "fine"),
        (2, Level::Info, "poison pill"),
        (3, Level::Critical, "poison critical"),
        (4, Level::Critical, "fine critical"),
    ] {
        write_record(&record(lsn, at, level, "web-1", "app", message), &mut input);
    }
    let dir = tempfile::tempdir().unwrap();
    let input_path = dir.path().join("input.jsonl");
    std::fs::write(&input_path, &input).unwrap();

    let output = ls_store(&uri, &db)
        .stdin(std::fs::File::open(&input_path).unwrap())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(1),
        "without --dead-letter a refusal stops"
    );
    assert!(String::from_utf8_lossy(&output.stderr).contains("--dead-letter"));

    let dead = dir.path().join("dead.jsonl");
    let status = ls_store(&uri, &db)
        .arg("--dead-letter")
        .arg(&dead)
        .stdin(std::fs::File::open(&input_path).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let coll = logs(&uri, &db).await;
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 2);
    let dead_lines: Vec<serde_json::Value> = std::fs::read_to_string(&dead)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut messages: Vec<&str> = dead_lines
        .iter()
        .map(|d| d["document"]["message"].as_str().unwrap())
        .collect();
    messages.sort();
    assert_eq!(messages, ["poison critical", "poison pill"]);
    assert!(
        dead_lines
            .iter()
            .all(|d| d["reason"].as_str().unwrap().contains("validation"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn mongodb_stopped_and_restarted_mid_stream_loses_nothing() {
    // Only where the shared services run: this test starts its own mongod beside them.
    if common::mongo_uri().is_none() {
        return;
    }
    let mongo = PrivateService::start("mongo");
    let uri = mongo.env("LOGSPHERE_MONGO_URI");
    let db = common::unique_name("store-restart");
    let lines = stream(30_000);
    let mut child = ls_store(&uri, &db)
        .args(["--batch", "500", "--linger-ms", "20"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let coll = logs(&uri, &db).await;
    for line in &lines[..10_000] {
        stdin.write_all(line).unwrap();
    }
    stdin.flush().unwrap();
    let start = Instant::now();
    while coll.count_documents(doc! {}).await.unwrap() < 1_000 {
        assert!(start.elapsed() < Duration::from_secs(60), "nothing stored");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mongo.down();
    // Written while MongoDB is down: ls-store must hold them and retry.
    let writer = std::thread::spawn(move || {
        for line in &lines[10_000..] {
            stdin.write_all(line).unwrap();
        }
    });
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        child.try_wait().unwrap().is_none(),
        "ls-store gave up while MongoDB was down"
    );
    mongo.up();
    writer.join().unwrap();
    wait_success(&mut child, Duration::from_secs(180));
    assert_exactly(&coll, 30_000).await;
}

/// Known data for the query tests: six records around 10:00 on 2026-11-20, and one from five
/// minutes ago.
async fn query_fixture() -> Option<(String, String, Collection<Document>)> {
    let uri = common::mongo_uri()?;
    let db = common::unique_name("store-query");
    let ten = Utc.with_ymd_and_hms(2026, 11, 20, 10, 0, 0).unwrap();
    let at = |m: i64, s: i64| ten + chrono::Duration::seconds(m * 60 + s);
    let records = [
        record(
            1,
            at(0, 0),
            Level::Info,
            "web-1",
            "access",
            "GET /index 200",
        ),
        record(
            2,
            at(0, 30),
            Level::Error,
            "web-1",
            "error",
            "disk full on /var",
        ),
        record(3, at(1, 10), Level::Warn, "web-2", "app", "slow query 2s"),
        record(
            4,
            at(2, 0),
            Level::Critical,
            "db-1",
            "error",
            "replica down",
        ),
        record(
            5,
            at(2, 30),
            Level::Error,
            "web-2",
            "error",
            "disk full on /tmp",
        ),
        record(6, at(5, 0), Level::Info, "db-1", "app", "checkpoint done"),
        record(
            7,
            Utc::now() - chrono::Duration::minutes(5),
            Level::Debug,
            "recent",
            "app",
            "just now",
        ),
    ];
    let target = Target {
        uri: uri.clone(),
        db: db.clone(),
        collection: "logs".into(),
    };
    let store = Store::open(&target, &WriterOptions::default())
        .await
        .unwrap();
    logsphere::mongo::indexes::ensure(&store.logs(), &Default::default())
        .await
        .unwrap();
    store
        .insert_bulk(records.iter().map(to_document).collect())
        .await
        .unwrap();
    Some((uri, db, store.logs()))
}

fn lsns(ids: &[String]) -> Vec<u64> {
    ids.iter()
        .map(|id| (1..=7).find(|&l| &line_id(FID, l) == id).unwrap())
        .collect()
}

async fn found(coll: &Collection<Document>, query: &Query) -> Vec<u64> {
    let mut ids = Vec::new();
    query
        .find(coll, |r| {
            ids.push(r.id);
            Ok(())
        })
        .await
        .unwrap();
    lsns(&ids)
}

fn time(text: &str) -> Option<DateTime<Utc>> {
    Some(logsphere::cli::time::parse_time(text, Utc::now()).unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn queries_filter_count_and_group_known_data() {
    let Some((uri, db, coll)) = query_fixture().await else {
        return;
    };
    let window = Query {
        since: time("2026-11-20T10:01Z"),
        until: time("2026-11-20T10:03:00Z"),
        ..Query::default()
    };
    assert_eq!(found(&coll, &window).await, [3, 4, 5]);
    let errors = Query {
        levels: Some(parse_levels("ERROR+").unwrap()),
        ..Query::default()
    };
    assert_eq!(found(&coll, &errors).await, [2, 4, 5]);
    assert_eq!(errors.count(&coll).await.unwrap(), 3);
    let web2_errors = Query {
        source: Some("web-2".into()),
        ..errors.clone()
    };
    assert_eq!(found(&coll, &web2_errors).await, [5]);
    let disk = Query {
        grep: Some("disk full on /(var|tmp)".into()),
        category: Some("error".into()),
        ..Query::default()
    };
    assert_eq!(found(&coll, &disk).await, [2, 5]);
    let first_two = Query {
        limit: Some(2),
        ..Query::default()
    };
    assert_eq!(found(&coll, &first_two).await, [1, 2]);
    let recent = Query {
        since: time("15m"),
        ..Query::default()
    };
    assert_eq!(found(&coll, &recent).await, [7]);

    let by_level = Query::default().stats(&coll, StatsBy::Level).await.unwrap();
    let expected: Vec<(String, u64)> = [
        ("CRITICAL", 1),
        ("DEBUG", 1),
        ("ERROR", 2),
        ("INFO", 2),
        ("WARN", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(by_level, expected);
    let by_minute = Query {
        until: time("2026-11-20T11:00Z"),
        ..Query::default()
    }
    .stats(&coll, StatsBy::Minute)
    .await
    .unwrap();
    let expected: Vec<(String, u64)> = [
        ("2026-11-20T10:00Z", 2),
        ("2026-11-20T10:01Z", 1),
        ("2026-11-20T10:02Z", 2),
        ("2026-11-20T10:05Z", 1),
    ]
    .into_iter()
    .map(|(k, n)| (k.to_string(), n))
    .collect();
    assert_eq!(by_minute, expected);
    let by_source = errors.stats(&coll, StatsBy::Source).await.unwrap();
    assert_eq!(
        by_source,
        [
            ("db-1".to_string(), 1),
            ("web-1".to_string(), 1),
            ("web-2".to_string(), 1)
        ]
    );

    // The same through the command line: flags, time parsing, JSON lines and the table.
    let output = ls_store(&uri, &db)
        .args([
            "query",
            "--since",
            "2026-11-20T10:01Z",
            "--until",
            "2026-11-20T10:03Z",
            "--level",
            "ERROR+",
        ])
        .output()
        .unwrap();
    assert!(output.status.success());
    let ids: Vec<String> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(lsns(&ids), [4, 5]);
    let output = ls_store(&uri, &db)
        .args(["query", "--stats-by", "source", "--level", "ERROR+"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        "{\"source\":\"db-1\",\"count\":1}\n{\"source\":\"web-1\",\"count\":1}\n{\"source\":\"web-2\",\"count\":1}\n"
    );
    let output = ls_store(&uri, &db)
        .args(["query", "--count", "--grep", "disk", "--table"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), "2\n");
    let output = ls_store(&uri, &db)
        .args(["query", "--since", "tomorrow"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "a bad time is a usage error");
}

#[tokio::test(flavor = "multi_thread")]
async fn time_bounded_queries_scan_an_index_not_the_collection() {
    let Some((_, _, coll)) = query_fixture().await else {
        return;
    };
    let since = time("2026-11-20T10:01Z");
    let until = time("2026-11-20T10:03Z");
    for query in [
        Query {
            since,
            until,
            ..Query::default()
        },
        Query {
            since,
            levels: Some(parse_levels("ERROR+").unwrap()),
            ..Query::default()
        },
        Query {
            since,
            until,
            source: Some("web-2".into()),
            grep: Some("disk".into()),
            ..Query::default()
        },
    ] {
        let explain = query.explain(&coll).await.unwrap();
        let stages = plan_stages(&explain);
        assert!(
            stages.iter().any(|s| s == "IXSCAN"),
            "{query:?}: {stages:?}"
        );
        assert!(
            !stages.iter().any(|s| s == "COLLSCAN"),
            "{query:?}: {stages:?}"
        );
        let bounds = timestamp_bounds(&explain);
        assert!(
            !bounds.is_empty() && !bounds.contains("MinKey, MaxKey"),
            "{query:?}: the scan is not bounded by time: {bounds}"
        );
    }
    // The check can fail: without a time range the index is only walked for the sort order,
    // from end to end.
    let unbounded = Query {
        grep: Some("disk".into()),
        ..Query::default()
    };
    let bounds = timestamp_bounds(&unbounded.explain(&coll).await.unwrap());
    assert!(bounds.contains("MinKey, MaxKey"), "{bounds}");
}

/// The bounds on `timestamp` of the index scans in the winning plan, as text.
fn timestamp_bounds(explain: &Document) -> String {
    fn walk(value: &mongodb::bson::Bson, out: &mut String) {
        use mongodb::bson::Bson;
        match value {
            Bson::Document(d) => {
                if let Ok(bounds) = d.get_document("indexBounds")
                    && let Some(timestamp) = bounds.get("timestamp")
                {
                    out.push_str(&timestamp.to_string());
                }
                d.iter().for_each(|(_, v)| walk(v, out));
            }
            Bson::Array(items) => items.iter().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = String::new();
    let winning = explain
        .get_document("queryPlanner")
        .and_then(|p| p.get_document("winningPlan"))
        .unwrap();
    walk(&mongodb::bson::Bson::Document(winning.clone()), &mut out);
    out
}

/// Creates `topic` with `partitions` partitions and produces `lines` to it round-robin (see
/// `common::kafka::produce`).
async fn produce(brokers: &str, topic: &str, partitions: i32, lines: &[Vec<u8>]) {
    common::kafka::create_topic(brokers, topic, partitions).await;
    let payloads: Vec<&[u8]> = lines.iter().map(|l| l.trim_ascii_end()).collect();
    common::kafka::produce(brokers, topic, partitions, &payloads).await;
}

/// The services and unique names of one test of ls-store in a consumer group.
struct KafkaCase {
    uri: String,
    brokers: String,
    db: String,
    topic: String,
    group: String,
}

impl KafkaCase {
    /// `None` (the test skips) when MongoDB or Kafka is not configured.
    fn new(name: &str) -> Option<KafkaCase> {
        let (Some(uri), Some(brokers)) = (common::mongo_uri(), common::brokers()) else {
            return None;
        };
        Some(KafkaCase {
            uri,
            brokers,
            db: common::unique_name(name),
            topic: common::unique_name(name),
            group: common::unique_name(&format!("{name}-group")),
        })
    }
}

/// The progress ls-store stored for each partition of `topic` (0 where none).
async fn stored_progress(
    coll: &Collection<Document>,
    group: &str,
    topic: &str,
    partitions: i32,
) -> Vec<i64> {
    let progress: Collection<Document> = coll
        .client()
        .database(coll.namespace().db.as_str())
        .collection(PROGRESS_COLLECTION);
    let mut offsets = Vec::new();
    for partition in 0..partitions {
        let key = format!("{group}/{topic}/{partition}");
        let found = progress.find_one(doc! {"_id": &key}).await.unwrap();
        offsets.push(found.map_or(0, |d| d.get_i64("offset").unwrap()));
    }
    offsets
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_while_consuming_kafka_stores_every_record_once() {
    let Some(KafkaCase {
        uri,
        brokers,
        db,
        topic,
        group,
    }) = KafkaCase::new("store-kafka")
    else {
        return;
    };
    let (total, partitions) = (100_000u64, 3);
    produce(&brokers, &topic, partitions, &stream(total)).await;
    let coll = logs(&uri, &db).await;
    // Static membership: a restart takes the killed member's place at once. Without it the
    // broker keeps the dead member in the group and the new one waits for its assignment
    // until the dead one's session expires (this test broker never expires it).
    let instance = format!("group.instance.id={group}");
    let consume = || {
        let mut command = ls_store(&uri, &db);
        command
            .args(["--brokers", &brokers, "--topic", &topic, "--group", &group])
            .args(["--batch", "2000", "-X", &instance])
            .stdin(Stdio::null());
        command
    };
    for round in 0..3 {
        let before = coll.count_documents(doc! {}).await.unwrap();
        let mut child = KillOnDrop(consume().spawn().unwrap());
        let start = Instant::now();
        while coll.count_documents(doc! {}).await.unwrap() < before + 15_000 {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "round {round}: the restarted ls-store stored nothing"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.0.kill().unwrap(); // SIGKILL, with batches in flight
        child.0.wait().unwrap();
        // Stored progress means that everything before it is stored: the record at offset `o`
        // of partition `p` is line `o * partitions + p + 1`.
        let progress = stored_progress(&coll, &group, &topic, partitions).await;
        for (partition, &offset) in progress.iter().enumerate() {
            let stored_below = coll
                .count_documents(doc! {"$and": [
                    {"origin.lsn": {"$mod": [partitions as i64, (partition as i64 + 1) % partitions as i64]}},
                    {"origin.lsn": {"$lte": offset * partitions as i64}},
                ]})
                .await
                .unwrap();
            assert_eq!(
                stored_below, offset as u64,
                "round {round}: partition {partition} has progress {offset} but not all records before it"
            );
        }
    }
    assert!(
        coll.count_documents(doc! {}).await.unwrap() < total,
        "the kills came too late to interrupt anything"
    );
    let mut child = KillOnDrop(consume().arg("--exit-at-end").spawn().unwrap());
    wait_success(&mut child.0, Duration::from_secs(60));
    assert_exactly(&coll, total).await;
    // The stored progress is the end of the topic.
    let lookup: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .create()
        .unwrap();
    let ends: Vec<i64> = (0..partitions)
        .map(|p| {
            lookup
                .fetch_watermarks(&topic, p, Duration::from_secs(10))
                .unwrap()
                .1
        })
        .collect();
    assert_eq!(ends.iter().sum::<i64>(), total as i64);
    assert_eq!(
        stored_progress(&coll, &group, &topic, partitions).await,
        ends
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_consumer_resumes_at_the_progress_stored_in_mongodb_when_it_is_ahead() {
    let Some(KafkaCase {
        uri,
        brokers,
        db,
        topic,
        group,
    }) = KafkaCase::new("store-resume")
    else {
        return;
    };
    produce(&brokers, &topic, 1, &stream(1_000)).await;
    let target = Target {
        uri: uri.clone(),
        db: db.clone(),
        collection: "logs".into(),
    };
    let store = Store::open(&target, &WriterOptions::default())
        .await
        .unwrap();
    // As a run killed after the transaction of offset 599 and before its Kafka commit leaves it.
    let progress = [Progress {
        key: format!("{group}/{topic}/0"),
        offset: 600,
    }];
    store.insert_critical(Vec::new(), &progress).await.unwrap();
    let mut child = KillOnDrop(
        ls_store(&uri, &db)
            .args(["--brokers", &brokers, "--topic", &topic, "--group", &group])
            .arg("--exit-at-end")
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_success(&mut child.0, Duration::from_secs(30));
    // Offsets 600..1000 are lines 601..=1000: nothing before was read again.
    let coll = logs(&uri, &db).await;
    assert_eq!(coll.count_documents(doc! {}).await.unwrap(), 400);
    assert_eq!(
        coll.count_documents(doc! {"origin.lsn": {"$gt": 600}})
            .await
            .unwrap(),
        400
    );
    assert_eq!(stored_progress(&coll, &group, &topic, 1).await, [1_000]);
}
