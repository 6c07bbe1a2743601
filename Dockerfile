# millrace: the whole pipeline in one image (the binary plus PostgreSQL).
#
#   docker build -t millrace .
#   docker run --rm -p 8080:8080 -p 9021:9021 -p 9092:9092 -p 9042:9042 -p 8081:8081 -p 8090:8090 -p 9464:9464 millrace
#
# Build stage: Debian 12 toolchain and -dev packages, librdkafka built from
# source (scripts/deps/librdkafka; cargo-web is Debian's current cargo, which
# only fetches its source crate), the web UIs, one binary.
FROM docker.io/library/debian:bookworm-slim AS build
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config make ca-certificates python3 nodejs npm cargo-web \
      libasio-dev libyaml-cpp-dev libfmt-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev \
      libsasl2-dev libpq-dev libcurl4-openssl-dev libssl-dev librocksdb-dev libsimdjson-dev nlohmann-json3-dev libedit-dev libre2-dev libcrypt-dev libzookeeper-mt-dev libjemalloc-dev libhowardhinnant-date-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# librdkafka first too: it changes only with its version (its own layer).
ENV MILLRACE_CACHE_DIR=/opt/millrace-deps
COPY scripts/deps/librdkafka scripts/deps/librdkafka
RUN MILLRACE_BUILD_JOBS="$(nproc)" scripts/deps/librdkafka && rm -rf "$MILLRACE_CACHE_DIR/crates"
# The web toolchain first, so that code changes reuse this layer. Behind a
# TLS-intercepting proxy, mount its CA bundle and name it:
#   --build-arg NODE_EXTRA_CA_CERTS=/run/host-ca.crt -v /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro
ARG NODE_EXTRA_CA_CERTS=
COPY web/package.json web/package-lock.json web/
RUN cd web && npm ci --no-audit --no-fund
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMILLRACE_TESTS=OFF \
 && cmake --build build --target millrace -j"$(nproc)" \
 && strip --strip-debug build/millrace

# Runtime stage: the binary, PostgreSQL for the managed raw store, a non-root user.
FROM docker.io/library/debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      postgresql ca-certificates \
      libsasl2-2 libpq5 libcurl4 libssl3 librocksdb7.8 libyaml-cpp0.7 libfmt9 libsnappy1v5 liblz4-1 libzstd1 libsimdjson14 libedit2 libre2-9 libzookeeper-mt2 libjemalloc2 libdate-tz3 tzdata \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --create-home --home-dir /var/lib/millrace --shell /usr/sbin/nologin millrace
COPY --from=build /src/build/millrace /usr/local/bin/millrace
COPY --chown=millrace:millrace dags /var/lib/millrace/dags
COPY --chown=millrace:millrace jobs /var/lib/millrace/jobs
USER millrace
WORKDIR /var/lib/millrace
# Listen on every interface so published ports work; everything else is the
# embedded default. Data lives in the volume.
ENV MILLRACE_DATA_DIR=/var/lib/millrace/data \
    MILLRACE_ADMIN_HOST=0.0.0.0 \
    MILLRACE_BROKER_HOST=0.0.0.0 \
    MILLRACE_BROKER_ADVERTISED_HOST=localhost \
    MILLRACE_CQL_HOST=0.0.0.0 \
    MILLRACE_SOURCE_HOST=0.0.0.0 \
    MILLRACE_SCHEDULER_HOST=0.0.0.0 \
    MILLRACE_REGISTRY_HOST=0.0.0.0 \
    MILLRACE_CONSOLE_HOST=0.0.0.0
VOLUME /var/lib/millrace/data
EXPOSE 9092 9042 8080 8081 8090 9021 9464
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["millrace", "status"]
ENTRYPOINT ["millrace"]
CMD ["up"]
