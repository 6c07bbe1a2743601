#!/usr/bin/env python3
"""Kafka authentication and authorization with real clients against `millrace broker`.

  python3 tests/kafka_security/run.py --millrace-binary build/millrace

Starts one broker with security.enabled (TLS and SASL on the Kafka listener,
an admin password, ACLs on) on ephemeral ports and checks, with kcat
(librdkafka) and Apache Kafka 4.1.1's Java tools (jars from
tests/kafka_tools/setup.sh), all over SASL_SSL trusting the CA the broker
generates into <data_dir>/tls/ca.pem (security.enabled has no plaintext
listener, so no SASL_PLAINTEXT):
  - a client over TLS without SASL is refused; kcat and the Java client log in with
    SCRAM-SHA-512, SCRAM-SHA-256 and PLAIN; a wrong password is refused with
    Kafka's message;
  - kafka-configs creates the SCRAM user alice and describes her;
  - kafka-acls grants alice READ on one topic and her group: she consumes it,
    producing to it fails with TOPIC_AUTHORIZATION_FAILED, reading another
    topic fails; kafka-acls --list shows the ACLs;
  - after a restart on the same data directory the credentials and ACLs hold.
Prints [PASS]/[FAIL] lines and `N passed, M failed`; exits 1 on any failure.

With --peer kafka the same checks run against Apache Kafka 4.1.1
(scripts/peers/kafka --sasl-ssl: SASL_SSL listener, SCRAM and PLAIN, the
StandardAuthorizer, admin the super user) with a CA and server certificate made
here by openssl: the outcomes millrace's broker must match (the `compat` label).
One difference is by design and not exercised: Kafka's PLAIN checks the JAAS
users of the broker's configuration, millrace's the users' SCRAM credentials.
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
VERSION = "4.1.1"
TOOL_TIMEOUT_S = 120
ADMIN_PASSWORD = "admin-pw-7f3a"
ALICE_PASSWORD = "alice-pw-91c2"

TOPICS = "org.apache.kafka.tools.TopicCommand"
CONFIGS = "kafka.admin.ConfigCommand"
ACLS = "org.apache.kafka.tools.AclCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"

LOGIN_MODULES = {
    "SCRAM-SHA-512": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "SCRAM-SHA-256": "org.apache.kafka.common.security.scram.ScramLoginModule",
    "PLAIN": "org.apache.kafka.common.security.plain.PlainLoginModule",
}


def load_module(name, path):
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def libs_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "millrace", f"kafka-tools-{VERSION}", "libs")


class broker:
    """One `millrace broker` with security on; start() waits for its ready line."""

    # What the broker logs when a client sends a request before authenticating.
    sasl_refusal = "before SASL authentication"

    def __init__(self, binary, work):
        self.binary = binary
        self.work = work
        # data_dir holds the broker's data and the TLS material (the CA is
        # generated into <data_dir>/tls at the first start, reused after the restart).
        self.data_dir = os.path.join(work, "data")
        self.ca = os.path.join(self.data_dir, "tls", "ca.pem")
        self.proc = None
        self.bootstrap = None
        self.starts = 0

    def start(self):
        self.starts += 1
        log = open(os.path.join(self.work, f"broker-{self.starts}.log"), "w")
        self.proc = subprocess.Popen(
            [self.binary, "broker", "--port", "0", "--admin-port", "0", "--set", f"data_dir={self.data_dir}",
             "--set", "security.enabled=true", "--set", f"security.admin_password={ADMIN_PASSWORD}"],
            stdout=subprocess.PIPE, stderr=log, text=True)
        for line in self.proc.stdout:
            m = re.match(r"ready broker (\S+) admin", line)
            if m:
                self.bootstrap = m.group(1)
                return True
        return False

    def stop(self):
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def log_text(self):
        with open(os.path.join(self.work, f"broker-{self.starts}.log"), encoding="utf-8", errors="replace") as f:
            return f.read()

    def log_tail(self):
        with open(os.path.join(self.work, f"broker-{self.starts}.log"), encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-40:])


class peer_broker:
    """Apache Kafka 4.1.1 with SASL_SSL (scripts/peers/kafka --sasl-ssl), with the broker's interface above."""

    # What Kafka logs (server.log, INFO) when a client sends a request before authenticating.
    sasl_refusal = "during SASL handshake"

    def __init__(self, work):
        self.work = work
        self.data_dir = os.path.join(work, "peer")
        self.tls_dir = os.path.join(work, "tls")
        self.ca = os.path.join(self.tls_dir, "ca.pem")
        self.proc = None
        self.bootstrap = None
        self.starts = 0
        make_tls(self.tls_dir)

    def start(self):
        self.starts += 1
        err = open(os.path.join(self.work, f"peer-{self.starts}.err"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(REPO, "scripts", "peers", "kafka"), "--data-dir", self.data_dir, "--sasl-ssl", self.tls_dir,
             "--admin-password", ADMIN_PASSWORD], stdout=subprocess.PIPE, stderr=err, text=True)
        for line in self.proc.stdout:
            m = re.match(r"ready kafka (\S+)", line)
            if m:
                self.bootstrap = m.group(1)
                return True
        return False

    def stop(self):
        broker.stop(self)

    def log_text(self):
        try:
            with open(os.path.join(self.data_dir, "server.log"), encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def log_tail(self):
        with open(os.path.join(self.work, f"peer-{self.starts}.err"), encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-40:])


def make_tls(folder):
    """A CA and a server certificate for 127.0.0.1 and localhost (ECDSA P-256, PKCS#8 key), by openssl."""
    os.makedirs(folder, exist_ok=True)
    ext = os.path.join(folder, "san.cnf")
    with open(ext, "w", encoding="ascii") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    steps = [
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
         "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=kafka-security compat CA"],
        ["openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", "server.key",
         "-out", "server.csr", "-subj", "/CN=localhost"],
        ["openssl", "x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "server.pem", "-days", "2", "-extfile", ext],
    ]
    for step in steps:
        subprocess.run(step, cwd=folder, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class suite:
    def __init__(self, b, work):
        self.b = b
        self.work = work
        self.passed = 0
        self.failed = 0
        self.classpath = os.path.join(libs_dir(), "*")

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"[PASS] {name}", flush=True)
        else:
            self.failed += 1
            print(f"[FAIL] {name}: {detail[-3000:]}", flush=True)
        return ok

    def client_config(self, user, password, mechanism="SCRAM-SHA-512"):
        """A Java client properties file logging in as `user`."""
        path = os.path.join(self.work, f"{user}-{mechanism}-{abs(hash(password)) % 10000}.properties")
        with open(path, "w", encoding="utf-8") as f:
            f.write("security.protocol=SASL_SSL\n"
                    "ssl.truststore.type=PEM\n"
                    f"ssl.truststore.location={self.b.ca}\n"
                    f"sasl.mechanism={mechanism}\n"
                    f'sasl.jaas.config={LOGIN_MODULES[mechanism]} required username="{user}" password="{password}";\n')
        return path

    def tool(self, main_class, *args, stdin=None):
        cmd = ["java", "-Xmx256m", "-cp", self.classpath, main_class, *args]
        try:
            res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            return 124, f"timed out after {TOOL_TIMEOUT_S} s: {err.output}"
        return res.returncode, res.stdout

    # The kcat command: kcat itself, or pykcat.py (librdkafka 2.6.1) against the Kafka 4 peer.
    kcat_command = ["kcat"]
    kcat_env = None

    def kcat(self, *args, user=None, password=None, mechanism="SCRAM-SHA-512", stdin=None):
        cmd = self.kcat_command + ["-b", self.b.bootstrap, "-m", "30", "-X", f"ssl.ca.location={self.b.ca}"]
        if user is None:
            cmd += ["-X", "security.protocol=SSL"]
        else:
            cmd += ["-X", "security.protocol=SASL_SSL", "-X", f"sasl.mechanisms={mechanism}",
                    "-X", f"sasl.username={user}", "-X", f"sasl.password={password}"]
        cmd += list(args)
        try:
            res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 timeout=TOOL_TIMEOUT_S, env=self.kcat_env)
        except subprocess.TimeoutExpired as err:
            return 124, "", f"timed out: {err.stderr}"
        return res.returncode, res.stdout, res.stderr


def run_all(s, restart):
    b = s.b
    admin = s.client_config("admin", ADMIN_PASSWORD)
    alice = s.client_config("alice", ALICE_PASSWORD)

    # TLS without SASL: the broker closes the connection at the first request
    # other than ApiVersions, so metadata never arrives.
    before = b.log_text().count(b.sasl_refusal)
    code, out, err = s.kcat("-L", "-m", "5")
    s.check("kcat over TLS without SASL is refused",
            code != 0 and "secure-a" not in out and b.log_text().count(b.sasl_refusal) > before,
            out + err + b.log_tail())

    # kcat (librdkafka) with each mechanism, as the admin (a super user).
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"):
        code, out, err = s.kcat("-P", "-t", "secure-a", user="admin", password=ADMIN_PASSWORD, mechanism=mechanism,
                                stdin=f"hello-{mechanism}\n")
        s.check(f"kcat produces with {mechanism}", code == 0, out + err)
    code, out, err = s.kcat("-C", "-t", "secure-a", "-o", "beginning", "-e", "-q", user="admin", password=ADMIN_PASSWORD)
    s.check("kcat consumes with SCRAM-SHA-512",
            code == 0 and out.split() == ["hello-SCRAM-SHA-512", "hello-SCRAM-SHA-256", "hello-PLAIN"], out + err)
    code, out, err = s.kcat("-L", "-m", "10", user="admin", password="wrong-password")
    s.check("kcat with a wrong password is refused",
            code != 0 and "Authentication failed during authentication due to invalid credentials with SASL mechanism "
            "SCRAM-SHA-512" in err, out + err)
    code, out, err = s.kcat("-L", "-m", "10", user="admin", password="wrong-password", mechanism="PLAIN")
    s.check("kcat PLAIN with a wrong password is refused",
            code != 0 and "Invalid username or password" in err, out + err)

    # The Java client (Kafka 4.1.1's tools) with each mechanism.
    for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"):
        cfg = s.client_config("admin", ADMIN_PASSWORD, mechanism)
        code, out = s.tool(TOPICS, "--bootstrap-server", b.bootstrap, "--command-config", cfg, "--list")
        s.check(f"kafka-topics --list with {mechanism}", code == 0 and "secure-a" in out.split(), out)
    code, out = s.tool(TOPICS, "--bootstrap-server", b.bootstrap, "--command-config",
                       s.client_config("admin", "nope"), "--list")
    s.check("the Java client with a wrong password is refused",
            code != 0 and "Authentication failed during authentication due to invalid credentials with SASL mechanism "
            "SCRAM-SHA-512" in out, out)
    for topic in ("granted", "other"):
        code, out = s.tool(TOPICS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--create",
                           "--topic", topic, "--partitions", "1")
        s.check(f"kafka-topics --create {topic} as admin", code == 0 and f"Created topic {topic}" in out, out)
        code, out = s.tool(PRODUCER, "--bootstrap-server", b.bootstrap, "--producer.config", admin, "--topic", topic,
                           stdin=f"{topic}-1\n{topic}-2\n")
        s.check(f"the Java producer writes {topic} as admin", code == 0, out)

    # A SCRAM user made with kafka-configs (AlterUserScramCredentials).
    code, out = s.tool(CONFIGS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--alter",
                       "--add-config", f"SCRAM-SHA-512=[iterations=8192,password={ALICE_PASSWORD}]",
                       "--entity-type", "users", "--entity-name", "alice")
    s.check("kafka-configs --alter creates the SCRAM user alice",
            code == 0 and "Completed updating config for user alice" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--describe",
                       "--entity-type", "users", "--entity-name", "alice")
    s.check("kafka-configs --describe shows alice's SCRAM-SHA-512 credential",
            code == 0 and "SCRAM-SHA-512=iterations=8192" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--alter",
                       "--add-config", "SCRAM-SHA-256=[iterations=100,password=x]", "--entity-type", "users",
                       "--entity-name", "bob")
    s.check("kafka-configs refuses too few iterations", code != 0 and "iterations" in out.lower(), out)

    # alice is authenticated but has no ACL yet: nothing is allowed.
    code, out, err = s.kcat("-C", "-t", "granted", "-o", "beginning", "-e", "-q", user="alice", password=ALICE_PASSWORD)
    s.check("alice without ACLs cannot read", code != 0 or out.strip() == "", out + err)

    # ACLs with kafka-acls (CreateAcls / DescribeAcls).
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--add",
                       "--allow-principal", "User:alice", "--operation", "Read", "--topic", "granted",
                       "--group", "alice-group")
    s.check("kafka-acls --add grants alice READ on granted and alice-group", code == 0, out)
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--add",
                       "--allow-principal", "User:alice", "--operation", "Read", "--group", "alice-",
                       "--resource-pattern-type", "prefixed")
    s.check("kafka-acls --add grants alice READ on the groups prefixed alice-", code == 0, out)
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--list")
    s.check("kafka-acls --list shows the ACLs",
            code == 0 and "name=granted" in out and "name=alice-group" in out and "principal=User:alice" in out
            and "operation=READ" in out and "permissionType=ALLOW" in out, out)
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", alice, "--list")
    s.check("alice may not list ACLs (DESCRIBE on the cluster)",
            code != 0 and "ClusterAuthorizationException" in out, out)

    def alice_checks(stage, group):
        code, out = s.tool(CONSUMER, "--bootstrap-server", b.bootstrap, "--consumer.config", alice, "--topic",
                           "granted", "--group", group, "--from-beginning", "--max-messages", "2",
                           "--timeout-ms", "60000")
        s.check(f"{stage}: alice consumes granted with the Java consumer in {group}",
                code == 0 and {"granted-1", "granted-2"} <= set(out.split()), out)
        code, out, err = s.kcat("-C", "-t", "granted", "-o", "beginning", "-e", "-q", user="alice",
                                password=ALICE_PASSWORD)
        s.check(f"{stage}: alice consumes granted with kcat", code == 0 and out.split() == ["granted-1", "granted-2"],
                out + err)
        code, out, err = s.kcat("-P", "-t", "granted", user="alice", password=ALICE_PASSWORD, stdin="intruder\n")
        s.check(f"{stage}: kcat as alice cannot write granted (TOPIC_AUTHORIZATION_FAILED)",
                code != 0 and "Topic authorization failed" in err, out + err)
        code, out = s.tool(PRODUCER, "--bootstrap-server", b.bootstrap, "--producer.config", alice, "--topic", "granted",
                           "--producer-property", "max.block.ms=20000", "--producer-property", "retries=0",
                           # Without WRITE on any topic an idempotent producer is refused earlier, at
                           # InitProducerId (CLUSTER_AUTHORIZATION_FAILED), as Kafka does.
                           "--producer-property", "enable.idempotence=false",
                           stdin="intruder\n")
        # The tools log the send error through SLF4J (silent without a binding):
        # judge by what reached the topic.
        _, seen, err = s.kcat("-C", "-t", "granted", "-o", "beginning", "-e", "-q", user="admin",
                              password=ADMIN_PASSWORD)
        s.check(f"{stage}: the Java producer as alice cannot write granted",
                "intruder" not in seen.split() and "granted-1" in seen.split(), out + seen + err)
        code, out, err = s.kcat("-C", "-t", "other", "-o", "beginning", "-e", "-q", user="alice",
                                password=ALICE_PASSWORD)
        s.check(f"{stage}: kcat as alice cannot read other",
                "other-1" not in out and "Topic authorization failed" in err, out + err)
        code, out = s.tool(CONSUMER, "--bootstrap-server", b.bootstrap, "--consumer.config", alice, "--topic", "other",
                           "--group", "alice-group", "--from-beginning", "--max-messages", "1", "--timeout-ms", "30000")
        s.check(f"{stage}: the Java consumer as alice cannot read other",
                "other-1" not in out and "Processed a total of 0 messages" in out, out)
        code, out, err = s.kcat("-L", user="alice", password=ALICE_PASSWORD)
        listed = re.findall(r'topic "([^"]+)"', out)
        s.check(f"{stage}: metadata lists only the topics alice may describe", code == 0 and listed == ["granted"],
                out + err)
        code, out, err = s.kcat("-C", "-t", "granted", "-o", "beginning", "-e", "-q", user="alice",
                                password="not-alices")
        s.check(f"{stage}: alice with a wrong password is refused", code != 0 and "granted-1" not in out, out + err)
        # The check can fail: without the ACL the same read is refused.
        code, out = s.tool(CONSUMER, "--bootstrap-server", b.bootstrap, "--consumer.config", alice, "--topic",
                           "granted", "--group", "not-alices-group", "--from-beginning", "--max-messages", "1",
                           "--timeout-ms", "30000")
        s.check(f"{stage}: alice cannot use a group she has no ACL for",
                "granted-1" not in out and "Processed a total of 0 messages" in out, out)

    alice_checks("before restart", "alice-group")

    restart()
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--list")
    s.check("after restart: kafka-acls --list still shows alice's ACLs",
            code == 0 and "name=granted" in out and "principal=User:alice" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--describe",
                       "--entity-type", "users", "--entity-name", "alice")
    s.check("after restart: alice's credential is still there", code == 0 and "SCRAM-SHA-512=iterations=8192" in out,
            out)
    alice_checks("after restart", "alice-after-restart")  # the prefixed ACL

    # Removing the ACL takes effect at once (DeleteAcls).
    code, out = s.tool(ACLS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--remove", "--force",
                       "--allow-principal", "User:alice", "--operation", "Read", "--topic", "granted")
    s.check("kafka-acls --remove drops alice's READ on granted", code == 0, out)
    code, out, err = s.kcat("-C", "-t", "granted", "-o", "beginning", "-e", "-q", user="alice", password=ALICE_PASSWORD)
    s.check("after --remove alice cannot read granted", "granted-1" not in out, out + err)
    # Deleting the credential: alice can no longer log in.
    code, out = s.tool(CONFIGS, "--bootstrap-server", b.bootstrap, "--command-config", admin, "--alter",
                       "--delete-config", "SCRAM-SHA-512", "--entity-type", "users", "--entity-name", "alice")
    s.check("kafka-configs --delete-config removes alice's credential", code == 0, out)
    code, out, err = s.kcat("-L", user="alice", password=ALICE_PASSWORD)
    s.check("a deleted user cannot log in", code != 0 and "Authentication failed" in err, out + err)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--millrace-binary", default=os.path.join(REPO, "build", "millrace"))
    ap.add_argument("--peer", choices=["kafka"], help="run the checks against Apache Kafka 4.1.1 instead")
    args = ap.parse_args()
    if not os.path.isdir(libs_dir()):
        print(f"[FAIL] Kafka tools are installed: {libs_dir()} is missing (run tests/kafka_tools/setup.sh)")
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="millrace-kafka-security-") as work:
        b = peer_broker(work) if args.peer else broker(args.millrace_binary, work)
        s = suite(b, work)
        if args.peer:
            subprocess.run([os.path.join(REPO, "tests", "registry", "setup.sh")], check=True, stdout=subprocess.DEVNULL)
            registry_run = load_module("registry_run", os.path.join(REPO, "tests", "registry", "run.py"))
            pylibs = registry_run.keyed(os.path.join(REPO, "tests", "registry", "requirements.txt"), "pylibs")
            s.kcat_command = [sys.executable, os.path.join(HERE, "pykcat.py")]
            s.kcat_env = dict(os.environ, PYTHONPATH=pylibs)
        try:
            if not b.start():
                print("[FAIL] broker starts: no ready line\n" + b.log_tail())
                print("0 passed, 1 failed")
                return 1

            def restart():
                b.stop()
                if not s.check("the broker restarts on the same data directory", b.start(), b.log_tail()):
                    raise SystemExit(1)

            run_all(s, restart)
        finally:
            b.stop()
        print(f"{s.passed} passed, {s.failed} failed")
        if s.failed:
            print("broker log (last 40 lines):\n" + b.log_tail())
        return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
