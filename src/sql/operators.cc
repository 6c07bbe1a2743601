// Stateless pipelines (WHERE + SELECT) and window aggregation state.
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>

#include "millrace/sql/pipeline.h"
#include "plan.h"
#include "program_state.h"
#include "value_codec.h"

namespace millrace::sql {

namespace {

class stateless_impl final : public stateless_pipeline {
public:
    explicit stateless_impl(std::shared_ptr<const job_program::state> st, const pipeline_plan& plan, const pipeline_def& def)
        : st_(std::move(st)), plan_(plan), def_(def) {}

    process_status process(const row& in, row& out, record_error& error) override {
        size_t column = 0;
        bool in_filter = true;
        try {
            if (plan_.filter) {
                value c = plan_.filter->eval(in, ctx_);
                if (c.is_null() || !c.b) return process_status::filtered;
            }
            in_filter = false;
            out.resize(plan_.projection.size());
            for (column = 0; column < plan_.projection.size(); ++column) {
                const bound_expr& p = *plan_.projection[column];
                if (p.input_column) out[column] = in[*p.input_column];  // copy-assign reuses out's buffers
                else out[column] = p.eval(in, ctx_);
            }
            return process_status::emitted;
        } catch (const eval_failure& f) {
            error.code = error_code::eval_error;
            error.field = !f.field.empty() ? f.field : in_filter ? "" : def_.output[column].name;
            error.message = in_filter || error.field.empty() ? f.message : fmt::format("column {}: {}", error.field, f.message);
            return process_status::failed;
        }
    }
    void set_clock(clock_fn now_ms) override { ctx_.clock = std::move(now_ms); }

private:
    std::shared_ptr<const job_program::state> st_;
    const pipeline_plan& plan_;
    const pipeline_def& def_;
    eval_ctx ctx_;
};

struct accumulator {
    int64_t count = 0;
    int64_t isum = 0;
    double dsum = 0;
    bool has = false;
    value extreme;
    std::set<std::string> distinct;
};

struct partial {
    row keys;
    std::vector<accumulator> accs;
    int64_t last_offset = -1;
    bool dirty = false;
};

struct group_entry {
    row keys;
    std::map<int32_t, partial> by_partition;
    bool early_dirty = false;
};

constexpr uint8_t k_state_version = 1;

class window_impl final : public window_state {
public:
    window_impl(std::shared_ptr<const job_program::state> st, const pipeline_plan& plan, const pipeline_def& def)
        : st_(std::move(st)), plan_(plan), def_(def) {}

    add_status add(const row& in, int32_t partition, int64_t offset, record_error& error) override {
        if (plan_.idle_timeout_ms > 0) last_record_[partition] = ctx_.now();
        row keys;
        int64_t t = 0;
        try {
            if (plan_.filter) {
                value c = plan_.filter->eval(in, ctx_);
                if (c.is_null() || !c.b) return add_status::filtered;
            }
            const value& tv = in.at(plan_.time_index);
            if (tv.is_null()) {
                error = {error_code::eval_error, plan_.window.time_column, fmt::format("the rowtime column {} is NULL", plan_.window.time_column)};
                return add_status::failed;
            }
            t = tv.i;
            keys.reserve(plan_.keys.size());
            for (const auto& k : plan_.keys) keys.push_back(k->eval(in, ctx_));
        } catch (const eval_failure& f) {
            error = {error_code::eval_error, f.field, f.message};
            return add_status::failed;
        }
        assign_windows(plan_.window, t, windows_buf_);
        std::optional<int64_t> wm = watermark();
        size_t open = 0;
        for (const auto& w : windows_buf_) open += !(wm && w.second - 1 <= *wm);
        if (open == 0) {
            const auto& w = windows_buf_.back();
            error = {error_code::late_record, plan_.window.time_column,
                     fmt::format("late record: {} {} is in window [{}, {}), which closed when the watermark reached {}",
                                 plan_.window.time_column, format_timestamp(t), format_timestamp(w.first), format_timestamp(w.second),
                                 format_timestamp(*wm))};
            advance(partition, t);
            return add_status::late;
        }
        // Every aggregate argument is evaluated before any accumulator changes, so a
        // record that fails (a CAST that does not parse) counts nowhere, in no window.
        try {
            eval_args(in);
        } catch (const eval_failure& f) {
            error = {error_code::eval_error, f.field, f.message};
            return add_status::failed;
        }
        std::string gk = group_key(keys);
        bool any = false;
        for (const auto& w : windows_buf_) {
            if (wm && w.second - 1 <= *wm) continue;
            group_entry& g = windows_[{w.first, w.second}][gk];
            if (g.keys.empty() && !keys.empty()) g.keys = keys;
            partial& p = g.by_partition[partition];
            if (p.accs.empty()) {
                p.accs.resize(plan_.aggs.size());
                p.keys = keys;
            }
            if (offset <= p.last_offset) continue;
            accumulate(p);
            p.last_offset = offset;
            p.dirty = true;
            g.early_dirty = true;
            any = true;
        }
        advance(partition, t);
        return any ? add_status::added : add_status::skipped;
    }

    void advance_watermark(int32_t partition, int64_t watermark_ms) override {
        auto it = watermarks_.find(partition);
        if (it == watermarks_.end()) watermarks_[partition] = watermark_ms;
        else it->second = std::max(it->second, watermark_ms);
    }
    // The minimum over the partitions' watermarks, leaving out partitions idle
    // for table.exec.source.idle-timeout (when every partition is idle, all
    // count). Never goes back: a partition sending again after being idle
    // does not reopen windows that fired without it.
    std::optional<int64_t> watermark() const override {
        std::optional<int64_t> out;
        const int64_t now = plan_.idle_timeout_ms > 0 ? ctx_.now() : 0;
        for (const auto& [p, w] : watermarks_) {
            if (plan_.idle_timeout_ms > 0) {
                auto it = last_record_.find(p);
                if (it != last_record_.end() && now - it->second >= plan_.idle_timeout_ms) continue;
            }
            out = out ? std::min(*out, w) : w;
        }
        if (!out) {
            for (const auto& [p, w] : watermarks_) out = out ? std::min(*out, w) : w;
        }
        if (out && plan_.idle_timeout_ms > 0) {
            if (emitted_ && *emitted_ > *out) return emitted_;
            emitted_ = out;
        }
        return out;
    }
    std::optional<int64_t> partition_watermark(int32_t partition) const override {
        auto it = watermarks_.find(partition);
        if (it == watermarks_.end()) return std::nullopt;
        return it->second;
    }
    void revoke(int32_t partition) override {
        watermarks_.erase(partition);
        last_record_.erase(partition);
        for (auto wit = windows_.begin(); wit != windows_.end();) {
            for (auto git = wit->second.begin(); git != wit->second.end();) {
                git->second.by_partition.erase(partition);
                git = git->second.by_partition.empty() ? wit->second.erase(git) : std::next(git);
            }
            wit = wit->second.empty() ? windows_.erase(wit) : std::next(wit);
        }
    }

    std::vector<window_output> fire() override {
        std::vector<window_output> out;
        auto wm = watermark();
        if (!wm) return out;
        for (auto wit = windows_.begin(); wit != windows_.end();) {
            if (wit->first.second - 1 > *wm) { ++wit; continue; }
            for (auto& [gk, g] : wit->second) {
                window_output o;
                o.window = {wit->first.first, wit->first.second};
                o.group_key = gk;
                fill_output(o, g);
                o.final = true;
                out.push_back(std::move(o));
                // Changes not yet taken stay exportable after the window leaves memory.
                for (auto& [part, p] : g.by_partition) {
                    if (p.dirty) pending_changed_.push_back(export_partial({wit->first.first, wit->first.second}, gk, part, p));
                }
            }
            wit = windows_.erase(wit);
        }
        return out;
    }

    std::vector<window_output> fire_early(int64_t now_ms) override {
        std::vector<window_output> out;
        if (!plan_.early_fire) return out;
        if (last_early_ && now_ms - *last_early_ < plan_.early_fire_delay_ms) return out;
        last_early_ = now_ms;
        for (auto& [w, groups] : windows_) {
            for (auto& [gk, g] : groups) {
                if (!g.early_dirty) continue;
                g.early_dirty = false;
                window_output o;
                o.window = {w.first, w.second};
                o.group_key = gk;
                fill_output(o, g);
                out.push_back(std::move(o));
            }
        }
        return out;
    }

    std::vector<partial_state> take_changed() override {
        std::vector<partial_state> out = std::move(pending_changed_);
        pending_changed_.clear();
        for (auto& [w, groups] : windows_) {
            for (auto& [gk, g] : groups) {
                for (auto& [part, p] : g.by_partition) {
                    if (!p.dirty) continue;
                    p.dirty = false;
                    out.push_back(export_partial({w.first, w.second}, gk, part, p));
                }
            }
        }
        return out;
    }

    std::vector<partial_state> partials(const window_bounds& window, const std::string& gk) const override {
        std::vector<partial_state> out;
        auto wit = windows_.find({window.start_ms, window.end_ms});
        if (wit == windows_.end()) return out;
        auto git = wit->second.find(gk);
        if (git == wit->second.end()) return out;
        for (const auto& [part, p] : git->second.by_partition) out.push_back(export_partial(window, gk, part, p));
        return out;
    }

    status restore(const partial_state& ps) override {
        partial p;
        if (auto s = import_partial(ps, p); !s) return s;
        group_entry& g = windows_[{ps.window.start_ms, ps.window.end_ms}][ps.group_key];
        g.keys = p.keys;
        g.by_partition[ps.partition] = std::move(p);
        return {};
    }

    result<row> merge(const std::vector<partial_state>& partials) const override {
        if (partials.empty()) return make_error(errc::invalid_argument, "merge: no partial states given");
        std::map<int32_t, const partial_state*> latest;
        for (const auto& ps : partials) {
            if (ps.window != partials.front().window || ps.group_key != partials.front().group_key) {
                return make_error(errc::invalid_argument, "merge: partial states of different windows or group keys");
            }
            auto& slot = latest[ps.partition];
            if (!slot || slot->last_offset < ps.last_offset) slot = &ps;
        }
        group_entry g;
        for (const auto& [part, ps] : latest) {
            partial p;
            if (auto s = import_partial(*ps, p); !s) return s.err();
            g.keys = p.keys;
            g.by_partition[part] = std::move(p);
        }
        try {
            return output_row(partials.front().window, g);
        } catch (const eval_failure& f) {
            return make_error(errc::invalid_argument, "merge: {}", f.message);
        }
    }

    void set_clock(clock_fn now_ms) override { ctx_.clock = std::move(now_ms); }

private:
    void advance(int32_t partition, int64_t t) { advance_watermark(partition, t - plan_.watermark_delay_ms); }

    // The output row of a group, or the evaluation error that prevented it
    // (one failing row never aborts the firing of the others).
    void fill_output(window_output& o, const group_entry& g) const {
        try {
            o.values = output_row(o.window, g);
        } catch (const eval_failure& f) {
            o.values.clear();
            o.error = record_error{error_code::eval_error, f.field,
                                   fmt::format("window [{}, {}): {}", format_timestamp(o.window.start_ms),
                                               format_timestamp(o.window.end_ms), f.message)};
        }
    }

    static std::string group_key(const row& keys) {
        std::string out;
        for (const auto& k : keys) codec::put_value(out, k);
        return out;
    }

    void eval_args(const row& in) {
        args_buf_.resize(plan_.aggs.size());
        for (size_t idx = 0; idx < plan_.aggs.size(); ++idx) {
            const agg_call& a = plan_.aggs[idx];
            args_buf_[idx] = a.fn == agg_fn::count_star ? value::null() : a.arg->eval(in, ctx_);
        }
    }

    // Adds the record whose arguments eval_args() evaluated; throws nothing.
    void accumulate(partial& p) {
        for (size_t idx = 0; idx < plan_.aggs.size(); ++idx) {
            const agg_call& a = plan_.aggs[idx];
            accumulator& acc = p.accs[idx];
            if (a.fn == agg_fn::count_star) { ++acc.count; continue; }
            const value& v = args_buf_[idx];
            if (v.is_null()) continue;
            switch (a.fn) {
                case agg_fn::count:
                    if (a.distinct) {
                        std::string enc;
                        codec::put_value(enc, v);
                        acc.distinct.insert(std::move(enc));
                    } else {
                        ++acc.count;
                    }
                    break;
                case agg_fn::sum: case agg_fn::avg:
                    acc.has = true;
                    ++acc.count;
                    if (v.kind == value_kind::floating) acc.dsum += v.d;
                    else acc.isum = static_cast<int64_t>(static_cast<uint64_t>(acc.isum) + static_cast<uint64_t>(v.i));
                    break;
                case agg_fn::min: case agg_fn::max:
                    if (!acc.has || (compare_values(v, a.arg_type, acc.extreme, a.arg_type) < 0) == (a.fn == agg_fn::min)) {
                        if (!acc.has || compare_values(v, a.arg_type, acc.extreme, a.arg_type) != 0) acc.extreme = v;
                    }
                    acc.has = true;
                    break;
                default: break;
            }
        }
    }

    void merge_into(accumulator& into, const accumulator& from, const agg_call& a) const {
        into.count += from.count;
        into.isum = static_cast<int64_t>(static_cast<uint64_t>(into.isum) + static_cast<uint64_t>(from.isum));
        into.dsum += from.dsum;
        into.distinct.insert(from.distinct.begin(), from.distinct.end());
        if (from.has && (a.fn == agg_fn::min || a.fn == agg_fn::max)) {
            if (!into.has) into.extreme = from.extreme;
            else {
                int c = compare_values(from.extreme, a.arg_type, into.extreme, a.arg_type);
                if ((a.fn == agg_fn::min && c < 0) || (a.fn == agg_fn::max && c > 0)) into.extreme = from.extreme;
            }
        }
        into.has = into.has || from.has;
    }

    value finish(const accumulator& acc, const agg_call& a) const {
        switch (a.fn) {
            case agg_fn::count_star: return value::from_int(acc.count);
            case agg_fn::count: return value::from_int(a.distinct ? static_cast<int64_t>(acc.distinct.size()) : acc.count);
            case agg_fn::min: case agg_fn::max: return acc.has ? acc.extreme : value::null();
            case agg_fn::sum: {
                if (!acc.has) return value::null();
                if (a.arg_type.id == type_id::float_ || a.arg_type.id == type_id::double_) return value::from_double(acc.dsum);
                return cast_value(value::from_int(acc.isum), a.arg_type.id == type_id::decimal ? sql_type::of(type_id::decimal, 18, a.arg_type.scale) : sql_type::bigint(), a.result_type);
            }
            case agg_fn::avg: {
                if (acc.count == 0) return value::null();
                if (a.arg_type.id == type_id::float_ || a.arg_type.id == type_id::double_) return value::from_double(acc.dsum / static_cast<double>(acc.count));
                if (a.arg_type.id == type_id::decimal) {
                    __int128 num = acc.isum;
                    for (int k = a.arg_type.scale; k < a.result_type.scale; ++k) num *= 10;
                    __int128 q = num / acc.count, rem = num % acc.count;
                    if ((rem < 0 ? -rem : rem) * 2 >= acc.count) q += num < 0 ? -1 : 1;
                    if (q > INT64_MAX || q < INT64_MIN) return value::null();
                    return value::from_int(static_cast<int64_t>(q));
                }
                return value::from_int(acc.isum / acc.count);  // integer AVG truncates, as Flink's
            }
        }
        return value::null();
    }

    row output_row(const window_bounds& w, const group_entry& g) const {
        std::vector<accumulator> total(plan_.aggs.size());
        row keys = g.keys;
        for (const auto& [part, p] : g.by_partition) {
            if (keys.empty()) keys = p.keys;
            for (size_t idx = 0; idx < plan_.aggs.size() && idx < p.accs.size(); ++idx) merge_into(total[idx], p.accs[idx], plan_.aggs[idx]);
        }
        row agg_row;
        agg_row.reserve(3 + keys.size() + total.size());
        agg_row.push_back(value::from_int(w.start_ms));
        agg_row.push_back(value::from_int(w.end_ms));
        agg_row.push_back(value::from_int(w.end_ms - 1));
        for (const auto& k : keys) agg_row.push_back(k);
        while (agg_row.size() < 3 + plan_.keys.size()) agg_row.push_back(value::null());
        for (size_t idx = 0; idx < total.size(); ++idx) agg_row.push_back(finish(total[idx], plan_.aggs[idx]));
        row out;
        out.reserve(plan_.projection.size());
        for (const auto& p : plan_.projection) out.push_back(p->eval(agg_row, ctx_));
        return out;
    }

    partial_state export_partial(const window_bounds& w, const std::string& gk, int32_t part, const partial& p) const {
        partial_state ps;
        ps.window = w;
        ps.group_key = gk;
        ps.partition = part;
        ps.last_offset = p.last_offset;
        std::string& s = ps.state;
        s += static_cast<char>(k_state_version);
        codec::put_varint(s, p.keys.size());
        for (const auto& k : p.keys) codec::put_value(s, k);
        codec::put_varint(s, p.accs.size());
        for (const auto& a : p.accs) {
            codec::put_u64(s, static_cast<uint64_t>(a.count));
            codec::put_u64(s, static_cast<uint64_t>(a.isum));
            codec::put_value(s, value::from_double(a.dsum));
            s += a.has ? '\1' : '\0';
            codec::put_value(s, a.extreme);
            codec::put_varint(s, a.distinct.size());
            for (const auto& d : a.distinct) {
                codec::put_varint(s, d.size());
                s += d;
            }
        }
        return ps;
    }

    status import_partial(const partial_state& ps, partial& p) const {
        codec::reader r{ps.state};
        auto corrupt = [&](const char* what) {
            return make_error(errc::invalid_argument, "partial state of window [{}, {}) partition {}: {} at byte {} of {}",
                              format_timestamp(ps.window.start_ms), format_timestamp(ps.window.end_ms), ps.partition, what, r.pos, ps.state.size());
        };
        if (ps.state.empty() || static_cast<uint8_t>(ps.state[0]) != k_state_version) return corrupt("unknown version");
        r.pos = 1;
        uint64_t n = 0;
        if (!r.get_varint(n) || n != plan_.keys.size()) return corrupt("group key count differs from the job's GROUP BY");
        p.keys.resize(n);
        for (auto& k : p.keys) {
            if (!r.get_value(k)) return corrupt("truncated group key");
        }
        if (!r.get_varint(n) || n != plan_.aggs.size()) return corrupt("aggregate count differs from the job's SELECT");
        p.accs.resize(n);
        for (auto& a : p.accs) {
            uint64_t u = 0;
            if (!r.get_u64(u)) return corrupt("truncated count");
            a.count = static_cast<int64_t>(u);
            if (!r.get_u64(u)) return corrupt("truncated sum");
            a.isum = static_cast<int64_t>(u);
            value d;
            if (!r.get_value(d) || d.kind != value_kind::floating) return corrupt("bad double sum");
            a.dsum = d.d;
            if (r.pos >= ps.state.size()) return corrupt("truncated flag");
            a.has = ps.state[r.pos++] != 0;
            if (!r.get_value(a.extreme)) return corrupt("bad min/max value");
            uint64_t nd = 0;
            if (!r.get_varint(nd) || nd > ps.state.size()) return corrupt("bad distinct count");
            for (uint64_t k = 0; k < nd; ++k) {
                uint64_t len = 0;
                if (!r.get_varint(len) || len > ps.state.size() - r.pos) return corrupt("truncated distinct value");
                a.distinct.insert(std::string(ps.state.substr(r.pos, len)));
                r.pos += len;
            }
        }
        if (r.pos != ps.state.size()) return corrupt("trailing bytes");
        p.last_offset = ps.last_offset;
        return {};
    }

    std::shared_ptr<const job_program::state> st_;
    const pipeline_plan& plan_;
    const pipeline_def& def_;
    mutable eval_ctx ctx_;
    std::map<std::pair<int64_t, int64_t>, std::map<std::string, group_entry>> windows_;
    std::map<int32_t, int64_t> watermarks_;
    std::optional<int64_t> last_early_;
    std::vector<partial_state> pending_changed_;  // changed partials of windows fired before take_changed()
    std::vector<std::pair<int64_t, int64_t>> windows_buf_;
    row args_buf_;  // the aggregate arguments of the record being added
    std::map<int32_t, int64_t> last_record_;  // partition -> clock time of its last record (idle timeout)
    mutable std::optional<int64_t> emitted_;  // the highest watermark returned (idle timeout on)
};

}  // namespace

result<std::unique_ptr<stateless_pipeline>> job_program::make_stateless(size_t pipeline) const {
    if (pipeline >= state_->pipelines.size()) return make_error(errc::invalid_argument, "no pipeline {}", pipeline);
    if (state_->pipelines[pipeline].windowed) return make_error(errc::invalid_argument, "pipeline {} is windowed: use make_window_state", pipeline);
    return std::unique_ptr<stateless_pipeline>(new stateless_impl(state_, *state_->pipeline_plans[pipeline], state_->pipelines[pipeline]));
}

result<std::unique_ptr<window_state>> job_program::make_window_state(size_t pipeline) const {
    if (pipeline >= state_->pipelines.size()) return make_error(errc::invalid_argument, "no pipeline {}", pipeline);
    if (!state_->pipelines[pipeline].windowed) return make_error(errc::invalid_argument, "pipeline {} is stateless: use make_stateless", pipeline);
    return std::unique_ptr<window_state>(new window_impl(state_, *state_->pipeline_plans[pipeline], state_->pipelines[pipeline]));
}

}  // namespace millrace::sql
