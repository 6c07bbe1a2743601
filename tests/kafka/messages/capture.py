#!/usr/bin/env python3
"""Captures the requests real clients send, for tests/kafka/messages_test.cc.

Starts `millrace broker` on 127.0.0.2 (advertising 127.0.0.1) and a recording
proxy on 127.0.0.1 at the same port, so that every connection a client opens,
bootstrap or not, passes through the proxy. Then runs the client suites of
tests/kafka_clients against it and writes the first request of each
(API key, version) a suite sends to

  captured/<suite>/<key>-v<version>.bin      (the frame without its size prefix:
                                              request header, then body)

Usage: capture.py --millrace-binary build/millrace [--suite kcat --suite java ...]
Rerun it when a client library is upgraded; the files are checked in.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "kafka_clients"))
import run  # noqa: E402  (the client suites' launcher: prepare(), Tally)


class recorder:
    def __init__(self, out_dir):
        self.out_dir = out_dir
        self.seen = set()
        self.lock = threading.Lock()

    def frame(self, payload):
        if len(payload) < 4:
            return
        key = int.from_bytes(payload[0:2], "big", signed=True)
        version = int.from_bytes(payload[2:4], "big", signed=True)
        with self.lock:
            if (key, version) in self.seen:
                return
            self.seen.add((key, version))
            os.makedirs(self.out_dir, exist_ok=True)
            with open(os.path.join(self.out_dir, f"{key}-v{version}.bin"), "wb") as f:
                f.write(payload)


def pump(src, dst, rec):
    buffer = b""
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
            if rec is None:
                continue
            buffer += data
            while len(buffer) >= 4:
                size = int.from_bytes(buffer[:4], "big")
                if len(buffer) < 4 + size:
                    break
                rec.frame(buffer[4:4 + size])
                buffer = buffer[4 + size:]
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(listener, upstream, holder):
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        server = socket.create_connection(upstream)
        threading.Thread(target=pump, args=(client, server, holder["rec"]), daemon=True).start()
        threading.Thread(target=pump, args=(server, client, None), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--millrace-binary", default=os.path.join(REPO, "build", "millrace"))
    ap.add_argument("--suite", action="append", choices=("kcat", "java", "kafkajs", "rdkafka"))
    ap.add_argument("--out", default=os.path.join(HERE, "captured"))
    args = ap.parse_args()
    suites = args.suite or ["kcat", "rdkafka", "java", "kafkajs"]

    with tempfile.TemporaryDirectory(prefix="millrace-capture-") as work:
        broker = subprocess.Popen(
            [args.millrace_binary, "broker", "--host", "127.0.0.2", "--advertised-host", "127.0.0.1", "--port", "0",
             "--admin-port", "0", "--data-dir", os.path.join(work, "data")],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            port = None
            for line in broker.stdout:
                m = re.match(r"ready broker \S+:(\d+)", line)
                if m:
                    port = int(m.group(1))
                    break
            if port is None:
                print("capture.py: the broker did not report ready", file=sys.stderr)
                return 1
            listener = socket.socket()
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
            holder = {"rec": None}
            threading.Thread(target=serve, args=(listener, ("127.0.0.2", port), holder), daemon=True).start()
            env = dict(os.environ, KAFKA_BOOTSTRAP=f"127.0.0.1:{port}")
            for suite in suites:
                holder["rec"] = recorder(os.path.join(args.out, suite))
                tally = run.Tally()
                cmd = run.prepare(suite, tally, argparse.Namespace(rdkafka_binary=None))
                if not cmd:
                    print(f"capture.py: cannot run the {suite} suite", file=sys.stderr)
                    return 1
                res = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     timeout=600)
                print(f"capture.py: {suite} exit {res.returncode}, {len(holder['rec'].seen)} request kinds captured")
            listener.close()
        finally:
            broker.terminate()
            broker.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
