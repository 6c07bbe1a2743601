#!/usr/bin/env python3
"""Checks our message descriptions against Apache Kafka 4.1.1's layouts.

Runs src/kafka/protocol/generate.py --canon and compares every (API, request or
response, version) line with kafka_4_1_1_layouts.txt (printed by
DumpLayouts.java from Kafka's own client jar): field names, order, types,
nullability, compact encodings and tagged fields must match exactly. Versions
Kafka 4.1.1 no longer knows (e.g. OffsetCommit v0-1) are checked only by the
round-trip tests. Exits 1 and prints each difference.
"""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))


def main():
    kafka = {}
    with open(os.path.join(HERE, "kafka_4_1_1_layouts.txt"), encoding="utf-8") as f:
        for line in f:
            key, kind, version, layout = line.split(" ", 3)
            kafka[(key, kind, version)] = layout.strip()
    ours = subprocess.run([sys.executable, os.path.join(ROOT, "src/kafka/protocol/generate.py"), "--canon",
                           os.path.join(ROOT, "src/kafka/protocol/messages")],
                          check=True, capture_output=True, text=True).stdout
    compared = 0
    differences = 0
    served = set()
    for line in ours.splitlines():
        key, kind, version, layout = line.split(" ", 3)
        served.add((key, kind, version))
        expected = kafka.get((key, kind, version))
        if expected is None:
            continue
        compared += 1
        if expected != layout:
            differences += 1
            print(f"api {key} {kind} v{version} differs from Kafka 4.1.1:\n  kafka: {expected}\n  ours:  {layout}")
    missing = sorted(k for k in kafka if k not in served)
    # Every API we serve reaches at least the max version Kafka 4.1.1 advertises.
    ours_max = {}
    for key, kind, version in served:
        ours_max[key] = max(ours_max.get(key, -1), int(version))
    behind = 0
    with open(os.path.join(HERE, "kafka_4_1_1_api_versions.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            key, _low, high = line.split()
            if key in ours_max and ours_max[key] < int(high):
                behind += 1
                print(f"api {key}: we serve up to v{ours_max[key]}, Kafka 4.1.1 advertises v{high}")
    for key, kind, version in missing:
        print(f"api {key} {kind} v{version}: Kafka 4.1.1 has it, our description does not serve it")
    print(f"{compared} layouts compared, {differences} differ, {len(missing)} missing, {behind} APIs behind Kafka 4.1.1")
    return 1 if differences or missing or behind or compared == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
