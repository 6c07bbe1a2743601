#include "protocol/api.h"


namespace millrace::kafka {
namespace {

// Version ranges come from protocol/messages/*.json: at least what Apache
// Kafka 4.1.1 advertises, and every older version clients still send.
constexpr api_spec k_apis[] = {
#define MILLRACE_KAFKA_API_TABLE
#include "kafka_api_table.inc"
#undef MILLRACE_KAFKA_API_TABLE
};

}  // namespace

std::span<const api_spec> supported_apis() { return k_apis; }

const api_spec* find_api(int16_t key) {
    for (const auto& spec : k_apis) {
        if (static_cast<int16_t>(spec.key) == key) return &spec;
    }
    return nullptr;
}

}  // namespace millrace::kafka
