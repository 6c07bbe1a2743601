"""txn suite: Kafka transactions with confluent-kafka-python (its bundled librdkafka).

run.py calls run(broker, reporter); broker.bootstrap is the current address and
broker.kill_and_start() kills the broker with SIGKILL and starts it again on the
same data directory. Scenarios, each on its own topics:
- commit and abort: three transactions (100 committed, 50 aborted, 30 committed);
  read_committed reads exactly the 130 committed records in order, read_uncommitted
  all 180 data records;
- consume-transform-produce: 200 input records, processed in transactions with
  send_offsets_to_transaction; an aborted transaction leaves neither output nor
  committed offsets; a second consumer resumes at the committed offsets; the output
  holds every input exactly once;
- zombie fencing: a second producer with the same transactional.id fences the
  first, whose open transaction is aborted and whose commit fails;
- group fencing (KIP-447): offsets sent in a transaction with group metadata from
  before a rebalance are refused (ILLEGAL_GENERATION, the transaction must abort);
  the member's current metadata commits them;
- transaction timeout: a transaction left open beyond transaction.timeout.ms is
  aborted by the coordinator; its records never reach read_committed readers and
  the producer cannot commit it;
- kill -9 mid-transaction: a committed transaction survives, an open one is
  aborted after the restart (or after its timeout), and a new producer of the
  same id commits.
Waits are by readiness with deadlines, never fixed sleeps.
"""

import os
import subprocess
import sys
import time

import suitelib

DEADLINE_S = 90.0
# librdkafka's own log: critical only (clients of earlier scenarios retry the killed broker's old port).
QUIET = {"log_level": 2}


def _ck():
    import confluent_kafka
    from confluent_kafka.admin import AdminClient, NewTopic
    return confluent_kafka, AdminClient, NewTopic


def create_topics(bootstrap, names, partitions):
    ck, AdminClient, NewTopic = _ck()
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    futures = admin.create_topics([NewTopic(n, num_partitions=partitions, replication_factor=1) for n in names])
    for name, f in futures.items():
        f.result(timeout=30)


def producer(bootstrap, txn_id, **extra):
    ck, _, _ = _ck()
    conf = {"bootstrap.servers": bootstrap, "transactional.id": txn_id, "linger.ms": 5, **QUIET}
    conf.update(extra)
    return ck.Producer(conf)


def read_all(bootstrap, topic, partitions, isolation, expect_end=True):
    """Reads `topic` from the beginning until every partition's position reaches its
    high watermark (read_committed consumers stop at the LSO: readiness is the position
    passing the markers). Returns the records' (key, value, partition, offset)."""
    ck, _, _ = _ck()
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{topic}-{isolation}-{time.monotonic_ns()}",
                     "enable.auto.commit": False, "isolation.level": isolation, "auto.offset.reset": "earliest", **QUIET})
    tps = [ck.TopicPartition(topic, p, ck.OFFSET_BEGINNING) for p in range(partitions)]
    c.assign(tps)
    out = []
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            msg = c.poll(0.2)
            if msg is not None and msg.error() is None:
                out.append((msg.key(), msg.value(), msg.partition(), msg.offset()))
                continue
            if msg is not None and msg.error() is not None and msg.error().code() != ck.KafkaError._PARTITION_EOF:
                raise RuntimeError(f"consumer error: {msg.error()}")
            done = True
            for p in range(partitions):
                _, high = c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=10)
                pos = c.position([ck.TopicPartition(topic, p)])[0].offset
                if high > 0 and (pos < 0 or pos < high):
                    done = False
            if done:
                return out
        if expect_end:
            raise RuntimeError(f"{topic}: {isolation} reader did not reach the end within {DEADLINE_S:.0f} s")
        return out
    finally:
        c.close()


def wait_for_end_offset(bootstrap, topic, partition, at_least):
    """Waits until the partition's high watermark reaches `at_least` (a marker landed)."""
    ck, _, _ = _ck()
    c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": f"watch-{topic}", "isolation.level": "read_uncommitted", **QUIET})
    deadline = time.monotonic() + DEADLINE_S
    try:
        while time.monotonic() < deadline:
            _, high = c.get_watermark_offsets(ck.TopicPartition(topic, partition), timeout=10, cached=False)
            if high >= at_least:
                return
            time.sleep(0.2)  # polling interval of a readiness wait, not an assertion
        raise RuntimeError(f"{topic}-{partition}: end offset stayed below {at_least} for {DEADLINE_S:.0f} s")
    finally:
        c.close()


def scenario_commit_abort(bootstrap, rep, sfx):
    topic = f"txn-ca-{sfx}"
    create_topics(bootstrap, [topic], 3)
    p = producer(bootstrap, f"txn-ca-{sfx}")
    p.init_transactions(30)
    expected = []
    for batch, (count, commit) in enumerate([(100, True), (50, False), (30, True)]):
        p.begin_transaction()
        for idx in range(count):
            key = f"k{idx % 7}".encode()
            value = f"b{batch}-{idx}".encode()
            p.produce(topic, key=key, value=value)
            if commit:
                expected.append(value)
        p.flush(30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
    committed = read_all(bootstrap, topic, 3, "read_committed")
    rep.check_eq("commit/abort: read_committed sees the 130 committed records",
                 sorted(v for _, v, _, _ in committed), sorted(expected))
    per_partition_in_order = True
    for part in range(3):
        values = [v for _, v, pp, _ in committed if pp == part]
        want = [v for v in expected if v in set(values)]
        per_partition_in_order &= values == want
    rep.check("commit/abort: committed records arrive in produce order per partition", per_partition_in_order)
    uncommitted = read_all(bootstrap, topic, 3, "read_uncommitted")
    rep.check_eq("commit/abort: read_uncommitted sees all 180 records", len(uncommitted), 180)


def scenario_consume_transform_produce(bootstrap, rep, sfx):
    ck, _, _ = _ck()
    src, dst, group = f"txn-in-{sfx}", f"txn-out-{sfx}", f"txn-ctp-{sfx}"
    create_topics(bootstrap, [src, dst], 3)
    plain = ck.Producer({"bootstrap.servers": bootstrap, **QUIET})
    for idx in range(200):
        plain.produce(src, key=f"k{idx}".encode(), value=f"v{idx}".encode())
    plain.flush(30)

    def consumer():
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "isolation.level": "read_committed", "auto.offset.reset": "earliest", **QUIET})
        c.subscribe([src])
        return c

    def process(c, p, limit, commit):
        """Consumes up to `limit` records into one transaction; returns how many."""
        got = []
        deadline = time.monotonic() + DEADLINE_S
        while len(got) < limit and time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error() is not None:
                if got and msg is None:
                    break
                continue
            got.append(msg)
        p.begin_transaction()
        for msg in got:
            p.produce(dst, key=msg.key(), value=msg.value().upper())
        positions = [tp for tp in c.position(c.assignment()) if tp.offset >= 0]
        p.send_offsets_to_transaction(positions, c.consumer_group_metadata(), 30)
        if commit:
            p.commit_transaction(30)
        else:
            p.abort_transaction(30)
        return got

    p = producer(bootstrap, f"txn-ctp-{sfx}")
    p.init_transactions(30)
    c1 = consumer()
    first = process(c1, p, 100, True)
    aborted = process(c1, p, 50, False)
    committed_after = c1.committed([ck.TopicPartition(src, part) for part in range(3)], timeout=30)
    c1.close()
    total_committed = sum(max(tp.offset, 0) for tp in committed_after)
    rep.check_eq("consume-transform-produce: the aborted transaction's offsets are not committed",
                 total_committed, len(first))
    c2 = consumer()
    rest = []
    while len(first) + len(rest) < 200:
        batch = process(c2, p, 200, True)
        if not batch:
            break
        rest += batch
    c2.close()
    rep.check("consume-transform-produce: the aborted batch was read again",
              {m.value() for m in aborted} <= {m.value() for m in rest}, f"{len(aborted)} aborted, {len(rest)} reread")
    out = read_all(bootstrap, dst, 3, "read_committed")
    rep.check_eq("consume-transform-produce: every input record is in the output exactly once",
                 sorted(v for _, v, _, _ in out), sorted(f"V{idx}".encode() for idx in range(200)))


def scenario_zombie(bootstrap, rep, sfx):
    ck, _, _ = _ck()
    topic = f"txn-z-{sfx}"
    create_topics(bootstrap, [topic], 1)
    zombie = producer(bootstrap, f"txn-z-{sfx}")
    zombie.init_transactions(30)
    zombie.begin_transaction()
    for idx in range(10):
        zombie.produce(topic, value=f"zombie-{idx}".encode())
    zombie.flush(30)
    fresh = producer(bootstrap, f"txn-z-{sfx}")
    fresh.init_transactions(30)
    fenced = None
    try:
        zombie.commit_transaction(30)
    except ck.KafkaException as e:
        fenced = e.args[0]
    rep.check("zombie fencing: the old producer's commit fails as fenced",
              fenced is not None and fenced.fatal(), f"error: {fenced!r}")
    fresh.begin_transaction()
    for idx in range(5):
        fresh.produce(topic, value=f"fresh-{idx}".encode())
    fresh.commit_transaction(30)
    got = read_all(bootstrap, topic, 1, "read_committed")
    rep.check_eq("zombie fencing: only the new producer's records are committed",
                 [v for _, v, _, _ in got], [f"fresh-{idx}".encode() for idx in range(5)])


def scenario_group_fencing(bootstrap, rep, sfx):
    """KIP-447: offsets sent in a transaction with group metadata from before a rebalance
    (a zombie's) are refused; the current member's metadata commits them."""
    ck, _, _ = _ck()
    src, group = f"txn-gf-{sfx}", f"txn-gf-{sfx}"
    create_topics(bootstrap, [src], 2)
    plain = ck.Producer({"bootstrap.servers": bootstrap, **QUIET})
    for idx in range(20):
        plain.produce(src, partition=idx % 2, value=f"v{idx}".encode())
    plain.flush(30)

    def consumer():
        c = ck.Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False,
                         "auto.offset.reset": "earliest", "session.timeout.ms": 10000, **QUIET})
        c.subscribe([src])
        return c

    def wait_assigned(consumers, want):
        deadline = time.monotonic() + DEADLINE_S
        while time.monotonic() < deadline:
            for c in consumers:
                c.poll(0.2)
            if all(len(c.assignment()) == n for c, n in zip(consumers, want)):
                return True
        return False

    c1 = consumer()
    rep.check("group fencing: the first member owns both partitions", wait_assigned([c1], [2]), "no assignment")
    stale = c1.consumer_group_metadata()
    c2 = consumer()
    rep.check("group fencing: a second member splits the partitions", wait_assigned([c1, c2], [1, 1]), "no rebalance")
    p = producer(bootstrap, f"txn-gf-{sfx}")
    p.init_transactions(30)
    p.begin_transaction()
    p.produce(src, partition=0, value=b"zombie-output")
    refused = None
    try:
        p.send_offsets_to_transaction([ck.TopicPartition(src, 0, 5)], stale, 30)
        p.commit_transaction(30)
    except ck.KafkaException as e:
        refused = e.args[0]
    rep.check("group fencing: offsets with the pre-rebalance generation are refused and the transaction must abort",
              refused is not None and refused.txn_requires_abort()
              and refused.code() in (ck.KafkaError.ILLEGAL_GENERATION, ck.KafkaError.UNKNOWN_MEMBER_ID),
              f"error: {refused!r}")
    if refused is not None:
        p.abort_transaction(30)
    committed = c1.committed([ck.TopicPartition(src, 0)], timeout=30)
    rep.check_eq("group fencing: the refused offsets are not committed", committed[0].offset, ck.OFFSET_INVALID)
    p.begin_transaction()
    p.send_offsets_to_transaction([ck.TopicPartition(src, 0, 5)], c1.consumer_group_metadata(), 30)
    p.commit_transaction(30)
    committed = c1.committed([ck.TopicPartition(src, 0)], timeout=30)
    rep.check_eq("group fencing: the current member's metadata commits the offsets", committed[0].offset, 5)
    c1.close()
    c2.close()


def scenario_timeout(bootstrap, rep, sfx):
    ck, _, _ = _ck()
    topic = f"txn-t-{sfx}"
    create_topics(bootstrap, [topic], 1)
    p = producer(bootstrap, f"txn-t-{sfx}", **{"transaction.timeout.ms": 3000})
    p.init_transactions(30)
    p.begin_transaction()
    for idx in range(10):
        p.produce(topic, value=f"late-{idx}".encode())
    p.flush(30)
    # Readiness: the coordinator's ABORT marker lands after the 10 records.
    wait_for_end_offset(bootstrap, topic, 0, 11)
    got = read_all(bootstrap, topic, 1, "read_committed")
    rep.check_eq("transaction timeout: the expired transaction's records are not visible", got, [])
    failure = None
    try:
        p.commit_transaction(30)
    except ck.KafkaException as e:
        failure = e.args[0]
    rep.check("transaction timeout: the producer cannot commit the expired transaction", failure is not None,
              "commit_transaction succeeded")
    everything = read_all(bootstrap, topic, 1, "read_uncommitted")
    rep.check_eq("transaction timeout: read_uncommitted still sees the 10 records", len(everything), 10)


CHILD = r"""
import sys
sys.path.insert(0, sys.argv[1])
import confluent_kafka as ck
p = ck.Producer({"bootstrap.servers": sys.argv[2], "transactional.id": sys.argv[3], "transaction.timeout.ms": 10000,
                 "log_level": 2})
p.init_transactions(30)
p.begin_transaction()
for idx in range(15):
    p.produce(sys.argv[4], value=f"open-{idx}".encode())
p.flush(30)
print("flushed", flush=True)
sys.stdin.read()
"""


def scenario_kill9(broker, rep, sfx):
    ck, _, _ = _ck()
    bootstrap = broker.bootstrap
    topic, txn_id = f"txn-k-{sfx}", f"txn-k-{sfx}"
    create_topics(bootstrap, [topic], 2)
    p = producer(bootstrap, txn_id)
    p.init_transactions(30)
    p.begin_transaction()
    for idx in range(20):
        p.produce(topic, value=f"done-{idx}".encode())
    p.commit_transaction(30)
    del p
    # The open transaction lives in a child process, killed with the broker.
    child = subprocess.Popen([sys.executable, "-c", CHILD, suitelib.pylibs_dir(), bootstrap, txn_id + "-open", topic],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = child.stdout.readline().strip()
    rep.check_eq("kill -9: the open transaction's records were sent", line, "flushed")
    bootstrap = broker.kill_and_start()
    child.kill()
    child.wait()
    got = read_all(bootstrap, topic, 2, "read_committed")
    rep.check_eq("kill -9: the committed transaction survives and the open one is aborted",
                 sorted(v for _, v, _, _ in got), sorted(f"done-{idx}".encode() for idx in range(20)))
    p = producer(bootstrap, txn_id + "-open")
    p.init_transactions(60)
    p.begin_transaction()
    for idx in range(5):
        p.produce(topic, value=f"after-{idx}".encode())
    p.commit_transaction(30)
    got = read_all(bootstrap, topic, 2, "read_committed")
    rep.check_eq("kill -9: a new producer of the open transaction's id commits after the restart",
                 sorted(v for _, v, _, _ in got),
                 sorted([f"done-{idx}".encode() for idx in range(20)] + [f"after-{idx}".encode() for idx in range(5)]))
    raw = read_all(bootstrap, topic, 2, "read_uncommitted")
    rep.check_eq("kill -9: read_uncommitted sees the aborted records too", len(raw), 40)


def run(broker, rep):
    sfx = suitelib.suffix()
    for name, fn in [("commit/abort", scenario_commit_abort),
                     ("consume-transform-produce", scenario_consume_transform_produce),
                     ("zombie fencing", scenario_zombie), ("group fencing", scenario_group_fencing),
                     ("transaction timeout", scenario_timeout)]:
        try:
            fn(broker.bootstrap, rep, sfx)
        except Exception as e:  # one scenario's crash is its failure; the others still run
            rep.fail(f"{name}: scenario ran", repr(e))
    try:
        scenario_kill9(broker, rep, sfx)
    except Exception as e:
        rep.fail("kill -9: scenario ran", repr(e))
