"""What the benchmarks share in one run: sizes, binaries, the work directory, the data (made
on first use), and the clients of the services, each registering its own cleanup."""

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from . import data
from .measure import CLEANUP, BenchError, run


@dataclass(frozen=True)
class Sizes:
    corpus: int  # bytes of the mixed loghub corpus (ls-tail, rsyslog)
    many_files: int  # bytes spread over 1,000 and 10,000 files
    records: int  # records for ls-ship, kcat, ls-store, pymongo
    roll: int  # bytes of records for ls-roll, dd, cat, FsShell
    watch: int  # records for ls-watch
    pipeline: int  # corpus lines through the whole pipeline
    idle_seconds: int  # how long ls-tail's idle CPU is counted (past its 10 s rescan interval)


# The issues' sizes (1 GiB corpus, 1M records, 1 GiB of records), and small ones to check the
# script itself in a minute or two.
FULL = Sizes(1 << 30, 100 << 20, 1_000_000, 1 << 30, 1_000_000, 1_000_000, 10)
QUICK = Sizes(48 << 20, 8 << 20, 100_000, 48 << 20, 200_000, 100_000, 12)


class Context:
    def __init__(self, sizes, bins, work, prefix):
        self.sizes = sizes
        self.bins = Path(bins)
        self.work = Path(work)
        self.prefix = prefix  # names of topics, databases, groups and HDFS paths of this run

    def bin(self, name):
        path = self.bins / name
        if not path.exists():
            raise BenchError(f"{path} is missing: cargo build --release")
        return path

    def path(self, name):
        return self.work / name

    @cached_property
    def corpus(self):
        return data.mixed_corpus(self.path("corpus.log"), self.sizes.corpus)

    @cached_property
    def records(self):
        """ls-tail's records of the whole corpus."""
        path = self.path("records.jsonl")
        run([self.bin("ls-tail"), "--once", "-q", "--source", "bench-host",
             "--category-rule", "error:level>=ERROR", self.corpus.path], stdout=path)
        return data.Sample(path, path.stat().st_size, data.count_lines(path))

    def records_head(self, name, **limits):
        return data.head(self.records, self.path(name), **limits)

    @cached_property
    def kafka(self):
        from .kafka import Kafka  # kafka-python only when Kafka is benchmarked

        return Kafka(os.environ["LOGSPHERE_BROKERS"], self.prefix)

    @cached_property
    def mongo(self):
        from pymongo import MongoClient

        client = MongoClient(os.environ["LOGSPHERE_MONGO_URI"], serverSelectionTimeoutMS=10_000)

        def drop():
            for name in client.list_database_names():
                if name.startswith(self.prefix):
                    client.drop_database(name)
            client.close()

        CLEANUP.push(f"drop the databases {self.prefix}*", drop)
        return client

    def fsshell_argv(self, *args):
        """Hadoop's own client, from the jars `scripts/services` extracted."""
        return ["java", "-cp", os.environ["LOGSPHERE_HADOOP_CLASSPATH"], "org.apache.hadoop.fs.FsShell",
                "-fs", os.environ["LOGSPHERE_HDFS_URI"], *args]

    @cached_property
    def hdfs_base(self):
        """This run's HDFS directory, removed at cleanup."""
        base = f"/{self.prefix}"
        run(self.fsshell_argv("-mkdir", "-p", base))
        CLEANUP.push(f"remove {base} from HDFS", lambda: subprocess.run(
            self.fsshell_argv("-rm", "-r", "-skipTrash", base), capture_output=True))
        return base


def make_work_dir(keep):
    work = Path(tempfile.mkdtemp(prefix="logsphere-bench."))
    if not keep:
        CLEANUP.push(f"remove {work}", lambda: shutil.rmtree(work, ignore_errors=True))
    return work
