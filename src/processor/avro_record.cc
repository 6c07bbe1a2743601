#include "avro_record.h"

#include <cstdlib>

#include <fmt/format.h>

#include "millrace/avro/codec.h"
#include "millrace/avro/compatibility.h"
#include "millrace/avro/schema.h"
#include "millrace/avro/wire.h"

namespace millrace::processor {

namespace {

constexpr std::string_view k_string_fields[] = {"first_name", "last_name", "gender", "address", "email",
                                                "username",   "phone",     "picture"};

// The reader shape, named like the writer's record (resolution matches records by name).
std::string reader_schema_text(const std::string& full_name) {
    std::string out = R"({"type":"record","name":)" + avro::json::quote(full_name) + R"(,"fields":[)";
    auto add = [&](std::string_view name, std::string_view branches) {
        if (out.back() != '[') out.push_back(',');
        out += fmt::format(R"({{"name":"{}","type":["null",{}],"default":null}})", name, branches);
    };
    add("id", R"("string")");
    for (auto name : k_string_fields) add(name, R"("string")");
    add("post_code", R"("string","long","double")");
    add("dob", R"("string","long")");
    add("registered_date", R"("string","long")");
    add("nat", R"("string")");
    out += "]}";
    return out;
}

// How the writer stored a timestamp field as a long: the divisor to seconds
// and whether it is an instant (written with a Z).
struct time_unit {
    int64_t per_second = 1'000'000;
    bool instant = true;
};

time_unit unit_of(const avro::node& record, std::string_view field) {
    time_unit u;
    const avro::field* f = record.find_field(field);
    if (f == nullptr) return u;
    const avro::node* t = f->type;
    if (t->type == avro::type::union_) {
        for (const avro::node* b : t->branches) {
            if (b->type == avro::type::long_ || b->type == avro::type::int_) t = b;
        }
    }
    const std::string& l = t->logical_type;
    if (l == "timestamp-millis" || l == "local-timestamp-millis") u.per_second = 1000;
    u.instant = !l.starts_with("local-");
    return u;
}

// 1970-01-01 + days → y, m, d (H. Hinnant's algorithm).
void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = static_cast<unsigned>(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    y = static_cast<int64_t>(yoe) + era * 400;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    d = doy - (153 * mp + 2) / 5 + 1;
    m = mp < 10 ? mp + 3 : mp - 9;
    y += m <= 2;
}

// The ISO-8601 text the JSON path carries: "2020-05-06T07:08:09.5Z" (fraction
// without trailing zeros).
std::string format_time(int64_t value, time_unit u) {
    int64_t seconds = value / u.per_second;
    int64_t sub = value % u.per_second;
    if (sub < 0) {
        sub += u.per_second;
        --seconds;
    }
    int64_t micros = u.per_second == 1000 ? sub * 1000 : sub;
    int64_t days = seconds / 86400;
    int64_t rem = seconds % 86400;
    if (rem < 0) {
        rem += 86400;
        --days;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, y, m, d);
    std::string out = fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", y, m, d, rem / 3600, rem / 60 % 60, rem % 60);
    if (micros) {
        std::string frac = fmt::format("{:06}", micros);
        while (frac.back() == '0') frac.pop_back();
        out += "." + frac;
    }
    if (u.instant) out += "Z";
    return out;
}

}  // namespace

struct avro_record_decoder::resolved {
    int32_t id = 0;
    std::optional<avro::schema> writer;
    std::optional<avro::schema> reader;
    time_unit dob, registered;
    std::optional<rejection> unusable;  // every record with this id is rejected with it
};

avro_record_decoder::avro_record_decoder(fetch_fn fetch) : fetch_(std::move(fetch)) {}
avro_record_decoder::~avro_record_decoder() = default;

size_t avro_record_decoder::cached() const { return by_id_.size(); }

avro_record_decoder::outcome avro_record_decoder::decode(std::string_view value, user_row& row, rejection& why,
                                                         std::optional<error>& transient) {
    auto frame = avro::wire::unframe(value);
    if (!frame) {
        why = rejection{reject_code::malformed_avro, "", frame.err().message()};
        return outcome::rejected;
    }
    auto it = by_id_.find(frame->schema_id);
    if (it == by_id_.end()) {
        auto fetched = fetch_(frame->schema_id);
        if (!fetched && fetched.err().code() != errc::not_found && fetched.err().code() != errc::invalid_argument) {
            transient = fetched.err();
            return outcome::retry;
        }
        auto r = std::make_shared<resolved>();
        r->id = frame->schema_id;
        if (!fetched) {
            r->unusable = rejection{reject_code::unknown_schema, "",
                                    fmt::format("schema id {} of the Confluent-framed value: {}", frame->schema_id,
                                                fetched.err().message())};
        } else if (fetched->type != "AVRO") {
            r->unusable = rejection{reject_code::unknown_schema, "",
                                    fmt::format("schema id {} is a {} schema, not Avro", frame->schema_id, fetched->type)};
        } else if (auto writer = avro::schema::parse(fetched->text); !writer) {
            r->unusable = rejection{reject_code::unknown_schema, "",
                                    fmt::format("schema id {} does not parse: {}", frame->schema_id, writer.err().message())};
        } else if (writer->root().type != avro::type::record) {
            r->unusable = rejection{reject_code::unknown_schema, "",
                                    fmt::format("schema id {} is a {}, expected a record of user fields", frame->schema_id,
                                                avro::type_name(writer->root().type))};
        } else {
            auto reader = avro::schema::parse(reader_schema_text(writer->root().name));
            if (!reader) {  // a bug: the reader shape is ours
                r->unusable = rejection{reject_code::unknown_schema, "", reader.err().message()};
            } else if (auto problems = avro::check_can_read(writer->root(), reader->root()); !problems.empty()) {
                std::string reasons;
                for (const auto& p : problems) {
                    reasons += (reasons.empty() ? "" : "; ") + p.to_string();
                    // Name the field: "/fields/1/type" → "(field first_name)".
                    if (p.path.starts_with("/fields/")) {
                        size_t index = std::strtoul(p.path.c_str() + 8, nullptr, 10);
                        const auto& fields = reader->root().fields;
                        if (index < fields.size()) reasons += " (field " + fields[index].name + ")";
                    }
                }
                r->unusable = rejection{reject_code::unknown_schema, "",
                                        fmt::format("schema id {} ({}) cannot be read as a user: {}", frame->schema_id,
                                                    writer->root().name, reasons)};
            } else {
                r->dob = unit_of(writer->root(), "dob");
                r->registered = unit_of(writer->root(), "registered_date");
                r->writer = std::move(*writer);
                r->reader = std::move(*reader);
            }
        }
        it = by_id_.emplace(frame->schema_id, std::move(r)).first;
    }
    const resolved& r = *it->second;
    if (r.unusable) {
        why = *r.unusable;
        return outcome::rejected;
    }
    auto doc = avro::decode(frame->payload, r.writer->root(), r.reader->root());
    if (!doc) {
        why = rejection{reject_code::malformed_avro, "",
                        fmt::format("Avro value (schema id {}) does not decode: {}", r.id, doc.err().message())};
        return outcome::rejected;
    }
    auto reject = [&](reject_code code, std::string_view field, std::string message) {
        why = rejection{code, std::string(field), std::move(message)};
        return outcome::rejected;
    };
    auto text_of = [&](std::string_view name) -> const avro::json::value* {
        const avro::json::value* v = doc->find(name);
        return v == nullptr || v->is_null() ? nullptr : v;
    };
    const avro::json::value* id = text_of("id");
    if (id == nullptr) return reject(reject_code::missing_field, "id", "required field id is missing or null");
    if (!parse_uuid(id->text, row.id)) {
        return reject(reject_code::invalid_value, "id",
                      fmt::format("field id is \"{}\", expected a UUID (8-4-4-4-12 hex digits)", id->text.substr(0, 64)));
    }
    std::string* targets[] = {&row.first_name, &row.last_name, &row.gender, &row.address,
                              &row.email,      &row.username,  &row.phone,  &row.picture};
    for (size_t idx = 0; idx < std::size(k_string_fields); ++idx) {
        const avro::json::value* v = text_of(k_string_fields[idx]);
        if (v == nullptr) {
            return reject(reject_code::missing_field, k_string_fields[idx],
                          fmt::format("required field {} is missing or null", k_string_fields[idx]));
        }
        *targets[idx] = v->text;
    }
    const avro::json::value* post = text_of("post_code");
    if (post == nullptr) return reject(reject_code::missing_field, "post_code", "required field post_code is missing or null");
    if (post->is_string()) {
        row.post_code = post->text;
    } else if (post->is_integer()) {
        row.post_code = std::to_string(post->integer);
    } else {
        row.post_code = fmt::format("{}", post->number);
    }
    const avro::json::value* registered = text_of("registered_date");
    if (registered == nullptr) {
        return reject(reject_code::missing_field, "registered_date", "required field registered_date is missing or null");
    }
    row.registered_date = registered->is_string() ? registered->text : format_time(registered->integer, r.registered);
    const avro::json::value* dob = text_of("dob");
    row.has_dob = dob != nullptr;
    if (dob) row.dob = dob->is_string() ? dob->text : format_time(dob->integer, r.dob);
    const avro::json::value* nat = text_of("nat");
    row.has_nat = nat != nullptr;
    if (nat) row.nat = nat->text;
    return outcome::ok;
}

}  // namespace millrace::processor
