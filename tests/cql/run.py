#!/usr/bin/env python3
"""Runs a real-client suite against freshly started CQL servers.

  python3 tests/cql/run.py --millrace-binary PATH [--suite python|node|cqlsh]

Starts `<binary> cql --port 0 --admin-port 0 --data-dir <tmp>/<name>` (plus
suite-specific --set flags), waits for its `ready cql <host:port> admin
<host:port>` line (no fixed sleeps), runs the suite, and always stops every
server (SIGTERM, then SIGKILL).

  python  driver_suite.py with the Python cassandra-driver (its durability
          check kills a server with SIGKILL and restarts it on the same data).
  node    node/suite.js with the DataStax Node.js cassandra-driver, given
          CQL_HOST, CQL_PORT and CQL_AUTH_PORT (a password-protected server).
  cqlsh   cqlsh_suite.py: cqlsh -e / -f runs asserted on their output.
  query   query_suite.py: query_cases.py's statements (DISTINCT, selectors,
          LWT answers, system tables) against Cassandra's answers.
  compat  compat_suite.py: the same statements against Apache Cassandra 5.0
          (scripts/peers/cassandra, started once) and millrace, compared.
  go      gocql/main.go with the Go driver gocql (module cache filled by
          setup.sh): DISTINCT, selectors, MapScanCAS / ScanCAS.
  java    java/ with the Java driver 4.x (org.apache.cassandra:java-driver-core,
          fetched by setup.sh, built offline): wasApplied() and the row, DISTINCT,
          selector names; fails on the "broadcast RPC port" warning.
  roles_compat  roles_compat_suite.py: roles, permissions and TLS against Apache
          Cassandra 5.0 (scripts/peers/cassandra --auth --tls, started once) and
          millrace (--secure, password authenticator), outcomes compared.
  auth    auth_suite.py: roles and permissions with the Python driver and
          cqlsh (-u/-p); restarts its server on the same data.

Prints `N passed, M failed`; the exit status is non-zero on any failure.
"""

import argparse
import ctypes
import hashlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
READY_TIMEOUT_S = 60.0


def pylibs_dir():
    """Where setup.sh installs requirements.txt (pip --target), keyed by its hash."""
    with open(os.path.join(HERE, "requirements.txt"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:12]
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    return os.path.join(cache, "millrace", f"cql-pylibs-{digest}")


def die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Server:
    """A `millrace cql` process; stdout is scanned for the ready line."""

    def __init__(self, binary, data_dir, extra=()):
        self.proc = subprocess.Popen(
            [binary, "cql", "--port", "0", "--admin-port", "0", "--data-dir", data_dir, *extra],
            stdout=subprocess.PIPE, stderr=open(os.path.join(os.path.dirname(data_dir), "server.log"), "a"),
            text=True, preexec_fn=die_with_parent)
        lines = queue.Queue()
        threading.Thread(target=lambda: [lines.put(l) for l in self.proc.stdout] and lines.put(None), daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            try:
                line = lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                self.kill()
                raise RuntimeError("server did not print its ready line in time")
            if line is None:
                raise RuntimeError(f"server exited with {self.proc.wait()} before it was ready")
            if line.startswith("ready cql "):
                host, port = line.split()[2].rsplit(":", 1)
                self.host, self.port = host, int(port)
                self.admin = line.split()[4]
                return

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()

    def stop(self):
        """SIGTERM, then SIGKILL after 30 s. Returns the exit code (None when already reaped by kill)."""
        if self.proc.poll() is not None:
            return None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9


def run_node_suite(start):
    node_dir = os.path.join(HERE, "node")
    if not os.path.isdir(os.path.join(node_dir, "node_modules", "cassandra-driver")):
        print("run.py: tests/cql/node/node_modules is missing; run tests/cql/setup.sh", flush=True)
        return 1
    from driver_suite import AUTH_FLAGS
    server = start()
    auth_server = start("auth", AUTH_FLAGS)
    env = dict(os.environ, CQL_HOST=server.host, CQL_PORT=str(server.port), CQL_AUTH_PORT=str(auth_server.port))
    proc = subprocess.run(["node", "suite.js"], cwd=node_dir, env=env, timeout=240)
    return 1 if proc.returncode else 0


def run_java_suite(start, tmp):
    """Builds tests/cql/java offline (setup.sh fetched its artifacts) and runs it; its log must not warn
    that the broadcast RPC port is unknown (system.local.rpc_port)."""
    java_dir = os.path.join(HERE, "java")
    cp_file = os.path.join(tmp, "java-classpath.txt")
    build = subprocess.run(["mvn", "-q", "-o", "-B", "-f", os.path.join(java_dir, "pom.xml"), "compile",
                            "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"], timeout=600)
    if build.returncode:
        print(f"run.py: the java suite does not build offline (mvn exit {build.returncode}); run tests/cql/setup.sh", flush=True)
        return 1
    with open(cp_file) as f:
        cp = f.read().strip()
    server = start()
    proc = subprocess.run(["java", "-Xmx256m", "-cp", os.path.join(java_dir, "target", "classes") + os.pathsep + cp,
                           "dev.millrace.cqltests.JavaDriverSuite"],
                          env=dict(os.environ, CQL_HOST=server.host, CQL_PORT=str(server.port)), timeout=240,
                          stderr=subprocess.PIPE, text=True)
    sys.stderr.write(proc.stderr)
    failed = 1 if proc.returncode else 0
    if "Unable to determine broadcast RPC port" in proc.stderr:
        print("[FAIL] the driver warned: Unable to determine broadcast RPC port", flush=True)
        failed = 1
    return failed


def run_go_suite(start, tmp):
    """Builds tests/cql/gocql (modules from the Go module cache, setup.sh downloads them) and runs it."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not os.path.exists(go):
        print("run.py: go is not installed; run tests/cql/setup.sh", flush=True)
        return 1
    binary = os.path.join(tmp, "gocql_suite")
    env = dict(os.environ, GOFLAGS="-mod=readonly", GOTOOLCHAIN="local")
    build = subprocess.run([go, "build", "-o", binary, "."], cwd=os.path.join(HERE, "gocql"), env=env, timeout=600)
    if build.returncode:
        print("run.py: building tests/cql/gocql failed (run tests/cql/setup.sh)", flush=True)
        return 1
    server = start()
    proc = subprocess.run([binary], env=dict(os.environ, CQL_HOST=server.host, CQL_PORT=str(server.port)), timeout=240)
    return 1 if proc.returncode else 0


def run_compat_suite(start, roles=False):
    """Starts scripts/peers/cassandra once, runs compat_suite.py (or, with `roles`, roles_compat_suite.py
    on a node with authentication and TLS) against it and millrace, stops it."""
    flags = []
    if roles:
        import roles_compat_suite
        flags = list(roles_compat_suite.PEER_FLAGS)
    peer = subprocess.Popen([os.path.join(HERE, "..", "..", "scripts", "peers", "cassandra"), *flags],
                            stdout=subprocess.PIPE, text=True, preexec_fn=die_with_parent)
    try:
        line = peer.stdout.readline()  # the peer script itself gives up after its own deadline
        if not line.startswith("ready cassandra "):
            print(f"run.py: Apache Cassandra did not start (exit {peer.poll()})", flush=True)
            return 1
        if roles:  # "ready cassandra <host:port> ca <path>"
            return roles_compat_suite.run_all(start, line.split()[2], line.split()[4])
        import compat_suite
        return compat_suite.run_all(start, line.split()[2])
    finally:
        peer.send_signal(signal.SIGTERM)
        try:
            peer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--millrace-binary", required=True)
    ap.add_argument("--suite", choices=["python", "node", "cqlsh", "auth", "query", "compat", "roles_compat", "go", "java"], default="python")
    args = ap.parse_args()
    libs = pylibs_dir()
    if not os.path.isdir(os.path.join(libs, "cassandra")):
        print(f"run.py: tests/cql/requirements.txt is not installed in {libs}; run tests/cql/setup.sh", flush=True)
        return 1
    sys.path.insert(0, libs)
    sys.path.insert(0, HERE)

    tmp = tempfile.mkdtemp(prefix="millrace-cql-")
    servers = []

    def start(name="data", extra=()):
        """Starts a server on data directory <tmp>/<name> (reused by a restart)."""
        s = Server(args.millrace_binary, os.path.join(tmp, name), extra)
        servers.append(s)
        return s

    failed = 1
    try:
        if args.suite == "python":
            import driver_suite
            failed = driver_suite.run_all(start)
        elif args.suite == "query":
            import query_suite
            failed = query_suite.run_all(start)
        elif args.suite == "java":
            failed = run_java_suite(start, tmp)
        elif args.suite == "go":
            failed = run_go_suite(start, tmp)
        elif args.suite == "compat":
            failed = run_compat_suite(start)
        elif args.suite == "roles_compat":
            failed = run_compat_suite(start, roles=True)
        elif args.suite == "auth":
            import auth_suite
            failed = auth_suite.run_all(start, libs)
        elif args.suite == "cqlsh":
            import cqlsh_suite
            failed = cqlsh_suite.run_all(start, libs)
        else:
            failed = run_node_suite(start)
    finally:
        for s in servers:
            code = s.stop()
            if code not in (None, 0):
                print(f"[FAIL] server stop: exit code {code} after SIGTERM", flush=True)
                failed += 1
        log_path = os.path.join(tmp, "server.log")
        if os.path.exists(log_path):
            with open(log_path) as f:
                log = f.read()
            if failed or any(m in log for m in ("assertion failed", "bug:", "AddressSanitizer", "runtime error")):
                print("run.py: server log (tail):\n" + log[-6000:], flush=True)
                failed += 0 if failed else 1
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--pylibs-dir":
        print(pylibs_dir())
        sys.exit(0)
    sys.exit(main())
