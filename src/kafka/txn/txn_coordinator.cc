#include "txn/txn_coordinator.h"

#include <regex>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "broker_core.h"
#include "group/coordinator.h"
#include "storage/partition_log.h"
#include "topics.h"

namespace millrace::kafka {
namespace {

// The first version of each API that knows PRODUCER_FENCED (KIP-588); older
// ones get INVALID_PRODUCER_EPOCH.
constexpr int16_t k_fenced_since_init_producer_id = 4;
constexpr int16_t k_fenced_since_add_partitions = 2;
constexpr int16_t k_fenced_since_add_offsets = 2;
constexpr int16_t k_fenced_since_end_txn = 2;
// Epochs stop short of INT16_MAX: then the producer gets a new id (KIP-360).
constexpr int16_t k_max_epoch = INT16_MAX - 1;
constexpr int32_t k_coordinator_epoch = 0;  // one node, never moved

bool completing(txn_state s) { return s == txn_state::prepare_commit || s == txn_state::prepare_abort; }

}  // namespace

txn_coordinator::txn_coordinator(broker_core& broker, std::string dir, int64_t max_timeout_ms)
    : broker_(broker), max_timeout_ms_(max_timeout_ms), log_file_(broker.fs(), std::move(dir)) {}

txn_coordinator::~txn_coordinator() = default;

status txn_coordinator::open() {
    if (auto st = log_file_.open(txns_); !st) return st;
    for (auto& [id, txn] : txns_) {
        if (txn.state == txn_state::ongoing) {
            log_.info("transaction {} (producer {} epoch {}) was open at the restart: aborting it", id, txn.producer_id,
                      txn.producer_epoch);
            if (auto st = abort_now(txn, /*bump_epoch=*/true); !st) return st;
        } else if (txn.state == txn_state::prepare_abort) {
            if (!write_markers(txn, false)) return make_error(errc::io_error, "transaction {}: writing ABORT markers", id);
            finish(txn, false);
            if (auto st = persist(txn); !st) return st;
        } else if (txn.state == txn_state::prepare_commit) {
            // The markers and then the offsets: the group coordinator commits asynchronously.
            if (!write_markers(txn, true)) return make_error(errc::io_error, "transaction {}: writing COMMIT markers", id);
            asio::co_spawn(broker_.io(), recover_commit(id), asio::detached);
        }
    }
    return {};
}

void txn_coordinator::close() {}

asio::awaitable<void> txn_coordinator::recover_commit(std::string id) {
    auto it = txns_.find(id);
    if (it == txns_.end() || it->second.state != txn_state::prepare_commit) co_return;
    std::map<std::string, std::vector<offset_commit_entry>> by_group;
    for (auto& pending : it->second.pending_offsets) by_group[pending.group].push_back(pending.entry);
    for (auto& [group, entries] : by_group) {
        auto st = co_await broker_.groups().commit_transactional_offsets(group, std::move(entries));
        if (!st) {
            log_.error("transaction {}: committing the offsets of group {} after the restart: {}", id, group,
                       st.err().message());
            co_return;  // stays PrepareCommit: retried at the next start
        }
    }
    it = txns_.find(id);
    if (it == txns_.end()) co_return;
    finish(it->second, true);
    if (auto st = persist(it->second); !st) log_.error("transaction {}: {}", id, st.err().message());
}

status txn_coordinator::persist(const txn_state_record& txn) {
    auto st = log_file_.append(txn, txns_);
    if (!st) log_.error("transaction {}: writing its state: {}", txn.transactional_id, st.err().message());
    return st;
}

error_code txn_coordinator::check_producer(const txn_state_record& txn, int64_t producer_id, int16_t producer_epoch,
                                           int16_t version, int16_t first_fenced_version) const {
    if (txn.producer_id != producer_id) return error_code::invalid_producer_id_mapping;
    if (txn.producer_epoch != producer_epoch) {
        return version >= first_fenced_version ? error_code::producer_fenced : error_code::invalid_producer_epoch;
    }
    if (completing(txn.state)) return error_code::concurrent_transactions;
    return error_code::none;
}

bool txn_coordinator::write_markers(txn_state_record& txn, bool commit) {
    bool ok = true;
    for (const auto& p : txn.partitions) {
        topic* t = broker_.topics().find(p.topic);
        auto* log = t ? t->partition(p.partition) : nullptr;
        if (log == nullptr) continue;  // deleted since: nothing to mark
        auto appended = log->append_marker(txn.producer_id, txn.producer_epoch, commit, k_coordinator_epoch);
        if (appended.error != error_code::none) {
            log_.error("transaction {}: {} marker in {}-{}: {}", txn.transactional_id, commit ? "COMMIT" : "ABORT",
                       p.topic, p.partition, appended.message);
            ok = false;
            continue;
        }
        // The marker is durable before the transaction is complete.
        if (auto st = log->sync(); !st) {
            log_.error("transaction {}: syncing {}-{}: {}", txn.transactional_id, p.topic, p.partition, st.err().message());
            ok = false;
        }
    }
    broker_.wake_fetches();
    return ok;
}

void txn_coordinator::finish(txn_state_record& txn, bool commit) {
    txn.state = commit ? txn_state::complete_commit : txn_state::complete_abort;
    txn.partitions.clear();
    txn.groups.clear();
    txn.pending_offsets.clear();
    txn.start_ms = -1;
    txn.update_ms = broker_.clock().wall_millis();
}

status txn_coordinator::abort_now(txn_state_record& txn, bool bump_epoch) {
    if (bump_epoch && txn.producer_epoch < k_max_epoch) {
        // Fencing: the old producer's epoch is no longer current.
        txn.last_producer_id = txn.producer_id;
        txn.last_producer_epoch = txn.producer_epoch;
        txn.producer_epoch++;
    }
    txn.state = txn_state::prepare_abort;
    txn.update_ms = broker_.clock().wall_millis();
    if (auto st = persist(txn); !st) return st;
    if (!write_markers(txn, false)) {
        return make_error(errc::io_error, "transaction {}: writing its ABORT markers", txn.transactional_id);
    }
    finish(txn, false);
    return persist(txn);
}

txn_init_result txn_coordinator::init_producer_id(const std::string& id, int32_t timeout_ms, int64_t producer_id,
                                                  int16_t producer_epoch, int16_t version) {
    txn_init_result out;
    if (timeout_ms <= 0 || timeout_ms > max_timeout_ms_) {
        out.error = error_code::invalid_transaction_timeout;
        return out;
    }
    const int64_t now = broker_.clock().wall_millis();
    auto it = txns_.find(id);
    if (it == txns_.end()) {
        auto pid = broker_.next_producer_id();
        if (!pid) {
            out.error = error_code::coordinator_not_available;
            return out;
        }
        txn_state_record txn;
        txn.transactional_id = id;
        txn.producer_id = *pid;
        txn.producer_epoch = 0;
        txn.timeout_ms = timeout_ms;
        txn.update_ms = now;
        it = txns_.emplace(id, std::move(txn)).first;
        if (!persist(it->second)) {
            txns_.erase(it);
            out.error = error_code::coordinator_not_available;
            return out;
        }
        out.producer_id = *pid;
        out.producer_epoch = 0;
        return out;
    }
    auto& txn = it->second;
    const error_code fenced =
        version >= k_fenced_since_init_producer_id ? error_code::producer_fenced : error_code::invalid_producer_epoch;
    if (producer_id >= 0) {
        // KIP-360: the caller names the id and epoch it had.
        bool current = producer_id == txn.producer_id && producer_epoch == txn.producer_epoch;
        bool retry = producer_id == txn.last_producer_id && producer_epoch == txn.last_producer_epoch;
        if (!current && !retry) {
            out.error = fenced;
            return out;
        }
        if (retry && !current && txn.state != txn_state::ongoing) {
            // The answer to the previous InitProducerId was lost: the same again.
            out.producer_id = txn.producer_id;
            out.producer_epoch = txn.producer_epoch;
            return out;
        }
    }
    if (completing(txn.state)) {
        out.error = error_code::concurrent_transactions;
        return out;
    }
    if (txn.state == txn_state::ongoing) {
        // A new producer instance fences the old one: its transaction is aborted.
        if (!abort_now(txn, /*bump_epoch=*/true)) {
            out.error = error_code::coordinator_not_available;
            return out;
        }
    }
    txn.last_producer_id = txn.producer_id;
    txn.last_producer_epoch = txn.producer_epoch;
    if (txn.producer_epoch >= k_max_epoch) {
        auto pid = broker_.next_producer_id();
        if (!pid) {
            out.error = error_code::coordinator_not_available;
            return out;
        }
        txn.producer_id = *pid;
        txn.producer_epoch = 0;
    } else {
        txn.producer_epoch++;
    }
    txn.timeout_ms = timeout_ms;
    txn.state = txn_state::empty;
    txn.update_ms = now;
    if (!persist(txn)) {
        out.error = error_code::coordinator_not_available;
        return out;
    }
    out.producer_id = txn.producer_id;
    out.producer_epoch = txn.producer_epoch;
    return out;
}

std::vector<error_code> txn_coordinator::add_partitions(const std::string& id, int64_t producer_id,
                                                        int16_t producer_epoch,
                                                        const std::vector<txn_partition>& partitions, bool verify_only,
                                                        int16_t version) {
    std::vector<error_code> errors(partitions.size(), error_code::none);
    auto fill = [&](error_code code) { std::fill(errors.begin(), errors.end(), code); };
    auto it = txns_.find(id);
    if (it == txns_.end()) {
        fill(error_code::invalid_producer_id_mapping);
        return errors;
    }
    auto& txn = it->second;
    if (auto code = check_producer(txn, producer_id, producer_epoch, version, k_fenced_since_add_partitions);
        code != error_code::none) {
        fill(code);
        return errors;
    }
    if (verify_only) {
        for (size_t idx = 0; idx < partitions.size(); ++idx) {
            if (txn.state != txn_state::ongoing || !txn.partitions.contains(partitions[idx])) {
                errors[idx] = error_code::invalid_txn_state;
            }
        }
        return errors;
    }
    // Unknown partitions fail the request; the others were not attempted (Kafka).
    bool any_unknown = false;
    for (size_t idx = 0; idx < partitions.size(); ++idx) {
        topic* t = broker_.topics().find(partitions[idx].topic);
        if (t == nullptr || t->partition(partitions[idx].partition) == nullptr) {
            errors[idx] = error_code::unknown_topic_or_partition;
            any_unknown = true;
        }
    }
    if (any_unknown) {
        for (auto& e : errors) {
            if (e == error_code::none) e = error_code::operation_not_attempted;
        }
        return errors;
    }
    txn_state_record updated = txn;
    if (updated.state != txn_state::ongoing) {
        updated.state = txn_state::ongoing;
        updated.start_ms = broker_.clock().wall_millis();
    }
    updated.partitions.insert(partitions.begin(), partitions.end());
    updated.update_ms = broker_.clock().wall_millis();
    if (updated.partitions == txn.partitions && updated.state == txn.state) return errors;  // a retry
    txn_state_record previous = std::exchange(txn, std::move(updated));
    if (!persist(txn)) {
        txn = std::move(previous);
        fill(error_code::coordinator_not_available);
    }
    return errors;
}

error_code txn_coordinator::add_offsets(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                        const std::string& group, int16_t version) {
    auto it = txns_.find(id);
    if (it == txns_.end()) return error_code::invalid_producer_id_mapping;
    auto& txn = it->second;
    if (auto code = check_producer(txn, producer_id, producer_epoch, version, k_fenced_since_add_offsets);
        code != error_code::none) {
        return code;
    }
    txn_state_record updated = txn;
    if (updated.state != txn_state::ongoing) {
        updated.state = txn_state::ongoing;
        updated.start_ms = broker_.clock().wall_millis();
    }
    updated.groups.insert(group);
    updated.update_ms = broker_.clock().wall_millis();
    txn_state_record previous = std::exchange(txn, std::move(updated));
    if (!persist(txn)) {
        txn = std::move(previous);
        return error_code::coordinator_not_available;
    }
    return error_code::none;
}

error_code txn_coordinator::txn_offset_commit(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                              const std::string& group, std::vector<offset_commit_entry> entries) {
    auto it = txns_.find(id);
    if (it == txns_.end()) return error_code::invalid_producer_id_mapping;
    auto& txn = it->second;
    if (txn.producer_id != producer_id) return error_code::invalid_producer_id_mapping;
    if (txn.producer_epoch != producer_epoch) return error_code::invalid_producer_epoch;
    if (completing(txn.state)) return error_code::concurrent_transactions;
    if (txn.state != txn_state::ongoing || !txn.groups.contains(group)) return error_code::invalid_txn_state;
    txn_state_record updated = txn;
    const int64_t now = broker_.clock().wall_millis();
    for (auto& entry : entries) {
        entry.value.commit_timestamp_ms = now;
        // A later commit of the same partition in one transaction replaces the earlier one.
        bool replaced = false;
        for (auto& pending : updated.pending_offsets) {
            if (pending.group == group && pending.entry.topic == entry.topic && pending.entry.partition == entry.partition) {
                pending.entry = entry;
                replaced = true;
            }
        }
        if (!replaced) updated.pending_offsets.push_back({group, std::move(entry)});
    }
    updated.update_ms = now;
    txn_state_record previous = std::exchange(txn, std::move(updated));
    if (!persist(txn)) {
        txn = std::move(previous);
        return error_code::coordinator_not_available;
    }
    return error_code::none;
}

asio::awaitable<error_code> txn_coordinator::end_txn(const std::string& id, int64_t producer_id,
                                                     int16_t producer_epoch, bool commit, int16_t version) {
    auto it = txns_.find(id);
    if (it == txns_.end()) co_return error_code::invalid_producer_id_mapping;
    auto& txn = it->second;
    if (auto code = check_producer(txn, producer_id, producer_epoch, version, k_fenced_since_end_txn);
        code != error_code::none) {
        co_return code;
    }
    if (txn.state == txn_state::complete_commit && commit) co_return error_code::none;  // a retry
    if (txn.state == txn_state::complete_abort && !commit) co_return error_code::none;
    if (txn.state != txn_state::ongoing) co_return error_code::invalid_txn_state;
    if (!commit) {
        co_return abort_now(txn, /*bump_epoch=*/false).ok() ? error_code::none : error_code::coordinator_not_available;
    }
    txn.state = txn_state::prepare_commit;
    txn.update_ms = broker_.clock().wall_millis();
    if (!persist(txn)) {
        // Not durable, so not decided: the transaction stays open (and times out if never retried).
        txn.state = txn_state::ongoing;
        co_return error_code::coordinator_not_available;
    }
    // Decided: from here on the commit completes, now or after a restart.
    if (!write_markers(txn, true)) co_return error_code::coordinator_not_available;
    std::map<std::string, std::vector<offset_commit_entry>> by_group;
    for (auto& pending : txn.pending_offsets) by_group[pending.group].push_back(pending.entry);
    for (auto& [group, entries] : by_group) {
        auto st = co_await broker_.groups().commit_transactional_offsets(group, std::move(entries));
        if (!st) {
            log_.error("transaction {}: committing the offsets of group {}: {}", id, group, st.err().message());
            co_return error_code::coordinator_not_available;
        }
    }
    it = txns_.find(id);
    if (it == txns_.end()) co_return error_code::none;
    finish(it->second, true);
    if (!persist(it->second)) co_return error_code::coordinator_not_available;
    co_return error_code::none;
}

error_code txn_coordinator::verify_produce(const std::string& id, int64_t producer_id, int16_t producer_epoch,
                                           const txn_partition& partition) const {
    auto it = txns_.find(id);
    if (it == txns_.end()) return error_code::invalid_producer_id_mapping;
    const auto& txn = it->second;
    if (txn.producer_id != producer_id) return error_code::invalid_producer_id_mapping;
    if (producer_epoch < txn.producer_epoch) return error_code::invalid_producer_epoch;
    if (producer_epoch != txn.producer_epoch) return error_code::invalid_producer_epoch;
    if (txn.state != txn_state::ongoing || !txn.partitions.contains(partition)) return error_code::invalid_txn_state;
    return error_code::none;
}

bool txn_coordinator::has_pending_offset(const std::string& group, const std::string& topic, int32_t partition) const {
    for (const auto& [id, txn] : txns_) {
        if (txn.state != txn_state::ongoing && txn.state != txn_state::prepare_commit) continue;
        for (const auto& pending : txn.pending_offsets) {
            if (pending.group == group && pending.entry.topic == topic && pending.entry.partition == partition) return true;
        }
    }
    return false;
}

void txn_coordinator::tick() {
    const int64_t now = broker_.clock().wall_millis();
    for (auto& [id, txn] : txns_) {
        if (txn.state != txn_state::ongoing || txn.start_ms < 0 || now - txn.start_ms <= txn.timeout_ms) continue;
        log_.info("transaction {} (producer {} epoch {}) open for {} ms, beyond its timeout of {} ms: aborting it", id,
                  txn.producer_id, txn.producer_epoch, now - txn.start_ms, txn.timeout_ms);
        if (auto st = abort_now(txn, /*bump_epoch=*/true); !st) {
            log_.error("transaction {}: aborting after its timeout: {}", id, st.err().message());
        }
    }
}

std::optional<txn_description> txn_coordinator::describe(const std::string& id) const {
    auto it = txns_.find(id);
    if (it == txns_.end()) return std::nullopt;
    const auto& txn = it->second;
    txn_description d{txn.transactional_id, txn_state_name(txn.state), txn.timeout_ms,
                      txn.state == txn_state::ongoing || completing(txn.state) ? txn.start_ms : -1,
                      txn.producer_id, txn.producer_epoch, {}};
    for (const auto& p : txn.partitions) d.partitions[p.topic].push_back(p.partition);
    return d;
}

std::vector<txn_description> txn_coordinator::list() const {
    std::vector<txn_description> out;
    for (const auto& [id, txn] : txns_) out.push_back(*describe(id));
    return out;
}

}  // namespace millrace::kafka
