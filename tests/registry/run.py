#!/usr/bin/env python3
"""Real schema-registry clients against `millrace broker` + `millrace registry`.

Each suite gets its own broker and registry (ephemeral ports, fresh data
directory), started here and torn down at the end (SIGTERM, then SIGKILL):

  --suite python  confluent-kafka's SchemaRegistryClient, AvroSerializer and
                  AvroDeserializer (through the broker), fastavro with the framing
                  done by hand; then the npm client decodes what Python wrote.
  --suite node    @kafkajs/confluent-schema-registry: register, get by id, encode
                  and decode; then fastavro decodes what the npm client wrote.

The clients are installed by setup.sh (run first, quiet when nothing is missing)
into ~/.cache/millrace/registry.
"""
import argparse
import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def cache_dir():
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "millrace", "registry")


def keyed(path, prefix):
    with open(path, "rb") as f:
        return os.path.join(cache_dir(), f"{prefix}-{hashlib.sha256(f.read()).hexdigest()[:12]}")


class server:
    def __init__(self, argv, name, log_path):
        self.name = name
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.log)
        deadline = time.time() + 60
        self.address = None
        while time.time() < deadline:
            line = self.proc.stdout.readline().decode()
            if not line:
                break
            if line.startswith("ready "):
                self.address = line.split()[2]
                return
        self.stop()
        raise SystemExit(f"{name} did not print its ready line within 60 s; see {log_path}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def run(argv, env):
    print("+", " ".join(argv), flush=True)
    result = subprocess.run(argv, env=env)
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(argv)}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--suite", choices=["python", "node"], required=True)
    parser.add_argument("--millrace-binary", required=True)
    args = parser.parse_args()

    subprocess.run([os.path.join(HERE, "setup.sh")], check=True)
    pylibs = keyed(os.path.join(HERE, "requirements.txt"), "pylibs")
    node_modules = os.path.join(keyed(os.path.join(HERE, "node", "package.json"), "node"), "node_modules")

    with tempfile.TemporaryDirectory(prefix="millrace-registry-") as work:
        servers = []
        try:
            broker = server([args.millrace_binary, "broker", "--port", "0", "--admin-port", "0", "--data-dir",
                             os.path.join(work, "broker")], "broker", os.path.join(work, "broker.log"))
            servers.append(broker)
            registry = server([args.millrace_binary, "registry", "--port", "0", "--admin-port", "0", "--data-dir",
                               os.path.join(work, "registry"), "--set", f"kafka.bootstrap={broker.address}"],
                              "registry", os.path.join(work, "registry.log"))
            servers.append(registry)
            env = dict(os.environ)
            env["PYTHONPATH"] = pylibs + os.pathsep + env.get("PYTHONPATH", "")
            env["NODE_PATH"] = node_modules
            env["REGISTRY_URL"] = f"http://{registry.address}"
            env["KAFKA_BOOTSTRAP"] = broker.address
            messages = os.path.join(work, "messages.json")
            python = sys.executable
            if args.suite == "python":
                run([python, os.path.join(HERE, "python_suite.py"), "--write", messages], env)
                run(["node", os.path.join(HERE, "node", "suite.js"), "--decode", messages], env)
            else:
                run(["node", os.path.join(HERE, "node", "suite.js"), "--write", messages], env)
                run([python, os.path.join(HERE, "python_suite.py"), "--decode", messages], env)
        except SystemExit:
            for s in servers:
                s.stop()
            for name in ("broker.log", "registry.log"):
                path = os.path.join(work, name)
                if os.path.exists(path):
                    sys.stderr.write(f"--- {name} (last lines)\n")
                    with open(path, errors="replace") as f:
                        sys.stderr.write("".join(f.readlines()[-30:]))
            raise
        finally:
            for s in reversed(servers):
                if s.proc.poll() is None:
                    s.stop()
    print(f"registry client suite {args.suite}: passed")


if __name__ == "__main__":
    main()
