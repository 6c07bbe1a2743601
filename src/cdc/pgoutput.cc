#include "millrace/cdc/pgoutput.h"

#include <charconv>

#include "millrace/common/endian.h"

namespace millrace::cdc {
namespace {

// Reads big-endian fields; the first failure sticks and names where it happened.
class reader {
public:
    reader(std::string_view bytes, const char* what) : bytes_(bytes), what_(what) {}

    bool ok() const { return !failed_; }
    size_t offset() const { return pos_; }
    size_t remaining() const { return bytes_.size() - pos_; }

    uint64_t u64() { return read_int<uint64_t>(8); }
    int64_t i64() { return static_cast<int64_t>(u64()); }
    uint32_t u32() { return read_int<uint32_t>(4); }
    int32_t i32() { return static_cast<int32_t>(u32()); }
    uint16_t u16() { return read_int<uint16_t>(2); }
    uint8_t u8() { return read_int<uint8_t>(1); }
    char byte() { return static_cast<char>(u8()); }

    std::string string() {
        if (failed_) return {};
        auto end = bytes_.find('\0', pos_);
        if (end == std::string_view::npos) {
            fail(fmt::format("unterminated string at offset {} ({} bytes left)", pos_, remaining()));
            return {};
        }
        std::string out(bytes_.substr(pos_, end - pos_));
        pos_ = end + 1;
        return out;
    }

    std::string_view bytes(size_t n) {
        if (failed_) return {};
        if (remaining() < n) {
            fail(fmt::format("expected {} bytes at offset {}, {} left", n, pos_, remaining()));
            return {};
        }
        auto out = bytes_.substr(pos_, n);
        pos_ += n;
        return out;
    }

    void fail(std::string message) {
        if (failed_) return;
        failed_ = true;
        message_ = std::move(message);
    }

    error err() const { return make_error(errc::invalid_argument, "{}: {}", what_, message_); }

private:
    template <typename T>
    T read_int(size_t n) {
        if (failed_) return 0;
        if (remaining() < n) {
            fail(fmt::format("expected {} bytes at offset {}, {} left", n, pos_, remaining()));
            return 0;
        }
        T v = endian::load_be<T>(bytes_, pos_);
        pos_ += n;
        return v;
    }

    std::string_view bytes_;
    const char* what_;
    size_t pos_ = 0;
    bool failed_ = false;
    std::string message_;
};

void put_u64(std::string& out, uint64_t v) { endian::append_be<uint64_t>(out, v); }

tuple_data read_tuple(reader& in) {
    tuple_data tuple;
    uint16_t count = in.u16();
    if (!in.ok()) return tuple;
    tuple.reserve(count);
    for (uint16_t column_idx = 0; column_idx < count && in.ok(); ++column_idx) {
        tuple_value v;
        char kind = in.byte();
        switch (kind) {
            case 'n': v.k = tuple_value::kind::null; break;
            case 'u': v.k = tuple_value::kind::unchanged; break;
            case 't': {
                v.k = tuple_value::kind::text;
                uint32_t len = in.u32();
                v.text = std::string(in.bytes(len));
                break;
            }
            default:
                if (in.ok()) {
                    in.fail(fmt::format("column {} of {} has unknown kind '{}' at offset {}", column_idx, count,
                                        kind, in.offset() - 1));
                }
        }
        tuple.push_back(std::move(v));
    }
    return tuple;
}

template <typename T>
result<pgoutput_message> finish(reader& in, T message) {
    if (!in.ok()) return in.err();
    if (in.remaining() != 0) {
        in.fail(fmt::format("{} trailing bytes at offset {}", in.remaining(), in.offset()));
        return in.err();
    }
    return pgoutput_message(std::move(message));
}

}  // namespace

std::string lsn::to_string() const {
    return fmt::format("{:X}/{:X}", static_cast<uint32_t>(value >> 32), static_cast<uint32_t>(value));
}

result<lsn> lsn::parse(std::string_view text) {
    auto slash = text.find('/');
    uint32_t hi = 0;
    uint32_t lo = 0;
    if (slash == std::string_view::npos || slash == 0 || slash + 1 == text.size()) {
        return make_error(errc::invalid_argument, "LSN '{}': expected <hex>/<hex>", text);
    }
    auto a = std::from_chars(text.data(), text.data() + slash, hi, 16);
    auto b = std::from_chars(text.data() + slash + 1, text.data() + text.size(), lo, 16);
    if (a.ec != std::errc() || a.ptr != text.data() + slash || b.ec != std::errc() || b.ptr != text.data() + text.size()) {
        return make_error(errc::invalid_argument, "LSN '{}': expected <hex>/<hex>", text);
    }
    return lsn{(static_cast<uint64_t>(hi) << 32) | lo};
}

result<stream_message> decode_stream_message(std::string_view bytes) {
    if (bytes.empty()) return make_error(errc::invalid_argument, "replication stream: empty CopyData message");
    char tag = bytes.front();
    if (tag == 'w') {
        reader in(bytes.substr(1), "XLogData");
        xlog_data d;
        d.wal_start = lsn{in.u64()};
        d.wal_end = lsn{in.u64()};
        d.send_time_us = in.i64();
        if (!in.ok()) return in.err();
        d.payload = bytes.substr(1 + in.offset());
        return stream_message(d);
    }
    if (tag == 'k') {
        reader in(bytes.substr(1), "primary keepalive");
        keepalive k;
        k.wal_end = lsn{in.u64()};
        k.send_time_us = in.i64();
        k.reply_requested = in.u8() != 0;
        if (!in.ok()) return in.err();
        if (in.remaining() != 0) {
            return make_error(errc::invalid_argument, "primary keepalive: {} trailing bytes", in.remaining());
        }
        return stream_message(k);
    }
    return make_error(errc::invalid_argument, "replication stream: unknown message type '{}' (0x{:02x}), {} bytes",
                      tag, static_cast<uint8_t>(tag), bytes.size());
}

std::string encode_status_update(lsn written, lsn flushed, lsn applied, int64_t now_pg_us, bool reply_requested) {
    std::string out;
    out.reserve(34);
    out.push_back('r');
    put_u64(out, written.value);
    put_u64(out, flushed.value);
    put_u64(out, applied.value);
    put_u64(out, static_cast<uint64_t>(now_pg_us));
    out.push_back(reply_requested ? 1 : 0);
    return out;
}

result<pgoutput_message> decode_pgoutput(std::string_view bytes) {
    if (bytes.empty()) return make_error(errc::invalid_argument, "pgoutput: empty message");
    char tag = bytes.front();
    std::string_view body = bytes.substr(1);
    switch (tag) {
        case 'B': {
            reader in(body, "pgoutput Begin");
            begin_message m;
            m.final_lsn = lsn{in.u64()};
            m.commit_time_us = in.i64();
            m.xid = in.u32();
            return finish(in, m);
        }
        case 'C': {
            reader in(body, "pgoutput Commit");
            commit_message m;
            in.u8();  // flags, unused
            m.commit_lsn = lsn{in.u64()};
            m.end_lsn = lsn{in.u64()};
            m.commit_time_us = in.i64();
            return finish(in, m);
        }
        case 'O': {
            reader in(body, "pgoutput Origin");
            origin_message m;
            m.origin_lsn = lsn{in.u64()};
            m.name = in.string();
            return finish(in, std::move(m));
        }
        case 'R': {
            reader in(body, "pgoutput Relation");
            relation_message m;
            m.oid = in.u32();
            m.schema = in.string();
            m.name = in.string();
            m.replica_identity = in.byte();
            uint16_t count = in.u16();
            for (uint16_t column_idx = 0; column_idx < count && in.ok(); ++column_idx) {
                column_info c;
                c.key = (in.u8() & 1) != 0;
                c.name = in.string();
                c.type_oid = in.u32();
                c.type_modifier = in.i32();
                m.columns.push_back(std::move(c));
            }
            return finish(in, std::move(m));
        }
        case 'Y': {
            reader in(body, "pgoutput Type");
            type_message m;
            m.oid = in.u32();
            m.schema = in.string();
            m.name = in.string();
            return finish(in, std::move(m));
        }
        case 'I': {
            reader in(body, "pgoutput Insert");
            insert_message m;
            m.relation = in.u32();
            char marker = in.byte();
            if (in.ok() && marker != 'N') in.fail(fmt::format("expected 'N' at offset 4, found '{}'", marker));
            m.new_tuple = read_tuple(in);
            return finish(in, std::move(m));
        }
        case 'U': {
            reader in(body, "pgoutput Update");
            update_message m;
            m.relation = in.u32();
            char marker = in.byte();
            if (in.ok() && (marker == 'K' || marker == 'O')) {
                m.old_kind = marker;
                m.old_tuple = read_tuple(in);
                marker = in.byte();
            }
            if (in.ok() && marker != 'N') {
                in.fail(fmt::format("expected 'N' at offset {}, found '{}'", in.offset() - 1, marker));
            }
            m.new_tuple = read_tuple(in);
            return finish(in, std::move(m));
        }
        case 'D': {
            reader in(body, "pgoutput Delete");
            delete_message m;
            m.relation = in.u32();
            char marker = in.byte();
            if (in.ok() && marker != 'K' && marker != 'O') {
                in.fail(fmt::format("expected 'K' or 'O' at offset 4, found '{}'", marker));
            }
            m.old_kind = marker;
            m.old_tuple = read_tuple(in);
            return finish(in, std::move(m));
        }
        case 'T': {
            reader in(body, "pgoutput Truncate");
            truncate_message m;
            uint32_t count = in.u32();
            m.options = in.u8();
            if (in.ok() && in.remaining() != static_cast<size_t>(count) * 4) {
                in.fail(fmt::format("{} relations need {} bytes, {} left", count, static_cast<size_t>(count) * 4,
                                    in.remaining()));
            }
            for (uint32_t rel_idx = 0; rel_idx < count && in.ok(); ++rel_idx) m.relations.push_back(in.u32());
            return finish(in, std::move(m));
        }
        case 'M': return pgoutput_message(ignored_message{tag});
        default:
            return make_error(errc::invalid_argument, "pgoutput: unknown message type '{}' (0x{:02x}), {} bytes", tag,
                              static_cast<uint8_t>(tag), bytes.size());
    }
}

}  // namespace millrace::cdc
