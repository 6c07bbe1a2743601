"""The classic pipeline's statements, run unchanged through the Python
cassandra-driver, plus paging, prepared statements, error answers, wider
CQL features and a kill -9 durability check. Each check prints [PASS] or
[FAIL] <name>: <reason>. run_all(start) gets a function that starts a server
on the suite's data directory and returns it (with .host, .port, .kill())."""

import datetime
import decimal
import ipaddress
import random
import re
import time
import traceback
import urllib.request
import uuid

from cassandra import AlreadyExists, AuthenticationFailed, InvalidRequest
from cassandra.auth import PlainTextAuthProvider
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.concurrent import execute_concurrent_with_args
from cassandra.policies import RoundRobinPolicy
from cassandra.protocol import SyntaxException
from cassandra.query import SimpleStatement, BatchStatement, BatchType

CREATE_KEYSPACE = ("CREATE KEYSPACE IF NOT EXISTS spark_streams WITH replication = "
                   "{'class': 'SimpleStrategy', 'replication_factor': '1'}")
CREATE_TABLE = ("CREATE TABLE IF NOT EXISTS spark_streams.created_users (id UUID PRIMARY KEY, first_name TEXT, "
                "last_name TEXT, gender TEXT, address TEXT, post_code TEXT, email TEXT, username TEXT, "
                "registered_date TEXT, phone TEXT, picture TEXT)")
INSERT = ("INSERT INTO spark_streams.created_users(id, first_name, last_name, gender, address, post_code, email, "
          "username, registered_date, phone, picture) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
ROWS = 10_000


AUTH_FLAGS = ("--set", "cql.authenticator=password", "--set", "cql.username=pipeline", "--set", "cql.password=s3cret")


def wait_for(what, cond, timeout=30.0):
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def connect(server, compression="lz4"):
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=30)
    cluster = Cluster([server.host], port=server.port, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      connect_timeout=10, compression=compression)
    return cluster, cluster.connect()


def user(rnd, idx):
    return (uuid.UUID(int=rnd.getrandbits(128), version=4), f"first{idx}", f"O'last{idx}", rnd.choice(["male", "female"]),
            f"{idx} Main Street, Springfield", f"{10000 + idx}", f"user{idx}@example.com", f"user{idx}",
            "2024-01-02T03:04:05.000Z", f"+1-555-{idx:04d}", f"https://randomuser.me/api/portraits/{idx}.jpg")


class Suite:
    def __init__(self):
        self.failed = 0
        self.passed = 0

    def check(self, name, fn):
        try:
            fn()
            self.passed += 1
            print(f"[PASS] {name}", flush=True)
        except Exception as e:  # noqa: BLE001 - a suite reports every failure and goes on
            self.failed += 1
            print(f"[FAIL] {name}: {e!r}", flush=True)
            traceback.print_exc()


def run_all(start):
    suite = Suite()
    rnd = random.Random(301)
    server = start()
    cluster, session = connect(server)
    users = [user(rnd, idx) for idx in range(ROWS)]
    try:
        def classic_ddl():
            # The driver's default negotiation starts at v5 (segments with lz4 here) and keeps it.
            assert cluster.protocol_version == 5, cluster.protocol_version
            session.execute(CREATE_KEYSPACE)
            session.execute(CREATE_TABLE)
            session.execute(CREATE_KEYSPACE)  # IF NOT EXISTS: no error the second time
            session.execute(CREATE_TABLE)
            cluster.refresh_schema_metadata()
            table = cluster.metadata.keyspaces["spark_streams"].tables["created_users"]
            assert [c.name for c in table.partition_key] == ["id"], table.partition_key
            assert table.columns["first_name"].cql_type == "text"
            assert "CREATE TABLE spark_streams.created_users" in table.export_as_string()
            ks = cluster.metadata.keyspaces["spark_streams"]
            assert ks.replication_strategy.replication_factor_info == 1 or "SimpleStrategy" in ks.export_as_string()
        suite.check("classic CREATE KEYSPACE / CREATE TABLE and driver metadata", classic_ddl)

        def protocol_versions():
            # Forced versions: v4 (frames), v5 without compression (plain
            # segments), and v6, which the server refuses with Cassandra's
            # "Invalid or unsupported protocol version" so the driver names it.
            for version, compression in ((4, "lz4"), (4, False), (5, False), (5, "lz4")):
                c = Cluster([server.host], port=server.port, protocol_version=version, compression=compression,
                            connect_timeout=10, execution_profiles={EXEC_PROFILE_DEFAULT: ExecutionProfile(
                                load_balancing_policy=RoundRobinPolicy(), request_timeout=30)})
                try:
                    s = c.connect()
                    assert c.protocol_version == version
                    big = "x" * (300 * 1024)  # over two v5 segments each way
                    s.execute("CREATE TABLE IF NOT EXISTS spark_streams.versions (k int PRIMARY KEY, v text)")
                    s.execute("INSERT INTO spark_streams.versions (k, v) VALUES (%s, %s)", (version, big))
                    prepared = s.prepare("SELECT v FROM spark_streams.versions WHERE k = ?")
                    assert s.execute(prepared, (version,)).one().v == big
                finally:
                    c.shutdown()
            c = Cluster([server.host], port=server.port, protocol_version=6, connect_timeout=10)
            try:
                c.connect()
                raise AssertionError("a v6 connection was accepted")
            except NoHostAvailable as e:
                assert "ProtocolError returned from server while using explicitly set client protocol_version 6" in str(e), e
            finally:
                c.shutdown()
        suite.check("protocol versions: v4 and v5 (plain and lz4 segments) forced, v6 refused", protocol_versions)

        def tracing():
            # The tracing flag: the response carries a session id, and
            # system_traces.sessions/events hold the request, as Cassandra's.
            for version in (4, 5):
                c = Cluster([server.host], port=server.port, protocol_version=version, connect_timeout=10)
                try:
                    s = c.connect()
                    rs = s.execute("SELECT id FROM spark_streams.created_users LIMIT 1", trace=True)
                    trace = rs.get_query_trace(max_wait_sec=10)
                    assert trace.request_type == "Execute CQL3 query", trace.request_type
                    assert trace.parameters["query"] == "SELECT id FROM spark_streams.created_users LIMIT 1", trace.parameters
                    assert trace.coordinator == "127.0.0.1" and trace.client == "127.0.0.1", (trace.coordinator, trace.client)
                    assert trace.duration is not None and trace.started_at is not None
                    activities = [e.description for e in trace.events]
                    assert activities[0].startswith("Parsing SELECT id FROM"), activities
                    assert all(e.thread_name and e.source == "127.0.0.1" for e in trace.events)
                    prepared = s.prepare("SELECT id FROM spark_streams.created_users LIMIT 1")
                    trace = s.execute(prepared, trace=True).get_query_trace(max_wait_sec=10)
                    assert trace.request_type == "Execute CQL3 prepared query", trace.request_type
                    # Untraced requests record nothing.
                    before = s.execute("SELECT count(*) FROM system_traces.sessions").one()[0]
                    assert before >= 2, before
                    s.execute("SELECT id FROM spark_streams.created_users LIMIT 1")
                    after = s.execute("SELECT count(*) FROM system_traces.sessions").one()[0]
                    assert after == before, (before, after)
                finally:
                    c.shutdown()
        suite.check("tracing: get_query_trace() for QUERY and EXECUTE in v4 and v5", tracing)

        def classic_inserts():
            for u in users[:200]:
                session.execute(INSERT, u)
            row = session.execute("SELECT * FROM spark_streams.created_users WHERE id = %s", (users[0][0],)).one()
            assert row.first_name == "first0" and row.last_name == "O'last0", row
            assert row.registered_date == "2024-01-02T03:04:05.000Z"
        suite.check("classic inserts with %s parameters, SELECT by primary key", classic_inserts)

        def prepared_inserts():
            prepared = session.prepare(INSERT.replace("%s", "?"))
            assert len(prepared.column_metadata) == 11
            assert prepared.routing_key_indexes == [0], prepared.routing_key_indexes
            results = execute_concurrent_with_args(session, prepared, users[200:], concurrency=64)
            assert all(ok for ok, _ in results)
        suite.check("prepared inserts of 10k rows (concurrent EXECUTE)", prepared_inserts)

        def paging():
            stmt = SimpleStatement("SELECT * FROM spark_streams.created_users", fetch_size=1000)
            result = session.execute(stmt)
            ids = set()
            pages = 0
            for row in result:
                ids.add(row.id)
            pages = 1
            assert len(ids) == ROWS, len(ids)
            assert ids == {u[0] for u in users}
            first = session.execute(stmt)
            assert first.has_more_pages and len(first.current_rows) == 1000
            assert pages == 1
        suite.check("SELECT * pages through 10k rows (page_size, paging_state)", paging)

        def prepared_select_skip_metadata():
            prepared = session.prepare("SELECT first_name, email FROM spark_streams.created_users WHERE id = ?")
            for u in users[:50]:
                row = session.execute(prepared, (u[0],)).one()
                assert row.first_name == u[1] and row.email == u[6], row
            count = session.execute("SELECT count(*) FROM spark_streams.created_users").one()[0]
            assert count == ROWS, count
        suite.check("prepared SELECT by key (skip_metadata), count(*)", prepared_select_skip_metadata)

        def token_ranges():
            # A full scan split into token ranges, as Spark's connector reads a table.
            prepared = session.prepare("SELECT id FROM spark_streams.created_users WHERE token(id) > ? AND token(id) <= ?")
            bounds = [-2 ** 63] + [-2 ** 63 + (2 ** 64 // 8) * idx for idx in range(1, 8)] + [2 ** 63 - 1]
            seen = []
            for lo, hi in zip(bounds, bounds[1:]):
                seen.extend(row.id for row in session.execute(prepared, (lo, hi)))
            assert len(seen) == ROWS and set(seen) == {u[0] for u in users}, len(seen)
        suite.check("token() range scans cover the table exactly once", token_ranges)

        def delete_use_drop():
            session.execute("DELETE FROM spark_streams.created_users WHERE id = %s", (users[1][0],))
            assert session.execute("SELECT * FROM spark_streams.created_users WHERE id = %s", (users[1][0],)).one() is None
            session.execute("USE spark_streams")
            row = session.execute("SELECT username FROM created_users WHERE id = %s", (users[2][0],)).one()
            assert row.username == "user2"
            session.execute("CREATE TABLE scratch (k int PRIMARY KEY, v text)")
            session.execute("DROP TABLE scratch")
            try:
                session.execute("SELECT * FROM scratch")
                raise AssertionError("dropped table still answers")
            except InvalidRequest as e:
                assert "scratch" in str(e)
        suite.check("DELETE, USE, DROP TABLE", delete_use_drop)

        def errors():
            try:
                session.execute("SELEC * FROM spark_streams.created_users")
                raise AssertionError("no syntax error")
            except SyntaxException as e:
                assert "code=2000" in str(e), e
            try:
                session.execute("SELECT * FROM spark_streams.nope")
                raise AssertionError("no invalid error")
            except InvalidRequest as e:
                assert "code=2200" in str(e) and "nope" in str(e), e
            try:
                session.execute("CREATE TABLE spark_streams.created_users (id uuid PRIMARY KEY)")
                raise AssertionError("no already-exists error")
            except AlreadyExists as e:
                assert e.keyspace == "spark_streams" and e.table == "created_users", e
            try:
                session.execute("INSERT INTO spark_streams.created_users (id, first_name) VALUES (%s, %s)", (1, "x"))
                raise AssertionError("no invalid error for a bad uuid")
            except InvalidRequest as e:
                assert "code=2200" in str(e), e
            try:
                session.execute("SELECT * FROM spark_streams.created_users WHERE first_name = 'x'")
                raise AssertionError("filtering allowed without ALLOW FILTERING")
            except InvalidRequest as e:
                assert "ALLOW FILTERING" in str(e)
        suite.check("error answers: syntax 0x2000, invalid 0x2200, already exists 0x2400", errors)

        def clustering():
            session.execute("CREATE TABLE IF NOT EXISTS spark_streams.events (tenant text, day int, ts timestamp, seq int, "
                            "body text, PRIMARY KEY ((tenant, day), ts, seq)) WITH CLUSTERING ORDER BY (ts DESC, seq ASC)")
            ins = session.prepare("INSERT INTO spark_streams.events (tenant, day, ts, seq, body) VALUES (?, ?, ?, ?, ?)")
            base = datetime.datetime(2024, 5, 1, tzinfo=datetime.timezone.utc)
            for minute in range(20):
                for seq in (2, 1):
                    session.execute(ins, ("acme", 1, base + datetime.timedelta(minutes=minute), seq, f"m{minute}s{seq}"))
            session.execute(ins, ("other", 1, base, 1, "x"))
            rows = list(session.execute("SELECT ts, seq, body FROM spark_streams.events WHERE tenant = 'acme' AND day = 1"))
            assert len(rows) == 40 and rows[0].body == "m19s1" and rows[1].body == "m19s2", rows[:3]
            rows = list(session.execute("SELECT body FROM spark_streams.events WHERE tenant = 'acme' AND day = 1 "
                                        "ORDER BY ts ASC, seq DESC LIMIT 3"))
            assert [r.body for r in rows] == ["m0s2", "m0s1", "m1s2"], rows
            rows = list(session.execute(
                "SELECT body FROM spark_streams.events WHERE tenant = 'acme' AND day = 1 AND ts >= %s AND ts < %s",
                (base + datetime.timedelta(minutes=5), base + datetime.timedelta(minutes=7))))
            assert [r.body for r in rows] == ["m6s1", "m6s2", "m5s1", "m5s2"], rows
            paged = list(session.execute(SimpleStatement(
                "SELECT body FROM spark_streams.events WHERE tenant = 'acme' AND day = 1", fetch_size=7)))
            assert len(paged) == 40
        suite.check("composite partition key, clustering order, ranges, ORDER BY, LIMIT", clustering)

        def all_types():
            session.execute("CREATE TABLE IF NOT EXISTS spark_streams.types (k int PRIMARY KEY, a ascii, b bigint, bl blob, "
                            "bo boolean, d decimal, db double, f float, i inet, ti tinyint, si smallint, vi varint, "
                            "ts timestamp, dt date, tm time, u uuid, tu timeuuid, t text, l list<int>, s set<text>, "
                            "m map<text, int>)")
            values = dict(k=1, a="ascii", b=2 ** 40, bl=b"\x00\x01\xff", bo=True, d=decimal.Decimal("12.345"), db=1.5,
                          f=2.5, i=ipaddress.ip_address("10.1.2.3"), ti=-5, si=300, vi=2 ** 70, ts=datetime.datetime(2024, 1, 2, 3, 4, 5),
                          dt=datetime.date(2024, 2, 29), tm=datetime.time(12, 30, 15), u=uuid.UUID(int=rnd.getrandbits(128), version=4),
                          tu=uuid.uuid1(node=0x1234, clock_seq=7), t="tëxt", l=[3, 1, 2], s={"b", "a"}, m={"x": 1, "y": 2})
            cols = ", ".join(values)
            prepared = session.prepare(f"INSERT INTO spark_streams.types ({cols}) VALUES ({', '.join('?' * len(values))})")
            session.execute(prepared, list(values.values()))
            simple = dict(values, k=2)
            session.execute(f"INSERT INTO spark_streams.types ({cols}) VALUES ({', '.join(['%s'] * len(values))})",
                            list(simple.values()))
            for k in (1, 2):
                row = session.execute("SELECT * FROM spark_streams.types WHERE k = %s", (k,)).one()
                for name, want in values.items():
                    got = getattr(row, name)
                    if name == "k":
                        continue
                    if name == "i":
                        got = ipaddress.ip_address(got)
                    if name == "dt":
                        got = got.date()
                    if name == "tm":
                        got = datetime.time(got.hour, got.minute, got.second)
                    if name in ("l",):
                        got = list(got)
                    if name == "s":
                        got = set(got)
                    if name == "m":
                        got = dict(got)
                    assert got == want, (k, name, got, want)
        suite.check("every scalar type and collections, prepared and as literals", all_types)

        def lwt_ttl_timestamp_batch():
            session.execute("CREATE TABLE IF NOT EXISTS spark_streams.kv (k text PRIMARY KEY, v text)")
            r = session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('a', '1') IF NOT EXISTS")
            assert r.was_applied
            r = session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('a', '2') IF NOT EXISTS")
            assert not r.was_applied
            session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('t', 'new') USING TIMESTAMP 2000")
            session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('t', 'old') USING TIMESTAMP 1000")
            assert session.execute("SELECT v FROM spark_streams.kv WHERE k = 't'").one().v == "new"
            # WRITETIME: the cell's timestamp, as given or the server's clock in microseconds.
            row = session.execute("SELECT v, WRITETIME(v) FROM spark_streams.kv WHERE k = 't'").one()
            assert row[1] == 2000, row
            before = int(time.time() * 1e6)
            session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('now', 'x')")
            written = session.execute("SELECT writetime(v) AS wt FROM spark_streams.kv WHERE k = 'now'").one().wt
            assert before - 5_000_000 <= written <= int(time.time() * 1e6) + 5_000_000, (before, written)
            try:
                session.execute("SELECT WRITETIME(k) FROM spark_streams.kv WHERE k = 'now'")
                raise AssertionError("WRITETIME of a key column was accepted")
            except InvalidRequest as e:
                assert "PRIMARY KEY part k" in str(e), e
            session.execute("INSERT INTO spark_streams.kv (k, v) VALUES ('ttl', 'x') USING TTL 1000")
            assert session.execute("SELECT v FROM spark_streams.kv WHERE k = 'ttl'").one().v == "x"
            batch = BatchStatement(batch_type=BatchType.LOGGED)
            ins = session.prepare("INSERT INTO spark_streams.kv (k, v) VALUES (?, ?)")
            for idx in range(10):
                batch.add(ins, (f"b{idx}", str(idx)))
            batch.add("UPDATE spark_streams.kv SET v = 'updated' WHERE k = 'a'")
            session.execute(batch)
            assert session.execute("SELECT v FROM spark_streams.kv WHERE k = 'b7'").one().v == "7"
            assert session.execute("SELECT v FROM spark_streams.kv WHERE k = 'a'").one().v == "updated"
            rows = list(session.execute("SELECT k FROM spark_streams.kv WHERE k IN ('b1', 'b2', 'zz')"))
            assert sorted(r.k for r in rows) == ["b1", "b2"]
        suite.check("INSERT IF NOT EXISTS, USING TIMESTAMP last-write-wins, TTL, BATCH, IN", lwt_ttl_timestamp_batch)

        def collection_updates():
            session.execute("CREATE TABLE spark_streams.coll (k int PRIMARY KEY, s set<int>, l list<text>, m map<text, int>, "
                            "f frozen<set<int>>)")
            session.execute("INSERT INTO spark_streams.coll (k, s, l, m) VALUES (1, {3, 1}, ['b'], {'x': 1})")
            session.execute("UPDATE spark_streams.coll SET s = s + {2, 3}, l = ['a'] + l, m['y'] = 2 WHERE k = 1")
            upd = session.prepare("UPDATE spark_streams.coll SET s = s - ?, l = l + ?, m = m - ? WHERE k = ?")
            session.execute(upd, ({1}, ["c", "c"], {"x"}, 1))
            row = session.execute("SELECT s, l, m FROM spark_streams.coll WHERE k = 1").one()
            assert sorted(row.s) == [2, 3] and list(row.l) == ["a", "b", "c", "c"] and dict(row.m) == {"y": 2}, row
            session.execute("UPDATE spark_streams.coll SET l = l - ['c'], s = s - {2, 3} WHERE k = 1")
            row = session.execute("SELECT s, l FROM spark_streams.coll WHERE k = 1").one()
            assert row.s is None and list(row.l) == ["a", "b"], row  # an emptied collection is null
            try:
                session.execute("UPDATE spark_streams.coll SET f = f + {1} WHERE k = 1")
                raise AssertionError("+ on a frozen set was accepted")
            except InvalidRequest as e:
                assert "non-frozen" in str(e), e
        suite.check("collection updates: + and - on sets, lists, maps; m[k] = v", collection_updates)

        def schema_events():
            # Another client's DDL reaches this cluster's metadata through SCHEMA_CHANGE events.
            watcher = Cluster([server.host], port=server.port, connect_timeout=10, schema_event_refresh_window=0.05,
                              load_balancing_policy=RoundRobinPolicy())
            watcher.connect()
            try:
                session.execute("CREATE TABLE spark_streams.evented (k int PRIMARY KEY, v text)")
                wait_for("table created event", lambda: "evented" in watcher.metadata.keyspaces["spark_streams"].tables)
                session.execute("ALTER TABLE spark_streams.evented ADD extra int")
                wait_for("table altered event",
                         lambda: "extra" in watcher.metadata.keyspaces["spark_streams"].tables["evented"].columns)
                session.execute("DROP TABLE spark_streams.evented")
                wait_for("table dropped event", lambda: "evented" not in watcher.metadata.keyspaces["spark_streams"].tables)
            finally:
                watcher.shutdown()
        suite.check("SCHEMA_CHANGE events refresh another client's metadata", schema_events)

        def authentication():
            auth = start("auth", AUTH_FLAGS)
            ok = Cluster([auth.host], port=auth.port, connect_timeout=10, load_balancing_policy=RoundRobinPolicy(),
                         auth_provider=PlainTextAuthProvider("pipeline", "s3cret"))
            try:
                assert ok.connect().execute("SELECT key FROM system.local").one().key == "local"
            finally:
                ok.shutdown()
            for provider in (PlainTextAuthProvider("pipeline", "wrong"), None):
                bad = Cluster([auth.host], port=auth.port, connect_timeout=10, load_balancing_policy=RoundRobinPolicy(),
                              auth_provider=provider)
                try:
                    bad.connect()
                    raise AssertionError("connected with bad credentials")
                except NoHostAvailable as e:
                    (err,) = e.errors.values()
                    assert isinstance(err, AuthenticationFailed), repr(err)
                    if provider is not None:
                        assert "Provided username pipeline and/or password are incorrect" in str(err), err
                finally:
                    bad.shutdown()
        suite.check("password authenticator: right password, wrong password, none", authentication)

        def prepared_cache_eviction():
            small = start("small_cache", ("--set", "cql.prepared_cache_size=2"))
            c, s = connect(small)
            try:
                s.execute(CREATE_KEYSPACE)
                s.execute("CREATE TABLE spark_streams.p (k int PRIMARY KEY, v int)")
                inserts = [s.prepare(f"INSERT INTO spark_streams.p (k, v) VALUES (?, {idx})") for idx in range(5)]
                for rnd_round in range(3):
                    for idx, stmt in enumerate(inserts):
                        s.execute(stmt, (idx * 10 + rnd_round,))  # evicted ones are re-prepared on Unprepared
                rows = {r.k: r.v for r in s.execute("SELECT k, v FROM spark_streams.p")}
                assert rows == {idx * 10 + r: idx for idx in range(5) for r in range(3)}, rows
                metrics = urllib.request.urlopen(f"http://{small.admin}/metrics", timeout=10).read().decode()
                evictions = re.search(r"^millrace_cql_prepared_evictions_total (\d+)", metrics, re.M)
                assert evictions and int(evictions.group(1)) >= 3, metrics[:2000]
            finally:
                c.shutdown()
        suite.check("prepared statement cache is capped (LRU); drivers re-prepare evicted statements", prepared_cache_eviction)
    finally:
        cluster.shutdown()

    def durability():
        # Every write acknowledged before kill -9 must be there after a restart.
        cluster2, session2 = connect(server, compression=False)
        prepared = session2.prepare("INSERT INTO spark_streams.kv (k, v) VALUES (?, ?)")
        for idx in range(300):
            session2.execute(prepared, (f"durable{idx}", str(idx)))
        cluster2.shutdown()
        server.kill()
        again = start()
        cluster3, session3 = connect(again)
        try:
            for idx in range(300):
                row = session3.execute("SELECT v FROM spark_streams.kv WHERE k = %s", (f"durable{idx}",)).one()
                assert row is not None and row.v == str(idx), idx
            count = session3.execute("SELECT count(*) FROM spark_streams.created_users").one()[0]
            assert count == ROWS - 1, count
            # The prepared-statement cache is gone: the driver re-prepares on Unprepared.
            prepared3 = session3.prepare("SELECT v FROM spark_streams.kv WHERE k = ?")
            assert session3.execute(prepared3, ("durable5",)).one().v == "5"
        finally:
            cluster3.shutdown()
    suite.check("acknowledged writes survive kill -9; schema survives restart", durability)
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
