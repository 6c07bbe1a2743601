// PostgreSQL backend: a session-level advisory lock on a connection of the
// lease's own. PostgreSQL releases it when that connection ends, which the
// kernel does when the holder dies (also on kill -9); a paused holder keeps it
// for as long as its TCP connection stays open.
#include <chrono>

#include "backends.h"
#include "millrace/pg_client/connection.h"

namespace millrace::coordination {
namespace {

using steady = std::chrono::steady_clock;

// How long a confirmed lock is trusted before the next liveness query.
constexpr auto k_recheck = std::chrono::seconds(1);

class postgres_lease final : public lease {
public:
    postgres_lease(std::shared_ptr<lease_record> record, std::string dsn, std::string instance)
        : lease(std::move(record)), application_("millrace-lease:" + name() + "@" + instance),
          conn_(pg::connect_options{.dsn = std::move(dsn), .application_name = application_,
                                    .connect_timeout = std::chrono::seconds(10)}) {}
    ~postgres_lease() override { close(); }

    result<bool> try_acquire() override {
        if (held_) {
            if (confirm()) return true;
        }
        if (!conn_.alive()) {
            if (auto st = conn_.connect(); !st) return st.err().with_context(fmt::format("lease {}", name()));
        }
        auto res = conn_.exec("SELECT pg_try_advisory_lock(hashtextextended($1, 0))", {key()});
        if (!res) {
            // Whatever failed, another try (on a new connection) may succeed.
            error err(errc::unavailable, fmt::format("lease {}: taking the advisory lock: {}", name(), res.err().message()));
            close();
            return err;
        }
        bool locked = res->boolean(0, 0);
        if (locked) {
            held_ = true;
            checked_ = steady::now();
            set_held(true);
            set_holder(application_.substr(application_.find('@') + 1));
            return true;
        }
        set_holder(find_holder());
        return false;
    }

    bool held() override {
        if (!held_) return false;
        if (steady::now() - checked_ < k_recheck) return true;
        return confirm();
    }

    void release() override {
        if (held_ && conn_.alive()) (void)conn_.run("SELECT pg_advisory_unlock(hashtextextended($1, 0))", {key()});
        lose();
    }

private:
    const std::string& key() {
        if (key_.empty()) key_ = "millrace.lease:" + name();
        return key_;
    }

    // A liveness query on the lock's connection: the lock lives as long as it.
    bool confirm() {
        auto started = steady::now();
        if (!conn_.alive() || !conn_.run("SELECT 1")) {
            lose();
            close();
            return false;
        }
        checked_ = started;
        return true;
    }

    // Another session's application name carries the holder's instance.
    std::string find_holder() {
        std::string pattern = "millrace-lease:" + name() + "@%";
        auto res = conn_.exec("SELECT application_name FROM pg_stat_activity WHERE application_name LIKE $1 "
                              "AND pid <> pg_backend_pid() ORDER BY backend_start LIMIT 1",
                              {pattern});
        std::string holder;
        if (res && res->size() > 0) {
            std::string app = res->str(0, 0);
            holder = app.substr(app.find('@') + 1);
        }
        return holder;
    }

    void lose() {
        held_ = false;
        set_held(false);
    }

    void close() { conn_.close(); }

    std::string application_;
    std::string key_;
    pg::connection conn_;
    bool held_ = false;
    steady::time_point checked_;
};

class postgres_coordinator final : public coordinator {
public:
    explicit postgres_coordinator(options o) : coordinator(std::move(o)) {}
    std::string backend() const override { return "postgres"; }

protected:
    std::unique_ptr<lease> make(std::shared_ptr<lease_record> record, const std::string& dsn) override {
        return std::make_unique<postgres_lease>(std::move(record), dsn, options_.instance);
    }
};

}  // namespace

result<std::unique_ptr<coordinator>> make_postgres_coordinator(options o) {
    return std::unique_ptr<coordinator>(std::make_unique<postgres_coordinator>(std::move(o)));
}

}  // namespace millrace::coordination
