// The capture component: one thread per process that leads a replication
// slot and moves its changes into Kafka. It glues the stages together —
// replication.h (PostgreSQL: tables, slot, snapshot, stream), encoder.h (the
// pure message formats), producer.h (Kafka, back-pressure, reading topics
// back) — and owns what spans them: the lease, the ack tracker, the schema
// registrations, the session loop with its back-off, and standby status.
#include "millrace/cdc/cdc.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_set>

#include "millrace/avro/schema.h"
#include "millrace/cdc/ack_tracker.h"
#include "millrace/cdc/encoder.h"
#include "millrace/cdc/pgoutput.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/coordination/coordination.h"
#include "millrace/registry/client.h"
#include "options.h"
#include "producer.h"
#include "replication.h"

namespace millrace::cdc {
namespace {

const log::logger k_log("cdc");
// How often a standby asks whether it may take over the slot.
constexpr int64_t k_standby_poll_ms = 1000;
// How long one wait for the replication stream lasts before the loop looks at the producer again.
constexpr std::chrono::milliseconds k_stream_wait{50};

class capture final : public component {
public:
    capture(component_context& ctx, cdc_options options)
        : ctx_(ctx), options_(std::move(options)), application_("millrace-cdc:" + options_.slot), producer_(tracker_) {
        auto& m = ctx_.metrics;
        acked_lsn_ = &m.make_gauge("millrace_cdc_acked_lsn", "Last WAL position acknowledged by the broker (as a number).");
        lag_bytes_ = &m.make_gauge("millrace_cdc_lag_bytes",
                                   "WAL bytes between the server's last sent position and the acknowledged one.");
        lag_ms_ = &m.make_gauge("millrace_cdc_lag_ms", "Commit to broker acknowledgement of the last acknowledged transaction.");
        commit_to_ack_ = &m.make_histogram("millrace_cdc_commit_to_ack_seconds",
                                           "Time from a transaction's commit to the broker's acknowledgement of all its rows.",
                                           metrics::latency_buckets());
        reconnects_ = &m.make_counter("millrace_cdc_sessions_total", "Replication sessions started (reconnects + 1).");
        already_produced_ = &m.make_counter("millrace_cdc_rows_already_in_topic_total",
                                            "Rows the slot sent again after a restart or takeover that were found "
                                            "in the topic already, and not produced twice.");
        in_flight_ = &m.make_gauge("millrace_cdc_in_flight_messages", "Messages produced and not yet acknowledged.");
        avro_registrations_ = &m.make_counter("millrace_cdc_schema_registrations_total",
                                              "Avro schemas registered (cdc.format avro): one per new relation shape and subject.");
        encoder_ = encoder_options{.format = options_.format, .json_keys = options_.json_keys, .slot = options_.slot,
                                   .version = MILLRACE_CDC_VERSION};
        tracker_.on_acknowledged = [this](int64_t commit_us) {
            double seconds = static_cast<double>(now_us() - commit_us) / 1e6;
            commit_to_ack_->observe(std::max(seconds, 0.0));
            lag_ms_->set(std::max(seconds, 0.0) * 1000);
        };
    }

    ~capture() override { stop(); }

    std::string name() const override { return "cdc"; }

    result<std::optional<net::endpoint>> start() override {
        dsn_ = services::postgres_dsn(ctx_);
        bootstrap_ = services::kafka_bootstrap(ctx_);
        // One owner per slot, elected through the process's coordinator
        // (millrace/coordination). A second standalone cdc fails here, before it
        // touches anything; inside `up`, or with ZooKeeper, it waits as a standby.
        if (ctx_.coordinator == nullptr) {
            auto own = coordination::make_coordinator(coordination::options_from(ctx_.cfg));
            if (!own) return own.err().with_context("cdc");
            own_coordinator_ = std::move(*own);
        }
        auto* coordinator = ctx_.coordinator != nullptr ? ctx_.coordinator : own_coordinator_.get();
        lease_ = coordinator->make_lease("cdc." + options_.slot, dsn_);
        standby_ok_ = coordinator->opts().standby;
        replication_ = std::make_unique<replication>(options_, dsn_, application_, coordinator->opts().instance, ctx_.fs,
                                                     ctx_.data_dir);
        if (auto st = acquire_ownership(); !st) {
            if (st.err().code() == errc::already_exists && standby_ok_) {
                k_log.info("standby: {}", st.err().message());
            } else if (st.err().code() != errc::unavailable) {
                return st.err().with_context("cdc");
            } else {
                k_log.warn("{}; retrying in the background", st.err().message());
            }
        }
        if (options_.format == message_format::avro) {
            std::string url = options_.registry_url;
            http::client_auth auth;  // a configured URL carries its own credentials
            if (url.empty()) {
                auth = http::own_endpoint_auth(ctx_.cfg);
                url = http::own_url(auth, services::http_address(ctx_, "registry").value_or("127.0.0.1:8081"));
            }
            registry_ = std::make_unique<registry::client>(registry::client_options{.url = url, .auth = auth});
            registry_url_ = url;
        }
        k_log.info("capturing {} into Kafka at {} (slot {}, publication {}, format {}{})", table_list(), bootstrap_,
                   options_.slot, options_.publication, format_name(options_.format),
                   registry_ ? ", schemas registered at " + registry_url_ : "");
        running_ = true;
        thread_ = std::thread([this] { run(); });
        return std::optional<net::endpoint>();
    }

    void stop() override {
        {
            std::lock_guard lock(mutex_);
            if (!running_) return;
            running_ = false;
        }
        wake_.notify_all();
        if (thread_.joinable()) thread_.join();
    }

private:
    std::string table_list() const {
        std::string out;
        for (const auto& t : options_.tables) {
            if (!out.empty()) out += ", ";
            out += t.qualified() + " → " + options_.topic_for(t.schema, t.name);
        }
        return out;
    }

    bool running() const { return running_.load(); }


    // Sleeps up to `ms`, returning early when stopping.
    void sleep_ms(int64_t ms) {
        std::unique_lock lock(mutex_);
        wake_.wait_for(lock, std::chrono::milliseconds(ms), [this] { return !running_.load(); });
    }

    int64_t now_us() const {
        return std::chrono::duration_cast<std::chrono::microseconds>(ctx_.clock.wall_now().time_since_epoch()).count();
    }

    // Leadership of the slot is the lease "cdc.<slot>" (a PostgreSQL advisory
    // lock by default, released when its connection ends, also on kill -9; or
    // a ZooKeeper znode). The control connection then reads the snapshot.
    status acquire_ownership() {
        auto held = lease_->try_acquire();
        if (!held) return held.err();
        if (!*held) {
            std::string holder = lease_->holder();
            return make_error(errc::already_exists,
                              "replication slot '{}' is already owned by another millrace cdc{}; stop that one, or give "
                              "this one its own slot with cdc.slot",
                              options_.slot, holder.empty() ? "" : " (" + holder + ")");
        }
        return replication_->open_control();
    }

    // Fencing: before each unit of work that has effects (producing, moving
    // the slot's position), the lease must still be held.
    status check_lease() {
        if (lease_->held()) return {};
        return make_error(errc::cancelled, "lost the lease of replication slot '{}' (cdc.{}); stopping capture",
                          options_.slot, options_.slot);
    }

    // Waits as a standby until this process leads the slot (or stops).
    status wait_for_lease() {
        bool said = false;
        while (running()) {
            auto st = acquire_ownership();
            if (st) return {};
            if (st.err().code() != errc::already_exists) return st;
            if (!said) k_log.info("standby: {}", st.err().message());
            said = true;
            sleep_ms(k_standby_poll_ms);
        }
        return {};
    }

    // ---- the capture thread ------------------------------------------------

    void run() {
        int64_t backoff = options_.backoff_ms;
        while (running()) {
            reconnects_->inc();
            auto started = ctx_.clock.mono_now();
            status st = session();
            end_session();
            if (!running()) break;
            if (ctx_.clock.mono_now() - started > std::chrono::seconds(30)) backoff = options_.backoff_ms;
            k_log.warn("{}; reconnecting in {} ms", st ? std::string("session ended") : st.err().message(), backoff);
            sleep_ms(backoff);
            backoff = std::min(backoff * 2, options_.backoff_max_ms);
        }
        // A session that ended while still running keeps its producer for the next one; a stop that came
        // after that (during the back-off, or after end_session's check) must not leave it connected to a
        // broker that stops next (it would log "brokers are down" on a clean stop).
        producer_.close(true);
        k_log.info("stopped; acknowledged up to {}", tracker_.confirmed().to_string());
    }

    // One replication session, from connecting to the first failure (or stop).
    status session() {
        if (auto st = wait_for_lease(); !st) return st;
        if (!running()) return {};
        if (auto st = replication_->prepare_tables(); !st) return st;
        encoder_.database = replication_->database();
        if (auto st = producer_.open(producer_settings()); !st) return st;
        if (auto st = replication_->connect_stream(); !st) return st;
        lsn start_at = tracker_.confirmed();
        bool resumed = false;
        auto snapshot = [this](const std::string& name, lsn point) { return take_snapshot(name, point); };
        if (auto st = replication_->ensure_slot(start_at, resumed, snapshot); !st) return st;
        if (!running()) return {};
        in_topics_.clear();
        if (resumed) {
            if (auto st = read_topic_tails(tail_request_for(start_at), in_topics_, [this] { return running(); }); !st) return st;
        }
        if (auto st = replication_->start_streaming(start_at); !st) return st;
        k_log.info("streaming slot {} from {}", options_.slot, start_at.to_string());
        last_status_ = ctx_.clock.mono_now();
        return stream();
    }

    // ---- the initial snapshot ------------------------------------------------

    // Reads every configured table in the slot's exported snapshot and waits
    // until the broker acknowledged every row.
    result<uint64_t> take_snapshot(const std::string& snapshot_name, lsn point) {
        auto started = ctx_.clock.mono_now();
        auto txn = tracker_.begin(now_us());
        metrics::counter* rows_of_table = nullptr;
        snapshot_sink sink{
            .running = [this] { return running(); },
            .before_fetch = [this] { return check_lease(); },
            .described =
                [&](const table_ref& t, relation& rel) {
                    rel.schema = t.schema;
                    rel.name = t.name;
                    rel.topic = options_.topic_for(t.schema, t.name);
                    derive_avro(rel);
                    rows_of_table = &rows_counter(t.qualified());
                },
            .row =
                [&](const relation& rel, const tuple_data& tuple) {
                    change ch{'r', &rel, nullptr, &tuple, point, 0, now_us(), true, point};
                    return emit(txn, ch, *rows_of_table);
                },
            .after_fetch = [this] { return producer_.check(); },
        };
        auto rows = replication_->read_snapshot(snapshot_name, sink);
        if (!rows) return rows.err();
        tracker_.commit(txn, point);
        while (running() && !tracker_.empty()) {
            producer_.poll(100);
            if (auto st = producer_.check(); !st) return st.err();
        }
        if (!running()) return make_error(errc::cancelled, "stopped during the initial snapshot");
        double seconds = std::chrono::duration<double>(ctx_.clock.mono_now() - started).count();
        k_log.info("initial snapshot: {} rows acknowledged in {:.1f} s (consistent at {})", *rows, seconds,
                   point.to_string());
        return rows;
    }

    // ---- the stream ----------------------------------------------------------

    struct table_state {
        relation rel;
        metrics::counter* rows = nullptr;
    };

    status stream() {
        std::map<uint32_t, table_state> relations;
        ack_tracker::txn_id txn = 0;
        bool in_txn = false;
        uint32_t xid = 0;
        int64_t commit_us = 0;
        lsn commit_at;
        while (running()) {
            if (auto st = check_lease(); !st) return st;
            producer_.poll(0);
            if (auto st = producer_.check(); !st) return st;
            if (auto st = maybe_send_status(false); !st) return st;
            auto chunk = replication_->read(k_stream_wait);
            if (!chunk) return chunk.err();
            if (!*chunk) continue;
            auto message = decode_stream_message((*chunk)->bytes);
            status handled;
            if (!message) {
                handled = message.err();
            } else if (auto* k = std::get_if<keepalive>(&*message)) {
                if (k->wal_end > received_) received_ = k->wal_end;
                if (!in_txn) tracker_.idle_at(k->wal_end);
                server_end_ = k->wal_end;
                handled = maybe_send_status(k->reply_requested);
            } else {
                const auto& data = std::get<xlog_data>(*message);
                if (data.wal_end > server_end_) server_end_ = data.wal_end;
                if (data.wal_start > received_) received_ = data.wal_start;
                auto decoded = decode_pgoutput(data.payload);
                if (!decoded) {
                    handled = decoded.err().with_context(fmt::format("at {}", data.wal_start.to_string()));
                } else if (auto* b = std::get_if<begin_message>(&*decoded)) {
                    commit_us = b->commit_time_us + k_pg_epoch_offset_us;
                    xid = b->xid;
                    commit_at = b->final_lsn;
                    txn = tracker_.begin(commit_us);
                    in_txn = true;
                } else if (auto* c = std::get_if<commit_message>(&*decoded)) {
                    if (in_txn) tracker_.commit(txn, c->end_lsn);
                    in_txn = false;
                    if (c->end_lsn > received_) received_ = c->end_lsn;
                } else if (auto* r = std::get_if<relation_message>(&*decoded)) {
                    relations[r->oid] = make_relation(*r);
                } else if (auto* ins = std::get_if<insert_message>(&*decoded)) {
                    handled = on_change(relations, ins->relation, txn, in_txn,
                                        {'c', nullptr, nullptr, &ins->new_tuple, data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* up = std::get_if<update_message>(&*decoded)) {
                    handled = on_change(relations, up->relation, txn, in_txn,
                                        {'u', nullptr, up->old_kind ? &up->old_tuple : nullptr, &up->new_tuple,
                                         data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* del = std::get_if<delete_message>(&*decoded)) {
                    handled = on_change(relations, del->relation, txn, in_txn,
                                        {'d', nullptr, &del->old_tuple, nullptr, data.wal_start, xid, commit_us, false, commit_at});
                } else if (auto* tr = std::get_if<truncate_message>(&*decoded)) {
                    for (uint32_t oid : tr->relations) {
                        if (!in_txn) break;
                        handled = on_change(relations, oid, txn, in_txn,
                                            {'t', nullptr, nullptr, nullptr, data.wal_start, xid, commit_us, false, commit_at});
                        if (!handled) break;
                    }
                }
            }
            if (!handled) return handled.err();
        }
        return {};
    }

    table_state make_relation(const relation_message& r) {
        table_state state;
        relation& rel = state.rel;
        rel.schema = r.schema;
        rel.name = r.name;
        rel.topic = options_.topic_for(r.schema, r.name);
        state.rows = &rows_counter(r.schema + "." + r.name);
        const auto& pk = replication_->primary_key(r.schema + "." + r.name);
        for (const auto& c : r.columns) {
            column col{c.name, c.type_oid, c.key, c.type_modifier};
            if (!pk.empty()) {
                col.key = false;
                for (const auto& k : pk) col.key |= k == c.name;
            }
            rel.columns.push_back(std::move(col));
        }
        derive_avro(rel);
        return state;
    }

    metrics::counter& rows_counter(const std::string& table) {
        auto it = rows_.find(table);
        if (it != rows_.end()) return *it->second;
        auto& c = ctx_.metrics.make_counter("millrace_cdc_rows_total", "Rows captured and produced, by table.",
                                            {{"table", table}});
        rows_[table] = &c;
        return c;
    }

    status on_change(const std::map<uint32_t, table_state>& relations, uint32_t oid, ack_tracker::txn_id txn, bool in_txn,
                     change ch) {
        auto it = relations.find(oid);
        if (it == relations.end()) {
            return make_error(errc::invalid_argument, "pgoutput: change for relation {} at {} before its Relation message",
                              oid, ch.position.to_string());
        }
        if (!in_txn) {
            return make_error(errc::invalid_argument, "pgoutput: change at {} outside a transaction", ch.position.to_string());
        }
        ch.rel = &it->second.rel;
        if (!in_topics_.empty() && in_topics_.erase(ch.position.value) > 0) {
            already_produced_->inc();
            return {};
        }
        return emit(txn, ch, *it->second.rows);
    }

    // ---- encoding and producing ------------------------------------------------

    // Registers `schema_text` under `subject` unless this relation already did;
    // the registry answers the same id for a schema it knows.
    status ensure_registered(const std::string& subject, const std::string& schema_text, int& id) {
        if (id != 0) return {};
        auto cached = registered_.find(subject + '\n' + schema_text);
        if (cached != registered_.end()) {
            id = cached->second;
            return {};
        }
        auto parsed = avro::schema::parse(schema_text);
        if (!parsed) return parsed.err().with_context(fmt::format("derived Avro schema for {}", subject));
        auto got = registry_->register_schema(subject, parsed->normalized());
        if (!got) {
            if (got.err().code() != errc::already_exists) return error(errc::unavailable, got.err().message());
            // 409: name the columns behind the registry's "/fields/N" paths.
            std::string fields;
            const std::string& message = got.err().message();
            for (size_t at = message.find("/fields/"); at != std::string::npos; at = message.find("/fields/", at + 1)) {
                size_t index = std::strtoul(message.c_str() + at + 8, nullptr, 10);
                const auto& all = parsed->root().fields;
                if (index < all.size() && fields.find(all[index].name) == std::string::npos) {
                    fields += (fields.empty() ? "" : ", ") + all[index].name;
                }
            }
            return make_error(errc::invalid_argument, "{}{}; change the table back, or the subject's compatibility "
                              "(PUT /config/{})", message, fields.empty() ? "" : " (columns: " + fields + ")", subject);
        }
        id = *got;
        registered_[subject + '\n' + schema_text] = id;
        auto version = registry_->lookup(subject, parsed->normalized());
        k_log.info("schema of subject {}: id {}{}", subject, id,
                   version ? fmt::format(", version {}", version->version) : std::string());
        avro_registrations_->inc();
        return {};
    }

    // cdc.format avro: the schemas the message needs are registered first (the encoder does no I/O).
    status register_schemas(const change& ch) {
        const relation& rel = *ch.rel;
        const tuple_data* key_source = ch.after ? ch.after : ch.before;
        if (key_source && !rel.key_schema.empty()) {
            if (auto st = ensure_registered(rel.topic + "-key", rel.key_schema, rel.key_schema_id); !st) return st;
        }
        if (ch.after) {
            if (auto st = ensure_registered(rel.topic + "-value", rel.value_schema, rel.value_schema_id); !st) return st;
        }
        return {};
    }

    status emit(ack_tracker::txn_id txn, const change& ch, metrics::counter& rows) {
        const relation& rel = *ch.rel;
        if (options_.format == message_format::avro && ch.op != 't') {
            if (auto st = register_schemas(ch); !st) {
                return st.err().with_context(fmt::format("{}.{} at {}", rel.schema, rel.name, ch.position.to_string()));
            }
        }
        auto encoded = encode(encoder_, ch, now_us());
        if (!encoded) return encoded.err();
        if (*encoded) {
            auto while_full = [this]() -> status {
                if (replication_->streaming()) {
                    if (auto st = maybe_send_status(false); !st) return st;
                }
                if (!running()) return make_error(errc::cancelled, "stopped while the producer buffer was full");
                return {};
            };
            std::string where = fmt::format("{}.{} at {}", rel.schema, rel.name, ch.position.to_string());
            if (auto st = producer_.produce(rel.topic, **encoded, txn, while_full, where, options_.max_buffered_bytes); !st) {
                return st;
            }
        }
        rows.inc();
        return {};
    }

    std::vector<std::pair<std::string, std::string>> producer_settings() const {
        int64_t kbytes = std::max<int64_t>(options_.max_buffered_bytes / 1024, 1);
        std::vector<std::pair<std::string, std::string>> settings = {
            {"bootstrap.servers", bootstrap_},
            {"client.id", application_},
            {"enable.idempotence", "true"},
            {"acks", "all"},
            {"message.timeout.ms", "0"},  // never give up on a row: wait for the broker
            {"queue.buffering.max.kbytes", std::to_string(std::min<int64_t>(kbytes, 2'097'151))},
            {"queue.buffering.max.messages", "10000000"},
            {"linger.ms", std::to_string(options_.linger_ms)},
            {"compression.codec", options_.compression},
            {"partitioner", "murmur2_random"},
            {"reconnect.backoff.max.ms", "2000"},
        };
        // Every Kafka client's base properties: TLS/SASL (docs/security.md), kafka.client_properties.
        for (const auto& kv : security::kafka_client_properties(ctx_.cfg)) settings.push_back(kv);
        return settings;
    }

    // A resumed slot sends again every transaction committed after its
    // confirmed position, and the session before (this process's, or a leader
    // that died) may have produced some of them already: confirming a position
    // lags the broker's acknowledgement by up to cdc.status_interval. The rows
    // found in the topics' tails are skipped by the stream.
    tail_request tail_request_for(lsn resume_at) const {
        tail_request request{.settings = {
                                 {"bootstrap.servers", bootstrap_},
                                 {"client.id", application_ + "-resume"},
                                 {"group.id", "millrace-cdc-resume." + options_.slot},  // never joined nor committed: assign() only
                                 {"enable.auto.commit", "false"},
                                 {"enable.partition.eof", "true"},
                                 {"reconnect.backoff.max.ms", "2000"},
                             },
                             .resume_at = resume_at,
                             .slot = options_.slot};
        for (const auto& kv : security::kafka_client_properties(ctx_.cfg)) request.settings.push_back(kv);
        for (const auto& t : options_.tables) request.topics.insert(options_.topic_for(t.schema, t.name));
        return request;
    }

    // ---- standby status ----------------------------------------------------------

    // Sends a Standby Status Update when asked, when the interval passed, or
    // when the confirmed position moved.
    status maybe_send_status(bool reply_now) {
        if (!replication_->streaming()) return {};
        auto now = ctx_.clock.mono_now();
        lsn confirmed = tracker_.confirmed();
        acked_lsn_->set(static_cast<double>(confirmed.value));
        in_flight_->set(static_cast<double>(tracker_.in_flight()));
        if (server_end_ > confirmed) {
            lag_bytes_->set(static_cast<double>(server_end_.value - confirmed.value));
        } else {
            lag_bytes_->set(0);
        }
        bool due = now - last_status_ >= std::chrono::milliseconds(options_.status_interval_ms);
        if (!reply_now && !due) return {};
        return send_status(confirmed);
    }

    status send_status(lsn confirmed) {
        lsn written = std::max(received_, confirmed);
        if (auto st = replication_->send_status(written, confirmed, now_us()); !st) return st;
        last_status_ = ctx_.clock.mono_now();
        if (confirmed != last_sent_) k_log.debug("confirmed flush position {}", confirmed.to_string());
        last_sent_ = confirmed;
        return {};
    }

    // Flushes what can be flushed, sends the last confirmed position, and
    // closes the session's connections. The next session re-reads from the
    // confirmed position whatever was not acknowledged.
    void end_session() {
        bool goodbye = false;
        if (producer_.is_open()) {
            bool healthy = producer_.healthy();
            if (healthy) {
                auto deadline =
                    ctx_.clock.mono_now() + std::chrono::milliseconds(running() ? 2000 : options_.flush_timeout_ms);
                while (tracker_.in_flight() > 0 && ctx_.clock.mono_now() < deadline && producer_.healthy()) {
                    producer_.poll(50);
                }
            }
            if (replication_ && replication_->streaming() && replication_->stream_alive()) {
                goodbye = static_cast<bool>(send_status(tracker_.confirmed()));
            }
            acked_lsn_->set(static_cast<double>(tracker_.confirmed().value));
            bool drained = tracker_.in_flight() == 0 && healthy && producer_.healthy();
            // Unacknowledged rows are re-read from the slot by the next
            // session; this producer's state is abandoned with them.
            if (!drained || !running()) producer_.close(true);
        }
        tracker_.reset();
        if (replication_) replication_->end_stream(goodbye);
        if (!running()) {
            if (replication_) replication_->close_control();
            if (lease_) lease_->release();
        }
    }

    component_context& ctx_;
    cdc_options options_;
    std::string application_;
    std::string dsn_;
    std::string bootstrap_;

    std::atomic<bool> running_{false};
    std::mutex mutex_;
    std::condition_variable wake_;
    std::thread thread_;

    // Owned by the capture thread (replication_'s control session also by start(), before it runs).
    std::unique_ptr<replication> replication_;
    std::unique_ptr<coordination::coordinator> own_coordinator_;  // when the host gave none
    std::unique_ptr<coordination::lease> lease_;                  // "cdc.<slot>"
    // Positions (the "lsn" header) of the rows a resumed session found already
    // in the topics: the slot sends them again; they are not produced twice.
    std::unordered_set<uint64_t> in_topics_;
    bool standby_ok_ = false;  // a held lease makes this one wait, not fail
    ack_tracker tracker_;
    producer producer_;  // acknowledges into tracker_ (declared after it)
    encoder_options encoder_;
    lsn received_;    // highest WAL position received
    lsn server_end_;  // the server's last reported WAL end
    lsn last_sent_;
    millrace::clock::mono_time last_status_;
    std::map<std::string, metrics::counter*> rows_;
    std::unique_ptr<registry::client> registry_;  // cdc.format avro
    std::string registry_url_;
    std::map<std::string, int> registered_;  // subject + '\n' + schema text → id
    metrics::counter* avro_registrations_;

    metrics::gauge* acked_lsn_;
    metrics::gauge* lag_bytes_;
    metrics::gauge* lag_ms_;
    metrics::histogram* commit_to_ack_;
    metrics::counter* reconnects_;
    metrics::counter* already_produced_;
    metrics::gauge* in_flight_;
};

}  // namespace

std::unique_ptr<component> make_cdc(component_context& ctx) {
    auto options = options_from(ctx.cfg);
    if (!options) {
        // Reported by start(): the host prints the error and exits with code 2.
        struct failed final : component {
            error err;
            explicit failed(error e) : err(std::move(e)) {}
            std::string name() const override { return "cdc"; }
            result<std::optional<net::endpoint>> start() override { return err.with_context("cdc"); }
            void stop() override {}
        };
        return std::make_unique<failed>(options.err());
    }
    return std::make_unique<capture>(ctx, std::move(*options));
}

}  // namespace millrace::cdc
