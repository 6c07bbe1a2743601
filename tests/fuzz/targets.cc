// libFuzzer entry for every decoder: one binary, a table of targets, the
// target chosen by MILLRACE_FUZZ_TARGET. Each target decodes bytes without any
// server state; a crash, an abort or a sanitizer report is a finding (a
// decoder's documented protocol_error is not).
//
// Adding a decoder is one line in k_targets plus a seed corpus directory
// tests/fuzz/corpus/<name>/, which CMake turns into a bounded run in ctest.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

// The targets, one per decoder, in fuzz_<subsystem>.cc.
void fuzz_kafka_record_batch(std::string_view data);
void fuzz_kafka_request(std::string_view data);
void fuzz_cql_frame(std::string_view data);
void fuzz_cql_segments(std::string_view data);
void fuzz_pgoutput(std::string_view data);

namespace {

struct fuzz_target {
    const char* name;
    void (*run)(std::string_view);
};

constexpr fuzz_target k_targets[] = {
    {"kafka_record_batch", fuzz_kafka_record_batch},
    {"cql_frame", fuzz_cql_frame},
    {"cql_segments", fuzz_cql_segments},
    {"pgoutput", fuzz_pgoutput},
    {"kafka_request", fuzz_kafka_request},
};

const fuzz_target* selected = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    const char* name = std::getenv("MILLRACE_FUZZ_TARGET");
    for (const auto& t : k_targets) {
        if (name != nullptr && std::strcmp(name, t.name) == 0) selected = &t;
    }
    if (selected == nullptr) {
        std::fprintf(stderr, "set MILLRACE_FUZZ_TARGET to one of:");
        for (const auto& t : k_targets) std::fprintf(stderr, " %s", t.name);
        std::fprintf(stderr, "\n");
        std::exit(2);
    }
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    selected->run(std::string_view(reinterpret_cast<const char*>(data), size));
    return 0;
}
