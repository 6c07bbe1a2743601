// librdkafka (C++ API) client suite for millrace's Kafka-compatible broker.
//
// Creates a 3-partition topic (librdkafka's C admin API), produces keyed records
// with headers through an idempotent producer for every compression codec, reads
// them back through a KafkaConsumer group and compares everything exactly, checks
// committed() offsets, and checks that a second consumer of the group resumes
// from them. Reads KAFKA_BOOTSTRAP; prints "[PASS] name" / "[FAIL] name: why"
// per check and exits 1 when any check failed.
//
// Build: g++ -std=c++17 -O1 rdkafka_suite.cc -lrdkafka++ -lrdkafka
// Env:   MILLRACE_TEST_SEED (default 20260101), RDKAFKA_RECORDS_PER_CODEC
//        (default 1000), RDKAFKA_DEBUG (librdkafka "debug" contexts, e.g. protocol)

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafkacpp.h>
#include <unistd.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int g_passed = 0;
int g_failed = 0;

void pass(const std::string& name) {
  ++g_passed;
  std::printf("[PASS] %s\n", name.c_str());
  std::fflush(stdout);
}

void fail(const std::string& name, const std::string& why) {
  ++g_failed;
  std::printf("[FAIL] %s: %s\n", name.c_str(), why.c_str());
  std::fflush(stdout);
}

void check(const std::string& name, bool ok, const std::string& why) {
  if (ok) {
    pass(name);
  } else {
    fail(name, why);
  }
}

std::string env_or(const char* name, const std::string& fallback) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? std::string(v) : fallback;
}

using Clock = std::chrono::steady_clock;

constexpr int kPartitions = 3;
constexpr const char* kCodecs[] = {"none", "gzip", "snappy", "lz4", "zstd"};

// CRC-32 (IEEE, reflected), as librdkafka's consistent_random partitioner uses.
uint32_t crc32(const std::string& data) {
  uint32_t crc = 0xFFFFFFFFu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
  }
  return ~crc;
}

struct HeaderKV {
  std::string key;
  std::optional<std::string> value;  // nullopt: a header with a null value
  bool operator==(const HeaderKV& o) const { return key == o.key && value == o.value; }
};

struct Expected {
  uint64_t seq = 0;
  std::optional<std::string> key;
  std::string value;
  std::vector<HeaderKV> headers;
  int32_t explicit_partition = RdKafka::Topic::PARTITION_UA;
  int64_t timestamp = 0;
  // filled by the delivery report
  bool delivered = false;
  RdKafka::ErrorCode dr_err = RdKafka::ERR_NO_ERROR;
  int32_t partition = -1;
  int64_t offset = -1;
};

std::string seq_bytes(uint64_t seq) {
  std::string s(8, '\0');
  for (int i = 7; i >= 0; --i) {
    s[i] = static_cast<char>(seq & 0xFF);
    seq >>= 8;
  }
  return s;
}

std::optional<uint64_t> seq_from(RdKafka::Message& m) {
  const RdKafka::Headers* hs = m.headers();
  if (hs == nullptr) return std::nullopt;
  RdKafka::Headers::Header h = hs->get_last("seq");
  if (h.err() != RdKafka::ERR_NO_ERROR || h.value() == nullptr || h.value_size() != 8) return std::nullopt;
  const auto* p = static_cast<const unsigned char*>(h.value());
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

class DeliveryReports : public RdKafka::DeliveryReportCb {
 public:
  void dr_cb(RdKafka::Message& m) override {
    auto* e = static_cast<Expected*>(m.msg_opaque());
    e->delivered = true;
    e->dr_err = m.err();
    e->partition = m.partition();
    e->offset = m.offset();
  }
};

class Suite {
 public:
  Suite(std::string bootstrap, uint64_t seed, int per_codec)
      : bootstrap_(std::move(bootstrap)), rng_(seed), per_codec_(per_codec) {
    std::ostringstream suffix;
    suffix << std::hex << seed << "-" << std::dec << getpid();
    topic_ = "rdkafka-records-" + suffix.str();
    group_ = "rdkafka-group-" + suffix.str();
    base_ts_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count() -
               3600 * 1000;
  }

  void run() {
    create_topic();
    metadata_checks();
    for (const char* codec : kCodecs) produce(codec, per_codec_);
    consume_all();
    resume_from_committed();
  }

 private:
  std::unique_ptr<RdKafka::Conf> base_conf() {
    std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
    set(conf.get(), "bootstrap.servers", bootstrap_);
    set(conf.get(), "client.id", "millrace-rdkafka-suite");
    std::string debug = env_or("RDKAFKA_DEBUG", "");
    if (!debug.empty()) set(conf.get(), "debug", debug);
    return conf;
  }

  static void set(RdKafka::Conf* conf, const std::string& k, const std::string& v) {
    std::string err;
    if (conf->set(k, v, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error("config " + k + ": " + err);
  }

  static void set_cb(RdKafka::Conf* conf, RdKafka::DeliveryReportCb* cb) {
    std::string err;
    if (conf->set("dr_cb", cb, err) != RdKafka::Conf::CONF_OK) throw std::runtime_error("dr_cb: " + err);
  }

  void create_topic() {
    auto conf = base_conf();
    std::string err;
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
    if (!p) throw std::runtime_error("producer: " + err);
    rd_kafka_t* rk = p->c_ptr();
    char errstr[512];
    rd_kafka_NewTopic_t* nt = rd_kafka_NewTopic_new(topic_.c_str(), kPartitions, 1, errstr, sizeof errstr);
    if (nt == nullptr) throw std::runtime_error(std::string("NewTopic: ") + errstr);
    rd_kafka_queue_t* q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t* opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opts, 15000, errstr, sizeof errstr);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    rd_kafka_event_t* ev = rd_kafka_queue_poll(q, 30000);
    std::string problem;
    if (ev == nullptr) {
      problem = "no CreateTopics result within 30 s";
    } else if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
      problem = rd_kafka_event_error_string(ev);
    } else {
      const rd_kafka_CreateTopics_result_t* res = rd_kafka_event_CreateTopics_result(ev);
      size_t n = 0;
      const rd_kafka_topic_result_t** trs = rd_kafka_CreateTopics_result_topics(res, &n);
      if (n != 1 || std::string(rd_kafka_topic_result_name(trs[0])) != topic_) {
        problem = "unexpected topic results";
      } else if (rd_kafka_topic_result_error(trs[0]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        problem = rd_kafka_err2str(rd_kafka_topic_result_error(trs[0]));
      }
    }
    if (ev != nullptr) rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    check("admin CreateTopics: 3 partitions, replication factor 1", problem.empty(), problem);
    if (!problem.empty()) throw std::runtime_error("cannot continue without the topic");
  }

  void metadata_checks() {
    auto conf = base_conf();
    std::string err;
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
    if (!p) throw std::runtime_error("producer: " + err);
    std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(p.get(), topic_, nullptr, err));
    // Leaders may take a moment to be elected after creation: wait for them.
    std::string problem = "no metadata";
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      RdKafka::Metadata* raw = nullptr;
      if (p->metadata(false, t.get(), &raw, 5000) != RdKafka::ERR_NO_ERROR) continue;
      std::unique_ptr<RdKafka::Metadata> md(raw);
      problem.clear();
      const auto* brokers = md->brokers();
      std::string want_host = bootstrap_.substr(0, bootstrap_.rfind(':'));
      int want_port = std::stoi(bootstrap_.substr(bootstrap_.rfind(':') + 1));
      if (brokers->size() != 1 || (*brokers)[0]->host() != want_host || (*brokers)[0]->port() != want_port) {
        problem = "brokers do not match the bootstrap address";
        break;
      }
      int32_t broker_id = (*brokers)[0]->id();
      const auto* topics = md->topics();
      if (topics->size() != 1 || (*topics)[0]->err() != RdKafka::ERR_NO_ERROR) {
        problem = "topic missing or in error";
      } else if ((*topics)[0]->partitions()->size() != kPartitions) {
        problem = "partition count " + std::to_string((*topics)[0]->partitions()->size());
      } else {
        for (const auto* pm : *(*topics)[0]->partitions()) {
          if (pm->leader() != broker_id || pm->err() != RdKafka::ERR_NO_ERROR) problem = "partition without leader";
        }
      }
      if (problem.empty()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    check("metadata: the broker at the bootstrap address leads all 3 partitions of the topic", problem.empty(), problem);
  }

  Expected make_record(const std::string& codec) {
    Expected e;
    e.seq = next_seq_++;
    int r = static_cast<int>(rng_() % 10);
    if (r != 0) e.key = "key-" + std::to_string(rng_() % 150);
    static const std::string alphabet =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.:;";
    size_t len = rng_() % 10 == 0 ? 2000 + rng_() % 4000 : rng_() % 200;
    e.value.reserve(len);
    for (size_t i = 0; i < len; ++i) e.value.push_back(alphabet[rng_() % alphabet.size()]);
    std::string bin(1 + rng_() % 24, '\0');
    for (char& c : bin) c = static_cast<char>(rng_() & 0xFF);
    e.headers.push_back({"seq", seq_bytes(e.seq)});
    e.headers.push_back({"codec", codec});
    e.headers.push_back({"bin", bin});
    if (rng_() % 4 == 0) {
      e.headers.push_back({"dup", std::string("first")});
      e.headers.push_back({"dup", std::string("second")});
    }
    if (rng_() % 4 == 0) e.headers.push_back({"nullable", std::nullopt});
    if (r < 3) e.explicit_partition = static_cast<int32_t>(rng_() % kPartitions);
    e.timestamp = base_ts_ + static_cast<int64_t>(e.seq) * 3;
    return e;
  }

  void produce(const std::string& codec, int count) {
    DeliveryReports drs;
    auto conf = base_conf();
    set(conf.get(), "enable.idempotence", "true");
    set(conf.get(), "compression.codec", codec);
    set(conf.get(), "linger.ms", "5");
    set_cb(conf.get(), &drs);
    std::string err;
    std::unique_ptr<RdKafka::Producer> p(RdKafka::Producer::create(conf.get(), err));
    if (!p) throw std::runtime_error("producer: " + err);
    std::vector<Expected*> batch;
    std::string problem;
    for (int i = 0; i < count; ++i) {
      Expected e = make_record(codec);
      auto [it, inserted] = expected_.emplace(e.seq, std::move(e));
      Expected* x = &it->second;
      batch.push_back(x);
      RdKafka::Headers* hs = RdKafka::Headers::create();
      for (const auto& h : x->headers) {
        if (h.value) {
          hs->add(h.key, h.value->data(), h.value->size());
        } else {
          hs->add(h.key, nullptr, 0);
        }
      }
      for (;;) {
        RdKafka::ErrorCode rc = p->produce(
            topic_, x->explicit_partition, RdKafka::Producer::RK_MSG_COPY, const_cast<char*>(x->value.data()),
            x->value.size(), x->key ? x->key->data() : nullptr, x->key ? x->key->size() : 0, x->timestamp, hs, x);
        if (rc == RdKafka::ERR__QUEUE_FULL) {
          p->poll(50);
          continue;
        }
        if (rc != RdKafka::ERR_NO_ERROR) {
          delete hs;
          if (problem.empty()) problem = "produce(): " + RdKafka::err2str(rc);
        }
        break;
      }
      p->poll(0);
    }
    RdKafka::ErrorCode fr = p->flush(60000);
    if (fr != RdKafka::ERR_NO_ERROR && problem.empty()) problem = "flush: " + RdKafka::err2str(fr);
    int bad = 0;
    int misplaced = 0;
    for (Expected* x : batch) {
      if (!x->delivered || x->dr_err != RdKafka::ERR_NO_ERROR) {
        if (problem.empty())
          problem = "seq " + std::to_string(x->seq) + ": " +
                    (x->delivered ? RdKafka::err2str(x->dr_err) : std::string("no delivery report"));
        ++bad;
        continue;
      }
      int32_t want = x->explicit_partition;
      if (want == RdKafka::Topic::PARTITION_UA && x->key) want = static_cast<int32_t>(crc32(*x->key) % kPartitions);
      if (want != RdKafka::Topic::PARTITION_UA && want != x->partition) ++misplaced;
    }
    check("idempotent producer, compression.codec=" + codec + ": " + std::to_string(count) +
              " records delivered",
          bad == 0 && problem.empty(), std::to_string(bad) + " failed, first: " + problem);
    check("idempotent producer, compression.codec=" + codec +
              ": records went to their explicit or crc32(key) % 3 partition",
          misplaced == 0, std::to_string(misplaced) + " records in another partition");
  }

  std::unique_ptr<RdKafka::KafkaConsumer> make_consumer() {
    auto conf = base_conf();
    set(conf.get(), "group.id", group_);
    set(conf.get(), "auto.offset.reset", "earliest");
    set(conf.get(), "enable.auto.commit", "false");
    set(conf.get(), "check.crcs", "true");
    set(conf.get(), "fetch.wait.max.ms", "200");
    set(conf.get(), "heartbeat.interval.ms", "500");
    std::string err;
    std::unique_ptr<RdKafka::KafkaConsumer> c(RdKafka::KafkaConsumer::create(conf.get(), err));
    if (!c) throw std::runtime_error("consumer: " + err);
    RdKafka::ErrorCode rc = c->subscribe({topic_});
    if (rc != RdKafka::ERR_NO_ERROR) throw std::runtime_error("subscribe: " + RdKafka::err2str(rc));
    return c;
  }

  static std::string compare(const Expected& e, RdKafka::Message& m) {
    std::optional<std::string> key;
    if (m.key_pointer() != nullptr) key = std::string(static_cast<const char*>(m.key_pointer()), m.key_len());
    if (key != e.key) return "key differs";
    std::string value(m.payload() != nullptr ? static_cast<const char*>(m.payload()) : "", m.len());
    if (value != e.value) return "value differs";
    std::vector<HeaderKV> got;
    if (const RdKafka::Headers* hs = m.headers()) {
      for (const auto& h : hs->get_all()) {
        if (h.value() == nullptr) {
          got.push_back({h.key(), std::nullopt});
        } else {
          got.push_back({h.key(), std::string(static_cast<const char*>(h.value()), h.value_size())});
        }
      }
    }
    if (!(got == e.headers)) return "headers differ (" + std::to_string(got.size()) + " vs " +
                                     std::to_string(e.headers.size()) + ")";
    if (m.partition() != e.partition || m.offset() != e.offset)
      return "at " + std::to_string(m.partition()) + "/" + std::to_string(m.offset()) + ", delivery report said " +
             std::to_string(e.partition) + "/" + std::to_string(e.offset);
    RdKafka::MessageTimestamp ts = m.timestamp();
    if (ts.type != RdKafka::MessageTimestamp::MSG_TIMESTAMP_CREATE_TIME || ts.timestamp != e.timestamp)
      return "timestamp " + std::to_string(ts.timestamp) + " vs " + std::to_string(e.timestamp);
    return "";
  }

  // Consumes until `want` records arrived or the deadline passed; commits after every message batch.
  std::map<uint64_t, int> consume(RdKafka::KafkaConsumer* c, size_t want, int timeout_s, std::string* first_diff,
                                  int* diffs) {
    std::map<uint64_t, int> seen;
    auto deadline = Clock::now() + std::chrono::seconds(timeout_s);
    size_t unique = 0;
    while (unique < want && Clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(c->consume(200));
      if (m->err() == RdKafka::ERR__TIMED_OUT || m->err() == RdKafka::ERR__PARTITION_EOF) continue;
      if (m->err() != RdKafka::ERR_NO_ERROR) {
        ++*diffs;
        if (first_diff->empty()) *first_diff = "consume error: " + m->errstr();
        continue;
      }
      auto seq = seq_from(*m);
      auto it = seq ? expected_.find(*seq) : expected_.end();
      std::string diff = it == expected_.end() ? "record without a known seq header" : compare(it->second, *m);
      if (!diff.empty()) {
        ++*diffs;
        if (first_diff->empty()) *first_diff = "seq " + (seq ? std::to_string(*seq) : std::string("?")) + ": " + diff;
      }
      if (seq && seen[*seq]++ == 0) ++unique;
    }
    return seen;
  }

  std::vector<std::pair<int32_t, int64_t>> high_watermarks(RdKafka::KafkaConsumer* c) {
    std::vector<std::pair<int32_t, int64_t>> out;
    for (int32_t p = 0; p < kPartitions; ++p) {
      int64_t lo = -1;
      int64_t hi = -1;
      RdKafka::ErrorCode rc = c->query_watermark_offsets(topic_, p, &lo, &hi, 10000);
      if (rc != RdKafka::ERR_NO_ERROR) hi = -2;
      out.emplace_back(p, hi);
    }
    return out;
  }

  void consume_all() {
    auto c = make_consumer();
    std::string first_diff;
    int diffs = 0;
    auto seen = consume(c.get(), expected_.size(), 60, &first_diff, &diffs);
    size_t dups = 0;
    for (const auto& [seq, n] : seen) dups += n > 1 ? 1 : 0;
    check("consumer group: every record read back exactly once",
          seen.size() == expected_.size() && dups == 0,
          std::to_string(seen.size()) + " of " + std::to_string(expected_.size()) + " records, " +
              std::to_string(dups) + " duplicated");
    check("consumer group: keys, values, headers (order, duplicates, null values), partitions, offsets and "
          "timestamps match exactly",
          diffs == 0, std::to_string(diffs) + " differences, first: " + first_diff);
    std::vector<RdKafka::TopicPartition*> assignment;
    c->assignment(assignment);
    check("consumer group: the only member is assigned all 3 partitions", assignment.size() == kPartitions,
          std::to_string(assignment.size()) + " partitions");
    RdKafka::TopicPartition::destroy(assignment);

    RdKafka::ErrorCode rc = c->commitSync();
    check("consumer group: commitSync succeeds", rc == RdKafka::ERR_NO_ERROR, RdKafka::err2str(rc));

    std::vector<RdKafka::TopicPartition*> parts;
    for (int32_t p = 0; p < kPartitions; ++p) parts.push_back(RdKafka::TopicPartition::create(topic_, p));
    rc = c->committed(parts, 10000);
    auto highs = high_watermarks(c.get());
    std::ostringstream got;
    bool ok = rc == RdKafka::ERR_NO_ERROR;
    int64_t total = 0;
    for (int32_t p = 0; p < kPartitions; ++p) {
      got << "p" << p << " committed=" << parts[p]->offset() << " high=" << highs[p].second << "; ";
      ok = ok && parts[p]->err() == RdKafka::ERR_NO_ERROR && parts[p]->offset() == highs[p].second;
      total += highs[p].second;
    }
    RdKafka::TopicPartition::destroy(parts);
    check("consumer group: committed() equals the high watermark of every partition", ok,
          RdKafka::err2str(rc) + " " + got.str());
    check("consumer group: high watermarks add up to the records produced",
          total == static_cast<int64_t>(expected_.size()), std::to_string(total));
    c->close();
  }

  void resume_from_committed() {
    uint64_t first_new = next_seq_;
    const int extra = 30;
    produce("none", extra);
    auto c = make_consumer();
    std::string first_diff;
    int diffs = 0;
    auto seen = consume(c.get(), extra, 30, &first_diff, &diffs);
    // keep reading until the position is at the high watermark everywhere, so that an old
    // record that should not come back has every chance to show up
    auto highs = high_watermarks(c.get());
    auto deadline = Clock::now() + std::chrono::seconds(15);
    bool at_end = false;
    while (!at_end && Clock::now() < deadline) {
      std::unique_ptr<RdKafka::Message> m(c->consume(100));
      if (m->err() == RdKafka::ERR_NO_ERROR) {
        auto seq = seq_from(*m);
        if (seq) ++seen[*seq];
      }
      std::vector<RdKafka::TopicPartition*> pos;
      for (int32_t p = 0; p < kPartitions; ++p) pos.push_back(RdKafka::TopicPartition::create(topic_, p));
      c->position(pos);
      at_end = true;
      for (int32_t p = 0; p < kPartitions; ++p) {
        int64_t want = highs[p].second;
        // A partition with no new records may never get a fetched position: use committed offset then.
        at_end = at_end && (pos[p]->offset() == want || (pos[p]->offset() == RdKafka::Topic::OFFSET_INVALID));
      }
      RdKafka::TopicPartition::destroy(pos);
    }
    size_t old = 0;
    size_t dups = 0;
    for (const auto& [seq, n] : seen) {
      old += seq < first_new ? 1 : 0;
      dups += n > 1 ? 1 : 0;
    }
    check("second consumer in the group resumes from the committed offsets: exactly the " + std::to_string(extra) +
              " new records",
          seen.size() == static_cast<size_t>(extra) && old == 0 && dups == 0,
          std::to_string(seen.size()) + " records, " + std::to_string(old) + " old, " + std::to_string(dups) +
              " duplicated");
    check("second consumer: the new records match exactly", diffs == 0, first_diff);
    c->close();
  }

  std::string bootstrap_;
  std::mt19937_64 rng_;
  int per_codec_;
  std::string topic_;
  std::string group_;
  int64_t base_ts_;
  uint64_t next_seq_ = 0;
  std::map<uint64_t, Expected> expected_;
};

}  // namespace

int main() {
  std::string bootstrap = env_or("KAFKA_BOOTSTRAP", "");
  if (bootstrap.empty()) {
    std::fprintf(stderr, "KAFKA_BOOTSTRAP is not set\n");
    return 2;
  }
  uint64_t seed = std::stoull(env_or("MILLRACE_TEST_SEED", "20260101"));
  int per_codec = std::stoi(env_or("RDKAFKA_RECORDS_PER_CODEC", "1000"));
  std::printf("librdkafka %s\n", RdKafka::version_str().c_str());
  auto started = Clock::now();
  try {
    Suite(bootstrap, seed, per_codec).run();
  } catch (const std::exception& e) {
    fail("rdkafka suite", e.what());
  }
  double secs = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("rdkafka suite done in %.1f s (%d passed, %d failed)\n", secs, g_passed, g_failed);
  std::fflush(stdout);
  return g_failed == 0 ? 0 : 1;
}
