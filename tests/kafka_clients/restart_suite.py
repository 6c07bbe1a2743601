"""restart suite: durability across a broker restart, with kafka-python.

run.py calls run(broker, reporter); broker.bootstrap is the current address and
broker.restart() stops the broker (SIGTERM) and starts it again on the same data
directory, returning the new bootstrap address.

Before the restart:
- topic A (3 partitions) gets N keyed records with headers (half gzip);
- topic B (3 partitions): two consumers of one group join while it is empty and
  split its partitions (each a non-empty, disjoint subset); then M records are
  produced, each consumer reads exactly the records of its own partitions, both
  commit; then K more records are produced that nobody commits.
After the restart:
- topics, partition counts and end offsets are unchanged;
- all N records of topic A read back exactly (key, value, headers, partition,
  offset, timestamp); new records continue at the old end offsets;
- a consumer of the group sees the committed offsets, and receives exactly the
  K uncommitted records of topic B.
"""

import os
import threading
import time

import suitelib

PARTITIONS = 3
N_RECORDS = int(os.environ.get("RESTART_RECORDS", "3000"))
M_RECORDS = 600
K_RECORDS = 60


def _import_kafka():
    from kafka import KafkaConsumer, KafkaProducer, TopicPartition
    from kafka.admin import KafkaAdminClient, NewTopic
    return KafkaConsumer, KafkaProducer, TopicPartition, KafkaAdminClient, NewTopic


class Sent:
    __slots__ = ("seq", "key", "value", "headers", "timestamp", "partition", "offset", "explicit")

    def __init__(self, seq, key, value, headers, timestamp, explicit):
        self.seq, self.key, self.value, self.headers = seq, key, value, headers
        self.timestamp, self.explicit = timestamp, explicit
        self.partition = self.offset = None


def seq_of(record):
    for k, v in record.headers or []:
        if k == "seq":
            return int.from_bytes(v, "big")
    return None


def compare(sent, rec):
    if rec.key != sent.key:
        return f"key {rec.key!r} != {sent.key!r}"
    if rec.value != sent.value:
        return "value differs"
    if list(rec.headers or []) != list(sent.headers):
        return f"headers {rec.headers!r} != {sent.headers!r}"
    if (rec.partition, rec.offset) != (sent.partition, sent.offset):
        return f"at {rec.partition}/{rec.offset}, producer was told {sent.partition}/{sent.offset}"
    if rec.timestamp != sent.timestamp or rec.timestamp_type != 0:
        return f"timestamp {rec.timestamp_type}/{rec.timestamp} != {sent.timestamp}"
    return ""


class Member(threading.Thread):
    """One group member polling in its own thread; shares what it sees through locked fields."""

    def __init__(self, name, make_consumer, topic):
        super().__init__(name=name, daemon=True)
        self.consumer = make_consumer()
        self.topic = topic
        self.lock = threading.Lock()
        self.assignment = []
        self.records = []
        self.stop_flag = threading.Event()
        self.commit_request = threading.Event()
        self.commit_done = threading.Event()
        self.commit_error = None
        self.error = None

    def run(self):
        try:
            self.consumer.subscribe([self.topic])
            while not self.stop_flag.is_set():
                batch = self.consumer.poll(timeout_ms=100)
                assigned = sorted(tp.partition for tp in self.consumer.assignment())
                with self.lock:
                    self.assignment = assigned
                    for recs in batch.values():
                        self.records.extend(recs)
                if self.commit_request.is_set() and not self.commit_done.is_set():
                    try:
                        self.consumer.commit()
                    except Exception as e:  # reported by the main thread
                        self.commit_error = e
                    self.commit_done.set()
        except Exception as e:
            self.error = e
        finally:
            self.consumer.close(autocommit=False)

    def snapshot(self):
        with self.lock:
            return list(self.assignment), list(self.records)


def run(broker, rep):
    try:
        KafkaConsumer, KafkaProducer, TopicPartition, KafkaAdminClient, NewTopic = _import_kafka()
    except ImportError as e:
        rep.fail("kafka-python available", f"{e} (run tests/kafka_clients/setup.sh)")
        return
    rng = suitelib.rng("restart")
    sfx = suitelib.suffix()
    topic_a = f"restart-records-{sfx}"
    topic_b = f"restart-group-{sfx}"
    group = f"restart-group-{sfx}"
    base_ts = int(time.time() * 1000) - 3_600_000

    def admin_client():
        return KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="millrace-restart-suite",
                                request_timeout_ms=15000)

    def producer(compression):
        return KafkaProducer(bootstrap_servers=broker.bootstrap, client_id="millrace-restart-suite", acks="all",
                             compression_type=compression, linger_ms=5, retries=5)

    def group_consumer():
        return KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id="millrace-restart-suite",
                             group_id=group, enable_auto_commit=False, auto_offset_reset="earliest",
                             heartbeat_interval_ms=300, session_timeout_ms=10000, fetch_max_wait_ms=200)

    def plain_consumer():
        return KafkaConsumer(bootstrap_servers=broker.bootstrap, client_id="millrace-restart-suite",
                             group_id=None, enable_auto_commit=False, fetch_max_wait_ms=200)

    seq_counter = [0]

    def make(topic_label, explicit_ok=True):
        s = seq_counter[0]
        seq_counter[0] += 1
        key = None if rng.randrange(12) == 0 else f"key-{rng.randrange(120)}".encode()
        value = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 300)))
        headers = [("seq", s.to_bytes(8, "big")), ("topic", topic_label.encode())]
        if rng.randrange(3) == 0:
            headers.append(("extra", bytes(rng.randrange(256) for _ in range(rng.randrange(1, 12)))))
        explicit = rng.randrange(PARTITIONS) if (key is None or (explicit_ok and rng.randrange(5) == 0)) else None
        return Sent(s, key, value, headers, base_ts + s * 2, explicit)

    def produce(topic, items, compression):
        p = producer(compression)
        try:
            futures = [(it, p.send(topic, value=it.value, key=it.key, headers=it.headers,
                                   partition=it.explicit, timestamp_ms=it.timestamp)) for it in items]
            p.flush(timeout=60)
            errors = 0
            for it, f in futures:
                try:
                    md = f.get(timeout=30)
                    it.partition, it.offset = md.partition, md.offset
                except Exception:
                    errors += 1
            return errors
        finally:
            p.close(timeout=10)

    def read_all(topic, want_total, timeout_s=60):
        c = plain_consumer()
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            c.assign(tps)
            c.seek_to_beginning(*tps)
            got = []
            deadline = time.monotonic() + timeout_s
            while len(got) < want_total and time.monotonic() < deadline:
                for recs in c.poll(timeout_ms=200).values():
                    got.extend(recs)
            return got
        finally:
            c.close(autocommit=False)

    def end_offsets(topic):
        c = plain_consumer()
        try:
            tps = [TopicPartition(topic, p) for p in range(PARTITIONS)]
            return {tp.partition: off for tp, off in c.end_offsets(tps).items()}
        finally:
            c.close(autocommit=False)

    # ------------------------------------------------------------- before the restart
    admin = admin_client()
    try:
        admin.create_topics([NewTopic(topic_a, PARTITIONS, 1), NewTopic(topic_b, PARTITIONS, 1)], timeout_ms=15000)
    finally:
        admin.close()
    rep.ok("create two 3-partition topics")

    records_a = [make("a") for _ in range(N_RECORDS)]
    half = N_RECORDS // 2
    errors = produce(topic_a, records_a[:half], None) + produce(topic_a, records_a[half:], "gzip")
    rep.check(f"produce {N_RECORDS} records (acks=all; half gzip) to topic A", errors == 0, f"{errors} sends failed")
    misplaced = [r.seq for r in records_a if r.partition != (
        r.explicit if r.explicit is not None else suitelib.java_partition(r.key, PARTITIONS))]
    rep.check("records went to their explicit or murmur2(key) partition", not misplaced,
              f"{len(misplaced)} misplaced, first seqs {misplaced[:5]}")
    ends_a = end_offsets(topic_a)
    rep.check_eq("end offsets of topic A add up to the records produced", sum(ends_a.values()), N_RECORDS)

    # two members split topic B
    m1 = Member("member-1", group_consumer, topic_b)
    m1.start()
    members = [m1]
    try:
        suitelib.wait_for("member 1 to own all partitions", 90, lambda: m1.snapshot()[0] == [0, 1, 2])
        m2 = Member("member-2", group_consumer, topic_b)
        m2.start()
        members.append(m2)

        def split():
            a, b = m1.snapshot()[0], m2.snapshot()[0]
            return (a, b) if a and b and not set(a) & set(b) and sorted(a + b) == [0, 1, 2] else None
        try:
            parts = suitelib.wait_for("the group to split the partitions across both members", 90, split)
            rep.ok(f"two consumers in one group split the partitions: {parts[0]} and {parts[1]}")
        except TimeoutError as e:
            rep.fail("two consumers in one group split the partitions",
                     f"{e}: member1={m1.snapshot()[0]} member2={m2.snapshot()[0]} errors={m1.error!r}/{m2.error!r}")
            return

        records_b = [make("b", explicit_ok=True) for _ in range(M_RECORDS)]
        for i, r in enumerate(records_b):  # every partition gets records
            if r.explicit is None and i % 4 == 0:
                r.explicit = i % PARTITIONS
        errors = produce(topic_b, records_b, None)
        rep.check(f"produce {M_RECORDS} records to topic B", errors == 0, f"{errors} sends failed")
        try:
            suitelib.wait_for(f"both members to receive {M_RECORDS} records", 90,
                              lambda: len(m1.snapshot()[1]) + len(m2.snapshot()[1]) >= M_RECORDS)
        except TimeoutError as e:
            rep.fail("both members receive the records", f"{e}: {len(m1.snapshot()[1])}+{len(m2.snapshot()[1])}")
        by_seq_b = {r.seq: r for r in records_b}
        seen = {}
        problems = []
        for idx, m in enumerate((m1, m2)):
            assigned, recs = m.snapshot()
            for rec in recs:
                s = seq_of(rec)
                seen[s] = seen.get(s, 0) + 1
                if rec.partition not in parts[idx]:
                    problems.append(f"member {idx + 1} got a record of partition {rec.partition}")
                sent = by_seq_b.get(s)
                diff = "unknown record" if sent is None else compare(sent, rec)
                if diff:
                    problems.append(f"seq {s}: {diff}")
        counts = (len(m1.snapshot()[1]), len(m2.snapshot()[1]))
        rep.check("each member received only records of its own partitions, both non-empty, all exact",
                  not problems and counts[0] > 0 and counts[1] > 0, f"counts={counts} problems={problems[:3]}")
        rep.check("every record of topic B received exactly once across the two members",
                  len(seen) == M_RECORDS and all(n == 1 for n in seen.values()),
                  f"{len(seen)} distinct of {M_RECORDS}")
        for m in members:
            m.commit_request.set()
        ok = all(m.commit_done.wait(30) for m in members)
        rep.check("both members committed", ok and not any(m.commit_error for m in members),
                  f"done={ok} errors={[repr(m.commit_error) for m in members]}")
    finally:
        for m in members:
            m.stop_flag.set()
        for m in members:
            m.join(30)

    ends_b_committed = end_offsets(topic_b)
    admin = admin_client()
    try:
        offs = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    committed_before = {tp.partition: om.offset for tp, om in offs.items() if tp.topic == topic_b}
    rep.check_eq("the group's committed offsets equal the end offsets of topic B", committed_before,
                 ends_b_committed)

    records_k = [make("b-uncommitted", explicit_ok=True) for _ in range(K_RECORDS)]
    for i, r in enumerate(records_k):
        r.explicit = i % PARTITIONS
    errors = produce(topic_b, records_k, "gzip")
    rep.check(f"produce {K_RECORDS} more records to topic B that nobody commits", errors == 0, f"{errors} failed")
    ends_b = end_offsets(topic_b)

    # ------------------------------------------------------------- restart
    old = broker.bootstrap
    t0 = time.monotonic()
    try:
        new = broker.restart()
    except Exception as e:
        rep.fail("broker restarts on the same data directory", str(e))
        return
    rep.ok(f"broker restarted on the same data directory in {time.monotonic() - t0:.1f} s ({old} -> {new})")

    # ------------------------------------------------------------- after the restart
    admin = admin_client()
    try:
        topics = set(admin.list_topics())
        rep.check("both topics still exist", {topic_a, topic_b} <= topics, f"topics={sorted(topics)}")
        desc = admin.describe_topics([topic_a, topic_b])
        nparts = {d.get("name", d.get("topic")): len(d["partitions"]) for d in desc}
        rep.check_eq("both topics still have 3 partitions", nparts, {topic_a: PARTITIONS, topic_b: PARTITIONS})
    finally:
        admin.close()

    rep.check_eq("end offsets of topic A survived the restart", end_offsets(topic_a), ends_a)
    rep.check_eq("end offsets of topic B survived the restart", end_offsets(topic_b), ends_b)

    got = read_all(topic_a, N_RECORDS)
    by_seq_a = {r.seq: r for r in records_a}
    seen = {}
    problems = []
    for rec in got:
        s = seq_of(rec)
        seen[s] = seen.get(s, 0) + 1
        sent = by_seq_a.get(s)
        diff = "unknown record" if sent is None else compare(sent, rec)
        if diff:
            problems.append(f"seq {s}: {diff}")
    rep.check(f"all {N_RECORDS} records of topic A read back after the restart, exactly once",
              len(seen) == N_RECORDS and all(n == 1 for n in seen.values()),
              f"{len(seen)} distinct of {N_RECORDS}, {len(got)} read")
    rep.check("records after the restart match exactly (key, value, headers, partition, offset, timestamp)",
              not problems, f"{len(problems)} differ, first {problems[:3]}")

    tail = [make("a-after", explicit_ok=False) for _ in range(PARTITIONS)]
    for i, r in enumerate(tail):
        r.explicit = i
    errors = produce(topic_a, tail, None)
    rep.check("records produced after the restart continue at the old end offsets",
              errors == 0 and all(r.offset == ends_a[r.partition] for r in tail),
              f"errors={errors} got {[(r.partition, r.offset) for r in tail]} ends {ends_a}")

    c = group_consumer()
    try:
        c.subscribe([topic_b])
        got = []
        deadline = time.monotonic() + 40
        while len(got) < K_RECORDS and time.monotonic() < deadline:
            for recs in c.poll(timeout_ms=200).values():
                got.extend(recs)
        # keep polling until the position reaches the end everywhere, so that an old record
        # that should not come back has every chance to show up
        tps = [TopicPartition(topic_b, p) for p in range(PARTITIONS)]

        def at_end():
            for recs in c.poll(timeout_ms=100).values():
                got.extend(recs)
            return set(c.assignment()) == set(tps) and all(c.position(tp) == ends_b[tp.partition] for tp in tps)
        try:
            suitelib.wait_for("the group consumer to reach the end of topic B", 60, at_end)
            reached = True
        except TimeoutError:
            reached = False
        committed = {tp.partition: c.committed(tp) for tp in tps}
        rep.check_eq("after the restart the group still has its committed offsets", committed, committed_before)
        by_seq_k = {r.seq: r for r in records_k}
        seqs = [seq_of(r) for r in got]
        diffs = [f"seq {seq_of(r)}: {compare(by_seq_k[seq_of(r)], r)}" for r in got
                 if seq_of(r) in by_seq_k and compare(by_seq_k[seq_of(r)], r)]
        rep.check(f"a group consumer resumes from the committed offsets: exactly the {K_RECORDS} uncommitted records",
                  reached and sorted(seqs) == sorted(by_seq_k) and not diffs,
                  f"reached_end={reached} got {len(seqs)} records, {sum(1 for s in seqs if s not in by_seq_k)} "
                  f"not among the uncommitted ones; {diffs[:2]}")
    finally:
        c.close(autocommit=False)
