#!/usr/bin/env python3
"""HTTP authentication of every millrace HTTP API with security.enabled (docs/security.md).

  http_auth.py --binary build/millrace

A plain `millrace broker` (the pipeline's Kafka, external to `up`, so this
suite tests the HTTP side only), then `millrace up --set security.enabled=true`
on ephemeral ports in a fresh data dir. Checked with real clients (urllib, the
`millrace` CLI, confluent-kafka-python's SchemaRegistryClient):

- the admin password is generated once into <data_dir>/admin-password (0600),
  printed on the first start only, and the same after a restart;
- the registry, the scheduler's REST API, the console's API and the admin
  endpoint answer 401 (with a Basic challenge) without credentials and with
  wrong ones, 200 with the admin user's; /healthz stays open;
- bearer tokens from POST /api/v1/auth/token work on every API;
- /api/v1/auth/whoami names the user (what the console's header shows);
- SchemaRegistryClient with basic.auth.user.info registers and reads schemas,
  and fails with 401 on a wrong password;
- `millrace status` and `millrace dags list` reach the secured servers with
  the password from the data dir; `config show` never prints it.

When the servers speak TLS (<data_dir>/tls/ca.pem exists after start), every
client uses https with that CA. Exits 77 (skipped) when this build does not
declare security.enabled yet.
"""
import argparse
import base64
import json
import os
import signal
import ssl
import stat
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
SKIP = 77


sys.path.insert(0, HERE)
from suite import check, failures, load, wait_for  # noqa: E402


class proc:
    """A millrace process whose ready line (on stdout, in a file) we wait for."""

    def __init__(self, args, name, work):
        self.name = name
        self.out_path = os.path.join(work, f"{name}.out")
        self.err_path = os.path.join(work, f"{name}.err")
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.p = subprocess.Popen(args, stdout=self.out, stderr=self.err, start_new_session=True)
        self.ready_line = wait_for(f"{name} ready line", 180, self._ready, 0.1)

    def _ready(self):
        if self.p.poll() is not None:
            raise SystemExit(f"{self.name} exited with {self.p.returncode} before it was ready:\n{self.stderr_tail()}")
        lines = [line for line in self.stdout().splitlines() if line.startswith("ready ")]
        return lines[-1].strip() if lines else None

    def stdout(self):
        with open(self.out_path) as f:
            return f.read()

    def stderr_tail(self, n=30):
        with open(self.err_path) as f:
            return "".join(f.readlines()[-n:])

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        return self.p.returncode


class client:
    """HTTP(S) to millrace's servers: the scheme and CA as the data dir says."""

    def __init__(self, data_dir):
        ca = os.path.join(data_dir, "tls", "ca.pem")
        self.tls = os.path.exists(ca)
        self.ca = ca if self.tls else None
        self.context = ssl.create_default_context(cafile=ca) if self.tls else None

    def url(self, address, path):
        return f"{'https' if self.tls else 'http'}://{address}{path}"

    def call(self, method, address, path, auth=None, body=None):
        """(status, headers, body text); `auth` is (user, password) or "Bearer <token>"."""
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if isinstance(auth, tuple):
            headers["Authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        elif isinstance(auth, str):
            headers["Authorization"] = auth
        req = urllib.request.Request(self.url(address, path), data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30, context=self.context) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()


def start_up(binary, data_dir, work, broker, name):
    args = [binary, "up", "--data-dir", data_dir, "--set", "up.admin_port=0", "--set", "up.status_interval=0",
            "--set", "security.enabled=true", "--set", f"kafka.bootstrap={broker}",
            # The HTTP side only: no pipeline parts that need Kafka security or CQL.
            "--set", "up.disable=cdc,process,cql,source",
            "--set", f"scheduler.dags_dir={os.path.join(work, 'dags')}"]
    known = subprocess.run([binary, "config", "show"], capture_output=True, text=True, check=True).stdout
    for key in ["postgres.port", "scheduler.port", "registry.port", "console.port"]:
        if f"\n{key}:" in "\n" + known:
            args += ["--set", f"{key}=0"]
    return proc(args, name, work)


def addresses(http, admin, password):
    status, _, body = http.call("GET", admin, "/status", ("admin", password))
    if status != 200:
        raise SystemExit(f"GET /status with the admin password answered {status}: {body}")
    return {c["name"]: c["address"] for c in json.loads(body)["components"] if c["state"] == "running"}


def check_apis(http, apis, password):
    for label, address, path in apis:
        status, headers, _ = http.call("GET", address, path)
        check(status == 401, f"{label} GET {path} without credentials: 401 (got {status})")
        challenge = headers.get("WWW-Authenticate", "") if headers else ""
        check(challenge.startswith('Basic realm="millrace"'), f"{label}: WWW-Authenticate {challenge!r}")
        status, _, _ = http.call("GET", address, path, ("admin", password + "x"))
        check(status == 401, f"{label} GET {path} with a wrong password: 401 (got {status})")
        status, _, _ = http.call("GET", address, path, ("nobody", password))
        check(status == 401, f"{label} GET {path} as an unknown user: 401 (got {status})")
        status, _, body = http.call("GET", address, path, ("admin", password))
        check(status == 200, f"{label} GET {path} with the admin password: 200 (got {status} {body[:200]})")
        status, _, _ = http.call("POST", address, "/api/v1/auth/whoami", None, {})
        check(status == 401, f"{label} POST without credentials: 401 (got {status})")


def check_registry_client(http, registry, password, pylibs):
    sys.path.insert(0, pylibs)
    # requests lets these variables override a session's CA (ssl.ca.location): keep them out.
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ.pop(name, None)
    from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
    from confluent_kafka.schema_registry.error import SchemaRegistryError
    conf = {"url": http.url(registry, ""), "basic.auth.user.info": f"admin:{password}"}
    if http.ca:
        conf["ssl.ca.location"] = http.ca
    sr = SchemaRegistryClient(conf)
    schema = Schema(json.dumps({"type": "record", "name": "Auth", "fields": [{"name": "id", "type": "long"}]}), "AVRO")
    schema_id = sr.register_schema("auth-value", schema)
    check(schema_id > 0, f"SchemaRegistryClient with basic.auth.user.info registered id {schema_id}")
    check(sr.get_latest_version("auth-value").schema_id == schema_id, "SchemaRegistryClient reads the latest version back")
    wrong = SchemaRegistryClient(dict(conf, **{"basic.auth.user.info": f"admin:{password}x"}))
    try:
        wrong.get_subjects()
        check(False, "SchemaRegistryClient with a wrong password: no error")
    except SchemaRegistryError as e:
        check(e.http_status_code == 401, f"SchemaRegistryClient with a wrong password: HTTP {e.http_status_code}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", required=True)
    args = parser.parse_args()
    binary = args.binary

    known = subprocess.run([binary, "config", "show"], capture_output=True, text=True, check=True).stdout
    if "\nsecurity.enabled:" not in "\n" + known:
        print("SKIP: this build does not declare security.enabled yet (the TLS work adds it)")
        sys.exit(SKIP)
    subprocess.run([os.path.join(REPO, "tests", "registry", "setup.sh")], check=True)
    registry_run = load("registry_run", os.path.join(REPO, "tests", "registry", "run.py"))
    pylibs = registry_run.keyed(os.path.join(REPO, "tests", "registry", "requirements.txt"), "pylibs")

    with tempfile.TemporaryDirectory(prefix="millrace-http-auth-") as work:
        os.chmod(work, 0o755)  # the managed PostgreSQL runs as user postgres
        os.makedirs(os.path.join(work, "dags"))
        data = os.path.join(work, "data")
        procs = []
        try:
            broker = proc([binary, "broker", "--port", "0", "--admin-port", "0", "--data-dir",
                           os.path.join(work, "broker")], "broker", work)
            procs.append(broker)
            broker_address = broker.ready_line.split()[2]
            up = start_up(binary, data, work, broker_address, "up-1")
            procs.append(up)
            admin = up.ready_line.split()[2]

            # The password: generated once, 0600, printed on this first start.
            path = os.path.join(data, "admin-password")
            check(os.path.exists(path), f"{path} exists")
            mode = stat.S_IMODE(os.stat(path).st_mode)
            check(mode == 0o600, f"admin-password has mode {oct(mode)}")
            with open(path) as f:
                password = f.read().strip()
            check(len(password) == 32, "a 32-character password")
            printed = up.stdout()
            check(f"generated the admin password for user admin: {password}" in printed, "printed on the first start")
            check(password not in open(up.err_path).read(), "never in the log (stderr)")

            http = client(data)
            parts = addresses(http, admin, password)
            for name in ("registry", "scheduler", "console"):
                if name not in parts:
                    raise SystemExit(f"{name} is not running under up: {parts}")
            status_text = http.call("GET", admin, "/status?format=text", ("admin", password))[2]
            check(path in status_text, "the status block names the password file")
            check(password not in status_text, "the status block does not show the password")

            status, _, _ = http.call("GET", admin, "/healthz")
            check(status == 200, f"admin /healthz open: {status}")
            # The console answers 503 until its first sample is taken, which probes every part (a
            # busy default port it reaches for a disabled part can hold it to the probe timeout):
            # wait for it, so that the checks below are about credentials, not timing.
            wait_for("the console's first sample", 120,
                     lambda: http.call("GET", parts["console"], "/api/overview", ("admin", password))[0] != 503)
            check_apis(http, [("registry", parts["registry"], "/subjects"),
                              ("scheduler", parts["scheduler"], "/api/v1/dags"),
                              ("console", parts["console"], "/api/overview"),
                              ("admin", admin, "/metrics"),
                              ("admin", admin, "/status")], password)

            # Bearer tokens: issued for Basic credentials, accepted by every API.
            status, _, body = http.call("POST", parts["scheduler"], "/api/v1/auth/token", ("admin", password))
            check(status == 200, f"POST /api/v1/auth/token: {status} {body[:200]}")
            token = json.loads(body)["access_token"] if status == 200 else "none"
            for label, address, target in [("scheduler", parts["scheduler"], "/api/v1/dags"),
                                           ("registry", parts["registry"], "/subjects"),
                                           ("console", parts["console"], "/api/overview")]:
                status, _, _ = http.call("GET", address, target, f"Bearer {token}")
                check(status == 200, f"{label} with the bearer token: {status}")
                status, _, _ = http.call("GET", address, target, f"Bearer {token[:-2]}xx")
                check(status == 401, f"{label} with a tampered token: {status}")
            status, _, _ = http.call("POST", parts["scheduler"], "/api/v1/auth/token", f"Bearer {token}")
            check(status == 401, f"a token does not buy a token: {status}")

            status, _, body = http.call("GET", parts["console"], "/api/v1/auth/whoami", ("admin", password))
            who = json.loads(body) if status == 200 else {}
            check(who.get("user") == "admin" and who.get("security_enabled") is True, f"whoami: {body.strip()}")
            status, _, body = http.call("GET", parts["console"], "/api/overview", ("admin", password))
            check(password not in body, "the console's overview does not show the password")

            check_registry_client(http, parts["registry"], password, pylibs)

            # millrace's own CLI, configured as the servers are (security.enabled, data_dir), reaches
            # them with the password file of the data dir.
            out = subprocess.run([binary, "status", "--set", "security.enabled=true", "--set", f"data_dir={data}", "--set", f"up.admin_port={admin.rsplit(':', 1)[1]}"],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 0 and "registry" in out.stdout, f"millrace status: {out.returncode} {out.stderr.strip()}")
            sched_port = parts["scheduler"].rsplit(":", 1)[1]
            out = subprocess.run([binary, "dags", "list", "--set", "security.enabled=true", "--set", f"data_dir={data}", "--set", f"scheduler.port={sched_port}"],
                                 capture_output=True, text=True, timeout=60)
            check(out.returncode == 0, f"millrace dags list: {out.returncode} {out.stdout.strip()} {out.stderr.strip()}")
            out = subprocess.run([binary, "dags", "list", "--set", "security.enabled=true",
                                  "--set", f"data_dir={os.path.join(work, 'elsewhere')}",
                                  # the servers' CA, so that what is missing is the password only
                                  "--set", f"security.tls_ca={os.path.join(data, 'tls', 'ca.pem')}",
                                  "--set", f"scheduler.port={sched_port}"], capture_output=True, text=True, timeout=60)
            check(out.returncode != 0 and "401" in out.stderr, f"without the password file: refused ({out.stderr.strip()})")
            out = subprocess.run([binary, "config", "show", "--set", "security.admin_password=visible-secret",
                                  "--set", "kafka.client_properties=sasl.password=other-secret"],
                                 capture_output=True, text=True, timeout=60)
            check("visible-secret" not in out.stdout and "other-secret" not in out.stdout, "config show hides passwords")

            # A restart reuses the password and does not print it again.
            up.stop()
            procs.remove(up)
            up = start_up(binary, data, work, broker_address, "up-2")
            procs.append(up)
            with open(path) as f:
                check(f.read().strip() == password, "the same password after a restart")
            check(password not in up.stdout(), "not printed again")
            status, _, _ = http.call("GET", up.ready_line.split()[2], "/metrics", ("admin", password))
            check(status == 200, f"the password still works after a restart: {status}")
        finally:
            for p in reversed(procs):
                p.stop()
            if failures:
                for p in procs:
                    sys.stderr.write(f"--- {p.name} stderr (last lines)\n{p.stderr_tail()}")
    if failures:
        print(f"{len(failures)} check(s) failed")
        sys.exit(1)
    print("http auth suite: passed")


if __name__ == "__main__":
    main()
