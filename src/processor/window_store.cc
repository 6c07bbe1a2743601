#include "window_store.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>

#include <fmt/format.h>

#include "cql_table_sink.h"

namespace millrace::processor {

// Window state rows expire k_state_retention after their window's end (or
// after the write, for a window already past): the table does not grow
// without bound, and a row outlives by far the firing and merge that need it.
int32_t state_ttl_seconds(int64_t window_end_ms, int64_t now_ms) {
    constexpr int64_t k_state_retention_s = 7 * 24 * 3600;
    constexpr int64_t k_max_ttl_s = 630720000;  // CQL's maximum (20 years)
    const int64_t until_end_s = window_end_ms > now_ms ? (window_end_ms - now_ms + 999) / 1000 : 0;
    return static_cast<int32_t>(std::min<int64_t>(k_max_ttl_s, until_end_s + k_state_retention_s));
}


namespace cc = millrace::cql_client;

status window_store::open() {
    auto s = session();
    if (!s) {
        auto options = cc::options_from_contact_points(o_.contact_points);
        if (!options) return options.err();
        options->username = o_.login.username;
        options->password = o_.login.password;
        options->tls_ca = o_.login.tls_ca;
        options->default_consistency = o_.consistency;
        auto connected = cc::session::connect(*options);
        if (!connected) return connected.err();
        s = *connected;
    }
    const std::string table = o_.keyspace + ".window_state";
    const std::string fired = o_.keyspace + ".window_fired";
    const std::string plans = o_.keyspace + ".window_plans";
    const std::string ddl[] = {
        fmt::format("CREATE KEYSPACE IF NOT EXISTS {} WITH replication = {{'class': 'SimpleStrategy', "
                    "'replication_factor': '{}'}}",
                    o_.keyspace, o_.replication_factor),
        fmt::format("CREATE TABLE IF NOT EXISTS {} (job text, pipeline int, window_start timestamp, window_end timestamp, "
                    "group_key blob, kafka_partition int, last_offset bigint, state blob, updated_at timestamp, "
                    "PRIMARY KEY ((job, pipeline, window_start), window_end, group_key, kafka_partition))",
                    table),
        fmt::format("CREATE TABLE IF NOT EXISTS {} (job text, pipeline int, kafka_partition int, fired_through bigint, "
                    "updated_at timestamp, PRIMARY KEY ((job, pipeline), kafka_partition))",
                    fired),
        fmt::format("CREATE TABLE IF NOT EXISTS {} (job text, pipeline int, fingerprint text, updated_at timestamp, "
                    "PRIMARY KEY ((job), pipeline))",
                    plans),
    };
    for (const auto& statement : ddl) {
        if (auto r = s->query(statement); !r) return r.err().with_context(fmt::format("creating {}", table));
    }
    auto ins = s->prepare(fmt::format("INSERT INTO {} (job, pipeline, window_start, window_end, group_key, kafka_partition, "
                                      "last_offset, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) USING TTL ?",
                                      table));
    if (!ins) return ins.err().with_context(fmt::format("preparing the upsert into {}", table));
    auto ins_ts = s->prepare(fmt::format("INSERT INTO {} (job, pipeline, window_start, window_end, group_key, kafka_partition, "
                                         "last_offset, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                                         "USING TTL ? AND TIMESTAMP ?",
                                         table));
    if (!ins_ts) return ins_ts.err().with_context(fmt::format("preparing the fenced upsert into {}", table));
    auto ins_plan = s->prepare(fmt::format("INSERT INTO {} (job, pipeline, fingerprint, updated_at) VALUES (?, ?, ?, ?)", plans));
    if (!ins_plan) return ins_plan.err().with_context(fmt::format("preparing the upsert into {}", plans));
    auto sel_plan = s->prepare(fmt::format("SELECT fingerprint FROM {} WHERE job = ? AND pipeline = ?", plans));
    if (!sel_plan) return sel_plan.err().with_context(fmt::format("preparing the read of {}", plans));
    auto sel_marks = s->prepare(fmt::format("SELECT kafka_partition, fired_through FROM {} WHERE job = ? AND pipeline = ?", fired));
    if (!sel_marks) return sel_marks.err().with_context(fmt::format("preparing the read of {}", fired));
    auto sel = s->prepare(fmt::format("SELECT window_end, group_key, kafka_partition, last_offset, state FROM {} "
                                      "WHERE job = ? AND pipeline = ? AND window_start = ?",
                                      table));
    if (!sel) return sel.err().with_context(fmt::format("preparing the read of {}", table));
    auto sel_job = s->prepare(fmt::format("SELECT window_start, window_end, group_key, kafka_partition, last_offset, state "
                                          "FROM {} WHERE job = ? AND pipeline = ? ALLOW FILTERING",
                                          table));
    if (!sel_job) return sel_job.err().with_context(fmt::format("preparing the job's read of {}", table));
    auto ins_fired = s->prepare(fmt::format(
        "INSERT INTO {} (job, pipeline, kafka_partition, fired_through, updated_at) VALUES (?, ?, ?, ?, ?)", fired));
    if (!ins_fired) return ins_fired.err().with_context(fmt::format("preparing the upsert into {}", fired));
    auto sel_fired = s->prepare(
        fmt::format("SELECT fired_through FROM {} WHERE job = ? AND pipeline = ? AND kafka_partition = ?", fired));
    if (!sel_fired) return sel_fired.err().with_context(fmt::format("preparing the read of {}", fired));
    std::lock_guard lock(mutex_);
    session_ = s;
    insert_ = *ins;
    select_ = *sel;
    select_job_ = *sel_job;
    insert_fired_ = *ins_fired;
    select_fired_ = *sel_fired;
    insert_ts_ = *ins_ts;
    insert_plan_ = *ins_plan;
    select_plan_ = *sel_plan;
    select_marks_ = *sel_marks;
    return {};
}

void window_store::write(const std::string& job, std::vector<stored_partial> partials, sink::done_fn done) {
    auto s = session();
    cc::prepared_ptr insert, insert_ts;
    {
        std::lock_guard lock(mutex_);
        insert = insert_;
        insert_ts = insert_ts_;
    }
    if (!s) return done(sink_outcome{false, true, "CQL session closed"});
    if (partials.empty()) return done({});
    struct shared_state {
        std::atomic<size_t> remaining;
        std::mutex mutex;
        sink_outcome first_failure;
        sink::done_fn done;
    };
    auto state = std::make_shared<shared_state>();
    state->remaining = partials.size();
    state->done = std::move(done);
    cc::query_options opts;
    opts.consistency_level = o_.consistency;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (auto& sp : partials) {
        auto& p = sp.partial;
        std::vector<cc::value> params{cc::value::text(sp.job.empty() ? job : sp.job),
                                      cc::value::int32(static_cast<int32_t>(sp.pipeline)),
                                      cc::value::timestamp(p.window.start_ms),
                                      cc::value::timestamp(p.window.end_ms),
                                      cc::value::blob(std::move(p.group_key)),
                                      cc::value::int32(p.partition),
                                      cc::value::bigint(p.last_offset),
                                      cc::value::blob(std::move(p.state)),
                                      cc::value::timestamp(now_ms),
                                      cc::value::int32(state_ttl_seconds(p.window.end_ms, now_ms))};
        if (sp.write_timestamp_us > 0) params.push_back(cc::value::bigint(sp.write_timestamp_us));
        s->execute_async(
            sp.write_timestamp_us > 0 ? insert_ts : insert, std::move(params),
            [state](result<cc::rows> r) {
                if (!r) {
                    std::lock_guard lock(state->mutex);
                    if (state->first_failure.ok) {
                        state->first_failure = sink_outcome{false, retryable_cql_error(r.err()), r.err().message()};
                    }
                }
                if (state->remaining.fetch_sub(1) == 1) state->done(state->first_failure);
            },
            opts);
    }
}

result<std::vector<sql::partial_state>> window_store::read(const std::string& job, size_t pipeline, int64_t window_start_ms) {
    auto s = session();
    cc::prepared_ptr select;
    {
        std::lock_guard lock(mutex_);
        select = select_;
    }
    if (!s) return make_error(errc::unavailable, "CQL session closed");
    cc::query_options opts;
    opts.page_size = 0;
    opts.consistency_level = o_.consistency;
    auto r = s->execute(select, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline)),
                                 cc::value::timestamp(window_start_ms)},
                        opts);
    if (!r) return r.err();
    std::vector<sql::partial_state> out;
    out.reserve(r->size());
    for (const auto& row : r->data) {
        if (row.size() < 5 || row[0].is_null() || row[2].is_null() || row[3].is_null()) continue;
        sql::partial_state p;
        p.window = sql::window_bounds{window_start_ms, row[0].as_timestamp()};
        p.group_key = row[1].is_null() ? std::string() : row[1].as_bytes();
        p.partition = static_cast<int32_t>(row[2].as_int());
        p.last_offset = row[3].as_int();
        p.state = row[4].is_null() ? std::string() : row[4].as_bytes();
        out.push_back(std::move(p));
    }
    return out;
}

result<std::vector<sql::partial_state>> window_store::read_open(const std::string& job, size_t pipeline, int32_t partition,
                                                               std::optional<int64_t> fired_through) {
    auto s = session();
    cc::prepared_ptr select;
    {
        std::lock_guard lock(mutex_);
        select = select_job_;
    }
    if (!s) return make_error(errc::unavailable, "CQL session closed");
    cc::query_options opts;
    opts.page_size = 1000;  // paged: the job's state may be large
    opts.consistency_level = o_.consistency;
    std::vector<sql::partial_state> out;
    for (;;) {
        auto r = s->execute(select, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline))}, opts);
        if (!r) return r.err();
        for (const auto& row : r->data) {
            if (row.size() < 6 || row[0].is_null() || row[1].is_null() || row[3].is_null() || row[4].is_null()) continue;
            if (partition >= 0 && static_cast<int32_t>(row[3].as_int()) != partition) continue;
            sql::partial_state p;
            p.window = sql::window_bounds{row[0].as_timestamp(), row[1].as_timestamp()};
            if (fired_through && p.window.end_ms - 1 <= *fired_through) continue;
            p.group_key = row[2].is_null() ? std::string() : row[2].as_bytes();
            p.partition = static_cast<int32_t>(row[3].as_int());
            p.last_offset = row[4].as_int();
            p.state = row[5].is_null() ? std::string() : row[5].as_bytes();
            out.push_back(std::move(p));
        }
        if (!r->paging_state) break;
        opts.paging_state = r->paging_state;
    }
    return out;
}

void window_store::write_fired(const std::string& job, size_t pipeline, const std::vector<int32_t>& partitions,
                               int64_t fired_through, sink::done_fn done) {
    auto s = session();
    cc::prepared_ptr insert;
    {
        std::lock_guard lock(mutex_);
        insert = insert_fired_;
    }
    if (!s) return done(sink_outcome{false, true, "CQL session closed"});
    if (partitions.empty()) return done({});
    struct shared_state {
        std::atomic<size_t> remaining;
        std::mutex mutex;
        sink_outcome first_failure;
        sink::done_fn done;
    };
    auto state = std::make_shared<shared_state>();
    state->remaining = partitions.size();
    state->done = std::move(done);
    cc::query_options opts;
    opts.consistency_level = o_.consistency;
    const int64_t now_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (int32_t partition : partitions) {
        std::vector<cc::value> params{cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline)),
                                      cc::value::int32(partition), cc::value::bigint(fired_through),
                                      cc::value::timestamp(now_ms)};
        s->execute_async(
            insert, std::move(params),
            [state](result<cc::rows> r) {
                if (!r) {
                    std::lock_guard lock(state->mutex);
                    if (state->first_failure.ok) {
                        state->first_failure = sink_outcome{false, retryable_cql_error(r.err()), r.err().message()};
                    }
                }
                if (state->remaining.fetch_sub(1) == 1) state->done(state->first_failure);
            },
            opts);
    }
}

result<std::map<int32_t, int64_t>> window_store::read_marks(const std::string& job, size_t pipeline) {
    auto s = session();
    cc::prepared_ptr select;
    {
        std::lock_guard lock(mutex_);
        select = select_marks_;
    }
    if (!s) return make_error(errc::unavailable, "CQL session closed");
    cc::query_options opts;
    opts.consistency_level = o_.consistency;
    opts.page_size = 0;
    auto r = s->execute(select, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline))}, opts);
    if (!r) return r.err();
    std::map<int32_t, int64_t> out;
    for (const auto& row : r->data) {
        if (row.size() < 2 || row[0].is_null() || row[1].is_null()) continue;
        out[static_cast<int32_t>(row[0].as_int())] = row[1].as_int();
    }
    return out;
}

result<std::optional<int64_t>> window_store::read_fired(const std::string& job, size_t pipeline, int32_t partition) {
    auto s = session();
    cc::prepared_ptr select;
    {
        std::lock_guard lock(mutex_);
        select = select_fired_;
    }
    if (!s) return make_error(errc::unavailable, "CQL session closed");
    cc::query_options opts;
    opts.consistency_level = o_.consistency;
    auto r = s->execute(select, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline)), cc::value::int32(partition)},
                        opts);
    if (!r) return r.err();
    if (r->data.empty() || r->data[0].empty() || r->data[0][0].is_null()) return std::optional<int64_t>{};
    return std::optional<int64_t>{r->data[0][0].as_int()};
}

result<std::optional<std::string>> window_store::swap_plan(const std::string& job, size_t pipeline,
                                                           const std::string& fingerprint) {
    auto s = session();
    cc::prepared_ptr select, insert;
    {
        std::lock_guard lock(mutex_);
        select = select_plan_;
        insert = insert_plan_;
    }
    if (!s) return make_error(errc::unavailable, "CQL session closed");
    cc::query_options opts;
    opts.consistency_level = o_.consistency;
    auto r = s->execute(select, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline))}, opts);
    if (!r) return r.err();
    std::optional<std::string> before;
    if (!r->data.empty() && !r->data[0].empty() && !r->data[0][0].is_null()) before = r->data[0][0].as_text();
    if (before != fingerprint) {
        const int64_t now_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
        auto w = s->execute(insert, {cc::value::text(job), cc::value::int32(static_cast<int32_t>(pipeline)),
                                     cc::value::text(fingerprint), cc::value::timestamp(now_ms)},
                            opts);
        if (!w) return w.err();
    }
    return before;
}

namespace {

// FNV-1a, 64 bits: stable across builds and platforms (std::hash is not).
void fnv(uint64_t& h, std::string_view text) {
    for (unsigned char c : text) {
        h ^= c;
        h *= 1099511628211ULL;
    }
    h ^= 0xff;  // field separator
    h *= 1099511628211ULL;
}

// The statement's tokens without comments and with single spaces: a reformatted INSERT means the same.
std::string normalized_sql(std::string_view sql) {
    std::string out;
    bool space = false;
    for (size_t idx = 0; idx < sql.size(); ++idx) {
        char c = sql[idx];
        if (c == '\'' || c == '"' || c == '`') {  // quoted: kept as written
            size_t end = sql.find(c, idx + 1);
            if (end == std::string_view::npos) end = sql.size() - 1;
            if (space && !out.empty()) out += ' ';
            space = false;
            out.append(sql.substr(idx, end - idx + 1));
            idx = end;
        } else if (c == '-' && idx + 1 < sql.size() && sql[idx + 1] == '-') {
            while (idx < sql.size() && sql[idx] != '\n') ++idx;
            space = true;
        } else if (c == '/' && idx + 1 < sql.size() && sql[idx + 1] == '*') {
            size_t end = sql.find("*/", idx + 2);
            idx = end == std::string_view::npos ? sql.size() : end + 1;
            space = true;
        } else if (std::isspace(static_cast<unsigned char>(c))) {
            space = true;
        } else {
            if (space && !out.empty()) out += ' ';
            space = false;
            out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
    }
    return out;
}

}  // namespace

std::string window_plan_fingerprint(const sql::job_program& program, const sql::pipeline_def& pipeline) {
    uint64_t h = 14695981039346656037ULL;
    fnv(h, normalized_sql(pipeline.sql));
    fnv(h, fmt::format("{} {} {} {} {}", static_cast<int>(pipeline.window.kind), pipeline.window.time_column,
                       pipeline.window.size_ms, pipeline.window.slide_ms, pipeline.window.offset_ms));
    const sql::table_def& source = program.tables()[pipeline.source];
    for (const auto& c : source.columns) {
        fnv(h, fmt::format("{}|{}|{}|{}|{}|{}", c.name, c.type.to_string(), static_cast<int>(c.kind), c.metadata_key,
                           c.from_key, normalized_sql(c.expression)));
    }
    if (source.watermark) fnv(h, fmt::format("{} {}", source.watermark->column, source.watermark->delay_ms));
    return fmt::format("{:016x}", h);
}

void window_store::close() {
    std::shared_ptr<cc::session> s;
    {
        std::lock_guard lock(mutex_);
        s = std::move(session_);
    }
    if (s) s->close();
}

std::string window_store::describe() const { return fmt::format("CQL {} {}.window_state", o_.contact_points, o_.keyspace); }

std::shared_ptr<cc::session> window_store::session() {
    std::lock_guard lock(mutex_);
    return session_;
}

}  // namespace millrace::processor
