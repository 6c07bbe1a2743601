#!/usr/bin/env python3
"""Listeners with security.enabled (`--secure`): plaintext refused, real clients over TLS.

  python3 tests/common/secure_listeners.py --millrace-binary PATH

Starts `millrace broker --secure` and `millrace cql --secure` on ephemeral ports,
each with its own data_dir (so each generates its own CA into <data_dir>/tls/),
waits for their ready lines, then checks on the Kafka, CQL and HTTP (admin)
listeners:
  - a plaintext client gets no protocol answer, the connection closes, the
    server logs one line for it and keeps serving;
  - a real client over TLS trusting the generated ca.pem works: kcat
    (librdkafka, SASL_SSL as the admin user: the secure broker requires SASL)
    produces and consumes, the Python cassandra-driver with an ssl_context
    writes and reads a table, curl --cacert reads /healthz;
  - a client that does not trust the CA is refused; a Kafka client over TLS
    without SASL gets no metadata.

Prints `N passed, M failed`; exits non-zero on any failure.
"""

import argparse
import importlib.util
import os
import queue
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT_S = 60.0
# The broker's admin user (security.admin_user defaults to admin) logs in with this.
ADMIN_PASSWORD = "secure-listeners-admin-4d1e"
CQL_USER, CQL_PASSWORD = "cassandra", "secure-listeners-pw"


def load_cql_run():
    spec = importlib.util.spec_from_file_location("cql_run", os.path.join(HERE, "..", "cql", "run.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Server:
    """`millrace <command> --secure` with data_dir=<root>; stdout scanned for the ready line."""

    def __init__(self, binary, command, root, extra=()):
        os.makedirs(root, exist_ok=True)
        self.root = root
        self.log_path = os.path.join(root, "server.log")
        self.proc = subprocess.Popen(
            [binary, command, "--secure", "--port", "0", "--admin-port", "0", "--set", f"data_dir={root}", *extra],
            stdout=subprocess.PIPE, stderr=open(self.log_path, "a"), text=True)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout] and lines.put(None), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError(f"{command} printed no ready line in time; log: {self.log()}")
            if line is None:
                raise RuntimeError(f"{command} exited with {self.proc.wait()} before it was ready; log: {self.log()}")
            if line.startswith(f"ready {command} "):
                parts = line.split()
                self.address = parts[2]
                self.host, port = parts[2].rsplit(":", 1)
                self.port = int(port)
                self.admin = parts[4]
                self.ca = os.path.join(root, "tls", "ca.pem")
                return

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def plaintext_exchange(host, port, request):
    """Sends `request` in the clear; returns what came back before the server closed."""
    with socket.create_connection((host, port), timeout=15) as s:
        s.sendall(request)
        got = b""
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        return got


def wait_for_log(server, text, count, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.log().count(text) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"expected {count} log line(s) with {text!r}; log:\n{server.log()}")


def assert_refused(got, what):
    # Nothing but, at most, a TLS alert record (content type 21).
    assert got == b"" or got[0] == 0x15, f"{what}: a plaintext client got a protocol answer: {got[:64]!r}"


# ---- checks ----

def check_kafka_plaintext_refused(broker, args):
    # ApiVersions v0, correlation id 1, no client id.
    request = bytes.fromhex("0000000a" "0012" "0000" "00000001" "ffff")
    before = broker.log().count("TLS handshake failed")
    assert_refused(plaintext_exchange(broker.host, broker.port, request), "kafka")
    wait_for_log(broker, "TLS handshake failed", before + 1)


def check_silent_connection_not_a_plaintext_client(broker, args):
    # A connection closed before sending anything (a TCP probe; librdkafka dropping
    # a spare connection it had just opened) spoke no protocol: no refusal line
    # for it, while the plaintext client after it gets one.
    with socket.create_connection((broker.host, broker.port), timeout=15) as s:
        silent = "%s:%d" % s.getsockname()[:2]
    with socket.create_connection((broker.host, broker.port), timeout=15) as s:
        talker = "%s:%d" % s.getsockname()[:2]
        s.sendall(bytes.fromhex("0000000a" "0012" "0000" "00000001" "ffff"))
        try:
            while s.recv(4096):
                pass
        except ConnectionResetError:
            pass
    wait_for_log(broker, f"closing connection from {talker}: TLS handshake failed", 1)
    assert f"closing connection from {silent}:" not in broker.log(), broker.log()


def kcat_flags(broker, args, ca, sasl=True):
    flags = ["-b", broker.address, "-X", f"ssl.ca.location={ca}"]
    if not sasl:
        return flags + ["-X", "security.protocol=ssl"]
    return flags + ["-X", "security.protocol=sasl_ssl", "-X", "sasl.mechanisms=SCRAM-SHA-512",
                    "-X", "sasl.username=admin", "-X", f"sasl.password={ADMIN_PASSWORD}"]


def check_kafka_tls_kcat(broker, args):
    flags = kcat_flags(broker, args, broker.ca)
    topic = "secure-listeners"
    messages = "one\ntwo\nthree\n"
    proc = subprocess.run(["kcat", *flags, "-P", "-t", topic, "-c", "3"], input=messages, text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, f"kcat produce failed: {proc.stderr}"
    proc = subprocess.run(["kcat", *flags, "-C", "-t", topic, "-o", "beginning", "-c", "3", "-e", "-q"], text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode == 0, f"kcat consume failed: {proc.stderr}"
    assert proc.stdout == messages, f"consumed {proc.stdout!r}"


def check_kafka_untrusted_ca_refused(broker, args, other_ca):
    before = broker.log().count("TLS handshake failed")
    proc = subprocess.run(["kcat", *kcat_flags(broker, args, other_ca), "-L", "-m", "5"], text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode != 0, f"kcat trusting another CA listed metadata: {proc.stdout}"
    assert "certificate verify failed" in proc.stderr, proc.stderr
    wait_for_log(broker, "TLS handshake failed", before + 1)


def check_kafka_tls_without_sasl_refused(broker, args):
    # TLS is fine, but the broker closes a connection whose first request is
    # not SASL; kcat then never gets metadata.
    before = broker.log().count("before SASL authentication")
    proc = subprocess.run(["kcat", *kcat_flags(broker, args, broker.ca, sasl=False), "-L", "-m", "5"], text=True,
                          capture_output=True, timeout=60)
    assert proc.returncode != 0, f"kcat without SASL listed metadata: {proc.stdout}"
    wait_for_log(broker, "before SASL authentication", before + 1)


def check_cql_plaintext_refused(cql, args):
    # OPTIONS, protocol v4, stream 1, empty body.
    before = cql.log().count("TLS handshake failed")
    assert_refused(plaintext_exchange(cql.host, cql.port, bytes.fromhex("04000001" "05" "00000000")), "cql")
    wait_for_log(cql, "TLS handshake failed", before + 1)


def check_cql_tls_driver(cql, args):
    from cassandra.auth import PlainTextAuthProvider
    from cassandra.cluster import Cluster
    context = ssl.create_default_context(cafile=cql.ca)
    # The driver connects to an address; the certificate carries IP:127.0.0.1.
    context.check_hostname = True
    cluster = Cluster([cql.host], port=cql.port, ssl_context=context, ssl_options={"server_hostname": cql.host},
                      auth_provider=PlainTextAuthProvider(CQL_USER, CQL_PASSWORD), protocol_version=4,
                      connect_timeout=15)
    try:
        session = cluster.connect()
        session.execute("CREATE KEYSPACE IF NOT EXISTS secure WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        session.execute("CREATE TABLE IF NOT EXISTS secure.t (k int PRIMARY KEY, v text)")
        session.execute("INSERT INTO secure.t (k, v) VALUES (%s, %s)", (1, "over tls"))
        rows = list(session.execute("SELECT v FROM secure.t WHERE k = 1"))
        assert [r.v for r in rows] == ["over tls"], rows
    finally:
        cluster.shutdown()


def check_cql_untrusted_ca_refused(cql, args, other_ca):
    from cassandra.cluster import Cluster, NoHostAvailable
    context = ssl.create_default_context(cafile=other_ca)
    context.check_hostname = False
    cluster = Cluster([cql.host], port=cql.port, ssl_context=context, protocol_version=4, connect_timeout=10)
    try:
        cluster.connect()
        raise AssertionError("a driver trusting another CA connected")
    except NoHostAvailable as e:
        assert "CERTIFICATE_VERIFY_FAILED" in str(e) or "certificate verify failed" in str(e), str(e)
    finally:
        cluster.shutdown()


def check_http_plaintext_refused(server, args):
    host, port = server.admin.rsplit(":", 1)
    before = server.log().count("TLS handshake failed")
    request = f"GET /healthz HTTP/1.1\r\nHost: {server.admin}\r\nConnection: close\r\n\r\n".encode()
    got = plaintext_exchange(host, int(port), request)
    assert_refused(got, "http")
    assert b"200" not in got
    wait_for_log(server, "TLS handshake failed", before + 1)
    proc = subprocess.run(["curl", "-sS", "--max-time", "15", f"http://{server.admin}/healthz"], capture_output=True,
                          text=True)
    assert proc.returncode != 0 and proc.stdout == "", f"plain curl got {proc.stdout!r}"


def check_http_tls_curl(server, args):
    proc = subprocess.run(["curl", "-sS", "--max-time", "15", "--cacert", server.ca, f"https://{server.admin}/healthz"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, f"curl over TLS failed: {proc.stderr}"
    assert proc.stdout == "ok\n", proc.stdout
    # By name too: the certificate carries localhost.
    port = server.admin.rsplit(":", 1)[1]
    proc = subprocess.run(["curl", "-sS", "--max-time", "15", "--cacert", server.ca, f"https://localhost:{port}/healthz"],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout == "ok\n", f"curl by name failed: {proc.stderr}"


def check_http_untrusted_ca_refused(server, args, other_ca):
    proc = subprocess.run(["curl", "-sS", "--max-time", "15", "--cacert", other_ca, f"https://{server.admin}/healthz"],
                          capture_output=True, text=True)
    assert proc.returncode != 0, f"curl trusting another CA got {proc.stdout!r}"


def check_tls_files(server, args):
    tls = os.path.join(server.root, "tls")
    for name in ("ca.pem", "ca.key", "server.pem", "server.key"):
        mode = os.stat(os.path.join(tls, name)).st_mode & 0o777
        assert mode == 0o600, f"{name} has mode {mode:o}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--millrace-binary", required=True)
    args = ap.parse_args()
    cql_run = load_cql_run()
    libs = cql_run.pylibs_dir()
    if not os.path.isdir(os.path.join(libs, "cassandra")):
        print(f"secure_listeners: tests/cql/requirements.txt is not installed in {libs}; run tests/cql/setup.sh", flush=True)
        return 1
    sys.path.insert(0, libs)

    tmp = tempfile.mkdtemp(prefix="millrace-secure-")
    servers = []
    passed = failed = 0
    try:
        broker = Server(args.millrace_binary, "broker", os.path.join(tmp, "broker"),
                        ["--set", f"security.admin_password={ADMIN_PASSWORD}"])
        servers.append(broker)
        # With security.enabled the store requires a login (CQL roles): cql.password
        # gives the bootstrap role one; the driver logs in when asked.
        cql = Server(args.millrace_binary, "cql", os.path.join(tmp, "cql"), ["--set", f"cql.password={CQL_PASSWORD}"])
        servers.append(cql)
        # Each server generated its own CA: each is "another CA" for the other.
        checks = [
            ("tls_files_are_private", lambda: check_tls_files(broker, args)),
            ("kafka_plaintext_refused", lambda: check_kafka_plaintext_refused(broker, args)),
            ("silent_connection_not_a_plaintext_client",
             lambda: check_silent_connection_not_a_plaintext_client(broker, args)),
            ("kafka_kcat_over_tls", lambda: check_kafka_tls_kcat(broker, args)),
            ("kafka_untrusted_ca_refused", lambda: check_kafka_untrusted_ca_refused(broker, args, cql.ca)),
            ("kafka_tls_without_sasl_refused", lambda: check_kafka_tls_without_sasl_refused(broker, args)),
            ("cql_plaintext_refused", lambda: check_cql_plaintext_refused(cql, args)),
            ("cql_driver_over_tls", lambda: check_cql_tls_driver(cql, args)),
            ("cql_untrusted_ca_refused", lambda: check_cql_untrusted_ca_refused(cql, args, broker.ca)),
            ("http_plaintext_refused", lambda: check_http_plaintext_refused(broker, args)),
            ("http_curl_over_tls", lambda: check_http_tls_curl(broker, args)),
            ("http_untrusted_ca_refused", lambda: check_http_untrusted_ca_refused(cql, args, broker.ca)),
            # Still serving after every refusal.
            ("kafka_still_serving", lambda: check_kafka_tls_kcat(broker, args)),
        ]
        for name, check in checks:
            try:
                check()
                passed += 1
                print(f"PASS {name}", flush=True)
            except Exception:
                failed += 1
                print(f"FAIL {name}\n{traceback.format_exc()}", flush=True)
    finally:
        for s in servers:
            s.stop()
        if failed:
            for s in servers:
                print(f"--- {s.log_path}\n{s.log()[-4000:]}", flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
