#!/usr/bin/env python3
"""Summarizes which Kafka API keys and versions each client used.

Reads a request log written by a real Kafka broker (run.py --broker kafka
--request-log FILE, or scripts/peers/kafka --request-log FILE) and prints, per
client id, every API it called with the versions seen and how many requests.
Requests that arrive on the broker's CONTROLLER listener (the broker talking to
its own controller, e.g. forwarded auto-creation) are left out unless --all is
given.

  python3 tests/kafka_clients/api_versions.py FILE [FILE...] [--all] [--json]
"""

import argparse
import collections
import json
import sys

MARKER = "Completed request:"


def parse(paths, include_internal=False):
    usage = collections.defaultdict(lambda: collections.defaultdict(collections.Counter))
    software = collections.defaultdict(set)
    errors = collections.defaultdict(collections.Counter)
    for path in paths:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                i = line.find(MARKER)
                if i < 0:
                    continue
                try:
                    entry = json.loads(line[i + len(MARKER):])
                except ValueError:
                    continue
                if not include_internal and entry.get("listener") == "CONTROLLER":
                    continue  # the broker talking to its own controller (e.g. forwarded auto-creation)
                header = entry.get("requestHeader", {})
                client = header.get("clientId") or "(none)"
                api = header.get("requestApiKeyName", str(header.get("requestApiKey")))
                ver = header.get("requestApiVersion")
                usage[client][(header.get("requestApiKey"), api)][ver] += 1
                req = entry.get("request") or {}
                if api == "API_VERSIONS" and req.get("clientSoftwareName"):
                    software[client].add(f"{req['clientSoftwareName']} {req.get('clientSoftwareVersion', '')}".strip())
                resp = entry.get("response") or {}
                code = resp.get("errorCode") if isinstance(resp, dict) else None
                if code:
                    errors[client][f"{api} v{ver} -> error {code}"] += 1
    return usage, software, errors


def internal(client):
    # the broker's own node-to-controller clients use the node id as client id
    return client.isdigit() or client.startswith("raft-client") or client == "(none)"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("logs", nargs="+")
    ap.add_argument("--all", action="store_true", help="include the broker's internal clients")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    usage, software, errors = parse(args.logs, args.all)
    clients = sorted(c for c in usage if args.all or not internal(c))
    if args.json:
        out = {c: {"software": sorted(software[c]),
                   "apis": {f"{k[1]}({k[0]})": sorted(v) for k, v in sorted(usage[c].items(), key=lambda x: x[0][0])},
                   "errors": dict(errors[c])} for c in clients}
        json.dump(out, sys.stdout, indent=2)
        print()
        return 0
    for c in clients:
        sw = ", ".join(sorted(software[c])) or "?"
        print(f"{c} ({sw})")
        for (key, name), versions in sorted(usage[c].items(), key=lambda x: x[0][0]):
            vs = ", ".join(f"v{v} x{n}" for v, n in sorted(versions.items()))
            print(f"  {key:>3} {name:<24} {vs}")
        for what, n in sorted(errors[c].items()):
            print(f"  error response: {what} x{n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
