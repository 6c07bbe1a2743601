#!/usr/bin/env python3
"""confluent-kafka's schema-registry client, Avro serializer and deserializer,
and fastavro, against millrace registry (REGISTRY_URL) and broker (KAFKA_BOOTSTRAP).

--write FILE: run the suite, then write framed messages for the npm client to decode.
--decode FILE: decode with fastavro (framing by hand) what the npm client wrote.
"""
import argparse
import io
import json
import os
import struct
import sys
import uuid

import fastavro
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

URL = os.environ["REGISTRY_URL"]
BOOTSTRAP = os.environ["KAFKA_BOOTSTRAP"]

USER_V1 = {
    "type": "record", "name": "User", "namespace": "millrace.test",
    "fields": [
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "name", "type": "string"},
        {"name": "age", "type": "int"},
        {"name": "email", "type": ["null", "string"], "default": None},
        {"name": "registered", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "tags", "type": {"type": "array", "items": "string"}, "default": []},
    ],
}
USER_V2 = json.loads(json.dumps(USER_V1))
USER_V2["fields"].append({"name": "country", "type": "string", "default": "unknown"})

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what, flush=True)
    if not cond:
        failures.append(what)


def expect_error(code, what, fn):
    try:
        fn()
    except SchemaRegistryError as e:
        check(e.error_code == code, f"{what}: error_code {e.error_code} (expected {code}): {e.error_message}")
        return
    check(False, f"{what}: no error (expected {code})")


def unframe(data):
    magic, schema_id = struct.unpack(">bI", data[:5])
    return magic, schema_id, data[5:]


def users():
    return [
        {"id": str(uuid.UUID(int=n + 1)), "name": f"user {n}", "age": 20 + n, "email": None if n % 2 else f"u{n}@example.com",
         "registered": 1_700_000_000_000 + n, "tags": ["a", "b"][: n % 3]}
        for n in range(5)
    ]


def run_suite(write_path):
    client = SchemaRegistryClient({"url": URL})
    subject = "py-users-value"
    schema_id = client.register_schema(subject, Schema(json.dumps(USER_V1), "AVRO"))
    check(schema_id > 0, f"register_schema returned id {schema_id}")
    check(client.register_schema(subject, Schema(json.dumps(USER_V1, indent=2), "AVRO")) == schema_id,
          "same schema, other whitespace: same id")
    fetched = client.get_schema(schema_id)
    check(fastavro.parse_schema(json.loads(fetched.schema_str))["name"] == "millrace.test.User", "get_schema parses as User")
    registered = client.lookup_schema(subject, Schema(json.dumps(USER_V1), "AVRO"))
    check(registered.schema_id == schema_id and registered.version == 1, "lookup_schema: version 1")
    check(subject in client.get_subjects(), "get_subjects lists the subject")
    check(client.get_versions(subject) == [1], "get_versions is [1]")
    check(client.get_latest_version(subject).schema_id == schema_id, "get_latest_version")
    expect_error(40401, "get_latest_version of an unknown subject", lambda: client.get_latest_version("nope-value"))
    expect_error(40403, "get_schema of an unknown id", lambda: SchemaRegistryClient({"url": URL}).get_schema(987654))
    bad = {"type": "record", "name": "User", "namespace": "millrace.test", "fields": [{"name": "id", "type": "int"}]}
    check(not client.test_compatibility(subject, Schema(json.dumps(bad), "AVRO")), "test_compatibility: id string->int refused")
    check(client.test_compatibility(subject, Schema(json.dumps(USER_V2), "AVRO")), "test_compatibility: field with default accepted")
    expect_error(409, "registering an incompatible schema", lambda: client.register_schema(subject, Schema(json.dumps(bad), "AVRO")))
    check(client.set_compatibility(subject, "FULL")["compatibility"] == "FULL", "set_compatibility FULL")
    check(client.get_compatibility(subject) == "FULL", "get_compatibility FULL")

    # JSON Schema through the same client.
    json_v1 = {"type": "object", "properties": {"n": {"type": "integer"}}}
    json_id = client.register_schema("py-json-value", Schema(json.dumps(json_v1), "JSON"))
    check(client.get_schema(json_id).schema_type == "JSON", "JSON schema registered and read back as JSON")
    json_v2 = {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]}
    expect_error(409, "JSON schema with a new required property", lambda: client.register_schema("py-json-value", Schema(json.dumps(json_v2), "JSON")))

    # Serializer -> broker -> deserializer.
    topic = "py-users"
    serializer = AvroSerializer(client, json.dumps(USER_V1))
    producer = Producer({"bootstrap.servers": BOOTSTRAP})
    records = users()
    frames = []
    for record in records:
        value = serializer(record, SerializationContext(topic, MessageField.VALUE))
        magic, sid, _ = unframe(value)
        check(magic == 0 and sid == schema_id, f"framed with magic 0 and id {sid}")
        frames.append(value)
        producer.produce(topic, value=value)
    check(producer.flush(30) == 0, "produced to the broker")
    consumer = Consumer({"bootstrap.servers": BOOTSTRAP, "group.id": "py-registry-suite", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    deserializer = AvroDeserializer(client)
    got = []
    while len(got) < len(records):
        message = consumer.poll(30)
        if message is None:
            break
        if message.error():
            continue
        got.append(deserializer(message.value(), SerializationContext(topic, MessageField.VALUE)))
    consumer.close()
    # fastavro returns logical types as Python objects; compare through the serializer's own encoding.
    for want, have in zip(records, got):
        check(str(have["id"]) == want["id"] and have["name"] == want["name"] and have["age"] == want["age"]
              and have["email"] == want["email"] and have["tags"] == want["tags"], f"round trip of {want['name']}")
    check(len(got) == len(records), f"consumed {len(got)} of {len(records)} records")

    # Schema evolution: a v2 reader reads v1 data, filling the default.
    client.set_compatibility(subject, "BACKWARD")
    v2_id = client.register_schema(subject, Schema(json.dumps(USER_V2), "AVRO"))
    check(v2_id != schema_id, f"v2 registered as id {v2_id}")
    reader = AvroDeserializer(client, json.dumps(USER_V2))
    evolved = reader(frames[0], SerializationContext(topic, MessageField.VALUE))
    check(evolved["country"] == "unknown" and evolved["name"] == "user 0", "v2 reader fills the default for v1 data")

    # fastavro with the framing by hand.
    _, sid, payload = unframe(frames[1])
    writer = fastavro.parse_schema(json.loads(client.get_schema(sid).schema_str))
    plain = fastavro.schemaless_reader(io.BytesIO(payload), writer)
    check(plain["name"] == "user 1", "fastavro decodes a framed message by hand")

    if write_path:
        plain_records = [dict(r) for r in records]
        with open(write_path, "w") as f:
            json.dump({"schema_id": schema_id, "messages": [{"hex": fr.hex(), "value": r} for fr, r in zip(frames, plain_records)]}, f)


def decode_file(path):
    with open(path) as f:
        data = json.load(f)
    client = SchemaRegistryClient({"url": URL})
    for item in data["messages"]:
        frame = bytes.fromhex(item["hex"])
        magic, sid, payload = unframe(frame)
        check(magic == 0, "magic byte 0")
        writer = fastavro.parse_schema(json.loads(client.get_schema(sid).schema_str))
        value = fastavro.schemaless_reader(io.BytesIO(payload), writer)
        check(value == item["value"], f"fastavro decodes the npm client's message: {value}")
        deserialized = AvroDeserializer(client)(frame, SerializationContext("node-users", MessageField.VALUE))
        check(deserialized == item["value"], "AvroDeserializer decodes the npm client's message")
    check(len(data["messages"]) > 0, f"{len(data['messages'])} messages from the npm client")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--write")
    parser.add_argument("--decode")
    args = parser.parse_args()
    if args.decode:
        decode_file(args.decode)
    else:
        run_suite(args.write)
    if failures:
        print(f"{len(failures)} checks failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
