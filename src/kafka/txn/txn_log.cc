#include "txn/txn_log.h"

#include "millrace/common/endian.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka {
namespace {

constexpr int8_t k_record_version = 1;
constexpr size_t k_record_header = 8;  // length (4) | crc (4)
constexpr const char* k_log_name = "txn.log";
constexpr const char* k_rewrite_suffix = ".rewrite";

std::string frame(const std::string& payload) {
    std::string out;
    writer w(out);
    w.uint32(static_cast<uint32_t>(payload.size()));
    w.uint32(crc32c(payload.data(), payload.size()));
    w.raw(payload);
    return out;
}

}  // namespace

const char* txn_state_name(txn_state state) {
    switch (state) {
        case txn_state::empty: return "Empty";
        case txn_state::ongoing: return "Ongoing";
        case txn_state::prepare_commit: return "PrepareCommit";
        case txn_state::prepare_abort: return "PrepareAbort";
        case txn_state::complete_commit: return "CompleteCommit";
        case txn_state::complete_abort: return "CompleteAbort";
        case txn_state::dead: return "Dead";
    }
    return "Unknown";
}

std::string encode_txn_record(const txn_state_record& txn) {
    std::string out;
    writer w(out);
    w.int8(k_record_version);
    w.string(txn.transactional_id, false);
    w.int64(txn.producer_id);
    w.int16(txn.producer_epoch);
    w.int64(txn.last_producer_id);
    w.int16(txn.last_producer_epoch);
    w.int32(txn.timeout_ms);
    w.int8(static_cast<int8_t>(txn.state));
    w.int64(txn.start_ms);
    w.int64(txn.update_ms);
    w.int32(static_cast<int32_t>(txn.partitions.size()));
    for (const auto& p : txn.partitions) {
        w.string(p.topic, false);
        w.int32(p.partition);
    }
    w.int32(static_cast<int32_t>(txn.groups.size()));
    for (const auto& g : txn.groups) w.string(g, false);
    w.int32(static_cast<int32_t>(txn.pending_offsets.size()));
    for (const auto& pending : txn.pending_offsets) {
        w.string(pending.group, false);
        w.string(pending.entry.topic, false);
        w.int32(pending.entry.partition);
        w.int64(pending.entry.value.offset);
        w.int32(pending.entry.value.leader_epoch);
        w.nullable_string(pending.entry.value.metadata, false);
    }
    return out;
}

result<txn_state_record> decode_txn_record(std::string_view payload) {
    txn_state_record txn;
    try {
        reader r(payload);
        int8_t version = r.int8();
        if (version != k_record_version) {
            return make_error(errc::corruption, "transaction record version {}, expected {}", version, k_record_version);
        }
        txn.transactional_id = r.string(false);
        txn.producer_id = r.int64();
        txn.producer_epoch = r.int16();
        txn.last_producer_id = r.int64();
        txn.last_producer_epoch = r.int16();
        txn.timeout_ms = r.int32();
        int8_t state = r.int8();
        if (state < 0 || state > static_cast<int8_t>(txn_state::dead)) {
            return make_error(errc::corruption, "transaction {}: unknown state {}", txn.transactional_id, state);
        }
        txn.state = static_cast<txn_state>(state);
        txn.start_ms = r.int64();
        txn.update_ms = r.int64();
        for (int32_t count = r.int32(); count > 0; --count) {
            txn_partition p;
            p.topic = r.string(false);
            p.partition = r.int32();
            txn.partitions.insert(std::move(p));
        }
        for (int32_t count = r.int32(); count > 0; --count) txn.groups.insert(r.string(false));
        for (int32_t count = r.int32(); count > 0; --count) {
            txn_pending_offset pending;
            pending.group = r.string(false);
            pending.entry.topic = r.string(false);
            pending.entry.partition = r.int32();
            pending.entry.value.offset = r.int64();
            pending.entry.value.leader_epoch = r.int32();
            pending.entry.value.metadata = r.nullable_string(false);
            txn.pending_offsets.push_back(std::move(pending));
        }
        if (r.remaining() != 0) {
            return make_error(errc::corruption, "transaction {}: {} bytes after the record", txn.transactional_id,
                              r.remaining());
        }
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "transaction record of {} bytes: {}", payload.size(), e.what());
    }
    return txn;
}

txn_log::txn_log(file_system& fs, std::string dir, uint64_t rewrite_threshold_bytes)
    : fs_(fs), dir_(std::move(dir)), path_(dir_ + "/" + k_log_name), rewrite_threshold_bytes_(rewrite_threshold_bytes) {}

status txn_log::open(std::map<std::string, txn_state_record>& out) {
    if (auto st = fs_.create_directories(dir_); !st) return st;
    // A rewrite that never reached its rename: the old file is whole.
    if (fs_.exists(path_ + k_rewrite_suffix)) {
        if (auto st = fs_.remove(path_ + k_rewrite_suffix); !st) return st;
    }
    auto opened = fs_.open(path_, open_mode::read_write);
    if (!opened) return opened.err();
    file_ = std::move(*opened);
    std::string bytes;
    if (auto st = file_->read_at(0, file_->size(), bytes); !st) return st;
    size_t pos = 0;
    while (pos < bytes.size()) {
        if (bytes.size() - pos < k_record_header) break;  // torn header
        uint32_t length = endian::load_be<uint32_t>(bytes, pos);
        uint32_t crc = endian::load_be<uint32_t>(bytes, pos + 4);
        if (length > bytes.size() - pos - k_record_header) break;  // torn payload
        std::string_view payload(bytes.data() + pos + k_record_header, length);
        if (crc32c(payload.data(), payload.size()) != crc) break;  // torn or corrupt tail
        auto txn = decode_txn_record(payload);
        if (!txn) return txn.err().with_context(fmt::format("{} at position {}", path_, pos));
        out[txn->transactional_id] = std::move(*txn);
        pos += k_record_header + length;
    }
    if (pos < bytes.size()) {
        if (auto st = file_->truncate(pos); !st) return st;
        if (auto st = file_->sync(); !st) return st;
    }
    size_ = pos;
    return {};
}

status txn_log::append(const txn_state_record& txn, const std::map<std::string, txn_state_record>& all) {
    if (file_ == nullptr || size_ >= rewrite_threshold_bytes_) return rewrite(all);
    std::string record = frame(encode_txn_record(txn));
    if (auto st = file_->append(record); !st) {
        file_.reset();  // the tail is unknown: the next write rewrites the whole state
        return st;
    }
    if (auto st = file_->sync(); !st) {
        file_.reset();
        return st;
    }
    size_ += record.size();
    return {};
}

status txn_log::rewrite(const std::map<std::string, txn_state_record>& all) {
    std::string bytes;
    for (const auto& [id, txn] : all) bytes += frame(encode_txn_record(txn));
    std::string temp = path_ + k_rewrite_suffix;
    {
        auto out = fs_.open(temp, open_mode::read_write);
        if (!out) return out.err();
        if (auto st = (*out)->truncate(0); !st) return st;
        if (auto st = (*out)->append(bytes); !st) return st;
        if (auto st = (*out)->sync(); !st) return st;
    }
    file_.reset();
    if (auto st = fs_.rename(temp, path_); !st) return st;
    if (auto st = fs_.sync_dir(dir_); !st) return st;
    auto opened = fs_.open(path_, open_mode::read_write);
    if (!opened) return opened.err();
    file_ = std::move(*opened);
    size_ = bytes.size();
    return {};
}

}  // namespace millrace::kafka
