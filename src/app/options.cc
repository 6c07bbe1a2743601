#include "options.h"

#include "millrace/cdc/cdc.h"
#include "millrace/console/console.h"
#include "millrace/cql/server.h"
#include "millrace/kafka/broker.h"
#include "millrace/common/security.h"
#include "millrace/coordination/coordination.h"
#include "millrace/registry/registry.h"
#include "millrace/processor/processor.h"
#include "millrace/scheduler/scheduler.h"
#include "millrace/source/source.h"

namespace millrace::app {

const std::vector<component_info>& components() {
    static const std::vector<component_info> all = {
        {"broker", "broker", "Kafka-wire-compatible broker", "Apache Kafka + ZooKeeper", true, 4},
        {"registry", "registry", "Confluent-compatible schema registry", "Confluent Schema Registry", true, 11},
        {"cql", "cql", "CQL-wire-compatible serving store on RocksDB", "Apache Cassandra", true, 5},
        {"postgres", "postgres", "PostgreSQL raw store, managed locally (or external by postgres.dsn)", "PostgreSQL", true, 6},
        {"source", "source", "randomuser-compatible API and fetcher into PostgreSQL", "randomuser.me API", true, 6},
        {"cdc", "cdc", "PostgreSQL logical-replication change capture into Kafka", "Debezium-style CDC", true, 7},
        {"process", "processor", "stream job from Kafka to the serving store", "Spark Structured Streaming", true, 8},
        {"scheduler", "scheduler", "DAG scheduler with REST API and web UI", "Apache Airflow", true, 9},
        {"console", "console", "web console for topics, messages, groups, schemas and tables", "Confluent Control Center", true, 12},
    };
    return all;
}

const component_info* find_component(std::string_view command) {
    for (const auto& c : components()) {
        if (c.command == command) return &c;
    }
    return nullptr;
}

namespace {

using config::key_spec;
using config::value_kind;

struct listener_defaults {
    const char* section;
    int port;        // 0: no client listener
    int admin_port;
};

config::schema build() {
    config::schema s;
    s.add({"data_dir", value_kind::path, "./data",
           "Root directory for all durable data; each component keeps its files in a subdirectory named after it."});

    s.describe_section("log", "Logging: lines go to stderr; stdout carries only the ready line and status output.");
    s.add({"log.level", value_kind::choice, "info", "Lowest level that is logged.", {"trace", "debug", "info", "warn", "error"}});
    s.add({"log.format", value_kind::choice, "text", "Line format: human-readable text or one JSON object per line.", {"text", "json"}});

    s.describe_section("admin", "The admin HTTP endpoint of every process: /healthz, /readyz, /metrics.");
    s.add({"admin.host", value_kind::string, "127.0.0.1", "Address the admin endpoint listens on."});
    s.add({"admin.shutdown_timeout", value_kind::duration_ms, "15s",
           "How long a graceful stop may take before the process exits anyway.", {}, 0, 3'600'000});

    s.describe_section("http", "Every HTTP API and UI (scheduler, registry, console, admin endpoints); see docs/security.md.");
    s.add({"http.allowed_origins", value_kind::string_list, "",
           "Origins (scheme://host[:port]) beside the servers' own addresses from which browsers may send "
           "state-changing requests (POST, PUT, PATCH, DELETE), e.g. [https://millrace.example.com] behind a "
           "reverse proxy; their host names are also accepted in Host headers."});

    s.describe_section("security", "Secure mode (`--secure`): TLS on every listener, authentication; see docs/security.md.");
    s.add({"security.enabled", value_kind::boolean, "false",
           "Serve only TLS on every listener (Kafka, CQL, HTTP APIs, admin endpoints) and require authentication; "
           "`--secure` on any command sets it."});
    s.add({"security.tls_cert", value_kind::path, "",
           "Server certificate chain (PEM) for every listener; empty generates <data_dir>/tls/server.pem, signed by a "
           "generated CA, for localhost, this host's name and every listener host."});
    s.add({"security.tls_key", value_kind::path, "",
           "Private key (PEM) of security.tls_cert; empty uses the generated <data_dir>/tls/server.key (mode 0600)."});
    s.add({"security.tls_ca", value_kind::path, "",
           "CA certificate (PEM) clients verify the listeners with, and millrace's own clients trust; empty uses the "
           "generated <data_dir>/tls/ca.pem."});
    security::add_options(s);

    s.describe_section("kafka", "Kafka as the other parts see it: the embedded broker, or an external cluster.");
    s.add({"kafka.bootstrap", value_kind::string, "",
           "host:port[,host:port...] of an external Kafka cluster; empty uses the embedded broker (`up` then starts it)."});
    s.add({"kafka.client_properties", value_kind::string_list, "",
           "librdkafka name=value properties for every Kafka client millrace makes (CDC, processor, registry, console, "
           "scheduler), e.g. [security.protocol=SASL_SSL, sasl.mechanism=SCRAM-SHA-512, sasl.username=u, "
           "sasl.password=p, ssl.ca.location=/ca.pem] for an external secured cluster; they override the settings "
           "millrace derives from security.enabled."});

    s.describe_section("up", "`millrace up`: the whole pipeline in one process.");
    s.add({"up.admin_port", value_kind::port, "9464", "Admin endpoint port of `millrace up` (also serves /status)."});
    s.add({"up.disable", value_kind::string_list, "",
           "Components `up` does not start, e.g. [console, registry]. Kafka, CQL and PostgreSQL are also left out "
           "when kafka.bootstrap, cql.contact_points or postgres.dsn names an external service."});
    s.add({"up.status_table", value_kind::string, "spark_streams.created_users",
           "keyspace.table whose rows the status block counts (from the CQL store's system.size_estimates)."});
    s.add({"up.status_topic", value_kind::string, "users_created",
           "Topic whose end offsets the status block sums as the records in Kafka."});
    s.add({"up.status_group", value_kind::string, "millrace-job-created_users",
           "Consumer group whose committed offsets give the status block's processor lag."});
    s.add({"up.status_interval", value_kind::duration_ms, "30s",
           "How often `up` logs the pipeline's progress when stdout is not a terminal; 0 turns it off.", {}, 0, 86'400'000});

    coordination::add_options(s);

    const listener_defaults defaults[] = {
        {"broker", 9092, 9465}, {"cql", 9042, 9466}, {"source", 8090, 9467},
        {"cdc", 0, 9469},       {"processor", 0, 9470}, {"scheduler", 8080, 9468},
        {"registry", 8081, 9472},
        {"console", 9021, 9473},
    };
    for (const auto& d : defaults) {
        const component_info* info = nullptr;
        for (const auto& c : components()) {
            if (c.section == d.section) info = &c;
        }
        std::string section = d.section;
        s.describe_section(section, fmt::format("{} (`millrace {}`): {}; plays {}.", section, info->command,
                                                info->summary, info->plays));
        if (d.port != 0) {
            s.add({section + ".host", value_kind::string, "127.0.0.1", "Address the client listener binds to."});
            s.add({section + ".port", value_kind::port, std::to_string(d.port), "Client listener port."});
        }
        s.add({section + ".admin_port", value_kind::port, std::to_string(d.admin_port),
               "Admin endpoint port when run as its own process."});
        s.add({section + ".data_dir", value_kind::path, "",
               fmt::format("Data directory; empty means <data_dir>/{}.", section)});
        if (section == "broker") kafka::add_options(s);
        if (section == "cql") {
            s.add({"cql.contact_points", value_kind::string, "",
                   "host[:port][,...] of an external Cassandra or ScyllaDB cluster; empty uses the embedded store."});
            cql::add_options(s);
        }
        if (section == "source") source::add_options(s);
        if (section == "registry") registry::add_options(s);
        if (section == "processor") processor::add_options(s);
        if (section == "cdc") cdc::add_options(s);
        if (section == "scheduler") scheduler::add_options(s);
        if (section == "console") console::add_options(s);
    }
    return s;
}

}  // namespace

const config::schema& schema() {
    static const config::schema instance = build();
    return instance;
}

}  // namespace millrace::app
