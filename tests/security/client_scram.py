#!/usr/bin/env python3
"""millrace's own Kafka client logs in to millrace's broker with SCRAM (issue 19).

  client_scram.py --binary build/millrace

One `millrace broker` with security.enabled (SASL_SSL, the admin password, the
generated CA) on ephemeral ports, and a DAG with one kafka_produce task. Then:

- `millrace tasks test` runs the task with kafka.client_properties naming
  SCRAM-SHA-512, then SCRAM-SHA-256: each exits 0 (every message acknowledged),
  and kcat reads all six messages back;
- the same with a wrong password exits non-zero, and the broker logs the
  refusal;
- the broker noted none of millrace's logins as using librdkafka < 2.6.1's
  SCRAM form (the nonce repeated in the client-final message, which Apache
  Kafka 4 refuses), while it does note kcat's (Debian's librdkafka 2.0.2)
  login: the note is what tells the two apart, so this check can fail;
- `millrace version` names librdkafka 2.6.1 or newer.

Prints [PASS]/[FAIL] lines and `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
TOOL_TIMEOUT_S = 180
TOPIC = "scram_logins"
# What the broker logs for librdkafka < 2.6.1's SCRAM form (src/kafka/handlers/sasl_authenticate.cc).
REPEATED_NONCE = "repeats its nonce"


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"[PASS] {name}", flush=True)
        else:
            self.failed += 1
            print(f"[FAIL] {name}" + (f": {detail}" if detail else ""), flush=True)
        return ok


def run(cmd):
    try:
        res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired as err:
        return 124, "", f"timed out after {TOOL_TIMEOUT_S} s: {err.stderr}"
    return res.returncode, res.stdout, res.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", required=True)
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args()
    binary = os.path.abspath(args.binary)
    security_run = load_module("kafka_security_run", os.path.join(REPO, "tests", "kafka_security", "run.py"))
    password = security_run.ADMIN_PASSWORD
    t = tally()

    rc, out, err = run([binary, "version"])
    m = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", out)
    t.check("millrace version names librdkafka >= 2.6.1",
            rc == 0 and m is not None and tuple(int(x) for x in m.groups()) >= (2, 6, 1), (out + err).strip())

    work = tempfile.mkdtemp(prefix="millrace-client-scram-")
    b = security_run.broker(binary, work)
    try:
        if not t.check("secure broker starts", b.start(), "no ready line"):
            print(b.log_tail())
            return 1
        dags = os.path.join(work, "dags")
        os.makedirs(dags)
        with open(os.path.join(dags, "scram.yaml"), "w") as f:
            f.write("dag_id: scram\ntasks:\n"
                    f"  produce: {{kind: kafka_produce, topic: {TOPIC}, messages: ['one-{{{{ ds }}}}', 'two', 'three'], key: k}}\n")

        def produce(mechanism, secret):
            props = ",".join(["security.protocol=SASL_SSL", f"ssl.ca.location={b.ca}", f"sasl.mechanisms={mechanism}",
                              "sasl.username=admin", f"sasl.password={secret}"])
            return run([binary, "tasks", "test", "scram", "produce", "2026-07-08",
                        "--set", f"scheduler.dags_dir={dags}", "--set", f"kafka.bootstrap={b.bootstrap}",
                        "--set", f"kafka.client_properties={props}"])

        for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
            rc, out, err = produce(mechanism, password)
            t.check(f"millrace's producer logs in with {mechanism} and every message is acknowledged", rc == 0,
                    f"exit {rc}: {(out + err)[-1500:]}")
        ours = b.log_text()
        t.check("the broker noted none of millrace's logins as librdkafka < 2.6.1's SCRAM form",
                REPEATED_NONCE not in ours,
                "\n".join(line for line in ours.splitlines() if REPEATED_NONCE in line))

        refusals_before = b.log_text().count("invalid credentials with SASL mechanism SCRAM-SHA-512")
        rc, out, err = produce("SCRAM-SHA-512", password + "-wrong")
        refusals_after = b.log_text().count("invalid credentials with SASL mechanism SCRAM-SHA-512")
        t.check("a wrong password fails the task, naming the authentication failure",
                rc != 0 and re.search(r"authenticat", out + err, re.IGNORECASE) is not None,
                f"exit {rc}: {(out + err)[-800:]}")
        t.check("the broker logged the refused login", refusals_after > refusals_before, b.log_tail())

        # Read back with kcat (Debian's librdkafka 2.0.2, SCRAM-SHA-512): the positive
        # control of the note above, and the six messages the two runs produced.
        kcat = ["kcat", "-b", b.bootstrap, "-m", "60", "-X", "security.protocol=SASL_SSL", "-X", f"ssl.ca.location={b.ca}",
                "-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=admin", "-X", f"sasl.password={password}"]
        rc, out, err = run(kcat + ["-C", "-t", TOPIC, "-o", "beginning", "-e", "-q", "-f", "%k=%s\n"])
        got = sorted(line for line in out.splitlines() if line)
        want = sorted(["k=one-2026-07-08", "k=two", "k=three"] * 2)
        t.check("kcat reads back the six messages", rc == 0 and got == want, f"exit {rc}: {got} {err[-500:]}")
        kcat_version = subprocess.run(["kcat", "-V"], capture_output=True, text=True)
        old_kcat = re.search(r"librdkafka (\d+)\.(\d+)\.(\d+)", kcat_version.stdout + kcat_version.stderr)
        if old_kcat and tuple(int(x) for x in old_kcat.groups()) < (2, 6, 1):
            t.check("the broker notes kcat's librdkafka < 2.6.1 SCRAM login", REPEATED_NONCE in b.log_text(),
                    b.log_tail())
    finally:
        b.stop()
        if args.keep or t.failed:
            print(f"work directory kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{t.passed} passed, {t.failed} failed")
    return 1 if t.failed else 0


if __name__ == "__main__":
    sys.exit(main())
