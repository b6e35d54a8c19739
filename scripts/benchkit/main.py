"""The command line of `scripts/bench` and the order of a run."""

import argparse
import datetime
import os
import platform
import signal
import time

from . import context, data, pipeline, prepare, report, roll, ship, store, tail, watch
from .measure import CLEANUP, GNU_TIME, BenchError, LoadSampler, run, say

MIB = report.MIB
# Each benchmark: what it runs, the services and Debian packages it needs, the cargo benches.
BENCHMARKS = {
    "tail": (tail.run_bench, [], {"rsyslogd": "rsyslog"}, []),
    "ship": (ship.run_bench, ["kafka"], {"kcat": "kcat"}, []),
    "store": (store.run_bench, ["mongo"], {}, []),
    "roll": (roll.run_bench, ["hdfs"], {}, []),
    "watch": (watch.run_watch, [], {}, ["watch"]),
    "parse": (watch.run_parse, [], {}, ["parse"]),
    "pipeline": (pipeline.run_bench, ["kafka", "mongo", "hdfs"], {}, []),
}


def arguments(argv):
    parser = argparse.ArgumentParser(
        prog="scripts/bench",
        description="Measures every LogSphere tool against a peer on the same data in the same run "
                    "and writes BENCHMARKS.md.")
    parser.add_argument("--quick", action="store_true",
                        help="small sizes, to check the script itself in a minute or two")
    parser.add_argument("--only", metavar="LIST", default=",".join(BENCHMARKS),
                        help=f"comma-separated subset of: {','.join(BENCHMARKS)}")
    parser.add_argument("--output", metavar="FILE", default=str(prepare.REPO / "BENCHMARKS.md"),
                        help="where to write the page (default: BENCHMARKS.md of the repository)")
    parser.add_argument("--keep-work", action="store_true",
                        help="keep the work directory (corpus, records, outputs) for a look")
    args = parser.parse_args(argv)
    args.only = [key.strip() for key in args.only.split(",") if key.strip()]
    unknown = [key for key in args.only if key not in BENCHMARKS]
    if unknown or not args.only:
        parser.error(f"--only: unknown {', '.join(unknown) or 'empty list'}; choose from {','.join(BENCHMARKS)}")
    return args


def machine(ctx):
    """The machine, and the limits each figure should be read against."""
    with open("/proc/cpuinfo") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    with open("/proc/meminfo") as meminfo:
        memory = int(meminfo.readline().split()[1]) * 1024
    corpus = ctx.corpus
    data.warm(corpus.path)
    read = run(["cat", corpus.path])
    written = min(corpus.bytes, 1 << 30)
    write = run(["dd", "if=/dev/zero", f"of={ctx.path('dd.bin')}", "bs=4M",
                 f"count={written >> 22}", "conv=fsync", "status=none"])
    ctx.path("dd.bin").unlink()
    return (f"{os.cpu_count()} cores ({model}), {memory / (1 << 30):.0f} GiB RAM, Linux "
            f"{platform.release()}, Python {platform.python_version()} for the harness.\n\n"
            + report.table(["limit", "MiB/s", "how"], [
                ["read from the page cache", f"{corpus.bytes / MIB / read.wall:,.0f}",
                 f"`cat` of the {corpus.mib:.0f} MiB corpus to /dev/null, already cached"],
                ["write to disk", f"{written / MIB / write.wall:,.0f}",
                 f"`dd if=/dev/zero bs=4M conv=fsync`, {written / MIB:.0f} MiB into the work directory"],
            ]))


METHOD = """\
Each tool runs against its peer on the same file, in the same run, one after the other (never
at the same time), with its input in the page cache. Every figure comes from the run above:

- **wall** is the elapsed time of the measured phase; **MiB/s** and **records/s** are input
  bytes and records per wall-clock second.
- **CPU** is user + system time of the process tree, as GNU `/usr/bin/time` reports it (for
  rsyslogd and the consumers: the daemon's, until it was stopped). **MiB per CPU-s**
  is what one core would do, the figure that least depends on the other work on a shared
  machine; wall-clock figures move with the load (last column: the 1-minute load average when
  each run ended).
- **peak RSS** is the largest resident set in the process tree (`/usr/bin/time`, or VmHWM for
  the daemons).
- **× peer** is throughput against the peer's in the same table: per wall-clock second, then
  per CPU second. **server CPU** is what the broker, mongod or the HDFS daemons spent meanwhile.
- The corpus is the seven 2k-line samples of loghub (https://github.com/logpai/loghub; Jieming
  Zhu et al., "Loghub: A Large Collection of System Log Datasets for AI-driven Log Analytics",
  ISSRE 2023), read from `../shared/corpus/loghub` and never copied into this repository,
  interleaved in blocks of 16 lines and repeated. The records are ls-tail's output for that
  corpus (`--category-rule error:level>=ERROR`), so every stage reads the same lines.
- Topics, databases, HDFS paths, private daemons and temporary files are removed at the end.
"""


def interrupted(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def measure_all(args, selected):
    """Prepares what the selected benchmarks need and runs them; returns the machine's limits,
    the sections, and the load average's (min, mean, max) over the run."""
    prepare.need_commands({GNU_TIME: "time", **{cmd: pkg for _, _, cmds, _ in selected.values()
                                                for cmd, pkg in cmds.items()}})
    prepare.services_up(sorted({svc for _, svcs, _, _ in selected.values() for svc in svcs}))
    benches = [arg for _, _, _, names in selected.values() for name in names for arg in ("--bench", name)]
    bins = prepare.build(benches)
    ctx = context.Context(context.QUICK if args.quick else context.FULL, bins,
                          context.make_work_dir(args.keep_work), f"lsbench-{os.getpid()}-{int(time.time())}")
    say(f"work directory {ctx.work}")
    load = LoadSampler()
    say("machine limits")
    limits = machine(ctx)
    sections = []
    for key, (bench, *_) in selected.items():
        say(key)
        begun = time.monotonic()
        try:
            sections.append(bench(ctx))
        except BenchError as error:
            say(f"{key}: {error}")
            sections.append(report.Section(f"{key} (failed)", error=str(error)))
        say(f"{key}: {time.monotonic() - begun:.0f} s")
    return limits, sections, load.stop()


def header(args, started, selected, load):
    commit, branch, dirty = prepare.git_describe()
    minutes = (datetime.datetime.now(datetime.timezone.utc) - started).seconds // 60
    sizes = ("**quick sizes** (`--quick`: a check of the script, not the issues' sizes)"
             if args.quick else "full sizes (the issues')")
    subset = f", only {', '.join(selected)}" if len(selected) < len(BENCHMARKS) else ""
    changes = ", with uncommitted changes" if dirty else ""
    low, mean, high = load
    return (f"Measured {started:%Y-%m-%d %H:%M} UTC ({minutes} min), commit `{commit}` (branch "
            f"`{branch}`{changes}), {sizes}{subset}; load average during the run {low:.1f} to "
            f"{high:.1f} (mean {mean:.1f}) on {os.cpu_count()} cores. Regenerate with "
            "`scripts/bench` (see the README).")


def main(argv):
    args = arguments(argv)
    prepare.reexec_in_venv(argv)
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)
    selected = {key: BENCHMARKS[key] for key in BENCHMARKS if key in args.only}
    started = datetime.datetime.now(datetime.timezone.utc)
    try:
        limits, sections, load = measure_all(args, selected)
    except KeyboardInterrupt:
        say("interrupted; cleaning up")
        return 130
    except BenchError as error:
        say(str(error))
        return 1
    finally:
        CLEANUP.run()
    page = report.page(header=header(args, started, selected, load), machine=limits,
                       method=METHOD, sections=sections)
    with open(args.output, "w") as out:
        out.write(page)
    say(f"wrote {args.output}")
    return 1 if any(section.error for section in sections) else 0
