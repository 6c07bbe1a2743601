#!/usr/bin/env python3
"""`millrace up --secure` end to end, checked with real clients (issue 19).

  up_secure.py --binary build/millrace [--users N] [--keep]

One `millrace up --secure` in a fresh data dir, every listener on an ephemeral
port, the default DAG (user_automation, without its schedule) in its own
dags_dir. Then:

- the REST API refuses a trigger without credentials (401), a cross-site one
  (foreign Origin: 403; text/plain: 415), and takes one with a bearer token
  from POST /api/v1/auth/token;
- the users arrive in spark_streams.created_users, read over TLS with the
  admin's credentials by the Python cassandra-driver (ssl_context), by cqlsh
  --ssl and by `millrace cql shell` (its --ssl/-u/-p flags, and its defaults
  from the configuration);
- the topic users_created is read over SASL_SSL by kcat (SCRAM-SHA-512) and
  by confluent-kafka-python's consumer (librdkafka, SCRAM-SHA-256);
- SchemaRegistryClient (basic.auth.user.info, the generated CA) registers and
  fetches a schema; without credentials the registry answers 401;
- a second SQL job copies the topic to another, plaintext `millrace broker`:
  its sink there gets none of the admin's SASL settings, and the copy arrives;
- `millrace status` and `millrace dags list` reach the servers with
  --data-dir alone (no MILLRACE_DATA_DIR);
- a plaintext client on each listener (Kafka, CQL, every HTTP API, admin) is
  refused, and each refusal is the documented log line
  `closing connection from <its address>: TLS handshake failed`;
- no other refusal line appears during the whole run: none of millrace's own
  clients (status probe, console sampler, processor, ...) speaks plaintext to
  a TLS listener, also after `millrace status` ran and the console sampled
  several more times;
- SIGTERM stops everything with exit code 0.

Exits 0 when every check passed, 1 otherwise.
"""
import argparse
import base64
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SEED = int(os.environ.get("TEST_MILLRACE_SEED", "20261207"))
REFUSAL = "TLS handshake failed"


sys.path.insert(0, HERE)
from suite import check, failures, load, wait_for  # noqa: E402


class up_process:
    """`millrace up --secure`; its stdout (ready line) and stderr (the log) in files."""

    def __init__(self, binary, work, data, dags, jobs):
        self.out_path = os.path.join(work, "up.out")
        self.err_path = os.path.join(work, "up.err")
        args = [binary, "up", "--secure", "--data-dir", data, "--set", "up.admin_port=0", "--set", "up.status_interval=0",
                "--set", f"scheduler.dags_dir={dags}", "--set", f"processor.jobs_dir={jobs}",
                # Many samples in a short test: the console's health checks are what issue 19's bug was.
                "--set", "console.sample_interval=300ms"]
        for key in ["broker.port", "cql.port", "source.port", "postgres.port", "scheduler.port", "registry.port",
                    "console.port"]:
            args += ["--set", f"{key}=0"]
        self.p = subprocess.Popen(args, stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"),
                                  start_new_session=True)
        self.ready_line = wait_for("the ready line of millrace up", 180, self._ready, 0.1)
        self.admin = self.ready_line.split()[4]

    def _ready(self):
        if self.p.poll() is not None:
            raise SystemExit(f"millrace up exited with {self.p.returncode} before it was ready:\n{self.log()[-4000:]}")
        with open(self.out_path) as f:
            lines = [line for line in f if line.startswith("ready up ")]
        return lines[-1].strip() if lines else None

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=90)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return None
        return self.p.returncode


class https:
    """urllib with the generated CA; `auth` is (user, password), "Bearer ..." or None."""

    def __init__(self, ca):
        self.ca = ca
        self.context = ssl.create_default_context(cafile=ca)

    def call(self, method, address, path, auth=None, body=None, headers=None, raw=None):
        h = dict(headers or {})
        data = raw
        if body is not None:
            data = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        if isinstance(auth, tuple):
            h["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        elif isinstance(auth, str):
            h["Authorization"] = auth
        req = urllib.request.Request(f"https://{address}{path}", data=data, method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


def plaintext_refused(up, address, request, label):
    """A plaintext client gets no protocol answer and the documented line names its address."""
    host, port = address.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=20) as s:
        local = "%s:%d" % s.getsockname()[:2]
        s.sendall(request)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except (ConnectionResetError, socket.timeout):
            pass
    check(got == b"" or got[0] == 0x15, f"{label} {address}: plaintext got no protocol answer ({got[:40]!r})")
    line = f"closing connection from {local}: {REFUSAL}"
    try:
        wait_for(f"the log line {line!r}", 30, lambda: line in up.log())
        check(True, f"{label}: logged {line!r}")
    except AssertionError as e:
        check(False, str(e))
    return local


def refusal_lines(log):
    return [line for line in log.splitlines() if REFUSAL in line]


def unexplained_refusals(log, ours):
    """Refusal lines whose peer is not one of our own plaintext clients."""
    out = []
    for line in refusal_lines(log):
        m = re.search(r"closing connection from (\S+): " + REFUSAL, line)
        if not m or m.group(1) not in ours:
            out.append(line)
    return out


def manual_dags(work):
    folder = os.path.join(work, "dags")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(REPO, "dags", "user_automation.yaml")) as f:
        text = "".join(line for line in f if not line.startswith("schedule:"))
    with open(os.path.join(folder, "user_automation.yaml"), "w") as f:
        f.write(text)
    return folder


def jobs_with_a_mirror(work, other):
    """The default job, and one copying users_created to a topic of another (plaintext) cluster."""
    folder = os.path.join(work, "jobs")
    os.makedirs(folder, exist_ok=True)
    shutil.copy(os.path.join(REPO, "jobs", "created_users.sql"), folder)
    with open(os.path.join(folder, "mirror.sql"), "w") as f:
        f.write(f"""SET 'properties.group.id' = 'mirror';
CREATE TABLE src (id STRING, first_name STRING) WITH ('connector' = 'kafka', 'topic' = 'users_created',
  'format' = 'json', 'scan.startup.mode' = 'earliest-offset');
CREATE TABLE mirror (id STRING, first_name STRING) WITH ('connector' = 'kafka', 'topic' = 'users_mirror',
  'format' = 'json', 'properties.bootstrap.servers' = '{other}');
INSERT INTO mirror SELECT id, first_name FROM src;
""")
    return folder


class other_broker:
    """A plaintext `millrace broker`: a cluster millrace does not secure."""

    def __init__(self, binary, work):
        root = os.path.join(work, "other")
        self.err_path = os.path.join(work, "other.err")
        self.p = subprocess.Popen([binary, "broker", "--port", "0", "--admin-port", "0", "--data-dir",
                                   os.path.join(root, "broker"), "--set", f"data_dir={root}"],
                                  stdout=subprocess.PIPE, stderr=open(self.err_path, "w"), text=True,
                                  start_new_session=True)
        for line in self.p.stdout:
            if line.startswith("ready broker "):
                self.address = line.split()[2]
                return
        raise AssertionError(f"the other broker exited with {self.p.wait()} before it was ready")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


def scenario(binary, work, users, libs):
    data = os.path.join(work, "data")
    other = other_broker(binary, work)
    try:
        secured(binary, work, users, libs, data, other)
    finally:
        other.stop()


def secured(binary, work, users, libs, data, other):
    up = up_process(binary, work, data, manual_dags(work), jobs_with_a_mirror(work, other.address))
    ours = set()  # addresses of our own plaintext clients
    try:
        ca = os.path.join(data, "tls", "ca.pem")
        with open(os.path.join(data, "admin-password")) as f:
            password = f.read().strip()
        admin = ("admin", password)
        web = https(ca)
        status, body = web.call("GET", up.admin, "/status", admin)
        if status != 200:
            raise AssertionError(f"GET /status answered {status}: {body}")
        parts = {c["name"]: c["address"] for c in json.loads(body)["components"] if c["state"] == "running"}
        for name in ("broker", "cql", "scheduler", "registry", "console", "source"):
            if name not in parts:
                raise AssertionError(f"{name} is not running under up --secure: {parts}")
        scheduler = parts["scheduler"]
        check(not refusal_lines(up.log()), "no plaintext refusal while up --secure started")

        # The REST API: refused without credentials and when cross-site shaped.
        wait_for("user_automation loaded", 60,
                 lambda: web.call("GET", scheduler, "/api/v1/dags/user_automation", admin)[0] == 200)
        trigger = {"dag_run_id": f"secure_{SEED}", "conf": {"count": users, "seed": f"secure-{SEED}"}}
        path = "/api/v1/dags/user_automation/dagRuns"
        status, _ = web.call("POST", scheduler, path, None, trigger)
        check(status == 401, f"trigger without credentials: 401 (got {status})")
        status, body = web.call("POST", scheduler, "/api/v1/auth/token", admin, {})
        check(status == 200, f"POST /api/v1/auth/token: {status}")
        bearer = "Bearer " + json.loads(body)["access_token"]
        status, _ = web.call("POST", scheduler, path, bearer, trigger, {"Origin": "https://evil.example"})
        check(status == 403, f"trigger with a foreign Origin and a valid token: 403 (got {status})")
        status, _ = web.call("POST", scheduler, path, bearer, None, {"Content-Type": "text/plain"},
                             raw=json.dumps(trigger).encode())
        check(status == 415, f"trigger as text/plain with a valid token: 415 (got {status})")
        status, body = web.call("GET", scheduler, path, bearer)
        runs = json.loads(body).get("dag_runs", []) if status == 200 else None
        check(runs == [], f"the refused triggers created no run ({status}: {runs})")
        status, body = web.call("POST", scheduler, path, bearer, trigger)
        check(status in (200, 201), f"trigger with the bearer token: {status} {body[:200]}")

        # The serving table through the Python cassandra-driver, over TLS with credentials.
        from cassandra.auth import PlainTextAuthProvider
        from cassandra.cluster import Cluster
        cql_host, cql_port = parts["cql"].rsplit(":", 1)
        context = ssl.create_default_context(cafile=ca)
        cluster = Cluster([cql_host], port=int(cql_port), ssl_context=context,
                          ssl_options={"server_hostname": cql_host},
                          auth_provider=PlainTextAuthProvider("admin", password), protocol_version=4,
                          connect_timeout=15)
        try:
            session = cluster.connect()
            count = lambda: session.execute("SELECT count(*) FROM spark_streams.created_users", timeout=60).one()[0]
            wait_for(f"{users} rows in spark_streams.created_users", 600, lambda: count() == users, 1)
            check(True, f"cassandra-driver over TLS as admin: {users} rows")
        finally:
            cluster.shutdown()

        # cqlsh --ssl (SSL_CERTFILE, as cqlsh reads it), and `millrace cql shell`.
        cqlsh_env = dict(os.environ, PYTHONPATH=libs["cql"], HOME=work, CQLSH_NO_BUNDLED="1", SSL_CERTFILE=ca)
        out = subprocess.run([sys.executable, "-m", "cqlshlib", cql_host, cql_port, "--ssl", "-u", "admin", "-p", password,
                              "--connect-timeout", "30", "--request-timeout", "60", "-e",
                              "SELECT count(*) FROM spark_streams.created_users"],
                             capture_output=True, text=True, env=cqlsh_env, timeout=120)
        check(out.returncode == 0 and re.search(rf"^\s*{users}\s*$", out.stdout, re.M) is not None,
              f"cqlsh --ssl -u admin: {users} rows ({out.returncode} {out.stdout.strip()[-200:]} {out.stderr.strip()[-300:]})")
        select = "SELECT count(*) FROM spark_streams.created_users"
        env = {k: v for k, v in os.environ.items() if not k.startswith("MILLRACE_") and k != "SSL_CERTFILE"}
        out = subprocess.run([binary, "cql", "shell", cql_host, cql_port, "--ssl", "-u", "admin", "-p", password, "-e", select],
                             capture_output=True, text=True, env=dict(env, SSL_CERTFILE=ca), timeout=60)
        check(out.returncode == 0 and re.search(rf"^\s*{users}\s*$", out.stdout, re.M) is not None,
              f"millrace cql shell --ssl -u -p: {users} rows ({out.returncode} {out.stderr.strip()[-300:]})")
        out = subprocess.run([binary, "--secure", "--set", f"data_dir={data}", "--set", f"cql.port={cql_port}", "cql", "shell",
                              "-e", select], capture_output=True, text=True, env=env, timeout=60)
        check(out.returncode == 0 and re.search(rf"^\s*{users}\s*$", out.stdout, re.M) is not None,
              f"millrace --secure cql shell: TLS and the admin login from the configuration ({out.returncode} "
              f"{out.stderr.strip()[-300:]})")
        out = subprocess.run([binary, "cql", "shell", cql_host, cql_port, "--ssl", "-e", select],
                             capture_output=True, text=True, env=env, timeout=60)
        check(out.returncode == 2 and "--ssl needs the CA" in out.stderr,
              f"millrace cql shell --ssl without any CA: exit 2 naming it ({out.returncode} {out.stderr.strip()})")
        out = subprocess.run([binary, "cql", "shell", cql_host, cql_port, "--ssl", "-u", "admin", "-p", password + "x",
                              "-e", select], capture_output=True, text=True, env=dict(env, SSL_CERTFILE=ca), timeout=60)
        check(out.returncode == 2 and "Connection error" in out.stderr,
              f"millrace cql shell with a wrong password: refused ({out.returncode} {out.stderr.strip()[-200:]})")

        # The topic over SASL_SSL: kcat (SCRAM-SHA-512) and confluent-kafka (SCRAM-SHA-256).
        kcat = ["kcat", "-b", parts["broker"], "-X", "security.protocol=sasl_ssl", "-X", f"ssl.ca.location={ca}",
                "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=admin", "-X", f"sasl.password={password}"]
        out = subprocess.run(kcat + ["-C", "-t", "users_created", "-o", "beginning", "-e", "-q", "-f", "%k\n"],
                             capture_output=True, text=True, timeout=120)
        keys = {k for k in out.stdout.splitlines() if k}
        check(out.returncode == 0 and len(keys) == users,
              f"kcat over SASL_SSL: {len(keys)} distinct keys in users_created ({out.stderr.strip()[-300:]})")
        out = subprocess.run(kcat[:-2] + ["-X", f"sasl.password={password}x", "-L", "-m", "10"],
                             capture_output=True, text=True, timeout=60)
        check(out.returncode != 0, f"kcat with a wrong password gets no metadata ({out.returncode})")

        sys.path.insert(0, libs["registry"])
        for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            os.environ.pop(name, None)
        from confluent_kafka import Consumer
        consumer = Consumer({"bootstrap.servers": parts["broker"], "group.id": f"up-secure-{SEED}",
                             "auto.offset.reset": "earliest", "security.protocol": "SASL_SSL",
                             "ssl.ca.location": ca, "sasl.mechanisms": "SCRAM-SHA-256", "sasl.username": "admin",
                             "sasl.password": password, "enable.auto.commit": False})
        try:
            consumer.subscribe(["users_created"])
            seen = set()
            deadline = time.monotonic() + 120
            while len(seen) < users and time.monotonic() < deadline:
                message = consumer.poll(1.0)
                if message is not None and message.error() is None:
                    seen.add(message.key())
        finally:
            consumer.close()
        check(len(seen) == users, f"confluent-kafka over SASL_SSL/SCRAM-SHA-256: {len(seen)} distinct keys")

        # A job writing to a cluster millrace does not secure gets none of the admin's SASL
        # settings: the mirror reaches the plaintext broker, read there by plain kcat.
        def mirrored():
            got = subprocess.run(["kcat", "-b", other.address, "-C", "-t", "users_mirror", "-o", "beginning", "-e", "-q"],
                                 capture_output=True, text=True, timeout=60)
            return {json.loads(line)["id"] for line in got.stdout.splitlines() if line.strip()}
        try:
            wait_for(f"{users} users mirrored to the other cluster", 180, lambda: len(mirrored()) == users, 1)
            check(True, f"a job's sink on another, plaintext cluster got {users} users (no SASL settings handed to it)")
        except AssertionError as e:
            check(False, str(e))
        with open(other.err_path) as f:
            check("SASL" not in f.read(), "the other cluster saw no SASL handshake from millrace")

        # The registry: SchemaRegistryClient with basic.auth.user.info over HTTPS.
        from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
        registry = SchemaRegistryClient({"url": f"https://{parts['registry']}", "ssl.ca.location": ca,
                                         "basic.auth.user.info": f"admin:{password}"})
        schema = Schema(json.dumps({"type": "record", "name": "Secure", "fields": [{"name": "id", "type": "long"}]}),
                        "AVRO")
        schema_id = registry.register_schema("secure-value", schema)
        fetched = registry.get_schema(schema_id)
        check(json.loads(fetched.schema_str)["name"] == "Secure", f"SchemaRegistryClient fetched schema {schema_id} back")
        status, _ = web.call("GET", parts["registry"], f"/schemas/ids/{schema_id}")
        check(status == 401, f"the registry without credentials: 401 (got {status})")

        # Client commands with --data-dir only (no MILLRACE_DATA_DIR): the password file and the CA.
        out = subprocess.run([binary, "status", "--secure", "--data-dir", data, "--admin-port", up.admin.rsplit(":", 1)[1]],
                             capture_output=True, text=True, env=env, timeout=60)
        check(out.returncode == 0 and "scheduler" in out.stdout, f"millrace status --secure --data-dir: {out.returncode} "
              f"{out.stderr.strip()}")
        status_ran = time.monotonic()
        out = subprocess.run([binary, "dags", "list", "--secure", "--data-dir", data, "--set",
                              f"scheduler.port={scheduler.rsplit(':', 1)[1]}"],
                             capture_output=True, text=True, env=env, timeout=60)
        check(out.returncode == 0 and "user_automation" in out.stdout,
              f"millrace dags list --secure --data-dir: {out.returncode} {out.stderr.strip()}")

        # After `status`: the console keeps sampling, its CQL check over TLS (green), and
        # nothing of millrace's own speaks plaintext to a listener.
        console = parts["console"]

        def cql_health():
            code, text = web.call("GET", console, "/api/overview", admin)
            overview = json.loads(text)
            cql = [c for c in overview.get("components", []) if c.get("name") == "cql"]
            return overview.get("time"), (cql[0] if cql else {})

        times = set()

        def sampled_green():
            t, cql = cql_health()
            if cql.get("state") == "green":
                times.add(t)
            return len(times) >= 5 and time.monotonic() - status_ran > 3

        try:
            wait_for("five console samples with the CQL store green", 120, sampled_green, 0.3)
            check(True, f"the console's CQL health check is green over TLS ({cql_health()[1].get('reason', '')})")
        except AssertionError as e:
            check(False, f"{e}; cql health: {cql_health()[1]}")
        stray = unexplained_refusals(up.log(), ours)
        check(not stray, f"no plaintext connection from millrace's own clients ({len(stray)} refusal lines: {stray[:3]})")

        # Plaintext on every listener: refused with the documented line.
        kafka_api_versions = bytes.fromhex("0000000a" "0012" "0000" "00000001" "ffff")
        cql_options = bytes.fromhex("04000001" "05" "00000000")
        ours.add(plaintext_refused(up, parts["broker"], kafka_api_versions, "kafka"))
        ours.add(plaintext_refused(up, parts["cql"], cql_options, "cql"))
        for name in ("scheduler", "registry", "console", "source"):
            request = f"GET /healthz HTTP/1.1\r\nHost: {parts[name]}\r\nConnection: close\r\n\r\n".encode()
            ours.add(plaintext_refused(up, parts[name], request, name))
        request = f"GET /healthz HTTP/1.1\r\nHost: {up.admin}\r\nConnection: close\r\n\r\n".encode()
        ours.add(plaintext_refused(up, up.admin, request, "admin"))
        stray = unexplained_refusals(up.log(), ours)
        check(not stray, f"every refusal line is one of ours ({len(stray)} others: {stray[:3]})")
        status, _ = web.call("GET", up.admin, "/healthz")
        check(status == 200, f"still serving after the refusals: /healthz {status}")
    finally:
        code = up.stop()
    check(code == 0, f"millrace up stopped with exit code 0 after SIGTERM (got {code})")
    stray = unexplained_refusals(up.log(), ours)
    check(not stray, f"no stray refusal line until the end ({stray[:3]})")
    if failures:
        sys.stderr.write("--- last lines of up's log\n" + "".join(up.log().splitlines(True)[-40:]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--users", type=int, default=300)
    ap.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = ap.parse_args()
    for script in (("cql", "setup.sh"), ("registry", "setup.sh")):
        subprocess.run([os.path.join(REPO, "tests", *script)], check=True, stdout=subprocess.DEVNULL)
    libs = {"cql": load("cql_run", os.path.join(REPO, "tests", "cql", "run.py")).pylibs_dir()}
    registry_run = load("registry_run", os.path.join(REPO, "tests", "registry", "run.py"))
    libs["registry"] = registry_run.keyed(os.path.join(REPO, "tests", "registry", "requirements.txt"), "pylibs")
    sys.path.insert(0, libs["cql"])
    work = tempfile.mkdtemp(prefix="millrace-up-secure-")
    os.chmod(work, 0o755)  # the managed PostgreSQL runs as user postgres
    try:
        scenario(os.path.abspath(args.binary), work, args.users, libs)
    except Exception as e:
        check(False, f"{type(e).__name__}: {e}")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("up --secure end to end: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
