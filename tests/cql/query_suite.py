"""query_cases.py's statements through the Python cassandra-driver against
millrace, each checked against the answer Cassandra gives (result column names,
rows, or error class and message), plus what the cases cannot express: paging
through SELECT DISTINCT, prepared LWTs and the system tables drivers read.
run_all(start) gets a function that starts a server and returns it."""

import random
import time
import traceback

from cassandra import InvalidRequest
from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import RoundRobinPolicy
from cassandra.query import BatchStatement, SimpleStatement, tuple_factory

import query_cases


def connect(host, port):
    profile = ExecutionProfile(load_balancing_policy=RoundRobinPolicy(), request_timeout=60, row_factory=tuple_factory)
    cluster = Cluster([host], port=port, execution_profiles={EXEC_PROFILE_DEFAULT: profile}, connect_timeout=30)
    return cluster, cluster.connect()


def answer(session, case):
    """(columns, rows) or ("error", class name, message) of one case."""
    try:
        rs = session.execute(SimpleStatement(case["query"], fetch_size=None), case.get("params"))
        return list(rs.column_names or []), [tuple(r) for r in rs]
    except Exception as e:  # noqa: BLE001 - the error is the answer
        return ("error", type(e).__name__, str(e))


def compare(case, got):
    """None when `got` is the case's expected answer, else the difference."""
    if "error" in case:
        cls, msg = case["error"]
        if got[0] != "error" or got[1] != cls or msg not in got[2]:
            return f"expected {cls} with {msg!r}, got {got!r}"
        return None
    if got[0] == "error":
        return f"expected rows, got {got!r}"
    columns, rows = got
    if columns != case["columns"]:
        return f"columns {columns} != {case['columns']}"
    if case.get("shape") == "count":
        return None if len(rows) == len(case["rows"]) else f"{len(rows)} rows, expected {len(case['rows'])}: {rows}"
    if case.get("shape") == "contains":
        missing = [r for r in case["rows"] if r not in rows]
        return f"rows {missing} missing from {rows}" if missing else None
    if case.get("shape") == "prefix":
        (want,) = case["rows"]
        ok = len(rows) == 1 and rows[0][:-1] == want[:-1] and str(rows[0][-1]).startswith(want[-1])
        return None if ok else f"rows {rows} != one row starting {want}"
    want = case["rows"]
    if case.get("unordered"):
        rows, want = sorted(rows), sorted(want)
    return None if rows == want else f"rows {rows} != {want}"


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
    server = start()
    cluster, session = connect(server.host, server.port)
    ks = query_cases.KS
    try:
        for stmt in query_cases.SETUP:
            session.execute(stmt)
        for case in query_cases.CASES:
            def one(case=case):
                diff = compare(case, answer(session, case))
                if diff:
                    raise AssertionError(diff)
            suite.check(case["name"], one)

        def distinct_paging():
            for p in range(100):
                for c in range(3):
                    session.execute(f"INSERT INTO {ks}.events (p, c, v, n) VALUES ({1000 + p}, {c}, 'x', 0)")
            rs = session.execute(SimpleStatement(f"SELECT DISTINCT p FROM {ks}.events", fetch_size=7))
            seen = [r[0] for r in rs]
            assert len(seen) == len(set(seen)) == 105, (len(seen), len(set(seen)))
        suite.check("DISTINCT pages by partition (fetch_size 7 over 105 partitions of 3 rows)", distinct_paging)

        def static_paging():
            # Seeded mix of partitions with rows and partitions with only statics; every page size answers the same rows.
            rng = random.Random(20)
            session.execute(f"CREATE TABLE {ks}.st_pages (p int, c int, s int static, v int, PRIMARY KEY (p, c))")
            want = []
            for p in range(40):
                rows = rng.choice([0, 0, 1, 3])
                session.execute(f"INSERT INTO {ks}.st_pages (p, s) VALUES ({p}, {p * 10})")
                for c in range(rows):
                    session.execute(f"INSERT INTO {ks}.st_pages (p, c, v) VALUES ({p}, {c}, {c})")
                want += [(p, c, p * 10, c) for c in range(rows)] or [(p, None, p * 10, None)]
            full = [tuple(r) for r in session.execute(SimpleStatement(f"SELECT p, c, s, v FROM {ks}.st_pages", fetch_size=None))]
            assert sorted(full, key=repr) == sorted(want, key=repr), (full, want)
            for size in (1, 2, 5):
                paged = [tuple(r) for r in session.execute(SimpleStatement(f"SELECT p, c, s, v FROM {ks}.st_pages", fetch_size=size))]
                assert paged == full, (size, paged, full)
                distinct = [tuple(r) for r in session.execute(SimpleStatement(f"SELECT DISTINCT p, s FROM {ks}.st_pages",
                                                                               fetch_size=size))]
                assert distinct == [(r[0], r[2]) for r in full if r[1] in (None, 0)], (size, distinct)
            one = [tuple(r) for r in session.execute(SimpleStatement(f"SELECT * FROM {ks}.st_pages WHERE p = 3", fetch_size=1))]
            assert one == [w for w in want if w[0] == 3], one
        suite.check("static columns: paging through partitions with and without rows, DISTINCT pages", static_paging)

        def insert_json_prepared():
            ins = session.prepare(f"INSERT INTO {ks}.js JSON ? DEFAULT UNSET")
            assert [c.name for c in ins.column_metadata] == ["[json]"], ins.column_metadata
            session.execute(ins, ('{"k": 20, "t": "p", "l": [3, 2], "m": {"z": 26}}',))
            session.execute(ins, ('{"k": 20, "i": "7"}',))
            row = session.execute(f"SELECT k, t, i, l, m FROM {ks}.js WHERE k = 20").one()
            assert (row[0], row[1], row[2], list(row[3]), dict(row[4])) == (20, "p", 7, [3, 2], {"z": 26}), row
            upd = session.prepare(f"UPDATE {ks}.js SET st = fromJson(?) WHERE k = ?")
            session.execute(upd, ('["y", "x", "y"]', 20))
            assert sorted(session.execute(f"SELECT st FROM {ks}.js WHERE k = 20").one()[0]) == ["x", "y"]
            for bad, want in (('{"k": 21', "Could not decode JSON string as a map: "),
                              ('[1]', "Could not decode JSON string as a map: "),
                              ('{"k": 21, "b": 1.5}', "Error decoding JSON value for b: Expected a bigint value, but got a Double: 1.5")):
                try:
                    session.execute(ins, (bad,))
                except InvalidRequest as e:
                    assert want in str(e), (bad, str(e))
                else:
                    raise AssertionError(f"{bad!r} was accepted")
            assert session.execute(f"SELECT k FROM {ks}.js WHERE k = 21").one() is None
        suite.check("INSERT JSON ? and fromJson(?) prepared; malformed JSON refused", insert_json_prepared)

        def index_describe_and_prepared():
            rows = [tuple(r) for r in session.execute(f"DESCRIBE TABLE {ks}.ix")]
            assert [r[1] for r in rows] == ["table", "index", "index", "index", "index"], rows
            assert [r[3] for r in rows[1:]] == [f"CREATE INDEX ix_c_idx ON {ks}.ix (c);", f"CREATE INDEX ix_l_idx ON {ks}.ix (values(l));",
                                                f"CREATE INDEX ix_s_idx ON {ks}.ix (s);", f"CREATE INDEX ix_v_idx ON {ks}.ix (v);"], rows
            assert "    s int static,\n" in rows[0][3], rows[0][3]
            contains = session.prepare(f"SELECT p, c FROM {ks}.ix WHERE l CONTAINS ?")
            assert [tuple(r) for r in session.execute(contains, (3,))] == [(1, 1)]
            sel = session.prepare(f"SELECT p, c FROM {ks}.ix WHERE v = ?")
            assert [tuple(r) for r in session.execute(sel, (20,))] == [(1, 2)]
            # Rows written after the index exists, and one that expires: the index answers what is live.
            session.execute(f"INSERT INTO {ks}.ix (p, c, v) VALUES (9, 9, 99)")
            assert [tuple(r) for r in session.execute(sel, (99,))] == [(9, 9)]
            session.execute(f"UPDATE {ks}.ix USING TTL 1 SET v = 98 WHERE p = 9 AND c = 8")
            session.execute(f"UPDATE {ks}.ix USING TIMESTAMP 1 SET v = 97 WHERE p = 9 AND c = 9")  # older: loses
            assert [tuple(r) for r in session.execute(sel, (97,))] == []
            deadline = time.monotonic() + 60
            while [tuple(r) for r in session.execute(sel, (98,))] and time.monotonic() < deadline:
                time.sleep(0.05)
            assert [tuple(r) for r in session.execute(sel, (98,))] == [], "an expired value is still answered by the index"
        suite.check("index: DESCRIBE lists the indexes, prepared = ?, later writes, expiry", index_describe_and_prepared)

        def conditional_batch_frame():
            # The BATCH frame drivers send (prepared statements): was_applied and the refused rows.
            ins = session.prepare(f"INSERT INTO {ks}.bt (p, c, v) VALUES (?, ?, ?) IF NOT EXISTS")
            upd = session.prepare(f"UPDATE {ks}.bt SET v = ? WHERE p = ? AND c = ? IF v = ?")
            batch = BatchStatement()
            batch.add(ins, (7, 1, 1))
            batch.add(ins, (7, 2, 2))
            assert session.execute(batch).was_applied
            batch = BatchStatement()
            batch.add(upd, (10, 7, 1, 1))
            batch.add(upd, (20, 7, 2, 5))
            refused = session.execute(batch)
            assert not refused.was_applied
            assert refused.column_names == ["[applied]", "p", "c", "v"], refused.column_names
            assert [tuple(r) for r in refused] == [(False, 7, 1, 1), (False, 7, 2, 2)]
            assert [tuple(r) for r in session.execute(f"SELECT c, v FROM {ks}.bt WHERE p = 7")] == [(1, 1), (2, 2)]
            batch = BatchStatement()
            batch.add(upd, (10, 7, 1, 1))
            batch.add(upd, (20, 8, 2, 2))
            try:
                session.execute(batch)
            except InvalidRequest as e:
                assert "Batch with conditions cannot span multiple partitions" in str(e), str(e)
            else:
                raise AssertionError("a conditional batch over two partitions was accepted")
        suite.check("conditional BATCH frame: was_applied, refused rows, one partition", conditional_batch_frame)

        def prepared_tuples_and_types():
            # Prepared binds of tuples and udts (the driver encodes them from the 0x31 / 0x30 bind metadata) and
            # their result metadata; a restart keeps the types and what the columns hold.
            session.execute(f"CREATE TYPE {ks}.pt (x int, y text)")
            session.execute(f"CREATE TABLE {ks}.shapes (k int, c frozen<tuple<int, text>>, p frozen<pt>, q pt, "
                            "l list<frozen<pt>>, PRIMARY KEY (k, c))")
            ins = session.prepare(f"INSERT INTO {ks}.shapes (k, c, p, q, l) VALUES (?, ?, ?, ?, ?)")
            kinds = [c.type.typename for c in ins.column_metadata]
            assert kinds == ["int", "tuple", "pt", "pt", "list"], kinds
            assert list(ins.column_metadata[2].type.fieldnames) == ["x", "y"], ins.column_metadata[2].type.fieldnames
            session.execute(ins, (1, (2, "b"), (1, "one"), (5, None), [(7, "x")]))
            session.execute(ins, (1, (1, None), None, None, None))
            upd = session.prepare(f"UPDATE {ks}.shapes SET q.y = ? WHERE k = ? AND c = ?")
            session.execute(upd, ("five", 1, (2, "b")))
            rs = session.execute(session.prepare(f"SELECT c, p, q, l, p.y FROM {ks}.shapes WHERE k = ? AND c >= ?"), (1, (1, "a")))
            assert [t.typename for t in rs.column_types] == ["tuple", "pt", "pt", "list", "varchar"], rs.column_types
            rows = [tuple(r) for r in rs]
            assert rows == [((2, "b"), (1, "one"), (5, "five"), [(7, "x")], "one")], rows
        suite.check("prepared tuple and udt binds, result metadata, a field update", prepared_tuples_and_types)

        def prepared_map_relations_and_static_conditions():
            keys = session.prepare(f"SELECT p, c FROM {ks}.mki WHERE m CONTAINS KEY ?")
            assert [c.type.typename for c in keys.column_metadata] == ["varchar"], keys.column_metadata
            assert sorted(tuple(r) for r in session.execute(keys, ("a",))) == [(1, 1), (2, 1)]
            entry = session.prepare(f"SELECT p, c FROM {ks}.mke WHERE m[?] = ?")
            assert [c.type.typename for c in entry.column_metadata] == ["varchar", "int"], entry.column_metadata
            assert [tuple(r) for r in session.execute(entry, ("a", 1))] == [(1, 1)]
            assert [tuple(r) for r in session.execute(entry, ("b", 1))] == []
            session.execute(f"CREATE TABLE {ks}.scp (p int, c int, s int static, v int, PRIMARY KEY (p, c))")
            upd = session.prepare(f"UPDATE {ks}.scp SET s = ? WHERE p = ? IF s = ?")
            assert session.execute(upd, (1, 1, None)).was_applied  # a partition without statics: s is null
            refused = session.execute(upd, (2, 1, 5))
            assert not refused.was_applied and list(refused.one()) == [False, 1], list(refused)
            assert session.execute(upd, (2, 1, 1)).was_applied
        suite.check("prepared CONTAINS KEY ? and m[?] = ?; prepared IF on a static column", prepared_map_relations_and_static_conditions)

        def prepared_lwt():
            ins = session.prepare(f"INSERT INTO {ks}.kv (k, v, w) VALUES (?, ?, ?) IF NOT EXISTS")
            first = session.execute(ins, ("prep", 7, "seven"))
            assert first.was_applied and list(first.one()) == [True], list(first)
            again = session.execute(ins, ("prep", 8, "eight"))
            assert not again.was_applied
            assert again.column_names == ["[applied]", "k", "v", "w"], again.column_names
            assert list(again.one()) == [False, "prep", 7, "seven"], list(again)
            upd = session.prepare(f"UPDATE {ks}.kv SET w = ? WHERE k = ? IF v = ?")
            refused = session.execute(upd, ("x", "prep", 1))
            assert not refused.was_applied and list(refused.one()) == [False, 7], list(refused)
            assert session.execute(upd, ("x", "prep", 7)).was_applied
        suite.check("prepared INSERT IF NOT EXISTS / UPDATE IF: was_applied and the existing row", prepared_lwt)

        def types_survive_restart():
            # Last: the server restarts on its data directory; types (altered, used by tables) and values are read back.
            server.stop()
            again = start()
            cluster2, session2 = connect(again.host, again.port)
            try:
                rows = [tuple(r) for r in session2.execute(f"SELECT type_name, field_names FROM system_schema.types WHERE keyspace_name = '{ks}'")]
                assert sorted(rows) == [("addr", ["street", "num", "postcode"]), ("kt", ["street", "num"]), ("pt", ["x", "y"])], rows
                row = tuple(session2.execute(f"SELECT f, n, l FROM {ks}.u WHERE k = 1").one())
                assert row == (("main", 1, None), ("x", None, None), [("a", 2, None)]), row
                row = tuple(session2.execute(f"SELECT c, q FROM {ks}.shapes WHERE k = 1 AND c = (2, 'b')").one())
                assert row == ((2, "b"), (5, "five")), row
                session2.execute(f"UPDATE {ks}.u SET n.postcode = 12 WHERE k = 1")
                assert tuple(session2.execute(f"SELECT n FROM {ks}.u WHERE k = 1").one()[0]) == ("x", None, 12)
            finally:
                cluster2.shutdown()
        suite.check("user-defined types and tuple values survive a restart", types_survive_restart)

    finally:
        cluster.shutdown()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
