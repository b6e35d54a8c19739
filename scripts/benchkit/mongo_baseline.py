"""The MongoDB baseline of the ls-store benchmark, run as its own process by the venv's Python:
the same records as the documents ls-store stores (see src/mongo/doc.rs), built before the clock
starts, then one unordered `insert_many` with write concern majority into a collection with the
same three indexes. Prints the insert's wall, user and system seconds as JSON.

    python -m benchkit.mongo_baseline RECORDS.jsonl MONGO_URI DATABASE
"""

import datetime
import json
import resource
import sys
import time

from pymongo import ASCENDING, MongoClient, WriteConcern

CORE = ("timestamp", "log_level", "message", "source", "category", "id", "origin")


def document(record):
    stamp = datetime.datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00"))
    doc = {"_id": record["id"], "timestamp": stamp, "log_level": record["log_level"],
           "message": record["message"], "source": record["source"], "category": record["category"]}
    if "origin" in record:
        doc["origin"] = record["origin"]
    extra = {k: v for k, v in record.items() if k not in CORE}
    if extra:
        doc["extra"] = extra
    return doc


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime, usage.ru_stime


def main(path, uri, database):
    with open(path) as lines:
        docs = [document(json.loads(line)) for line in lines]
    client = MongoClient(uri)
    logs = client[database].get_collection("logs", write_concern=WriteConcern(w="majority"))
    for keys in (["timestamp"], ["log_level", "timestamp"], ["source", "timestamp"]):
        logs.create_index([(key, ASCENDING) for key in keys])
    (user, system), start = cpu_seconds(), time.monotonic()
    logs.insert_many(docs, ordered=False)
    seconds = time.monotonic() - start
    user_end, system_end = cpu_seconds()
    stored = logs.count_documents({})
    if stored != len(docs):
        sys.exit(f"mongo_baseline: {stored} of {len(docs)} documents stored")
    print(json.dumps({"seconds": seconds, "user": user_end - user, "sys": system_end - system}))


if __name__ == "__main__":
    main(*sys.argv[1:])
