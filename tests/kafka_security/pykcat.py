#!/usr/bin/env python3
"""The kcat forms kafka_security uses, on confluent-kafka-python's librdkafka (2.6.1).

  pykcat.py -b HOST:PORT [-m SECONDS] [-X name=value]... -P -t TOPIC        (lines of stdin)
  pykcat.py -b HOST:PORT [-m SECONDS] [-X name=value]... -C -t TOPIC -o beginning -e [-q]
  pykcat.py -b HOST:PORT [-m SECONDS] [-X name=value]... -L

Why: the system kcat links librdkafka 2.0.2, whose SCRAM client-final message
repeats its own nonce; Apache Kafka 4 refuses that (millrace accepts it, as
Kafka 3.9 did), so against the Kafka 4.1.1 peer the suite's SCRAM logins need
a newer librdkafka. Output and errors as kcat prints them: records one per
line, `topic "name" with N partitions:` for -L, and librdkafka's error strings
(`Topic authorization failed`, the broker's SASL message) on stderr, exit 1.
"""
import argparse
import os
import sys

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Producer, TopicPartition


def fail(message):
    sys.stderr.write(f"% ERROR: {message}\n")
    sys.stderr.flush()
    os._exit(1)  # from librdkafka's callback threads too


def on_error(err):
    # A failed SASL login never recovers: report it as kcat does and stop.
    if err.code() == KafkaError._AUTHENTICATION:
        fail(err.str())
    sys.stderr.write(f"% {err.str()}\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-b", required=True)
    ap.add_argument("-m", type=float, default=10)
    ap.add_argument("-X", action="append", default=[])
    ap.add_argument("-P", action="store_true")
    ap.add_argument("-C", action="store_true")
    ap.add_argument("-L", action="store_true")
    ap.add_argument("-t")
    ap.add_argument("-o")
    ap.add_argument("-e", action="store_true")
    ap.add_argument("-q", action="store_true")
    args = ap.parse_args()
    conf = {"bootstrap.servers": args.b, "error_cb": on_error}
    for item in args.X:
        name, _, value = item.partition("=")
        conf["sasl.mechanism" if name == "sasl.mechanisms" else name] = value

    if args.P:
        conf.update({"message.timeout.ms": 30000, "enable.idempotence": False})
        producer = Producer(conf)
        errors = []
        for line in sys.stdin.read().splitlines():
            producer.produce(args.t, line.encode(), on_delivery=lambda err, _m: err and errors.append(err.str()))
        producer.flush(60)
        if errors:
            fail(f"Failed to produce message: {errors[0]}")
        return 0

    consumer = Consumer(dict(conf, **{"group.id": f"pykcat-{os.getpid()}", "enable.auto.commit": False,
                                      "enable.partition.eof": True}))
    try:
        try:
            metadata = consumer.list_topics(args.t, timeout=args.m) if args.C else consumer.list_topics(timeout=args.m)
        except KafkaException as e:
            fail(f"Failed to acquire metadata: {e.args[0].str()}")
        if args.L:
            for name, topic in sorted(metadata.topics.items()):
                if topic.error is None:
                    print(f'  topic "{name}" with {len(topic.partitions)} partitions:')
            return 0
        topic = metadata.topics.get(args.t)
        if topic is None or topic.error is not None:
            fail(f"Topic {args.t} error: {topic.error.str() if topic else 'not in metadata'}")
        consumer.assign([TopicPartition(args.t, p, OFFSET_BEGINNING) for p in topic.partitions])
        at_end = set()
        while len(at_end) < len(topic.partitions):
            message = consumer.poll(args.m)
            if message is None:
                fail(f"no record and no end of partition within {args.m} s")
            if message.error() is None:
                print(message.value().decode(errors="replace"))
            elif message.error().code() == KafkaError._PARTITION_EOF:
                at_end.add(message.partition())
            elif message.error().code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
                # librdkafka's consumer looks up its group's coordinator even for assigned
                # partitions; kcat's simple consumer has no group: not an error of the read.
                continue
            else:
                fail(f"Topic {args.t} [{message.partition()}] error: {message.error().str()}")
        return 0
    finally:
        consumer.close()


if __name__ == "__main__":
    sys.exit(main())
