#include "millrace/source/fetcher.h"

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "json.h"
#include "millrace/common/http_client.h"
#include "millrace/common/log.h"

namespace millrace::source {
namespace {

const log::logger k_log{"fetch"};

std::string json_text(const json::value& v) {
    if (v.is_string() || v.is_number()) return v.text;
    return {};
}

// A user's field by dotted path, or nullptr.
const json::value* at(const json::value& user, std::initializer_list<std::string_view> path) {
    const json::value* v = &user;
    for (auto name : path) {
        v = v->find(name);
        if (v == nullptr) return nullptr;
    }
    return v;
}

}  // namespace

result<std::vector<user_row>> parse_users(std::string_view body, bool keep_raw, int64_t& errors) {
    auto doc = json::parse(body);
    if (!doc) return doc.err().with_context("response is not JSON");
    const json::value* results = doc->find("results");
    if (results == nullptr || !results->is_array()) {
        const json::value* err = doc->find("error");
        return make_error(errc::invalid_argument, "response has no results array{}",
                          err && err->is_string() ? fmt::format(" (error: {})", err->text) : "");
    }
    std::vector<user_row> rows;
    rows.reserve(results->items.size());
    for (size_t user_idx = 0; user_idx < results->items.size(); ++user_idx) {
        const json::value& user = results->items[user_idx];
        struct required {
            std::initializer_list<std::string_view> path;
            std::string* out;
        };
        user_row row;
        std::string number, street, city, state, country;
        const required fields[] = {
            {{"login", "uuid"}, &row.id},         {{"name", "first"}, &row.first_name},
            {{"name", "last"}, &row.last_name},   {{"gender"}, &row.gender},
            {{"location", "street", "number"}, &number}, {{"location", "street", "name"}, &street},
            {{"location", "city"}, &city},        {{"location", "state"}, &state},
            {{"location", "country"}, &country},  {{"location", "postcode"}, &row.post_code},
            {{"email"}, &row.email},              {{"login", "username"}, &row.username},
            {{"dob", "date"}, &row.dob},          {{"registered", "date"}, &row.registered_date},
            {{"phone"}, &row.phone},              {{"picture", "medium"}, &row.picture},
            {{"nat"}, &row.nat},
        };
        std::string missing;
        for (const auto& f : fields) {
            const json::value* v = at(user, f.path);
            if (v == nullptr || (!v->is_string() && !v->is_number())) {
                for (auto part : f.path) missing += (missing.empty() ? "" : ".") + std::string(part);
                break;
            }
            *f.out = json_text(*v);
        }
        if (missing.empty() && row.id.size() != 36) missing = "login.uuid (not a UUID)";
        if (!missing.empty()) {
            ++errors;
            k_log.warn("skipping user {} of the response: missing or malformed field {}", user_idx, missing);
            continue;
        }
        row.address = fmt::format("{} {}, {}, {}, {}", number, street, city, state, country);
        rows.push_back(std::move(row));
    }
    if (keep_raw) {
        // The users' original bytes (re-serialising the tree would cost more):
        // split the results array at depth 1.
        size_t pos = body.find("\"results\"");
        pos = body.find('[', pos);
        int depth = 0;
        bool in_string = false;
        size_t start = 0, user_idx = 0, row_idx = 0;
        std::vector<std::string_view> docs;
        for (size_t idx = pos + 1; idx < body.size(); ++idx) {
            char c = body[idx];
            if (in_string) {
                if (c == '\\') ++idx;
                else if (c == '"') in_string = false;
                continue;
            }
            if (c == '"') in_string = true;
            else if (c == '{' || c == '[') {
                if (depth++ == 0) start = idx;
            } else if (c == '}' || c == ']') {
                if (depth == 0) break;
                if (--depth == 0) docs.push_back(body.substr(start, idx + 1 - start));
            }
        }
        // docs has one entry per user; rows skipped the malformed ones, matched by uuid order.
        for (; user_idx < docs.size() && row_idx < rows.size(); ++user_idx) {
            if (docs[user_idx].find(rows[row_idx].id) != std::string_view::npos) rows[row_idx++].raw = std::string(docs[user_idx]);
        }
    }
    return rows;
}

namespace {

// One page fetched, parsed and encoded as COPY text, waiting for the store.
struct encoded_page {
    int64_t page = 0;
    int64_t rows = 0;
    std::string copy_text;
};

// Between the fetching thread and the storing one: at most `capacity` pages
// wait (memory stays bounded by capacity × batch_size users), the fetching
// side's counters and its final error. Every member is guarded by mutex_.
class page_queue {
public:
    explicit page_queue(size_t capacity) : capacity_(capacity) {}

    // Blocks while full; false once the store side has stopped.
    bool push(encoded_page page) {
        std::unique_lock lock(mutex_);
        space_.wait(lock, [&] { return pages_.size() < capacity_ || stopped_; });
        if (stopped_) return false;
        pages_.push_back(std::move(page));
        ready_.notify_one();
        return true;
    }
    // The next page, waiting up to `wait`; nullopt on timeout or when the
    // fetching side is done and nothing is left (finished() says which).
    std::optional<encoded_page> pop(std::chrono::milliseconds wait) {
        std::unique_lock lock(mutex_);
        ready_.wait_for(lock, wait, [&] { return !pages_.empty() || done_; });
        if (pages_.empty()) return std::nullopt;
        encoded_page page = std::move(pages_.front());
        pages_.pop_front();
        space_.notify_one();
        return page;
    }
    bool finished() {
        std::lock_guard lock(mutex_);
        return done_ && pages_.empty();
    }
    // The fetching side is done, with `err` if it failed (`with_stored`: the
    // store side appends how many users were stored before it).
    void finish(std::optional<error> err = std::nullopt, bool with_stored = false) {
        std::lock_guard lock(mutex_);
        done_ = true;
        error_ = std::move(err);
        error_with_stored_ = with_stored;
        ready_.notify_all();
    }
    // The store side gives up: wakes a blocked push or wait_until.
    void stop() {
        std::lock_guard lock(mutex_);
        stopped_ = true;
        space_.notify_all();
        stop_wake_.notify_all();
    }
    // Sleeps until `when`; false when the store side stopped meanwhile.
    bool wait_until(std::chrono::steady_clock::time_point when) {
        std::unique_lock lock(mutex_);
        return !stop_wake_.wait_until(lock, when, [&] { return stopped_; });
    }
    void count(int64_t fetched, int64_t errors, int64_t http_retries) {
        std::lock_guard lock(mutex_);
        fetched_ += fetched;
        errors_ += errors;
        http_retries_ += http_retries;
    }
    void add_counts(fetch_summary& s) {
        std::lock_guard lock(mutex_);
        s.fetched = fetched_;
        s.errors = errors_;
        s.http_retries = http_retries_;
    }
    std::optional<error> failure(bool& with_stored) {
        std::lock_guard lock(mutex_);
        with_stored = error_with_stored_;
        return error_;
    }

private:
    const size_t capacity_;
    std::mutex mutex_;
    std::condition_variable ready_, space_, stop_wake_;
    std::deque<encoded_page> pages_;
    bool done_ = false, stopped_ = false, error_with_stored_ = false;
    std::optional<error> error_;
    int64_t fetched_ = 0, errors_ = 0, http_retries_ = 0;
};

// The fetching thread: GET, parse and encode page after page into `queue`.
void fetch_pages(const fetch_options& options, page_queue& queue) {
    using steady = std::chrono::steady_clock;
    // One client for every page: its keep-alive connection is reused.
    http::client http;
    http::client_request request;
    request.timeout = std::chrono::milliseconds(options.timeout_ms);
    request.auth = options.auth;
    request.user_agent = "millrace-source-fetch";
    request.decompress = true;
    std::mt19937_64 jitter(options.jitter_seed);
    auto backoff = [&](int attempt) {
        int64_t base = options.backoff_ms << std::min(attempt, 20);
        base = std::min(base, options.backoff_max_ms);
        // Full delay between half and all of the exponential step.
        return std::chrono::milliseconds(base / 2 + static_cast<int64_t>(jitter() % static_cast<uint64_t>(base / 2 + 1)));
    };
    auto next_call = steady::now();
    const auto call_interval = options.rate_limit > 0
        ? std::chrono::duration_cast<steady::duration>(std::chrono::duration<double>(1.0 / options.rate_limit))
        : steady::duration::zero();
    int64_t remaining = options.count;
    for (int64_t batch_idx = 0; remaining > 0; ++batch_idx) {
        const int want = static_cast<int>(std::min<int64_t>(remaining, options.batch_size));
        const int64_t page = options.first_page + batch_idx;
        std::string url = fmt::format("{}{}results={}&seed={}&page={}", options.url,
                                      options.url.find('?') == std::string::npos ? "?" : "&", want,
                                      http::url_escape(options.seed), page);
        if (!options.nat.empty()) url += "&nat=" + http::url_escape(options.nat);
        request.url = url;

        // status 0: a transport error, in `error`.
        struct {
            long status = 0;
            std::string body, error;
        } res;
        for (int attempt = 0;; ++attempt) {
            if (!queue.wait_until(next_call)) return queue.finish();
            next_call = steady::now() + call_interval;
            if (auto got = http.perform(request); got) {
                res = {got->status, std::move(got->body), {}};
            } else {
                // The client's message starts "GET <url>: "; ours name the URL themselves.
                std::string why = got.err().message();
                if (const std::string prefix = "GET " + url + ": "; why.starts_with(prefix)) why.erase(0, prefix.size());
                res = {0, {}, std::move(why)};
            }
            bool retryable = res.status == 0 || res.status == 429 || res.status >= 500;
            if (res.status == 200 || !retryable) break;
            if (attempt >= options.max_retries) {
                return queue.finish(make_error(errc::unavailable, "GET {} failed after {} attempts: {}", url, attempt + 1,
                                               res.status == 0 ? res.error : fmt::format("HTTP {}", res.status)),
                                    true);
            }
            auto delay = backoff(attempt);
            queue.count(0, 0, 1);
            k_log.warn("GET {}: {}; retry {} of {} in {} ms", url, res.status == 0 ? res.error : fmt::format("HTTP {}", res.status),
                       attempt + 1, options.max_retries, delay.count());
            if (!queue.wait_until(steady::now() + delay)) return queue.finish();
        }
        if (res.status != 200) {
            return queue.finish(make_error(errc::invalid_argument, "GET {}: HTTP {}: {}", url, res.status, res.body.substr(0, 300)));
        }
        remaining -= want;
        int64_t errors = 0;
        auto rows = parse_users(res.body, options.raw != raw_storage::off, errors);
        if (!rows) {
            queue.count(0, errors + 1, 0);
            k_log.error("skipping page {}: {}", page, rows.err().message());
            continue;
        }
        queue.count(static_cast<int64_t>(rows->size()), errors, 0);
        encoded_page encoded{page, static_cast<int64_t>(rows->size()), {}};
        encode_copy_rows(*rows, options.raw, encoded.copy_text);
        if (!queue.push(std::move(encoded))) return queue.finish();
    }
    queue.finish();
}

}  // namespace

// Two threads: this one stores page after page in PostgreSQL while a second
// fetches, parses and encodes the next ones (they used to alternate, so each
// waited for the other). Each page is still one transaction, stored in order.
result<fetch_summary> run_fetch(const fetch_options& options, pg_writer& writer, const fetch_hooks& hooks) {
    using steady = std::chrono::steady_clock;
    const auto started = steady::now();
    fetch_summary summary;
    page_queue queue(2);
    std::thread fetcher([&] { fetch_pages(options, queue); });
    std::mt19937_64 jitter(options.jitter_seed + 1);
    auto backoff = [&](int attempt) {
        int64_t base = options.backoff_ms << std::min(attempt, 20);
        base = std::min(base, options.backoff_max_ms);
        return std::chrono::milliseconds(base / 2 + static_cast<int64_t>(jitter() % static_cast<uint64_t>(base / 2 + 1)));
    };
    // Every return stops and joins the fetching thread first.
    auto finish = [&]() -> fetch_summary& {
        queue.stop();
        if (fetcher.joinable()) fetcher.join();
        queue.add_counts(summary);
        summary.seconds = std::chrono::duration<double>(steady::now() - started).count();
        return summary;
    };

    for (;;) {
        if (hooks.should_stop) {
            if (auto reason = hooks.should_stop()) {
                finish();
                return make_error(errc::cancelled, "fetch stopped: {}; {} users stored before it", *reason, summary.stored);
            }
        }
        auto page = queue.pop(std::chrono::milliseconds(100));
        if (!page) {
            if (!queue.finished()) continue;  // still fetching: ask should_stop again
            break;
        }
        const auto store_deadline = steady::now() + std::chrono::milliseconds(options.store_retry_ms);
        for (int attempt = 0;; ++attempt) {
            auto stored = writer.write_encoded(page->copy_text, page->rows);
            if (stored) {
                summary.stored += stored->inserted;
                summary.duplicates += stored->duplicates;
                break;
            }
            const error& err = stored.err();
            if (!err.retryable() || steady::now() >= store_deadline) {
                finish();
                return make_error(err.code(),
                                  "storing page {} ({} users) failed: {}; {} users stored before it (every batch is "
                                  "all-or-nothing: rerun with the same seed to resume)",
                                  page->page, page->rows, err.message(), summary.stored);
            }
            if (hooks.on_store_error) hooks.on_store_error(err);
            auto delay = backoff(attempt);
            ++summary.store_retries;
            k_log.error("storing page {} ({} users): {}; the batch was not kept; retrying in {} ms", page->page, page->rows,
                        err.message(), delay.count());
            std::this_thread::sleep_for(delay);
        }
        queue.add_counts(summary);
        summary.seconds = std::chrono::duration<double>(steady::now() - started).count();
        if (hooks.on_progress) hooks.on_progress(summary);
    }
    bool with_stored = false;
    auto failed = queue.failure(with_stored);
    finish();
    if (failed) {
        if (!with_stored) return *failed;
        return make_error(failed->code(), "{}; {} users stored before it", failed->message(), summary.stored);
    }
    return summary;
}

}  // namespace millrace::source
