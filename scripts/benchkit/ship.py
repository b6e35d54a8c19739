"""ls-ship (issue 5) against `kcat -P`, both with acks=all, the same records into the same
broker in the same run; and against a kcat that does what ls-ship's messages need (key, the two
headers, idempotence, lz4), which shows what that work costs the broker and the client."""

import json
import os

from . import data
from .measure import proc_cpu_seconds, run
from .prepare import service_pids
from .report import Row, Section, Verdict

TARGET_RATIO = 1.0


def run_bench(ctx):
    records = ctx.records_head("ship.jsonl", max_lines=ctx.sizes.records)
    brokers = os.environ["LOGSPHERE_BROKERS"]
    broker = service_pids("kafka")
    ctx.kafka.delete_topics()  # from nothing, in case an earlier section left any

    def measured(what, argv, peer=None, stdin=records):
        data.warm(stdin.path)
        before = proc_cpu_seconds(broker)
        cost = run(argv, stdin=stdin.path)
        return Row(what, cost, records.lines, records.bytes, peer=peer,
                   server_cpu=proc_cpu_seconds(broker) - before)

    kcat = ["kcat", "-b", brokers, "-P", "-X", "acks=all"]
    peer = measured("`kcat -P -X acks=all`", [*kcat, "-t", f"{ctx.prefix}-kcat"])
    # kcat sets the same headers on every message: the first record's, which have the size of
    # anyone's (ls-ship's origin header is the origin as JSON).
    keyed, first = data.keyed(records, ctx.path("ship-keyed.txt"), "source")
    matched = measured(
        "`kcat -P` keyed, id and origin headers, idempotence, lz4 (acks=all)",
        [*kcat, "-K", "\t", "-X", "enable.idempotence=true", "-X", "compression.codec=lz4",
         "-H", f"id={first['id']}", "-H", f"origin={json.dumps(first['origin'], separators=(',', ':'))}",
         "-t", f"{ctx.prefix}-kcat-matched"],
        stdin=keyed)
    ours = measured("`ls-ship --lsn-dir` (acks=all, idempotence, lz4, key, headers, checkpoints)",
                    [ctx.bin("ls-ship"), "-q", "--brokers", brokers, "--lsn-dir", ctx.path("ship-lsn"),
                     "--topic-template", f"{ctx.prefix}-ship.{{category}}"], peer=peer)
    ctx.kafka.delete_topics()
    ratio = ours.records_s / peer.records_s
    matched_ratio = ours.records_s / matched.records_s
    return Section(
        "ls-ship vs kcat",
        method=(f"{records.lines:,} records ({records.mib:.1f} MiB, ls-tail's records of the corpus, "
                "two categories) from a file in the page cache into the test broker "
                "(`scripts/services`, on the same two cores), acks=all, kcat first. ls-ship keys "
                "each record by source, adds the id and origin headers, compresses with lz4, is "
                "idempotent and advances its LSN store as acknowledgements come back; kcat sends "
                "the bare lines. The third row is kcat doing the work of ls-ship's messages: keyed "
                "by source, with an id and an origin header of the same size on each message, "
                "idempotent, lz4-compressed; it shows the part of ls-ship's cost, in the broker "
                "above all, that any producer of such messages pays. Server CPU is the broker's. "
                "The topics are deleted afterwards."),
        rows=[ours, peer, matched],
        verdicts=[Verdict("ls-ship", f"≥ {TARGET_RATIO}× kcat in records/s (acks=all)",
                          f"{ratio:.2f}× ({ours.records_s:,.0f} vs {peer.records_s:,.0f} records/s; "
                          f"{matched_ratio:.2f}× the kcat doing the same work)",
                          ratio >= TARGET_RATIO)])
