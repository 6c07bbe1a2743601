// Fetch (key 1): serves stored batches as they are on disk, long-polls up to
// max_wait_ms until min_bytes are available. From v13 topics are named by id.
// Fetch sessions are not kept: every response says "no session" (session id
// 0), so clients send full fetch requests, as KIP-227 allows.
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
    std::string name;  // empty when the requested id is unknown
    uuid id{};
    std::vector<fetch_partition> partitions;
};

// Reads every partition; returns the total bytes gathered.
size_t gather(broker_core& b, std::vector<fetch_topic>& topics, int32_t max_bytes) {
    size_t total = 0;
    for (auto& ft : topics) {
        topic* t = ft.name.empty() ? nullptr : b.topics().find(ft.name);
        for (auto& fp : ft.partitions) {
            fp.records.clear();
            fp.error = error_code::none;
            auto* log = t ? t->partition(fp.index) : nullptr;
            if (log == nullptr) {
                fp.error = ft.name.empty() ? error_code::unknown_topic_id : error_code::unknown_topic_or_partition;
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
    using messages::fetch_request;
    auto& b = ctx.broker;
    // isolation_level is ignored: no transactions, so both levels read the same.
    auto request = decode_request<fetch_request>(ctx, in);
    const bool by_id = fetch_request::fetch_topic::has_topic_id(ctx.api_version);

    std::vector<fetch_topic> topics;
    for (const auto& rt : request.topics) {
        fetch_topic ft;
        if (by_id) {
            topic* t = b.topics().find(rt.topic_id);
            ft.name = t ? t->name : std::string();
            ft.id = rt.topic_id;
        } else {
            ft.name = rt.topic;
            topic* t = b.topics().find(rt.topic);
            ft.id = t ? t->id : uuid{};
        }
        for (const auto& rp : rt.partitions) {
            ft.partitions.push_back(fetch_partition{rp.partition, rp.fetch_offset, rp.partition_max_bytes});
        }
        topics.push_back(std::move(ft));
    }

    error_code top_error = error_code::none;
    if (request.session_id != 0) {
        top_error = error_code::fetch_session_id_not_found;  // we never hand out sessions
    } else {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(request.max_wait_ms, 0));
        for (;;) {
            size_t total = gather(b, topics, request.max_bytes);
            bool has_error = false;
            for (const auto& ft : topics) {
                for (const auto& fp : ft.partitions) has_error |= fp.error != error_code::none;
            }
            if (has_error || static_cast<int64_t>(total) >= request.min_bytes ||
                std::chrono::steady_clock::now() >= deadline) {
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

    messages::fetch_response response;
    response.error_code = top_error;
    response.session_id = 0;  // no session
    if (top_error != error_code::none) topics.clear();
    for (auto& ft : topics) {
        auto& tr = response.responses.emplace_back();
        tr.topic = ft.name;
        tr.topic_id = ft.id;
        for (auto& fp : ft.partitions) {
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = fp.index;
            pr.error_code = fp.error;
            pr.high_watermark = fp.high_watermark;
            pr.last_stable_offset = fp.high_watermark;  // no open transactions
            pr.log_start_offset = fp.log_start_offset;
            if (!fp.records.empty()) {
                auto& stats = b.stats(ft.name);
                stats.bytes_out.inc(fp.records.size());
                uint64_t records = 0;
                (void)for_each_batch(fp.records, [&](std::string_view batch) -> status {
                    records += static_cast<uint64_t>(read_header(batch).records_count);
                    return {};
                });
                stats.records_out.inc(records);
            }
            pr.records = std::move(fp.records);
        }
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
