"""ls-tail (issue 4) against rsyslog's imfile on the same corpus, with 1,000 and 10,000 files,
and its CPU while following 10,000 files that do not change."""

import time

from . import data
from .measure import CLEANUP, Proc, proc_cpu_seconds, proc_status_kib, run, wait_until, with_wall
from .report import MIB, Row, Section, Verdict

RSYSLOG_CONF = """\
# A private instance: no system inputs, nothing but the benchmark's file in and out.
global(workDirectory="{work}")
module(load="imfile" mode="inotify")
template(name="line" type="string" string="%msg%\\n")
ruleset(name="bench") {{
  action(type="omfile" file="{out}" template="line")
}}
input(type="imfile" file="{input}" tag="bench" ruleset="bench")
"""
RSYSLOG_TIMEOUT = 1800
TARGET_MIB_S = 300
TARGET_RSS = 100e6
TARGET_IDLE = 0.01


def rsyslog(ctx, corpus):
    """rsyslogd -n with imfile on the corpus and omfile to a file; its time is from start to the
    last line written, its CPU and peak RSS are the daemon's (all threads)."""
    work = ctx.path("rsyslog")
    (work / "state").mkdir(parents=True)
    out = work / "out.log"
    conf = work / "rsyslog.conf"
    conf.write_text(RSYSLOG_CONF.format(work=work / "state", out=out, input=corpus.path))
    counter = data.LineCounter(out)
    CLEANUP.push("close rsyslog's output", counter.close)
    daemon = Proc(["rsyslogd", "-n", "-f", conf, "-i", work / "rsyslogd.pid"], timed=False)
    wait_until(lambda: counter.count() >= corpus.lines, timeout=RSYSLOG_TIMEOUT,
               what=f"rsyslog to write {corpus.lines} lines", alive=[daemon])
    wall = time.monotonic() - daemon.started
    return with_wall(daemon.stop(), wall)


def idle(ctx, tail, directory, seconds):
    """CPU share and RSS of ls-tail following `directory` after it has read everything."""
    lsn = ctx.path("idle-lsn")
    run([tail, "--once", "-q", "--lsn-dir", lsn, directory])
    follower = Proc([tail, "-q", "--lsn-dir", lsn, directory], timed=False)
    time.sleep(3)  # past the start-up scan
    before = proc_cpu_seconds([follower.pid])
    time.sleep(seconds)
    share = (proc_cpu_seconds([follower.pid]) - before) / seconds
    rss = proc_status_kib(follower.pid, "VmRSS") * 1024
    follower.stop(check=True)
    return share, rss


def run_bench(ctx):
    corpus = ctx.corpus
    tail = ctx.bin("ls-tail")
    section = Section("ls-tail vs rsyslog imfile")
    data.warm(corpus.path)
    peer = Row("rsyslogd imfile → omfile (raw lines to a file)", rsyslog(ctx, corpus),
               corpus.lines, corpus.bytes)
    data.warm(corpus.path)
    ours = Row("ls-tail --once → /dev/null (JSON records)", run([tail, "--once", "-q", corpus.path]),
               corpus.lines, corpus.bytes, peer=peer)
    section.rows += [ours, peer]
    many = {}
    for files in (1000, 10000):
        directory = data.split(corpus, ctx.path(f"files{files}"), files, ctx.sizes.many_files)
        data.warm(directory.path)
        many[files] = Row(f"ls-tail --once, {files:,} files of {directory.mib / files * 1024:.0f} KiB",
                          run([tail, "--once", "-q", directory.path]), directory.lines, directory.bytes)
        section.rows.append(many[files])
    share, idle_rss = idle(ctx, tail, ctx.path("files10000"), ctx.sizes.idle_seconds)
    section.method = (
        f"The corpus: {corpus.mib:.0f} MiB, {corpus.lines:,} lines, in the page cache. ls-tail "
        "reads it once (`--once`, automatic format detection, JSON records to /dev/null). "
        "The peer is a private `rsyslogd -n` (its own config, pid file and state directory, no "
        "system inputs) with `imfile` on the same file and `omfile` writing the raw lines to a "
        "file; its time runs from its start to the last line in its output, its CPU and peak "
        "RSS are the daemon's. The many-files rows spread the first "
        f"{ctx.sizes.many_files / MIB:.0f} MiB of the corpus over 1,000 and 10,000 files "
        "(default `--max-open-files 1024`).")
    section.notes.append(
        f"Idle: ls-tail following the 10,000 files after reading them (positions stored, nothing "
        f"written) used **{share * 100:.2f} %** of one core over {ctx.sizes.idle_seconds} s, "
        f"RSS {idle_rss / MIB:.1f} MiB.")
    rss_10k = max(many[10000].cost.peak_rss, idle_rss)
    section.verdicts = [
        Verdict("ls-tail", f"≥ {TARGET_MIB_S} MiB/s on one file (wall)",
                f"{ours.mib_s:.0f} MiB/s ({ours.mib_per_cpu:.0f} per CPU-s; "
                f"{ours.ratio()[0]:.2f}× rsyslog)", ours.mib_s >= TARGET_MIB_S),
        Verdict("ls-tail", "RSS < 100 MB with 10,000 files", f"{rss_10k / 1e6:.0f} MB",
                rss_10k < TARGET_RSS),
        Verdict("ls-tail", "idle CPU < 1 %", f"{share * 100:.2f} %", share < TARGET_IDLE),
    ]
    return section
