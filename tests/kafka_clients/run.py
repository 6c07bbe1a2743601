#!/usr/bin/env python3
"""Runs one real-client suite against a freshly started broker.

  python3 tests/kafka_clients/run.py --suite kcat|kafkajs|java|rdkafka|restart \\
      --broker millrace|kafka [--millrace-binary PATH] [--rdkafka-binary PATH]

--broker millrace runs `<binary> broker --port 0 --admin-port 0 --data-dir <tmp>`
and waits for its `ready broker <host:port> admin <host:port>` line; --broker
kafka runs scripts/peers/kafka (a real Apache Kafka) and waits for `ready kafka
<host:port>`. The suite then runs with KAFKA_BOOTSTRAP=<host:port>; its output is
passed through, the broker is stopped (SIGTERM, then SIGKILL after a timeout),
and the last line printed is `N passed, M failed`, counting the suite's
[PASS]/[FAIL] lines. The exit status is the suite's (non-zero on any failure).
"""

import argparse
import ctypes
import hashlib
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SUITES = ("kcat", "kafkajs", "kafkajs_group_leave", "java", "java_kip848", "java_txn", "rdkafka", "restart", "txn", "kip848_rdkafka")
# Suites whose point is that the client process ends by itself: a tighter bound
# on its lifetime (issue 17: kafkajs never exited after its group members left).
SUITE_TIMEOUTS_S = {"kafkajs_group_leave": 180.0}  # two rounds under CPU load; its own watchdog fails a hang sooner
READY_TIMEOUT_S = 120.0
STOP_TIMEOUT_S = 30.0
SUITE_TIMEOUT_S = float(os.environ.get("KAFKA_CLIENTS_SUITE_TIMEOUT", "300"))
MARK = re.compile(r"^\[(PASS|FAIL|SKIP)\] ")


def die_with_parent():
    """Child side of Popen: SIGKILL when run.py dies without cleaning up (e.g. killed by a CTest
    timeout), so no broker or client outlives it."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def note(msg):
    print(f"run.py: {msg}", flush=True)


class Tally:
    def __init__(self):
        self.counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
        self.lock = threading.Lock()

    def line(self, text):
        m = MARK.match(text)
        if m:
            with self.lock:
                self.counts[m.group(1)] += 1
        print(text, flush=True)

    # the in-process (restart) suite reports through this interface
    def write(self, text):
        for line in text.splitlines():
            self.line(line)

    def flush(self):
        pass


# --------------------------------------------------------------------------- broker

class BrokerError(Exception):
    pass


class Broker:
    """A broker process in its own session; stdout is scanned for the ready line."""

    def __init__(self, kind, millrace_binary, workdir, request_log=None):
        self.kind = kind
        self.millrace_binary = millrace_binary
        self.workdir = workdir
        self.data_dir = os.path.join(workdir, "data")
        self.request_log = request_log
        self.proc = None
        self.bootstrap = None
        self.starts = 0
        self.stderr_path = None
        self.stdout_path = None
        os.makedirs(self.data_dir, exist_ok=True)
        self.port = 0  # restart(same_port=True) keeps the port the broker had

    def command(self):
        if self.kind == "millrace":
            return [self.millrace_binary, "broker", "--port", str(self.port), "--admin-port", "0",
                    "--data-dir", self.data_dir]
        cmd = [os.path.join(REPO, "scripts", "peers", "kafka"), "--data-dir", self.data_dir]
        if self.request_log:
            cmd += ["--request-log", self.request_log]
        if self.port:
            cmd += ["--port", str(self.port)]
        return cmd

    def start(self):
        self.starts += 1
        self.stderr_path = os.path.join(self.workdir, f"broker-{self.starts}.stderr")
        self.stdout_path = os.path.join(self.workdir, f"broker-{self.starts}.stdout")
        ready_re = re.compile(r"^ready broker (\S+) admin (\S+)\s*$" if self.kind == "millrace"
                              else r"^ready kafka (\S+)\s*$")
        cmd = self.command()
        note(f"starting broker: {' '.join(cmd)}")
        t0 = time.monotonic()
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err,
                                         start_new_session=True, cwd=self.workdir, preexec_fn=die_with_parent)
        lines = queue.Queue()
        stdout_path = self.stdout_path
        proc = self.proc

        def pump():
            with open(stdout_path, "w", encoding="utf-8", errors="replace") as log:
                for raw in proc.stdout:
                    text = raw.decode("utf-8", "replace").rstrip("\n")
                    log.write(text + "\n")
                    log.flush()
                    lines.put(text)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = t0 + READY_TIMEOUT_S
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.stop()
                raise BrokerError(f"broker printed no ready line within {READY_TIMEOUT_S:.0f} s")
            try:
                text = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if text is None:
                code = proc.wait()
                raise BrokerError(f"broker exited with status {code} before it was ready")
            m = ready_re.match(text)
            if m:
                self.bootstrap = m.group(1)
                note(f"broker ready at {self.bootstrap} after {time.monotonic() - t0:.1f} s")
                return self.bootstrap

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT_S. Returns (exit status, seconds, killed)."""
        if self.proc is None:
            return None, 0.0, False
        proc, self.proc = self.proc, None
        t0 = time.monotonic()
        killed = False
        if proc.poll() is None:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                killed = True
                note(f"broker did not stop within {STOP_TIMEOUT_S:.0f} s of SIGTERM; killing it")
        # whatever is left in its session (e.g. the JVM under scripts/peers/kafka) goes too
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        code = proc.wait()
        return code, time.monotonic() - t0, killed

    def restart(self, same_port=False):
        if same_port and self.bootstrap:
            self.port = int(self.bootstrap.rsplit(":", 1)[1])
        code, secs, killed = self.stop()
        note(f"broker stopped (status {code}, {secs:.1f} s{', killed' if killed else ''}); starting it again")
        if killed:
            raise BrokerError("broker did not stop on SIGTERM")
        return self.start()

    def kill_and_start(self):
        """kill -9 of the broker (and all of its session), then a start on the same data directory."""
        proc, self.proc = self.proc, None
        if proc is not None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        note("broker killed with SIGKILL; starting it again")
        return self.start()

    def stderr_tail(self, lines=80):
        out = []
        for i in range(1, self.starts + 1):
            path = os.path.join(self.workdir, f"broker-{i}.stderr")
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    content = f.readlines()
            except OSError:
                continue
            out.append(f"--- broker stderr (start {i}, last {min(lines, len(content))} of {len(content)} lines) ---\n")
            out.extend(content[-lines:])
        return "".join(out)


# --------------------------------------------------------------------------- suites

def run_command(cmd, env, tally, cwd, timeout_s, broker=None):
    """Runs a suite, its output into `tally`, killed after `timeout_s`. With `broker`, the suite may
    print "RESTART BROKER": the broker restarts on the same port, and the suite reads
    "RESTARTED <host:port>" (or "RESTART FAILED <why>") on its stdin."""
    note(f"running: {' '.join(cmd)}")
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if broker else subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True,
                            preexec_fn=die_with_parent)
    timed_out = threading.Event()

    def on_timeout():
        timed_out.set()
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    timer = threading.Timer(timeout_s, on_timeout)
    timer.start()
    try:
        for raw in proc.stdout:
            text = raw.decode("utf-8", "replace").rstrip("\n")
            tally.line(text)
            if broker and text.strip() == "RESTART BROKER":
                try:
                    answer = f"RESTARTED {broker.restart(same_port=True)}"
                except BrokerError as e:
                    answer = f"RESTART FAILED {e}"
                note(answer)
                proc.stdin.write((answer + "\n").encode())
                proc.stdin.flush()
        code = proc.wait()
    finally:
        timer.cancel()
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # stray children of the suite
        except (ProcessLookupError, PermissionError):
            pass
    if timed_out.is_set():
        tally.line(f"[FAIL] suite finished in time: killed after {timeout_s:.0f} s")
        return 124
    return code


def prepare_java(tally, main_class="JavaSuite"):
    """Compiles the Java suites offline; returns the java command running `main_class`, or None."""
    java_dir = os.path.join(HERE, "java")
    cp_file = os.path.join(java_dir, "target", "classpath.txt")
    build = ["mvn", "-q", "-o", "-B", "-f", os.path.join(java_dir, "pom.xml"), "compile",
             "dependency:build-classpath", f"-Dmdep.outputFile={cp_file}"]
    note("building the java suite: " + " ".join(build))
    res = subprocess.run(build, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if res.returncode != 0:
        print(res.stdout)
        tally.line(f"[FAIL] java suite builds offline: mvn exit {res.returncode} (run tests/kafka_clients/setup.sh)")
        return None
    with open(cp_file, encoding="utf-8") as f:
        cp = f.read().strip()
    return ["java", "-Xmx512m", "-cp", os.path.join(java_dir, "target", "classes") + os.pathsep + cp,
            "dev.millrace.kafkaclients." + main_class]


def prepare_rdkafka(tally, binary):
    if binary:
        return [os.path.abspath(binary)]
    src = os.path.join(HERE, "rdkafka", "rdkafka_suite.cc")
    with open(src, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"),
                         "millrace", "rdkafka-suite")
    out = os.path.join(cache, f"rdkafka_suite-{digest}")
    if not os.path.exists(out):
        os.makedirs(cache, exist_ok=True)
        tmp = f"{out}.tmp{os.getpid()}"
        cmd = ["g++", "-std=c++17", "-O1", "-Wall", "-Wextra", "-o", tmp, src, "-lrdkafka++", "-lrdkafka"]
        note("building the rdkafka suite: " + " ".join(cmd))
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if res.returncode != 0:
            print(res.stdout)
            tally.line(f"[FAIL] rdkafka suite builds: g++ exit {res.returncode} (needs librdkafka-dev)")
            return None
        os.replace(tmp, out)
    return [out]


def prepare(suite, tally, args):
    if suite == "kcat":
        if shutil.which("kcat") is None:
            tally.line("[FAIL] kcat is installed: not found (apt-get install kcat)")
            return None
        return [sys.executable, os.path.join(HERE, "kcat_suite.py")]
    if suite in ("kafkajs", "kafkajs_group_leave"):
        if not os.path.isdir(os.path.join(HERE, "node", "node_modules", "kafkajs")):
            tally.line("[FAIL] kafkajs is installed: tests/kafka_clients/node/node_modules is missing "
                       "(run tests/kafka_clients/setup.sh)")
            return None
        script = "suite.js" if suite == "kafkajs" else "group_leave.js"
        return ["node", os.path.join(HERE, "node", script)]
    if suite == "java":
        return prepare_java(tally)
    if suite == "java_txn":
        return prepare_java(tally, "TxnSuite")
    if suite == "java_kip848":
        return prepare_java(tally, "Kip848Suite")
    if suite == "rdkafka":
        return prepare_rdkafka(tally, args.rdkafka_binary)
    return []  # restart, txn and kip848_rdkafka run in this process


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--suite", required=True, choices=SUITES)
    ap.add_argument("--broker", required=True, choices=("millrace", "kafka"))
    ap.add_argument("--millrace-binary", default=os.path.join(REPO, "build", "millrace"))
    ap.add_argument("--rdkafka-binary", help="a prebuilt rdkafka suite (default: build it with g++)")
    ap.add_argument("--request-log", help="--broker kafka only: write Kafka's request log to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (broker data and logs)")
    args = ap.parse_args()

    tally = Tally()
    started = time.monotonic()
    if args.broker == "millrace" and not os.access(args.millrace_binary, os.X_OK):
        tally.line(f"[FAIL] millrace binary exists: {args.millrace_binary} is not executable")
        return finish(tally, 2)

    cmd = prepare(args.suite, tally, args)
    if cmd is None:
        return finish(tally, 1)

    workdir = tempfile.mkdtemp(prefix=f"millrace-kc-{args.suite}-")
    broker = Broker(args.broker, os.path.abspath(args.millrace_binary), workdir,
                    os.path.abspath(args.request_log) if args.request_log else None)
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for s in previous:
        signal.signal(s, on_signal)
    code = 1
    try:
        code = execute(args, tally, broker, cmd)
    except KeyboardInterrupt as e:
        tally.line(f"[FAIL] run interrupted: {e}")
        code = 130
    finally:
        status, secs, killed = broker.stop()
        if status is not None:
            note(f"broker stopped with status {status} in {secs:.1f} s{' (killed)' if killed else ''}")
        if tally.counts["FAIL"] > 0 or code != 0:
            sys.stdout.write(broker.stderr_tail())
        if args.keep or os.environ.get("KAFKA_CLIENTS_KEEP"):
            note(f"kept the work directory {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        for s, h in previous.items():
            signal.signal(s, h)
    note(f"total {time.monotonic() - started:.1f} s")
    return finish(tally, code)


def execute(args, tally, broker, cmd):
    """Starts the broker and runs the suite; returns the suite's status. The caller stops the broker."""
    try:
        broker.start()
    except BrokerError as e:
        tally.line(f"[FAIL] broker comes up: {e}")
        return 1

    env = dict(os.environ, KAFKA_BOOTSTRAP=broker.bootstrap, PYTHONUNBUFFERED="1")
    t0 = time.monotonic()
    if args.suite in ("restart", "txn", "kip848_rdkafka"):
        sys.path.insert(0, HERE)
        import suitelib
        suite = __import__(f"{args.suite}_suite")
        rep = suitelib.Reporter(out=tally)
        os.environ["KAFKA_BOOTSTRAP"] = broker.bootstrap
        try:
            suite.run(broker, rep)
            code = 1 if rep.failed else 0
        except Exception as e:  # a crash of the suite is a failure, with its traceback
            import traceback
            traceback.print_exc(file=sys.stdout)
            tally.line(f"[FAIL] {args.suite} suite: {e!r}")
            code = 1
        rep.summary(args.suite, time.monotonic() - t0)
    elif args.suite == "java_kip848":
        code = run_command(cmd, env, tally, HERE, SUITE_TIMEOUTS_S.get(args.suite, SUITE_TIMEOUT_S), broker)
    else:
        code = run_command(cmd, env, tally, HERE, SUITE_TIMEOUTS_S.get(args.suite, SUITE_TIMEOUT_S))
    note(f"suite {args.suite} took {time.monotonic() - t0:.1f} s")
    if not broker.alive():
        status = broker.proc.returncode if broker.proc else "not running"
        tally.line(f"[FAIL] broker stayed up during the suite: it exited with status {status}")
        code = code or 1
    return code


def finish(tally, code):
    passed, failed, skipped = tally.counts["PASS"], tally.counts["FAIL"], tally.counts["SKIP"]
    if code != 0 and failed == 0:
        print(f"[FAIL] suite exited with status {code}", flush=True)
        failed = 1
    if code == 0 and passed == 0:
        print("[FAIL] suite ran no checks", flush=True)
        failed, code = 1, 1
    if skipped:
        print(f"({skipped} skipped)", flush=True)
    print(f"{passed} passed, {failed} failed", flush=True)
    if failed and code == 0:
        code = 1
    return code


if __name__ == "__main__":
    sys.exit(main())
