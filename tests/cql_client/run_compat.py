#!/usr/bin/env python3
"""Runs the C++ client's integration suite against a real Apache Cassandra.

  run_compat.py --suite build/tests/cql_client/cql_client_integration_tests

Starts scripts/peers/cassandra (a single node in a temp dir on a free port),
waits for its `ready cassandra host:port` line, runs the suite with
MILLRACE_CQL_TARGET=host:port (tests that restart the server skip themselves),
and always stops Cassandra.
"""
import argparse
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PEER = os.path.join(HERE, "..", "..", "scripts", "peers", "cassandra")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--suite", required=True)
    ap.add_argument("--filter", default="session_test.*")
    args = ap.parse_args()
    peer = subprocess.Popen([PEER], stdout=subprocess.PIPE, text=True)
    try:
        line = peer.stdout.readline()
        if not line.startswith("ready cassandra "):
            print(f"run_compat: Cassandra did not start (exit {peer.poll()})", file=sys.stderr)
            return 1
        address = line.split()[2]
        print(f"run_compat: Apache Cassandra at {address}", flush=True)
        env = dict(os.environ, MILLRACE_CQL_TARGET=address)
        return subprocess.run([args.suite, f"--gtest_filter={args.filter}"], env=env).returncode
    finally:
        peer.send_signal(signal.SIGTERM)
        try:
            peer.wait(timeout=60)
        except subprocess.TimeoutExpired:
            peer.kill()
            peer.wait()


if __name__ == "__main__":
    sys.exit(main())
