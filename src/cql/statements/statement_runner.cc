#include "statements/statement_runner.h"

#include <algorithm>
#include <chrono>
#include <set>

#include "protocol/wire.h"
#include "storage/murmur3.h"

namespace millrace::cql {

std::string token_input(const std::vector<std::string>& components) {
    if (components.size() == 1) return components[0];
    std::string out;
    for (const auto& c : components) {
        kf::put_be(out, c.size(), 2);
        out += c;
        out.push_back('\0');
    }
    return out;
}

int64_t statement_runner::next_timestamp() {
    int64_t now = std::chrono::duration_cast<std::chrono::microseconds>(ex.clock_.wall_now().time_since_epoch()).count();
    ex.last_timestamp_ = std::max(now, ex.last_timestamp_ + 1);
    return ex.last_timestamp_;
}

result<std::shared_ptr<table_def>> statement_runner::table(const std::string& ks_in, const std::string& name) const {
    std::string ks = keyspace_of(ks_in);
    if (ks.empty()) return make_error(errc::invalid_argument, "No keyspace has been specified. USE a keyspace, or explicitly specify keyspace.tablename");
    if (ex.catalog_.keyspaces.count(ks) == 0) return make_error(errc::invalid_argument, "Keyspace {} does not exist", ks);
    auto t = ex.catalog_.find_table(ks, name);
    if (!t) return make_error(errc::invalid_argument, "unconfigured table {}", name);
    return t;
}

result<statement_runner::value> statement_runner::eval(const term& tm, const cql_type& type, std::string_view receiver) const {
    if (tm.k == term::kind::literal) return literal_to_value(type, tm.lit, receiver);
    if (tm.k == term::kind::function) {
        if (tm.function == "now" || tm.function == "uuid") return value(generate_uuid(tm.function == "now"));
        if (tm.function == "fromjson") {
            if (tm.args.size() != 1) return make_error(errc::invalid_argument, "Invalid number of arguments in call to function system.fromjson: 1 required but {} provided", tm.args.size());
            auto text = eval(tm.args[0], cql_type{type_kind::varchar, {}, false});
            if (!text) return text.err();
            if (!text->has_value()) return value();
            return value_from_json(type, **text);
        }
        return make_error(errc::invalid_argument, "unknown function {}", tm.function);
    }
    size_t idx = static_cast<size_t>(tm.marker_index);
    if (idx >= params.values.size()) {
        return make_error(errc::invalid_argument, "there were {} markers(?) in CQL but {} bound variables", ps.markers.size(),
                          params.values.size());
    }
    const auto& v = params.values[idx];
    if (v) {
        if (auto st = validate_value(type, *v); !st) return st.err();
        if (type.kind == type_kind::set || type.kind == type_kind::map) return value(normalize_collection(type, *v));
        if (type.kind == type_kind::tuple || type.kind == type_kind::udt) return value(pad_components(type, *v));
    }
    return v;
}

std::string statement_runner::generate_uuid(bool time_based) const {
    static uint64_t counter = 0x5eed;
    ++counter;
    std::string out(16, '\0');
    uint64_t hi, lo;
    if (time_based) {
        // 100ns intervals since 1582-10-15, version 1, with a per-process clock sequence.
        uint64_t ts = static_cast<uint64_t>(ex.clock_.wall_millis()) * 10000 + 0x01B21DD213814000ULL + (counter & 0x3FFF);
        hi = ((ts & 0xFFFFFFFFULL) << 32) | (((ts >> 32) & 0xFFFF) << 16) | (0x1000 | ((ts >> 48) & 0x0FFF));
        lo = 0x8000000000000000ULL | (counter << 16) | 0x6d72;
    } else {
        uint64_t seed[2];
        std::string in = std::to_string(counter) + std::to_string(ex.clock_.wall_millis());
        murmur3_x64_128(in, 0x6d696c6c, seed);
        hi = (seed[0] & ~0xF000ULL) | 0x4000ULL;
        lo = (seed[1] & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
    }
    for (int idx = 0; idx < 8; ++idx) {
        out[idx] = static_cast<char>(hi >> (56 - 8 * idx));
        out[8 + idx] = static_cast<char>(lo >> (56 - 8 * idx));
    }
    return out;
}

result<int64_t> statement_runner::eval_int(const term& tm, bool is_bigint) const {
    auto v = eval(tm, is_bigint ? bigint_type() : int_type());
    if (!v) return v.err();
    if (!v->has_value()) return make_error(errc::invalid_argument, "null is not a valid value here");
    return be_int(**v);
}

std::string statement_runner::partition_prefix(const table_def& t, const std::vector<std::string>& pk) const {
    std::string key = kf::table_prefix(t.id);
    kf::append_token(key, murmur3_token(token_input(pk)));
    for (const auto& c : pk) {
        kf::put_be(key, c.size(), 2);
        key += c;
    }
    return key;
}

std::string statement_runner::row_key(const table_def& t, const std::vector<std::string>& pk, const std::vector<std::string>& ck) const {
    std::string key = partition_prefix(t, pk);
    for (size_t idx = 0; idx < ck.size(); ++idx) {
        const auto& col = t.columns[t.clustering[idx]];
        append_ordered(key, col.type, ck[idx], col.descending);
    }
    return key;
}

bool statement_runner::decode_row_key(const table_def& t, std::string_view key, std::vector<std::string>& pk, std::vector<std::string>& ck) const {
    key.remove_prefix(17);
    for (size_t idx = 0; idx < t.partition_key.size(); ++idx) {
        if (key.size() < 2) return false;
        size_t n = kf::get_be(key, 2);
        if (key.size() < 2 + n) return false;
        pk.emplace_back(key.substr(2, n));
        key.remove_prefix(2 + n);
    }
    if (key.empty() && !t.clustering.empty()) return true;  // the partition's static cells
    for (auto idx : t.clustering) {
        auto v = read_ordered(key, t.columns[idx].type, t.columns[idx].descending);
        if (!v) return false;
        ck.push_back(*v);
    }
    return key.empty();
}

request_error statement_runner::server_error(const mutation_result& r) {
    return {error_code::server_error, r.st.err().message(), {}, {}, {}};
}

void statement_runner::bump_schema_version() {
    ex.catalog_.schema_version = generate_uuid(false);
}

asio::awaitable<response> statement_runner::run(const statement& st) {
    if (auto* s = std::get_if<select_stmt>(&st)) co_return select(*s);
    if (auto* s = std::get_if<use_stmt>(&st)) {
        if (ex.catalog_.keyspaces.count(s->keyspace) == 0 && !is_system_keyspace(s->keyspace)) {
            co_return invalid(fmt::format("Keyspace '{}' does not exist", s->keyspace));
        }
        sess.keyspace = s->keyspace;
        std::string out;
        writer w(out);
        w.int32(static_cast<int32_t>(result_kind::set_keyspace));
        w.string(s->keyspace);
        co_return out;
    }
    if (auto* s = std::get_if<describe_stmt>(&st)) co_return describe(*s);
    if (auto* s = std::get_if<create_keyspace_stmt>(&st)) co_return co_await create_keyspace(*s);
    if (auto* s = std::get_if<create_table_stmt>(&st)) co_return co_await create_table(*s);
    if (auto* s = std::get_if<drop_stmt>(&st)) co_return co_await drop(*s);
    if (auto* s = std::get_if<truncate_stmt>(&st)) co_return co_await truncate(*s);
    if (auto* s = std::get_if<alter_table_stmt>(&st)) co_return co_await alter(*s);
    if (auto* s = std::get_if<create_index_stmt>(&st)) co_return co_await create_index(*s);
    if (auto* s = std::get_if<drop_index_stmt>(&st)) co_return co_await drop_index(*s);
    if (auto* s = std::get_if<type_stmt>(&st)) co_return co_await type_statement(*s);
    if (std::holds_alternative<batch_stmt>(st)) {
        const auto& b = std::get<batch_stmt>(st);
        mutation m;
        m.now_seconds = now_seconds();
        batch_builder batch;
        batch.m.now_seconds = m.now_seconds;
        for (const auto& inner : b.statements) {
            if (auto e = batch.add(*this, inner, b.options)) co_return *e;
        }
        if (auto e = batch.check(b.options.timestamp.has_value())) co_return *e;
        auto res = co_await apply(std::move(batch.m));
        if (!res.st) co_return server_error(res);
        co_return batch.answer(*this, res);
    }
    // insert, update, delete
    mutation m;
    m.now_seconds = now_seconds();
    auto r = build_write(st, m, {});
    if (!r) co_return invalid(r.err().message());
    bool conditional = m.condition_prefix.has_value();
    auto res = co_await apply(std::move(m));
    if (!res.st) co_return server_error(res);
    if (!conditional) co_return void_result();
    co_return cas_result(*r, table_name(st), res);
}

std::string statement_runner::table_name(const statement& st) {
    if (auto* s = std::get_if<insert_stmt>(&st)) return s->table;
    if (auto* s = std::get_if<update_stmt>(&st)) return s->table;
    if (auto* s = std::get_if<delete_stmt>(&st)) return s->table;
    return {};
}

std::optional<request_error> batch_builder::add(statement_runner& runner, const statement& st, const write_options& batch_options) {
    mutation one;
    one.now_seconds = m.now_seconds;
    runner.cas_table = nullptr;
    auto r = runner.build_write(st, one, batch_options);
    if (!r) return invalid(r.err().message());
    auto name = statement_runner::table_name(st);
    auto found = runner.table(*r, name);
    auto tbl = found ? *found : nullptr;
    tables.emplace(*r, name);
    for (const auto& c : one.cells) {
        if (size_t n = tbl ? statement_runner::partition_prefix_size(*tbl, c.key) : 0; n > 0) partitions.insert(c.key.substr(0, n));
    }
    if (one.condition_prefix) {
        m.conditions.push_back({*one.condition_prefix, one.condition_exists, std::move(one.condition_check), one.condition_statics,
                                one.condition_partition_rows});
        cas_rows.push_back({runner.cas_table, runner.cas_row, runner.cas_columns, runner.cas_all});
    }
    for (auto& c : one.cells) m.cells.push_back(std::move(c));
    return std::nullopt;
}

std::optional<request_error> batch_builder::check(bool custom_timestamp) const {
    if (cas_rows.empty()) return std::nullopt;
    if (custom_timestamp) return invalid("Cannot provide custom timestamp for conditional BATCH");
    if (tables.size() > 1) return invalid("Batch with conditions cannot span multiple tables");
    if (partitions.size() > 1) return invalid("Batch with conditions cannot span multiple partitions");
    return std::nullopt;
}

response batch_builder::answer(const statement_runner& runner, const mutation_result& res) const {
    if (cas_rows.empty()) return void_result();
    return runner.batch_cas_result(tables.begin()->first, tables.begin()->second, cas_rows, res);
}

}  // namespace millrace::cql
