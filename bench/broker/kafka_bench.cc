// Broker benchmark client on librdkafka: throughput (produce, then consume)
// and produce→consume latency at a fixed rate. Prints one JSON object.
//
//   kafka_bench --bootstrap HOST:PORT --topic T --mode throughput --records N --size BYTES
//   kafka_bench --bootstrap HOST:PORT --topic T --mode latency --rate R --seconds S --size BYTES
//   kafka_bench --bootstrap HOST:PORT --topic T --mode txn --records N --txn-records K --size BYTES
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <librdkafka/rdkafka.h>

namespace {

using steady = std::chrono::steady_clock;

struct options {
    std::string bootstrap;
    std::string topic = "bench";
    std::string mode = "throughput";
    long records = 1'000'000;
    long size = 100;
    long rate = 10'000;
    long seconds = 10;
    std::string acks = "all";
    long txn_records = 100;  // --mode txn: records per transaction
};

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "kafka_bench: %s\n", message.c_str());
    std::exit(1);
}

rd_kafka_conf_t* make_conf(const options& opt, const std::map<std::string, std::string>& extra) {
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    char err[512];
    auto set = [&](const std::string& key, const std::string& value) {
        if (rd_kafka_conf_set(conf, key.c_str(), value.c_str(), err, sizeof(err)) != RD_KAFKA_CONF_OK) die(err);
    };
    set("bootstrap.servers", opt.bootstrap);
    for (const auto& [key, value] : extra) set(key, value);
    return conf;
}

rd_kafka_t* make_producer(const options& opt, const std::map<std::string, std::string>& extra) {
    char err[512];
    auto* conf = make_conf(opt, extra);
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p) die(err);
    return p;
}

rd_kafka_t* make_consumer(const options& opt, const std::string& isolation = "read_uncommitted") {
    char err[512];
    auto* conf = make_conf(opt, {{"group.id", "bench-" + opt.topic}, {"auto.offset.reset", "earliest"},
                                 {"enable.auto.commit", "false"}, {"fetch.wait.max.ms", "5"},
                                 {"fetch.min.bytes", "1"}, {"queued.min.messages", "200000"},
                                 {"isolation.level", isolation}});
    rd_kafka_t* c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (!c) die(err);
    rd_kafka_poll_set_consumer(c);
    auto* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, opt.topic.c_str(), 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(c, parts) != RD_KAFKA_RESP_ERR_NO_ERROR) die("assign failed");
    rd_kafka_topic_partition_list_destroy(parts);
    return c;
}

void produce_one(rd_kafka_t* p, const options& opt, const void* payload, size_t length) {
    for (;;) {
        auto err = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(opt.topic.c_str()), RD_KAFKA_V_PARTITION(0),
                                     RD_KAFKA_V_VALUE(const_cast<void*>(payload), length),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL) die(rd_kafka_err2str(err));
        rd_kafka_poll(p, 1);
    }
}

long delivery_errors = 0;
void on_delivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    if (m->err) ++delivery_errors;
}

void throughput(const options& opt) {
    std::string payload(static_cast<size_t>(opt.size), 'x');
    char err[512];
    auto* conf = make_conf(opt, {{"linger.ms", "5"}, {"batch.size", "1000000"}, {"acks", opt.acks},
                                 {"queue.buffering.max.messages", "1000000"}, {"enable.idempotence", "false"}});
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p) die(err);
    auto start = steady::now();
    for (long idx = 0; idx < opt.records; ++idx) {
        produce_one(p, opt, payload.data(), payload.size());
        if ((idx & 1023) == 0) rd_kafka_poll(p, 0);
    }
    while (rd_kafka_outq_len(p) > 0) rd_kafka_poll(p, 10);
    double produce_s = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_destroy(p);
    if (delivery_errors) die(std::to_string(delivery_errors) + " delivery errors");

    rd_kafka_t* c = make_consumer(opt);
    long got = 0;
    start = steady::now();
    while (got < opt.records) {
        rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 1000);
        if (!m) continue;
        if (!m->err) ++got;
        rd_kafka_message_destroy(m);
        if (std::chrono::duration<double>(steady::now() - start).count() > 300) die("consume timed out");
    }
    double consume_s = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    double mb = static_cast<double>(opt.records) * static_cast<double>(opt.size) / 1e6;
    std::printf("{\"mode\":\"throughput\",\"size\":%ld,\"records\":%ld,\"produce_records_per_s\":%.0f,"
                "\"produce_mb_per_s\":%.1f,\"consume_records_per_s\":%.0f,\"consume_mb_per_s\":%.1f}\n",
                opt.size, opt.records, opt.records / produce_s, mb / produce_s, opt.records / consume_s, mb / consume_s);
}

void latency(const options& opt) {
    rd_kafka_t* c = make_consumer(opt);
    // Wait until the consumer's assignment is live before producing.
    rd_kafka_t* p = make_producer(opt, {{"linger.ms", "0"}, {"acks", opt.acks}});
    long total = opt.rate * opt.seconds;
    std::vector<double> latencies;
    latencies.reserve(static_cast<size_t>(total));
    // Records whose payload starts with a zero timestamp are warm-up records:
    // timing starts once the consumer has received one, so the consumer's
    // start-up (metadata, offsets, first fetch) is not measured as latency.
    std::atomic<bool> warm{false};
    std::thread consumer([&] {
        long got = 0;
        auto deadline = steady::now() + std::chrono::seconds(opt.seconds + 60);
        while (got < total && steady::now() < deadline) {
            rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 100);
            if (!m) continue;
            if (!m->err && m->len >= sizeof(int64_t)) {
                int64_t sent_ns;
                std::memcpy(&sent_ns, m->payload, sizeof(sent_ns));
                if (sent_ns == 0) {
                    warm = true;
                    rd_kafka_message_destroy(m);
                    continue;
                }
                int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
                latencies.push_back(static_cast<double>(now_ns - sent_ns) / 1e6);
                ++got;
            }
            rd_kafka_message_destroy(m);
        }
    });
    std::string payload(static_cast<size_t>(std::max<long>(opt.size, 8)), 'x');
    int64_t zero = 0;
    std::memcpy(payload.data(), &zero, sizeof(zero));
    auto warm_deadline = steady::now() + std::chrono::seconds(60);
    while (!warm && steady::now() < warm_deadline) {
        produce_one(p, opt, payload.data(), payload.size());
        rd_kafka_flush(p, 1000);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!warm) die("consumer never received a warm-up record");
    auto start = steady::now();
    for (long idx = 0; idx < total; ++idx) {
        auto due = start + std::chrono::nanoseconds(idx * 1'000'000'000LL / opt.rate);
        while (steady::now() < due) {
            rd_kafka_poll(p, 0);
            std::this_thread::sleep_until(due);
        }
        int64_t now_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
        std::memcpy(payload.data(), &now_ns, sizeof(now_ns));
        produce_one(p, opt, payload.data(), payload.size());
    }
    rd_kafka_flush(p, 30'000);
    consumer.join();
    rd_kafka_destroy(p);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    if (latencies.size() < static_cast<size_t>(total)) die("consumer received " + std::to_string(latencies.size()) + " of " + std::to_string(total));
    std::sort(latencies.begin(), latencies.end());
    auto pct = [&](double q) { return latencies[std::min(latencies.size() - 1, static_cast<size_t>(q * latencies.size()))]; };
    std::printf("{\"mode\":\"latency\",\"rate\":%ld,\"records\":%ld,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
                opt.rate, total, pct(0.5), pct(0.99), pct(0.999));
}

void check(rd_kafka_error_t* error, const char* what) {
    if (error == nullptr) return;
    std::string message = std::string(what) + ": " + rd_kafka_error_string(error);
    rd_kafka_error_destroy(error);
    die(message);
}

// Transactional produce: transactions of --txn-records records (begin, produce, commit) until --records are
// sent, timing each transaction from begin to the commit's return; then a read_committed consumer reads them
// all back (it sees records only once their commit marker is written).
void transactions(const options& opt) {
    if (opt.txn_records <= 0 || opt.records % opt.txn_records != 0) die("--records must be a multiple of --txn-records");
    std::string payload(static_cast<size_t>(opt.size), 'x');
    char err[512];
    auto* conf = make_conf(opt, {{"linger.ms", "5"}, {"batch.size", "1000000"}, {"transactional.id", "bench-txn-" + opt.topic},
                                 {"queue.buffering.max.messages", "1000000"}, {"transaction.timeout.ms", "60000"}});
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_t* p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!p) die(err);
    check(rd_kafka_init_transactions(p, 60'000), "init_transactions");
    // A warm-up transaction of one record, not timed: topic metadata and the partition's first
    // AddPartitionsToTxn (retried while an auto-created topic comes up) are not what is measured.
    check(rd_kafka_begin_transaction(p), "begin_transaction");
    produce_one(p, opt, payload.data(), payload.size());
    check(rd_kafka_commit_transaction(p, 60'000), "commit_transaction");
    std::vector<double> commit_ms;
    auto start = steady::now();
    for (long sent = 0; sent < opt.records;) {
        auto begun = steady::now();
        check(rd_kafka_begin_transaction(p), "begin_transaction");
        for (long idx = 0; idx < opt.txn_records; ++idx, ++sent) {
            produce_one(p, opt, payload.data(), payload.size());
            if ((idx & 1023) == 0) rd_kafka_poll(p, 0);
        }
        check(rd_kafka_commit_transaction(p, 60'000), "commit_transaction");  // flushes, then EndTxn
        commit_ms.push_back(std::chrono::duration<double, std::milli>(steady::now() - begun).count());
    }
    double produce_s = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_destroy(p);
    if (delivery_errors) die(std::to_string(delivery_errors) + " delivery errors");

    rd_kafka_t* c = make_consumer(opt, "read_committed");
    long got = 0;
    start = steady::now();
    while (got < opt.records + 1) {  // with the warm-up record
        rd_kafka_message_t* m = rd_kafka_consumer_poll(c, 1000);
        if (!m) continue;
        if (!m->err) ++got;
        rd_kafka_message_destroy(m);
        if (std::chrono::duration<double>(steady::now() - start).count() > 300) die("consume timed out");
    }
    double consume_s = std::chrono::duration<double>(steady::now() - start).count();
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    std::sort(commit_ms.begin(), commit_ms.end());
    auto pct = [&](double q) { return commit_ms[std::min(commit_ms.size() - 1, static_cast<size_t>(q * commit_ms.size()))]; };
    std::printf("{\"mode\":\"txn\",\"size\":%ld,\"records\":%ld,\"txn_records\":%ld,\"transactions\":%zu,"
                "\"produce_records_per_s\":%.0f,\"txn_p50_ms\":%.2f,\"txn_p99_ms\":%.2f,"
                "\"consume_committed_records_per_s\":%.0f}\n",
                opt.size, opt.records, opt.txn_records, commit_ms.size(), opt.records / produce_s, pct(0.5), pct(0.99),
                opt.records / consume_s);
}

}  // namespace

int main(int argc, char** argv) {
    options opt;
    for (int idx = 1; idx + 1 < argc; idx += 2) {
        std::string key = argv[idx], value = argv[idx + 1];
        if (key == "--bootstrap") opt.bootstrap = value;
        else if (key == "--topic") opt.topic = value;
        else if (key == "--mode") opt.mode = value;
        else if (key == "--records") opt.records = std::stol(value);
        else if (key == "--size") opt.size = std::stol(value);
        else if (key == "--rate") opt.rate = std::stol(value);
        else if (key == "--seconds") opt.seconds = std::stol(value);
        else if (key == "--acks") opt.acks = value;
        else if (key == "--txn-records") opt.txn_records = std::stol(value);
        else die("unknown option " + key);
    }
    if (opt.bootstrap.empty()) die("--bootstrap is required");
    if (opt.mode == "throughput") throughput(opt);
    else if (opt.mode == "latency") latency(opt);
    else if (opt.mode == "txn") transactions(opt);
    else die("unknown mode " + opt.mode);
}
