#!/usr/bin/env python3
"""Reads what `millrace cdc --set cdc.format=avro` wrote with the real Confluent
client: confluent-kafka's Consumer, SchemaRegistryClient and AvroDeserializer
(installed by tests/registry/setup.sh into ~/.cache/millrace/registry).

usage: confluent_avro_read.py BOOTSTRAP REGISTRY_URL TOPIC COUNT
Prints one line `ok <records> <with_loyalty>` and exits 0, or explains and exits 1.
"""
import hashlib
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_TESTS = os.path.join(HERE, "..", "registry")


def pylibs():
    subprocess.run([os.path.join(REGISTRY_TESTS, "setup.sh")], check=True, stdout=sys.stderr)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    with open(os.path.join(REGISTRY_TESTS, "requirements.txt"), "rb") as f:
        key = hashlib.sha256(f.read()).hexdigest()[:12]
    return os.path.join(base, "millrace", "registry", f"pylibs-{key}")


def decode_with_kafkajs(registry_url, framed):
    """None when @kafkajs/confluent-schema-registry decodes every framed value, else what went wrong."""
    import importlib.util
    import json
    import tempfile
    spec = importlib.util.spec_from_file_location("registry_run", os.path.join(REGISTRY_TESTS, "run.py"))
    registry_run = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(registry_run)
    node_dir = os.path.join(REGISTRY_TESTS, "node")
    node_modules = os.path.join(registry_run.keyed(os.path.join(node_dir, "package.json"), "node"), "node_modules")
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump({"messages": framed}, f)
        path = f.name
    try:
        out = subprocess.run(["node", os.path.join(node_dir, "cdc_decode.js"), path], capture_output=True, text=True,
                             timeout=120, env=dict(os.environ, NODE_PATH=node_modules, REGISTRY_URL=registry_url))
    finally:
        os.unlink(path)
    if out.returncode != 0 or out.stdout.strip() != f"ok {len(framed)}":
        return f"kafkajs confluent-schema-registry: {out.stdout.strip()} {out.stderr.strip()[-500:]}"
    return None


def main():
    bootstrap, registry_url, topic, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    sys.path.insert(0, pylibs())
    from confluent_kafka import Consumer
    from confluent_kafka.schema_registry import SchemaRegistryClient
    from confluent_kafka.schema_registry.avro import AvroDeserializer
    from confluent_kafka.serialization import MessageField, SerializationContext

    registry = SchemaRegistryClient({"url": registry_url})
    values = AvroDeserializer(registry)
    keys = AvroDeserializer(registry)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"confluent-read-{os.getpid()}",
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    records, with_loyalty, problems, framed = 0, 0, [], []
    deadline = time.time() + 60
    while records < count and time.time() < deadline:
        m = consumer.poll(0.5)
        if m is None or m.error():
            continue
        framed.append({"hex": m.value().hex()})
        value = values(m.value(), SerializationContext(topic, MessageField.VALUE))
        key = keys(m.key(), SerializationContext(topic, MessageField.KEY))
        records += 1
        if key["id"] != value["id"]:
            problems.append(f"offset {m.offset()}: key id {key['id']} != value id {value['id']}")
        if not value["first_name"].startswith("First"):
            problems.append(f"offset {m.offset()}: first_name {value['first_name']!r}")
        # AvroDeserializer turns timestamp-micros into an aware datetime.
        if value["dob"].isoformat() != "1990-01-02T03:04:05+00:00":
            problems.append(f"offset {m.offset()}: dob {value['dob']!r}")
        if value.get("loyalty") is not None:
            with_loyalty += 1
    consumer.close()
    if problems or records < count:
        print(f"read {records} of {count} records; " + "; ".join(problems[:5]))
        return 1
    # The npm client decodes the same bytes: @kafkajs/confluent-schema-registry.
    problem = decode_with_kafkajs(registry_url, framed)
    if problem:
        print(problem)
        return 1
    print(f"ok {records} {with_loyalty}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
