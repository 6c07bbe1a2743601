"""cqlsh (PyPI `cqlsh`, the Cassandra 4/5 shell) run non-interactively against
millrace's CQL store: the classic pipeline's DDL with -e, DESCRIBE KEYSPACES,
DESCRIBE TABLE, DESCRIBE KEYSPACE (whose output is fed back with -f and must
recreate the same schema), SELECT with paged output (non-tty and --tty with
---MORE--- prompts), error output, and login against a password-protected
server. run_all(start, libs) gets run.py's server starter and the directory
holding cqlsh and the driver. Each check prints [PASS] or [FAIL] <name>: <reason>."""

import os
import random
import re
import subprocess
import sys
import tempfile
import uuid

from driver_suite import AUTH_FLAGS, CREATE_KEYSPACE, CREATE_TABLE, INSERT, Suite, connect, user
ROWS = 237

EXPECTED_TABLE = """CREATE TABLE spark_streams.created_users (
    id uuid PRIMARY KEY,
    address text,
    email text,
    first_name text,
    gender text,
    last_name text,
    phone text,
    picture text,
    post_code text,
    registered_date text,
    username text
) WITH additional_write_policy = '99p'
    AND bloom_filter_fp_chance = 0.01
    AND caching = {'keys': 'ALL', 'rows_per_partition': 'NONE'}
    AND cdc = false
    AND comment = ''
    AND compaction = {'class': 'org.apache.cassandra.db.compaction.SizeTieredCompactionStrategy', 'max_threshold': '32', 'min_threshold': '4'}
    AND compression = {'chunk_length_in_kb': '16', 'class': 'org.apache.cassandra.io.compress.LZ4Compressor'}
    AND crc_check_chance = 1.0
    AND default_time_to_live = 0
    AND extensions = {}
    AND gc_grace_seconds = 864000
    AND max_index_interval = 2048
    AND memtable_flush_period_in_ms = 0
    AND min_index_interval = 128
    AND read_repair = 'BLOCKING'
    AND speculative_retry = '99p';"""


class Cqlsh:
    def __init__(self, libs, home):
        self.libs = libs
        self.home = home  # cqlsh keeps ~/.cassandra here, not in the real home

    def run(self, server, *args, stdin=None, user=None, password=None, expect_ok=True):
        cmd = [sys.executable, "-m", "cqlshlib", server.host, str(server.port), "--connect-timeout", "30",
               "--request-timeout", "60"]
        if user is not None:
            cmd += ["-u", user, "-p", password]
        env = dict(os.environ, PYTHONPATH=self.libs, HOME=self.home, CQLSH_NO_BUNDLED="1")
        proc = subprocess.run(cmd + list(args), input=stdin or "", capture_output=True, text=True, env=env, timeout=90)
        # cqlsh 6.2 was built against Cassandra 5.0 and says so to a 4.0 server.
        proc.stdout = re.sub(r"^WARNING: cqlsh was built against .*\n", "", proc.stdout, flags=re.M)
        if expect_ok and proc.returncode != 0:
            raise AssertionError(f"cqlsh {' '.join(args)} exited {proc.returncode}: {proc.stderr[-2000:]}")
        return proc

    def e(self, server, statements, **kw):
        return self.run(server, "-e", statements, **kw)


def statements_of(describe_output):
    """The CREATE statements in DESCRIBE output (each ends with ';')."""
    return [s.strip() + ";" for s in describe_output.split(";") if s.strip().startswith("CREATE")]


def run_all(start, libs):
    suite = Suite()
    server = start()
    home = tempfile.mkdtemp(prefix="cqlsh-home-")
    sh = Cqlsh(libs, home)

    def classic_ddl():
        sh.e(server, f"{CREATE_KEYSPACE}; {CREATE_TABLE}; {CREATE_KEYSPACE}; {CREATE_TABLE};")
        cluster, session = connect(server)
        try:
            rnd = random.Random(301)
            for idx in range(ROWS):
                session.execute(INSERT, user(rnd, idx))
        finally:
            cluster.shutdown()
    suite.check("classic DDL through cqlsh -e", classic_ddl)

    def describe_keyspaces():
        out = sh.e(server, "DESCRIBE KEYSPACES").stdout
        names = out.split()
        for ks in ("spark_streams", "system", "system_schema"):
            assert ks in names, out
        assert "CREATE" not in out, out
    suite.check("DESCRIBE KEYSPACES lists the keyspaces", describe_keyspaces)

    def tracing_on():
        out = sh.e(server, "TRACING ON; SELECT id FROM spark_streams.created_users LIMIT 1;").stdout
        assert "TRACING set to ON" in out, out
        assert "Tracing session: " in out, out
        for part in ("activity", "source_elapsed", "Execute CQL3 query",
                     "Parsing SELECT id FROM spark_streams.created_users LIMIT 1; [Native-Transport-Requests-1]",
                     "Request complete"):
            assert part in out, (part, out)
    suite.check("TRACING ON prints the request's trace", tracing_on)

    def describe_table():
        out = sh.e(server, "DESCRIBE TABLE spark_streams.created_users").stdout
        assert out.strip() == EXPECTED_TABLE, out
        # USE + DESC with an unqualified name gives the same text.
        out2 = sh.e(server, "USE spark_streams; DESC created_users;").stdout
        assert out2.strip() == EXPECTED_TABLE, out2
    suite.check("DESCRIBE TABLE prints the exact CREATE TABLE", describe_table)

    def describe_keyspace_round_trip():
        sh.e(server, "CREATE TABLE spark_streams.events (day text, seq int, at timestamp, \"Mixed Case\" text, "
                     "tags set<text>, attrs frozen<map<text, int>>, PRIMARY KEY ((day, seq), at)) "
                     "WITH CLUSTERING ORDER BY (at DESC) AND comment = 'pipeline''s events' AND default_time_to_live = 3600")
        out = sh.e(server, "DESCRIBE KEYSPACE spark_streams").stdout
        stmts = statements_of(out)
        assert len(stmts) == 3, out
        assert stmts[0].startswith("CREATE KEYSPACE spark_streams WITH replication = {'class': "
                                   "'org.apache.cassandra.locator.SimpleStrategy', 'replication_factor': '1'}"), stmts[0]
        assert "durable_writes = true" in stmts[0]
        events = next(s for s in stmts if "spark_streams.events" in s)
        for fragment in ('"Mixed Case" text', "PRIMARY KEY ((day, seq), at)", "CLUSTERING ORDER BY (at DESC)",
                         "comment = 'pipeline''s events'", "default_time_to_live = 3600", "tags set<text>",
                         "attrs frozen<map<text, int>>"):
            assert fragment in events, f"{fragment!r} not in {events}"
        # The output recreates the same schema under another name.
        copy = [s.replace("spark_streams", "spark_copy") for s in stmts]
        path = os.path.join(home, "schema.cql")
        with open(path, "w") as f:
            f.write("\n".join(copy) + "\n")
        sh.run(server, "-f", path)
        again = statements_of(sh.e(server, "DESCRIBE KEYSPACE spark_copy").stdout)
        assert again == copy, (again, copy)
        only = statements_of(sh.e(server, "DESCRIBE ONLY KEYSPACE spark_copy").stdout)
        assert only == copy[:1], only
        schema = sh.e(server, "DESCRIBE SCHEMA").stdout
        assert "CREATE KEYSPACE spark_copy" in schema and "CREATE TABLE spark_streams.created_users" in schema
    suite.check("DESCRIBE KEYSPACE output recreates the keyspace with -f", describe_keyspace_round_trip)

    def describe_lists():
        out = sh.e(server, "USE spark_streams; DESCRIBE TABLES;").stdout
        assert out.split() == ["created_users", "events"], out
        cluster = sh.e(server, "DESCRIBE CLUSTER").stdout
        assert "Cluster: millrace" in cluster and "Murmur3Partitioner" in cluster, cluster
        assert sh.e(server, "DESCRIBE TYPES").stdout.strip() == ""
        sh.e(server, "ALTER TABLE spark_streams.events WITH gc_grace_seconds = 3600 AND comment = 'altered' "
                     "AND caching = {'keys': 'NONE'}")
        altered = sh.e(server, "DESCRIBE TABLE spark_streams.events").stdout
        assert "gc_grace_seconds = 3600" in altered and "comment = 'altered'" in altered, altered
        assert "default_time_to_live = 3600" in altered, altered  # untouched options stay
    suite.check("DESCRIBE TABLES, CLUSTER, TYPES; ALTER TABLE WITH shows in DESCRIBE", describe_lists)

    def tuples_and_types():
        sh.e(server, "CREATE KEYSPACE shapes WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}; "
                     "CREATE TYPE shapes.point (x int, y int); CREATE TYPE shapes.line (a frozen<point>, b frozen<point>); "
                     "CREATE TABLE shapes.drawings (id int PRIMARY KEY, l frozen<line>, p point, t tuple<int, text>, "
                     "pts list<frozen<point>>);"
                     "INSERT INTO shapes.drawings (id, l, p, t, pts) VALUES (1, {a: {x: 1, y: 2}, b: {x: 3, y: 4}}, {x: 5}, "
                     "(7, 'seven'), [{x: 8, y: 9}]); UPDATE shapes.drawings SET p.y = 6 WHERE id = 1;")
        out = sh.e(server, "SELECT l, p, t, pts, p.y FROM shapes.drawings WHERE id = 1").stdout
        for fragment in ("{a: {x: 1, y: 2}, b: {x: 3, y: 4}}", "{x: 5, y: 6}", "(7, 'seven')", "[{x: 8, y: 9}]", "p.y"):
            assert fragment in out, (fragment, out)
        assert sh.e(server, "USE shapes; DESCRIBE TYPES;").stdout.split() == ["line", "point"]
        assert sh.e(server, "DESCRIBE TYPE shapes.line").stdout.strip() == (
            "CREATE TYPE shapes.line (\n    a frozen<point>,\n    b frozen<point>\n);")
        stmts = statements_of(sh.e(server, "DESCRIBE KEYSPACE shapes").stdout)
        # The types come before the table, each after the types it uses; the output recreates the keyspace.
        assert [s.split("(")[0].strip() for s in stmts[1:]] == [
            "CREATE TYPE shapes.point", "CREATE TYPE shapes.line", "CREATE TABLE shapes.drawings"], stmts
        table = stmts[3]
        for fragment in ("l frozen<line>", "p point", "t frozen<tuple<int, text>>", "pts list<frozen<point>>"):
            assert fragment in table, (fragment, table)
        copy = [s.replace("shapes", "shapes_copy") for s in stmts]
        path = os.path.join(home, "shapes.cql")
        with open(path, "w") as f:
            f.write("\n".join(copy) + "\n")
        sh.run(server, "-f", path)
        again = statements_of(sh.e(server, "DESCRIBE KEYSPACE shapes_copy").stdout)
        assert again == copy, (again, copy)
        bad = sh.e(server, "DROP TYPE shapes.point", expect_ok=False)
        assert bad.returncode != 0 and "Cannot drop user type 'shapes.point' as it is still used by user types line" in bad.stderr, bad.stderr
    suite.check("tuples and user-defined types: SELECT output, DESCRIBE TYPE(S), DESCRIBE KEYSPACE recreates them", tuples_and_types)

    def select_paged():
        path = os.path.join(home, "select.cql")
        with open(path, "w") as f:
            f.write("PAGING 50;\nSELECT id, first_name FROM spark_streams.created_users;\n")
        out = sh.run(server, "-f", path).stdout
        assert f"({ROWS} rows)" in out, out[-500:]
        ids = re.findall(r"^\s*([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}) \|", out, re.M)
        assert len(ids) == ROWS and len(set(ids)) == ROWS, len(ids)
        assert out.count("first_name") == 1, "header printed once without a tty"
        # Small pages and no paging print the same rows in the same (token) order.
        unpaged = sh.e(server, "PAGING OFF; SELECT id, first_name FROM spark_streams.created_users;").stdout
        assert re.findall(r"^\s*([0-9a-f-]{36}) \|", unpaged, re.M) == ids
        # Interactive (statements on stdin, --tty): cqlsh stops at ---MORE--- after each page.
        tty = sh.run(server, "--tty", stdin="PAGING 100;\nSELECT id FROM spark_streams.created_users;\n" + "\n" * 5)
        assert f"({ROWS} rows)" in tty.stdout, tty.stdout[-500:]
        assert tty.stdout.count("---MORE---") == (ROWS - 1) // 100, tty.stdout.count("---MORE---")
        count = sh.e(server, "SELECT count(*) FROM spark_streams.created_users").stdout
        assert re.search(rf"^\s*{ROWS}\s*$", count, re.M), count
    suite.check("SELECT pages through every row (PAGING 50, tty ---MORE---)", select_paged)

    def errors():
        bad = sh.e(server, "SELECT * FROM spark_streams.nope", expect_ok=False)
        assert bad.returncode != 0 and "unconfigured table nope" in bad.stderr, bad.stderr
        syntax = sh.e(server, "SELEKT 1", expect_ok=False)
        assert syntax.returncode != 0 and "SyntaxException" in syntax.stderr, syntax.stderr
        missing = sh.e(server, "DESCRIBE TABLE spark_streams.nope", expect_ok=False)
        assert "'nope' not found" in missing.stderr, missing.stderr
        dup = sh.e(server, CREATE_KEYSPACE.replace(" IF NOT EXISTS", ""), expect_ok=False)
        assert "AlreadyExists" in dup.stderr, dup.stderr
        # The server still answers.
        assert "spark_streams" in sh.e(server, "DESCRIBE KEYSPACES").stdout
    suite.check("errors print the server's message and exit non-zero", errors)

    def login():
        auth = start("auth", AUTH_FLAGS)
        ok = sh.e(auth, "DESCRIBE KEYSPACES", user="pipeline", password="s3cret")
        assert "system_schema" in ok.stdout, ok.stdout
        bad = sh.e(auth, "DESCRIBE KEYSPACES", user="pipeline", password="nope", expect_ok=False)
        assert bad.returncode != 0 and "Provided username pipeline and/or password are incorrect" in bad.stderr, bad.stderr
        anonymous = sh.e(auth, "DESCRIBE KEYSPACES", expect_ok=False)
        assert anonymous.returncode != 0 and "AuthenticationFailed" in anonymous.stderr + anonymous.stdout, anonymous.stderr
    suite.check("login with -u/-p against cql.authenticator=password", login)

    print(f"{suite.passed} passed, {suite.failed} failed", flush=True)
    return suite.failed
