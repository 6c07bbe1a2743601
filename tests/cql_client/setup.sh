#!/usr/bin/env bash
# Installs what the CQL client suites need: Java 17 and Maven (Debian), and the
# Apache Cassandra jars of scripts/peers/cassandra (Maven Central, cached in
# ~/.cache/millrace/cassandra-<version>) for the compat suite and bench/cql.
# Idempotent, offline-safe once cached, and quiet when nothing is missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
source "$repo/scripts/lib/setup.sh"

packages=(liblz4-dev)
command -v java >/dev/null || packages+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || packages+=(maven)
ensure_debian_packages cql_client/setup "${packages[@]}"

"$repo/scripts/peers/cassandra" --fetch-only
