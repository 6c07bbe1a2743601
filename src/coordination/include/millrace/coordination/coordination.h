// Leadership of named singletons among several millrace processes.
//
// Rationale: the CDC capture (one owner per replication slot) and the
// scheduler (one driver per metadata schema) must run in exactly one process
// even when several `millrace up` share the same PostgreSQL, Kafka and CQL.
// Both ask a `lease` whether they lead before each unit of work that has
// effects; whether the lease lives in PostgreSQL (a session advisory lock, the
// default) or in Apache ZooKeeper (an ephemeral sequential znode, when
// coordination.zookeeper is set) is this library's business alone.
//
// Fencing: a lease is trusted locally only for part of the time the service
// would need to notice this process is gone (ZooKeeper: 2/3 of the session
// timeout after the last confirmed round trip; PostgreSQL: a liveness query on
// the lock's connection at most every second). Past that, held() asks the
// service before it answers true, so a process paused past its session
// timeout (SIGSTOP, a long GC-like stall) learns it lost the lease before its
// next unit of work. The microseconds between held() and the work itself are
// not fenced; the parts keep their effects idempotent (upserts by key, slot
// positions that only move forward) for that window.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "millrace/common/config.h"
#include "millrace/common/result.h"

namespace millrace::coordination {

struct options {
    std::string zookeeper;            // connect string host:port[,host:port]; empty: PostgreSQL advisory locks
    std::string chroot = "/millrace"; // ZooKeeper path under which leases live
    int64_t session_timeout_ms = 10'000;
    std::string instance;             // who this process is, shown to the others as the holder
    // A singleton whose lease another process holds waits as a standby (true:
    // `millrace up`, or any process with ZooKeeper) instead of failing its start.
    bool standby = false;
};

// What /status shows of one lease.
struct lease_state {
    std::string name;
    bool held = false;
    std::string holder;  // the instance holding it as last seen; "" when unknown
};

struct lease_record;  // shared by a lease and its coordinator's list

// Leadership of one named singleton. Owned and called by one thread.
class lease {
public:
    virtual ~lease();
    lease(const lease&) = delete;
    lease& operator=(const lease&) = delete;

    // Takes the lease when it is free, or confirms this process still holds
    // it. true: this process leads; false: another one does (holder() names
    // it). An error means the coordination service could not be asked
    // (retryable); the lease is then not held.
    virtual result<bool> try_acquire() = 0;
    // Fencing check, before each unit of work with effects: true only while
    // the lease is certainly held (see the file comment). Cheap while the last
    // confirmation is recent; otherwise one round trip to the service.
    virtual bool held() = 0;
    // Gives the lease up (others may take it at once). Idempotent.
    virtual void release() = 0;

    const std::string& name() const;
    // The instance that held the lease when last asked; "" when unknown.
    std::string holder() const;

protected:
    explicit lease(std::shared_ptr<lease_record> record);
    void set_held(bool held);
    void set_holder(std::string holder);

    std::shared_ptr<lease_record> record_;
};

// One per process: makes the leases and lists them. Thread-safe.
class coordinator {
public:
    virtual ~coordinator();
    // "postgres" or "zookeeper".
    virtual std::string backend() const = 0;
    // A lease on `name` (letters, digits, '.', '_', '-'). `dsn` is the
    // PostgreSQL the advisory lock lives in; the ZooKeeper backend ignores it.
    std::unique_ptr<lease> make_lease(const std::string& name, const std::string& dsn);
    // Every lease made and not yet destroyed, in creation order.
    std::vector<lease_state> leases() const;
    const options& opts() const { return options_; }

protected:
    explicit coordinator(options o) : options_(std::move(o)) {}
    virtual std::unique_ptr<lease> make(std::shared_ptr<lease_record> record, const std::string& dsn) = 0;

    options options_;

private:
    mutable std::mutex mutex_;
    std::vector<std::weak_ptr<lease_record>> records_;
};

// The ZooKeeper backend when options.zookeeper is set, else PostgreSQL's.
// Nothing is contacted yet: the first try_acquire() connects.
result<std::unique_ptr<coordinator>> make_coordinator(options o);

// options from coordination.* (instance: this host's name and pid).
options options_from(const config::config& cfg);

// Declares coordination.zookeeper, coordination.chroot, coordination.session_timeout.
void add_options(config::schema& s);

}  // namespace millrace::coordination
