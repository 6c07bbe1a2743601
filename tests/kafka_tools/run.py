#!/usr/bin/env python3
"""Apache Kafka 4.1.1's own command-line tools against `millrace broker`.

  python3 tests/kafka_tools/run.py --millrace-binary build/millrace

Starts one broker on ephemeral ports (waiting for its `ready broker` line),
then runs each tool's main class from the jars tests/kafka_tools/setup.sh
downloads (one JVM per command, as the shell scripts do) and checks the values
it prints: topics created and described, configs read back after
kafka-configs --alter, offsets from kafka-get-offsets before and after
kafka-delete-records, the kafka-log-dirs JSON, consumer-group lag before and
after --reset-offsets, the console and perf-test clients (one transactional),
and kafka-transactions list and describe. Prints
[PASS]/[FAIL] lines and `N passed, M failed`; exits 1 on any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
VERSION = "4.1.1"
TOOL_TIMEOUT_S = 120


def libs_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "millrace", f"kafka-tools-{VERSION}", "libs")


class suite:
    def __init__(self, bootstrap, work):
        self.bootstrap = bootstrap
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
            print(f"[FAIL] {name}: {detail}", flush=True)
        return ok

    def tool(self, main_class, *args, stdin=None):
        """Runs one tool; returns (exit code, stdout + stderr)."""
        cmd = ["java", "-Xmx256m", "-cp", self.classpath, main_class, *args]
        try:
            res = subprocess.run(cmd, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 timeout=TOOL_TIMEOUT_S)
        except subprocess.TimeoutExpired as err:
            return 124, f"timed out after {TOOL_TIMEOUT_S} s: {err.output}"
        return res.returncode, res.stdout


TOPICS = "org.apache.kafka.tools.TopicCommand"
CONFIGS = "kafka.admin.ConfigCommand"
GET_OFFSETS = "org.apache.kafka.tools.GetOffsetShell"
DELETE_RECORDS = "org.apache.kafka.tools.DeleteRecordsCommand"
LOG_DIRS = "org.apache.kafka.tools.LogDirsCommand"
PRODUCER = "org.apache.kafka.tools.ConsoleProducer"
CONSUMER = "org.apache.kafka.tools.consumer.ConsoleConsumer"
GROUPS = "org.apache.kafka.tools.consumer.group.ConsumerGroupCommand"
PRODUCER_PERF = "org.apache.kafka.tools.ProducerPerformance"
CONSUMER_PERF = "org.apache.kafka.tools.ConsumerPerformance"
TRANSACTIONS = "org.apache.kafka.tools.TransactionsCommand"


def offsets(s, topic, time=None):
    args = ["--bootstrap-server", s.bootstrap, "--topic", topic]
    if time is not None:
        args += ["--time", str(time)]
    code, out = s.tool(GET_OFFSETS, *args)
    found = {}
    for line in out.splitlines():
        m = re.fullmatch(rf"{re.escape(topic)}:(\d+):(-?\d+)", line.strip())
        if m:
            found[int(m.group(1))] = int(m.group(2))
    return code, found, out


def group_lag(s, group):
    """{(topic, partition): (current offset, lag)} from --describe."""
    code, out = s.tool(GROUPS, "--bootstrap-server", s.bootstrap, "--describe", "--group", group)
    rows = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) >= 6 and parts[0] == group and parts[2].isdigit():
            current = int(parts[3]) if parts[3].lstrip("-").isdigit() else None
            lag = int(parts[5]) if parts[5].lstrip("-").isdigit() else None
            rows[(parts[1], int(parts[2]))] = (current, lag)
    return code, rows, out


def run_all(s):
    b = s.bootstrap
    # kafka-topics
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--create", "--topic", "tools-multi", "--partitions", "3",
                       "--replication-factor", "1")
    s.check("kafka-topics --create", code == 0 and "Created topic tools-multi" in out, out)
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--create", "--topic", "tools-one", "--partitions", "1")
    s.check("kafka-topics --create (second topic)", code == 0, out)
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--describe", "--topic", "tools-multi")
    s.check("kafka-topics --describe shows 3 partitions and a topic id",
            code == 0 and "PartitionCount: 3" in out and re.search(r"TopicId: \S{22}", out) is not None, out)
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--list")
    s.check("kafka-topics --list", code == 0 and {"tools-multi", "tools-one"} <= set(out.split()), out)
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--alter", "--topic", "tools-multi", "--partitions", "4")
    code2, out2 = s.tool(TOPICS, "--bootstrap-server", b, "--describe", "--topic", "tools-multi")
    s.check("kafka-topics --alter --partitions 4", code == 0 and "PartitionCount: 4" in out2, out + out2)

    # kafka-configs
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-one",
                       "--alter", "--add-config", "retention.ms=123456,max.message.bytes=500000")
    s.check("kafka-configs --alter --add-config", code == 0 and "Completed updating config" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-one",
                       "--describe")
    s.check("kafka-configs --describe reads the values back",
            code == 0 and "retention.ms=123456" in out and "max.message.bytes=500000" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-one",
                       "--alter", "--delete-config", "max.message.bytes")
    code2, out2 = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-one",
                         "--describe")
    s.check("kafka-configs --delete-config", code == 0 and "max.message.bytes=500000" not in out2
            and "retention.ms=123456" in out2, out + out2)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-one",
                       "--alter", "--add-config", "retention.ms=soon")
    s.check("kafka-configs rejects an invalid value", code != 0 and "retention.ms" in out, out)

    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "brokers", "--entity-name", "1", "--alter",
                       "--add-config", "log.retention.ms=3600000")
    s.check("kafka-configs --alter a dynamic broker config", code == 0 and "Completed updating config" in out, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "brokers", "--entity-name", "1",
                       "--describe")
    s.check("kafka-configs --describe the broker's dynamic configs", code == 0 and "log.retention.ms=3600000" in out,
            out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "topics", "--entity-name", "tools-multi",
                       "--describe", "--all")
    s.check("a topic without an override follows the new broker default at once",
            code == 0 and re.search(r"\bretention\.ms=3600000\b", out) is not None, out)
    code, out = s.tool(CONFIGS, "--bootstrap-server", b, "--entity-type", "brokers", "--entity-name", "1", "--alter",
                       "--add-config", "num.partitions=3")
    s.check("kafka-configs refuses a broker config that is not dynamic", code != 0 and "num.partitions" in out, out)

    # kafka-console-producer, kafka-get-offsets, kafka-delete-records
    lines = "".join(f"value-{idx}\n" for idx in range(10))
    code, out = s.tool(PRODUCER, "--bootstrap-server", b, "--topic", "tools-one", stdin=lines)
    s.check("kafka-console-producer sends 10 records", code == 0, out)
    code, latest, out = offsets(s, "tools-one")
    s.check("kafka-get-offsets latest is 10", code == 0 and latest == {0: 10}, out)
    code, earliest, out = offsets(s, "tools-one", -2)
    s.check("kafka-get-offsets earliest is 0", code == 0 and earliest == {0: 0}, out)
    spec = os.path.join(s.work, "delete.json")
    with open(spec, "w", encoding="utf-8") as f:
        json.dump({"version": 1, "partitions": [{"topic": "tools-one", "partition": 0, "offset": 4}]}, f)
    code, out = s.tool(DELETE_RECORDS, "--bootstrap-server", b, "--offset-json-file", spec)
    s.check("kafka-delete-records succeeds", code == 0 and "low_watermark: 4" in out and "error" not in out.lower(),
            out)
    code, earliest, out = offsets(s, "tools-one", -2)
    s.check("kafka-get-offsets earliest moved to 4", code == 0 and earliest == {0: 4}, out)

    # kafka-log-dirs
    code, out = s.tool(LOG_DIRS, "--bootstrap-server", b, "--describe", "--topic-list", "tools-one")
    described = None
    for line in out.splitlines():
        if line.startswith("{"):
            described = json.loads(line)
    ok = False
    if code == 0 and described:
        dirs = described["brokers"][0]["logDirs"]
        parts = {p["partition"]: p for d in dirs for p in d["partitions"]}
        ok = "tools-one-0" in parts and parts["tools-one-0"]["size"] > 0 and parts["tools-one-0"]["offsetLag"] == 0
    s.check("kafka-log-dirs --describe JSON lists tools-one-0 with its size", ok, out)

    # kafka-console-consumer, kafka-consumer-groups
    code, out = s.tool(CONSUMER, "--bootstrap-server", b, "--topic", "tools-one", "--group", "tools-group",
                       "--from-beginning", "--max-messages", "6", "--timeout-ms", "30000")
    got = [line for line in out.splitlines() if line.startswith("value-")]
    s.check("kafka-console-consumer reads from the new log start",
            code == 0 and got == [f"value-{idx}" for idx in range(4, 10)], out)
    code, rows, out = group_lag(s, "tools-group")
    s.check("kafka-consumer-groups --describe: offset 10, lag 0", code == 0 and rows.get(("tools-one", 0)) == (10, 0),
            out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--reset-offsets", "--group", "tools-group", "--topic",
                       "tools-one", "--to-earliest", "--execute")
    s.check("kafka-consumer-groups --reset-offsets --to-earliest --execute", code == 0, out)
    code, rows, out = group_lag(s, "tools-group")
    s.check("kafka-consumer-groups --describe after reset: offset 4, lag 6",
            code == 0 and rows.get(("tools-one", 0)) == (4, 6), out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--list")
    s.check("kafka-consumer-groups --list", code == 0 and "tools-group" in out.split(), out)
    # A KIP-848 group (group.protocol=consumer) beside the classic one: --list --type tells them apart.
    code, out = s.tool(CONSUMER, "--bootstrap-server", b, "--topic", "tools-one", "--group", "tools-kip848",
                       "--consumer-property", "group.protocol=consumer", "--from-beginning", "--max-messages", "6",
                       "--timeout-ms", "60000")
    got = [line for line in out.splitlines() if line.startswith("value-")]
    s.check("kafka-console-consumer with group.protocol=consumer reads the records",
            code == 0 and got == [f"value-{idx}" for idx in range(4, 10)], out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--list", "--type")
    types = {cols[0]: cols[1].lower() for cols in (line.split() for line in out.splitlines()) if len(cols) >= 2}
    s.check("kafka-consumer-groups --list --type: tools-kip848 is a consumer group, tools-group a classic one",
            code == 0 and types.get("tools-kip848") == "consumer" and types.get("tools-group") == "classic", out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--describe", "--group", "tools-kip848", "--state")
    s.check("kafka-consumer-groups --describe --state of the consumer group", code == 0 and "tools-kip848" in out
            and "Empty" in out, out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--delete-offsets", "--group", "tools-group", "--topic",
                       "tools-one")
    code2, rows, out2 = group_lag(s, "tools-group")
    s.check("kafka-consumer-groups --delete-offsets", code == 0 and "Successful" in out and
            rows.get(("tools-one", 0), (None, None))[0] is None, out + out2)

    live_group_delete_offsets(s)

    # perf tests (JVM clients)
    code, out = s.tool(PRODUCER_PERF, "--topic", "tools-perf", "--num-records", "20000", "--record-size", "100",
                       "--throughput", "-1", "--producer-props", f"bootstrap.servers={b}", "acks=all")
    s.check("kafka-producer-perf-test sends 20000 records", code == 0 and "20000 records sent" in out, out)
    code, out = s.tool(CONSUMER_PERF, "--bootstrap-server", b, "--topic", "tools-perf", "--messages", "20000",
                       "--timeout", "60000")
    data = [line for line in out.splitlines() if re.match(r"\d{4}-\d\d-\d\d", line)]
    consumed = int(data[-1].split(",")[4].strip()) if data else -1
    s.check("kafka-consumer-perf-test reads 20000 records", code == 0 and consumed == 20000, out)

    # transactions: a transactional perf test, then kafka-transactions list and describe
    code, out = s.tool(PRODUCER_PERF, "--topic", "tools-txn", "--num-records", "5000", "--record-size", "100",
                       "--throughput", "-1", "--transactional-id", "tools-txn-id", "--transaction-duration-ms", "200",
                       "--producer-props", f"bootstrap.servers={b}")
    s.check("kafka-producer-perf-test --transactional-id sends 5000 records", code == 0 and "5000 records sent" in out,
            out)
    code, out = s.tool(TRANSACTIONS, "--bootstrap-server", b, "list")
    s.check("kafka-transactions list shows the transactional id", code == 0 and "tools-txn-id" in out, out)
    code, out = s.tool(TRANSACTIONS, "--bootstrap-server", b, "describe", "--transactional-id", "tools-txn-id")
    s.check("kafka-transactions describe shows its committed state", code == 0 and "CompleteCommit" in out, out)
    code, out = s.tool(TRANSACTIONS, "--bootstrap-server", b, "describe", "--transactional-id", "tools-no-such-id")
    s.check("kafka-transactions describe of an unknown id fails", code != 0, out)


def live_group_delete_offsets(s):
    """--delete-offsets on a group with a live member: Kafka keeps the offsets of
    the topics the members subscribe to (GROUP_SUBSCRIBED_TO_TOPIC) and deletes
    the others."""
    b = s.bootstrap
    group = "tools-live"
    code, out = s.tool(TOPICS, "--bootstrap-server", b, "--create", "--topic", "tools-idle", "--partitions", "1")
    s.check("kafka-topics --create tools-idle", code == 0, out)
    code, out = s.tool(GROUPS, "--bootstrap-server", b, "--reset-offsets", "--group", group, "--topic", "tools-one",
                       "--topic", "tools-idle", "--to-earliest", "--execute")
    code2, rows, out2 = group_lag(s, group)
    s.check("kafka-consumer-groups --reset-offsets commits both topics of an inactive group",
            code == 0 and rows.get(("tools-one", 0), (None,))[0] is not None and
            rows.get(("tools-idle", 0), (None,))[0] == 0,
            out + out2)
    member = subprocess.Popen(["java", "-Xmx256m", "-cp", s.classpath, CONSUMER, "--bootstrap-server", b, "--topic",
                               "tools-one", "--group", group, "--timeout-ms", "120000"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + TOOL_TIMEOUT_S
        state = ""
        while time.monotonic() < deadline and member.poll() is None:
            code, state = s.tool(GROUPS, "--bootstrap-server", b, "--describe", "--group", group, "--state")
            if re.search(r"\bStable\b", state):
                break
        if not s.check("a console consumer of tools-one keeps group tools-live Stable",
                       member.poll() is None and re.search(r"\bStable\b", state) is not None, state):
            return
        code, out = s.tool(GROUPS, "--bootstrap-server", b, "--delete-offsets", "--group", group, "--topic",
                           "tools-one", "--topic", "tools-idle")
        statuses = {}
        for line in out.splitlines():
            parts = line.split(None, 2)
            if len(parts) == 3 and parts[0] in ("tools-one", "tools-idle") and parts[1] == "0":
                statuses[parts[0]] = parts[2].strip()
        s.check("kafka-consumer-groups --delete-offsets on a live group: the subscribed topic is refused, "
                "the other deleted",
                "subscribed" in statuses.get("tools-one", "") and statuses.get("tools-idle") == "Successful", out)
        code, rows, out = group_lag(s, group)
        s.check("kafka-consumer-groups --describe after --delete-offsets: tools-one kept, tools-idle gone",
                code == 0 and ("tools-one", 0) in rows and ("tools-idle", 0) not in rows, out)
    finally:
        member.terminate()
        try:
            member.wait(timeout=30)
        except subprocess.TimeoutExpired:
            member.kill()
            member.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--millrace-binary", default=os.path.join(REPO, "build", "millrace"))
    args = ap.parse_args()
    if not os.path.isdir(libs_dir()):
        print(f"[FAIL] Kafka tools are installed: {libs_dir()} is missing (run tests/kafka_tools/setup.sh)")
        print("0 passed, 1 failed")
        return 1
    with tempfile.TemporaryDirectory(prefix="millrace-kafka-tools-") as work:
        broker = subprocess.Popen(
            [args.millrace_binary, "broker", "--port", "0", "--admin-port", "0", "--data-dir",
             os.path.join(work, "data")],
            stdout=subprocess.PIPE, stderr=open(os.path.join(work, "broker.log"), "w"), text=True)
        try:
            bootstrap = None
            for line in broker.stdout:
                m = re.match(r"ready broker (\S+) admin", line)
                if m:
                    bootstrap = m.group(1)
                    break
            if bootstrap is None:
                print("[FAIL] broker starts: no ready line")
                print("0 passed, 1 failed")
                return 1
            s = suite(bootstrap, work)
            run_all(s)
        finally:
            broker.terminate()
            try:
                broker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                broker.kill()
                broker.wait()
        print(f"{s.passed} passed, {s.failed} failed")
        if s.failed:
            with open(os.path.join(work, "broker.log"), encoding="utf-8", errors="replace") as f:
                print("broker log (last 40 lines):\n" + "".join(f.readlines()[-40:]))
        return 1 if s.failed else 0


if __name__ == "__main__":
    sys.exit(main())
