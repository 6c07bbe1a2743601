#include "cql_table_sink.h"

#include <charconv>
#include <mutex>

#include <fmt/format.h>

#include "millrace/sql/encoder.h"

namespace millrace::processor {

namespace cc = millrace::cql_client;

bool retryable_cql_error(const error& e) {
    if (auto code = cc::server_error_code(e)) {
        switch (*code) {
            case 0x0000:  // server error
            case 0x1000:  // unavailable
            case 0x1001:  // overloaded
            case 0x1002:  // is bootstrapping
            case 0x1100:  // write timeout
            case 0x1200:  // read timeout
            case 0x1300:  // read failure
            case 0x1500:  // write failure
            case 0x2500:  // unprepared
                return true;
            default:
                return false;  // syntax, invalid, unauthorized, config, already exists: sending it again fails again
        }
    }
    return e.code() != errc::invalid_argument && e.code() != errc::unsupported;
}

std::string create_table_cql(const cql_table_options& o) {
    const auto id = [](const std::string& name) { return sql::cql_identifier(name); };
    std::string cols;
    for (const auto& c : o.columns) cols += fmt::format("{} {}, ", id(c.name), c.type);
    std::vector<std::string> partition;
    for (const auto& k : o.partition_key) partition.push_back(id(k));
    std::string pk = partition.size() == 1 ? partition.front() : fmt::format("({})", fmt::join(partition, ", "));
    for (const auto& c : o.clustering_key) pk += ", " + id(c);
    return fmt::format("CREATE TABLE IF NOT EXISTS {}.{} ({}PRIMARY KEY ({}))", id(o.keyspace), id(o.table), cols, pk);
}

namespace {

bool is_integer(cc::type_id t) {
    return t == cc::type_id::tinyint || t == cc::type_id::smallint || t == cc::type_id::int_ || t == cc::type_id::bigint ||
           t == cc::type_id::counter || t == cc::type_id::varint;
}

bool is_text(cc::type_id t) { return t == cc::type_id::varchar || t == cc::type_id::ascii; }

cc::value integer_as(cc::type_id t, int64_t v) {
    switch (t) {
        case cc::type_id::tinyint: return cc::value::tinyint(static_cast<int8_t>(v));
        case cc::type_id::smallint: return cc::value::smallint(static_cast<int16_t>(v));
        case cc::type_id::int_: return cc::value::int32(static_cast<int32_t>(v));
        case cc::type_id::varint: return cc::value::varint(v);
        case cc::type_id::counter: return cc::value::counter(v);
        default: return cc::value::bigint(v);
    }
}

bool fits(cc::type_id t, int64_t v) {
    switch (t) {
        case cc::type_id::tinyint: return v >= INT8_MIN && v <= INT8_MAX;
        case cc::type_id::smallint: return v >= INT16_MIN && v <= INT16_MAX;
        case cc::type_id::int_: return v >= INT32_MIN && v <= INT32_MAX;
        default: return true;
    }
}

// Most bytes of bound values in one unlogged batch: well below Cassandra's default
// batch_size_fail_threshold (50 KiB), so a job's batches work against Cassandra too.
constexpr size_t k_max_batch_bytes = 32 * 1024;

// The approximate size of a bound value (its bytes for text and blobs, 16 for fixed-width types).
size_t value_bytes(const cc::value& v) {
    if (v.is_null()) return 0;
    switch (v.type().id) {
        case cc::type_id::varchar:
        case cc::type_id::ascii:
        case cc::type_id::blob: return v.as_bytes().size();
        case cc::type_id::list:
        case cc::type_id::set: {
            size_t n = 0;
            for (const auto& e : v.elements()) n += value_bytes(e) + 4;
            return n;
        }
        default: return 16;
    }
}

sink_outcome outcome_of(const result<cc::rows>& r) {
    if (r.ok()) return {};
    return sink_outcome{false, retryable_cql_error(r.err()), r.err().message()};
}

}  // namespace

result<cc::value> coerce_cql_value(const cc::value& v, const cc::data_type& target, const std::string& column) {
    if (v.is_null()) return cc::value::null();
    const cc::type_id from = v.type().id;
    const cc::type_id to = target.id;
    if (from == to || (is_text(from) && is_text(to))) return v;
    auto mismatch = [&](std::string_view why = {}) {
        return make_error(errc::invalid_argument, "column {}: a {} value {} does not fit the table's {} column{}{}", column,
                          v.type().to_string(), v.to_string(), target.to_string(), why.empty() ? "" : ": ", why);
    };
    if (is_integer(from) && is_integer(to)) {
        if (!fits(to, v.as_int())) return mismatch("out of range");
        return integer_as(to, v.as_int());
    }
    if (is_integer(from) && (to == cc::type_id::double_ || to == cc::type_id::float_)) {
        double d = static_cast<double>(v.as_int());
        return to == cc::type_id::double_ ? cc::value::float64(d) : cc::value::float32(static_cast<float>(d));
    }
    if ((from == cc::type_id::double_ || from == cc::type_id::float_) && (to == cc::type_id::double_ || to == cc::type_id::float_)) {
        return to == cc::type_id::double_ ? cc::value::float64(v.as_double()) : cc::value::float32(static_cast<float>(v.as_double()));
    }
    if (is_integer(from) && to == cc::type_id::timestamp) return cc::value::timestamp(v.as_int());
    if (from == cc::type_id::timestamp && to == cc::type_id::bigint) return cc::value::bigint(v.as_timestamp());
    if (is_text(to)) {
        if (is_text(from) || from == cc::type_id::blob) return cc::value::text(v.as_bytes());
        std::string shown = v.to_string();
        if (shown.size() >= 2 && shown.front() == '\'' && shown.back() == '\'') shown = shown.substr(1, shown.size() - 2);
        return cc::value::text(std::move(shown));
    }
    if (is_text(from)) {
        const std::string& s = v.as_text();
        if (to == cc::type_id::uuid || to == cc::type_id::timeuuid) {
            auto u = cc::value::uuid_from_string(s);
            if (!u) return mismatch("not a UUID");
            return to == cc::type_id::uuid ? *u : cc::value::timeuuid(u->as_uuid());
        }
        if (is_integer(to)) {
            int64_t n = 0;
            auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
            if (ec != std::errc() || end != s.data() + s.size() || !fits(to, n)) return mismatch("not an integer in range");
            return integer_as(to, n);
        }
        if (to == cc::type_id::double_ || to == cc::type_id::float_) {
            char* end = nullptr;
            std::string copy = s;
            double d = std::strtod(copy.c_str(), &end);
            if (copy.empty() || end != copy.c_str() + copy.size()) return mismatch("not a number");
            return to == cc::type_id::double_ ? cc::value::float64(d) : cc::value::float32(static_cast<float>(d));
        }
        if (to == cc::type_id::boolean) {
            if (s == "true" || s == "TRUE") return cc::value::boolean(true);
            if (s == "false" || s == "FALSE") return cc::value::boolean(false);
            return mismatch("not a boolean");
        }
        if (to == cc::type_id::inet) {
            auto a = cc::value::inet_from_string(s);
            if (!a) return mismatch("not an address");
            return *a;
        }
    }
    return mismatch();
}

namespace {

class cql_table_sink final : public sink {
public:
    explicit cql_table_sink(cql_table_options o) : o_(std::move(o)) {}
    ~cql_table_sink() override { close(); }

    status open() override {
        std::shared_ptr<cc::session> s;
        {
            std::lock_guard lock(mutex_);
            s = session_;
        }
        if (!s) {
            auto options = cc::options_from_contact_points(o_.contact_points);
            if (!options) return options.err();
            options->username = o_.login.username;
            options->password = o_.login.password;
            options->tls_ca = o_.login.tls_ca;
            options->connections_per_host = o_.connections;
            options->default_consistency = o_.write_consistency;
            auto connected = cc::session::connect(*options);
            if (!connected) return connected.err();
            s = *connected;
        }
        const std::string ddl[] = {
            fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', "
                        "'replication_factor': '{}'}}",
                        sql::cql_identifier(o_.keyspace), o_.replication_factor),
            create_table_cql(o_),
        };
        for (const auto& statement : ddl) {
            if (auto r = s->query(statement); !r) return r.err().with_context(fmt::format("creating {}.{}", o_.keyspace, o_.table));
        }
        // A table that existed before may lack declared columns: add them.
        auto columns = s->query("SELECT column_name FROM system_schema.columns WHERE keyspace_name = ? AND table_name = ?",
                                {cc::value::text(o_.keyspace), cc::value::text(o_.table)});
        if (!columns) return columns.err().with_context(fmt::format("reading the columns of {}.{}", o_.keyspace, o_.table));
        // Names are quoted as declared (sql::cql_identifier), so system_schema holds each
        // column under exactly its declared name: compare exactly.
        const std::string qualified = sql::cql_identifier(o_.keyspace) + "." + sql::cql_identifier(o_.table);
        std::vector<std::string> names;
        for (const auto& c : o_.columns) {
            bool present = false;
            for (size_t idx = 0; idx < columns->size(); ++idx) present = present || columns->data[idx][0].as_text() == c.name;
            if (!present) {
                if (auto r = s->query(fmt::format("ALTER TABLE {} ADD {} {}", qualified, sql::cql_identifier(c.name), c.type)); !r) {
                    return r.err().with_context(fmt::format("adding column {} to {}.{}", c.name, o_.keyspace, o_.table));
                }
            }
            names.push_back(sql::cql_identifier(c.name));
        }
        std::string marks;
        for (size_t idx = 0; idx < names.size(); ++idx) marks += idx ? ", ?" : "?";
        auto p = s->prepare(fmt::format("INSERT INTO {} ({}) VALUES ({})", qualified, fmt::join(names, ", "), marks));
        if (!p) return p.err().with_context(fmt::format("preparing the upsert into {}.{}", o_.keyspace, o_.table));
        std::lock_guard lock(mutex_);
        insert_ = *p;
        session_ = s;
        return {};
    }

    void write(std::vector<const sink_row*> rows, done_fn done) override {
        std::shared_ptr<cc::session> s;
        cc::prepared_ptr insert;
        {
            std::lock_guard lock(mutex_);
            s = session_;
            insert = insert_;
        }
        if (!s) return done(sink_outcome{false, true, "CQL session closed"});
        cc::query_options opts;
        opts.consistency_level = o_.write_consistency;
        if (rows.size() == 1) {
            auto params = params_of(*insert, *rows.front());
            if (!params) return done(sink_outcome{false, false, params.err().message()});
            opts.default_timestamp = rows.front()->timestamp_us;
            s->execute_async(insert, std::move(*params), [done = std::move(done)](result<cc::rows> r) { done(outcome_of(r)); },
                             opts);
            return;
        }
        // Unlogged batches of at most k_max_batch_bytes of values each (Cassandra refuses a batch above
        // batch_size_fail_threshold, 50 KiB by default); the request is done when every one is, with the
        // first failure.
        std::vector<std::pair<std::vector<cc::batch_statement>, std::optional<int64_t>>> chunks(1);
        size_t chunk_bytes = 0;
        for (const sink_row* row : rows) {
            auto params = params_of(*insert, *row);
            if (!params) return done(sink_outcome{false, false, params.err().message()});
            size_t bytes = 0;
            for (const auto& v : *params) bytes += value_bytes(v);
            if (!chunks.back().first.empty() && chunk_bytes + bytes > k_max_batch_bytes) {
                chunks.emplace_back();
                chunk_bytes = 0;
            }
            chunk_bytes += bytes;
            if (row->timestamp_us) chunks.back().second = row->timestamp_us;
            chunks.back().first.emplace_back(insert, std::move(*params));
        }
        struct joined {
            std::mutex mutex;
            size_t remaining;
            sink_outcome outcome;
            done_fn done;
        };
        auto join = std::make_shared<joined>();
        join->remaining = chunks.size();
        join->done = std::move(done);
        auto finish = [join](result<cc::rows> r) {
            sink_outcome outcome = outcome_of(r);
            done_fn call;
            {
                std::lock_guard lock(join->mutex);
                if (!outcome.ok && join->outcome.ok) join->outcome = std::move(outcome);
                if (--join->remaining == 0) call = std::move(join->done);
            }
            if (call) call(join->outcome);
        };
        for (auto& [statements, timestamp] : chunks) {
            cc::query_options chunk_opts = opts;
            chunk_opts.default_timestamp = timestamp;
            if (statements.size() == 1) {
                s->execute_async(insert, std::move(statements.front().params), finish, chunk_opts);
            } else {
                s->batch_async(cc::batch_kind::unlogged, std::move(statements), finish, chunk_opts);
            }
        }
    }

    std::string describe() const override { return fmt::format("CQL {} {}.{}", o_.contact_points, o_.keyspace, o_.table); }

    void close() override {
        std::shared_ptr<cc::session> s;
        {
            std::lock_guard lock(mutex_);
            s = std::move(session_);
        }
        if (s) s->close();
    }

private:
    result<std::vector<cc::value>> params_of(const cc::prepared_statement& insert, const sink_row& row) const {
        const auto& binds = insert.bind_columns();
        if (row.cells.size() != binds.size()) {
            return make_error(errc::invalid_argument, "{}.{}: a row of {} values for {} columns", o_.keyspace, o_.table,
                              row.cells.size(), binds.size());
        }
        std::vector<cc::value> out;
        out.reserve(binds.size());
        for (size_t idx = 0; idx < binds.size(); ++idx) {
            auto v = coerce_cql_value(row.cells[idx], binds[idx].type, binds[idx].name);
            if (!v) return v.err();
            out.push_back(std::move(*v));
        }
        return out;
    }

    cql_table_options o_;
    std::mutex mutex_;
    std::shared_ptr<cc::session> session_;
    cc::prepared_ptr insert_;
};

}  // namespace

std::unique_ptr<sink> make_cql_table_sink(cql_table_options options) {
    return std::make_unique<cql_table_sink>(std::move(options));
}

}  // namespace millrace::processor
