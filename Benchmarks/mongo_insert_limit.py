"""The rate at which a MongoDB server accepts plain unordered bulk inserts of documents shaped
like the broker's queue entries (the limit for persistence throughput on that server).

    mongo_insert_limit.py URL DATABASE SECONDS PAYLOAD_BYTES
prints `inserts/s=N`."""
import datetime
import sys
import time

import pymongo
from bson.binary import Binary

url, database, seconds, payload_bytes = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4])
collection = pymongo.MongoClient(url)[database].limit_queue
collection.drop()
collection.create_index([("client", 1), ("seq", 1)], unique=True)
payload = Binary(b"x" * payload_bytes)
seq = 0
start = time.monotonic()
while time.monotonic() - start < seconds:
    now = datetime.datetime.now(datetime.timezone.utc)
    batch = []
    for _ in range(1000):
        seq += 1
        batch.append({"client": "bench-offline", "seq": seq, "qos": 1, "retain": False, "packet_id": 0,
                      "stage": "queued", "stored_at": now,
                      "message": {"topic": "bench/fanin", "payload": payload, "qos": 1}})
    collection.insert_many(batch, ordered=False)
elapsed = time.monotonic() - start
collection.drop()
print(f"inserts/s={seq / elapsed:.0f}")
