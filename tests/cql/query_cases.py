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
    dict(name="DISTINCT on a clustering column is refused", query=f"SELECT DISTINCT p, c FROM {KS}.events",
         error=(INVALID, "SELECT DISTINCT queries must only request partition key columns and/or static columns (not c)")),
    dict(name="DISTINCT on a regular column is refused", query=f"SELECT DISTINCT v FROM {KS}.events",
         error=(INVALID, "SELECT DISTINCT queries must only request partition key columns and/or static columns (not v)")),
    dict(name="DISTINCT on part of a composite key is refused", query=f"SELECT DISTINCT a FROM {KS}.multi",
         error=(INVALID, "SELECT DISTINCT queries must request all the partition key columns (missing b)")),
    dict(name="DISTINCT with a clustering restriction is refused",
         query=f"SELECT DISTINCT p FROM {KS}.events WHERE p = 1 AND c = 1",
         error=(INVALID, "SELECT DISTINCT with WHERE clause only supports restriction by partition key and/or static columns.")),

]
