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
    # Static columns: s and t hold one value per partition p.
    f"CREATE TABLE {KS}.st (p int, c int, s text static, t int static, v int, PRIMARY KEY (p, c))",
    f"INSERT INTO {KS}.st (p, c, s, v) VALUES (1, 1, 's1', 10)",
    f"INSERT INTO {KS}.st (p, c, v) VALUES (1, 2, 20)",
    f"INSERT INTO {KS}.st (p, s) VALUES (2, 'only')",
    f"UPDATE {KS}.st SET t = 7 WHERE p = 3",
    f"INSERT INTO {KS}.st (p, c, v) VALUES (3, 1, 31)",
    f"INSERT INTO {KS}.st (p, c, s, v) VALUES (4, 1, 'del', 41)",
    f"DELETE s FROM {KS}.st WHERE p = 4",
    f"INSERT INTO {KS}.st (p, c, s, t, v) VALUES (5, 1, 'gone', 5, 51)",
    f"DELETE FROM {KS}.st WHERE p = 5",
    f"INSERT INTO {KS}.st (p, c, s, v) VALUES (6, 1, 'six', 61)",
    f"INSERT INTO {KS}.st (p, c, v) VALUES (6, 2, 62)",
    f"DELETE FROM {KS}.st WHERE p = 6 AND c = 1",
    f"DELETE FROM {KS}.st WHERE p = 6 AND c = 2",
    f"INSERT INTO {KS}.st (p, c, s, v) VALUES (7, 1, 'old', 71)",
    f"UPDATE {KS}.st SET s = 'new', v = 72 WHERE p = 7 AND c = 1",
    f"ALTER TABLE {KS}.st ADD u int static",
    f"UPDATE {KS}.st SET u = 77 WHERE p = 7",
    # INSERT JSON and fromJson(): one column of each type.
    f"CREATE TABLE {KS}.js (k int PRIMARY KEY, t text, i int, b bigint, d double, f boolean, u uuid, ts timestamp, bl blob, "
    "l list<int>, st set<text>, m map<text, int>, mi map<int, text>, dt date, vi varint, dc decimal, "
    "ip inet)",
    # Secondary indexes.
    f"CREATE TABLE {KS}.ix (p int, c int, v int, w text, m map<text, int>, l list<int>, fl frozen<list<int>>, s int static, "
    "PRIMARY KEY (p, c))",
    f"INSERT INTO {KS}.ix (p, c, v, w, l) VALUES (1, 1, 10, 'a', [1, 3])",
    f"INSERT INTO {KS}.ix (p, c, v, w, l) VALUES (1, 2, 20, 'b', [2])",
    f"INSERT INTO {KS}.ix (p, c, v, w) VALUES (2, 1, 10, 'c')",
    f"INSERT INTO {KS}.ix (p, c, v, w) VALUES (3, 1, 10, 'd')",
    f"CREATE TABLE {KS}.bt (p int, c int, v int, w text, PRIMARY KEY (p, c))",
]

FILTERING = ("Cannot execute this query as it might involve data filtering and thus may have unpredictable performance. "
             "If you want to execute this query despite the performance unpredictability, use ALLOW FILTERING")

JSON_ROW = ('{"k": 1, "t": "x", "i": "42", "b": 7, "d": 1.5, "f": "true", "u": "550e8400-e29b-41d4-a716-446655440000", '
            '"ts": "2024-01-02 03:04:05+0000", "bl": "0x0102", "l": [1, 2], "st": ["b", "a"], "m": {"a": 1}, "mi": {"1": "one"}, '
            '"dt": "2024-01-02", "vi": "123", "dc": 1.25, "ip": "127.0.0.1"}')
JSON_COLUMNS = "k, t, i, b, d, f, u, ts, bl, l, st, m, mi, dt, vi, dc, ip"


def json_error(column, message):
    return (INVALID, f"Error decoding JSON value for {column}: {message}")

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

    # ---- static columns
    dict(name="static: every row of the partition carries it", query=f"SELECT * FROM {KS}.st WHERE p = 1",
         columns=["p", "c", "s", "t", "u", "v"], rows=[(1, 1, "s1", None, None, 10), (1, 2, "s1", None, None, 20)]),
    dict(name="static: a partition with only statics is one row", query=f"SELECT * FROM {KS}.st WHERE p = 2",
         columns=["p", "c", "s", "t", "u", "v"], rows=[(2, None, "only", None, None, None)]),
    dict(name="static: set by UPDATE of the partition", query=f"SELECT p, c, t, v FROM {KS}.st WHERE p = 3",
         columns=["p", "c", "t", "v"], rows=[(3, 1, 7, 31)]),
    dict(name="static: DELETE of a static column", query=f"SELECT p, c, s, v FROM {KS}.st WHERE p = 4",
         columns=["p", "c", "s", "v"], rows=[(4, 1, None, 41)]),
    dict(name="static: DELETE of the partition removes them", query=f"SELECT * FROM {KS}.st WHERE p = 5",
         columns=["p", "c", "s", "t", "u", "v"], rows=[]),
    dict(name="static: deleting every row keeps them", query=f"SELECT * FROM {KS}.st WHERE p = 6",
         columns=["p", "c", "s", "t", "u", "v"], rows=[(6, None, "six", None, None, None)]),
    dict(name="static: UPDATE with the full key and a column added by ALTER", query=f"SELECT s, u, v FROM {KS}.st WHERE p = 7",
         columns=["s", "u", "v"], rows=[("new", 77, 72)]),
    dict(name="static: a clustering restriction on a partition without rows", query=f"SELECT s, v FROM {KS}.st WHERE p = 2 AND c = 1",
         columns=["s", "v"], rows=[]),
    dict(name="static: selecting only statics with a clustering restriction is refused",
         query=f"SELECT s FROM {KS}.st WHERE p = 2 AND c = 1",
         error=(INVALID, "Cannot restrict clustering columns when selecting only static columns")),
    dict(name="static: UPDATE of statics alone with a clustering key is refused",
         query=f"UPDATE {KS}.st SET s = 'x' WHERE p = 7 AND c = 1",
         error=(INVALID, "Invalid restrictions on clustering columns since the UPDATE statement modifies only static columns")),
    dict(name="static: count(*) of a partition with only statics", query=f"SELECT count(*) FROM {KS}.st WHERE p = 2",
         columns=["count"], rows=[(1,)]),
    dict(name="static: DISTINCT returns them per partition", query=f"SELECT DISTINCT p, s FROM {KS}.st",
         columns=["p", "s"], rows=[(1, "s1"), (2, "only"), (3, None), (4, None), (6, "six"), (7, "new")], unordered=True),
    dict(name="static: whole table", query=f"SELECT p, c, s, v FROM {KS}.st", unordered=True, columns=["p", "c", "s", "v"],
         rows=[(1, 1, "s1", 10), (1, 2, "s1", 20), (2, None, "only", None), (3, 1, None, 31), (4, 1, None, 41),
               (6, None, "six", None), (7, 1, "new", 72)]),
    dict(name="static: filtering on a static column", query=f"SELECT p, c FROM {KS}.st WHERE s = 's1' ALLOW FILTERING",
         columns=["p", "c"], rows=[(1, 1), (1, 2)]),
    dict(name="static: writetime of a static column", query=f"SELECT writetime(s) FROM {KS}.st WHERE p = 2",
         columns=["writetime(s)"], shape="count", rows=[(0,)]),
    dict(name="static: system_schema.columns kind",
         query=f"SELECT column_name, kind, position FROM system_schema.columns WHERE keyspace_name = '{KS}' AND table_name = 'st'",
         columns=["column_name", "kind", "position"], unordered=True,
         rows=[("p", "partition_key", 0), ("c", "clustering", 0), ("s", "static", -1), ("t", "static", -1), ("u", "static", -1),
               ("v", "regular", -1)]),
    dict(name="static: a regular column needs the clustering key", query=f"INSERT INTO {KS}.st (p, v) VALUES (9, 1)",
         error=(INVALID, "Some clustering keys are missing: c")),
    dict(name="static: refused in a table without clustering columns",
         query=f"CREATE TABLE {KS}.st_bad (p int PRIMARY KEY, s int static)",
         error=(INVALID, "Static columns are only useful (and thus allowed) if the table has at least one clustering column")),
    dict(name="static: refused in the primary key",
         query=f"CREATE TABLE {KS}.st_bad (p int, c int static, PRIMARY KEY (p, c))",
         error=(INVALID, "Static column 'c' cannot be part of the PRIMARY KEY")),
    dict(name="static: ALTER ADD static refused without clustering columns", query=f"ALTER TABLE {KS}.kv ADD s int static",
         error=(INVALID, "Static columns are only useful (and thus allowed) if the table has at least one clustering column")),

    # ---- INSERT JSON, fromJson()
    dict(name="INSERT JSON of every type", query=f"INSERT INTO {KS}.js JSON '{JSON_ROW}'", columns=[], rows=[]),
    dict(name="INSERT JSON read back", query=f"SELECT JSON {JSON_COLUMNS} FROM {KS}.js WHERE k = 1", columns=["[json]"],
         rows=[('{"k": 1, "t": "x", "i": 42, "b": 7, "d": 1.5, "f": true, "u": "550e8400-e29b-41d4-a716-446655440000", '
                '"ts": "2024-01-02 03:04:05.000Z", "bl": "0x0102", "l": [1, 2], "st": ["a", "b"], "m": {"a": 1}, "mi": {"1": "one"}, '
                '"dt": "2024-01-02", "vi": 123, "dc": 1.25, "ip": "127.0.0.1"}',)]),
    dict(name="INSERT JSON DEFAULT UNSET keeps the other columns",
         query=f"INSERT INTO {KS}.js JSON '{{\"k\": 1, \"t\": \"y\"}}' DEFAULT UNSET", columns=[], rows=[]),
    dict(name="INSERT JSON DEFAULT UNSET read back", query=f"SELECT k, t, i FROM {KS}.js WHERE k = 1", columns=["k", "t", "i"],
         rows=[(1, "y", 42)]),
    dict(name="INSERT JSON (DEFAULT NULL) nulls the other columns",
         query=f"INSERT INTO {KS}.js JSON '{{\"K\": 1, \"t\": \"z\"}}'", columns=[], rows=[]),
    dict(name="INSERT JSON DEFAULT NULL read back", query=f"SELECT k, t, i, l FROM {KS}.js WHERE k = 1", columns=["k", "t", "i", "l"],
         rows=[(1, "z", None, None)]),
    dict(name="fromJson() in INSERT and UPDATE",
         query=f"INSERT INTO {KS}.js (k, t, i, l) VALUES (3, fromJson('\"a\"'), fromJson('\"12\"'), fromJson('[3, 1]'))",
         columns=[], rows=[]),
    dict(name="fromJson() in UPDATE", query=f"UPDATE {KS}.js SET i = fromJson('5'), ts = fromJson('1700000000000') WHERE k = 3",
         columns=[], rows=[]),
    dict(name="fromJson() read back", query=f"SELECT JSON k, t, i, l, ts FROM {KS}.js WHERE k = 3", columns=["[json]"],
         rows=[('{"k": 3, "t": "a", "i": 5, "l": [3, 1], "ts": "2023-11-14 22:13:20.000Z"}',)]),
    dict(name="INSERT JSON with a prepared-style null column", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 5, \"t\": null}}'",
         columns=[], rows=[]),
    dict(name="INSERT JSON unknown column", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"nope\": 1}}'",
         error=(INVALID, "JSON values map contains unrecognized column: nope")),
    dict(name="INSERT JSON quoted keys are case-sensitive", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"\\\"T\\\"\": 1}}'",
         error=(INVALID, "JSON values map contains unrecognized column: T")),
    dict(name="INSERT JSON without the key", query=f"INSERT INTO {KS}.js JSON '{{\"t\": \"x\"}}'",
         error=(INVALID, "Invalid null value in condition for column k")),
    dict(name="INSERT JSON null key", query=f"INSERT INTO {KS}.js JSON '{{\"k\": null}}'",
         error=(INVALID, "Invalid null value in condition for column k")),
    dict(name="INSERT JSON number for text", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"t\": 5}}'",
         error=json_error("t", "Expected a UTF-8 string, but got a Integer: 5")),
    dict(name="INSERT JSON bad numeric string", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"i\": \"x\"}}'",
         error=json_error("i", "Unable to make int from 'x'")),
    dict(name="INSERT JSON float for int", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"i\": 1.5}}'",
         error=json_error("i", "Expected an int value, but got a Double: 1.5")),
    dict(name="INSERT JSON long for int", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"i\": 2147483648}}'",
         error=json_error("i", "Expected an int value, but got a Long: 2147483648")),
    dict(name="INSERT JSON bad double string", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"d\": \"abc\"}}'",
         error=json_error("d", "Unable to make double from 'abc'")),
    dict(name="INSERT JSON number for boolean", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"f\": 1}}'",
         error=json_error("f", "Expected a boolean value, but got a Integer: 1")),
    dict(name="INSERT JSON bad uuid", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"u\": \"zz\"}}'",
         error=json_error("u", "Unable to make UUID from 'zz'")),
    dict(name="INSERT JSON blob without 0x", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"bl\": \"0102\"}}'",
         error=json_error("bl", "Value '0102' is not a valid blob representation: String representation of blob is missing 0x prefix: 0102")),
    dict(name="INSERT JSON number for a list", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"l\": 1}}'",
         error=json_error("l", "Expected a list, but got a Integer: 1")),
    dict(name="INSERT JSON bad map value", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"m\": {{\"a\": \"x\"}}}}'",
         error=json_error("m", "Unable to make int from 'x'")),
    dict(name="INSERT JSON bad map key", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"mi\": {{\"x\": \"one\"}}}}'",
         error=json_error("mi", "Unable to make int from 'x'")),
    dict(name="INSERT JSON boolean for a timestamp", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"ts\": true}}'",
         error=json_error("ts", "Expected a long or a datestring representation of a timestamp value, but got a Boolean: true")),
    dict(name="INSERT JSON number for a set", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"st\": 1}}'",
         error=json_error("st", "Expected a list (representing a set), but got a Integer: 1")),
    dict(name="INSERT JSON number for a uuid", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"u\": 1}}'",
         error=json_error("u", "Expected a string representation of a uuid, but got a Integer: 1")),
    dict(name="INSERT JSON boolean for a double", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"d\": true}}'",
         error=json_error("d", "Expected a double value, but got a Boolean: true")),
    dict(name="INSERT JSON boolean for a decimal", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"dc\": true}}'",
         error=json_error("dc", "Value 'true' is not a valid representation of a decimal value")),
    dict(name="INSERT JSON bad bigint string", query=f"INSERT INTO {KS}.js JSON '{{\"k\": 2, \"b\": \"x\"}}'",
         error=json_error("b", "Unable to make long from 'x'")),
    dict(name="INSERT JSON refused writes nothing", query=f"SELECT k FROM {KS}.js WHERE k = 2", columns=["k"], rows=[]),

    # ---- secondary indexes
    dict(name="index: without it, = on a regular column needs filtering", query=f"SELECT p, c FROM {KS}.ix WHERE v = 10",
         error=(INVALID, FILTERING)),
    dict(name="index: CREATE INDEX (built for the rows already there)", query=f"CREATE INDEX ON {KS}.ix (v)", columns=[], rows=[]),
    dict(name="index: = on the indexed column", query=f"SELECT p, c, v FROM {KS}.ix WHERE v = 10", columns=["p", "c", "v"],
         rows=[(1, 1, 10), (2, 1, 10), (3, 1, 10)], unordered=True),
    dict(name="index: count(*)", query=f"SELECT count(*) FROM {KS}.ix WHERE v = 10", columns=["count"], rows=[(3,)]),
    dict(name="index: with the partition key", query=f"SELECT p, c FROM {KS}.ix WHERE p = 1 AND v = 10", columns=["p", "c"],
         rows=[(1, 1)]),
    dict(name="index: an unindexed restriction more needs filtering", query=f"SELECT p, c FROM {KS}.ix WHERE v = 10 AND w = 'a'",
         error=(INVALID, FILTERING)),
    dict(name="index: a range needs filtering", query=f"SELECT p, c FROM {KS}.ix WHERE v > 10", error=(INVALID, FILTERING)),
    dict(name="index: a clustering restriction without the partition needs filtering",
         query=f"SELECT p, c FROM {KS}.ix WHERE c = 1 AND v = 10", error=(INVALID, FILTERING)),
    dict(name="index: an UPDATE moves the row out", query=f"UPDATE {KS}.ix SET v = 11 WHERE p = 2 AND c = 1", columns=[], rows=[]),
    dict(name="index: a DELETE removes the row", query=f"DELETE FROM {KS}.ix WHERE p = 3 AND c = 1", columns=[], rows=[]),
    dict(name="index: after UPDATE and DELETE", query=f"SELECT p, c FROM {KS}.ix WHERE v = 10", columns=["p", "c"], rows=[(1, 1)]),
    dict(name="index: the same column again", query=f"CREATE INDEX ON {KS}.ix (v)",
         error=(INVALID, "Index ix_v_idx_1 is a duplicate of existing index ix_v_idx")),
    dict(name="index: IF NOT EXISTS on the same column", query=f"CREATE INDEX IF NOT EXISTS ON {KS}.ix (v)", columns=[], rows=[]),
    dict(name="index: a named duplicate", query=f"CREATE INDEX other ON {KS}.ix (v)",
         error=(INVALID, "Index other is a duplicate of existing index ix_v_idx")),
    dict(name="index: a taken name", query=f"CREATE INDEX ix_v_idx ON {KS}.ix (w)", error=(INVALID, "Index 'ix_v_idx' already exists")),
    dict(name="index: a named index", query=f"CREATE INDEX wi ON {KS}.ix (w)", columns=[], rows=[]),
    dict(name="index: = on the named index", query=f"SELECT p, c FROM {KS}.ix WHERE w = 'b'", columns=["p", "c"], rows=[(1, 2)]),
    dict(name="index: an unknown column", query=f"CREATE INDEX ON {KS}.ix (nope)",
         error=(INVALID, "Undefined column name nope in table cqlq.ix")),
    dict(name="index: an unknown table", query=f"CREATE INDEX ON {KS}.nope (v)", error=(INVALID, "Table 'nope' doesn't exist")),
    dict(name="index: the only partition key column", query=f"CREATE INDEX ON {KS}.kv (k)",
         error=(INVALID, "Cannot create secondary index on the only partition key column k")),
    dict(name="index: keys() of a list", query=f"CREATE INDEX ON {KS}.ix (keys(l))",
         error=(INVALID, "Cannot create index on keys of column l with non-map type")),
    dict(name="index: a frozen collection without full()", query=f"CREATE INDEX ON {KS}.ix (fl)",
         error=(INVALID, "Cannot create values() index on frozen column fl. Frozen collections are immutable and must be fully "
                         "indexed by using the 'full(fl)' modifier")),
    dict(name="index: values of a list by default", query=f"CREATE INDEX ON {KS}.ix (l)", columns=[], rows=[]),
    dict(name="index: CONTAINS on the list's values", query=f"SELECT p, c FROM {KS}.ix WHERE l CONTAINS 3", columns=["p", "c"],
         rows=[(1, 1)]),
    dict(name="index: on a clustering column", query=f"CREATE INDEX ON {KS}.ix (c)", columns=[], rows=[]),
    dict(name="index: = on the clustering column alone", query=f"SELECT p, c FROM {KS}.ix WHERE c = 1", columns=["p", "c"],
         rows=[(1, 1), (2, 1)], unordered=True),
    dict(name="index: on a static column", query=f"CREATE INDEX ON {KS}.ix (s)", columns=[], rows=[]),
    dict(name="index: system_schema.indexes",
         query=f"SELECT table_name, index_name, kind, options FROM system_schema.indexes WHERE keyspace_name = '{KS}'",
         columns=["table_name", "index_name", "kind", "options"], unordered=True,
         rows=[("ix", "ix_c_idx", "COMPOSITES", {"target": "c"}), ("ix", "ix_l_idx", "COMPOSITES", {"target": "values(l)"}),
               ("ix", "ix_s_idx", "COMPOSITES", {"target": "s"}), ("ix", "ix_v_idx", "COMPOSITES", {"target": "v"}),
               ("ix", "wi", "COMPOSITES", {"target": "w"})]),
    dict(name="index: a column with an index cannot be dropped", query=f"ALTER TABLE {KS}.ix DROP w",
         error=(INVALID, "Cannot drop column w because it has dependent secondary indexes (wi)")),
    dict(name="index: DROP INDEX of an unknown index", query=f"DROP INDEX {KS}.nope", error=(INVALID, "Index 'cqlq.nope' doesn't exist'")),
    dict(name="index: DROP INDEX IF EXISTS of an unknown index", query=f"DROP INDEX IF EXISTS {KS}.nope", columns=[], rows=[]),
    dict(name="index: DROP INDEX", query=f"DROP INDEX {KS}.wi", columns=[], rows=[]),
    dict(name="index: dropped, = needs filtering again", query=f"SELECT p, c FROM {KS}.ix WHERE w = 'b'", error=(INVALID, FILTERING)),

    # ---- conditional batches: one partition, all or nothing
    dict(name="conditional batch applied", columns=["[applied]"], rows=[(True,)],
         query=f"BEGIN BATCH INSERT INTO {KS}.bt (p, c, v) VALUES (1, 1, 10) IF NOT EXISTS; "
               f"INSERT INTO {KS}.bt (p, c, v) VALUES (1, 2, 20) IF NOT EXISTS; APPLY BATCH"),
    dict(name="conditional batch refused by one IF NOT EXISTS", columns=["[applied]", "p", "c", "v", "w"], rows=[(False, 1, 1, 10, None)],
         query=f"BEGIN BATCH INSERT INTO {KS}.bt (p, c, v) VALUES (1, 1, 11) IF NOT EXISTS; "
               f"INSERT INTO {KS}.bt (p, c, v) VALUES (1, 3, 30) IF NOT EXISTS; APPLY BATCH"),
    dict(name="conditional batch refused by one IF col: the conditioned rows", columns=["[applied]", "p", "c", "v"],
         rows=[(False, 1, 1, 10), (False, 1, 2, 20)],
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 12 WHERE p = 1 AND c = 1 IF v = 10; "
               f"UPDATE {KS}.bt SET w = 'x' WHERE p = 1 AND c = 2 IF v = 99; APPLY BATCH"),
    dict(name="conditional batch with an unconditional statement", columns=["[applied]"], rows=[(True,)],
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 12 WHERE p = 1 AND c = 1 IF v = 10; "
               f"INSERT INTO {KS}.bt (p, c, v) VALUES (1, 5, 50); APPLY BATCH"),
    dict(name="conditional batch refused with IF EXISTS: every column", columns=["[applied]", "p", "c", "v", "w"],
         rows=[(False, 1, 1, 12, None), (False, 1, 2, 20, None)],
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 1 IF v = 10 AND w = 'q'; "
               f"DELETE FROM {KS}.bt WHERE p = 1 AND c = 2 IF EXISTS; APPLY BATCH"),
    dict(name="conditional batch refused on a missing row: only existing rows", columns=["[applied]", "p", "c", "v"],
         rows=[(False, 1, 1, 12)],
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 9 IF v = 12; "
               f"UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 1 IF v = 99; APPLY BATCH"),
    dict(name="conditional batch: all or nothing", query=f"SELECT * FROM {KS}.bt", columns=["p", "c", "v", "w"],
         rows=[(1, 1, 12, None), (1, 2, 20, None), (1, 5, 50, None)]),
    dict(name="conditional batch across partitions is refused",
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 1 IF v = 12; "
               f"UPDATE {KS}.bt SET v = 14 WHERE p = 2 AND c = 1 IF v = 1; APPLY BATCH",
         error=(INVALID, "Batch with conditions cannot span multiple partitions")),
    dict(name="conditional batch across tables is refused",
         query=f"BEGIN BATCH UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 1 IF v = 12; "
               f"UPDATE {KS}.kv SET v = 14 WHERE k = 'one' IF v = 1; APPLY BATCH",
         error=(INVALID, "Batch with conditions cannot span multiple tables")),
    dict(name="conditional batch with USING TIMESTAMP is refused",
         query=f"BEGIN BATCH USING TIMESTAMP 5 UPDATE {KS}.bt SET v = 13 WHERE p = 1 AND c = 1 IF v = 12; APPLY BATCH",
         error=(INVALID, "Cannot provide custom timestamp for conditional BATCH")),

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
