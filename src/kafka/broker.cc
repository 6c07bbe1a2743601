// The broker component: configuration, the connection loop (framing, request
// headers, dispatch, ordered responses), periodic tasks and metrics.
#include "millrace/kafka/broker.h"

#include <chrono>

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "auth/security.h"
#include "broker_core.h"
#include "txn/txn_coordinator.h"
#include "millrace/common/connection.h"
#include "millrace/common/endian.h"
#include "flusher.h"
#include "group/coordinator.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

using config::key_spec;
using config::value_kind;

// Requests a connection may have queued before the loop stops reading more.
constexpr size_t k_max_in_flight = 64;
// A request whose body has not fully arrived this long after its size prefix
// closes the connection; so does a connection idle as long as Kafka's
// connections.max.idle.ms (10 minutes).
constexpr auto k_request_read_timeout = std::chrono::seconds(60);
constexpr auto k_idle_timeout = std::chrono::minutes(10);

result<flush_policy> parse_flush(const std::string& text) {
    if (text == "acks_all") return flush_policy::acks_all;
    if (text == "always") return flush_policy::always;
    if (text == "interval") return flush_policy::interval;
    if (text == "os") return flush_policy::os;
    return make_error(errc::invalid_argument, "unknown flush policy {}", text);
}

std::string short_hostname() {
    char name[256] = {};
    if (::gethostname(name, sizeof(name) - 1) != 0) return "localhost";
    return name;
}

class broker_component final : public component {
public:
    broker_component(component_context& ctx, broker_config cfg)
        : ctx_(ctx),
          core_(ctx.io, std::move(cfg), ctx.metrics, ctx.clock, ctx.fs),
          server_(ctx.io, "broker", [this](net::stream& socket) { return serve(socket); }),
          periodic_(ctx.io),
          connections_(ctx.metrics.make_gauge("millrace_broker_connections", "Open client connections.")),
          protocol_errors_(ctx.metrics.make_counter("millrace_broker_protocol_errors_total",
                                                     "Connections closed for malformed or oversized requests.")) {
        for (const auto& spec : supported_apis()) {
            api_metrics_[static_cast<int16_t>(spec.key)] =
                metrics::request_metrics(ctx.metrics, "millrace_broker", "api", std::string(spec.name));
        }
    }

    std::string name() const override { return "broker"; }

    result<std::optional<net::endpoint>> start() override {
        if (auto st = core_.open(); !st) {
            return st.err().with_context(fmt::format("broker: cannot open data directory {}", core_.config().data_dir));
        }
        opened_ = true;
        auto ep = server_.start(core_.config().host, core_.config().port, "broker.port");
        if (!ep) return ep.err();
        std::string advertised = core_.config().advertised_host;
        if (advertised.empty()) {
            advertised = core_.config().host;
            if (advertised == "0.0.0.0" || advertised == "::") advertised = short_hostname();
        }
        core_.set_advertised(advertised, ep->port);
        register_lag_metrics();
        asio::co_spawn(ctx_.io, periodic_tasks(), asio::detached);
        core_.log().info("serving Kafka protocol on {} (advertised as {}:{}), cluster id {}, data in {}", ep->to_string(),
                         advertised, ep->port, core_.cluster_id(), core_.config().data_dir);
        return std::optional<net::endpoint>(net::endpoint{advertised, ep->port});
    }

    void stop() override {
        stopping_ = true;
        periodic_.cancel();
        // Parked long-poll fetches answer now, not at their clients' deadlines.
        core_.stop_parked_requests();
        server_.stop();
        // Only a broker that opened its logs may mark them cleanly shut down.
        if (opened_) core_.close();
    }

private:
    void register_lag_metrics() {
        ctx_.metrics.add_collector([this](std::string& out) {
            out += "# HELP millrace_broker_consumer_lag Committed-offset lag per group and partition.\n"
                   "# TYPE millrace_broker_consumer_lag gauge\n";
            core_.groups().for_each_committed([&](const std::string& group, const std::string& topic_name,
                                                  int32_t partition, int64_t offset) {
                topic* t = core_.topics().find(topic_name);
                auto* log = t ? t->partition(partition) : nullptr;
                if (log == nullptr) return;
                out += fmt::format("millrace_broker_consumer_lag{{group=\"{}\",topic=\"{}\",partition=\"{}\"}} {}\n", group,
                                   topic_name, partition, std::max<int64_t>(0, log->next_offset() - offset));
            });
            out += "# HELP millrace_broker_log_end_offset Next offset of each partition.\n"
                   "# TYPE millrace_broker_log_end_offset gauge\n";
            for (const auto& [name, t] : core_.topics().all()) {
                for (int32_t idx = 0; idx < t->partition_count(); ++idx) {
                    out += fmt::format("millrace_broker_log_end_offset{{topic=\"{}\",partition=\"{}\"}} {}\n", name, idx,
                                       t->partitions[idx]->next_offset());
                }
            }
        });
    }

    asio::awaitable<void> periodic_tasks() {
        auto last_retention = std::chrono::steady_clock::now();
        auto last_flush = last_retention;
        const auto& cfg = core_.config();
        while (!stopping_) {
            periodic_.expires_after(std::chrono::milliseconds(100));
            std::error_code ec;
            co_await periodic_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            if (stopping_) co_return;
            auto now = std::chrono::steady_clock::now();
            core_.groups().tick();
            core_.txns().tick();
            if (cfg.flush != flush_policy::os && now - last_flush >= std::chrono::milliseconds(cfg.flush_interval_ms)) {
                last_flush = now;
                for (const auto& [name, t] : core_.topics().all()) {
                    for (auto& p : t->partitions) {
                        if (p->flushed_offset() < p->next_offset()) core_.flush().request(*p);
                    }
                }
            }
            if (now - last_retention >= std::chrono::milliseconds(cfg.retention_check_interval_ms)) {
                last_retention = now;
                core_.topics().enforce_retention();
            }
        }
    }

    // The Kafka framing on the shared connection base: a 4-byte size, then
    // the request; responses in request order. One instance per connection:
    // its per-connection state (the SASL session when security.enabled).
    class kafka_connection final : public net::frame_protocol {
    public:
        explicit kafka_connection(broker_component& broker) : broker_(broker) {
            if (broker_.core_.security().enabled()) sasl_ = std::make_unique<auth::sasl_session>(broker_.core_.security());
        }

        // The connection's SASL session; nullptr when security is off.
        auth::sasl_session* session() { return sasl_.get(); }

        size_t header_size() const override { return 4; }

        asio::awaitable<std::optional<size_t>> body_length(net::framed_connection& conn, const std::string& h) override {
            int32_t size = static_cast<int32_t>(endian::load_be<uint32_t>(h));
            const auto& cfg = broker_.core_.config();
            if (size < 8 || size > cfg.max_request_bytes) {
                broker_.protocol_errors_.inc();
                broker_.core_.log().warn("closing connection from {}: request size {} is outside 8..{} (broker.max_request_size)",
                                         conn.peer(), size, cfg.max_request_bytes);
                co_return std::nullopt;
            }
            co_return static_cast<size_t>(size);
        }

        asio::awaitable<bool> on_frame(net::framed_connection& conn, std::shared_ptr<net::response_slot> slot, std::string,
                                       std::shared_ptr<std::string> body) override {
            reader header(*body);
            int16_t key = header.int16();
            int16_t version = header.int16();
            int32_t correlation_id = header.int32();
            const api_spec* spec = find_api(key);
            if (sasl_ && !sasl_->admit(key, broker_.now_ms())) {
                // Kafka closes a connection that sends anything but SASL before
                // authenticating, or anything but re-authentication once its
                // session (connections.max.reauth.ms) has expired.
                broker_.core_.log().info("closing connection from {}: api key {} {}", conn.peer(), key,
                                         sasl_->authenticated() ? "after the SASL session expired"
                                                                : "before SASL authentication");
                conn.respond(slot, {}, false);
                co_return false;
            }
            if (spec == nullptr || version < spec->min_version || version > spec->max_version) {
                if (key == static_cast<int16_t>(api_key::api_versions)) {
                    // The protocol's answer: a v0 body with UNSUPPORTED_VERSION and our ranges.
                    std::string bytes;
                    writer w(bytes);
                    w.int32(0);
                    w.int32(correlation_id);
                    write_api_versions_fallback(w, error_code::unsupported_version);
                    w.patch_int32(0, static_cast<int32_t>(bytes.size() - 4));
                    conn.respond(slot, std::move(bytes));
                    co_return true;
                }
                broker_.protocol_errors_.inc();
                broker_.core_.log().warn("closing connection from {}: {} (api key {}) version {} is not supported", conn.peer(),
                                         spec ? spec->name : "unknown API", key, version);
                conn.respond(slot, {}, false);
                co_return false;
            }
            auto self = conn.shared_from_this();
            if (spec->key == api_key::produce) {
                // Produce appends in order right away; waiting for durability
                // runs beside the next requests, so one fsync covers many.
                asio::co_spawn(conn.executor(), broker_.handle(spec, version, correlation_id, body, slot, self), asio::detached);
            } else {
                // A failed authentication: its reply is the connection's last word.
                if (!co_await broker_.handle(spec, version, correlation_id, body, slot, self)) co_return false;
            }
            co_return true;
        }

    private:
        broker_component& broker_;
        std::unique_ptr<auth::sasl_session> sasl_;  // security.enabled only
    };

    asio::awaitable<void> serve(net::stream& socket) {
        connections_.add(1);
        struct guard {
            metrics::gauge& g;
            ~guard() { g.add(-1); }
        } connection_guard{connections_};
        std::string peer;
        {
            std::error_code ec;
            auto remote = socket.socket().remote_endpoint(ec);
            peer = ec ? "unknown" : remote.address().to_string();
        }
        net::framed_connection::options opts;
        opts.max_in_flight = k_max_in_flight;
        opts.ordered = true;
        opts.idle_timeout = k_idle_timeout;
        opts.request_timeout = k_request_read_timeout;
        auto conn = std::make_shared<net::framed_connection>(socket, opts, std::make_shared<kafka_connection>(*this),
                                                             core_.log(), &protocol_errors_, std::move(peer));
        co_await conn->run();
    }

    // Answers one request; false when the connection should stop reading
    // after this response (a failed SASL authentication).
    asio::awaitable<bool> handle(const api_spec* spec, int16_t version, int32_t correlation_id,
                                 std::shared_ptr<std::string> body, std::shared_ptr<net::response_slot> slot,
                                 std::shared_ptr<net::framed_connection> conn) {
        auto start = std::chrono::steady_clock::now();
        bool flexible = version >= spec->first_flexible;
        request_context ctx{core_, spec->key, version, flexible, correlation_id, {}, conn->peer()};
        // The protocol object lives as long as the connection object this handler holds.
        ctx.session = static_cast<kafka_connection&>(conn->protocol()).session();
        std::string bytes;
        writer out(bytes);
        try {
            reader in(*body);
            in.int16();
            in.int16();
            in.int32();
            ctx.client_id = in.nullable_string(false).value_or("");
            in.skip_tags(flexible);
            out.int32(0);  // size, patched below
            out.int32(correlation_id);
            // ApiVersions always answers with response header v0.
            if (flexible && spec->key != api_key::api_versions) out.empty_tags(true);
            co_await find_handler(spec->key)(ctx, in, out);
            out.patch_int32(0, static_cast<int32_t>(bytes.size() - 4));
        } catch (const protocol_error& e) {
            protocol_errors_.inc();
            core_.log().warn("closing connection from {} (client {}): malformed {} v{} request: {}", conn->peer(), ctx.client_id,
                             spec->name, version, e.what());
            conn->respond(slot, {}, false);
            conn->abort();
            co_return false;
        }
        api_metrics_[static_cast<int16_t>(spec->key)].observe(start);
        conn->respond(slot, std::move(bytes), ctx.send_response);
        co_return !ctx.close_after_response;
    }

    int64_t now_ms() const {
        return std::chrono::duration_cast<std::chrono::milliseconds>(ctx_.clock.mono_now().time_since_epoch()).count();
    }

    component_context& ctx_;
    broker_core core_;
    net::tcp_server server_;
    asio::steady_timer periodic_;
    metrics::gauge& connections_;
    metrics::counter& protocol_errors_;
    std::map<int16_t, metrics::request_metrics> api_metrics_;
    bool stopping_ = false;
    bool opened_ = false;
};

}  // namespace

void add_options(config::schema& s) {
    s.add({"broker.advertised_host", value_kind::string, "",
           "Host that Metadata tells clients to connect to; empty means broker.host (or this machine's name when "
           "broker.host is 0.0.0.0)."});
    s.add({"broker.node_id", value_kind::integer, "1", "This broker's node id.", {}, 0, INT32_MAX});
    s.add({"broker.num_partitions", value_kind::integer, "1", "Partitions of auto-created topics and of CreateTopics "
           "requests that ask for the default.", {}, 1, 100000});
    s.add({"broker.auto_create_topics", value_kind::boolean, "true",
           "Create a topic when a client asks for its metadata or produces to it (auto.create.topics.enable)."});
    s.add({"broker.flush_policy", value_kind::choice, "acks_all",
           "When the log is fsynced: acks_all fsyncs before acknowledging acks=-1 produce requests; always before "
           "acknowledging every produce; interval every broker.flush_interval; os leaves it to the OS.",
           {"acks_all", "always", "interval", "os"}});
    s.add({"broker.flush_interval", value_kind::duration_ms, "1s",
           "Background fsync interval for data not yet flushed (all policies but os).", {}, 1, INT64_MAX});
    s.add({"broker.max_request_size", value_kind::size, "100MiB",
           "Largest request accepted; a larger size prefix closes the connection before any allocation.", {}, 1024, INT32_MAX});
    s.add({"broker.max_message_bytes", value_kind::size, "1048588", "Largest record batch a topic accepts (max.message.bytes).",
           {}, 0, INT32_MAX});
    s.add({"broker.segment_bytes", value_kind::size, "1GiB", "Segment size before a new one is rolled (segment.bytes).", {}, 1024, INT32_MAX});
    s.add({"broker.segment_ms", value_kind::duration_ms, "7d", "Segment age before a new one is rolled (segment.ms).", {}, 1, INT64_MAX});
    s.add({"broker.retention_ms", value_kind::duration_ms, "7d", "How long data is kept (retention.ms); -1 keeps it forever.", {}, -1, INT64_MAX});
    s.add({"broker.retention_bytes", value_kind::size, "-1", "Size each partition is cut down to (retention.bytes); -1 for no limit.", {}, -1, INT64_MAX});
    s.add({"broker.retention_check_interval", value_kind::duration_ms, "30s", "How often retention is applied.", {}, 100, INT64_MAX});
    s.add({"broker.group_initial_rebalance_delay", value_kind::duration_ms, "0ms",
           "How long a new group waits for more members before its first rebalance (Kafka's default is 3s; 0 starts "
           "consumers faster on a laptop).", {}, 0, 300'000});
    s.add({"broker.group_min_session_timeout", value_kind::duration_ms, "6s", "Smallest session timeout a consumer may ask for.", {}, 1, INT64_MAX});
    s.add({"broker.group_max_session_timeout", value_kind::duration_ms, "30m", "Largest session timeout a consumer may ask for.", {}, 1, INT64_MAX});
    s.add({"broker.group_consumer_session_timeout", value_kind::duration_ms, "45s",
           "KIP-848 consumer groups: a member without a heartbeat for this long is removed "
           "(group.consumer.session.timeout.ms).", {}, 1, INT32_MAX});
    s.add({"broker.group_consumer_heartbeat_interval", value_kind::duration_ms, "5s",
           "KIP-848 consumer groups: how often members heartbeat (group.consumer.heartbeat.interval.ms).", {}, 1,
           INT32_MAX});
    s.add({"broker.group_consumer_assignors", value_kind::string_list, "uniform,range",
           "KIP-848 consumer groups: the server-side assignors members may choose, the first the default "
           "(group.consumer.assignors; uniform and range exist)."});
    s.add({"broker.super_users", value_kind::string_list, "",
           "Principals (User:name) allowed everything whatever the ACLs say (Kafka's super.users), when "
           "security.enabled; the admin user (security.admin_user) always is one."});
    s.add({"broker.connections_max_reauth_ms", value_kind::duration_ms, "0",
           "Kafka's connections.max.reauth.ms: a SASL session's lifetime, after which the client must "
           "re-authenticate (KIP-368) or its connection is closed at its next request; 0 turns it off.", {}, 0, INT64_MAX});
    s.add({"broker.offsets_retention", value_kind::duration_ms, "7d", "How long committed offsets of an empty group are kept.", {}, 1, INT64_MAX});
    s.add({"broker.transaction_max_timeout", value_kind::duration_ms, "15m",
           "Kafka's transaction.max.timeout.ms: the longest transaction.timeout.ms a transactional producer may ask "
           "for (InitProducerId answers INVALID_TRANSACTION_TIMEOUT beyond it).", {}, 1, INT32_MAX});
}

std::unique_ptr<component> make_broker(component_context& ctx) {
    const auto& c = ctx.cfg;
    broker_config cfg;
    cfg.host = c.get_string("broker.host");
    cfg.port = c.get_port("broker.port");
    cfg.advertised_host = c.get_string("broker.advertised_host");
    cfg.data_dir = ctx.data_dir;
    cfg.node_id = static_cast<int32_t>(c.get_int("broker.node_id"));
    cfg.num_partitions = static_cast<int32_t>(c.get_int("broker.num_partitions"));
    cfg.auto_create_topics = c.get_bool("broker.auto_create_topics");
    cfg.flush = parse_flush(c.get_string("broker.flush_policy")).value();
    cfg.flush_interval_ms = c.get_int("broker.flush_interval");
    cfg.max_request_bytes = c.get_int("broker.max_request_size");
    cfg.max_message_bytes = c.get_int("broker.max_message_bytes");
    cfg.segment_bytes = c.get_int("broker.segment_bytes");
    cfg.segment_ms = c.get_int("broker.segment_ms");
    cfg.retention_ms = c.get_int("broker.retention_ms");
    cfg.retention_bytes = c.get_int("broker.retention_bytes");
    cfg.retention_check_interval_ms = c.get_int("broker.retention_check_interval");
    cfg.group_initial_rebalance_delay_ms = c.get_int("broker.group_initial_rebalance_delay");
    cfg.group_min_session_timeout_ms = c.get_int("broker.group_min_session_timeout");
    cfg.group_max_session_timeout_ms = c.get_int("broker.group_max_session_timeout");
    cfg.offsets_retention_ms = c.get_int("broker.offsets_retention");
    cfg.transaction_max_timeout_ms = c.get_int("broker.transaction_max_timeout");
    cfg.group_consumer_session_timeout_ms = c.get_int("broker.group_consumer_session_timeout");
    cfg.group_consumer_heartbeat_interval_ms = c.get_int("broker.group_consumer_heartbeat_interval");
    cfg.group_consumer_assignors = c.get_list("broker.group_consumer_assignors");
    // security.* belong to the whole process; a schema without them means security is off.
    cfg.security.enabled = c.has("security.enabled") && c.get_bool("security.enabled");
    if (c.has("security.admin_user")) cfg.security.admin_user = c.get_string("security.admin_user");
    if (c.has("security.admin_password")) cfg.security.admin_password = c.get_string("security.admin_password");
    cfg.security.super_users = c.get_list("broker.super_users");
    cfg.security.reauth_ms = c.get_int("broker.connections_max_reauth_ms");
    return std::make_unique<broker_component>(ctx, std::move(cfg));
}

}  // namespace millrace::kafka
