"""ls-roll (issue 8) against plain copies of the same bytes: `dd conv=fsync` and `cat` + fsync
into a local directory, Hadoop's own `FsShell -put` into HDFS."""

import os
import shutil
import time
from dataclasses import replace

from . import data
from .measure import proc_cpu_seconds, run
from .prepare import service_pids
from .report import Row, Section, Verdict

TARGET_LOCAL_MIB_PER_CPU = 500
TARGET_HDFS_RATIO = 0.8
EVENT_SLICE = 64 << 20
# The rows the targets are judged on run this many times, alternated with their peer's, and
# the best of each is kept: this machine is shared, and one run can be slowed by the others.
RUNS = 3
SETTLE_SECONDS = 2


def run_bench(ctx):
    records = ctx.records_head("roll.jsonl", max_bytes=ctx.sizes.roll)
    roll = ctx.bin("ls-roll")
    out = ctx.path("roll-out")
    archive = [roll, "-q", "--by", "arrival", "--out"]

    def measured(what, argv, *, stdin=None, peer=None, server=(), sample=records):
        data.warm(sample.path)
        # The last run's files were just deleted: let the kernel finish with them (writeback,
        # the journal) before this run starts, rather than on the cores it runs on.
        os.sync()
        time.sleep(SETTLE_SECONDS)
        before = proc_cpu_seconds(server)
        cost = run(argv, stdin=stdin or os.devnull)
        row = Row(what, cost, sample.lines, sample.bytes, peer=peer,
                  server_cpu=proc_cpu_seconds(server) - before if server else None)
        shutil.rmtree(out, ignore_errors=True)
        return row

    def best_of_alternated(key, *runs):
        """Each of `runs` (a function measuring a row) `RUNS` times, in turn; the best row of
        each by `key`."""
        rows = [[run() for run in runs] for _ in range(RUNS)]
        return [min(column, key=key) for column in zip(*rows)]

    copy = out / "copy.jsonl"
    def local_copy(what, script):
        out.mkdir()
        return measured(what, ["sh", "-c", script, "sh", records.path, copy])

    dd_script = 'dd if="$1" of="$2" bs=4M conv=fsync status=none'
    dd, local = best_of_alternated(
        lambda row: row.cost.cpu,
        lambda: local_copy("`dd bs=4M conv=fsync`", dd_script),
        lambda: measured("ls-roll, local dir, JSON lines", [*archive, out], stdin=records.path))
    local = replace(local, peer=dd)
    cat = local_copy("`cat` + `sync FILE` (fsync)", 'cat "$1" > "$2" && sync "$2"')
    gzip = measured("ls-roll, local dir, JSON lines + gzip", [*archive, out, "--gzip"],
                    stdin=records.path, peer=dd)
    # Dated by event the archive keeps a file per date open: a slice is enough to show it.
    slice_of = data.head(records, ctx.path("roll-event.jsonl"), max_bytes=min(records.bytes, EVENT_SLICE))
    by_event = measured(f"ls-roll, local dir, JSON lines, `--by event` (first {slice_of.mib:.0f} MiB)",
                        [roll, "-q", "--out", out], stdin=slice_of.path, peer=dd, sample=slice_of)
    section = Section(
        "ls-roll vs dd, cat and FsShell -put",
        method=(f"{records.mib:.0f} MiB of ls-tail's records ({records.lines:,} records, two "
                "categories) in the page cache, archived by ls-roll with `--by arrival` and "
                "otherwise default flags (`--max-size 128MiB`, `--sync-interval 1s`), against "
                "plain copies of the same file made in the same run. `--by arrival` so that the "
                "rows measure the writing alone: the loghub samples were logged on dozens of dates "
                "years apart and come interleaved, so dated by event (the default; one local row "
                "shows it) the archive keeps a file open per date and category, and into HDFS each "
                "file is a creation and a completion round trip. The ratios compare with `dd conv=fsync` locally and "
                "with `FsShell -put` (Hadoop 2.7.3's client, the extracted jars of "
                "`scripts/services`, one JVM) for HDFS. Server CPU is the NameNode's and "
                f"DataNode's. The rows the targets are judged on run {RUNS} times each, in turn "
                "with their peer's, and the best run of each is shown: locally the one that took "
                "the least CPU (ls-roll's and dd's), into HDFS the fastest (ls-roll's and "
                f"FsShell's). Every run starts after a `sync` and a {SETTLE_SECONDS} s pause, so "
                "that the kernel's writeback of the files the last run wrote and deleted does not "
                "run on the same cores."),
        rows=[local, gzip, by_event, dd, cat])
    section.verdicts.append(Verdict(
        "ls-roll", f"≥ {TARGET_LOCAL_MIB_PER_CPU} MiB/s of records locally on one core",
        f"{local.mib_per_cpu:.1f} MiB per CPU-s ({local.mib_s:.0f} MiB/s wall; dd "
        f"{dd.mib_s:.0f} MiB/s)", local.mib_per_cpu >= TARGET_LOCAL_MIB_PER_CPU))
    hdfs = service_pids("hdfs")
    base = ctx.hdfs_base
    runs = iter(range(2 * RUNS))  # a fresh HDFS path for each run
    put, into_hdfs = best_of_alternated(
        lambda row: row.cost.wall,
        lambda: measured("`FsShell -put`, HDFS",
                         ctx.fsshell_argv("-put", records.path, f"{base}/put-{next(runs)}.jsonl"),
                         server=hdfs),
        lambda: measured("ls-roll, HDFS, JSON lines",
                         [*archive, os.environ["LOGSPHERE_HDFS_URI"] + f"{base}/roll-{next(runs)}"],
                         stdin=records.path, server=hdfs))
    into_hdfs = replace(into_hdfs, peer=put)
    section.rows[3:3] = [into_hdfs, put]
    ratio = into_hdfs.mib_s / put.mib_s
    section.verdicts.append(Verdict(
        "ls-roll", f"≥ {TARGET_HDFS_RATIO}× `FsShell -put` into HDFS (wall)",
        f"{ratio:.2f}× ({into_hdfs.mib_s:.0f} vs {put.mib_s:.0f} MiB/s)", ratio >= TARGET_HDFS_RATIO))
    return section
