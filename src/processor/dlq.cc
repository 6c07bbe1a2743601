#include "dlq.h"

namespace millrace::processor {

header_list dlq_headers(const rejection& why, const record_origin& origin, const std::string& group,
                        const std::string& job) {
    header_list h;
    h.reserve(9);
    h.emplace_back("error.code", why.code);
    if (!why.field.empty()) h.emplace_back("error.field", why.field);
    h.emplace_back("error.message", why.message);
    h.emplace_back("source.topic", origin.topic);
    h.emplace_back("source.partition", std::to_string(origin.partition));
    h.emplace_back("source.offset", std::to_string(origin.offset));
    h.emplace_back("source.timestamp", std::to_string(origin.timestamp_ms));
    h.emplace_back("processor.group", group);
    h.emplace_back("processor.job", job);
    return h;
}

}  // namespace millrace::processor
