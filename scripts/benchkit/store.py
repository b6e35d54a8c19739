"""ls-store (issue 6) against a raw pymongo bulk insert of the same records, into the same
MongoDB in the same run."""

import json
import os
import subprocess
import sys

from . import data
from .measure import BenchError, Cost, Proc, proc_cpu_seconds, run
from .prepare import service_pids
from .report import Row, Section, Verdict

TARGET_RATIO = 1.0


def baseline(records, uri, database):
    """Runs benchkit.mongo_baseline; its cost is the insert's own time and CPU, with the peak
    RSS of the whole process (it holds every document in memory)."""
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(__file__)))
    proc = Proc([sys.executable, "-m", "benchkit.mongo_baseline", records.path, uri, database],
                stdout=subprocess.PIPE, env=env)
    output = proc.popen.stdout.read()
    process = proc.wait()
    insert = json.loads(output)
    return Cost(insert["seconds"], insert["user"], insert["sys"], process.peak_rss, process.load)


def run_bench(ctx):
    records = ctx.records_head("store.jsonl", max_lines=ctx.sizes.records)
    uri = os.environ["LOGSPHERE_MONGO_URI"]
    mongod = service_pids("mongo")
    client = ctx.mongo

    def measured(what, database, measure, peer=None):
        data.warm(records.path)
        before = proc_cpu_seconds(mongod)
        cost = measure(database)
        server = proc_cpu_seconds(mongod) - before
        stored = client[database]["logs"].count_documents({})
        client.drop_database(database)
        if stored != records.lines:
            raise BenchError(f"{what} stored {stored} of {records.lines} records")
        return Row(what, cost, records.lines, records.bytes, peer=peer, server_cpu=server)

    peer = measured("pymongo `insert_many(ordered=False)`", f"{ctx.prefix}-pymongo",
                    lambda db: baseline(records, uri, db))
    ours = measured("ls-store (stdin)", f"{ctx.prefix}-store",
                    lambda db: run([ctx.bin("ls-store"), "-q", "--mongo", uri, "--db", db],
                                   stdin=records.path), peer=peer)
    critical = data.share(records, [b'"log_level":"ERROR"', b'"log_level":"CRITICAL"'])
    ratio = ours.records_s / peer.records_s
    return Section(
        "ls-store vs pymongo insert_many",
        method=(f"{records.lines:,} records ({records.mib:.1f} MiB, ls-tail's records of the corpus) "
                "into the one-member replica set of `scripts/services` (same two cores), write "
                "concern majority, the three query indexes present, each side into a fresh "
                "database. The baseline builds its documents (the same fields as ls-store's) "
                "before its clock starts, so its time and CPU are the insert alone; ls-store's "
                "include reading and parsing stdin, and its transactions for the ERROR and "
                f"CRITICAL records ({critical * 100:.1f} % of these). Default ls-store flags "
                "(batches of 10,000, 4 in flight). Server CPU is mongod's."),
        rows=[ours, peer],
        verdicts=[Verdict("ls-store", f"≥ {TARGET_RATIO}× pymongo insert_many in documents/s",
                          f"{ratio:.2f}× ({ours.records_s:,.0f} vs {peer.records_s:,.0f} docs/s)",
                          ratio >= TARGET_RATIO)])
