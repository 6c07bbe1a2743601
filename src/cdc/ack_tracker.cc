#include "millrace/cdc/ack_tracker.h"

#include "millrace/common/result.h"

namespace millrace::cdc {

ack_tracker::txn_id ack_tracker::begin(int64_t commit_time_unix_us) {
    txns_.push_back(txn{next_id_, commit_time_unix_us});
    return next_id_++;
}

ack_tracker::txn* ack_tracker::find(txn_id id) {
    if (txns_.empty() || id < txns_.front().id) return nullptr;
    size_t idx = id - txns_.front().id;
    if (idx >= txns_.size()) return nullptr;
    return &txns_[idx];
}

void ack_tracker::add_message(txn_id id) {
    txn* t = find(id);
    MILLRACE_ASSERT(t != nullptr && !t->committed, "message added to unknown or committed transaction {}", id);
    ++t->outstanding;
    ++in_flight_;
}

void ack_tracker::commit(txn_id id, lsn end) {
    txn* t = find(id);
    MILLRACE_ASSERT(t != nullptr && !t->committed, "commit of unknown or committed transaction {}", id);
    t->committed = true;
    t->end = end;
    advance();
}

void ack_tracker::ack(txn_id id) {
    txn* t = find(id);
    if (t == nullptr) return;  // from before a reset
    MILLRACE_ASSERT(t->outstanding > 0, "more acknowledgements than messages in transaction {}", id);
    --t->outstanding;
    --in_flight_;
    advance();
}

void ack_tracker::idle_at(lsn position) {
    if (txns_.empty() && position > confirmed_) confirmed_ = position;
}

void ack_tracker::reset() {
    txns_.clear();
    in_flight_ = 0;
}

void ack_tracker::advance() {
    while (!txns_.empty() && txns_.front().committed && txns_.front().outstanding == 0) {
        const txn& t = txns_.front();
        if (t.end > confirmed_) confirmed_ = t.end;
        if (on_acknowledged) on_acknowledged(t.commit_time_us);
        txns_.pop_front();
    }
}

}  // namespace millrace::cdc
