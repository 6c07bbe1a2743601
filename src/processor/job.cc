#include "job.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <optional>

#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "avro_record.h"
#include "dlq.h"
#include "millrace/avro/wire.h"
#include "millrace/common/log.h"
#include "millrace/registry/client.h"
#include "offset_tracker.h"
#include "user_record.h"
#include "window_aggregator.h"

namespace millrace::processor {

namespace {

using mono = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct message_deleter {
    void operator()(rd_kafka_message_t* m) const { rd_kafka_message_destroy(m); }
};
using message_ptr = std::unique_ptr<rd_kafka_message_t, message_deleter>;

// Samples of one tick, for the p50/p99 gauges.
class quantile_window {
public:
    void add(double v) {
        if (samples_.size() < 20000) samples_.push_back(v);
    }
    void publish(metrics::gauge& p50, metrics::gauge& p99) {
        if (samples_.empty()) return;
        auto at = [&](double q) {
            size_t idx = std::min(samples_.size() - 1, static_cast<size_t>(q * static_cast<double>(samples_.size())));
            std::nth_element(samples_.begin(), samples_.begin() + static_cast<std::ptrdiff_t>(idx), samples_.end());
            return samples_[idx];
        };
        p50.set(at(0.5));
        p99.set(at(0.99));
        samples_.clear();
    }

private:
    std::vector<double> samples_;
};

// Consumer lag per partition, read by the metrics collector on another thread.
struct lag_state {
    std::mutex mutex;
    std::map<int32_t, int64_t> lag;
};

std::chrono::milliseconds backoff(int attempt) {
    int64_t ms = 50LL << std::min(attempt, 7);
    return std::chrono::milliseconds(std::min<int64_t>(ms, 5000));
}

}  // namespace

class job::impl {
public:
    impl(job_options o, std::unique_ptr<sink> s, metrics::registry& m, millrace::clock& c)
        : o_(std::move(o)),
          sink_(std::move(s)),
          clock_(c),
          log_("processor"),
          registry_(registry::client_options{.url = o_.registry_url}),
          avro_([this](int32_t id) -> result<avro_record_decoder::writer_schema> {
              auto fetched = registry_.schema_by_id(id);
              if (!fetched) return fetched.err();
              return avro_record_decoder::writer_schema{(*fetched)->type, (*fetched)->text};
          }),
          agg_(o_.window_ms),
          lag_(std::make_shared<lag_state>()),
          records_in_(m.make_counter("millrace_processor_records_in_total", "Records read from the topic.")),
          rows_out_(m.make_counter("millrace_processor_rows_written_total", "User rows the CQL store acknowledged.")),
          agg_rows_out_(m.make_counter("millrace_processor_aggregate_rows_written_total",
                                       "Aggregate rows the CQL store acknowledged.")),
          agg_skipped_(m.make_counter("millrace_processor_aggregate_skipped_total",
                                      "Records not counted again because their window row already covered them "
                                      "(redelivered after a restart or rebalance).")),
          sink_retries_(m.make_counter("millrace_processor_sink_retries_total", "Sink requests sent again after a retryable failure.")),
          rebalances_(m.make_counter("millrace_processor_rebalances_total", "Partition assignments and revocations.")),
          pauses_(m.make_counter("millrace_processor_pauses_total", "Times the partitions were paused for backpressure.")),
          commits_(m.make_counter("millrace_processor_commits_total", "Offset commits sent.")),
          commit_errors_(m.make_counter("millrace_processor_commit_errors_total", "Offset commits that failed.")),
          batch_records_(m.make_histogram("millrace_processor_batch_records", "Records per dispatched micro-batch.",
                                          {1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000})),
          sink_seconds_(m.make_histogram("millrace_processor_sink_request_seconds",
                                         "Time from sending a sink request to its acknowledgement.", metrics::latency_buckets())),
          e2e_seconds_(m.make_histogram("millrace_processor_end_to_end_seconds",
                                        "Time from the record's Kafka timestamp to the store's acknowledgement of its row.",
                                        metrics::latency_buckets())),
          sink_p50_(m.make_gauge("millrace_processor_sink_latency_p50_seconds", "Median sink request latency over the last second with traffic.")),
          sink_p99_(m.make_gauge("millrace_processor_sink_latency_p99_seconds", "99th percentile sink request latency over the last second with traffic.")),
          e2e_p50_(m.make_gauge("millrace_processor_end_to_end_p50_seconds", "Median end-to-end latency over the last second with traffic.")),
          e2e_p99_(m.make_gauge("millrace_processor_end_to_end_p99_seconds", "99th percentile end-to-end latency over the last second with traffic.")),
          in_rate_(m.make_gauge("millrace_processor_records_in_per_second", "Records read per second (last second).")),
          out_rate_(m.make_gauge("millrace_processor_rows_written_per_second", "Rows acknowledged per second (last second).")),
          in_flight_gauge_(m.make_gauge("millrace_processor_sink_in_flight", "Sink requests in flight.")),
          pending_gauge_(m.make_gauge("millrace_processor_pending_records", "Records read and not yet acknowledged.")),
          paused_gauge_(m.make_gauge("millrace_processor_paused", "1 while partitions are paused for backpressure.")),
          assigned_gauge_(m.make_gauge("millrace_processor_assigned_partitions", "Partitions assigned to this instance.")),
          avro_records_(m.make_counter("millrace_processor_avro_records_total",
                                       "Records read in Confluent's Avro wire format (the others are JSON).")),
          registry_retries_(m.make_counter("millrace_processor_registry_retries_total",
                                           "Schema fetches retried because the registry was unreachable.")) {
        for (auto code : {reject_code::empty_value, reject_code::malformed_json, reject_code::not_an_object,
                          reject_code::missing_field, reject_code::wrong_type, reject_code::invalid_value,
                          reject_code::sink_rejected, reject_code::unknown_schema, reject_code::malformed_avro}) {
            dlq_counters_[static_cast<size_t>(code)] = &m.make_counter(
                "millrace_processor_dlq_records_total", "Rejected records, by error code.", {{"code", std::string(to_string(code))}});
        }
        m.add_collector([lag = lag_](std::string& out) {
            std::lock_guard lock(lag->mutex);
            if (lag->lag.empty()) return;
            out += "# HELP millrace_processor_consumer_lag Records between the consumer position and the partition's end.\n"
                   "# TYPE millrace_processor_consumer_lag gauge\n";
            for (const auto& [partition, records] : lag->lag) {
                out += fmt::format("millrace_processor_consumer_lag{{partition=\"{}\"}} {}\n", partition, records);
            }
        });
        efd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        MILLRACE_ASSERT(efd_ >= 0, "eventfd: {}", std::strerror(errno));
    }

    ~impl() {
        if (efd_ >= 0) ::close(efd_);
    }

    void request_stop() {
        stop_.store(true);
        wake();
    }

    void run() {
        if (!open_sink()) return finish_without_consumer();
        if (!create_clients()) return finish_without_consumer();
        log_.info("consuming {} as group {} from {} into {}{}", o_.topic, o_.group, o_.bootstrap, sink_->describe(),
                  o_.dlq_topic.empty() ? "" : fmt::format("; rejects go to {}", o_.dlq_topic));
        auto next_tick = mono::now() + 1s;
        while (!stop_.load()) {
            bool more = consume_some(2000);
            service(false);
            if (mono::now() >= next_tick) {
                tick();
                next_tick = mono::now() + 1s;
            }
            if (!more) wait_for_work(next_wait(next_tick));
        }
        shutdown();
    }

    // rdkafka callbacks (on the worker thread, inside consumer/producer polls).
    static void on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque);
    static void on_commit(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque);
    static void on_delivery(rd_kafka_t* rk, const rd_kafka_message_t* m, void* opaque);

private:
    struct row_meta {
        int32_t partition;
        int64_t offset;
        int64_t timestamp_ms;
        rd_kafka_message_t* message;  // owned by the batch's messages
    };
    struct reject {
        rd_kafka_message_t* message;
        rejection why;
    };
    struct batch {
        uint64_t id = 0;
        std::vector<message_ptr> messages;  // every record of the batch; freed when it completes
        std::vector<user_row> rows;
        std::vector<row_meta> meta;
        std::vector<reject> rejects;
        std::vector<std::pair<int32_t, int64_t>> last_offsets;  // per partition, in first-seen order
        std::vector<std::pair<int32_t, uint64_t>> segments;
        size_t remaining = 0;
        mono::time_point opened;
    };
    struct request {
        uint64_t batch_id;
        size_t begin, end;  // rows [begin, end) of the batch
        int attempt;
    };
    struct completion {
        bool counts;  // aggregate round, else a users request
        request req;
        sink_outcome outcome;
        mono::time_point sent;
    };
    // A DLQ record waiting for its delivery report.
    struct dlq_ticket {
        uint64_t batch_id;
        rd_kafka_message_t* message;
        header_list headers;
        int attempt = 0;
    };

    void wake() {
        uint64_t one = 1;
        [[maybe_unused]] auto n = ::write(efd_, &one, sizeof one);
    }

    void wait_for_work(std::chrono::milliseconds timeout) {
        pollfd p{efd_, POLLIN, 0};
        ::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, timeout.count())));
        uint64_t value;
        [[maybe_unused]] auto n = ::read(efd_, &value, sizeof value);
    }

    std::chrono::milliseconds next_wait(mono::time_point next_tick) const {
        auto now = mono::now();
        auto until = std::min(next_tick, now + 100ms);
        if (open_) until = std::min(until, open_->opened + o_.max_delay);
        if (!retries_.empty()) until = std::min(until, retries_.begin()->first);
        if (!dlq_retries_.empty()) until = std::min(until, dlq_retries_.begin()->first);
        if (dlq_outstanding_ > 0) until = std::min(until, now + 10ms);
        if (agg_retry_at_ && agg_.dirty()) until = std::min(until, *agg_retry_at_);
        return std::chrono::ceil<std::chrono::milliseconds>(std::max(until - now, mono::duration::zero()));
    }

    bool sleep_unless_stopped(std::chrono::milliseconds d) {
        auto until = mono::now() + d;
        while (!stop_.load() && mono::now() < until) {
            wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
        }
        return !stop_.load();
    }

    bool open_sink() {
        for (int attempt = 0;; ++attempt) {
            auto st = sink_->open();
            if (st) return true;
            if (attempt == 0 || attempt % 10 == 0) {
                log_.warn("{}: {}; retrying", sink_->describe(), st.err().message());
            }
            if (!sleep_unless_stopped(std::min<std::chrono::milliseconds>(backoff(attempt) * 4, 5s))) return false;
        }
    }

    bool create_clients() {
        char errstr[512];
        auto set = [&](rd_kafka_conf_t* conf, const std::string& name, const std::string& value) {
            if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), errstr, sizeof errstr) != RD_KAFKA_CONF_OK) {
                log_.error("kafka property {}={}: {}", name, value, errstr);
                return false;
            }
            return true;
        };
        auto extra = [&](rd_kafka_conf_t* conf) {
            for (const auto& property : o_.kafka_properties) {
                auto eq = property.find('=');
                if (eq == std::string::npos || !set(conf, property.substr(0, eq), property.substr(eq + 1))) return false;
            }
            return true;
        };

        rd_kafka_conf_t* conf = rd_kafka_conf_new();
        bool ok = set(conf, "bootstrap.servers", o_.bootstrap) && set(conf, "group.id", o_.group) &&
                  set(conf, "client.id", "millrace-processor") && set(conf, "enable.auto.commit", "false") &&
                  set(conf, "enable.auto.offset.store", "false") && set(conf, "auto.offset.reset", o_.start_from) &&
                  set(conf, "enable.partition.eof", "false") && set(conf, "fetch.wait.max.ms", "100") && extra(conf);
        if (!ok) {
            rd_kafka_conf_destroy(conf);
            return false;
        }
        rd_kafka_conf_set_opaque(conf, this);
        rd_kafka_conf_set_rebalance_cb(conf, &impl::on_rebalance);
        rd_kafka_conf_set_offset_commit_cb(conf, &impl::on_commit);
        consumer_ = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof errstr);
        if (consumer_ == nullptr) {
            log_.error("cannot create the Kafka consumer for {}: {}", o_.bootstrap, errstr);
            return false;
        }
        rd_kafka_poll_set_consumer(consumer_);
        consumer_queue_ = rd_kafka_queue_get_consumer(consumer_);
        static const uint64_t k_one = 1;
        rd_kafka_queue_io_event_enable(consumer_queue_, efd_, &k_one, sizeof k_one);

        rd_kafka_topic_partition_list_t* topics = rd_kafka_topic_partition_list_new(1);
        rd_kafka_topic_partition_list_add(topics, o_.topic.c_str(), RD_KAFKA_PARTITION_UA);
        rd_kafka_resp_err_t err = rd_kafka_subscribe(consumer_, topics);
        rd_kafka_topic_partition_list_destroy(topics);
        if (err) {
            log_.error("cannot subscribe to {}: {}", o_.topic, rd_kafka_err2str(err));
            return false;
        }

        if (!o_.dlq_topic.empty()) {
            rd_kafka_conf_t* pconf = rd_kafka_conf_new();
            ok = set(pconf, "bootstrap.servers", o_.bootstrap) && set(pconf, "client.id", "millrace-processor-dlq") &&
                 set(pconf, "acks", "all") && set(pconf, "enable.idempotence", "true") &&
                 set(pconf, "linger.ms", "5") && extra(pconf);
            if (!ok) {
                rd_kafka_conf_destroy(pconf);
                return false;
            }
            rd_kafka_conf_set_opaque(pconf, this);
            rd_kafka_conf_set_dr_msg_cb(pconf, &impl::on_delivery);
            producer_ = rd_kafka_new(RD_KAFKA_PRODUCER, pconf, errstr, sizeof errstr);
            if (producer_ == nullptr) {
                log_.error("cannot create the DLQ producer for {}: {}", o_.bootstrap, errstr);
                return false;
            }
            producer_queue_ = rd_kafka_queue_get_main(producer_);
            rd_kafka_queue_io_event_enable(producer_queue_, efd_, &k_one, sizeof k_one);
        }
        return true;
    }

    void finish_without_consumer() {
        destroy_clients();
        sink_->close();
    }

    void destroy_clients() {
        if (consumer_queue_) {
            rd_kafka_queue_io_event_enable(consumer_queue_, -1, nullptr, 0);
            rd_kafka_queue_destroy(consumer_queue_);
            consumer_queue_ = nullptr;
        }
        if (consumer_) {
            rd_kafka_destroy(consumer_);
            consumer_ = nullptr;
        }
        if (producer_queue_) {
            rd_kafka_queue_io_event_enable(producer_queue_, -1, nullptr, 0);
            rd_kafka_queue_destroy(producer_queue_);
            producer_queue_ = nullptr;
        }
        if (producer_) {
            rd_kafka_destroy(producer_);
            producer_ = nullptr;
        }
    }

    // ---- consuming -------------------------------------------------------

    // Handles up to `max` queued records; returns whether more may be queued.
    bool consume_some(size_t max) {
        for (size_t n = 0; n < max; ++n) {
            if (stop_.load()) return false;
            rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer_, 0);
            if (m == nullptr) return false;
            handle(message_ptr(m));
        }
        return true;
    }

    void handle(message_ptr m) {
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF) {
                log_.warn("consumer: {}{}", rd_kafka_message_errstr(m.get()),
                          m->rkt ? fmt::format(" ({} [{}])", rd_kafka_topic_name(m->rkt), m->partition) : "");
            }
            return;
        }
        const int32_t partition = m->partition;
        const int64_t offset = m->offset;
        if (!tracker_.assigned(partition)) return;  // a straggler of a revoked partition
        rd_kafka_timestamp_type_t ts_type;
        int64_t ts = rd_kafka_message_timestamp(m.get(), &ts_type);
        if (ts < 0) ts = clock_.wall_millis();
        records_in_.inc();
        ++pending_;
        last_consumed_[partition] = offset;

        std::string_view value(static_cast<const char*>(m->payload), m->payload ? m->len : 0);
        user_row row;
        rejection why;
        bool valid = false;
        if (avro::wire::looks_framed(value)) {
            avro_records_.inc();
            if (!decode_avro(value, row, why, valid)) {
                --pending_;  // stopping: the record stays unprocessed and uncommitted
                return;
            }
        } else {
            valid = parser_.parse(value, row, why);
        }
        if (valid && o_.aggregate) {
            int64_t window = agg_.window_of(ts);
            // Loading keeps servicing completions, which may dispatch the open
            // batch: take the batch only afterwards.
            if (!agg_.loaded(partition, window) && !load_window(partition, window)) {
                --pending_;  // stopping: the record stays unprocessed and uncommitted
                return;
            }
            if (!agg_.add(partition, offset, ts, row.has_nat ? std::string_view(row.nat) : std::string_view(),
                          row.gender)) {
                agg_skipped_.inc();
            }
        }
        if (!open_) {
            open_ = std::make_unique<batch>();
            open_->id = next_batch_id_++;
            open_->opened = mono::now();
        }
        batch& b = *open_;
        if (valid) {
            b.rows.push_back(std::move(row));
            b.meta.push_back(row_meta{partition, offset, ts, m.get()});
        } else {
            b.rejects.push_back(reject{m.get(), std::move(why)});
        }
        if (o_.aggregate) agg_.applied(partition, offset);
        bool found = false;
        for (auto& [p, last] : b.last_offsets) {
            if (p == partition) {
                last = offset;
                found = true;
            }
        }
        if (!found) b.last_offsets.emplace_back(partition, offset);
        b.messages.push_back(std::move(m));
        if (b.messages.size() >= o_.batch_size) dispatch_open();
    }

    // Decodes a Confluent-framed Avro value; an unreachable registry is waited
    // for (the record is neither rejected nor skipped). False when stopping.
    bool decode_avro(std::string_view value, user_row& row, rejection& why, bool& valid) {
        for (int attempt = 0;; ++attempt) {
            std::optional<error> transient;
            auto got = avro_.decode(value, row, why, transient);
            if (got != avro_record_decoder::outcome::retry) {
                valid = got == avro_record_decoder::outcome::ok;
                return true;
            }
            registry_retries_.inc();
            if (attempt == 0 || attempt % 10 == 0) {
                log_.warn("fetching an Avro writer schema from the registry at {}: {}; retrying", o_.registry_url,
                          transient ? transient->message() : "unavailable");
            }
            auto until = mono::now() + backoff(attempt);
            while (mono::now() < until) {
                if (stop_.load()) return false;
                service(false);
                wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
            }
        }
    }

    bool load_window(int32_t partition, int64_t window) {
        for (int attempt = 0;; ++attempt) {
            auto stored = sink_->read_window(window);
            if (stored) {
                agg_.load(partition, window, *stored);
                return true;
            }
            if (attempt == 0 || attempt % 10 == 0) {
                log_.warn("reading aggregate window {} for partition {}: {}; retrying", window, partition,
                          stored.err().message());
            }
            // Keep acknowledging what is in flight while the store is away.
            auto until = mono::now() + backoff(attempt);
            while (mono::now() < until) {
                if (stop_.load()) return false;
                service(false);
                wait_for_work(std::chrono::ceil<std::chrono::milliseconds>(until - mono::now()));
            }
        }
    }

    // ---- dispatching -----------------------------------------------------

    void dispatch_open() {
        if (!open_) return;
        std::unique_ptr<batch> b = std::move(open_);
        batch_records_.observe(static_cast<double>(b->messages.size()));
        for (const auto& [partition, last] : b->last_offsets) {
            b->segments.emplace_back(partition, tracker_.add_segment(partition, last));
        }
        const size_t per = std::max<size_t>(1, o_.rows_per_request);
        size_t requests = (b->rows.size() + per - 1) / per;
        b->remaining = requests + b->rejects.size();
        const uint64_t id = b->id;
        batch& ref = *b;
        batches_.emplace(id, std::move(b));
        for (size_t begin = 0; begin < ref.rows.size(); begin += per) {
            send_queue_.push_back(request{id, begin, std::min(ref.rows.size(), begin + per), 0});
        }
        for (auto& r : ref.rejects) send_to_dlq(id, r.message, r.why);
        if (ref.remaining == 0) complete_batch(id);
        pump_sends();
    }

    void pump_sends() {
        while (in_flight_ < o_.max_in_flight && !send_queue_.empty()) {
            request req = send_queue_.front();
            send_queue_.pop_front();
            auto it = batches_.find(req.batch_id);
            if (it == batches_.end()) continue;
            std::vector<const user_row*> rows;
            rows.reserve(req.end - req.begin);
            for (size_t idx = req.begin; idx < req.end; ++idx) rows.push_back(&it->second->rows[idx]);
            ++in_flight_;
            auto sent = mono::now();
            sink_->write_users(std::move(rows), [this, req, sent](sink_outcome outcome) {
                {
                    std::lock_guard lock(completions_mutex_);
                    completions_.push_back(completion{false, req, std::move(outcome), sent});
                }
                wake();
            });
        }
    }

    void send_to_dlq(uint64_t batch_id, rd_kafka_message_t* m, const rejection& why) {
        dlq_counters_[static_cast<size_t>(why.code)]->inc();
        record_origin origin{o_.topic, m->partition, m->offset, rd_kafka_message_timestamp(m, nullptr)};
        if (producer_ == nullptr) {
            log_.warn("rejected {} [{}] offset {}: {} (no DLQ topic: dropped)", o_.topic, m->partition, m->offset,
                      why.message);
            finish_item(batch_id);
            return;
        }
        if (rejects_logged_++ < 20) {
            log_.warn("rejected {} [{}] offset {} to {}: {}: {}", o_.topic, m->partition, m->offset, o_.dlq_topic,
                      to_string(why.code), why.message);
        }
        auto* ticket = new dlq_ticket{batch_id, m, dlq_headers(why, origin, o_.group)};
        ++dlq_outstanding_;
        produce_dlq(ticket);
    }

    void produce_dlq(dlq_ticket* t) {
        rd_kafka_headers_t* headers = rd_kafka_headers_new(t->headers.size() + 4);
        for (const auto& [name, value] : t->headers) {
            rd_kafka_header_add(headers, name.data(), static_cast<ssize_t>(name.size()), value.data(),
                                static_cast<ssize_t>(value.size()));
        }
        rd_kafka_headers_t* original = nullptr;
        if (rd_kafka_message_headers(t->message, &original) == RD_KAFKA_RESP_ERR_NO_ERROR) {
            const char* name;
            const void* value;
            size_t size;
            for (size_t idx = 0; rd_kafka_header_get_all(original, idx, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR; ++idx) {
                rd_kafka_header_add(headers, name, -1, value, static_cast<ssize_t>(size));
            }
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            producer_, RD_KAFKA_V_TOPIC(o_.dlq_topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(t->message->payload, t->message->len), RD_KAFKA_V_KEY(t->message->key, t->message->key_len),
            RD_KAFKA_V_HEADERS(headers), RD_KAFKA_V_OPAQUE(t), RD_KAFKA_V_END);
        if (err) {
            rd_kafka_headers_destroy(headers);
            log_.warn("DLQ produce to {}: {}; retrying", o_.dlq_topic, rd_kafka_err2str(err));
            dlq_retries_.emplace(mono::now() + backoff(t->attempt++), t);
        }
    }

    void delivered(const rd_kafka_message_t* m) {
        auto* t = static_cast<dlq_ticket*>(m->_private);
        if (m->err) {
            log_.warn("DLQ delivery to {} failed: {}; retrying", o_.dlq_topic, rd_kafka_err2str(m->err));
            dlq_retries_.emplace(mono::now() + backoff(t->attempt++), t);
            return;
        }
        --dlq_outstanding_;
        uint64_t batch_id = t->batch_id;
        delete t;
        finish_item(batch_id);
    }

    void finish_item(uint64_t batch_id) {
        auto it = batches_.find(batch_id);
        if (it == batches_.end()) return;
        if (--it->second->remaining == 0) complete_batch(batch_id);
    }

    void complete_batch(uint64_t batch_id) {
        auto it = batches_.find(batch_id);
        if (it == batches_.end()) return;
        for (const auto& [partition, segment] : it->second->segments) tracker_.complete(partition, segment);
        pending_ -= it->second->messages.size();
        batches_.erase(it);
    }

    // ---- completions and the periodic work --------------------------------

    void service(bool draining) {
        std::vector<completion> done;
        {
            std::lock_guard lock(completions_mutex_);
            done.swap(completions_);
        }
        for (auto& c : done) on_completion(c);
        auto now = mono::now();
        while (!retries_.empty() && retries_.begin()->first <= now) {
            send_queue_.push_front(retries_.begin()->second);
            retries_.erase(retries_.begin());
        }
        if (open_ && (draining || open_->messages.size() >= o_.batch_size || now >= open_->opened + o_.max_delay)) {
            dispatch_open();
        }
        pump_sends();
        if (producer_) {
            rd_kafka_poll(producer_, 0);
            while (!dlq_retries_.empty() && dlq_retries_.begin()->first <= now) {
                dlq_ticket* t = dlq_retries_.begin()->second;
                dlq_retries_.erase(dlq_retries_.begin());
                produce_dlq(t);
            }
        }
        if (o_.aggregate) flush_aggregates(now);
        backpressure();
        if (!draining && now >= next_commit_) {
            commit(false);
            next_commit_ = now + o_.commit_interval;
        }
        in_flight_gauge_.set(static_cast<double>(in_flight_));
        pending_gauge_.set(static_cast<double>(pending_));
    }

    void on_completion(completion& c) {
        auto now = mono::now();
        if (c.counts) {
            agg_in_flight_rows_ = 0;
            if (c.outcome.ok) {
                agg_rows_out_.inc(agg_round_rows_);
                agg_retry_at_.reset();
                agg_attempt_ = 0;
            } else {
                log_.warn("writing aggregate rows: {}; retrying", c.outcome.message);
                agg_retry_at_ = now + backoff(agg_attempt_++);
            }
            agg_.end_flush(c.outcome.ok);
            return;
        }
        --in_flight_;
        auto it = batches_.find(c.req.batch_id);
        if (it == batches_.end()) return;
        batch& b = *it->second;
        const size_t n = c.req.end - c.req.begin;
        if (c.outcome.ok) {
            double seconds = std::chrono::duration<double>(now - c.sent).count();
            sink_seconds_.observe(seconds);
            sink_samples_.add(seconds);
            int64_t wall = clock_.wall_millis();
            for (size_t idx = c.req.begin; idx < c.req.end; ++idx) {
                double e2e = static_cast<double>(std::max<int64_t>(0, wall - b.meta[idx].timestamp_ms)) / 1000.0;
                e2e_seconds_.observe(e2e);
                e2e_samples_.add(e2e);
            }
            rows_out_.inc(n);
            rows_out_tick_ += n;
            finish_item(c.req.batch_id);
            return;
        }
        if (c.outcome.retryable) {
            sink_retries_.inc();
            if (sink_errors_logged_++ % 100 == 0) log_.warn("{}: {}; retrying", sink_->describe(), c.outcome.message);
            retries_.emplace(now + backoff(c.req.attempt), request{c.req.batch_id, c.req.begin, c.req.end, c.req.attempt + 1});
            return;
        }
        if (n > 1) {
            // Find the rejected row(s): send each row of the request alone.
            b.remaining += n - 1;
            for (size_t idx = c.req.begin; idx < c.req.end; ++idx) send_queue_.push_front(request{c.req.batch_id, idx, idx + 1, 0});
            return;
        }
        const row_meta& meta = b.meta[c.req.begin];
        send_to_dlq(c.req.batch_id, meta.message,
                    rejection{reject_code::sink_rejected, "", fmt::format("the CQL store refused the row: {}", c.outcome.message)});
    }

    void flush_aggregates(mono::time_point now) {
        if (agg_.flush_in_flight()) return;
        if (agg_retry_at_ && now < *agg_retry_at_) return;
        auto round = agg_.begin_flush();
        if (!round || round->empty()) return;
        agg_round_rows_ = round->size();
        auto sent = now;
        sink_->write_counts(std::move(*round), [this, sent](sink_outcome outcome) {
            {
                std::lock_guard lock(completions_mutex_);
                completions_.push_back(completion{true, request{0, 0, 0, 0}, std::move(outcome), sent});
            }
            wake();
        });
    }

    void backpressure() {
        if (consumer_ == nullptr) return;
        if (!paused_ && pending_ > o_.max_pending) {
            set_paused(true);
        } else if (paused_ && pending_ <= o_.max_pending / 2) {
            set_paused(false);
        }
    }

    void set_paused(bool pause) {
        paused_ = pause;
        if (pause) pauses_.inc();
        paused_gauge_.set(pause ? 1 : 0);
        rd_kafka_topic_partition_list_t* assignment = nullptr;
        if (rd_kafka_assignment(consumer_, &assignment) != RD_KAFKA_RESP_ERR_NO_ERROR) return;
        const int count = assignment->cnt;
        if (count > 0) {
            if (pause) rd_kafka_pause_partitions(consumer_, assignment);
            else rd_kafka_resume_partitions(consumer_, assignment);
        }
        rd_kafka_topic_partition_list_destroy(assignment);
        log_.debug("{} {} partitions ({} records unacknowledged)", pause ? "paused" : "resumed", count, pending_);
    }

    bool idle() const {
        return !open_ && batches_.empty() && in_flight_ == 0 && send_queue_.empty() && retries_.empty() &&
               dlq_outstanding_ == 0 && (!o_.aggregate || (!agg_.flush_in_flight() && !agg_.dirty()));
    }

    // Dispatches what is open and waits until every write is acknowledged (or
    // the deadline passes). Returns whether everything drained.
    bool drain(mono::time_point deadline) {
        dispatch_open();
        while (!idle() && mono::now() < deadline) {
            service(true);
            if (idle()) break;
            wait_for_work(std::min<std::chrono::milliseconds>(10ms, std::chrono::ceil<std::chrono::milliseconds>(deadline - mono::now())));
        }
        service(true);  // an empty aggregate round marks everything applied as durable
        return idle();
    }

    // Commits, per partition, the position up to which every record's writes
    // are acknowledged.
    void commit(bool sync, bool quiet = false) {
        if (consumer_ == nullptr) return;
        rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(4);
        for (int32_t partition : tracker_.partitions()) {
            auto pos = tracker_.done_position(partition);
            if (o_.aggregate && pos) {
                auto durable = agg_.durable_position(partition);
                pos = durable ? std::optional<int64_t>(std::min(*pos, *durable)) : std::nullopt;
            }
            if (!pos) continue;
            auto it = committed_.find(partition);
            if (it != committed_.end() && it->second >= *pos) continue;
            rd_kafka_topic_partition_list_add(list, o_.topic.c_str(), partition)->offset = *pos;
        }
        if (list->cnt == 0) {
            rd_kafka_topic_partition_list_destroy(list);
            return;
        }
        commits_.inc();
        for (int idx = 0; idx < list->cnt; ++idx) committed_[list->elems[idx].partition] = list->elems[idx].offset;
        rd_kafka_resp_err_t err = rd_kafka_commit(consumer_, list, sync ? 0 : 1);
        if (sync && err) {
            commit_errors_.inc();
            if (!quiet) log_.warn("committing offsets of {}: {}", o_.topic, rd_kafka_err2str(err));
            for (int idx = 0; idx < list->cnt; ++idx) committed_.erase(list->elems[idx].partition);
        }
        rd_kafka_topic_partition_list_destroy(list);
    }

    void committed(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets) {
        if (err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
        bool failed = err != RD_KAFKA_RESP_ERR_NO_ERROR;
        for (int idx = 0; offsets && idx < offsets->cnt; ++idx) {
            if (failed || offsets->elems[idx].err) committed_.erase(offsets->elems[idx].partition);
        }
        if (failed) {
            commit_errors_.inc();
            log_.warn("offset commit of {} failed: {}", o_.topic, rd_kafka_err2str(err));
        }
    }

    void rebalance(rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts) {
        rebalances_.inc();
        const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(consumer_), "COOPERATIVE") == 0;
        std::string names;
        for (int idx = 0; idx < parts->cnt; ++idx) names += fmt::format("{}{}", idx ? "," : "", parts->elems[idx].partition);
        if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
            log_.info("assigned {} partitions [{}]", o_.topic, names);
            for (int idx = 0; idx < parts->cnt; ++idx) {
                int32_t partition = parts->elems[idx].partition;
                tracker_.assign(partition);
                if (o_.aggregate) agg_.assign(partition);
                committed_.erase(partition);
                last_consumed_.erase(partition);
            }
            if (cooperative) {
                rd_kafka_error_t* e = rd_kafka_incremental_assign(consumer_, parts);
                if (e) {
                    log_.error("incremental assign: {}", rd_kafka_error_string(e));
                    rd_kafka_error_destroy(e);
                }
            } else {
                rd_kafka_assign(consumer_, parts);
            }
            if (paused_) rd_kafka_pause_partitions(consumer_, parts);
        } else {
            const bool lost = err != RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS || rd_kafka_assignment_lost(consumer_);
            log_.info("{} {} partitions [{}]: draining in-flight writes", lost ? "lost" : "revoked", o_.topic, names);
            bool drained = skip_drain_ || drain(mono::now() + o_.drain_timeout);
            if (!drained) log_.warn("drain before revocation did not finish within {} ms", o_.drain_timeout.count());
            if (!lost) commit(true);
            for (int idx = 0; idx < parts->cnt; ++idx) {
                int32_t partition = parts->elems[idx].partition;
                tracker_.revoke(partition);
                if (o_.aggregate) agg_.revoke(partition);
                committed_.erase(partition);
                last_consumed_.erase(partition);
            }
            if (cooperative) {
                rd_kafka_error_t* e = rd_kafka_incremental_unassign(consumer_, parts);
                if (e) rd_kafka_error_destroy(e);
            } else {
                rd_kafka_assign(consumer_, nullptr);
            }
        }
        assigned_gauge_.set(static_cast<double>(tracker_.partitions().size()));
        std::lock_guard lock(lag_->mutex);
        lag_->lag.clear();
    }

    void tick() {
        sink_samples_.publish(sink_p50_, sink_p99_);
        e2e_samples_.publish(e2e_p50_, e2e_p99_);
        uint64_t in = records_in_.value();
        in_rate_.set(static_cast<double>(in - in_last_));
        in_last_ = in;
        out_rate_.set(static_cast<double>(rows_out_tick_));
        rows_out_tick_ = 0;
        if (o_.aggregate) agg_.evict(10);
        std::map<int32_t, int64_t> lag;
        for (int32_t partition : tracker_.partitions()) {
            int64_t low = 0, high = 0;
            if (rd_kafka_get_watermark_offsets(consumer_, o_.topic.c_str(), partition, &low, &high) != RD_KAFKA_RESP_ERR_NO_ERROR ||
                high < 0) {
                continue;
            }
            auto it = last_consumed_.find(partition);
            int64_t position = it != last_consumed_.end() ? it->second + 1 : low;
            lag[partition] = std::max<int64_t>(0, high - position);
        }
        std::lock_guard lock(lag_->mutex);
        lag_->lag = std::move(lag);
    }

    void shutdown() {
        auto deadline = mono::now() + o_.drain_timeout;
        bool drained = drain(deadline);
        commit(true);
        if (!drained) {
            log_.warn("stopping with writes still unacknowledged after {} ms; their records will be read again on restart",
                      o_.drain_timeout.count());
        }
        skip_drain_ = !drained;  // the revocation inside close() need not wait a second time
        if (consumer_) {
            rd_kafka_resp_err_t err = rd_kafka_consumer_close(consumer_);
            if (err) log_.warn("leaving group {}: {}", o_.group, rd_kafka_err2str(err));
        }
        if (producer_) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - mono::now());
            rd_kafka_flush(producer_, static_cast<int>(std::max<int64_t>(100, left.count())));
            while (!dlq_retries_.empty()) {
                delete dlq_retries_.begin()->second;
                dlq_retries_.erase(dlq_retries_.begin());
            }
        }
        sink_->close();
        // Records hold references into the consumer: free them before destroying it.
        open_.reset();
        batches_.clear();
        send_queue_.clear();
        retries_.clear();
        destroy_clients();
        // Late completions from the closed sink may still sit in the queue; drop them.
        std::lock_guard lock(completions_mutex_);
        completions_.clear();
        log_.info("stopped: {} records read, {} rows written", records_in_.value(), rows_out_.value());
    }

    job_options o_;
    std::unique_ptr<sink> sink_;
    millrace::clock& clock_;
    log::logger log_;
    record_parser parser_;
    registry::client registry_;
    avro_record_decoder avro_;
    offset_tracker tracker_;
    window_aggregator agg_;
    std::shared_ptr<lag_state> lag_;

    int efd_ = -1;
    std::atomic<bool> stop_{false};
    rd_kafka_t* consumer_ = nullptr;
    rd_kafka_queue_t* consumer_queue_ = nullptr;
    rd_kafka_t* producer_ = nullptr;
    rd_kafka_queue_t* producer_queue_ = nullptr;

    std::unique_ptr<batch> open_;
    std::map<uint64_t, std::unique_ptr<batch>> batches_;
    uint64_t next_batch_id_ = 1;
    std::deque<request> send_queue_;
    std::multimap<mono::time_point, request> retries_;
    std::multimap<mono::time_point, dlq_ticket*> dlq_retries_;
    size_t in_flight_ = 0;
    size_t pending_ = 0;
    size_t dlq_outstanding_ = 0;
    bool paused_ = false;
    bool skip_drain_ = false;
    std::map<int32_t, int64_t> committed_;
    std::map<int32_t, int64_t> last_consumed_;
    mono::time_point next_commit_ = mono::now();
    std::optional<mono::time_point> agg_retry_at_;
    int agg_attempt_ = 0;
    size_t agg_round_rows_ = 0;
    size_t agg_in_flight_rows_ = 0;
    uint64_t rejects_logged_ = 0;
    uint64_t sink_errors_logged_ = 0;

    std::mutex completions_mutex_;
    std::vector<completion> completions_;

    metrics::counter& records_in_;
    metrics::counter& rows_out_;
    metrics::counter& agg_rows_out_;
    metrics::counter& agg_skipped_;
    metrics::counter& sink_retries_;
    metrics::counter& rebalances_;
    metrics::counter& pauses_;
    metrics::counter& commits_;
    metrics::counter& commit_errors_;
    metrics::counter* dlq_counters_[k_reject_codes] = {};
    metrics::histogram& batch_records_;
    metrics::histogram& sink_seconds_;
    metrics::histogram& e2e_seconds_;
    metrics::gauge& sink_p50_;
    metrics::gauge& sink_p99_;
    metrics::gauge& e2e_p50_;
    metrics::gauge& e2e_p99_;
    metrics::gauge& in_rate_;
    metrics::gauge& out_rate_;
    metrics::gauge& in_flight_gauge_;
    metrics::gauge& pending_gauge_;
    metrics::gauge& paused_gauge_;
    metrics::gauge& assigned_gauge_;
    metrics::counter& avro_records_;
    metrics::counter& registry_retries_;
    quantile_window sink_samples_;
    quantile_window e2e_samples_;
    uint64_t in_last_ = 0;
    uint64_t rows_out_tick_ = 0;
};

void job::impl::on_rebalance(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts, void* opaque) {
    static_cast<impl*>(opaque)->rebalance(err, parts);
}

void job::impl::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
    static_cast<impl*>(opaque)->committed(err, offsets);
}

void job::impl::on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    static_cast<impl*>(opaque)->delivered(m);
}

job::job(job_options options, std::unique_ptr<sink> out, metrics::registry& metrics, millrace::clock& clock)
    : impl_(std::make_unique<impl>(std::move(options), std::move(out), metrics, clock)) {}

job::~job() {
    request_stop();
    join();
}

void job::start() {
    worker_ = std::thread([this] {
        impl_->run();
        finished_.store(true);
    });
}

void job::request_stop() { impl_->request_stop(); }

void job::join() {
    if (worker_.joinable()) worker_.join();
}

}  // namespace millrace::processor
