#include "millrace/sql/program.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "millrace/sql/decoder.h"
#include "millrace/sql/encoder.h"
#include "millrace/sql/pipeline.h"
#include "program_state.h"

namespace millrace::sql {

namespace {
bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}
}  // namespace

std::string table_def::option(const std::string& key, const std::string& fallback) const {
    auto it = options.find(key);
    return it == options.end() ? fallback : it->second;
}

const column_def* table_def::find_column(std::string_view column_name) const {
    for (const auto& c : columns) {
        if (iequals(c.name, column_name)) return &c;
    }
    return nullptr;
}

std::vector<column_type> table_def::persisted_columns() const {
    std::vector<column_type> out;
    for (const auto& c : columns) {
        if (c.kind == column_kind::computed || (c.kind == column_kind::metadata && c.is_virtual)) continue;
        out.push_back({c.name, c.type});
    }
    return out;
}

const std::string& job_program::file_name() const { return state_->file_name; }
const std::string& job_program::text() const { return state_->text; }
const std::map<std::string, std::string>& job_program::settings() const { return state_->settings; }
std::string job_program::setting(const std::string& key, const std::string& fallback) const {
    auto it = state_->settings.find(key);
    return it == state_->settings.end() ? fallback : it->second;
}
const std::vector<table_def>& job_program::tables() const { return state_->tables; }
const table_def* job_program::find_table(std::string_view table_name) const {
    for (const auto& t : state_->tables) {
        if (iequals(t.name, table_name)) return &t;
    }
    return nullptr;
}
std::vector<size_t> job_program::sources() const {
    std::vector<size_t> out;
    for (const auto& p : state_->pipelines) {
        if (std::find(out.begin(), out.end(), p.source) == out.end()) out.push_back(p.source);
    }
    return out;
}
std::vector<size_t> job_program::sinks() const {
    std::vector<size_t> out;
    for (const auto& p : state_->pipelines) {
        if (std::find(out.begin(), out.end(), p.sink) == out.end()) out.push_back(p.sink);
    }
    return out;
}
const std::vector<pipeline_def>& job_program::pipelines() const { return state_->pipelines; }
const std::vector<source_read>& job_program::reads() const { return state_->reads; }

status source_decoder::add_writer_schema(int32_t, std::string_view) {
    return make_error(errc::unsupported, "this format has no writer schemas");
}

std::string_view to_string(error_code code) {
    switch (code) {
        case error_code::empty_value: return "empty_value";
        case error_code::malformed_json: return "malformed_json";
        case error_code::not_an_object: return "not_an_object";
        case error_code::missing_field: return "missing_field";
        case error_code::wrong_type: return "wrong_type";
        case error_code::invalid_value: return "invalid_value";
        case error_code::malformed_avro: return "malformed_avro";
        case error_code::unknown_schema: return "unknown_schema";
        case error_code::eval_error: return "eval_error";
        case error_code::late_record: return "late_record";
    }
    return "unknown";
}

result<int64_t> parse_duration(std::string_view text) {
    size_t pos = 0;
    while (pos < text.size() && std::isspace(static_cast<unsigned char>(text[pos]))) ++pos;
    int64_t amount = 0;
    auto [end, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), amount);
    if (ec != std::errc() || amount < 0) return make_error(errc::invalid_argument, "'{}' is not a duration", text);
    std::string unit;
    for (const char* p = end; p < text.data() + text.size(); ++p) {
        if (!std::isspace(static_cast<unsigned char>(*p))) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(*p)));
    }
    int64_t scale = 0;
    if (unit.empty() || unit == "ms" || unit == "milli" || unit == "millis" || unit == "millisecond" || unit == "milliseconds") scale = 1;
    else if (unit == "s" || unit == "sec" || unit == "secs" || unit == "second" || unit == "seconds") scale = 1000;
    else if (unit == "min" || unit == "m" || unit == "minute" || unit == "minutes" || unit == "mins") scale = 60000;
    else if (unit == "h" || unit == "hour" || unit == "hours") scale = 3600000;
    else if (unit == "d" || unit == "day" || unit == "days") scale = 86400000;
    else return make_error(errc::invalid_argument, "'{}' is not a duration (unit '{}' is not ms, s, min, h or d)", text, unit);
    return amount * scale;
}

}  // namespace millrace::sql
