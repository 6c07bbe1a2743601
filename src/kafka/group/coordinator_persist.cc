// group_coordinator's persisted membership: encode, write when changed, load.
// The byte layout is in group_state_format.h.
#include "group/classic_group.h"
#include "group/coordinator.h"
#include "group/group_state_format.h"
#include "protocol/record_batch.h"
#include "protocol/wire.h"

namespace millrace::kafka {
namespace {

namespace fmt_ = group_state_format;

void put_map(writer& w, const partition_map& map) {
    w.int32(static_cast<int32_t>(map.size()));
    for (const auto& [topic, parts] : map) {
        w.write_uuid(topic);
        w.int32(static_cast<int32_t>(parts.size()));
        for (int32_t p : parts) w.int32(p);
    }
}

partition_map get_map(reader& r) {
    partition_map out;
    for (int32_t topics = r.int32(); topics > 0; --topics) {
        auto& parts = out[r.read_uuid()];
        for (int32_t count = r.int32(); count > 0; --count) parts.insert(r.int32());
    }
    return out;
}

// A count read from the file, bounded by what is left (each element takes at least one byte).
int32_t get_count(reader& r) {
    int32_t n = r.int32();
    if (n < 0 || static_cast<size_t>(n) > r.remaining()) {
        throw protocol_error(fmt::format("count {} at offset {} exceeds the {} bytes left", n, r.position(), r.remaining()));
    }
    return n;
}

}  // namespace

std::string group_coordinator::encode_group_state() const {
    std::string payload;
    writer w(payload);
    w.int32(static_cast<int32_t>(consumer_groups_.size()));
    for (const auto& [id, g] : consumer_groups_) {
        w.string(id, false);
        w.int32(g->group_epoch);
        w.int32(g->assignment_epoch);
        w.string(g->assignor, false);
        w.int32(static_cast<int32_t>(g->subscribed_topics.size()));
        for (const auto& [name, info] : g->subscribed_topics) {
            w.string(name, false);
            w.write_uuid(info.id);
            w.int32(info.partitions);
        }
        w.int32(static_cast<int32_t>(g->members.size()));
        for (const auto& [member_id, m] : g->members) {
            w.string(member_id, false);
            w.nullable_string(m.instance_id, false);
            w.nullable_string(m.rack_id, false);
            w.string(m.client_id, false);
            w.string(m.client_host, false);
            w.int32(m.rebalance_timeout_ms);
            w.int32(static_cast<int32_t>(m.subscribed_names.size()));
            for (const auto& name : m.subscribed_names) w.string(name, false);
            w.nullable_string(m.subscribed_regex, false);
            w.nullable_string(m.server_assignor, false);
            w.int32(m.member_epoch);
            w.int32(m.previous_member_epoch);
            w.int8(static_cast<int8_t>(m.state));
            put_map(w, m.assigned);
            put_map(w, m.pending_revocation);
            auto target = g->target.find(member_id);
            put_map(w, target == g->target.end() ? partition_map{} : target->second);
        }
    }
    int32_t stable = 0;
    for (const auto& [id, g] : groups_) stable += g->state == group_state::stable ? 1 : 0;
    w.int32(stable);
    for (const auto& [id, g] : groups_) {
        if (g->state != group_state::stable) continue;
        w.string(id, false);
        w.int32(g->generation);
        w.nullable_string(g->protocol_type, false);
        w.nullable_string(g->protocol_name, false);
        w.string(g->leader, false);
        auto ordered = g->ordered_members();
        w.int32(static_cast<int32_t>(ordered.size()));
        for (const classic_member* m : ordered) {
            w.string(m->id, false);
            w.nullable_string(m->instance_id, false);
            w.string(m->client_id, false);
            w.string(m->client_host, false);
            w.int32(m->session_timeout_ms);
            w.int32(m->rebalance_timeout_ms);
            w.string(m->protocol_type, false);
            w.int32(static_cast<int32_t>(m->protocols.size()));
            for (const auto& p : m->protocols) {
                w.string(p.name, false);
                w.bytes(p.metadata, false);
            }
            w.bytes(m->assignment, false);
        }
    }
    std::string out;
    writer header(out);
    header.uint32(0);
    header.int32(static_cast<int32_t>(payload.size()));
    header.int16(fmt_::k_version);
    out += payload;
    uint32_t crc = crc32c(out.data() + 4, out.size() - 4);
    header.patch_int32(0, static_cast<int32_t>(crc));
    return out;
}

void group_coordinator::persist_group_state() {
    std::string state = encode_group_state();
    if (state == persisted_state_) return;
    auto st = write_file_atomic(fs_, dir_ + "/" + std::string(fmt_::k_file_name), state);
    if (!st) {
        // Retried at the next tick; the offsets are unaffected.
        log_.warn("writing the group state ({} bytes) failed: {}", state.size(), st.err().message());
        return;
    }
    persisted_state_ = std::move(state);
}

status group_coordinator::load_group_state() {
    std::string path = dir_ + "/" + std::string(fmt_::k_file_name);
    if (!fs_.exists(path)) return {};
    auto data = read_file(fs_, path);
    if (!data) return data.err();
    const std::string& bytes = *data;
    if (bytes.size() < fmt_::k_header_size) {
        return make_error(errc::corruption, "{}: {} bytes, shorter than the {}-byte header", path, bytes.size(),
                          fmt_::k_header_size);
    }
    reader header(std::string_view(bytes).substr(0, fmt_::k_header_size));
    uint32_t crc = header.uint32();
    int32_t length = header.int32();
    int16_t version = header.int16();
    if (length < 0 || static_cast<size_t>(length) != bytes.size() - fmt_::k_header_size) {
        return make_error(errc::corruption, "{}: header says {} payload bytes, the file has {}", path, length,
                          bytes.size() - fmt_::k_header_size);
    }
    uint32_t actual = crc32c(bytes.data() + 4, bytes.size() - 4);
    if (actual != crc) {
        return make_error(errc::corruption, "{}: checksum {:08x}, expected {:08x}", path, actual, crc);
    }
    if (version != fmt_::k_version) {
        return make_error(errc::corruption, "{}: version {} (this build reads {})", path, version, fmt_::k_version);
    }
    auto now = clock_.mono_now();
    try {
        reader r(std::string_view(bytes).substr(fmt_::k_header_size));
        for (int32_t groups = get_count(r); groups > 0; --groups) {
            auto g = std::make_unique<consumer_group>(r.string(false));
            g->group_epoch = r.int32();
            g->assignment_epoch = r.int32();
            g->assignor = r.string(false);
            for (int32_t topics = get_count(r); topics > 0; --topics) {
                std::string name = r.string(false);
                topic_info info;
                info.id = r.read_uuid();
                info.partitions = r.int32();
                g->subscribed_topics.emplace(std::move(name), info);
            }
            for (int32_t members = get_count(r); members > 0; --members) {
                consumer_member m;
                m.id = r.string(false);
                m.instance_id = r.nullable_string(false);
                m.rack_id = r.nullable_string(false);
                m.client_id = r.string(false);
                m.client_host = r.string(false);
                m.rebalance_timeout_ms = r.int32();
                for (int32_t names = get_count(r); names > 0; --names) m.subscribed_names.push_back(r.string(false));
                m.subscribed_regex = r.nullable_string(false);
                m.server_assignor = r.nullable_string(false);
                m.member_epoch = r.int32();
                m.previous_member_epoch = r.int32();
                int8_t state = r.int8();
                if (state < 0 || state > static_cast<int8_t>(member_state::unreleased_partitions)) {
                    throw protocol_error(fmt::format("member {} has state {}", m.id, state));
                }
                m.state = static_cast<member_state>(state);
                m.assigned = get_map(r);
                m.pending_revocation = get_map(r);
                g->target[m.id] = get_map(r);
                // A full session (and rebalance timeout) from now.
                m.session_deadline = now + std::chrono::milliseconds(settings_.consumer_session_timeout_ms);
                if (m.state == member_state::unrevoked_partitions) {
                    m.revocation_deadline = now + std::chrono::milliseconds(m.rebalance_timeout_ms);
                }
                if (m.instance_id) g->static_members[*m.instance_id] = m.id;
                g->members.emplace(m.id, std::move(m));
            }
            std::string id = g->id;
            consumer_groups_.emplace(std::move(id), std::move(g));
        }
        for (int32_t groups = get_count(r); groups > 0; --groups) {
            std::string id = r.string(false);
            classic_group& g = create_group(id);
            g.generation = r.int32();
            g.protocol_type = r.nullable_string(false);
            g.protocol_name = r.nullable_string(false);
            g.leader = r.string(false);
            for (int32_t members = get_count(r); members > 0; --members) {
                classic_member m;
                m.id = r.string(false);
                m.instance_id = r.nullable_string(false);
                m.client_id = r.string(false);
                m.client_host = r.string(false);
                m.session_timeout_ms = r.int32();
                m.rebalance_timeout_ms = r.int32();
                m.protocol_type = r.string(false);
                for (int32_t protocols = get_count(r); protocols > 0; --protocols) {
                    group_protocol p;
                    p.name = r.string(false);
                    p.metadata = std::string(r.bytes(false));
                    m.protocols.push_back(std::move(p));
                }
                m.assignment = std::string(r.bytes(false));
                m.join_order = next_join_order_++;
                m.is_new = false;
                m.heartbeat_deadline = now + std::chrono::milliseconds(m.session_timeout_ms);
                if (m.instance_id) g.static_members[*m.instance_id] = m.id;
                g.members.emplace(m.id, std::move(m));
                members_gauge_.add(1);
            }
            g.subscribed_topics = g.compute_subscribed_topics();
            set_state(g, g.members.empty() ? group_state::empty : group_state::stable);
        }
        if (r.remaining() != 0) throw protocol_error(fmt::format("{} bytes after the last group", r.remaining()));
    } catch (const protocol_error& e) {
        return make_error(errc::corruption, "{}: {}", path, e.what());
    }
    persisted_state_ = bytes;
    log_.info("group state loaded: {} consumer groups, {} classic groups", consumer_groups_.size(), groups_.size());
    return {};
}

}  // namespace millrace::kafka
