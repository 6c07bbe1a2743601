// The sampler: every console.sample_interval it reads the cluster's offsets,
// the consumer groups' commits, the admin endpoints' /readyz and /metrics,
// and probes each component, then records rates and lag into the bounded
// history and pushes an overview event to /api/events subscribers.
#include <poll.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include <libpq-fe.h>

#include "decode.h"
#include "http_client.h"
#include "millrace/avro/codec.h"
#include "millrace/common/security.h"
#include "millrace/cql_client/shell.h"
#include "service.h"

namespace millrace::console {
namespace {

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

json component_state(const std::string& name, const std::string& plays, const std::string& state, const std::string& reason,
                     const std::string& address) {
    return json{{"name", name}, {"plays", plays}, {"state", state}, {"reason", reason}, {"address", address}};
}

// Sums Prometheus samples of `family` by the value of `label` ("" sums all).
std::map<std::string, double> sum_metric(const std::string& text, const std::string& family, const std::string& label) {
    std::map<std::string, double> out;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t end = text.find('\n', pos);
        if (end == std::string::npos) end = text.size();
        std::string_view line(text.data() + pos, end - pos);
        pos = end + 1;
        if (line.empty() || line[0] == '#' || line.rfind(family, 0) != 0) continue;
        std::string_view rest = line.substr(family.size());
        if (!rest.empty() && rest[0] != '{' && rest[0] != ' ') continue;  // a longer family name
        std::string key;
        if (!label.empty()) {
            std::string needle = label + "=\"";
            size_t at = rest.find(needle);
            if (at != std::string_view::npos) {
                size_t close = rest.find('"', at + needle.size());
                key = std::string(rest.substr(at + needle.size(), close - at - needle.size()));
            }
        }
        size_t space = line.rfind(' ');
        if (space == std::string_view::npos) continue;
        try {
            out[key] += std::stod(std::string(line.substr(space + 1)));
        } catch (const std::exception&) {
        }
    }
    return out;
}

// CQL: an OPTIONS request (protocol v4) must be answered with SUPPORTED.
std::string cql_probe(const std::string& contact_points, std::chrono::milliseconds timeout) {
    std::string first = contact_points.substr(0, contact_points.find(','));
    std::string host = first;
    int port = 9042;
    if (auto colon = first.rfind(':'); colon != std::string::npos && first.find(']') == std::string::npos) {
        host = first.substr(0, colon);
        port = std::atoi(first.substr(colon + 1).c_str());
    }
    if (host == "localhost") host = "127.0.0.1";
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) return fmt::format("cannot probe '{}': not an IPv4 address", host);
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return "cannot open a socket";
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_fd{fd};
    const int wait_ms = static_cast<int>(timeout.count());
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
        return fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(errno));
    }
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, wait_ms) != 1) return fmt::format("no connection to {}:{} within {} ms", host, port, wait_ms);
    int so_error = 0;
    socklen_t len = sizeof so_error;
    ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len);
    if (so_error != 0) return fmt::format("cannot connect to {}:{}: {}", host, port, std::strerror(so_error));
    const unsigned char options[9] = {0x04, 0x00, 0x00, 0x01, 0x05, 0, 0, 0, 0};
    if (::send(fd, options, sizeof options, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof options)) {
        return fmt::format("{}:{} closed the connection", host, port);
    }
    unsigned char head[9];
    size_t got = 0;
    while (got < sizeof head) {
        pollfd r{fd, POLLIN, 0};
        if (::poll(&r, 1, wait_ms) != 1) return fmt::format("{}:{} did not answer OPTIONS within {} ms", host, port, wait_ms);
        ssize_t n = ::recv(fd, head + got, sizeof head - got, 0);
        if (n <= 0) return fmt::format("{}:{} closed the connection during OPTIONS", host, port);
        got += static_cast<size_t>(n);
    }
    if (head[0] != 0x84 || head[4] != 0x06) {
        return fmt::format("{}:{} answered OPTIONS with opcode 0x{:02x} (version byte 0x{:02x}), not SUPPORTED", host, port, head[4], head[0]);
    }
    return {};
}

struct pg_facts {
    std::string error;  // empty when connected
    std::optional<int64_t> users_inserted;
    std::optional<int64_t> users_rows;
    json slots = json::array();
};

pg_facts read_postgres(const std::string& dsn, std::chrono::milliseconds timeout) {
    pg_facts facts;
    std::string conninfo = fmt::format("{} connect_timeout={} application_name=millrace-console", dsn,
                                       std::max<int64_t>(1, timeout.count() / 1000));
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        facts.error = PQerrorMessage(conn);
        while (!facts.error.empty() && (facts.error.back() == '\n' || facts.error.back() == ' ')) facts.error.pop_back();
        PQfinish(conn);
        return facts;
    }
    auto query = [&](const char* sql) { return PQexec(conn, sql); };
    if (PGresult* res = query("SELECT n_tup_ins, n_live_tup FROM pg_stat_user_tables WHERE relname = 'users' LIMIT 1");
        PQresultStatus(res) == PGRES_TUPLES_OK) {
        if (PQntuples(res) == 1) {
            facts.users_inserted = std::atoll(PQgetvalue(res, 0, 0));
            facts.users_rows = std::atoll(PQgetvalue(res, 0, 1));
        }
        PQclear(res);
    } else {
        PQclear(res);
    }
    if (PGresult* res = query("SELECT slot_name, plugin, active, "
                              "COALESCE(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint "
                              "FROM pg_replication_slots WHERE slot_type = 'logical' ORDER BY slot_name");
        PQresultStatus(res) == PGRES_TUPLES_OK) {
        for (int row = 0; row < PQntuples(res); ++row) {
            facts.slots.push_back({{"slot", PQgetvalue(res, row, 0)},
                                   {"plugin", PQgetvalue(res, row, 1)},
                                   {"active", std::string(PQgetvalue(res, row, 2)) == "t"},
                                   {"lag_bytes", std::atoll(PQgetvalue(res, row, 3))}});
        }
        PQclear(res);
    } else {
        PQclear(res);
    }
    PQfinish(conn);
    return facts;
}

}  // namespace

std::optional<std::string> service::registry_url() const {
    if (ctx_.cfg.has("console.registry_url") && !ctx_.cfg.get_string("console.registry_url").empty()) {
        return ctx_.cfg.get_string("console.registry_url");
    }
    auto address = services::http_address(ctx_, "registry");
    if (!address) return std::nullopt;
    return http::own_url(settings_.own_auth, *address);
}

http::client_auth service::registry_auth() const {
    bool configured = ctx_.cfg.has("console.registry_url") && !ctx_.cfg.get_string("console.registry_url").empty();
    return configured ? http::client_auth{} : settings_.own_auth;
}

std::optional<std::string> service::scheduler_api_url() const {
    // The same base as the UI links: the scheduler serves both.
    if (ctx_.cfg.has("console.scheduler_url") && !ctx_.cfg.get_string("console.scheduler_url").empty()) {
        std::string url = ctx_.cfg.get_string("console.scheduler_url");
        while (!url.empty() && url.back() == '/') url.pop_back();
        return url;
    }
    auto address = services::http_address(ctx_, "scheduler");
    if (!address) return std::nullopt;
    return http::own_url(settings_.own_auth, *address);
}

void service::sampler_loop() {
    for (;;) {
        auto started = std::chrono::steady_clock::now();
        try {
            sample_once();
        } catch (const std::exception& e) {
            log_.error("sampling failed: {}", e.what());
        }
        std::unique_lock lock(mutex_);
        if (wake_.wait_until(lock, started + settings_.sample_interval, [this] { return stopping_; })) return;
    }
}

void service::sample_once() {
    const int64_t t = now_ms();
    const double dt = last_sample_ms_ > 0 ? static_cast<double>(t - last_sample_ms_) / 1000.0 : 0.0;
    const bool had_offsets = !last_failed_;  // the previous sample read every end offset
    std::optional<cluster_info> cluster;
    std::string cluster_error;
    std::map<topic_partition, watermark> marks;
    if (auto md = kafka_->metadata(); md) {
        cluster = std::move(*md);
        std::vector<topic_partition> all;
        for (const auto& topic : cluster->topics) {
            for (const auto& p : topic.partitions) all.emplace_back(topic.name, p.id);
        }
        if (auto m = kafka_->watermarks(all); m) {
            marks = std::move(*m);
        } else {
            cluster_error = m.err().message();
        }
    } else {
        cluster_error = md.err().message();
    }

    // Records in: growth of the end offsets, per topic and in total.
    std::map<std::string, json> topics;
    double records_in_rate = 0;
    int64_t total_records = 0;
    int64_t partition_count = 0;
    if (cluster) {
        for (const auto& topic : cluster->topics) {
            json stats = {{"partitions", topic.partitions.size()}};
            int64_t records = 0;
            double in_rate = 0;
            const bool have_rate = dt > 0 && had_offsets;
            for (const auto& p : topic.partitions) {
                auto it = marks.find({topic.name, p.id});
                if (it == marks.end()) continue;
                records += std::max<int64_t>(0, it->second.high - it->second.low);
                // A partition the previous sample did not see was created
                // since: everything in it arrived within this interval.
                auto last = last_high_.find({topic.name, p.id});
                int64_t before = last == last_high_.end() ? 0 : last->second;
                if (dt > 0) in_rate += static_cast<double>(std::max<int64_t>(0, it->second.high - before)) / dt;
            }
            stats["records"] = records;
            if (have_rate) {
                stats["records_in_rate"] = in_rate;
                if (!topic.internal) records_in_rate += in_rate;
                history_.record("topic_in/" + topic.name, t, in_rate);
            }
            if (!topic.internal) {
                total_records += records;
                partition_count += static_cast<int64_t>(topic.partitions.size());
            }
            topics[topic.name] = std::move(stats);
        }
        last_high_.clear();
        for (const auto& [tp, m] : marks) last_high_[tp] = m.high;
    }
    last_failed_ = !cluster || !cluster_error.empty();

    // Records out: growth of the committed offsets of every group; lag per group.
    std::map<std::string, json> groups;
    double records_out_rate = 0;
    bool have_out_rate = dt > 0;
    if (cluster) {
        auto listed = kafka_->list_groups();
        std::map<std::string, std::map<topic_partition, int64_t>> committed_now;
        if (listed) {
            size_t sampled = 0;
            for (const auto& g : *listed) {
                if (++sampled > 200) break;  // bound the work of one round
                auto committed = kafka_->committed_offsets(g.group_id);
                if (!committed) continue;
                int64_t lag = 0;
                double rate = 0;
                std::set<std::string> group_topics;
                auto& now_offsets = committed_now[g.group_id];
                auto last = last_committed_.find(g.group_id);
                for (const auto& c : *committed) {
                    topic_partition tp{c.topic, c.partition};
                    now_offsets[tp] = c.offset;
                    group_topics.insert(c.topic);
                    auto m = marks.find(tp);
                    if (m != marks.end()) lag += std::max<int64_t>(0, m->second.high - c.offset);
                    if (last != last_committed_.end() && dt > 0) {
                        auto before = last->second.find(tp);
                        if (before != last->second.end()) rate += static_cast<double>(std::max<int64_t>(0, c.offset - before->second)) / dt;
                    }
                }
                json stats = {{"state", g.state}, {"lag", lag}, {"topics", std::vector<std::string>(group_topics.begin(), group_topics.end())}};
                if (last != last_committed_.end() && dt > 0) {
                    stats["consume_rate"] = rate;
                    records_out_rate += rate;
                    for (const auto& topic : group_topics) {
                        auto it = topics.find(topic);
                        if (it != topics.end()) it->second["records_out_rate"] = it->second.value("records_out_rate", 0.0) + rate / static_cast<double>(group_topics.size());
                    }
                }
                history_.record("lag/" + g.group_id, t, static_cast<double>(lag));
                groups[g.group_id] = std::move(stats);
            }
        }
        last_committed_ = std::move(committed_now);
    } else {
        have_out_rate = false;
    }

    // Admin endpoints: readiness, and bytes in/out from the broker's metrics.
    json admins = json::array();
    std::map<std::string, std::pair<std::string, bool>> admin_of;  // component -> (address, ready)
    std::map<std::string, std::string> leader_of;  // singleton component ("cdc", "scheduler") -> admin address
    double bytes_in = -1, bytes_out = -1;
    std::map<std::string, double> topic_bytes_in, topic_bytes_out, topic_size;
    const auto probe_timeout = std::min<std::chrono::milliseconds>(settings_.request_timeout, std::chrono::milliseconds(1500));
    for (const auto& address : settings_.admin_endpoints) {
        auto ready = http_call("GET", http::own_url(settings_.own_auth, address) + "/readyz", probe_timeout, {}, "application/json",
                               settings_.own_auth);
        if (!ready) continue;
        auto metrics = http_call("GET", http::own_url(settings_.own_auth, address) + "/metrics", probe_timeout, {}, "application/json",
                                 settings_.own_auth);
        if (!metrics || metrics->status != 200) continue;
        json parts = json::array();
        for (const char* comp : {"broker", "cql", "source", "postgres", "cdc", "processor", "scheduler", "registry", "console"}) {
            if (metrics->body.find(fmt::format("\nmillrace_{}_", comp)) != std::string::npos) {
                parts.push_back(comp);
                if (!admin_of.count(comp)) admin_of[comp] = {address, ready->status == 200};
            }
        }
        admins.push_back({{"address", address}, {"ready", ready->status == 200}, {"components", parts}});
        // Which instance runs the singletons (docs/ha.md): "cdc.<slot>" → this admin endpoint.
        for (const auto& [lease, held] : sum_metric(metrics->body, "millrace_coordination_lease_held", "lease")) {
            if (held > 0) leader_of[lease.substr(0, lease.find('.'))] = address;
        }
        auto in = sum_metric(metrics->body, "millrace_broker_bytes_in_total", "topic");
        auto out = sum_metric(metrics->body, "millrace_broker_bytes_out_total", "topic");
        if (!in.empty()) {
            bytes_in = std::max(0.0, bytes_in);
            for (const auto& [topic, v] : in) {
                bytes_in += v;
                topic_bytes_in[topic] += v;
            }
        }
        if (!out.empty()) {
            bytes_out = std::max(0.0, bytes_out);
            for (const auto& [topic, v] : out) {
                bytes_out += v;
                topic_bytes_out[topic] += v;
            }
        }
        for (const auto& [topic, v] : sum_metric(metrics->body, "millrace_broker_log_size_bytes", "topic")) topic_size[topic] += v;
    }
    std::optional<double> bytes_in_rate, bytes_out_rate;
    if (dt > 0 && bytes_in >= 0 && last_bytes_in_ >= 0) bytes_in_rate = std::max(0.0, bytes_in - last_bytes_in_) / dt;
    if (dt > 0 && bytes_out >= 0 && last_bytes_out_ >= 0) bytes_out_rate = std::max(0.0, bytes_out - last_bytes_out_) / dt;
    last_bytes_in_ = bytes_in;
    last_bytes_out_ = bytes_out;
    for (auto& [topic, stats] : topics) {
        if (topic_size.count(topic)) stats["size_bytes"] = topic_size[topic];
    }

    if (dt > 0 && had_offsets && !last_failed_) {
        history_.record("records_in", t, records_in_rate);
        if (have_out_rate) history_.record("records_out", t, records_out_rate);
    }
    if (bytes_in_rate) history_.record("bytes_in", t, *bytes_in_rate);
    if (bytes_out_rate) history_.record("bytes_out", t, *bytes_out_rate);
    // Series of topics and groups that are gone are forgotten after one window.
    history_.forget_stale("topic_in/", t - settings_.history_window.count());
    history_.forget_stale("lag/", t - settings_.history_window.count());

    json health = probe_components(cluster, cluster_error, groups);
    for (auto& component : health) {
        if (auto leader = leader_of.find(component["name"]); leader != leader_of.end()) component["leader"] = leader->second;
        auto it = admin_of.find(component["name"]);
        if (it == admin_of.end()) continue;
        component["admin"] = it->second.first;
        component["ready"] = it->second.second;
        if (!it->second.second && component["state"] == "green") {
            component["state"] = "amber";
            component["reason"] = fmt::format("{}; its admin endpoint {} reports not ready", component["reason"].get<std::string>(), it->second.first);
        }
    }

    json overview = {{"time", t}, {"kafka", kafka_->bootstrap()}};
    if (cluster) {
        json brokers = json::array();
        for (const auto& b : cluster->brokers) brokers.push_back({{"id", b.id}, {"host", b.host}, {"port", b.port}});
        overview["cluster"] = {{"id", cluster->cluster_id},
                               {"controller", cluster->controller},
                               {"brokers", brokers},
                               {"topics", std::count_if(cluster->topics.begin(), cluster->topics.end(), [](const topic_info& ti) { return !ti.internal; })},
                               {"partitions", partition_count},
                               {"records", total_records}};
    } else {
        overview["cluster"] = nullptr;
    }
    if (!cluster_error.empty()) overview["cluster_error"] = cluster_error;
    overview["rates"] = {{"records_in", dt > 0 && had_offsets && !last_failed_ ? json(records_in_rate) : json(nullptr)},
                         {"records_out", have_out_rate ? json(records_out_rate) : json(nullptr)},
                         {"bytes_in", bytes_in_rate ? json(*bytes_in_rate) : json(nullptr)},
                         {"bytes_out", bytes_out_rate ? json(*bytes_out_rate) : json(nullptr)}};
    overview["groups"] = groups.size();
    overview["components"] = health;
    overview["admin_endpoints"] = admins;

    // The pipeline, source to table, with counts and rates on each edge.
    auto find_health = [&](const std::string& name) -> std::string {
        for (const auto& c : health) {
            if (c["name"] == name) return c["state"];
        }
        return "grey";
    };
    json topic_stats = topics.count(settings_.pipeline_topic) ? topics[settings_.pipeline_topic] : json(nullptr);
    json group_stats = groups.count(settings_.processor_group) ? groups[settings_.processor_group] : json(nullptr);
    json pg_node = {{"id", "postgres"}, {"label", "PostgreSQL"}, {"detail", "table users"}, {"state", find_health("postgres")}};
    for (const auto& c : health) {
        if (c["name"] == "postgres" && c.contains("users_rows")) pg_node["count"] = c["users_rows"];
    }
    json nodes = json::array({
        {{"id", "source"}, {"label", "randomuser API"}, {"detail", "millrace source"}, {"state", find_health("source")}},
        {{"id", "scheduler"}, {"label", "scheduler"}, {"detail", "DAG user_automation"}, {"state", find_health("scheduler")}},
        pg_node,
        {{"id", "cdc"}, {"label", "CDC"}, {"detail", "logical replication"}, {"state", find_health("cdc")}},
        {{"id", "kafka"}, {"label", "Kafka"}, {"detail", "topic " + settings_.pipeline_topic}, {"state", find_health("broker")},
         {"count", topic_stats.is_null() ? json(nullptr) : topic_stats["records"]}},
        {{"id", "processor"}, {"label", "processor"}, {"detail", "group " + settings_.processor_group}, {"state", find_health("processor")},
         {"lag", group_stats.is_null() ? json(nullptr) : group_stats["lag"]}},
        {{"id", "cql"}, {"label", "CQL store"}, {"detail", settings_.pipeline_table}, {"state", find_health("cql")}},
    });
    for (const auto& c : health) {
        if (c["name"] == "cql" && c.contains("table_rows")) nodes.back()["count"] = c["table_rows"];
    }
    json pg_rate = nullptr;
    for (const auto& c : health) {
        if (c["name"] == "postgres" && c.contains("insert_rate")) pg_rate = c["insert_rate"];
    }
    json consume_rate = group_stats.is_null() ? json(nullptr) : group_stats.value("consume_rate", json(nullptr));
    json edges = json::array({
        {{"from", "source"}, {"to", "scheduler"}, {"label", "HTTP"}, {"rate", nullptr}},
        {{"from", "scheduler"}, {"to", "postgres"}, {"label", "libpq"}, {"rate", pg_rate}},
        {{"from", "postgres"}, {"to", "cdc"}, {"label", "pgoutput"}, {"rate", nullptr}},
        {{"from", "cdc"}, {"to", "kafka"}, {"label", "Kafka"}, {"rate", topic_stats.is_null() ? json(nullptr) : topic_stats.value("records_in_rate", json(nullptr))}},
        {{"from", "kafka"}, {"to", "processor"}, {"label", "group"}, {"rate", consume_rate}},
        {{"from", "processor"}, {"to", "cql"}, {"label", "CQL"}, {"rate", consume_rate}},
    });
    overview["pipeline"] = {{"nodes", nodes}, {"edges", edges}};

    std::vector<http::event_stream> subscribers;
    {
        std::lock_guard lock(mutex_);
        overview_ = overview;
        health_ = health;
        topic_stats_ = std::move(topics);
        group_stats_ = std::move(groups);
        std::erase_if(subscribers_, [](const http::event_stream& s) { return !s.open(); });
        subscribers = subscribers_;
    }
    std::string event = overview.dump(-1, ' ', false, json::error_handler_t::replace);
    for (auto& s : subscribers) s.send("overview", event);
    last_sample_ms_ = t;
}

json service::probe_components(const std::optional<cluster_info>& cluster, const std::string& cluster_error,
                               const std::map<std::string, json>& group_stats) {
    json out = json::array();
    const auto timeout = std::min<std::chrono::milliseconds>(settings_.request_timeout, std::chrono::milliseconds(1500));
    // Kafka
    if (cluster && cluster_error.empty()) {
        out.push_back(component_state("broker", "Apache Kafka", "green",
                                      fmt::format("{} broker(s), {} topics, cluster id {}", cluster->brokers.size(), cluster->topics.size(),
                                                  cluster->cluster_id.empty() ? "unknown" : cluster->cluster_id),
                                      kafka_->bootstrap()));
    } else if (cluster) {
        out.push_back(component_state("broker", "Apache Kafka", "amber", "metadata answered but offsets did not: " + cluster_error, kafka_->bootstrap()));
    } else {
        out.push_back(component_state("broker", "Apache Kafka", "red", cluster_error, kafka_->bootstrap()));
    }
    // CQL store
    std::string cql = services::cql_contact_points(ctx_);
    std::string cql_error, cql_detail = "answers CQL v4 OPTIONS with SUPPORTED";
    if (auto login = services::cql_credentials(ctx_); !login.tls_ca.empty()) {
        // A TLS store refuses the raw plaintext OPTIONS (and logs each refusal):
        // ask through the console's own session, which speaks TLS and logs in.
        cql_error = cql_session_probe();
        cql_detail = login.username.empty() ? "answers a query over TLS" : "answers a query over TLS as " + login.username;
    } else {
        cql_error = cql_probe(cql, timeout);
    }
    out.push_back(component_state("cql", "Apache Cassandra", cql_error.empty() ? "green" : "red",
                                  cql_error.empty() ? cql_detail : cql_error, cql));
    if (cql_error.empty()) {
        // The pipeline table's row count, as the store estimates it (exact on millrace's store).
        auto dot = settings_.pipeline_table.find('.');
        auto session = dot == std::string::npos ? result<std::shared_ptr<cql_client::session>>(make_error(errc::invalid_argument, "no table"))
                                                : cql_session();
        if (session) {
            auto rows = (*session)->query(
                "SELECT partitions_count FROM system.size_estimates WHERE keyspace_name = ? AND table_name = ?",
                {cql_client::value::text(settings_.pipeline_table.substr(0, dot)), cql_client::value::text(settings_.pipeline_table.substr(dot + 1))});
            if (rows) {
                int64_t total = 0;
                for (size_t idx = 0; idx < rows->size(); ++idx) {
                    if (!rows->at(idx, "partitions_count").is_null()) total += rows->at(idx, "partitions_count").as_int();
                }
                out.back()["table_rows"] = total;
            }
        }
    }
    // PostgreSQL and change capture
    pg_facts pg = read_postgres(services::postgres_dsn(ctx_), timeout);
    // Shown in the overview: an external postgres.dsn's password never is.
    std::string dsn = security::redact_secrets(services::postgres_dsn(ctx_));
    if (pg.error.empty()) {
        json state = component_state("postgres", "PostgreSQL", "green",
                                     pg.users_rows ? fmt::format("connected; table users has about {} rows", *pg.users_rows)
                                                   : std::string("connected; table users not created yet"),
                                     dsn);
        if (pg.users_rows) state["users_rows"] = *pg.users_rows;
        if (pg.users_inserted) {
            static thread_local std::optional<std::pair<int64_t, int64_t>> last;  // (time, inserted)
            int64_t t = now_ms();
            if (last && t > last->first) state["insert_rate"] = static_cast<double>(std::max<int64_t>(0, *pg.users_inserted - last->second)) * 1000.0 / static_cast<double>(t - last->first);
            last = std::make_pair(t, *pg.users_inserted);
        }
        out.push_back(std::move(state));
        if (pg.slots.empty()) {
            out.push_back(component_state("cdc", "change data capture", "red", "no logical replication slot in PostgreSQL: change capture is not running", dsn));
        } else {
            const json* best = &pg.slots[0];
            for (const auto& s : pg.slots) {
                if (s["active"].get<bool>()) best = &s;
            }
            int64_t lag = (*best)["lag_bytes"];
            std::string slot = (*best)["slot"];
            std::string state_name = !(*best)["active"].get<bool>() ? "amber" : lag > 64 * 1024 * 1024 ? "amber" : "green";
            std::string reason = !(*best)["active"].get<bool>() ? fmt::format("slot {} is inactive: nothing streams from it ({} bytes behind)", slot, lag)
                                                                : fmt::format("slot {} active, {} bytes of WAL behind", slot, lag);
            json state = component_state("cdc", "change data capture", state_name, reason, dsn);
            state["lag_bytes"] = lag;
            state["slots"] = pg.slots;
            out.push_back(std::move(state));
        }
    } else {
        out.push_back(component_state("postgres", "PostgreSQL", "red", pg.error, dsn));
        out.push_back(component_state("cdc", "change data capture", "red", "PostgreSQL is unreachable, so the replication slot cannot be read", dsn));
    }
    // Stream processor: the lag of its consumer group.
    {
        auto it = group_stats.find(settings_.processor_group);
        if (!cluster) {
            out.push_back(component_state("processor", "Spark Structured Streaming", "red", "Kafka is unreachable", settings_.processor_group));
        } else if (it == group_stats.end()) {
            out.push_back(component_state("processor", "Spark Structured Streaming", "red",
                                          fmt::format("consumer group '{}' has no committed offsets: the processor has not run", settings_.processor_group),
                                          settings_.processor_group));
        } else {
            int64_t lag = it->second.value("lag", 0);
            std::string state = it->second.value("state", "");
            std::string color = state == "Empty" || state == "Dead" ? "amber" : lag > settings_.lag_warn ? "amber" : "green";
            std::string reason = state == "Empty" || state == "Dead"
                                     ? fmt::format("group '{}' has no active members ({} records behind)", settings_.processor_group, lag)
                                     : fmt::format("group '{}' {}, {} records behind", settings_.processor_group, state, lag);
            json s = component_state("processor", "Spark Structured Streaming", color, reason, settings_.processor_group);
            s["lag"] = lag;
            out.push_back(std::move(s));
        }
    }
    // Scheduler (Airflow-style REST API)
    if (auto url = scheduler_api_url()) {
        auto res = http_call("GET", *url + "/api/v1/health", timeout, {}, "application/json", settings_.own_auth);
        if (!res) {
            out.push_back(component_state("scheduler", "Apache Airflow", "red", res.err().message(), *url));
        } else if (res->status != 200) {
            out.push_back(component_state("scheduler", "Apache Airflow", "amber", fmt::format("GET /api/v1/health answered {}", res->status), *url));
        } else {
            auto body = json::parse(res->body, nullptr, false);
            std::string status = body.is_object() && body.contains("scheduler") && body["scheduler"].is_object()
                                     ? body["scheduler"].value("status", "unknown") : "unknown";
            out.push_back(component_state("scheduler", "Apache Airflow", status == "healthy" ? "green" : "amber",
                                          fmt::format("scheduler status {}", status), *url));
        }
    } else {
        out.push_back(component_state("scheduler", "Apache Airflow", "red", "no scheduler address configured", ""));
    }
    // Schema registry
    if (auto registry = registry_url()) {
        auto res = http_call("GET", *registry + "/subjects", timeout, {}, "application/json", registry_auth());
        auto url = std::optional<std::string>(security::redact_secrets(*registry));  // as shown
        if (!res) {
            out.push_back(component_state("registry", "Schema Registry", "red", res.err().message(), *url));
        } else {
            auto body = json::parse(res->body, nullptr, false);
            bool ok = res->status == 200 && body.is_array();
            out.push_back(component_state("registry", "Schema Registry", ok ? "green" : "amber",
                                          ok ? fmt::format("{} subject(s)", body.size()) : fmt::format("GET /subjects answered {}", res->status),
                                          *url));
        }
    } else {
        out.push_back(component_state("registry", "Schema Registry", "red", "no registry address configured", ""));
    }
    // Source API
    if (auto address = services::http_address(ctx_, "source")) {
        auto res = http_call("GET", http::own_url(settings_.own_auth, *address) + "/api/?results=1", timeout, {}, "application/json",
                             settings_.own_auth);
        if (!res) {
            out.push_back(component_state("source", "randomuser.me API", "red", res.err().message(), *address));
        } else {
            out.push_back(component_state("source", "randomuser.me API", res->status == 200 ? "green" : "amber",
                                          fmt::format("GET /api/ answered {}", res->status), *address));
        }
    }
    return out;
}

// Schemas: the registry's REST API ---------------------------------------------

result<json> service::registry_get(const std::string& url, const std::string& path) const {
    auto res = http_call("GET", url + path, settings_.request_timeout, {}, "application/json", registry_auth());
    if (!res) return res.err();
    auto body = json::parse(res->body, nullptr, false);
    if (res->status == 404) {
        std::string message = body.is_object() ? body.value("message", res->body) : res->body;
        return make_error(errc::not_found, "schema registry at {}: {}", url, message);
    }
    if (res->status != 200 || body.is_discarded()) {
        return make_error(errc::unavailable, "schema registry at {}: GET {} answered {}: {}", url, path, res->status, res->body.substr(0, 200));
    }
    return body;
}

http::response service::get_schemas(const http::request&) {
    auto url = registry_url();
    if (!url) return error_response(503, "no schema registry configured (start `millrace registry` or set console.registry_url)");
    auto get = [&](const std::string& path) { return registry_get(*url, path); };
    auto subjects = get("/subjects");
    if (!subjects) return error_response(subjects.err());
    auto config = get("/config");
    json rows = json::array();
    for (const auto& s : *subjects) {
        std::string subject = s;
        json row = {{"subject", subject}};
        const std::string path = "/subjects/" + http::percent_encode(subject);
        if (auto versions = get(path + "/versions"); versions) {
            row["versions"] = *versions;
            if (auto latest = get(path + "/versions/latest"); latest) {
                row["latest"] = latest->value("version", 0);
                row["id"] = latest->value("id", 0);
                row["type"] = latest->value("schemaType", "AVRO");
            }
        }
        if (auto own = get("/config/" + http::percent_encode(subject) + "?defaultToGlobal=false"); own) row["compatibility"] = own->value("compatibilityLevel", "");
        rows.push_back(std::move(row));
    }
    return json_response(200, json{{"registry", *url},
                                   {"compatibility", config ? config->value("compatibilityLevel", "") : std::string()},
                                   {"subjects", rows}});
}

http::response service::get_subject(const http::request& req) {
    auto url = registry_url();
    if (!url) return error_response(503, "no schema registry configured (start `millrace registry` or set console.registry_url)");
    auto get = [&](const std::string& path) { return registry_get(*url, path); };
    const std::string& subject = req.path_param("subject");
    const std::string version = req.path_params.size() > 1 ? req.path_param("version") : std::string("latest");
    const std::string path = "/subjects/" + http::percent_encode(subject);
    auto versions = get(path + "/versions");
    if (!versions) return error_response(versions.err());
    auto schema = get(path + "/versions/" + http::percent_encode(version));
    if (!schema) return error_response(schema.err());
    json out = {{"subject", subject}, {"versions", *versions}, {"schema", *schema}};
    if (auto own = get("/config/" + http::percent_encode(subject) + "?defaultToGlobal=true"); own) out["compatibility"] = own->value("compatibilityLevel", "");
    return json_response(200, out);
}

result<json> service::decode_avro(int32_t schema_id, std::string_view body) {
    std::shared_ptr<const avro::schema> schema;
    bool cached = false;
    {
        std::lock_guard lock(mutex_);
        auto it = schema_cache_.find(schema_id);
        if (it != schema_cache_.end()) {
            schema = it->second;
            cached = true;
        }
    }
    if (!cached) {
        auto url = registry_url();
        if (!url) return make_error(errc::unavailable, "schema id {}: no schema registry configured", schema_id);
        auto res = http_call("GET", fmt::format("{}/schemas/ids/{}", *url, schema_id), settings_.request_timeout, {},
                             "application/json", registry_auth());
        if (!res) return res.err();
        if (res->status != 200) {
            return make_error(errc::not_found, "schema id {}: the registry at {} answered {}: {}", schema_id, *url, res->status, res->body.substr(0, 200));
        }
        auto doc = json::parse(res->body, nullptr, false);
        if (doc.is_discarded() || !doc.contains("schema") || !doc["schema"].is_string()) {
            return make_error(errc::invalid_argument, "schema id {}: the registry's answer has no schema", schema_id);
        }
        std::string type = doc.value("schemaType", "AVRO");
        if (type == "AVRO") {
            std::vector<std::string> references;
            if (doc.contains("references") && doc["references"].is_array()) {
                for (const auto& ref : doc["references"]) {
                    auto ref_res = http_call("GET", fmt::format("{}/subjects/{}/versions/{}/schema", *url, ref.value("subject", ""),
                                                                ref.contains("version") ? ref["version"].dump() : std::string("latest")),
                                             settings_.request_timeout, {}, "application/json", registry_auth());
                    if (ref_res && ref_res->status == 200) references.push_back(ref_res->body);
                }
            }
            auto parsed = avro::schema::parse(doc["schema"].get<std::string>(), references);
            if (!parsed) return parsed.err().with_context(fmt::format("schema id {}", schema_id));
            schema = std::make_shared<const avro::schema>(std::move(*parsed));
        } else if (type != "JSON") {
            return make_error(errc::unsupported, "schema id {} is a {} schema; the console decodes AVRO and JSON", schema_id, type);
        }
        std::lock_guard lock(mutex_);
        if (schema_cache_.size() > 10000) schema_cache_.clear();
        schema_cache_[schema_id] = schema;
    }
    if (!schema) {  // JSON Schema: the payload is JSON text
        auto parsed = json::parse(body, nullptr, false);
        if (parsed.is_discarded()) return make_error(errc::invalid_argument, "schema id {}: the payload is not JSON", schema_id);
        return parsed;
    }
    auto datum = avro::decode(body, schema->root());
    if (!datum) return datum.err().with_context(fmt::format("decoding with schema id {}", schema_id));
    auto converted = json::parse(avro::json::dump(*datum), nullptr, false);
    if (converted.is_discarded()) return make_error(errc::invalid_argument, "schema id {}: the decoded datum is not JSON", schema_id);
    return converted;
}

// Scheduler: its Airflow-style REST API ----------------------------------------

http::response service::get_scheduler(const http::request&) {
    auto url = scheduler_api_url();
    if (!url) return error_response(503, "no scheduler configured (start `millrace scheduler`)");
    json out = {{"api", *url}, {"ui", settings_.scheduler_url.empty() ? *url : settings_.scheduler_url}};
    auto health = http_call("GET", *url + "/api/v1/health", settings_.request_timeout, {}, "application/json", settings_.own_auth);
    if (!health) return error_response(health.err());
    out["health"] = json::parse(health->body, nullptr, false);
    if (out["health"].is_discarded()) out["health"] = nullptr;
    auto dags = http_call("GET", *url + "/api/v1/dags", settings_.request_timeout, {}, "application/json", settings_.own_auth);
    if (dags && dags->status == 200) {
        auto body = json::parse(dags->body, nullptr, false);
        if (!body.is_discarded()) out["dags"] = body.value("dags", json::array());
        for (auto& dag : out["dags"]) {
            if (!dag.contains("dag_id")) continue;
            auto runs = http_call("GET", *url + "/api/v1/dags/" + dag["dag_id"].get<std::string>() + "/dagRuns?limit=5&order_by=-execution_date",
                                  settings_.request_timeout, {}, "application/json", settings_.own_auth);
            if (runs && runs->status == 200) {
                auto rb = json::parse(runs->body, nullptr, false);
                if (!rb.is_discarded()) dag["recent_runs"] = rb.value("dag_runs", json::array());
            }
        }
    } else {
        out["dags_error"] = dags ? fmt::format("GET /api/v1/dags answered {}", dags->status) : dags.err().message();
    }
    return json_response(200, out);
}

http::response service::get_pipeline(const http::request&) {
    std::lock_guard lock(mutex_);
    if (overview_.is_null()) return error_response(503, "the first sample is still being taken; retry in a moment");
    return json_response(200, overview_["pipeline"]);
}

namespace {

bool cql_identifier(const std::string& name) {
    return !name.empty() && name.size() <= 128 &&
           std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}


}  // namespace

json cql_value_json(const cql_client::value& v) {
    using cql_client::type_id;
    if (v.is_null()) return nullptr;
    switch (v.type().id) {
        case type_id::boolean: return v.as_bool();
        case type_id::tinyint:
        case type_id::smallint:
        case type_id::int_:
        case type_id::bigint:
        case type_id::counter: return v.as_int();
        case type_id::float_:
        case type_id::double_: return v.as_double();
        case type_id::ascii:
        case type_id::varchar: return v.as_text();
        case type_id::uuid:
        case type_id::timeuuid: return v.uuid_string();
        default: return cql_client::format_cell(v);  // timestamps, dates, blobs, collections as cqlsh shows them
    }
}

result<std::shared_ptr<cql_client::session>> service::cql_session() {
    {
        std::lock_guard stopping(mutex_);
        if (stopping_) return make_error(errc::unavailable, "the console is stopping");
    }
    std::lock_guard lock(cql_mutex_);
    if (cql_) return cql_;
    auto options = cql_client::options_from_contact_points(services::cql_contact_points(ctx_));
    if (!options) return options.err();
    auto login = services::cql_credentials(ctx_);
    options->username = login.username;
    options->password = login.password;
    options->tls_ca = login.tls_ca;
    options->connections_per_host = 1;
    options->connect_timeout = std::min<std::chrono::milliseconds>(settings_.request_timeout, std::chrono::milliseconds(3000));
    options->request_timeout = settings_.request_timeout;
    options->max_retries = 1;
    auto session = cql_client::session::connect(*options);
    if (!session) return session.err();
    cql_ = *session;
    return cql_;
}

std::string service::cql_session_probe() {
    auto session = cql_session();
    if (!session) return session.err().message();
    auto answered = (*session)->query("SELECT release_version FROM system.local");
    if (answered) return {};
    // A session whose server went away is dropped, so the next sample reconnects.
    std::lock_guard lock(cql_mutex_);
    if (cql_ == *session) cql_.reset();
    return answered.err().message();
}

http::response service::get_tables(const http::request&) {
    auto session = cql_session();
    if (!session) {
        return error_response(503, fmt::format("the CQL store at {} cannot be reached: {}", services::cql_contact_points(ctx_), session.err().message()));
    }
    auto listed = (*session)->query("SELECT keyspace_name, table_name FROM system_schema.tables");
    if (!listed) return error_response(503, listed.err().message());
    std::map<std::string, std::vector<std::string>> by_keyspace;
    if (auto names = (*session)->query("SELECT keyspace_name FROM system_schema.keyspaces"); names) {
        for (size_t idx = 0; idx < names->size(); ++idx) by_keyspace[names->at(idx, "keyspace_name").as_text()];
    }
    for (size_t idx = 0; idx < listed->size(); ++idx) {
        by_keyspace[listed->at(idx, "keyspace_name").as_text()].push_back(listed->at(idx, "table_name").as_text());
    }
    // Row counts as the store estimates them (system.size_estimates: exact
    // live rows on millrace's store, partition estimates on Cassandra).
    std::map<std::pair<std::string, std::string>, int64_t> estimates;
    if (auto sizes = (*session)->query("SELECT keyspace_name, table_name, partitions_count FROM system.size_estimates"); sizes) {
        for (size_t idx = 0; idx < sizes->size(); ++idx) {
            const auto& count = sizes->at(idx, "partitions_count");
            if (!count.is_null()) estimates[{sizes->at(idx, "keyspace_name").as_text(), sizes->at(idx, "table_name").as_text()}] += count.as_int();
        }
    }
    json keyspaces = json::array();
    for (auto& [name, tables] : by_keyspace) {
        std::sort(tables.begin(), tables.end());
        json counts = json::object();
        for (const auto& t : tables) {
            if (auto it = estimates.find({name, t}); it != estimates.end()) counts[t] = it->second;
        }
        keyspaces.push_back({{"name", name}, {"tables", tables}, {"rows", counts}, {"system", name.rfind("system", 0) == 0}});
    }
    return json_response(200, json{{"contact_points", services::cql_contact_points(ctx_)}, {"keyspaces", keyspaces},
                                   {"default_table", settings_.pipeline_table}});
}

http::response service::get_table_rows(const http::request& req) {
    const std::string& keyspace = req.path_param("keyspace");
    const std::string& table = req.path_param("table");
    if (!cql_identifier(keyspace) || !cql_identifier(table)) {
        return error_response(400, fmt::format("expected /api/tables/<keyspace>/<table>/rows with names of [A-Za-z0-9_], not {}", req.path));
    }
    auto session = cql_session();
    if (!session) {
        return error_response(503, fmt::format("the CQL store at {} cannot be reached: {}", services::cql_contact_points(ctx_), session.err().message()));
    }
    int64_t page_size = 25;
    if (const std::string* text = req.param("page_size")) {
        auto parsed = parse_integer("page_size", *text, 1, 1000);
        if (!parsed) return error_response(parsed.err());
        page_size = *parsed;
    }
    cql_client::query_options opts;
    opts.page_size = static_cast<int32_t>(page_size);
    if (const std::string* state = req.param("paging_state"); state != nullptr && !state->empty()) {
        auto raw = unbase64(*state);
        if (!raw) return error_response(raw.err());
        opts.paging_state = *raw;
    }
    auto page = (*session)->query(fmt::format("SELECT * FROM \"{}\".\"{}\"", keyspace, table), {}, opts);
    if (!page) {
        auto code = cql_client::server_error_code(page.err());
        int status = code && (*code == 0x2200 || *code == 0x2000) ? 404 : code ? 400 : 503;
        return error_response(status, fmt::format("{}.{}: {}", keyspace, table, page.err().message()));
    }
    json columns = json::array();
    for (const auto& c : page->columns) columns.push_back({{"name", c.name}, {"type", c.type.to_string()}});
    json rows = json::array();
    for (const auto& r : page->data) {
        json row = json::object();
        for (size_t idx = 0; idx < r.size() && idx < page->columns.size(); ++idx) row[page->columns[idx].name] = cql_value_json(r[idx]);
        rows.push_back(std::move(row));
    }
    return json_response(200, json{{"keyspace", keyspace},
                                   {"table", table},
                                   {"columns", columns},
                                   {"rows", rows},
                                   {"paging_state", page->paging_state ? json(base64(*page->paging_state)) : json(nullptr)}});
}

}  // namespace millrace::console
