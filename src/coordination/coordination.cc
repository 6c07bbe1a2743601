#include "millrace/coordination/coordination.h"

#include <unistd.h>

#include <fmt/format.h>

#include "backends.h"

namespace millrace::coordination {

struct lease_record {
    std::string name;
    mutable std::mutex mutex;
    bool held = false;
    std::string holder;
};

lease::lease(std::shared_ptr<lease_record> record) : record_(std::move(record)) {}
lease::~lease() = default;

const std::string& lease::name() const { return record_->name; }

std::string lease::holder() const {
    std::lock_guard lock(record_->mutex);
    return record_->holder;
}

void lease::set_held(bool held) {
    std::lock_guard lock(record_->mutex);
    record_->held = held;
}

void lease::set_holder(std::string holder) {
    std::lock_guard lock(record_->mutex);
    record_->holder = std::move(holder);
}

coordinator::~coordinator() = default;

std::unique_ptr<lease> coordinator::make_lease(const std::string& name, const std::string& dsn) {
    auto record = std::make_shared<lease_record>();
    record->name = name;
    {
        std::lock_guard lock(mutex_);
        std::erase_if(records_, [](const auto& r) { return r.expired(); });
        records_.push_back(record);
    }
    return make(std::move(record), dsn);
}

std::vector<lease_state> coordinator::leases() const {
    std::vector<lease_state> out;
    std::lock_guard lock(mutex_);
    for (const auto& weak : records_) {
        auto record = weak.lock();
        if (!record) continue;
        std::lock_guard record_lock(record->mutex);
        out.push_back({record->name, record->held, record->holder});
    }
    return out;
}

namespace {

bool valid_name(const std::string& name) {
    if (name.empty()) return false;
    for (char c : name) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                  c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace

result<std::unique_ptr<coordinator>> make_coordinator(options o) {
    if (o.zookeeper.empty()) return make_postgres_coordinator(std::move(o));
    if (o.chroot.empty() || o.chroot[0] != '/' || (o.chroot.size() > 1 && o.chroot.back() == '/')) {
        return make_error(errc::invalid_argument,
                          "coordination.chroot: '{}' is not an absolute ZooKeeper path (like /millrace, no trailing /)",
                          o.chroot);
    }
    for (size_t start = 1; start < o.chroot.size();) {
        size_t end = o.chroot.find('/', start);
        if (end == std::string::npos) end = o.chroot.size();
        if (!valid_name(o.chroot.substr(start, end - start))) {
            return make_error(errc::invalid_argument,
                              "coordination.chroot: '{}' has an empty or unusual path element (letters, digits, . _ -)",
                              o.chroot);
        }
        start = end + 1;
    }
    return make_zookeeper_coordinator(std::move(o));
}

bool lease_name_ok(const std::string& name) { return valid_name(name); }

options options_from(const config::config& cfg) {
    options o;
    if (cfg.has("coordination.zookeeper")) o.zookeeper = cfg.get_string("coordination.zookeeper");
    if (cfg.has("coordination.chroot")) o.chroot = cfg.get_string("coordination.chroot");
    if (cfg.has("coordination.session_timeout")) o.session_timeout_ms = cfg.get_int("coordination.session_timeout");
    o.standby = !o.zookeeper.empty();
    char host[256] = {};
    if (::gethostname(host, sizeof host - 1) != 0) host[0] = '\0';
    o.instance = fmt::format("{}:{}", host[0] ? host : "localhost", ::getpid());
    return o;
}

void add_options(config::schema& s) {
    s.describe_section("coordination",
                       "Which process runs the singletons (CDC, the scheduler) when several millrace processes share "
                       "one PostgreSQL, Kafka and CQL; see docs/ha.md.");
    s.add({"coordination.zookeeper", config::value_kind::string, "",
           "Apache ZooKeeper connect string host:port[,host:port...]; empty elects through PostgreSQL advisory locks "
           "on postgres.dsn (the default)."});
    s.add({"coordination.chroot", config::value_kind::string, "/millrace",
           "ZooKeeper path under which the leases live (created when missing); instances that must elect among "
           "themselves use the same one."});
    s.add({"coordination.session_timeout", config::value_kind::duration_ms, "10s",
           "ZooKeeper session timeout: a leader that stops answering loses its leases after this long and another "
           "instance takes over (the server may clamp it to 2..20 ticks).",
           {}, 1000, 600'000});
}

}  // namespace millrace::coordination
