#!/usr/bin/env bash
# Downloads Apache Kafka's command-line tools (tools.pom.xml) for the
# kafka_tools suite into ~/.cache/millrace/kafka-tools-<version>/libs, once.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
version="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$here/tools.pom.xml")"
dest="${XDG_CACHE_HOME:-$HOME/.cache}/millrace/kafka-tools-$version/libs"
if [[ -f "$dest/.complete" ]]; then exit 0; fi
echo "kafka_tools/setup: downloading Apache Kafka $version command-line tools (Maven)"
mkdir -p "$dest"
mvn -q -B -f "$here/tools.pom.xml" dependency:copy-dependencies -DoutputDirectory="$dest" -DincludeScope=runtime
touch "$dest/.complete"
