// PostgreSQL backend: a session-level advisory lock on a connection of the
// lease's own. PostgreSQL releases it when that connection ends, which the
// kernel does when the holder dies (also on kill -9); a paused holder keeps it
// for as long as its TCP connection stays open.
#include <chrono>

#include <libpq-fe.h>

#include "backends.h"

namespace millrace::coordination {
namespace {

using steady = std::chrono::steady_clock;

// How long a confirmed lock is trusted before the next liveness query.
constexpr auto k_recheck = std::chrono::seconds(1);

class postgres_lease final : public lease {
public:
    postgres_lease(std::shared_ptr<lease_record> record, std::string dsn, std::string instance)
        : lease(std::move(record)), dsn_(std::move(dsn)), application_("millrace-lease:" + name() + "@" + instance) {}
    ~postgres_lease() override { close(); }

    result<bool> try_acquire() override {
        if (held_) {
            if (confirm()) return true;
        }
        if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
            close();
            const char* keys[] = {"dbname", "application_name", "connect_timeout", nullptr};
            const char* values[] = {dsn_.c_str(), application_.c_str(), "10", nullptr};
            conn_ = PQconnectdbParams(keys, values, 1);
            if (PQstatus(conn_) != CONNECTION_OK) {
                error err = make_error(errc::unavailable, "lease {}: PostgreSQL unavailable: {}", name(),
                                       trimmed(PQerrorMessage(conn_)));
                close();
                return err;
            }
        }
        const char* params[] = {key().c_str()};
        PGresult* res = PQexecParams(conn_, "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, nullptr, params,
                                     nullptr, nullptr, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
            error err = make_error(errc::unavailable, "lease {}: taking the advisory lock: {}", name(),
                                   trimmed(PQerrorMessage(conn_)));
            PQclear(res);
            close();
            return err;
        }
        bool locked = std::string_view(PQgetvalue(res, 0, 0)) == "t";
        PQclear(res);
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
        if (held_ && conn_ != nullptr) {
            const char* params[] = {key().c_str()};
            PQclear(PQexecParams(conn_, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1, nullptr, params, nullptr,
                                 nullptr, 0));
        }
        lose();
    }

private:
    const std::string& key() {
        if (key_.empty()) key_ = "millrace.lease:" + name();
        return key_;
    }

    static std::string trimmed(const char* text) {
        std::string out = text ? text : "";
        while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
        return out;
    }

    // A liveness query on the lock's connection: the lock lives as long as it.
    bool confirm() {
        auto started = steady::now();
        PGresult* res = conn_ ? PQexec(conn_, "SELECT 1") : nullptr;
        bool ok = res != nullptr && PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
        if (!ok) {
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
        const char* params[] = {pattern.c_str()};
        PGresult* res = PQexecParams(conn_,
                                     "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE $1 "
                                     "AND pid <> pg_backend_pid() ORDER BY backend_start LIMIT 1",
                                     1, nullptr, params, nullptr, nullptr, 0);
        std::string holder;
        if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) {
            std::string app = PQgetvalue(res, 0, 0);
            holder = app.substr(app.find('@') + 1);
        }
        PQclear(res);
        return holder;
    }

    void lose() {
        held_ = false;
        set_held(false);
    }

    void close() {
        if (conn_ != nullptr) PQfinish(conn_);
        conn_ = nullptr;
    }

    std::string dsn_;
    std::string application_;
    std::string key_;
    PGconn* conn_ = nullptr;
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
