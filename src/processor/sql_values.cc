#include "sql_values.h"

namespace millrace::processor {

namespace cc = millrace::cql_client;

result<cc::value> to_cql_value(const sql::value& v, const sql::sql_type& t) {
    if (v.is_null()) return cc::value::null();
    using sql::type_id;
    switch (t.id) {
        case type_id::boolean: return cc::value::boolean(v.b);
        case type_id::tinyint: return cc::value::tinyint(static_cast<int8_t>(v.i));
        case type_id::smallint: return cc::value::smallint(static_cast<int16_t>(v.i));
        case type_id::int_: return cc::value::int32(static_cast<int32_t>(v.i));
        case type_id::bigint: return cc::value::bigint(v.i);
        case type_id::float_: return cc::value::float32(static_cast<float>(v.kind == sql::value_kind::integer ? v.i : v.d));
        case type_id::double_: return cc::value::float64(v.kind == sql::value_kind::integer ? static_cast<double>(v.i) : v.d);
        case type_id::decimal: return cc::value::decimal(t.scale, v.i);
        case type_id::char_:
        case type_id::varchar: return cc::value::text(v.s);
        case type_id::binary:
        case type_id::varbinary: return cc::value::blob(v.s);
        case type_id::date: return cc::value::date(static_cast<int32_t>(v.i));
        case type_id::time: return cc::value::time(v.i * 1'000'000);
        case type_id::timestamp:
        case type_id::timestamp_ltz: return cc::value::timestamp(v.i);
        case type_id::array: {
            if (t.children.empty()) break;
            std::vector<cc::value> items;
            for (const auto& item : v.items) {
                auto c = to_cql_value(item, t.children[0]);
                if (!c) return c.err();
                items.push_back(std::move(*c));
            }
            return cc::value::list(std::move(items));
        }
        case type_id::map: {
            if (t.children.size() < 2) break;
            std::vector<std::pair<cc::value, cc::value>> entries;
            for (size_t idx = 0; idx + 1 < v.items.size(); idx += 2) {
                auto k = to_cql_value(v.items[idx], t.children[0]);
                if (!k) return k.err();
                auto x = to_cql_value(v.items[idx + 1], t.children[1]);
                if (!x) return x.err();
                entries.emplace_back(std::move(*k), std::move(*x));
            }
            return cc::value::map(std::move(entries));
        }
        case type_id::row: return cc::value::text(sql::format_value(v, t));
        default: break;
    }
    return make_error(errc::unsupported, "a {} value has no CQL form", t.to_string());
}

}  // namespace millrace::processor
