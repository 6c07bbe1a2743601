// Fetch (key 1), v4-12: serves stored batches as they are on disk, long-polls
// up to max_wait_ms until min_bytes are available. Fetch sessions are not
// kept: every response says "no session" (session id 0), so clients send
// full fetch requests, as KIP-227 allows.
#include <chrono>

#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "broker_core.h"
#include "handlers/handler.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

struct fetch_partition {
    int32_t index;
    int64_t fetch_offset;
    int32_t max_bytes;
    // outcome
    error_code error = error_code::none;
    int64_t high_watermark = -1;
    int64_t log_start_offset = -1;
    std::string records;
};

struct fetch_topic {
    std::string name;
    std::vector<fetch_partition> partitions;
};

// Reads every partition; returns the total bytes gathered.
size_t gather(broker_core& b, std::vector<fetch_topic>& topics, int32_t max_bytes) {
    size_t total = 0;
    for (auto& ft : topics) {
        topic* t = b.topics().find(ft.name);
        for (auto& fp : ft.partitions) {
            fp.records.clear();
            fp.error = error_code::none;
            auto* log = t ? t->partition(fp.index) : nullptr;
            if (log == nullptr) {
                fp.error = error_code::unknown_topic_or_partition;
                continue;
            }
            fp.high_watermark = log->next_offset();
            fp.log_start_offset = log->log_start_offset();
            // The first batch is served whole even beyond the limits (KIP-74).
            int64_t budget = std::min<int64_t>(fp.max_bytes, static_cast<int64_t>(max_bytes) - static_cast<int64_t>(total));
            if (budget <= 0 && total > 0) continue;
            auto got = log->read(fp.fetch_offset, static_cast<int32_t>(std::max<int64_t>(budget, 1)));
            fp.error = got.error;
            fp.records = std::move(got.records);
            total += fp.records.size();
        }
    }
    return total;
}

}  // namespace

asio::awaitable<void> handle_fetch(request_context& ctx, reader& in, writer& out) {
    const int16_t v = ctx.api_version;
    const bool flex = ctx.flexible;
    auto& b = ctx.broker;

    in.int32();  // replica_id
    int32_t max_wait_ms = in.int32();
    int32_t min_bytes = in.int32();
    int32_t max_bytes = in.int32();  // v3+
    in.int8();                       // isolation_level: no transactions, so both levels read the same
    int32_t session_id = 0;
    if (v >= 7) {
        session_id = in.int32();
        in.int32();  // session_epoch
    }
    std::vector<fetch_topic> topics;
    int32_t topic_count = in.array_length(flex);
    for (int32_t topic_idx = 0; topic_idx < topic_count; ++topic_idx) {
        fetch_topic ft;
        ft.name = in.string(flex);
        int32_t partition_count = in.array_length(flex);
        for (int32_t partition_idx = 0; partition_idx < partition_count; ++partition_idx) {
            fetch_partition fp{};
            fp.index = in.int32();
            if (v >= 9) in.int32();  // current_leader_epoch
            fp.fetch_offset = in.int64();
            if (v >= 12) in.int32();  // last_fetched_epoch
            if (v >= 5) in.int64();   // log_start_offset (followers only)
            fp.max_bytes = in.int32();
            in.skip_tags(flex);
            ft.partitions.push_back(fp);
        }
        in.skip_tags(flex);
        topics.push_back(std::move(ft));
    }
    if (v >= 7) {
        int32_t forgotten = in.array_length(flex);
        for (int32_t idx = 0; idx < forgotten; ++idx) {
            in.string(flex);
            int32_t n = in.array_length(flex);
            for (int32_t p = 0; p < n; ++p) in.int32();
            in.skip_tags(flex);
        }
    }
    if (v >= 11) in.string(flex);  // rack_id
    in.skip_tags(flex);

    error_code top_error = error_code::none;
    if (session_id != 0) {
        top_error = error_code::fetch_session_id_not_found;  // we never hand out sessions
    } else {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(max_wait_ms, 0));
        for (;;) {
            size_t total = gather(b, topics, max_bytes);
            bool has_error = false;
            for (const auto& ft : topics) {
                for (const auto& fp : ft.partitions) has_error |= fp.error != error_code::none;
            }
            if (has_error || static_cast<int64_t>(total) >= min_bytes || std::chrono::steady_clock::now() >= deadline ||
                b.stopping()) {
                break;
            }
            asio::steady_timer wait(b.io());
            wait.expires_at(deadline);
            b.park_fetch(wait);
            std::error_code ec;
            co_await wait.async_wait(asio::redirect_error(asio::use_awaitable, ec));
            b.unpark_fetch(wait);
        }
    }

    out.int32(0);  // throttle_time_ms
    if (v >= 7) {
        out.int16(wire(top_error));
        out.int32(0);  // session_id: no session
    }
    if (top_error != error_code::none) topics.clear();
    out.array_length(static_cast<int32_t>(topics.size()), flex);
    for (const auto& ft : topics) {
        out.string(ft.name, flex);
        out.array_length(static_cast<int32_t>(ft.partitions.size()), flex);
        auto& stats = b.stats(ft.name);
        for (const auto& fp : ft.partitions) {
            out.int32(fp.index);
            out.int16(wire(fp.error));
            out.int64(fp.high_watermark);
            out.int64(fp.high_watermark);  // last_stable_offset: no open transactions
            if (v >= 5) out.int64(fp.log_start_offset);
            out.array_length(-1, flex);  // aborted_transactions: null
            if (v >= 11) out.int32(-1);  // preferred_read_replica
            out.nullable_bytes(std::string_view(fp.records), flex);
            out.empty_tags(flex);
            if (!fp.records.empty()) {
                stats.bytes_out.inc(fp.records.size());
                uint64_t records = 0;
                (void)for_each_batch(fp.records, [&](std::string_view batch) -> status {
                    records += static_cast<uint64_t>(read_header(batch).records_count);
                    return {};
                });
                stats.records_out.inc(records);
            }
        }
        out.empty_tags(flex);
    }
    out.empty_tags(flex);
}

}  // namespace millrace::kafka
