// registry_bench [registry host:port]
//
// With an address: registrations/s (distinct schemas, one subject each), lookups/s
// (POST /subjects/{s}) and fetches by id/s (GET /schemas/ids/{id}, a fresh client
// each time so the cache does not answer), through the C++ client (libcurl, one
// connection per request). Always: Avro binary encode and decode of users shaped
// like the pipeline's, against the same records as JSON (size and speed).
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "millrace/avro/codec.h"
#include "millrace/avro/json.h"
#include "millrace/avro/schema.h"
#include "millrace/registry/client.h"

namespace {

using namespace millrace;
using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point start) {
    return std::chrono::duration<double>(clock_type::now() - start).count();
}

const char* k_users = R"({"type":"record","name":"created_users","namespace":"millrace","fields":[
  {"name":"id","type":{"type":"string","logicalType":"uuid"}},
  {"name":"first_name","type":"string"},{"name":"last_name","type":"string"},{"name":"gender","type":"string"},
  {"name":"address","type":"string"},{"name":"post_code","type":"string"},{"name":"email","type":"string"},
  {"name":"username","type":"string"},{"name":"dob","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"registered_date","type":{"type":"long","logicalType":"timestamp-millis"}},
  {"name":"phone","type":"string"},{"name":"picture","type":["null","string"],"default":null}]})";

std::vector<avro::json::value> make_users(int count) {
    std::mt19937_64 rng(301);
    std::vector<avro::json::value> out;
    const char* names[] = {"Ann", "Bob", "Chloe", "Dmitri", "Emma", "Farid", "Grace", "Hugo"};
    for (int idx = 0; idx < count; ++idx) {
        auto pick = [&] { return std::string(names[rng() % 8]); };
        avro::json::value u = avro::json::value::object();
        u.set("id", avro::json::value::from_string(fmt::format("{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}", rng() & 0xffffffff, rng() & 0xffff,
                                                                rng() & 0xfff, rng() & 0xfff, rng() & 0xffffffffffffULL)));
        u.set("first_name", avro::json::value::from_string(pick()));
        u.set("last_name", avro::json::value::from_string(pick() + "son"));
        u.set("gender", avro::json::value::from_string(rng() % 2 ? "female" : "male"));
        u.set("address", avro::json::value::from_string(fmt::format("{} {} Street, Springfield, Oregon, United States", rng() % 9999, pick())));
        u.set("post_code", avro::json::value::from_string(std::to_string(10000 + rng() % 89999)));
        u.set("email", avro::json::value::from_string(fmt::format("{}.{}@example.com", pick(), rng() % 1000)));
        u.set("username", avro::json::value::from_string(fmt::format("{}{}", pick(), rng() % 10000)));
        u.set("dob", avro::json::value::from_int(static_cast<int64_t>(rng() % 1'700'000'000'000ULL)));
        u.set("registered_date", avro::json::value::from_int(static_cast<int64_t>(1'000'000'000'000ULL + rng() % 700'000'000'000ULL)));
        u.set("phone", avro::json::value::from_string(fmt::format("({:03}) {:03}-{:04}", rng() % 1000, rng() % 1000, rng() % 10000)));
        u.set("picture", rng() % 4 ? avro::json::value::from_string("https://randomuser.me/api/portraits/women/42.jpg") : avro::json::value{});
        out.push_back(std::move(u));
    }
    return out;
}

void bench_codec() {
    auto schema = avro::schema::parse(k_users);
    if (!schema) {
        std::fprintf(stderr, "%s\n", schema.err().message().c_str());
        return;
    }
    const int count = 200'000;
    auto users = make_users(count);
    std::vector<std::string> avro_bytes(count);
    std::vector<std::string> json_text(count);
    auto start = clock_type::now();
    size_t avro_total = 0;
    for (int idx = 0; idx < count; ++idx) {
        avro_bytes[idx] = *avro::encode(schema->root(), users[idx]);
        avro_total += avro_bytes[idx].size();
    }
    double avro_encode = seconds_since(start);
    start = clock_type::now();
    size_t json_total = 0;
    for (int idx = 0; idx < count; ++idx) {
        json_text[idx] = avro::json::dump(users[idx]);
        json_total += json_text[idx].size();
    }
    double json_encode = seconds_since(start);
    start = clock_type::now();
    size_t check = 0;
    for (int idx = 0; idx < count; ++idx) check += avro::decode(avro_bytes[idx], schema->root())->members.size();
    double avro_decode = seconds_since(start);
    start = clock_type::now();
    for (int idx = 0; idx < count; ++idx) check += avro::json::parse(json_text[idx])->members.size();
    double json_decode = seconds_since(start);
    std::printf("codec, %d users (seeded), one thread:\n", count);
    std::printf("  avro  encode %9.0f records/s  decode %9.0f records/s  %6.1f bytes/record\n", count / avro_encode, count / avro_decode,
                static_cast<double>(avro_total) / count);
    std::printf("  json  encode %9.0f records/s  decode %9.0f records/s  %6.1f bytes/record\n", count / json_encode, count / json_decode,
                static_cast<double>(json_total) / count);
    std::printf("  avro/json size %.2f  (check %zu)\n", static_cast<double>(avro_total) / static_cast<double>(json_total), check);
}

void bench_registry(const std::string& address) {
    registry::client client({.url = address});
    const int registrations = 500;
    auto start = clock_type::now();
    std::vector<int> ids;
    for (int idx = 0; idx < registrations; ++idx) {
        std::string schema = fmt::format(R"({{"type":"record","name":"bench{}","fields":[{{"name":"f","type":"long"}}]}})", idx);
        auto id = client.register_schema(fmt::format("bench-{}-value", idx), schema);
        if (!id) {
            std::fprintf(stderr, "%s\n", id.err().message().c_str());
            return;
        }
        ids.push_back(*id);
    }
    double reg = seconds_since(start);
    const int lookups = 3000;
    start = clock_type::now();
    for (int idx = 0; idx < lookups; ++idx) {
        int which = idx % registrations;
        std::string schema = fmt::format(R"({{"type":"record","name":"bench{}","fields":[{{"name":"f","type":"long"}}]}})", which);
        if (!client.lookup(fmt::format("bench-{}-value", which), schema)) return;
    }
    double look = seconds_since(start);
    start = clock_type::now();
    for (int idx = 0; idx < lookups; ++idx) {
        registry::client fresh({.url = address});
        if (!fresh.schema_by_id(ids[static_cast<size_t>(idx % registrations)])) return;
    }
    double fetch = seconds_since(start);
    std::printf("registry at %s, sequential requests from one client thread:\n", address.c_str());
    std::printf("  registrations %8.0f /s  (%d new schemas, acks=all write to _schemas each)\n", registrations / reg, registrations);
    std::printf("  lookups       %8.0f /s  (POST /subjects/{s}, schema parsed and normalized per request)\n", lookups / look);
    std::printf("  get by id     %8.0f /s  (GET /schemas/ids/{id}, uncached client)\n", lookups / fetch);
}

}  // namespace

int main(int argc, char** argv) {
    if (argc > 1) bench_registry(argv[1]);
    bench_codec();
    return 0;
}
