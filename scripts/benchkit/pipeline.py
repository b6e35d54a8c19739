"""The whole pipeline end to end: `ls-tail | ls-ship` into Kafka, ls-store (MongoDB) and ls-roll
(HDFS) consuming the topics in their own consumer groups, all at the same time."""

import os
import subprocess
import time

from . import data
from .measure import BenchError, Cost, Proc, proc_cpu_seconds, wait_until
from .prepare import service_pids
from .report import Row, Section

CATEGORIES = ("default", "error")
CATCH_UP_TIMEOUT = 1800


def archived_lines(ctx, directory):
    proc = Proc(ctx.fsshell_argv("-cat", f"{directory}/*/*"), stdout=subprocess.PIPE)
    lines = 0
    while chunk := proc.popen.stdout.read(data.CHUNK):
        lines += chunk.count(b"\n")
    proc.wait()
    return lines


def run_bench(ctx):
    source = data.head(ctx.corpus, ctx.path("pipeline.log"), max_lines=ctx.sizes.pipeline)
    data.warm(source.path)
    brokers = os.environ["LOGSPHERE_BROKERS"]
    topic = f"{ctx.prefix}-e2e"
    topics = [f"{topic}.{category}" for category in CATEGORIES]
    ctx.kafka.create(topics, partitions=1)
    database = f"{ctx.prefix}-e2e"
    mongo = ctx.mongo  # before ls-store creates the database, so that cleanup drops it
    archive = f"{ctx.hdfs_base}/e2e"
    consume = ["--brokers", brokers, "--topic", ",".join(topics), "--from", "beginning"]
    servers = {name: service_pids(name) for name in ("kafka", "mongo", "hdfs")}
    servers_before = {name: proc_cpu_seconds(pids) for name, pids in servers.items()}

    start = time.monotonic()
    store = Proc([ctx.bin("ls-store"), "-q", *consume, "--group", f"{topic}-store",
                  "--mongo", os.environ["LOGSPHERE_MONGO_URI"], "--db", database], timed=False)
    roll = Proc([ctx.bin("ls-roll"), "-q", *consume, "--group", f"{topic}-roll",
                 "--by", "arrival", "--out", os.environ["LOGSPHERE_HDFS_URI"] + archive], timed=False)
    lsn = ctx.path("e2e-lsn")
    tail = Proc([ctx.bin("ls-tail"), "--once", "-q", "--lsn-dir", lsn, "--lsn-commit", "downstream",
                 "--category-rule", "error:level>=ERROR", source.path], stdout=subprocess.PIPE)
    ship = Proc([ctx.bin("ls-ship"), "-q", "--brokers", brokers, "--lsn-dir", lsn,
                 "--topic-template", f"{topic}.{{category}}"], stdin=tail.popen.stdout)
    tail.popen.stdout.close()
    tail_cost, ship_cost = tail.wait(), ship.wait()
    wait_until(lambda: all(ctx.kafka.caught_up(f"{topic}-{stage}", topics) for stage in ("store", "roll")),
               timeout=CATCH_UP_TIMEOUT, what="ls-store and ls-roll to commit every record",
               alive=[store, roll])
    wall = time.monotonic() - start
    store_cost, roll_cost = store.stop(check=True), roll.stop(check=True)
    servers_cpu = {name: proc_cpu_seconds(pids) - servers_before[name] for name, pids in servers.items()}

    stored = mongo[database]["logs"].count_documents({})
    archived = archived_lines(ctx, archive)
    if (stored, archived) != (source.lines, source.lines):
        raise BenchError(f"{source.lines} lines in, {stored} in MongoDB, {archived} in the HDFS archive")
    tools = [tail_cost, ship_cost, store_cost, roll_cost]
    whole = Cost(wall, sum(c.user for c in tools), sum(c.sys for c in tools),
                 max(c.peak_rss for c in tools), os.getloadavg()[0])
    rows = [Row("whole pipeline: every line stored and archived", whole, source.lines, source.bytes,
                server_cpu=sum(servers_cpu.values()))]
    rows += [Row(what, cost, source.lines, source.bytes) for what, cost in (
        ("ls-tail (until its input was read)", tail_cost), ("ls-ship (until all acknowledged)", ship_cost),
        ("ls-store (until stopped)", store_cost), ("ls-roll (until stopped)", roll_cost))]
    return Section(
        "The whole pipeline",
        method=(f"{source.lines:,} lines of the corpus ({source.mib:.1f} MiB) through `ls-tail "
                "--lsn-commit downstream | ls-ship --lsn-dir` into two topics (categories "
                "`default` and `error`, one partition each: one source), while ls-store (MongoDB) and ls-roll "
                "(HDFS, `--by arrival`, see ls-roll) consume them in their own consumer groups; all on the same two cores as the "
                "three servers. The clock runs from the start of the consumers until both groups "
                "have committed the end of every partition (they commit only what is durable); "
                f"then every line was checked to be once in MongoDB ({stored:,}) and in the HDFS "
                f"archive ({archived:,}). Lines/s: **{source.lines / wall:,.0f}**. The whole "
                "pipeline's CPU is the sum of the four tools'; its peak RSS is the largest; the "
                "servers' CPU ("
                + ", ".join(f"{name} {cpu:.1f} s" for name, cpu in servers_cpu.items())
                + ") is summed in the server column. Consumers' rows run to when they were stopped, so their "
                "MiB/s is a lower bound."),
        rows=rows)
