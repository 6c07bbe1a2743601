#include "kafka_sink.h"

#include <atomic>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <librdkafka/rdkafka.h>

#include "millrace/common/security.h"

namespace millrace::processor {

namespace {

// The records of one write: `done` runs when the last is delivered.
struct write_state {
    std::atomic<size_t> remaining{0};
    std::mutex mutex;
    sink_outcome first_failure;
    sink::done_fn done;

    void finish_one(const sink_outcome& outcome) {
        if (!outcome.ok) {
            std::lock_guard lock(mutex);
            if (first_failure.ok) first_failure = outcome;
        }
        if (remaining.fetch_sub(1) == 1) done(first_failure);
    }
};

bool retryable_kafka_error(rd_kafka_resp_err_t err) {
    switch (err) {
        case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
        case RD_KAFKA_RESP_ERR_INVALID_MSG:
        case RD_KAFKA_RESP_ERR_INVALID_RECORD:
        case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
        case RD_KAFKA_RESP_ERR__INVALID_ARG:
            return false;
        default:
            return true;
    }
}

class kafka_sink final : public sink {
public:
    explicit kafka_sink(kafka_sink_options o) : o_(std::move(o)) {}
    ~kafka_sink() override { close(); }

    status open() override {
        std::lock_guard lock(mutex_);
        if (producer_) return {};
        char errstr[512];
        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        auto set = [&](const std::string& name, const std::string& value) -> status {
            if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                return make_error(errc::invalid_argument, "kafka sink {}: property {}={}: {}", o_.topic, name,
                                  security::printable_property(name, value), errstr);
            }
            return {};
        };
        std::vector<std::pair<std::string, std::string>> all{{"bootstrap.servers", o_.bootstrap},
                                                             {"client.id", o_.client_id},
                                                             {"acks", "all"},
                                                             {"enable.idempotence", "true"},
                                                             {"linger.ms", "5"}};
        all.insert(all.end(), o_.properties.begin(), o_.properties.end());
        for (const auto& [name, value] : all) {
            if (auto st = set(name, value); !st) {
                rd_kafka_conf_destroy(conf);
                return st;
            }
        }
        rd_kafka_conf_set_dr_msg_cb(conf, &kafka_sink::on_delivery);
        producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
        if (producer_ == nullptr) return make_error(errc::invalid_argument, "kafka sink {}: {}", o_.topic, errstr);
        stop_ = false;
        poller_ = std::thread([this] {
            while (!stop_.load()) rd_kafka_poll(producer_, 50);
        });
        return {};
    }

    void write(std::vector<const sink_row*> rows, done_fn done) override {
        rd_kafka_t* p;
        {
            std::lock_guard lock(mutex_);
            p = producer_;
        }
        if (p == nullptr) return done(sink_outcome{false, true, "Kafka producer closed"});
        if (rows.empty()) return done({});
        auto state = std::make_shared<write_state>();
        state->remaining = rows.size();
        state->done = std::move(done);
        for (const sink_row* row : rows) {
            auto* holder = new std::shared_ptr<write_state>(state);
            const char* key = row->key ? row->key->data() : nullptr;
            const size_t key_len = row->key ? row->key->size() : 0;
            rd_kafka_resp_err_t err = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(o_.topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(const_cast<char*>(row->value.data()), row->value.size()),
                RD_KAFKA_V_KEY(key, key_len),
                RD_KAFKA_V_OPAQUE(holder), RD_KAFKA_V_END);
            if (err) {
                delete holder;
                state->finish_one(sink_outcome{false, retryable_kafka_error(err),
                                               fmt::format("producing to {}: {}", o_.topic, rd_kafka_err2str(err))});
            }
        }
    }

    std::string describe() const override { return fmt::format("Kafka {} topic {}", o_.bootstrap, o_.topic); }

    void close() override {
        rd_kafka_t* p;
        {
            std::lock_guard lock(mutex_);
            p = producer_;
            producer_ = nullptr;
        }
        if (p == nullptr) return;
        rd_kafka_flush(p, 5000);
        stop_ = true;
        if (poller_.joinable()) poller_.join();
        rd_kafka_purge(p, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_poll(p, 0);  // fails what was purged
        rd_kafka_destroy(p);
    }

private:
    static void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
        auto* holder = static_cast<std::shared_ptr<write_state>*>(m->_private);
        sink_outcome outcome;
        if (m->err) outcome = sink_outcome{false, retryable_kafka_error(m->err), rd_kafka_err2str(m->err)};
        (*holder)->finish_one(outcome);
        delete holder;
    }

    kafka_sink_options o_;
    std::mutex mutex_;
    rd_kafka_t* producer_ = nullptr;
    std::thread poller_;
    std::atomic<bool> stop_{false};
};

// One record's report on the job's shared producer.
struct row_delivery final : delivery_target {
    explicit row_delivery(std::shared_ptr<write_state> s) : state(std::move(s)) {}
    void delivered(const rd_kafka_message_t* m) override {
        sink_outcome outcome;
        if (m->err) outcome = sink_outcome{false, retryable_kafka_error(m->err), rd_kafka_err2str(m->err)};
        state->finish_one(outcome);
        delete this;
    }
    std::shared_ptr<write_state> state;
};

class transactional_kafka_sink final : public sink {
public:
    transactional_kafka_sink(std::string bootstrap, std::string topic, std::function<rd_kafka_t*()> producer,
                             std::function<bool()> before_write)
        : bootstrap_(std::move(bootstrap)), topic_(std::move(topic)), producer_(std::move(producer)),
          before_write_(std::move(before_write)) {}

    status open() override { return {}; }

    void write(std::vector<const sink_row*> rows, done_fn done) override {
        rd_kafka_t* p = producer_();
        if (p == nullptr || !before_write_()) {
            return done(sink_outcome{false, true, "no transaction open (the job's transactional producer is not ready)"});
        }
        if (rows.empty()) return done({});
        auto state = std::make_shared<write_state>();
        state->remaining = rows.size();
        state->done = std::move(done);
        for (const sink_row* row : rows) {
            auto* target = new row_delivery(state);
            const char* key = row->key ? row->key->data() : nullptr;
            const size_t key_len = row->key ? row->key->size() : 0;
            rd_kafka_resp_err_t err = rd_kafka_producev(
                p, RD_KAFKA_V_TOPIC(topic_.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(const_cast<char*>(row->value.data()), row->value.size()), RD_KAFKA_V_KEY(key, key_len),
                RD_KAFKA_V_OPAQUE(static_cast<delivery_target*>(target)), RD_KAFKA_V_END);
            if (err) {
                delete target;
                state->finish_one(sink_outcome{false, retryable_kafka_error(err),
                                               fmt::format("producing to {}: {}", topic_, rd_kafka_err2str(err))});
            }
        }
    }

    std::string describe() const override { return fmt::format("Kafka {} topic {} (exactly-once)", bootstrap_, topic_); }

    void close() override {}

private:
    std::string bootstrap_;
    std::string topic_;
    std::function<rd_kafka_t*()> producer_;
    std::function<bool()> before_write_;
};

}  // namespace

std::string transactional_id_for(const std::string& prefix, const std::string& job,
                                 const std::set<std::pair<std::string, int32_t>>& parts) {
    uint64_t hash = 1469598103934665603ULL;  // FNV-1a 64 offset basis
    for (const auto& [topic, partition] : parts) {
        for (char c : fmt::format("{}:{};", topic, partition)) {
            hash ^= static_cast<unsigned char>(c);
            hash *= 1099511628211ULL;  // FNV prime
        }
    }
    return fmt::format("{}-{}-{:016x}", prefix, job, hash);
}

std::unique_ptr<sink> make_transactional_kafka_sink(std::string bootstrap, std::string topic,
                                                    std::function<rd_kafka_t*()> producer,
                                                    std::function<bool()> before_write) {
    return std::make_unique<transactional_kafka_sink>(std::move(bootstrap), std::move(topic), std::move(producer),
                                                      std::move(before_write));
}

std::unique_ptr<sink> make_kafka_sink(kafka_sink_options options) { return std::make_unique<kafka_sink>(std::move(options)); }

}  // namespace millrace::processor
