#include "broker_core.h"
#include "txn/txn_coordinator.h"

#include <charconv>
#include <random>

#include "flusher.h"
#include "group/coordinator.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

constexpr int64_t k_producer_id_block = 1000;

std::string random_cluster_id() {
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::random_device device;
    std::string id;
    for (int idx = 0; idx < 22; ++idx) id.push_back(alphabet[device() % 64]);
    return id;
}

}  // namespace

std::map<std::string, std::string> parse_properties(std::string_view text) {
    std::map<std::string, std::string> out;
    while (!text.empty()) {
        size_t end = text.find('\n');
        std::string_view line = text.substr(0, end);
        text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
        size_t eq = line.find('=');
        if (eq != std::string_view::npos) out.emplace(line.substr(0, eq), line.substr(eq + 1));
    }
    return out;
}

broker_core::broker_core(asio::io_context& io, broker_config cfg, metrics::registry& metrics, millrace::clock& clock,
                         file_system& fs)
    : io_(io),
      cfg_(std::move(cfg)),
      metrics_(metrics),
      clock_(clock),
      fs_(fs),
      fetch_sessions_(clock, cfg_.fetch_session_cache_slots, cfg_.fetch_session_eviction_ms) {
    topics_ = std::make_unique<topic_registry>(*this);
    group_settings settings;
    settings.initial_rebalance_delay_ms = cfg_.group_initial_rebalance_delay_ms;
    settings.min_session_timeout_ms = cfg_.group_min_session_timeout_ms;
    settings.max_session_timeout_ms = cfg_.group_max_session_timeout_ms;
    settings.offsets_retention_ms = cfg_.offsets_retention_ms;
    settings.consumer_session_timeout_ms = static_cast<int32_t>(cfg_.group_consumer_session_timeout_ms);
    settings.consumer_heartbeat_interval_ms = static_cast<int32_t>(cfg_.group_consumer_heartbeat_interval_ms);
    if (!cfg_.group_consumer_assignors.empty()) settings.consumer_assignors = cfg_.group_consumer_assignors;
    groups_ = std::make_unique<group_coordinator>(io_, clock_, fs_, cfg_.data_dir + "/.groups", settings, metrics_);
    flusher_ = std::make_unique<flusher>(io_, metrics_);
    security_ = std::make_unique<auth::security_manager>(fs_, cfg_.data_dir + "/.security", cfg_.security);
    txns_ = std::make_unique<txn_coordinator>(*this, cfg_.data_dir + "/.transactions", cfg_.transaction_max_timeout_ms);
}

broker_core::~broker_core() = default;

namespace {

constexpr const char* k_dynamic_file = "dynamic.properties";

// Applies one dynamic broker config to `cfg`; errc::invalid_argument when the
// key is not dynamic or the value is out of range.
status apply_dynamic(broker_config& cfg, const std::string& key, const std::string& value) {
    int64_t number = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), number);
    if (ec != std::errc() || end != value.data() + value.size()) {
        return make_error(errc::invalid_argument, "{}: '{}' is not a number", key, value);
    }
    if (key == "log.retention.ms") {
        if (number < -1) return make_error(errc::invalid_argument, "log.retention.ms {} is below -1", number);
        cfg.retention_ms = number;
    } else if (key == "log.retention.bytes") {
        if (number < -1) return make_error(errc::invalid_argument, "log.retention.bytes {} is below -1", number);
        cfg.retention_bytes = number;
    } else if (key == "log.segment.bytes") {
        if (number < 1024) return make_error(errc::invalid_argument, "log.segment.bytes {} is below 1024", number);
        cfg.segment_bytes = number;
    } else if (key == "message.max.bytes") {
        if (number < 0) return make_error(errc::invalid_argument, "message.max.bytes must not be negative");
        cfg.max_message_bytes = number;
    } else {
        return make_error(errc::invalid_argument, "broker config '{}' cannot be changed while running", key);
    }
    return {};
}

}  // namespace

status broker_core::set_dynamic_configs(const std::map<std::string, std::string>& values, bool validate_only) {
    broker_config next = static_cfg_;
    for (const auto& [key, value] : values) {
        if (auto st = apply_dynamic(next, key, value); !st) return st;
    }
    if (validate_only) return {};
    std::string text;
    for (const auto& [key, value] : values) text += fmt::format("{}={}\n", key, value);
    if (auto st = write_file_atomic(fs_, cfg_.data_dir + "/" + k_dynamic_file, text); !st) return st;
    cfg_ = next;
    dynamic_ = values;
    topics_->reapply_configs();
    return {};
}

status broker_core::open() {
    if (auto st = fs_.create_directories(cfg_.data_dir); !st) return st;
    std::string meta_path = cfg_.data_dir + "/meta.properties";
    if (fs_.exists(meta_path)) {
        auto text = read_file(fs_, meta_path);
        if (!text) return text.err();
        cluster_id_ = parse_properties(*text)["cluster.id"];
        if (cluster_id_.empty()) return make_error(errc::corruption, "{}: no cluster.id", meta_path);
    } else {
        cluster_id_ = random_cluster_id();
        auto st = write_file_atomic(fs_, meta_path,
                                    fmt::format("version=1\ncluster.id={}\nnode.id={}\n", cluster_id_, cfg_.node_id));
        if (!st) return st;
    }
    std::string ids_path = cfg_.data_dir + "/.producer_ids";
    if (fs_.exists(ids_path)) {
        auto text = read_file(fs_, ids_path);
        if (!text) return text.err();
        auto value = parse_properties(*text)["next"];
        std::from_chars(value.data(), value.data() + value.size(), next_producer_id_);
        producer_id_limit_ = next_producer_id_;  // a fresh block is reserved on first use
    }
    static_cfg_ = cfg_;
    std::string dynamic_path = cfg_.data_dir + "/" + k_dynamic_file;
    if (fs_.exists(dynamic_path)) {
        auto text = read_file(fs_, dynamic_path);
        if (!text) return text.err();
        dynamic_ = parse_properties(*text);
        for (const auto& [key, value] : dynamic_) {
            if (auto st = apply_dynamic(cfg_, key, value); !st) {
                return make_error(errc::corruption, "{}: {}", dynamic_path, st.err().message());
            }
        }
    }
    if (auto st = fs_.create_directories(cfg_.data_dir + "/.security"); !st) return st;
    if (auto st = security_->open(); !st) return st;
    if (auto st = topics_->open(); !st) return st;
    if (auto st = groups_->open(); !st) return st;
    // After the logs and groups: open transactions are aborted with markers.
    if (auto st = txns_->open(); !st) return st;
    // From here on, until close() rewrites it, a crash is not a clean shutdown.
    std::string marker = cfg_.data_dir + "/.clean_shutdown";
    if (fs_.exists(marker)) {
        if (auto st = fs_.remove(marker); !st) return st;
        (void)fs_.sync_dir(cfg_.data_dir);
    }
    return {};
}

void broker_core::close() {
    flusher_->stop();
    txns_->close();
    groups_->close();
    topics_->close();
    if (auto st = write_file_atomic(fs_, cfg_.data_dir + "/.clean_shutdown", "clean\n"); !st) {
        log_.error("writing the clean-shutdown marker: {}", st.err().message());
    }
}

broker_core::topic_stats& broker_core::stats(const std::string& topic) {
    auto it = stats_.find(topic);
    if (it == stats_.end()) {
        metrics::labels l = {{"topic", topic}};
        auto entry = std::unique_ptr<topic_stats>(new topic_stats{
            metrics_.make_counter("millrace_broker_bytes_in_total", "Bytes produced, by topic.", l),
            metrics_.make_counter("millrace_broker_records_in_total", "Records produced, by topic.", l),
            metrics_.make_counter("millrace_broker_bytes_out_total", "Bytes fetched, by topic.", l),
            metrics_.make_counter("millrace_broker_records_out_total", "Records fetched, by topic.", l)});
        it = stats_.emplace(topic, std::move(entry)).first;
    }
    return *it->second;
}

result<int64_t> broker_core::next_producer_id() {
    if (next_producer_id_ >= producer_id_limit_) {
        int64_t limit = next_producer_id_ + k_producer_id_block;
        auto st = write_file_atomic(fs_, cfg_.data_dir + "/.producer_ids", fmt::format("next={}\n", limit));
        if (!st) return st.err();
        producer_id_limit_ = limit;
    }
    return next_producer_id_++;
}

}  // namespace millrace::kafka
