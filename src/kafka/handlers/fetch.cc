// Fetch (key 1): serves stored batches as they are on disk, long-polls up to
// max_wait_ms until min_bytes are available. From v13 topics are named by id.
// From v7 a consumer may keep an incremental fetch session (KIP-227, see
// fetch_session.h): epoch 0 opens one with a full fetch, later epochs send and
// receive only what changed, epoch -1 closes it.
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
    int64_t last_stable_offset = -1;
    int64_t log_start_offset = -1;
    std::string records;
    std::vector<storage::aborted_txn> aborted;  // read_committed: aborted transactions among the records
};

struct fetch_topic {
    std::string name;  // empty when the requested id is unknown
    uuid id{};
    std::vector<fetch_partition> partitions;
    bool denied = false;  // no READ on the topic (ACLs)
};

// Reads every partition; returns the total bytes gathered.
size_t gather(broker_core& b, std::vector<fetch_topic>& topics, int32_t max_bytes, bool read_committed) {
    size_t total = 0;
    for (auto& ft : topics) {
        topic* t = ft.name.empty() ? nullptr : b.topics().find(ft.name);
        for (auto& fp : ft.partitions) {
            fp.records.clear();
            fp.error = error_code::none;
            if (ft.denied) {
                fp.error = error_code::topic_authorization_failed;
                continue;
            }
            auto* log = t ? t->partition(fp.index) : nullptr;
            if (log == nullptr) {
                fp.error = ft.name.empty() ? error_code::unknown_topic_id : error_code::unknown_topic_or_partition;
                continue;
            }
            fp.high_watermark = log->next_offset();
            fp.last_stable_offset = log->last_stable_offset();
            fp.log_start_offset = log->log_start_offset();
            fp.aborted.clear();
            // The first batch is served whole even beyond the limits (KIP-74).
            int64_t budget = std::min<int64_t>(fp.max_bytes, static_cast<int64_t>(max_bytes) - static_cast<int64_t>(total));
            if (budget <= 0 && total > 0) continue;
            // read_committed: nothing at or beyond the last stable offset.
            auto got = log->read(fp.fetch_offset, static_cast<int32_t>(std::max<int64_t>(budget, 1)),
                                 read_committed ? fp.last_stable_offset : INT64_MAX);
            fp.error = got.error;
            fp.records = std::move(got.records);
            if (read_committed && !fp.records.empty()) {
                // The offset after the last batch returned bounds the aborted list.
                int64_t upto = fp.fetch_offset;
                (void)for_each_batch(fp.records, [&](std::string_view batch) -> status {
                    upto = read_header(batch).last_offset() + 1;
                    return {};
                });
                fp.aborted = log->aborted_between(fp.fetch_offset, upto);
            }
            total += fp.records.size();
        }
    }
    return total;
}

// Groups partitions by topic, keeping the order topics first appear in.
void add_partition(std::vector<fetch_topic>& topics, const std::string& name, const uuid& id, fetch_partition fp) {
    for (auto& ft : topics) {
        if (ft.name == name && ft.id == id) {
            ft.partitions.push_back(std::move(fp));
            return;
        }
    }
    topics.push_back(fetch_topic{name, id, {std::move(fp)}});
}

}  // namespace

asio::awaitable<void> handle_fetch(request_context& ctx, reader& in, writer& out) {
    using messages::fetch_request;
    auto& b = ctx.broker;
    auto& sessions = b.fetch_sessions();
    auto request = decode_request<fetch_request>(ctx, in);
    // READ_COMMITTED (1): records up to the last stable offset, with the aborted transactions among them.
    const bool read_committed = request.isolation_level == 1;
    const bool by_id = fetch_request::fetch_topic::has_topic_id(ctx.api_version);
    auto resolve = [&](const std::string& name, const uuid& id) -> std::pair<std::string, uuid> {
        if (by_id) {
            topic* t = b.topics().find(id);
            return {t ? t->name : std::string(), id};
        }
        topic* t = b.topics().find(name);
        return {name, t ? t->id : uuid{}};
    };

    std::vector<fetch_topic> topics;
    error_code top_error = error_code::none;
    int32_t session_id = 0;
    bool incremental = false;
    const int32_t epoch = request.session_epoch;
    if (epoch != fetch_session_cache::k_initial_epoch && epoch != fetch_session_cache::k_final_epoch) {
        fetch_session* session = sessions.resume(request.session_id, epoch, top_error);
        if (session != nullptr) {
            incremental = true;
            session_id = session->id;
            for (const auto& rt : request.topics) {
                auto [name, id] = resolve(rt.topic, rt.topic_id);
                for (const auto& rp : rt.partitions) {
                    if (auto* p = session->find(name, id, rp.partition)) {
                        p->fetch_offset = rp.fetch_offset;
                        p->max_bytes = rp.partition_max_bytes;
                    } else {
                        session->partitions.push_back({name, id, rp.partition, rp.fetch_offset, rp.partition_max_bytes});
                    }
                }
            }
            for (const auto& forgotten : request.forgotten_topics_data) {
                auto [name, id] = resolve(forgotten.topic, forgotten.topic_id);
                for (int32_t partition : forgotten.partitions) session->forget(name, id, partition);
            }
            for (const auto& p : session->partitions) {
                add_partition(topics, p.topic, p.topic_id, fetch_partition{p.partition, p.fetch_offset, p.max_bytes});
            }
        }
    } else {
        // A full fetch: epoch 0 (re)opens a session, epoch -1 closes it and fetches without one.
        if (request.session_id != 0) sessions.remove(request.session_id);
        std::vector<session_partition> followed;
        for (const auto& rt : request.topics) {
            auto [name, id] = resolve(rt.topic, rt.topic_id);
            for (const auto& rp : rt.partitions) {
                add_partition(topics, name, id, fetch_partition{rp.partition, rp.fetch_offset, rp.partition_max_bytes});
                followed.push_back({name, id, rp.partition, rp.fetch_offset, rp.partition_max_bytes});
            }
        }
        if (epoch == fetch_session_cache::k_initial_epoch) {
            if (fetch_session* session = sessions.create(std::move(followed))) session_id = session->id;
        }
    }

    for (auto& ft : topics) ft.denied = !ft.name.empty() && !authorized(ctx, acl_operation::read, resource_type::topic, ft.name);
    if (top_error == error_code::none) {
        auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(request.max_wait_ms, 0));
        for (;;) {
            size_t total = gather(b, topics, request.max_bytes, read_committed);
            bool has_error = false;
            for (const auto& ft : topics) {
                for (const auto& fp : ft.partitions) has_error |= fp.error != error_code::none;
            }
            if (has_error || static_cast<int64_t>(total) >= request.min_bytes ||
                std::chrono::steady_clock::now() >= deadline || b.stopping()) {
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
    // The session may have been evicted while this fetch waited.
    fetch_session* session = session_id != 0 ? sessions.find(session_id) : nullptr;
    response.session_id = session ? session->id : 0;
    if (top_error != error_code::none) topics.clear();
    for (auto& ft : topics) {
        messages::fetch_response::fetchable_topic_response tr;
        tr.topic = ft.name;
        tr.topic_id = ft.id;
        for (auto& fp : ft.partitions) {
            if (session != nullptr) {
                auto* followed = session->find(ft.name, ft.id, fp.index);
                if (followed != nullptr) {
                    bool news = !fp.records.empty() || fp.error != error_code::none ||
                                fp.high_watermark != followed->high_watermark ||
                                fp.log_start_offset != followed->log_start_offset;
                    followed->high_watermark = fp.high_watermark;
                    followed->log_start_offset = fp.log_start_offset;
                    if (incremental && !news) continue;
                }
            }
            auto& pr = tr.partitions.emplace_back();
            pr.partition_index = fp.index;
            pr.error_code = fp.error;
            pr.high_watermark = fp.high_watermark;
            pr.last_stable_offset = fp.last_stable_offset;
            if (read_committed) {
                // An empty list, not null, tells the consumer nothing in these records was aborted.
                pr.aborted_transactions.emplace();
                for (const auto& a : fp.aborted) pr.aborted_transactions->push_back({a.producer_id, a.first_offset});
            }
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
        if (!tr.partitions.empty()) response.responses.push_back(std::move(tr));
    }
    encode_response(ctx, out, response);
}

}  // namespace millrace::kafka
