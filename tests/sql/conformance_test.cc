// Runs every tests/sql/conformance/*.test file as one test case.
//
// File format (one directive per line; `#` comments; blocks end at a blank line):
//   statement ok             SQL lines follow; appended to the job
//   statement error TEXT     SQL lines follow; compiling the job plus them must
//                            give a diagnostic whose `line:column: message` contains TEXT
//   expr EXPRESSION          the next line is the expected value (format_value) of the
//                            constant EXPRESSION, optionally followed by ` :: TYPE`,
//                            or `error TEXT` for a type or evaluation error
//   clock TIMESTAMP          the manual clock (CURRENT_TIMESTAMP, early firing)
//   record SOURCE [partition=N] [offset=N] [ts=TIMESTAMP] [key=TEXT]
//                            the next line is the record value (`<null>` for none);
//                            offsets count up per partition unless given
//   watermark PARTITION TIMESTAMP   advances a partition's watermark (idle partitions)
//   early                    early firing now (fire_early at the clock)
//   rows SINK                expected rows written to SINK since the last check, in order
//                            (values as format_value, joined by ", "); none when the block is empty
//   rejects                  expected rejects since the last check: each line is a substring
//                            of `code [field]: message`
//   partials SINK            expected partial states (window start, partition, last offset) changed
//                            since the last check, as `start partition=N last_offset=N`
// Windows fire after every record and watermark step (the watermark is the
// state's own: max event time - delay, min over partitions).
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "ast.h"
#include "expr.h"
#include "millrace/sql/decoder.h"
#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"
#include "time_util.h"

namespace millrace::sql {
namespace {

std::vector<std::string> conformance_files() {
    std::vector<std::string> out;
    for (const auto& entry : std::filesystem::directory_iterator(MILLRACE_SQL_CONFORMANCE_DIR)) {
        if (entry.path().extension() == ".test") out.push_back(entry.path().stem().string());
    }
    std::sort(out.begin(), out.end());
    return out;
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t b = 0;
    while (b < s.size() && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
    return s.substr(b);
}

int64_t parse_ts(const std::string& text) {
    auto ts = timeutil::parse_timestamp(text, true, false);
    if (!ts) ADD_FAILURE() << "bad timestamp in test: " << text;
    return ts.value_or(0);
}

std::string row_text(const row& r, const std::vector<column_type>& cols) {
    std::string out;
    for (size_t idx = 0; idx < r.size(); ++idx) out += (idx ? ", " : "") + format_value(r[idx], cols[idx].type);
    return out;
}

class runner {
public:
    explicit runner(std::string file) : file_(std::move(file)) {}

    void run() {
        std::ifstream in(std::string(MILLRACE_SQL_CONFORMANCE_DIR) + "/" + file_ + ".test");
        ASSERT_TRUE(in) << file_;
        std::string line;
        while (std::getline(in, line)) lines_.push_back(line);
        while (pos_ < lines_.size()) {
            std::string l = trim(lines_[pos_]);
            size_t at = pos_ + 1;
            ++pos_;
            if (l.empty() || l[0] == '#') continue;
            SCOPED_TRACE(fmt::format("{}.test:{}: {}", file_, at, l));
            directive(l);
            if (::testing::Test::HasFatalFailure()) return;
        }
        check_nothing_left();
    }

private:
    std::vector<std::string> block() {
        std::vector<std::string> out;
        while (pos_ < lines_.size() && !trim(lines_[pos_]).empty()) out.push_back(lines_[pos_++]);
        return out;
    }
    std::string next_line() { return pos_ < lines_.size() ? lines_[pos_++] : ""; }

    void directive(const std::string& l) {
        std::istringstream words(l);
        std::string verb;
        words >> verb;
        std::string rest = trim(l.substr(verb.size()));
        if (verb == "statement") {
            auto sql = block();
            std::string text;
            for (const auto& s : sql) text += s + "\n";
            if (rest == "ok") {
                job_text_ += text;
                compiled_.reset();
                return;
            }
            ASSERT_EQ(rest.rfind("error", 0), 0u) << "statement ok | statement error TEXT";
            std::string want = trim(rest.substr(5));
            std::string whole = job_text_ + text;
            auto c = compile_job(whole, "job.sql");
            auto* errors = std::get_if<std::vector<diagnostic>>(&c);
            ASSERT_NE(errors, nullptr) << "expected an error containing: " << want;
            std::string all;
            for (const auto& d : *errors) all += fmt::format("{}:{}: {}\n", d.line - line_offset(whole, text), d.column, d.message);
            EXPECT_NE(all.find(want), std::string::npos) << "errors:\n" << all << "expected: " << want;
            return;
        }
        if (verb == "expr") {
            std::string expected = trim(next_line());
            check_expr(rest, expected);
            return;
        }
        if (verb == "clock") {
            now_ = parse_ts(rest);
            return;
        }
        ensure_compiled();
        if (::testing::Test::HasFatalFailure()) return;
        if (verb == "record") {
            record(words);
        } else if (verb == "watermark") {
            int32_t partition = 0;
            std::string ts;
            words >> partition;
            std::getline(words, ts);
            for (auto& [p, w] : windows_) w->advance_watermark(partition, parse_ts(trim(ts)));
            fire();
        } else if (verb == "early") {
            for (auto& [p, w] : windows_) {
                for (auto& o : w->fire_early(now_)) emit(p, o.values);
            }
        } else if (verb == "rows") {
            auto expected = block();
            auto& got = rows_[rest];
            std::vector<std::string> want;
            for (const auto& e : expected) want.push_back(trim(e));
            EXPECT_EQ(got, want) << "rows of " << rest;
            got.clear();
        } else if (verb == "rejects") {
            auto expected = block();
            ASSERT_EQ(rejects_.size(), expected.size()) << "rejects:\n" << fmt::format("{}", fmt::join(rejects_, "\n"));
            for (size_t idx = 0; idx < expected.size(); ++idx) {
                EXPECT_NE(rejects_[idx].find(trim(expected[idx])), std::string::npos) << rejects_[idx] << "\n  expected: " << trim(expected[idx]);
            }
            rejects_.clear();
        } else if (verb == "partials") {
            auto expected = block();
            std::vector<std::string> got;
            for (auto& [p, w] : windows_) {
                if (!iequals(program().pipelines()[p].sink_table, rest)) continue;
                for (const auto& ps : w->take_changed()) {
                    got.push_back(fmt::format("{} partition={} last_offset={}", format_timestamp(ps.window.start_ms), ps.partition, ps.last_offset));
                    partial_log_[p].push_back(ps);
                }
            }
            std::sort(got.begin(), got.end());
            std::vector<std::string> want;
            for (const auto& e : expected) want.push_back(trim(e));
            EXPECT_EQ(got, want);
        } else if (verb == "restart") {
            // A new process: fresh window states restored from every partial exported so far.
            auto old_log = partial_log_;
            windows_.clear();
            ensure_compiled(true);
            for (auto& [p, w] : windows_) {
                std::map<std::tuple<int64_t, std::string, int32_t>, partial_state> latest;
                for (const auto& ps : old_log[p]) latest[{ps.window.start_ms, ps.group_key, ps.partition}] = ps;
                for (const auto& [k, ps] : latest) ASSERT_TRUE(w->restore(ps).ok());
            }
            offsets_.clear();
        } else {
            FAIL() << "unknown directive " << verb;
        }
    }

    static int line_offset(const std::string&, const std::string&) { return 0; }

    const job_program& program() { return std::get<job_program>(*compiled_); }

    void ensure_compiled(bool force = false) {
        if (compiled_ && !force) return;
        compiled_ = compile_job(job_text_, "job.sql");
        if (auto* errors = std::get_if<std::vector<diagnostic>>(&*compiled_)) FAIL() << "job does not compile:\n" << to_string(*errors);
        const job_program& p = program();
        decoders_.clear();
        stateless_.clear();
        if (!force) windows_.clear();
        for (size_t t : p.sources()) {
            auto d = p.make_decoder(t);
            ASSERT_TRUE(d.ok()) << d.err().message();
            (*d)->set_clock([this] { return now_; });
            decoders_[t] = std::move(*d);
        }
        for (const auto& pd : p.pipelines()) {
            if (pd.windowed) {
                auto w = p.make_window_state(pd.index);
                ASSERT_TRUE(w.ok());
                (*w)->set_clock([this] { return now_; });
                windows_[pd.index] = std::move(*w);
            } else {
                auto s = p.make_stateless(pd.index);
                ASSERT_TRUE(s.ok());
                (*s)->set_clock([this] { return now_; });
                stateless_[pd.index] = std::move(*s);
            }
        }
    }

    void record(std::istringstream& words) {
        std::string source;
        words >> source;
        int32_t partition = 0;
        std::optional<int64_t> offset;
        int64_t ts = now_;
        std::optional<std::string> key;
        std::string word;
        while (words >> word) {
            size_t eq = word.find('=');
            std::string k = word.substr(0, eq), v = eq == std::string::npos ? "" : word.substr(eq + 1);
            if (k == "partition") partition = std::stoi(v);
            else if (k == "offset") offset = std::stoll(v);
            else if (k == "ts") ts = parse_ts(v);
            else if (k == "key") key = v;
            else FAIL() << "unknown record attribute " << k;
        }
        std::string value_line = next_line();
        std::optional<std::string> value;
        if (value_line != "<null>") value = value_line;
        const job_program& p = program();
        const table_def* t = p.find_table(source);
        ASSERT_NE(t, nullptr) << "no table " << source;
        size_t tidx = static_cast<size_t>(t - p.tables().data());
        int64_t off = offset ? *offset : offsets_[{tidx, partition}];
        offsets_[{tidx, partition}] = off + 1;
        record_metadata meta;
        std::string topic = t->option("topic");
        meta.topic = topic;
        meta.partition = partition;
        meta.offset = off;
        meta.timestamp_ms = ts;
        row r;
        record_error err;
        auto& dec = decoders_.at(tidx);
        auto st = dec->decode(value ? std::optional<std::string_view>(*value) : std::nullopt,
                              key ? std::optional<std::string_view>(*key) : std::nullopt, meta, r, err);
        if (st != decode_status::ok) {
            rejects_.push_back(fmt::format("{} [{}]: {}", to_string(err.code), err.field, err.message));
            return;
        }
        for (const auto& read : p.reads()) {
            if (read.source != tidx) continue;
            for (size_t pi : read.pipelines) {
                if (auto it = stateless_.find(pi); it != stateless_.end()) {
                    row out;
                    record_error e;
                    auto s = it->second->process(r, out, e);
                    if (s == process_status::emitted) emit(pi, out);
                    else if (s == process_status::failed) rejects_.push_back(fmt::format("{} [{}]: {}", to_string(e.code), e.field, e.message));
                } else {
                    record_error e;
                    auto s = windows_.at(pi)->add(r, partition, off, e);
                    if (s == add_status::late || s == add_status::failed) rejects_.push_back(fmt::format("{} [{}]: {}", to_string(e.code), e.field, e.message));
                }
            }
        }
        fire();
    }

    void fire() {
        for (auto& [p, w] : windows_) {
            for (auto& o : w->fire()) {
                // The row fire() gives must equal the merge of its partials.
                emit(p, o.values);
            }
        }
    }

    void emit(size_t pipeline, const row& r) {
        const auto& pd = program().pipelines()[pipeline];
        rows_[pd.sink_table].push_back(row_text(r, pd.output));
    }

    void check_expr(const std::string& expression, const std::string& expected) {
        std::vector<diagnostic> errors;
        auto statements = ast::parse("INSERT INTO x SELECT " + expression + " FROM y;", "expr", errors);
        std::string got;
        if (!errors.empty()) {
            got = "error " + errors[0].message;
        } else {
            try {
                scope empty;
                auto b = bind_expr(*statements.at(0).inserts.at(0).query.items.at(0).e, empty);
                eval_ctx ctx;
                ctx.clock = [this] { return now_; };
                value v = b->eval({}, ctx);
                got = format_value(v, b->type) + " :: " + b->type.to_string();
            } catch (const bind_error& e) {
                got = "error " + e.message;
            } catch (const eval_failure& e) {
                got = "error " + e.message;
            }
        }
        if (expected.rfind("error", 0) == 0) {
            EXPECT_EQ(got.rfind("error", 0), 0u) << expression << " gave " << got;
            EXPECT_NE(got.find(trim(expected.substr(5))), std::string::npos) << expression << " gave " << got;
            return;
        }
        if (expected.find(" :: ") == std::string::npos) got = got.substr(0, got.rfind(" :: "));
        EXPECT_EQ(got, expected) << expression;
    }

    void check_nothing_left() {
        for (const auto& [sink, rows] : rows_) EXPECT_TRUE(rows.empty()) << "unchecked rows of " << sink << ":\n" << fmt::format("{}", fmt::join(rows, "\n"));
        EXPECT_TRUE(rejects_.empty()) << "unchecked rejects:\n" << fmt::format("{}", fmt::join(rejects_, "\n"));
    }

    std::string file_;
    std::vector<std::string> lines_;
    size_t pos_ = 0;
    std::string job_text_;
    std::optional<std::variant<job_program, std::vector<diagnostic>>> compiled_;
    std::map<size_t, std::unique_ptr<source_decoder>> decoders_;
    std::map<size_t, std::unique_ptr<stateless_pipeline>> stateless_;
    std::map<size_t, std::unique_ptr<window_state>> windows_;
    std::map<size_t, std::vector<partial_state>> partial_log_;
    std::map<std::pair<size_t, int32_t>, int64_t> offsets_;
    std::map<std::string, std::vector<std::string>> rows_;
    std::vector<std::string> rejects_;
    int64_t now_ = 1704067200000;  // 2024-01-01 00:00:00 UTC
};

class conformance : public ::testing::TestWithParam<std::string> {};

TEST_P(conformance, file) { runner(GetParam()).run(); }

INSTANTIATE_TEST_SUITE_P(sql, conformance, ::testing::ValuesIn(conformance_files()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                             std::string name = info.param;
                             for (char& c : name) {
                                 if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                             }
                             return name;
                         });

}  // namespace
}  // namespace millrace::sql
