#include "protocol/records.h"

#include <cstring>

#include <lz4frame.h>
#include <snappy-c.h>
#include <zlib.h>
#include <zstd.h>

#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka {
namespace {

constexpr char k_xerial_magic[] = "\x82SNAPPY\x00";
constexpr size_t k_xerial_header = 16;  // magic (8) + version (4) + compatible version (4)

result<std::string> gunzip(std::string_view input, size_t max_output) {
    z_stream zs{};
    if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK) return make_error(errc::corruption, "gzip: cannot initialise");
    std::string out;
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(input.data()));
    zs.avail_in = static_cast<uInt>(input.size());
    int rc = Z_OK;
    while (rc != Z_STREAM_END) {
        if (out.size() >= max_output) {
            inflateEnd(&zs);
            return make_error(errc::corruption, "gzip: output exceeds {} bytes", max_output);
        }
        size_t old = out.size();
        out.resize(std::min(max_output, std::max<size_t>(old * 2, 64 * 1024)));
        zs.next_out = reinterpret_cast<Bytef*>(out.data() + old);
        zs.avail_out = static_cast<uInt>(out.size() - old);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.resize(out.size() - zs.avail_out);
        if (rc != Z_OK && rc != Z_STREAM_END) {
            inflateEnd(&zs);
            return make_error(errc::corruption, "gzip: {}", zs.msg ? zs.msg : "corrupt stream");
        }
        if (rc == Z_OK && zs.avail_in == 0 && zs.avail_out != 0) break;  // truncated: take what there is
    }
    inflateEnd(&zs);
    return out;
}

result<std::string> unsnappy_block(std::string_view input, size_t max_output) {
    size_t length = 0;
    if (snappy_uncompressed_length(input.data(), input.size(), &length) != SNAPPY_OK) {
        return make_error(errc::corruption, "snappy: bad block header");
    }
    if (length > max_output) return make_error(errc::corruption, "snappy: block of {} bytes exceeds {}", length, max_output);
    std::string out(length, '\0');
    if (snappy_uncompress(input.data(), input.size(), out.data(), &length) != SNAPPY_OK) {
        return make_error(errc::corruption, "snappy: corrupt block");
    }
    out.resize(length);
    return out;
}

result<std::string> unsnappy(std::string_view input, size_t max_output) {
    if (input.size() < k_xerial_header || std::memcmp(input.data(), k_xerial_magic, 8) != 0) {
        return unsnappy_block(input, max_output);
    }
    std::string out;
    reader r(input.substr(k_xerial_header));
    try {
        while (r.remaining() > 0) {
            int32_t length = r.int32();
            if (length < 0) return make_error(errc::corruption, "snappy: negative block length {}", length);
            auto block = unsnappy_block(r.take(static_cast<size_t>(length)), max_output - out.size());
            if (!block) return block.err();
            out += *block;
        }
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "snappy: {}", e.what());
    }
    return out;
}

result<std::string> unlz4(std::string_view input, size_t max_output) {
    LZ4F_dctx* ctx = nullptr;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) {
        return make_error(errc::corruption, "lz4: cannot initialise");
    }
    std::string out;
    size_t in_pos = 0;
    for (;;) {
        if (out.size() >= max_output) {
            LZ4F_freeDecompressionContext(ctx);
            return make_error(errc::corruption, "lz4: output exceeds {} bytes", max_output);
        }
        size_t old = out.size();
        out.resize(std::min(max_output, std::max<size_t>(old * 2, 64 * 1024)));
        size_t out_size = out.size() - old;
        size_t in_size = input.size() - in_pos;
        size_t hint = LZ4F_decompress(ctx, out.data() + old, &out_size, input.data() + in_pos, &in_size, nullptr);
        out.resize(old + out_size);
        in_pos += in_size;
        if (LZ4F_isError(hint)) {
            std::string why = LZ4F_getErrorName(hint);
            LZ4F_freeDecompressionContext(ctx);
            return make_error(errc::corruption, "lz4: {}", why);
        }
        if (hint == 0 || (in_pos >= input.size() && out_size == 0)) break;
    }
    LZ4F_freeDecompressionContext(ctx);
    return out;
}

result<std::string> unzstd(std::string_view input, size_t max_output) {
    ZSTD_DStream* stream = ZSTD_createDStream();
    ZSTD_initDStream(stream);
    std::string out;
    ZSTD_inBuffer in{input.data(), input.size(), 0};
    for (;;) {
        if (out.size() >= max_output) {
            ZSTD_freeDStream(stream);
            return make_error(errc::corruption, "zstd: output exceeds {} bytes", max_output);
        }
        size_t old = out.size();
        out.resize(std::min(max_output, std::max<size_t>(old * 2, 64 * 1024)));
        ZSTD_outBuffer o{out.data() + old, out.size() - old, 0};
        size_t rc = ZSTD_decompressStream(stream, &o, &in);
        out.resize(old + o.pos);
        if (ZSTD_isError(rc)) {
            std::string why = ZSTD_getErrorName(rc);
            ZSTD_freeDStream(stream);
            return make_error(errc::corruption, "zstd: {}", why);
        }
        if (rc == 0 || (in.pos >= in.size && o.pos < o.size)) break;
    }
    ZSTD_freeDStream(stream);
    return out;
}

}  // namespace

result<std::string> decompress(compression codec, std::string_view input, size_t max_output) {
    switch (codec) {
        case compression::none: return std::string(input);
        case compression::gzip: return gunzip(input, max_output);
        case compression::snappy: return unsnappy(input, max_output);
        case compression::lz4: return unlz4(input, max_output);
        case compression::zstd: return unzstd(input, max_output);
    }
    return make_error(errc::unsupported, "unknown compression codec {}", static_cast<int>(codec));
}

status for_each_record(std::string_view batch, const std::function<void(const record_view&)>& fn,
                       size_t max_decompressed) {
    auto h = read_header(batch);
    std::string_view body = batch.substr(batch_format::k_header_size);
    std::string decompressed;
    if (h.compression() != 0) {
        if (h.compression() > 4) return make_error(errc::unsupported, "unknown compression codec {}", h.compression());
        auto out = decompress(static_cast<compression>(h.compression()), body, max_decompressed);
        if (!out) return out.err().with_context(fmt::format("batch at offset {}", h.base_offset));
        decompressed = std::move(*out);
        body = decompressed;
    }
    reader r(body);
    try {
        for (int32_t idx = 0; idx < h.records_count; ++idx) {
            int32_t length = r.varint();
            if (length < 0) throw protocol_error(fmt::format("record {} has negative length {}", idx, length));
            reader rec(r.take(static_cast<size_t>(length)));
            rec.int8();  // attributes
            int64_t timestamp_delta = rec.varlong();
            int32_t offset_delta = rec.varint();
            // Wrapping sums (Kafka's Java arithmetic): a stored batch's fields are
            // whatever the producer sent, and overflow must not be undefined.
            auto wrapping_add = [](int64_t a, int64_t b) {
                return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
            };
            record_view view{wrapping_add(h.base_offset, offset_delta), wrapping_add(h.base_timestamp, timestamp_delta),
                             std::nullopt, std::nullopt, {}};
            int32_t key_length = rec.varint();
            if (key_length >= 0) view.key = rec.take(static_cast<size_t>(key_length));
            int32_t value_length = rec.varint();
            if (value_length >= 0) view.value = rec.take(static_cast<size_t>(value_length));
            view.headers = rec.take(rec.remaining());
            fn(view);
        }
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "batch at offset {}: {}", h.base_offset, e.what());
    }
    return {};
}

std::string encode_batch(const std::vector<record_view>& records, std::string_view like) {
    auto h = read_header(like);
    int64_t base_offset = records.front().offset;
    int64_t base_timestamp = records.front().timestamp;
    int64_t max_timestamp = base_timestamp;
    std::string body;  // from the attributes to the end
    writer w(body);
    w.int16(static_cast<int16_t>(h.attributes & ~batch_format::k_compression_mask));
    w.int32(static_cast<int32_t>(records.back().offset - base_offset));
    w.int64(base_timestamp);
    size_t max_timestamp_at = body.size();
    w.int64(0);  // max timestamp, patched below
    w.int64(h.producer_id);
    w.int16(h.producer_epoch);
    w.int32(h.base_sequence < 0 ? -1 : h.base_sequence + static_cast<int32_t>(base_offset - h.base_offset));
    w.int32(static_cast<int32_t>(records.size()));
    for (const auto& rec : records) {
        max_timestamp = std::max(max_timestamp, rec.timestamp);
        std::string one;
        writer r(one);
        r.int8(0);
        r.varlong(rec.timestamp - base_timestamp);
        r.varint(static_cast<int32_t>(rec.offset - base_offset));
        r.varint(rec.key ? static_cast<int32_t>(rec.key->size()) : -1);
        if (rec.key) r.raw(*rec.key);
        r.varint(rec.value ? static_cast<int32_t>(rec.value->size()) : -1);
        if (rec.value) r.raw(*rec.value);
        r.raw(rec.headers);
        w.varint(static_cast<int32_t>(one.size()));
        w.raw(one);
    }
    write_int64_at(body, max_timestamp_at, max_timestamp);
    std::string batch;
    writer b(batch);
    b.int64(base_offset);
    b.int32(static_cast<int32_t>(body.size() + batch_format::k_attributes - batch_format::k_log_overhead));
    b.int32(h.leader_epoch);
    b.int8(2);
    b.uint32(crc32c(body.data(), body.size()));
    b.raw(body);
    return batch;
}

}  // namespace millrace::kafka
