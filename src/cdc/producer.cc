#include "producer.h"

#include <chrono>
#include <map>
#include <memory>

#include <librdkafka/rdkafka.h>

#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/kafka_client/offsets.h"

namespace millrace::cdc {
namespace {

const log::logger k_log("cdc");
// Reading the topics' offsets when a slot is resumed.
constexpr std::chrono::milliseconds k_offsets_timeout{15000};
using steady = std::chrono::steady_clock;

}  // namespace

void log_kafka(const rd_kafka_t*, int level, const char* fac, const char* buf) {
    if (level <= 3) {
        k_log.warn("kafka: {}: {}", fac, buf);
    } else {
        k_log.debug("kafka: {}: {}", fac, buf);
    }
}

// ---- producer ------------------------------------------------------------------

void producer::on_delivery(rd_kafka_t*, const rd_kafka_message_t* message, void* opaque) {
    auto* self = static_cast<producer*>(opaque);
    auto txn = static_cast<ack_tracker::txn_id>(reinterpret_cast<uintptr_t>(message->_private));
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (!self->delivery_error_) {
            self->delivery_error_ = make_error(errc::unavailable, "broker did not take a message for topic {}: {}",
                                               rd_kafka_topic_name(message->rkt), rd_kafka_err2str(message->err));
        }
        return;
    }
    self->tracker_.ack(txn);
}

status producer::open(const std::vector<std::pair<std::string, std::string>>& settings) {
    if (handle_) return {};
    delivery_error_.reset();
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [key, value] : settings) {
        if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return make_error(errc::invalid_argument, "Kafka producer setting {}={}: {}", key,
                              security::printable_property(key, value), errstr);
        }
    }
    rd_kafka_conf_set_opaque(conf, this);
    rd_kafka_conf_set_dr_msg_cb(conf, &producer::on_delivery);
    rd_kafka_conf_set_log_cb(conf, &log_kafka);
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (handle_ == nullptr) return make_error(errc::invalid_argument, "Kafka producer: {}", errstr);
    return {};
}

status producer::check() const {
    if (delivery_error_) return *delivery_error_;
    char errstr[512];
    if (handle_ != nullptr && rd_kafka_fatal_error(handle_, errstr, sizeof errstr) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(errc::unavailable, "Kafka producer failed: {}", errstr);
    }
    return {};
}

void producer::poll(int ms) {
    if (handle_ != nullptr) rd_kafka_poll(handle_, ms);
}

status producer::produce(const std::string& topic, const message& m, ack_tracker::txn_id txn,
                         const std::function<status()>& while_full, std::string_view where, int64_t max_buffered_bytes) {
    rd_kafka_headers_t* headers = rd_kafka_headers_new(m.headers.size());
    for (const auto& [name, value] : m.headers) {
        rd_kafka_header_add(headers, name.c_str(), -1, value.data(), static_cast<ssize_t>(value.size()));
    }
    const void* key_data = m.key ? m.key->data() : nullptr;
    size_t key_size = m.key ? m.key->size() : 0;
    const void* value_data = m.value ? m.value->data() : nullptr;
    size_t value_size = m.value ? m.value->size() : 0;
    tracker_.add_message(txn);
    while (true) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            handle_, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_KEY(const_cast<void*>(key_data), key_size),
            RD_KAFKA_V_VALUE(const_cast<void*>(value_data), value_size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(txn))),
            RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) break;
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL && tracker_.in_flight() <= 1) {
            // Nothing else is buffered: this row alone exceeds the buffer and would wait forever.
            err = RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE;
        }
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) {
            rd_kafka_headers_destroy(headers);
            if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) {
                return make_error(errc::invalid_argument,
                                  "a {}-byte row of {} does not fit the producer: raise cdc.max_buffered_bytes "
                                  "(now {} bytes) and the topic's max.message.bytes",
                                  key_size + value_size, where, max_buffered_bytes);
            }
            return make_error(errc::io_error, "producing to topic {}: {}", topic, rd_kafka_err2str(err));
        }
        // Backpressure: the producer holds cdc.max_buffered_bytes; stop
        // reading the replication stream until the broker takes some, but
        // keep telling PostgreSQL we are alive.
        if (!backpressured_) {
            backpressured_ = true;
            k_log.warn("producer buffer full ({} messages in flight): pausing the replication stream", tracker_.in_flight());
        }
        rd_kafka_poll(handle_, 100);
        status st = check();
        if (st) st = while_full();
        if (!st) {
            rd_kafka_headers_destroy(headers);
            return st;
        }
    }
    if (backpressured_) {
        backpressured_ = false;
        k_log.info("producer buffer drained: resuming the replication stream");
    }
    return {};
}

void producer::close(bool purge) {
    if (handle_ == nullptr) return;
    if (purge) {
        rd_kafka_purge(handle_, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(handle_, 0);
    }
    rd_kafka_destroy(handle_);
    handle_ = nullptr;
    delivery_error_.reset();
}

// ---- reading the topics back ----------------------------------------------------

namespace {

std::optional<std::string> header(rd_kafka_headers_t* headers, const char* name) {
    const void* value = nullptr;
    size_t size = 0;
    if (headers == nullptr || rd_kafka_header_get_last(headers, name, &value, &size) != RD_KAFKA_RESP_ERR_NO_ERROR ||
        value == nullptr) {
        return std::nullopt;
    }
    return std::string(static_cast<const char*>(value), size);
}

// Reads offsets [begin, end) of one partition into in_topics; `older`
// when a record there was committed before `resume_at` (or predates the
// commit_lsn header).
status read_range(rd_kafka_t* rk, const std::string& topic, int partition, int64_t begin, int64_t end, lsn resume_at,
                  bool& older, uint64_t& read, std::unordered_set<uint64_t>& in_topics,
                  const std::function<bool()>& running) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, topic.c_str(), partition)->offset = begin;
    auto err = rd_kafka_assign(rk, list);
    rd_kafka_topic_partition_list_destroy(list);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(errc::unavailable, "assigning topic {} partition {}: {}", topic, partition, rd_kafka_err2str(err));
    }
    auto deadline = steady::now() + std::chrono::seconds(60);
    status outcome;
    while (running()) {
        if (steady::now() > deadline) {
            outcome = make_error(errc::unavailable, "reading topic {} partition {} offsets {}..{} back: no answer in 60 s",
                                 topic, partition, begin, end);
            break;
        }
        rd_kafka_message_t* m = rd_kafka_consumer_poll(rk, 500);
        if (m == nullptr) continue;
        std::unique_ptr<rd_kafka_message_t, void (*)(rd_kafka_message_t*)> msg(m, rd_kafka_message_destroy);
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) break;
        if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (m->err == RD_KAFKA_RESP_ERR__TRANSPORT || m->err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) continue;
            outcome = make_error(errc::unavailable, "reading topic {} partition {} back: {}", topic, partition,
                                 rd_kafka_message_errstr(m));
            break;
        }
        if (m->offset >= end) break;
        ++read;
        rd_kafka_headers_t* headers = nullptr;
        rd_kafka_message_headers(m, &headers);
        auto commit_text = header(headers, "commit_lsn");
        auto position_text = header(headers, "lsn");
        auto op = header(headers, "op");
        auto commit = commit_text ? lsn::parse(*commit_text) : result<lsn>(make_error(errc::not_found, "none"));
        auto position = position_text ? lsn::parse(*position_text) : result<lsn>(make_error(errc::not_found, "none"));
        // Snapshot rows come before every streamed row of a partition and are
        // never sent again: reading back ends at them too.
        if (!commit || !position || *commit < resume_at || op == std::optional<std::string>("r")) {
            older = true;
        } else {
            in_topics.insert(position->value);
        }
        if (m->offset + 1 >= end) break;
    }
    rd_kafka_assign(rk, nullptr);
    return outcome;
}

}  // namespace

// One producer writes a partition at a time (the lease), in commit order, so
// reading back stops at the first record committed before `resume_at`.
status read_topic_tails(const tail_request& request, std::unordered_set<uint64_t>& in_topics,
                        const std::function<bool()>& running) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    for (const auto& [key, value] : request.settings) {
        if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return make_error(errc::invalid_argument, "Kafka consumer setting {}={}: {}", key,
                              security::printable_property(key, value), errstr);
        }
    }
    rd_kafka_conf_set_log_cb(conf, &log_kafka);
    rd_kafka_t* rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
    if (rk == nullptr) return make_error(errc::invalid_argument, "Kafka consumer: {}", errstr);
    std::unique_ptr<rd_kafka_t, void (*)(rd_kafka_t*)> owned(rk, [](rd_kafka_t* k) {
        rd_kafka_consumer_close(k);
        rd_kafka_destroy(k);
    });
    const rd_kafka_metadata_t* md = nullptr;
    if (auto err = rd_kafka_metadata(rk, 1, nullptr, &md, 15000); err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        return make_error(errc::unavailable, "reading the topics back before resuming slot {}: metadata: {}", request.slot,
                          rd_kafka_err2str(err));
    }
    std::map<std::string, int> partitions;
    for (int t = 0; t < md->topic_cnt; ++t) {
        if (md->topics[t].err == RD_KAFKA_RESP_ERR_NO_ERROR) partitions[md->topics[t].topic] = md->topics[t].partition_cnt;
    }
    rd_kafka_metadata_destroy(md);
    uint64_t read = 0;
    for (const auto& topic : request.topics) {
        auto found = partitions.find(topic);
        if (found == partitions.end()) continue;  // nothing produced yet
        auto why = fmt::format("before resuming slot {}", request.slot);
        auto low_offsets = kafka_client::list_offsets(rk, topic, found->second, RD_KAFKA_OFFSET_BEGINNING, k_offsets_timeout);
        if (!low_offsets) return low_offsets.err().with_context(why);
        auto high_offsets = kafka_client::list_offsets(rk, topic, found->second, RD_KAFKA_OFFSET_END, k_offsets_timeout);
        if (!high_offsets) return high_offsets.err().with_context(why);
        const auto& lows = *low_offsets;
        const auto& highs = *high_offsets;
        for (int partition = 0; partition < found->second && running(); ++partition) {
            int64_t low = lows[partition], high = highs[partition];
            int64_t window = 512;
            for (int64_t end = high; end > low && running();) {
                int64_t begin = std::max(low, end - window);
                bool older = false;
                if (auto st = read_range(rk, topic, partition, begin, end, request.resume_at, older, read, in_topics, running);
                    !st) {
                    return st;
                }
                if (older) break;
                end = begin;
                window *= 2;
            }
        }
    }
    k_log.info("resuming slot {} after {}: {} rows after it are in the topics already ({} records read back)", request.slot,
               request.resume_at.to_string(), in_topics.size(), read);
    return {};
}

}  // namespace millrace::cdc
