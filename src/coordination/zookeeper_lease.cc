// ZooKeeper backend: the election recipe of ephemeral sequential znodes.
// Each candidate creates <chroot>/leases/<name>/lease-NNNNNNNNNN (its data:
// the instance); the lowest sequence number leads. The znode lives as long as
// the process's session: a holder that dies or pauses past the session timeout
// loses it when the server expires the session, and the next candidate leads.
//
// One session (zhandle) per process, shared by its leases. Calls into the
// client are serialized under mutex_; the client's own threads touch only the
// connection state (state_mutex_), so a watcher never waits on a lease call.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstring>

#include <zookeeper/zookeeper.h>

#include "backends.h"
#include "millrace/common/log.h"

namespace millrace::coordination {
namespace {

using steady = std::chrono::steady_clock;

const log::logger k_log("coordination");

class zookeeper_coordinator;

class zookeeper_lease final : public lease {
public:
    zookeeper_lease(std::shared_ptr<lease_record> record, zookeeper_coordinator& owner)
        : lease(std::move(record)), owner_(owner) {}
    ~zookeeper_lease() override { release(); }

    result<bool> try_acquire() override;
    bool held() override;
    void release() override;

private:
    void lose() {
        held_ = false;
        set_held(false);
    }

    zookeeper_coordinator& owner_;
    std::string node_;         // our candidate znode; "" when none
    uint64_t generation_ = 0;  // the session node_ was created in
    bool held_ = false;
    steady::time_point valid_until_;  // held_ is trusted without asking until then
};

class zookeeper_coordinator final : public coordinator {
public:
    explicit zookeeper_coordinator(options o) : coordinator(std::move(o)) {}
    ~zookeeper_coordinator() override {
        if (zh_ != nullptr) zookeeper_close(zh_);
    }
    std::string backend() const override { return "zookeeper"; }

    // A connected session, (re)made when there is none or it expired.
    // REQUIRES: mutex_ held.
    result<zhandle_t*> session() {
        if (zh_ != nullptr && expired()) {
            k_log.warn("ZooKeeper session at {} expired; every lease of this process is lost, opening a new session",
                       options_.zookeeper);
            zookeeper_close(zh_);
            zh_ = nullptr;
        }
        if (zh_ == nullptr) {
            {
                std::lock_guard lock(state_mutex_);
                connected_ = false;
                expired_ = false;
            }
            zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
            // The client retries a refused connection every few ms and says so
            // each time: its lines go to our debug log; lease errors say the rest.
            zh_ = zookeeper_init2(options_.zookeeper.c_str(), &zookeeper_coordinator::watch,
                                  static_cast<int>(options_.session_timeout_ms), nullptr, this, 0,
                                  [](const char* message) { k_log.debug("ZooKeeper client: {}", message); });
            if (zh_ == nullptr) {
                return make_error(errc::invalid_argument,
                                  "coordination.zookeeper: cannot use '{}' as a ZooKeeper connect string ({})",
                                  options_.zookeeper, std::strerror(errno));
            }
            ++generation_;
        }
        std::unique_lock lock(state_mutex_);
        if (!state_changed_.wait_for(lock, std::chrono::milliseconds(options_.session_timeout_ms),
                                     [this] { return connected_ || expired_; }) ||
            !connected_) {
            return make_error(errc::unavailable, "ZooKeeper at {}: no session within {} ms (coordination.zookeeper)",
                              options_.zookeeper, options_.session_timeout_ms);
        }
        return zh_;
    }

    bool expired() {
        std::lock_guard lock(state_mutex_);
        return expired_;
    }
    void mark_expired() {
        std::lock_guard lock(state_mutex_);
        expired_ = true;
        connected_ = false;
    }
    uint64_t generation() const { return generation_; }
    // REQUIRES: mutex_ held and a lease of the current generation (so zh_ is set).
    zhandle_t* session_handle_unchecked() const { return zh_; }
    // The negotiated session timeout (the server may clamp the requested one).
    std::chrono::milliseconds timeout() const {
        int negotiated = zh_ != nullptr ? zoo_recv_timeout(zh_) : 0;
        return std::chrono::milliseconds(negotiated > 0 ? negotiated : options_.session_timeout_ms);
    }
    std::string lease_dir(const std::string& name) const { return options_.chroot + "/leases/" + name; }

    std::mutex mutex_;  // serializes lease calls into the client

protected:
    std::unique_ptr<lease> make(std::shared_ptr<lease_record> record, const std::string&) override {
        return std::make_unique<zookeeper_lease>(std::move(record), *this);
    }

private:
    static void watch(zhandle_t*, int type, int state, const char*, void* context) {
        if (type != ZOO_SESSION_EVENT) return;
        auto* self = static_cast<zookeeper_coordinator*>(context);
        {
            std::lock_guard lock(self->state_mutex_);
            if (state == ZOO_CONNECTED_STATE) {
                self->connected_ = true;
            } else if (state == ZOO_EXPIRED_SESSION_STATE || state == ZOO_AUTH_FAILED_STATE) {
                self->connected_ = false;
                self->expired_ = true;
            } else {
                self->connected_ = false;
            }
        }
        self->state_changed_.notify_all();
    }

    zhandle_t* zh_ = nullptr;
    uint64_t generation_ = 0;
    std::mutex state_mutex_;
    std::condition_variable state_changed_;
    bool connected_ = false;
    bool expired_ = false;
};

// Creates `path` and its parents as persistent znodes where missing.
int ensure_path(zhandle_t* zh, const std::string& path) {
    for (size_t slash = 1; slash <= path.size(); ++slash) {
        if (slash != path.size() && path[slash] != '/') continue;
        std::string prefix = path.substr(0, slash);
        int rc = zoo_create(zh, prefix.c_str(), nullptr, -1, &ZOO_OPEN_ACL_UNSAFE, 0, nullptr, 0);
        if (rc != ZOK && rc != ZNODEEXISTS) return rc;
    }
    return ZOK;
}

bool session_gone(int rc) { return rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE || rc == ZAUTHFAILED; }

result<bool> zookeeper_lease::try_acquire() {
    std::lock_guard lock(owner_.mutex_);
    auto zh = owner_.session();
    if (!zh) {
        lose();
        return zh.err().with_context("lease " + name());
    }
    if (!node_.empty() && generation_ != owner_.generation()) {
        node_.clear();  // went with the expired session
        lose();
    }
    const std::string dir = owner_.lease_dir(name());
    auto failed = [&](const char* what, int rc) -> error {
        if (session_gone(rc)) {
            owner_.mark_expired();
            node_.clear();
        }
        lose();
        return make_error(errc::unavailable, "lease {}: {} {} at ZooKeeper {}: {}", name(), what, dir,
                          owner_.opts().zookeeper, zerror(rc));
    };
    for (int attempt = 0; attempt < 2; ++attempt) {
        if (node_.empty()) {
            if (int rc = ensure_path(*zh, dir); rc != ZOK) return failed("creating", rc);
            const std::string& me = owner_.opts().instance;
            std::string prefix = dir + "/lease-";
            std::vector<char> created(prefix.size() + 32);
            int rc = zoo_create(*zh, prefix.c_str(), me.data(), static_cast<int>(me.size()), &ZOO_OPEN_ACL_UNSAFE,
                                ZOO_EPHEMERAL_SEQUENTIAL, created.data(), static_cast<int>(created.size()));
            if (rc != ZOK) return failed("joining the election in", rc);
            node_ = created.data();
            generation_ = owner_.generation();
        }
        auto asked = steady::now();
        String_vector children{};
        if (int rc = zoo_get_children(*zh, dir.c_str(), 0, &children); rc != ZOK) return failed("listing", rc);
        std::vector<std::string> names(children.data, children.data + children.count);
        deallocate_String_vector(&children);
        std::sort(names.begin(), names.end());  // lease-<10 digits>: text order is sequence order
        std::string own = node_.substr(dir.size() + 1);
        if (std::find(names.begin(), names.end(), own) == names.end()) {
            node_.clear();  // deleted under us (by hand?): join again
            lose();
            continue;
        }
        if (names.front() == own) {
            if (!held_) k_log.info("this instance ({}) now holds lease {} ({})", owner_.opts().instance, name(), node_);
            held_ = true;
            valid_until_ = asked + owner_.timeout() * 2 / 3;
            set_held(true);
            set_holder(owner_.opts().instance);
            return true;
        }
        lose();
        std::string leader = dir + "/" + names.front();
        std::vector<char> data(512);
        int length = static_cast<int>(data.size());
        if (zoo_get(*zh, leader.c_str(), 0, data.data(), &length, nullptr) == ZOK && length > 0) {
            set_holder(std::string(data.data(), static_cast<size_t>(length)));
        }
        return false;
    }
    return make_error(errc::unavailable, "lease {}: its candidate znode in {} keeps disappearing", name(), dir);
}

bool zookeeper_lease::held() {
    if (!held_) return false;
    std::lock_guard lock(owner_.mutex_);
    if (generation_ != owner_.generation() || owner_.expired()) {
        k_log.warn("lease {} lost: the ZooKeeper session ended", name());
        node_.clear();
        lose();
        return false;
    }
    auto now = steady::now();
    if (now < valid_until_) return true;
    // The server keeps the session at least a timeout after it heard from us;
    // a successful round trip started at `now` makes `now + 2/3 timeout` safe.
    int rc = zoo_exists(owner_.session_handle_unchecked(), node_.c_str(), 0, nullptr);
    if (rc == ZOK) {
        valid_until_ = now + owner_.timeout() * 2 / 3;
        return true;
    }
    k_log.warn("lease {} lost: confirming {} at ZooKeeper {}: {}", name(), node_, owner_.opts().zookeeper, zerror(rc));
    if (session_gone(rc)) {
        owner_.mark_expired();
        node_.clear();
    }
    lose();
    return false;
}

void zookeeper_lease::release() {
    std::lock_guard lock(owner_.mutex_);
    if (!node_.empty() && generation_ == owner_.generation() && !owner_.expired()) {
        (void)zoo_delete(owner_.session_handle_unchecked(), node_.c_str(), -1);
    }
    node_.clear();
    lose();
}

}  // namespace

result<std::unique_ptr<coordinator>> make_zookeeper_coordinator(options o) {
    return std::unique_ptr<coordinator>(std::make_unique<zookeeper_coordinator>(std::move(o)));
}

}  // namespace millrace::coordination
