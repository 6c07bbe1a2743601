"""CQL statements with the answers Apache Cassandra 5.0 gives them, shared by
query_suite.py (millrace against these answers) and compat_suite.py (the same
statements against Cassandra and millrace, compared row by row).

SETUP runs once, in order. Each case is a dict:
  name     what it checks
  query    one statement (Python driver %s parameters when `params` is given)
  params   optional parameters
  columns  expected result column names (the result metadata)
  rows     expected rows (tuples), in order unless `unordered`
  error    (exception class name, message substring) instead of rows
  shape    "rows" (default: values compared), "count" (only the number of rows)
"""

KS = "cqlq"

SETUP = [
    f"DROP KEYSPACE IF EXISTS {KS}",
    f"CREATE KEYSPACE {KS} WITH replication = {{'class': 'SimpleStrategy', 'replication_factor': '1'}}",
    f"CREATE TABLE {KS}.events (p int, c int, v text, n int, PRIMARY KEY (p, c))",
    f"CREATE TABLE {KS}.multi (a int, b text, c int, v int, PRIMARY KEY ((a, b), c))",
    f"CREATE TABLE {KS}.kv (k text PRIMARY KEY, v int, w text)",
] + [
    f"INSERT INTO {KS}.events (p, c, v, n) VALUES ({p}, {c}, 'v{p}_{c}', {p * 10 + c})" for p in range(1, 6) for c in range(3)
] + [
    f"INSERT INTO {KS}.multi (a, b, c, v) VALUES ({a}, '{b}', {c}, {a + c})" for a in (1, 2) for b in ("x", "y") for c in (1, 2)
] + [
    f"INSERT INTO {KS}.kv (k, v, w) VALUES ('one', 1, 'uno')",
    f"INSERT INTO {KS}.kv (k, v, w) VALUES ('two', 2, 'dos')",
]

INVALID = "InvalidRequest"

CASES = [
    # ---- SELECT DISTINCT
    dict(name="DISTINCT partition key: one row per partition", query=f"SELECT DISTINCT p FROM {KS}.events",
         columns=["p"], rows=[(1,), (2,), (3,), (4,), (5,)], unordered=True),
    dict(name="DISTINCT with a partition key restriction", query=f"SELECT DISTINCT p FROM {KS}.events WHERE p IN (2, 4)",
         columns=["p"], rows=[(2,), (4,)], unordered=True),
    dict(name="DISTINCT with LIMIT counts partitions", query=f"SELECT DISTINCT p FROM {KS}.events LIMIT 2", columns=["p"],
         shape="count", rows=[(0,), (0,)]),
    dict(name="DISTINCT composite partition key", query=f"SELECT DISTINCT a, b FROM {KS}.multi", columns=["a", "b"],
         rows=[(1, "x"), (1, "y"), (2, "x"), (2, "y")], unordered=True),
    dict(name="DISTINCT token(p) with the key", query=f"SELECT DISTINCT p, token(p) FROM {KS}.events WHERE p = 3",
         columns=["p", "system.token(p)"], rows=[(3, 9010454139840013625)]),
    dict(name="DISTINCT on a clustering column is refused", query=f"SELECT DISTINCT p, c FROM {KS}.events",
         error=(INVALID, "SELECT DISTINCT queries must only request partition key columns and/or static columns (not c)")),
    dict(name="DISTINCT on a regular column is refused", query=f"SELECT DISTINCT v FROM {KS}.events",
         error=(INVALID, "SELECT DISTINCT queries must only request partition key columns and/or static columns (not v)")),
    dict(name="DISTINCT on part of a composite key is refused", query=f"SELECT DISTINCT a FROM {KS}.multi",
         error=(INVALID, "SELECT DISTINCT queries must request all the partition key columns (missing b)")),
    dict(name="DISTINCT with a clustering restriction is refused",
         query=f"SELECT DISTINCT p FROM {KS}.events WHERE p = 1 AND c = 1",
         error=(INVALID, "SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.")),

    # ---- selectors
    dict(name="token(pk) selector and its column name", query=f"SELECT token(p), p FROM {KS}.events WHERE p = 1 AND c = 0",
         columns=["system.token(p)", "p"], rows=[(-4069959284402364209, 1)]),
    dict(name="alias with AS", query=f"SELECT v AS value, n AS number FROM {KS}.events WHERE p = 1 AND c = 2",
         columns=["value", "number"], rows=[("v1_2", 12)]),
    dict(name="TTL of a cell without TTL is null", query=f"SELECT ttl(v) FROM {KS}.events WHERE p = 1 AND c = 1",
         columns=["ttl(v)"], rows=[(None,)]),
    dict(name="WRITETIME column name", query=f"SELECT writetime(v) FROM {KS}.events WHERE p = 1 AND c = 1",
         columns=["writetime(v)"], shape="count", rows=[(0,)]),
    dict(name="WRITETIME of a key column is refused", query=f"SELECT writetime(p) FROM {KS}.events",
         error=(INVALID, "Cannot use selection function writetime on PRIMARY KEY part p")),
    dict(name="TTL of a key column is refused", query=f"SELECT ttl(c) FROM {KS}.events",
         error=(INVALID, "Cannot use selection function ttl on PRIMARY KEY part c")),
    dict(name="CAST int AS text", query=f"SELECT CAST(n AS text) FROM {KS}.events WHERE p = 2 AND c = 1",
         columns=["cast(n as text)"], rows=[("21",)]),
    dict(name="CAST int AS bigint", query=f"SELECT CAST(n AS bigint) FROM {KS}.events WHERE p = 2 AND c = 1",
         columns=["cast(n as bigint)"], rows=[(21,)]),
    dict(name="toJson of a text and an int", query=f"SELECT toJson(v), toJson(n) FROM {KS}.events WHERE p = 2 AND c = 1",
         columns=["system.tojson(v)", "system.tojson(n)"], rows=[('"v2_1"', "21")]),
    dict(name="now() and uuid() selectors", query=f"SELECT now(), uuid() FROM {KS}.kv WHERE k = 'one'",
         columns=["system.now()", "system.uuid()"], shape="count", rows=[(0, 0)]),
    dict(name="toUnixTimestamp(minTimeuuid(...))",
         query=f"SELECT toUnixTimestamp(minTimeuuid('2024-01-02 03:04:05+0000')) FROM {KS}.kv WHERE k = 'one'",
         columns=["system.tounixtimestamp(system.mintimeuuid('2024-01-02 03:04:05+0000'))"], rows=[(1704164645000,)]),

    # ---- SELECT JSON
    dict(name="SELECT JSON of columns", query=f"SELECT JSON p, c, v FROM {KS}.events WHERE p = 1 AND c = 0",
         columns=["[json]"], rows=[('{"p": 1, "c": 0, "v": "v1_0"}',)]),
    dict(name="SELECT JSON * with an alias-free function", query=f"SELECT JSON k, v, token(k) FROM {KS}.kv WHERE k = 'two'",
         columns=["[json]"], shape="count", rows=[(0,)]),

    # ---- lightweight transactions: the refused ones return the existing row
    dict(name="INSERT IF NOT EXISTS applied", query=f"INSERT INTO {KS}.kv (k, v, w) VALUES ('three', 3, 'tres') IF NOT EXISTS",
         columns=["[applied]"], rows=[(True,)]),
    dict(name="INSERT IF NOT EXISTS refused returns the row",
         query=f"INSERT INTO {KS}.kv (k, v, w) VALUES ('one', 100, 'x') IF NOT EXISTS",
         columns=["[applied]", "k", "v", "w"], rows=[(False, "one", 1, "uno")]),
    dict(name="UPDATE IF col = value refused returns the column",
         query=f"UPDATE {KS}.kv SET w = 'eins' WHERE k = 'one' IF v = 5",
         columns=["[applied]", "v"], rows=[(False, 1)]),
    dict(name="UPDATE IF col = value applied", query=f"UPDATE {KS}.kv SET w = 'eins' WHERE k = 'one' IF v = 1",
         columns=["[applied]"], rows=[(True,)]),
    dict(name="UPDATE IF col = value applied wrote", query=f"SELECT w FROM {KS}.kv WHERE k = 'one'", columns=["w"],
         rows=[("eins",)]),
    dict(name="UPDATE IF two conditions refused returns both",
         query=f"UPDATE {KS}.kv SET v = 9 WHERE k = 'two' IF v = 2 AND w = 'zwei'",
         columns=["[applied]", "v", "w"], rows=[(False, 2, "dos")]),
    dict(name="UPDATE IF EXISTS on a missing row", query=f"UPDATE {KS}.kv SET v = 1 WHERE k = 'nope' IF EXISTS",
         columns=["[applied]"], rows=[(False,)]),
    dict(name="UPDATE IF col = on a missing row", query=f"UPDATE {KS}.kv SET v = 1 WHERE k = 'nope' IF v = 1",
         columns=["[applied]"], rows=[(False,)]),
    dict(name="DELETE IF col = refused returns the column", query=f"DELETE FROM {KS}.kv WHERE k = 'two' IF w = 'deux'",
         columns=["[applied]", "w"], rows=[(False, "dos")]),
    dict(name="DELETE IF EXISTS applied", query=f"DELETE FROM {KS}.kv WHERE k = 'three' IF EXISTS",
         columns=["[applied]"], rows=[(True,)]),
    dict(name="DELETE IF EXISTS refused on a missing row", query=f"DELETE FROM {KS}.kv WHERE k = 'three' IF EXISTS",
         columns=["[applied]"], rows=[(False,)]),
    dict(name="UPDATE IF col != value refused", query=f"UPDATE {KS}.kv SET v = 3 WHERE k = 'two' IF v != 2",
         columns=["[applied]", "v"], rows=[(False, 2)]),
    dict(name="UPDATE IF col > value applied", query=f"UPDATE {KS}.kv SET w = 'deux' WHERE k = 'two' IF v > 1",
         columns=["[applied]"], rows=[(True,)]),

]
