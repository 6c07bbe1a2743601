"""The same statements against Apache Cassandra 5.0 and millrace, compared row
by row: query_cases.py's SETUP and CASES (result column names, rows, error
class and message) and the columns of the system tables drivers read
(system.local, system.peers_v2, system_schema.*). Every difference is a
failure that names the case and both answers. `cassandra` is "host:port" of a
running node (run.py starts scripts/peers/cassandra once for the suite)."""

import time

import query_cases
from query_suite import Suite, answer, connect

# Columns of these tables are compared by name (values differ between nodes: addresses, ids, versions).
SYSTEM_TABLES = ["system.local", "system.peers", "system.peers_v2", "system_schema.keyspaces", "system_schema.tables",
                 "system_schema.columns", "system_schema.types", "system_schema.indexes", "system_schema.views",
                 "system_schema.functions", "system_schema.aggregates", "system_schema.triggers",
                 "system_schema.dropped_columns"]


def normalized(case, got):
    if got[0] == "error":
        return got
    columns, rows = got
    if case.get("shape") == "count":
        return columns, len(rows)
    if case.get("shape") == "contains":  # the rows of the suite's keyspace (both nodes have others of their own)
        return columns, sorted(r for r in rows if r[0] == query_cases.KS)
    if case.get("shape") == "prefix":  # the statement up to its table options (which differ between nodes)
        cut = len(case["rows"][0][-1])
        return columns, [tuple(r[:-1]) + (str(r[-1])[:cut],) for r in rows]
    return columns, sorted(rows) if case.get("unordered") else rows


def answer_when_ready(session, case, timeout_s=120.0):
    """Cassandra builds a new secondary index in the background and fails reads through it (ReadFailure) until
    the build ends: such a read is repeated until it answers otherwise or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = answer(session, case)
        if got[0] != "error" or got[1] != "ReadFailure" or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def run_all(start, cassandra):
    suite = Suite()
    server = start()
    host, port = cassandra.rsplit(":", 1)
    ref_cluster, ref = connect(host, int(port))
    our_cluster, ours = connect(server.host, server.port)
    try:
        for stmt in query_cases.SETUP:
            ref.execute(stmt)
            ours.execute(stmt)
        for case in query_cases.CASES:
            def one(case=case):
                want = normalized(case, answer_when_ready(ref, case))
                got = normalized(case, answer(ours, case))
                if want[0] == "error" and got[0] == "error":
                    if want[1] != got[1] or want[2] != got[2]:
                        raise AssertionError(f"Cassandra: {want!r}\nmillrace: {got!r}")
                elif want != got:
                    raise AssertionError(f"Cassandra: {want!r}\nmillrace: {got!r}")
            suite.check(f"same answer: {case['name']}", one)

        for table in SYSTEM_TABLES:
            def columns(table=table):
                q = {"query": f"SELECT * FROM {table} LIMIT 1"}
                want, got = answer(ref, q), answer(ours, q)
                if want[0] == "error" or got[0] == "error":
                    assert want[0] == got[0], f"Cassandra: {want!r}\nmillrace: {got!r}"
                    return
                missing = [c for c in want[0] if c not in got[0]]
                extra = [c for c in got[0] if c not in want[0]]
                assert not missing and not extra, f"{table}: missing {missing}, not in Cassandra {extra}"
            suite.check(f"same columns: {table}", columns)
    finally:
        ref_cluster.shutdown()
        our_cluster.shutdown()
    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
