#!/usr/bin/env python3
"""End-to-end tests of the whole pipeline, checked with real clients.

  e2e.py --binary build/millrace --scenario pipeline|kill_up|kill_parts|classic|real [--users N]

pipeline    fresh data dir -> `millrace up` -> trigger user_automation for N users
            -> PostgreSQL (psql), topic users_created (kcat) and
            spark_streams.created_users (Python cassandra-driver) each hold exactly N,
            and the table equals PostgreSQL row for row.
kill_up     the same, with `millrace up` killed with SIGKILL mid-run and restarted.
kill_parts  the pipeline as standalone subcommands; cdc, process, broker and cql each killed
            with SIGKILL mid-run and restarted.
classic     the classic pipeline's own client code: kafka-python producing
            formatted users to users_created, the Python cassandra-driver reading
            spark_streams.created_users.
real        `up` with kafka.bootstrap at a real Apache Kafka and
            cql.contact_points at a real Apache Cassandra (scripts/peers/).
ha_zookeeper, ha_postgres
            two `millrace up` on one PostgreSQL, broker and CQL store (standalone
            subcommands), elected through Apache ZooKeeper (Debian's server, started
            here) or PostgreSQL advisory locks: one leads CDC and the scheduler; it
            gets SIGKILL mid-run, the other takes over, the table equals PostgreSQL
            and no task try ran twice or overlapped another; the topic holds each user
            once (the new leader resumes the slot, it does not snapshot again) (docs/ha.md).

kafka_zookeeper
            (compat) `up` with kafka.bootstrap at Apache Kafka 3.9 in ZooKeeper mode
            with Apache ZooKeeper (Debian's server), the classic stack's topology.
kafka_kraft_cluster
            (compat) `up` with kafka.bootstrap at a 3-node Apache Kafka 4.1 KRaft
            cluster (three JVMs), users_created with replication factor 3 and
            min.insync.replicas 2; one broker gets SIGKILL mid-run: nothing lost,
            nothing doubled in the table nor in the topic.

Every process is started here on ephemeral ports in a temp dir, waited for by
its ready line or by polling the real clients, and always stopped.
"""
import argparse
import datetime
import json
import os
import random
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))


def load(name, path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Where tests/cql and tests/kafka_clients install their pinned Python packages.
sys.path.insert(0, os.path.join(REPO, "tests", "kafka_clients"))
sys.path.insert(0, load("cql_run", os.path.join(REPO, "tests", "cql", "run.py")).pylibs_dir())
sys.path.insert(0, load("suitelib", os.path.join(REPO, "tests", "kafka_clients", "suitelib.py")).pylibs_dir())
from cassandra.auth import PlainTextAuthProvider  # noqa: E402
from cassandra.cluster import Cluster  # noqa: E402

SEED = int(os.environ.get("TEST_MILLRACE_SEED", "20261125"))
COLUMNS = ["id", "first_name", "last_name", "gender", "address", "post_code", "email", "username",
           "dob", "registered_date", "phone", "picture", "nat"]
TIMESTAMPS = {"dob", "registered_date"}


def log(message):
    print(f"e2e: {message}", flush=True)


class failure(Exception):
    pass


def wait_for(what, timeout_s, probe, interval_s=0.5):
    """Polls `probe` until it returns a truthy value; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = probe()
            if last:
                return last
        except Exception as e:  # a service still starting
            last = f"{type(e).__name__}: {e}"
        time.sleep(interval_s)
    raise failure(f"timed out after {timeout_s} s waiting for {what} (last: {last})")


class proc:
    """A millrace (or peer) process whose stdout ready line we wait for."""

    starts = {}

    def __init__(self, args, name, log_dir, ready_prefix="ready ", wait=True):
        self.name = name
        self.args = args
        # Each start has its own log files: a restart must not see the last ready line.
        count = proc.starts[name] = proc.starts.get(name, 0) + 1
        self.out_path = os.path.join(log_dir, f"{name}-{count}.out")
        self.err_path = os.path.join(log_dir, f"{name}-{count}.err")
        self.out = open(self.out_path, "a")
        self.err = open(self.err_path, "a")
        self.p = subprocess.Popen(args, stdout=self.out, stderr=self.err, start_new_session=True)
        self.ready_prefix = ready_prefix
        if wait:
            self.wait_ready()

    def wait_ready(self, timeout_s=180):
        self.ready_line = wait_for(f"{self.name} ready line", timeout_s, lambda: self._ready(self.ready_prefix), 0.1)
        return self.ready_line

    def _ready(self, prefix):
        if self.p.poll() is not None:
            raise failure(f"{self.name} exited with {self.p.returncode} before it was ready:\n" + self.stderr_tail())
        with open(self.out_path) as f:
            lines = [line for line in f if line.startswith(prefix)]
        return lines[-1].strip() if lines else None

    def stderr_tail(self, n=30):
        with open(self.err_path) as f:
            return "".join(f.readlines()[-n:])

    def kill9(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait()

    def kill9_group(self):
        """SIGKILL to the process and its children (a peer script and its JVM)."""
        try:
            os.killpg(self.p.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.p.wait()

    def stop(self, timeout_s=60):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                raise failure(f"{self.name} did not stop within {timeout_s} s after SIGTERM")
        return self.p.returncode


def http_json(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read() or b"null")


class pipeline:
    """Addresses of a running pipeline, and the real clients that read it."""

    def __init__(self, postgres, kafka, cql, scheduler=None, pgpass=None, kcat_args=(), cql_login=None):
        self.postgres = postgres  # host:port
        self.pgpass = pgpass  # the managed PostgreSQL's password file (SCRAM), when managed
        self.kafka = kafka
        self.cql = cql
        self.scheduler = scheduler
        self.kcat_args = list(kcat_args)  # -X name=value for a secured Kafka
        self.cql_login = cql_login  # (user, password, CA file) for a secured CQL store
        self._cluster = None

    # PostgreSQL, through psql
    def psql(self, sql):
        host, port = self.postgres.rsplit(":", 1)
        env = dict(os.environ, PGPASSFILE=self.pgpass) if self.pgpass else None
        out = subprocess.run(["psql", "-h", host, "-p", port, "-U", "postgres", "-d", "millrace", "-At", "-c", sql],
                             capture_output=True, text=True, timeout=60, env=env)
        if out.returncode != 0:
            raise failure(f"psql {sql!r}: {out.stderr.strip()}")
        return out.stdout

    def users_in_postgres(self):
        return int(self.psql("SELECT count(*) FROM users").strip())

    def postgres_rows(self):
        cols = ", ".join(COLUMNS)
        rows = {}
        for line in self.psql(f"SELECT row_to_json(u) FROM (SELECT {cols} FROM users) u").splitlines():
            row = json.loads(line)
            rows[row["id"]] = row
        return rows

    # Kafka, through kcat
    def records_in_topic(self, topic="users_created"):
        out = subprocess.run(["kcat", "-b", self.kafka, *self.kcat_args, "-C", "-t", topic, "-o", "beginning", "-e",
                              "-q", "-f", "%k\n"], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise failure(f"kcat on {topic}: {out.stderr.strip()}")
        keys = [k for k in out.stdout.splitlines() if k]
        return len(keys), len(set(keys))

    # The serving table, through the Python cassandra-driver
    def session(self):
        if self._cluster is None:
            host, port = self.cql.rsplit(":", 1)
            secured = {}
            if self.cql_login:
                user, password, ca = self.cql_login
                context = ssl.create_default_context(cafile=ca)
                secured = {"auth_provider": PlainTextAuthProvider(user, password), "ssl_context": context}
            self._cluster = Cluster([host], port=int(port), connect_timeout=10, **secured)
            self._session = self._cluster.connect()
        return self._session

    def rows_in_table(self):
        return self.session().execute("SELECT count(*) FROM spark_streams.created_users", timeout=60).one()[0]

    def table_rows(self):
        rows = {}
        for r in self.session().execute(f"SELECT {', '.join(COLUMNS)} FROM spark_streams.created_users", timeout=60):
            rows[str(r.id)] = r
        return rows

    def close(self):
        if self._cluster is not None:
            self._cluster.shutdown()
            self._cluster = None


def same_instant(a, b):
    def parse(text):
        return datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return parse(a) == parse(b)


def check_exact(p, users, timeout_s=600, once_in_topic=False):
    """PostgreSQL, the topic and the table each hold exactly `users`; the table equals PostgreSQL.
    With `once_in_topic` the topic also holds each user once (no key twice: CDC resumed, not re-snapshotted)."""
    wait_for(f"{users} users in PostgreSQL", timeout_s, lambda: p.users_in_postgres() == users or None)
    log(f"PostgreSQL has {users} users (psql)")
    wait_for(f"{users} rows in spark_streams.created_users", timeout_s, lambda: p.rows_in_table() == users or None, 2)
    log(f"spark_streams.created_users has {users} rows (cassandra-driver)")
    total, distinct = p.records_in_topic()
    if distinct != users:
        raise failure(f"topic users_created has {distinct} distinct keys ({total} records), expected {users}")
    if once_in_topic and total != distinct:
        raise failure(f"topic users_created has {total} records for {distinct} users: {total - distinct} doubled")
    log(f"users_created has {total} records, {distinct} distinct keys (kcat)")
    expected = p.postgres_rows()
    actual = p.table_rows()
    if set(expected) != set(actual):
        missing = set(expected) - set(actual)
        extra = set(actual) - set(expected)
        raise failure(f"table ids differ from PostgreSQL: {len(missing)} missing, {len(extra)} extra")
    mismatches = []
    for user_id, pg in expected.items():
        row = actual[user_id]
        for col in COLUMNS[1:]:
            want, got = pg[col], getattr(row, col)
            ok = same_instant(want, got) if col in TIMESTAMPS else str(want) == str(got)
            if not ok:
                mismatches.append(f"{user_id}.{col}: PostgreSQL {want!r}, table {got!r}")
    if mismatches:
        raise failure(f"{len(mismatches)} fields differ, e.g.:\n  " + "\n  ".join(mismatches[:5]))
    log(f"all {users} rows equal PostgreSQL's, field by field")


def read_status(admin):
    status = http_json("GET", f"http://{admin}/status")
    return {c["name"]: c for c in status["components"]}


def find_pgpass(root):
    """The managed PostgreSQL's password file under `root` (docs/security.md), or None."""
    for folder, _, files in os.walk(root):
        if "millrace.pgpass" in files:
            return os.path.join(folder, "millrace.pgpass")
    return None


def start_up(binary, data_dir, log_dir, extra=()):
    args = [binary, "up", "--data-dir", data_dir, "--set", "up.admin_port=0", "--set", "up.status_interval=5s"]
    known = subprocess.run([binary, "config", "show"], capture_output=True, text=True, check=True).stdout
    for key in ["broker.port", "cql.port", "source.port", "postgres.port", "scheduler.port", "registry.port",
                "console.port"]:
        if f"\n{key}:" in "\n" + known:  # every listener this build has, on an ephemeral port
            args += ["--set", f"{key}=0"]
    args += list(extra)
    up = proc(args, "up", log_dir, ready_prefix="ready up ")
    admin = up.ready_line.split()[2]
    try:
        parts = read_status(admin)
    except Exception:
        up.stop()  # never leave a pipeline running behind a failed test
        raise
    address = lambda name: parts[name]["address"] if parts.get(name, {}).get("state") == "running" else None
    kafka = address("broker") or parts["broker"]["address"]
    cql = address("cql") or parts["cql"]["address"]
    return up, pipeline(address("postgres"), kafka, cql, address("scheduler"), find_pgpass(data_dir))


def trigger_fetch(binary, p, users, seed):
    """Runs user_automation for `users` users through the scheduler's REST API."""
    wait_for("user_automation loaded by the scheduler", 60,
             lambda: http_json("GET", f"http://{p.scheduler}/api/v1/dags/user_automation")["dag_id"])
    run_id = f"e2e_{seed}_{users}"
    body = {"dag_run_id": run_id, "conf": {"count": users, "seed": f"e2e-{seed}"}}
    http_json("POST", f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns", body)
    log(f"triggered user_automation run {run_id} for {users} users")
    return run_id


def manual_dags(work):
    """user_automation without a schedule, so that the only run is the test's."""
    folder = os.path.join(work, "dags")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(REPO, "dags", "user_automation.yaml")) as f:
        text = "".join(line for line in f if not line.startswith("schedule:"))
    with open(os.path.join(folder, "user_automation.yaml"), "w") as f:
        f.write(text)
    return ["--set", f"scheduler.dags_dir={folder}"]


def check_console_jobs(up, foreign_admin=None):
    """The console's Jobs page lists the default job, read from up's own admin endpoint on its ephemeral port;
    it reads no other admin endpoint, not even another millrace's on a standalone admin port of a part up runs."""
    admin = up.ready_line.split()[2]
    parts = read_status(admin)
    console = parts.get("console", {})
    if console.get("state") != "running":
        return  # a build without the console
    overview = http_json("GET", f"http://{console['address']}/api/overview")
    read = [a["address"] for a in overview["admin_endpoints"]]
    if foreign_admin in read or admin not in read:
        raise failure(f"the console reads the admin endpoints {read}: not only up's own {admin}"
                      f" (another millrace's is {foreign_admin})")
    reply = http_json("GET", f"http://{console['address']}/api/jobs")
    names = [j.get("name") for j in reply["jobs"]]
    if "created_users" not in names:
        raise failure(f"the console lists jobs {names} (unreachable: {reply['unreachable']}), not created_users")
    log("the console lists the created_users job")


def scenario_pipeline(binary, work, users):
    # Another millrace on this host, on the admin port `up` would give a standalone source.
    foreign = proc([binary, "source", "--admin-port", "0", "--data-dir", os.path.join(work, "foreign"), "--set",
                    "source.port=0"], "foreign-source", work, ready_prefix="ready source ")
    foreign_admin = foreign.ready_line.split()[4]
    try:
        extra = manual_dags(work) + ["--set", f"source.admin_port={foreign_admin.rsplit(':', 1)[1]}"]
        up, p = start_up(binary, os.path.join(work, "data"), work, extra)
    except Exception:
        foreign.stop()
        raise
    try:
        trigger_fetch(binary, p, users, SEED)
        check_exact(p, users)
        check_console_jobs(up, foreign_admin)
    finally:
        p.close()
        code = up.stop()
        foreign.stop()
    if code != 0:
        raise failure(f"millrace up exited {code} after SIGTERM:\n{up.stderr_tail()}")


def scenario_kill_up(binary, work, users):
    data = os.path.join(work, "data")
    extra = manual_dags(work)
    up, p = start_up(binary, data, work, extra)
    try:
        trigger_fetch(binary, p, users, SEED)
        kill_at = random.Random(SEED).randint(users // 10, users // 3)
        wait_for(f"{kill_at} rows in the table before the kill", 600, lambda: p.rows_in_table() >= kill_at, 0.2)
        log(f"SIGKILL to millrace up with {p.rows_in_table()} rows in the table")
        p.close()
        up.kill9()
        up, p = start_up(binary, data, work, extra)
        check_exact(p, users)
    finally:
        p.close()
        up.stop()


def start_part(binary, command, work, extra=(), port=0):
    """A standalone `millrace <command>` (ephemeral ports unless `port`); returns (proc, its address)."""
    args = [binary, command, "--admin-port", "0", "--data-dir", os.path.join(work, command)]
    if command in ("broker", "cql", "postgres"):
        args += ["--port", str(port)]
    part = proc(args + list(extra), command, work, ready_prefix=f"ready {command} ")
    return part, part.ready_line.split()[2]


def start_services(binary, work, parts):
    """Standalone postgres, broker and cql (appended to `parts`); returns the pipeline reading them, the
    postgres.dsn setting, and the --set flags that point other processes at all three."""
    postgres, pg_address = start_part(binary, "postgres", work)
    parts.append(postgres)
    broker, kafka = start_part(binary, "broker", work)
    parts.append(broker)
    cql_part, cql = start_part(binary, "cql", work)
    parts.append(cql_part)
    host, port = pg_address.rsplit(":", 1)
    pgpass = find_pgpass(work)
    dsn = f"postgres.dsn=host={host} port={port} user=postgres dbname=millrace passfile={pgpass}"
    wiring = ["--set", dsn, "--set", f"kafka.bootstrap={kafka}", "--set", f"cql.contact_points={cql}"]
    return pipeline(pg_address, kafka, cql, pgpass=pgpass), dsn, wiring


def scenario_kill_parts(binary, work, users):
    """Standalone subcommands; cdc and then process get SIGKILL mid-run and are restarted."""
    parts = []
    p = None
    try:
        p, dsn, wiring = start_services(binary, work, parts)
        # The users table exists before cdc starts (the fetch creates it).
        fetch = [binary, "source", "fetch", "--set", dsn, "--set", f"source.seed=e2e-{SEED}"]
        subprocess.run(fetch + ["--set", "source.count=1"], check=True, capture_output=True, timeout=120)
        cdc = start_part(binary, "cdc", work, wiring)[0]
        process = start_part(binary, "process", work, wiring)[0]
        # About 2,000 users/s, so that the kills land mid-run.
        paced = ["--set", "source.batch_size=100", "--set", "source.rate_limit=20"]
        fetcher = subprocess.Popen(fetch + paced + ["--set", f"source.count={users}"], stdout=subprocess.DEVNULL,
                                   stderr=subprocess.PIPE, text=True)
        rng = random.Random(SEED)
        kill_cdc_at = rng.randint(users // 10, users // 4)
        wait_for(f"{kill_cdc_at} users in PostgreSQL", 600, lambda: p.users_in_postgres() >= kill_cdc_at, 0.1)
        log(f"SIGKILL to millrace cdc with {p.users_in_postgres()} users in PostgreSQL, the fetch still running")
        cdc.kill9()
        kill_process_at = rng.randint(users // 3, users // 2)
        cdc = start_part(binary, "cdc", work, wiring)[0]
        wait_for(f"{kill_process_at} rows in the table", 600, lambda: p.rows_in_table() >= kill_process_at, 0.2)
        log(f"SIGKILL to millrace process with {p.rows_in_table()} rows in the table")
        process.kill9()
        process = start_part(binary, "process", work, wiring)[0]
        parts += [cdc, process]
        # The servers too, restarted on the same port (the others keep their addresses).
        for name, index, fraction in (("broker", 1, 0.6), ("cql", 2, 0.8)):
            at = int(users * fraction)
            wait_for(f"{at} rows in the table", 600, lambda: p.rows_in_table() >= at, 0.2)
            p.close()
            log(f"SIGKILL to millrace {name} with {at}+ rows in the table")
            parts[index].kill9()
            port = int((p.kafka if name == "broker" else p.cql).rsplit(":", 1)[1])
            parts[index] = start_part(binary, name, work, port=port)[0]
        if fetcher.wait(timeout=600) != 0:
            raise failure(f"millrace source fetch failed: {fetcher.stderr.read()}")
        check_exact(p, users)
    finally:
        if p is not None:
            p.close()
        for part in reversed(parts):
            part.stop()


def scenario_real(binary, work, users):
    """`up` on a real Apache Kafka and a real Apache Cassandra, started here."""
    peers = []
    try:
        for name in ("kafka", "cassandra"):
            script = os.path.join(REPO, "scripts", "peers", name)
            peer = proc([script], name, work, ready_prefix=f"ready {name} ")
            peers.append(peer)
        kafka = peers[0].ready_line.split()[2]
        cassandra = peers[1].ready_line.split()[2]
        log(f"Apache Kafka at {kafka}, Apache Cassandra at {cassandra}")
        up, p = start_up(binary, os.path.join(work, "data"), work,
                         manual_dags(work) + ["--set", f"kafka.bootstrap={kafka}",
                          "--set", f"cql.contact_points={cassandra}"])
        try:
            trigger_fetch(binary, p, users, SEED)
            check_exact(p, users)
        finally:
            p.close()
            up.stop()
    finally:
        for peer in reversed(peers):
            peer.stop(120)


def scenario_real_secure(binary, work, users):
    """`up` on a real Apache Kafka with SASL_SSL (PLAIN) and a real Apache Cassandra with
    PasswordAuthenticator and client TLS, each with its own CA: every part of the pipeline logs in over TLS."""
    peers = []
    password = "e2e-admin-pw-5c1d"
    try:
        kafka_tls = os.path.join(work, "kafka-tls")
        load("kafka_security_run", os.path.join(REPO, "tests", "kafka_security", "run.py")).make_tls(kafka_tls)
        kafka_ca = os.path.join(kafka_tls, "ca.pem")
        kafka_peer = proc([os.path.join(REPO, "scripts", "peers", "kafka"), "--data-dir", os.path.join(work, "kafka"),
                           "--sasl-ssl", kafka_tls, "--admin-password", password], "kafka", work,
                          ready_prefix="ready kafka ")
        peers.append(kafka_peer)
        cassandra_peer = proc([os.path.join(REPO, "scripts", "peers", "cassandra"), "--auth", "--tls"], "cassandra",
                              work, ready_prefix="ready cassandra ")
        peers.append(cassandra_peer)
        kafka = kafka_peer.ready_line.split()[2]
        words = cassandra_peer.ready_line.split()
        cassandra, cassandra_ca = words[2], words[4]
        log(f"Apache Kafka (SASL_SSL) at {kafka}, Apache Cassandra (auth, TLS) at {cassandra}")
        # PLAIN over TLS: the librdkafka millrace links (Debian's 2.0.2) repeats its nonce in SCRAM's
        # client-final message, which Kafka 4 refuses (fixed in librdkafka 2.6.1; docs/security.md).
        client = {"security.protocol": "SASL_SSL", "sasl.mechanisms": "PLAIN", "sasl.username": "admin",
                  "sasl.password": password, "ssl.ca.location": kafka_ca}
        properties = ",".join(f"{k}={v}" for k, v in client.items())
        # Cassandra's default superuser: what a fresh secured cluster offers a first client.
        login = ("cassandra", "cassandra", cassandra_ca)
        up, p = start_up(binary, os.path.join(work, "data"), work,
                         manual_dags(work) + ["--set", f"kafka.bootstrap={kafka}",
                                              "--set", f"kafka.client_properties={properties}",
                                              "--set", f"cql.contact_points={cassandra}",
                                              "--set", f"cql.username={login[0]}", "--set", f"cql.password={login[1]}",
                                              "--set", f"cql.tls_ca={cassandra_ca}"])
        p.kcat_args = [arg for k, v in client.items() for arg in ("-X", f"{k}={v}")]
        p.cql_login = login
        try:
            trigger_fetch(binary, p, users, SEED)
            check_exact(p, users)
            # The secured peers refuse a client without credentials: what was read above went through them.
            plain = subprocess.run(["kcat", "-b", kafka, "-L", "-m", "10"], capture_output=True, text=True, timeout=60)
            if plain.returncode == 0 and "users_created" in plain.stdout:
                raise failure("the SASL_SSL Kafka answered a plaintext client's metadata request")
        finally:
            p.close()
            up.stop()
    finally:
        for peer in reversed(peers):
            peer.stop(120)


def free_port():
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_zookeeper(work, tick_ms=250):
    """Debian's ZooKeeper server on an ephemeral port with its own data dir; returns (Popen, host:port)."""
    import socket
    for attempt in range(3):
        port = free_port()
        cfg = os.path.join(work, f"zoo-{attempt}.cfg")
        with open(cfg, "w") as f:
            f.write(f"tickTime={tick_ms}\ndataDir={work}/zookeeper\nclientPort={port}\nclientPortAddress=127.0.0.1\n"
                    "maxClientCnxns=0\nadmin.enableServer=false\n")
        err = open(os.path.join(work, f"zookeeper-{attempt}.err"), "w")
        zk = subprocess.Popen(["java", "-Xmx128m", "-XX:+UseSerialGC", "-cp", "/usr/share/java/zookeeper.jar",
                               "org.apache.zookeeper.server.ZooKeeperServerMain", cfg],
                              stdout=err, stderr=err, start_new_session=True)

        def accepts():
            if zk.poll() is not None:
                return "exited"
            with socket.socket() as sock:
                return sock.connect_ex(("127.0.0.1", port)) == 0

        state = wait_for("ZooKeeper accepting connections", 120, accepts, 0.1)
        if state is True:
            return zk, f"127.0.0.1:{port}"
    raise failure("ZooKeeper did not start (is Debian's zookeeper package installed? scripts/setup)")


def leadership(admin):
    status = http_json("GET", f"http://{admin}/status")
    return status["leader"], sorted(status["singletons"]), status


def check_tries(p, run_id):
    """No try of any task of `run_id` started twice, and no two tries of a task overlapped."""
    rows = p.psql("SELECT task_id, try_number, state, extract(epoch FROM at) FROM millrace_scheduler.task_event "
                  f"WHERE run_id = '{run_id}' ORDER BY id")
    tries = {}
    for line in rows.splitlines():
        task_id, try_number, state, at = line.split("|")
        t = tries.setdefault((task_id, int(try_number)), {"running": [], "end": None})
        if state == "running":
            t["running"].append(float(at))
        elif state in ("success", "failed", "up_for_retry", "upstream_failed", "skipped") and t["end"] is None:
            t["end"] = float(at)
    for (task_id, number), t in sorted(tries.items()):
        if len(t["running"]) > 1:
            raise failure(f"{task_id} try {number} started {len(t['running'])} times")
        following = tries.get((task_id, number + 1))
        if following and following["running"] and t["running"]:
            if t["end"] is None or following["running"][0] < t["end"]:
                raise failure(f"{task_id} try {number + 1} started before try {number} ended")
    retried = sorted(k for k in tries if k[1] > 1)
    log(f"{len(tries)} task tries, none started twice, none overlapping; retried: {retried or 'none'}")


def scenario_ha(binary, work, users, zookeeper):
    """Two `up` on shared services; the leader is killed mid-run and the other takes over."""
    parts = []
    ups = []
    p = None
    zk = None
    try:
        p, _, wiring = start_services(binary, work, parts)
        wiring += ["--set", "up.disable=console"] + manual_dags(work)
        if zookeeper:
            zk, connect = start_zookeeper(work)
            log(f"ZooKeeper at {connect}")
            wiring += ["--set", f"coordination.zookeeper={connect}", "--set", "coordination.session_timeout=3s"]
        expected = ["cdc.millrace_cdc", "scheduler.millrace_scheduler"]
        a, _ = start_up(binary, os.path.join(work, "data-a"), work, wiring)
        ups.append(a)
        admin_a = a.ready_line.split()[2]
        wait_for("instance a leading CDC and the scheduler", 120,
                 lambda: leadership(admin_a)[:2] == (True, expected))
        b, _ = start_up(binary, os.path.join(work, "data-b"), work, wiring)
        ups.append(b)
        admin_b = b.ready_line.split()[2]
        wait_for("instance b standing by", 60, lambda: leadership(admin_b)[:2] == (False, []))
        text = subprocess.run(["curl", "-s", f"http://{admin_b}/status?format=text"], capture_output=True,
                              text=True).stdout
        if "leader           no via " + ("zookeeper" if zookeeper else "postgres") not in text:
            raise failure(f"the status block of the standby has no leader line:\n{text}")
        p.scheduler = read_status(admin_a)["scheduler"]["address"]
        run_id = trigger_fetch(binary, p, users, SEED)
        kill_at = random.Random(SEED).randint(users // 10, users // 3)
        wait_for(f"{kill_at} rows in the table before the kill", 600, lambda: p.rows_in_table() >= kill_at, 0.2)
        log(f"SIGKILL to the leader with {p.rows_in_table()} rows in the table")
        p.close()
        a.kill9()
        killed = time.monotonic()
        wait_for("instance b taking over CDC and the scheduler", 120,
                 lambda: leadership(admin_b)[:2] == (True, expected), 0.2)
        log(f"instance b leads {expected} {time.monotonic() - killed:.1f} s after the kill")
        with urllib.request.urlopen(f"http://{admin_b}/metrics", timeout=10) as r:
            metrics = r.read().decode()
        backend = "zookeeper" if zookeeper else "postgres"
        for lease in expected:
            line = f'millrace_coordination_lease_held{{lease="{lease}",backend="{backend}"}} 1'
            if line not in metrics:
                raise failure(f"the new leader's /metrics lacks {line!r} (the console reads it)")
        p.scheduler = read_status(admin_b)["scheduler"]["address"]
        state = wait_for(f"run {run_id} ending", 600, lambda: http_json(
            "GET", f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns/{run_id}")["state"]
            in ("success", "failed") and http_json(
            "GET", f"http://{p.scheduler}/api/v1/dags/user_automation/dagRuns/{run_id}")["state"], 1)
        if state != "success":
            raise failure(f"run {run_id} ended {state} after the takeover")
        check_exact(p, p.users_in_postgres(), once_in_topic=True)
        check_tries(p, run_id)
    finally:
        if p is not None:
            p.close()
        for up in reversed(ups):
            up.stop()
        for part in reversed(parts):
            part.stop()
        if zk is not None:
            zk.kill()
            zk.wait()


PEERS_KAFKA = os.path.join(REPO, "scripts", "peers", "kafka")


def peers_kafka():
    """scripts/peers/kafka as a module (its free_port, new_cluster_id, zookeeper_version)."""
    import importlib.machinery
    import importlib.util
    loader = importlib.machinery.SourceFileLoader("peers_kafka", PEERS_KAFKA)
    spec = importlib.util.spec_from_loader("peers_kafka", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def external_kafka_up(binary, work, kafka, users):
    """`up` with its broker off (kafka.bootstrap), fed `users` users; PostgreSQL, the topic and the table agree."""
    up, p = start_up(binary, os.path.join(work, "data"), work,
                     manual_dags(work) + ["--set", f"kafka.bootstrap={kafka}"])
    p.kafka = kafka
    return up, p


def scenario_kafka_zookeeper(binary, work, users):
    """The classic topology: Apache Kafka 3.9 in ZooKeeper mode on Apache ZooKeeper."""
    zk, connect = start_zookeeper(work, tick_ms=500)
    kafka_peer = None
    up = p = None
    try:
        version = peers_kafka().zookeeper_mode_version()
        kafka_peer = proc([PEERS_KAFKA, "--kafka-version", version, "--zookeeper", connect, "--heap", "256m",
                           "--data-dir", os.path.join(work, "kafka-zk"), "--ready-timeout", "300"],
                          "kafka", work, ready_prefix="ready kafka ", wait=False)
        kafka = kafka_peer.wait_ready(360).split()[2]
        log(f"Apache Kafka {version} (ZooKeeper mode, ZooKeeper at {connect}) at {kafka}")
        up, p = external_kafka_up(binary, work, kafka, users)
        status = http_json("GET", f"http://{up.ready_line.split()[2]}/status")
        broker = [c for c in status["components"] if c["name"] == "broker"]
        if broker and broker[0].get("state") == "running" and broker[0].get("address") != kafka:
            raise failure(f"the embedded broker runs although kafka.bootstrap is set: {broker[0]}")
        trigger_fetch(binary, p, users, SEED)
        check_exact(p, users, once_in_topic=True)
    finally:
        if p is not None:
            p.close()
        if up is not None:
            up.stop()
        if kafka_peer is not None:
            kafka_peer.stop(120)
        zk.kill()
        zk.wait()


def start_kraft_cluster(work, nodes=3):
    """`nodes` Kafka 4.1 KRaft nodes (combined broker and controller) started together; returns the procs."""
    peers = peers_kafka()
    for attempt in range(3):
        ports = []
        while len(ports) < 2 * nodes:
            port = peers.free_port(exclude=ports)
            if port not in ports:
                ports.append(port)
        voters = ",".join(f"{i + 1}@127.0.0.1:{ports[nodes + i]}" for i in range(nodes))
        cluster_id = peers.new_cluster_id()
        started = []
        try:
            for i in range(nodes):
                args = [PEERS_KAFKA, "--node-id", str(i + 1), "--port", str(ports[i]),
                        "--controller-port", str(ports[nodes + i]), "--voters", voters, "--cluster-id", cluster_id,
                        "--heap", "256m", "--data-dir", os.path.join(work, f"kraft-{attempt}-{i + 1}"),
                        "--ready-timeout", "300"]
                for prop in (f"default.replication.factor={nodes}", f"offsets.topic.replication.factor={nodes}",
                             f"transaction.state.log.replication.factor={nodes}", "transaction.state.log.min.isr=2",
                             f"share.coordinator.state.topic.replication.factor={nodes}",
                             "share.coordinator.state.topic.min.isr=2", "num.partitions=3",
                             "num.network.threads=1", "num.io.threads=2"):
                    args += ["--set", prop]
                started.append(proc(args, f"kafka{i + 1}", work, ready_prefix="ready kafka ", wait=False))
            for node in started:
                node.wait_ready(360)
            return started
        except failure as e:
            clash = any("Address already in use" in node.stderr_tail(200) for node in started)
            for node in started:
                node.kill9_group()
            if not clash or attempt == 2:
                raise
            log(f"a port of the cluster was taken ({e}); again with other ports")
    raise failure("unreachable")


def scenario_kafka_kraft_cluster(binary, work, users):
    """`up` on a 3-node KRaft cluster; one broker gets SIGKILL mid-run."""
    from kafka.admin import KafkaAdminClient
    nodes = []
    up = p = None
    try:
        nodes = start_kraft_cluster(work)
        addresses = [n.ready_line.split()[2] for n in nodes]
        bootstrap = ",".join(addresses)
        log(f"Apache Kafka KRaft cluster at {bootstrap}")
        admin = KafkaAdminClient(bootstrap_servers=addresses, request_timeout_ms=60000)
        try:
            admin.create_topics({"users_created": {"num_partitions": 3, "replication_factor": 3,
                                                   "configs": {"min.insync.replicas": "2"}}}, timeout_ms=60000)
        finally:
            admin.close()

        def replicated():
            out = subprocess.run(["kcat", "-L", "-b", bootstrap, "-t", "users_created"], capture_output=True,
                                 text=True, timeout=30).stdout
            parts = [line.strip() for line in out.splitlines() if line.strip().startswith("partition ")]
            full = [x for x in parts if "isrs: " in x and len(x.split("isrs: ")[1].split(",")) == 3
                    and "leader -1" not in x]
            return len(parts) == 3 and len(full) == 3 and parts
        parts = wait_for("users_created with 3 in-sync replicas per partition", 120, replicated)
        log("users_created, min.insync.replicas 2: " + "; ".join(parts))
        up, p = external_kafka_up(binary, work, bootstrap, users)
        trigger_fetch(binary, p, users, SEED)
        rng = random.Random(SEED)
        kill_at = rng.randint(users // 10, users // 3)
        victim = rng.randrange(len(nodes))
        wait_for(f"{kill_at} rows in the table before the kill", 600, lambda: p.rows_in_table() >= kill_at, 0.2)
        log(f"SIGKILL to Kafka node {victim + 1} ({addresses[victim]}) with {p.rows_in_table()} rows in the table")
        nodes[victim].kill9_group()
        p.kafka = ",".join(a for i, a in enumerate(addresses) if i != victim)
        check_exact(p, users, once_in_topic=True)
    finally:
        if p is not None:
            p.close()
        if up is not None:
            up.stop()
        for node in reversed(nodes):
            node.stop(120)


def classic_format(res, rng):
    """The classic DAG's format_data(), with a seeded uuid4 so the run is repeatable."""
    location = res["location"]
    return {
        "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "first_name": res["name"]["first"],
        "last_name": res["name"]["last"],
        "gender": res["gender"],
        "address": f"{location['street']['number']} {location['street']['name']}, "
                   f"{location['city']}, {location['state']}, {location['country']}",
        "post_code": location["postcode"],
        "email": res["email"],
        "username": res["login"]["username"],
        "dob": res["dob"]["date"],
        "registered_date": res["registered"]["date"],
        "phone": res["phone"],
        "picture": res["picture"]["medium"],
    }


def scenario_classic(binary, work, users):
    """The classic pipeline's client code against millrace: kafka-python in, cassandra-driver out."""
    from kafka import KafkaProducer
    up, p = start_up(binary, os.path.join(work, "data"), work,
                     ["--set", "up.disable=cdc,scheduler"])
    try:
        source = read_status(up.ready_line.split()[2])["source"]["address"]
        rng = random.Random(SEED)
        producer = KafkaProducer(bootstrap_servers=[p.kafka], max_block_ms=10000)
        sent = {}
        page = 1
        while len(sent) < users:
            batch = min(500, users - len(sent))
            with urllib.request.urlopen(f"http://{source}/api/?results={batch}&seed=classic&page={page}") as r:
                results = json.loads(r.read())["results"]
            for res in results:
                data = classic_format(res, rng)
                sent[data["id"]] = data
                producer.send("users_created", json.dumps(data).encode("utf-8"))
            page += 1
        producer.flush(timeout=60)
        producer.close()
        log(f"kafka-python produced {len(sent)} formatted users to users_created")
        wait_for(f"{users} rows in spark_streams.created_users", 300, lambda: p.rows_in_table() == users or None, 1)
        rows = p.session().execute("SELECT * FROM spark_streams.created_users", timeout=60)
        seen = 0
        for row in rows:
            want = sent[str(row.id)]
            for col in COLUMNS[1:12]:
                if str(want[col]) != str(getattr(row, col)):
                    raise failure(f"{row.id}.{col}: sent {want[col]!r}, table has {getattr(row, col)!r}")
            seen += 1
        if seen != users:
            raise failure(f"SELECT * returned {seen} rows, expected {users}")
        log(f"cassandra-driver read back all {users} rows, equal to what kafka-python sent")
    finally:
        p.close()
        up.stop()


SCENARIOS = {"pipeline": scenario_pipeline, "kill_up": scenario_kill_up, "kill_parts": scenario_kill_parts,
             "classic": scenario_classic, "real": scenario_real, "real_secure": scenario_real_secure,
             "ha_zookeeper": lambda binary, work, users: scenario_ha(binary, work, users, True),
             "ha_postgres": lambda binary, work, users: scenario_ha(binary, work, users, False),
             "kafka_zookeeper": scenario_kafka_zookeeper, "kafka_kraft_cluster": scenario_kafka_kraft_cluster}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--scenario", required=True, choices=sorted(SCENARIOS))
    ap.add_argument("--users", type=int, default=20000)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix=f"millrace-e2e-{args.scenario}-")
    os.chmod(work, 0o755)  # the managed PostgreSQL runs as user postgres
    try:
        SCENARIOS[args.scenario](os.path.abspath(args.binary), work, args.users)
        log(f"{args.scenario}: OK")
        return 0
    except Exception as e:
        log(f"{args.scenario}: FAILED: {type(e).__name__}: {e}")
        for name in os.listdir(work):
            if name.endswith(".err"):
                with open(os.path.join(work, name)) as f:
                    tail = f.readlines()[-25:]
                print(f"--- last lines of {name}:\n" + "".join(tail), file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
