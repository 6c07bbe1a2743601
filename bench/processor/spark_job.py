"""The two transformations of jobs/created_users.sql as Spark Structured Streaming, for bench/processor/run.

1. projection (the classic pipeline's spark_stream.py): reads the users topic(s) with Spark's Kafka source,
   parses the JSON value with from_json and the users schema, selects the fields and writes them with
   writeStream to a CQL table through the DataStax Spark Cassandra connector (checkpointed).
2. aggregate: the count of users per nationality (COALESCE(nat, 'unknown')) and gender per minute of the
   records' Kafka timestamps, watermark 5 s, output mode update (each micro-batch upserts the changed
   windows' counts, as millrace's early firing does), written with foreachBatch through the connector.

Both queries run in one session (local[2]) from the same topics, as the SQL job's statement set does.
Spark, the master and the jars come from bench/processor/run.

stdout carries one JSON object per line: {"event": "started"} once the queries run, then one
{"event": "progress", "query": "projection" | "aggregate", ...} per completed micro-batch (id, rows,
start, end epoch seconds and the per-topic end offsets).
"""

import argparse
import datetime
import json
import signal
import sys
import time

from pyspark.sql import SparkSession
from pyspark.sql.functions import coalesce, col, from_json, lit, window
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
    ap.add_argument("--aggregate-table", required=True)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--shuffle-partitions", default="4")
    args = ap.parse_args()

    spark = (SparkSession.builder.appName("SparkDataStreaming")
             .config("spark.cassandra.connection.host", args.cql_host)
             .config("spark.cassandra.connection.port", args.cql_port)
             # The aggregate's shuffle on local[2]: Spark's default of 200 partitions costs ~200 tasks per
             # micro-batch; 4 is what a user would set on 2 cores (--shuffle-partitions 200 gives the default).
             .config("spark.sql.shuffle.partitions", args.shuffle_partitions)
             .config("spark.ui.showConsoleProgress", "false")
             .getOrCreate())
    spark.sparkContext.setLogLevel("WARN")

    schema = StructType([StructField(name, StringType(), name not in ("id", "first_name")) for name in USER_FIELDS])
    records = (spark.readStream.format("kafka")
               .option("kafka.bootstrap.servers", args.bootstrap)
               .option("subscribe", args.topics)
               .option("startingOffsets", "earliest")
               .load())
    parsed = records.select(from_json(col("value").cast("string"), schema).alias("data"), col("timestamp"))
    users = parsed.select("data.*")
    projection = (users.writeStream.format("org.apache.spark.sql.cassandra")
                  .queryName("projection")
                  .option("checkpointLocation", args.checkpoint + "/projection")
                  .option("keyspace", args.keyspace)
                  .option("table", args.table)
                  .start())

    counts = (parsed.select(col("timestamp"), coalesce(col("data.nat"), lit("unknown")).alias("nat"),
                            col("data.gender").alias("gender"))
              .withWatermark("timestamp", "5 seconds")
              .groupBy(window(col("timestamp"), "1 minute"), col("nat"), col("gender"))
              .count())

    def upsert(batch, _batch_id):
        (batch.select(col("window.start").alias("window_start"), col("window.end").alias("window_end"), "nat", "gender",
                      col("count").alias("users"))
         .write.format("org.apache.spark.sql.cassandra").mode("append")
         .option("keyspace", args.keyspace).option("table", args.aggregate_table).save())

    aggregate = (counts.writeStream.queryName("aggregate").outputMode("update")
                 .option("checkpointLocation", args.checkpoint + "/aggregate")
                 .foreachBatch(upsert)
                 .start())
    print(json.dumps({"event": "started", "at": time.time()}), flush=True)

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    seen = {"projection": -1, "aggregate": -1}
    queries = {"projection": projection, "aggregate": aggregate}
    while not stopping and all(q.isActive for q in queries.values()):
        for name, query in queries.items():
            for p in query.recentProgress:
                if p["batchId"] <= seen[name]:
                    continue
                seen[name] = p["batchId"]
                start = epoch(p["timestamp"])
                end = start + p["durationMs"].get("triggerExecution", 0) / 1000.0
                print(json.dumps({"event": "progress", "query": name, "batch": p["batchId"], "rows": p["numInputRows"],
                                  "start": start, "end": end,
                                  "end_offsets": [json.loads(s["endOffset"]) if isinstance(s["endOffset"], str)
                                                  else s["endOffset"] for s in p["sources"]]}), flush=True)
        time.sleep(0.1)
    for query in queries.values():
        if query.exception():
            print(json.dumps({"event": "failed", "error": str(query.exception())}), flush=True)
            sys.exit(1)
        query.stop()
    spark.stop()


if __name__ == "__main__":
    main()
