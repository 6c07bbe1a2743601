#!/usr/bin/env python3
"""kcat suite: drives the kcat CLI (librdkafka) against KAFKA_BOOTSTRAP.

- creates a 3-partition topic (kafka-python's admin client: kcat has none);
- produces several thousand records with keys (-K) and headers (-H), once per
  compression codec (-z gzip/snappy/lz4/zstd and none) plus one batch pinned to a
  partition (-p), through an idempotent producer;
- consumes everything back (-C -e -f with partition, offset, timestamp,
  headers, key and value) and compares it exactly;
- checks -L metadata (JSON), -Q offsets for timestamps, a -G balanced consumer
  group that gets every record exactly once and, on a second run, nothing;
- checks that producing to an unknown topic auto-creates it.
"""

import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import suitelib  # noqa: E402

PARTITIONS = 3
PER_CODEC = int(os.environ.get("KCAT_RECORDS_PER_CODEC", "1000"))
PINNED = 300
CODECS = ["none", "gzip", "snappy", "lz4", "zstd"]
FORMAT = r"%p\t%o\t%T\t%h\t%K\t%k\t%S\t%s\n"
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:;,!?=äöü€漢字"


def kcat(args, stdin=None, timeout=60):
    cmd = ["kcat"] + args
    try:
        res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode("utf-8", "replace")
        err = (e.stderr or b"").decode("utf-8", "replace")
        return 124, out, err + f"\n(kcat timed out after {timeout} s)"
    return res.returncode, res.stdout.decode("utf-8", "replace"), res.stderr.decode("utf-8", "replace")


class Record:
    __slots__ = ("seq", "key", "value", "headers", "pinned")

    def __init__(self, seq, key, value, headers, pinned):
        self.seq, self.key, self.value, self.headers, self.pinned = seq, key, value, headers, pinned


def parse_consumed(text):
    out = []
    for line in text.split("\n"):
        if not line:
            continue
        parts = line.split("\t", 7)
        if len(parts) != 8:
            out.append({"bad": line})
            continue
        p, o, ts, hdrs, klen, key, vlen, value = parts
        out.append({
            "partition": int(p), "offset": int(o), "timestamp": int(ts), "headers": hdrs,
            "key": None if int(klen) < 0 else key, "value": value, "vlen": int(vlen),
        })
    return out


def header_string(headers):
    # kcat's %h: name=value joined by ",", NULL for a header without a value
    return ",".join(f"{k}={'NULL' if v is None else v}" for k, v in headers)


def main():
    rep = suitelib.Reporter()
    started = time.monotonic()
    bootstrap = suitelib.bootstrap()
    rng = suitelib.rng("kcat")
    sfx = suitelib.suffix()
    topic = f"kcat-records-{sfx}"
    group = f"kcat-group-{sfx}"
    base = ["-b", bootstrap]

    try:
        from kafka.admin import KafkaAdminClient, NewTopic
    except ImportError as e:
        rep.fail("kafka-python admin client available", f"{e} (run tests/kafka_clients/setup.sh)")
        return finish(rep, started)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="millrace-kcat-suite-admin",
                             request_timeout_ms=15000)
    try:
        admin.create_topics([NewTopic(topic, PARTITIONS, 1)], timeout_ms=15000)
        rep.ok("create a 3-partition topic")
    finally:
        admin.close()

    # ------------------------------------------------------------------ -L
    def topic_metadata():
        rc, out, err = kcat(base + ["-L", "-t", topic, "-J", "-m", "10"])
        if rc != 0:
            return None
        md = json.loads(out)
        t = md["topics"][0] if md.get("topics") else None
        if not t or t.get("error") or len(t.get("partitions", [])) != PARTITIONS:
            return None
        if any(p.get("leader", -1) < 0 for p in t["partitions"]):
            return None
        return md

    md = suitelib.wait_for("topic metadata with 3 led partitions", 20, topic_metadata, 0.2)
    broker_names = [b["name"] for b in md["brokers"]]
    rep.check_eq("-L: the broker list is exactly the bootstrap address", broker_names, [bootstrap])
    broker_id = md["brokers"][0]["id"]
    parts = md["topics"][0]["partitions"]
    rep.check("-L: 3 partitions, each led by the broker with one replica in sync",
              sorted(p["partition"] for p in parts) == [0, 1, 2]
              and all(p["leader"] == broker_id and [r["id"] for r in p["replicas"]] == [broker_id]
                      and [r["id"] for r in p["isrs"]] == [broker_id] for p in parts),
              json.dumps(parts))
    rc, out, _ = kcat(base + ["-L", "-J"])
    all_topics = [t["topic"] for t in json.loads(out).get("topics", [])] if rc == 0 else []
    rep.check("-L without -t lists the topic", topic in all_topics, f"rc={rc} topics={all_topics}")

    # ------------------------------------------------------------------ produce
    records = []
    seq = 0
    t_before = int(time.time() * 1000)

    def batch_records(n, headers, pinned):
        nonlocal seq
        batch = []
        for _ in range(n):
            r = rng.randrange(10)
            key = None if r == 0 else f"key-{rng.randrange(200)}"
            body = "".join(rng.choice(ALPHABET) for _ in range(
                rng.randrange(2000, 6000) if rng.randrange(20) == 0 else rng.randrange(0, 120)))
            value = f"{seq:06d}|{body}"
            batch.append(Record(seq, key, value, headers, pinned))
            seq += 1
        return batch

    def produce(batch, extra_args, label):
        lines = []
        for rec in batch:
            lines.append(rec.value if rec.key is None else f"{rec.key}\t{rec.value}")
        payload = ("\n".join(lines) + "\n").encode("utf-8")
        hdr_args = []
        for k, v in batch[0].headers:
            hdr_args += ["-H", k if v is None else f"{k}={v}"]
        rc, out, err = kcat(base + ["-P", "-t", topic, "-K", "\t", "-X", "enable.idempotence=true",
                                    "-X", "linger.ms=5"] + hdr_args + extra_args, stdin=payload, timeout=90)
        rep.check(f"-P {label}: {len(batch)} records produced", rc == 0 and "ERROR" not in err,
                  f"rc={rc} stderr={err.strip()[:500]}")
        records.extend(batch)

    for i, codec in enumerate(CODECS):
        headers = [("suite", "kcat"), ("codec", codec), ("batch", str(i)), ("empty", ""), ("nullhdr", None)]
        batch = batch_records(PER_CODEC, headers, None)
        produce(batch, [] if codec == "none" else ["-z", codec], f"-z {codec}" if codec != "none" else "no compression")
    pinned_headers = [("suite", "kcat"), ("codec", "lz4"), ("pinned", "2")]
    produce(batch_records(PINNED, pinned_headers, 2), ["-p", "2", "-z", "lz4"], "-p 2")
    t_after = int(time.time() * 1000)
    total = len(records)
    by_seq = {r.seq: r for r in records}

    # ------------------------------------------------------------------ consume
    rc, out, err = kcat(base + ["-C", "-t", topic, "-o", "beginning", "-e", "-q", "-X", "check.crcs=true",
                                "-f", FORMAT], timeout=90)
    rep.check("-C -e: consumer exits cleanly at the end of every partition", rc == 0, f"rc={rc} {err.strip()[:300]}")
    consumed = parse_consumed(out)
    verify_records(rep, "-C", consumed, by_seq, total, t_before, t_after)

    ends = {}
    for p in range(PARTITIONS):
        ends[p] = sum(1 for c in consumed if c.get("partition") == p)

    # ------------------------------------------------------------------ -Q
    q_problems = []
    for p in range(PARTITIONS):
        for ts, want in ((-1, ends[p]), (0, 0 if ends[p] else -1)):
            rc, out, err = kcat(base + ["-Q", "-t", f"{topic}:{p}:{ts}", "-J"])
            try:
                got = json.loads(out)[topic][str(p)]["offset"] if rc == 0 else None
            except (ValueError, KeyError):
                got = None
            if got != want:
                q_problems.append(f"partition {p} ts {ts}: want {want}, got {got} ({err.strip()[:100]})")
    rep.check("-Q: offsets for timestamp -1 (end) and 0 (first record) in every partition", not q_problems,
              "; ".join(q_problems))

    # ------------------------------------------------------------------ -G
    group_args = base + ["-G", group, "-X", "auto.offset.reset=earliest", "-X", "check.crcs=true",
                         "-e", "-q", "-f", FORMAT, topic]
    rc, out, err = kcat(group_args, timeout=90)
    rep.check("-G: balanced consumer exits cleanly at the end", rc == 0, f"rc={rc} {err.strip()[:300]}")
    in_group = parse_consumed(out)
    verify_records(rep, "-G", in_group, by_seq, total, t_before, t_after)
    same = sorted((c["partition"], c["offset"], c["value"]) for c in consumed if "bad" not in c) == \
        sorted((c["partition"], c["offset"], c["value"]) for c in in_group if "bad" not in c)
    rep.check("-G: the group read the same partitions and offsets as the plain consumer", same, "differs")
    rc, out, err = kcat(group_args, timeout=90)
    again = parse_consumed(out)
    rep.check("-G: a second run of the same group resumes from the committed offsets and gets nothing",
              rc == 0 and len(again) == 0, f"rc={rc} got {len(again)} records")

    # ------------------------------------------------------------------ auto-create
    auto_topic = f"kcat-autocreate-{sfx}"
    values = [f"auto-{i}-{rng.randrange(10**9)}" for i in range(20)]
    rc, out, err = kcat(base + ["-P", "-t", auto_topic], stdin=("\n".join(values) + "\n").encode())
    rep.check("auto-create: producing to an unknown topic succeeds", rc == 0 and "ERROR" not in err,
              f"rc={rc} {err.strip()[:300]}")
    rc, out, err = kcat(base + ["-C", "-t", auto_topic, "-o", "beginning", "-e", "-q", "-f", r"%s\n"])
    got = sorted(line for line in out.split("\n") if line)
    rep.check_eq("auto-create: the records can be read back", got, sorted(values))
    rc, out, err = kcat(base + ["-L", "-t", auto_topic, "-J"])
    try:
        n_parts = len(json.loads(out)["topics"][0]["partitions"])
    except (ValueError, KeyError, IndexError):
        n_parts = 0
    rep.check("auto-create: -L shows the topic with at least one partition", n_parts >= 1, f"{n_parts} partitions")

    return finish(rep, started)


def verify_records(rep, label, consumed, by_seq, total, t_before, t_after):
    bad_lines = [c["bad"] for c in consumed if "bad" in c]
    rep.check(f"{label}: every output line parses", not bad_lines, f"{len(bad_lines)} bad, first {bad_lines[:1]}")
    good = [c for c in consumed if "bad" not in c]
    seen = {}
    problems = []
    for c in good:
        try:
            s = int(c["value"].split("|", 1)[0])
        except ValueError:
            problems.append(f"value without seq: {c['value'][:40]!r}")
            continue
        seen[s] = seen.get(s, 0) + 1
        rec = by_seq.get(s)
        if rec is None:
            problems.append(f"unknown seq {s}")
            continue
        if c["key"] != rec.key or c["value"] != rec.value or c["vlen"] != len(rec.value.encode()):
            problems.append(f"seq {s}: key/value differ ({c['key']!r} vs {rec.key!r})")
        elif c["headers"] != header_string(rec.headers):
            problems.append(f"seq {s}: headers {c['headers']!r} vs {header_string(rec.headers)!r}")
        if rec.pinned is not None:
            want = rec.pinned
        elif rec.key is not None:
            want = suitelib.librdkafka_partition(rec.key.encode(), PARTITIONS)
        else:
            want = None
        if want is not None and c["partition"] != want:
            problems.append(f"seq {s}: partition {c['partition']}, expected {want}")
        if not t_before - 5000 <= c["timestamp"] <= t_after + 5000:
            problems.append(f"seq {s}: timestamp {c['timestamp']} outside the produce window")
    dups = sum(1 for n in seen.values() if n > 1)
    rep.check(f"{label}: every record read back exactly once", len(seen) == total and dups == 0,
              f"{len(seen)} distinct of {total}, {dups} duplicated")
    rep.check(f"{label}: keys, values, headers, partitions and timestamps match exactly", not problems,
              f"{len(problems)} problems, first: {problems[:3]}")
    order = []
    for p in range(PARTITIONS):
        in_p = sorted((c for c in good if c["partition"] == p), key=lambda c: c["offset"])
        offsets = [c["offset"] for c in in_p]
        if offsets != list(range(len(in_p))):
            order.append(f"partition {p}: offsets not 0..{len(in_p) - 1}")
        seqs = [int(c["value"].split("|", 1)[0]) for c in in_p]
        if seqs != sorted(seqs):
            order.append(f"partition {p}: records out of produce order")
    rep.check(f"{label}: offsets are contiguous from 0 and follow produce order in every partition", not order,
              "; ".join(order))


def finish(rep, started):
    rep.summary("kcat", time.monotonic() - started)
    return 1 if rep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
