"""The classic pipeline's Spark Structured Streaming job, for bench/processor/run.

Reads the users topic(s) from the broker with Spark's Kafka source, parses the JSON value with
from_json and the users schema, selects the fields and writes them with writeStream to a CQL table
through the DataStax Spark Cassandra connector (checkpointed), as spark_stream.py of the classic
pipeline does. Spark, the master (local[2]) and the jars come from bench/processor/run.

stdout carries one JSON object per line: {"event": "started"} once the query runs, then one
{"event": "progress", ...} per completed micro-batch (id, rows, start, end epoch seconds and the
per-topic end offsets), so the caller can time topic -> table without querying the table.
"""

import argparse
import datetime
import json
import signal
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import col, from_json
from pyspark.sql.types import StringType, StructField, StructType

USER_FIELDS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
               "registered_date", "phone", "picture", "dob", "nat"]


def epoch(iso):
    return datetime.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topics", required=True, help="comma-separated")
    ap.add_argument("--cql-host", required=True)
    ap.add_argument("--cql-port", required=True)
    ap.add_argument("--keyspace", required=True)
    ap.add_argument("--table", required=True)
    ap.add_argument("--checkpoint", required=True)
    args = ap.parse_args()

    spark = (SparkSession.builder.appName("SparkDataStreaming")
             .config("spark.cassandra.connection.host", args.cql_host)
             .config("spark.cassandra.connection.port", args.cql_port)
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    schema = StructType([StructField(name, StringType(), False) for name in USER_FIELDS])
    users = (spark.readStream.format("kafka")
             .option("kafka.bootstrap.servers", args.bootstrap)
             .option("subscribe", args.topics)
             .option("startingOffsets", "earliest")
             .load()
             .selectExpr("CAST(value AS STRING)")
             .select(from_json(col("value"), schema).alias("data"))
             .select("data.*"))
    query = (users.writeStream.format("org.apache.spark.sql.cassandra")
             .option("checkpointLocation", args.checkpoint)
             .option("keyspace", args.keyspace)
             .option("table", args.table)
             .start())
    print(json.dumps({"event": "started", "at": time.time()}), flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    seen = -1
    while not stopping and query.isActive:
        for p in query.recentProgress:
            if p["batchId"] <= seen:
                continue
            seen = p["batchId"]
            start = epoch(p["timestamp"])
            end = start + p["durationMs"].get("triggerExecution", 0) / 1000.0
            print(json.dumps({"event": "progress", "batch": p["batchId"], "rows": p["numInputRows"],
                              "start": start, "end": end,
                              "end_offsets": [json.loads(s["endOffset"]) if isinstance(s["endOffset"], str)
                                              else s["endOffset"] for s in p["sources"]]}), flush=True)
        time.sleep(0.1)
    if query.exception():
        print(json.dumps({"event": "failed", "error": str(query.exception())}), flush=True)
        sys.exit(1)
    query.stop()
    spark.stop()


if __name__ == "__main__":
    main()
