"""kip848_rdkafka suite: KIP-848 consumer groups (group.protocol=consumer) with
librdkafka, through confluent-kafka-python (its wheel bundles a librdkafka with
KIP-848; Debian's 2.0.2 has none).

run.py calls run(broker, rep). One 6-partition topic, one group:
- A joins and gets every partition; B joins: the partitions split (disjoint,
  both non-empty, together all 6), with the broker's server-side assignor;
- 600 records: each member reads only its own partitions, every record once,
  and commits;
- A closes (leaves the group): B gets all 6 partitions; 600 more records reach
  B exactly once and none of the first 600 comes back (A's commits survived);
- B commits and closes; C joins the group and reads exactly the 30 records
  produced after that (nothing older is read again);
- the admin client describes the group as a CONSUMER group with C as its
  member and the committed offsets at every partition's end;
- the broker restarts (same port, same data) while C is a member: C keeps its
  member id (group membership survived) and all 6 partitions, and reads exactly
  the 30 records produced after the restart;
- an unknown group.remote.assignor is refused (UNSUPPORTED_ASSIGNOR).
Waits are by readiness with deadlines, never fixed sleeps.
"""

import time

import suitelib

PARTITIONS = 6
ROUND = 600
DEADLINE_S = 90.0
QUIET = {"log_level": 2}


def _ck():
    import confluent_kafka
    return confluent_kafka


class Member:
    """A KIP-848 consumer; poll() collects (partition, offset, value) of what it reads."""

    def __init__(self, bootstrap, group, topic, name, **extra):
        ck = _ck()
        self.name = name
        self.errors = []
        conf = {"bootstrap.servers": bootstrap, "group.id": group, "group.protocol": "consumer",
                "client.id": f"kip848-{name}", "enable.auto.commit": False, "auto.offset.reset": "earliest",
                "error_cb": self.errors.append, **QUIET}
        conf.update(extra)
        self.c = ck.Consumer(conf)
        self.c.subscribe([topic])
        self.records = []

    def poll(self, timeout=0.1):
        ck = _ck()
        msg = self.c.poll(timeout)
        if msg is None:
            return
        if msg.error() is not None:
            if msg.error().code() != ck.KafkaError._PARTITION_EOF:
                self.errors.append(msg.error())
            return
        self.records.append((msg.partition(), msg.offset(), msg.value()))

    def assigned(self):
        return sorted(tp.partition for tp in self.c.assignment())


def poll_until(what, members, cond, timeout_s=DEADLINE_S):
    deadline = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > deadline:
            state = ", ".join(f"{m.name}: {m.assigned()} ({len(m.records)} records, errors {m.errors[-3:]})"
                              for m in members)
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what} ({state})")
        for m in members:
            m.poll(0.05)


def produce(bootstrap, topic, values):
    """Keyed records spread over every partition (partition = index % PARTITIONS)."""
    ck = _ck()
    p = ck.Producer({"bootstrap.servers": bootstrap, "linger.ms": 5, **QUIET})
    failures = []
    for i, v in enumerate(values):
        p.produce(topic, value=v, key=v, partition=i % PARTITIONS,
                  on_delivery=lambda err, _msg: failures.append(err) if err else None)
    left = p.flush(60)
    if left or failures:
        raise RuntimeError(f"produce: {left} undelivered, errors {failures[:3]}")


def describe_group(bootstrap, group):
    """The group's description from a fresh admin client, retried until DEADLINE_S (after a restart the
    coordinator may still be loading the group)."""
    from confluent_kafka.admin import AdminClient
    deadline = time.monotonic() + DEADLINE_S
    while True:
        admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
        try:
            return admin.describe_consumer_groups([group], request_timeout=20)[group].result(timeout=30)
        except Exception as e:  # noqa: BLE001 - retried until the deadline, then raised
            if time.monotonic() > deadline:
                raise RuntimeError(f"describing group {group}: {e!r}") from e


def scenario_split_leave(broker, rep, sfx):
    bootstrap = broker.bootstrap
    ck = _ck()
    from confluent_kafka.admin import AdminClient, NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap, **QUIET})
    topic, group = f"k848-rd-{sfx}", f"k848-rd-g-{sfx}"
    for f in admin.create_topics([NewTopic(topic, num_partitions=PARTITIONS, replication_factor=1)]).values():
        f.result(timeout=30)
    rnd = suitelib.rng("kip848-rdkafka")
    tag = rnd.randrange(1 << 30)

    a = Member(bootstrap, group, topic, "a")
    poll_until("A to own every partition", [a], lambda: a.assigned() == list(range(PARTITIONS)))
    rep.ok("A alone owns all 6 partitions")
    b = Member(bootstrap, group, topic, "b")
    members = [a, b]
    poll_until("A and B to split the partitions", members,
               lambda: a.assigned() and b.assigned() and sorted(a.assigned() + b.assigned()) == list(range(PARTITIONS)))
    rep.check("B joins: the partitions split between A and B (disjoint, both non-empty)",
              not set(a.assigned()) & set(b.assigned()), f"A {a.assigned()}, B {b.assigned()}")
    a_parts, b_parts = set(a.assigned()), set(b.assigned())

    first = [f"r1-{tag}-{i}".encode() for i in range(ROUND)]
    produce(bootstrap, topic, first)
    poll_until("A and B to read the first round", members, lambda: len(a.records) + len(b.records) >= ROUND)
    a.c.commit(asynchronous=False)
    b.c.commit(asynchronous=False)
    rep.check("A and B read only their own partitions",
              {p for p, _, _ in a.records} <= a_parts and {p for p, _, _ in b.records} <= b_parts,
              f"A read {sorted({p for p, _, _ in a.records})} owning {sorted(a_parts)}, "
              f"B read {sorted({p for p, _, _ in b.records})} owning {sorted(b_parts)}")
    got = sorted(v for m in members for _, _, v in m.records)
    rep.check_eq("every record of the first round read exactly once", got, sorted(first))

    a.c.close()  # leaves the group (a heartbeat with member epoch -1)
    poll_until("B to own every partition after A left", [b], lambda: b.assigned() == list(range(PARTITIONS)))
    rep.ok("A leaves: B gets all 6 partitions")
    second = [f"r2-{tag}-{i}".encode() for i in range(ROUND)]
    produce(bootstrap, topic, second)
    before = len(b.records)
    poll_until("B to read the second round", [b],
               lambda: sum(1 for _, _, v in b.records[before:] if v.startswith(b"r2-")) >= ROUND)
    # Anything of round 1 that B reads again would be A's partitions read from the start (commits lost).
    # B has read up to the end of every partition once it has all of round 2, so nothing can still come.
    again = [v for _, _, v in b.records[before:] if not v.startswith(b"r2-")]
    rep.check("A's committed offsets survive: B reads none of the first round again", not again,
              f"{len(again)} records read again, e.g. {again[:3]}")
    rep.check_eq("every record of the second round read exactly once by B",
                 sorted(v for _, _, v in b.records[before:] if v.startswith(b"r2-")), sorted(second))
    b.c.commit(asynchronous=False)
    tps = [ck.TopicPartition(topic, p) for p in range(PARTITIONS)]
    committed = {tp.partition: tp.offset for tp in b.c.committed(tps, timeout=30)}
    ends = {p: b.c.get_watermark_offsets(ck.TopicPartition(topic, p), timeout=30)[1] for p in range(PARTITIONS)}
    rep.check_eq("committed offsets are every partition's end offset", committed, ends)
    b.c.close()

    third = [f"r3-{tag}-{i}".encode() for i in range(30)]
    c = Member(bootstrap, group, topic, "c")
    poll_until("C to own every partition", [c], lambda: c.assigned() == list(range(PARTITIONS)))
    produce(bootstrap, topic, third)
    poll_until("C to read the 30 new records", [c], lambda: len([r for r in c.records if r[2].startswith(b"r3-")]) >= 30)
    rep.check_eq("a new member C resumes at the committed offsets: exactly the 30 new records",
                 sorted(v for _, _, v in c.records), sorted(third))
    c.c.commit(asynchronous=False)

    desc = describe_group(bootstrap, group)
    rep.check_eq("the admin client describes a CONSUMER group", str(desc.type), str(ck.ConsumerGroupType.CONSUMER))
    rep.check_eq("the group's one member is C, owning all 6 partitions",
                 [(m.client_id, sorted(tp.partition for tp in m.assignment.topic_partitions)) for m in desc.members],
                 [("kip848-c", list(range(PARTITIONS)))])
    errors = [e for m in (a, b, c) for e in m.errors]
    rep.check("no consumer reported an error", not errors, f"{errors[:5]}")

    member_id = c.c.memberid()
    broker.restart(same_port=True)
    fourth = [f"r4-{tag}-{i}".encode() for i in range(30)]
    produce(bootstrap, topic, fourth)  # readiness: this waits for the restarted broker's acks
    before = len(c.records)
    poll_until("C to read the 30 records produced after the restart", [c],
               lambda: len([r for r in c.records[before:] if r[2].startswith(b"r4-")]) >= 30)
    rep.check_eq("after a broker restart C reads exactly the 30 new records",
                 sorted(v for _, _, v in c.records[before:]), sorted(fourth))
    desc = describe_group(bootstrap, group)
    rep.check_eq("after the restart C is still the group's member, same member id, all 6 partitions",
                 [(m.member_id, sorted(tp.partition for tp in m.assignment.topic_partitions)) for m in desc.members],
                 [(member_id, list(range(PARTITIONS)))])
    c.c.close()


def scenario_unknown_assignor(broker, rep, sfx):
    bootstrap = broker.bootstrap
    """group.remote.assignor names an assignor the broker does not have: the heartbeat is refused
    with UNSUPPORTED_ASSIGNOR, which librdkafka reports as a fatal error; no partition is assigned."""
    ck = _ck()
    topic = f"k848-rd-{sfx}"
    m = Member(bootstrap, f"k848-rd-bad-{sfx}", topic, "bad", **{"group.remote.assignor": "no-such-assignor"})
    try:
        poll_until("the unknown assignor to be refused", [m], lambda: m.errors)
        # librdkafka raises it as a fatal error (_FATAL) naming the broker's UNSUPPORTED_ASSIGNOR text.
        rep.check("an unknown group.remote.assignor is refused (UNSUPPORTED_ASSIGNOR)",
                  any(e.code() in (ck.KafkaError.UNSUPPORTED_ASSIGNOR, ck.KafkaError._FATAL) and
                      "assignor or its version range is not supported" in e.str() for e in m.errors),
                  f"errors {[str(e) for e in m.errors[:3]]}")
        rep.check_eq("no partition assigned with an unknown assignor", m.assigned(), [])
    finally:
        m.c.close()


def run(broker, rep):
    sfx = suitelib.suffix()
    for name, fn in [("split and leave", scenario_split_leave), ("unknown assignor", scenario_unknown_assignor)]:
        try:
            fn(broker, rep, sfx)
        except Exception as e:  # one scenario's crash is its failure; the others still run
            rep.fail(f"{name}: scenario ran", repr(e))
