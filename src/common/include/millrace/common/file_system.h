// File access behind a seam (after LevelDB's Env): a disk implementation, an
// in-memory one that can simulate a crash (unsynced bytes are lost), and a
// forwarding wrapper that fails chosen calls, so that every durable structure
// can be tested against torn writes, full disks and crashes.
//
// Errors carry the path and the OS reason; `errc::io_error` is retryable,
// `errc::corruption` is not.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <sys/types.h>
#include <string_view>
#include <vector>

#include "millrace/common/result.h"

namespace millrace {

// An open file. Not thread-safe for writes; concurrent read_at calls are safe.
class file {
public:
    virtual ~file() = default;
    // Reads up to `length` bytes at `offset` into `out` (resized to what was read;
    // shorter only at end of file).
    virtual status read_at(uint64_t offset, size_t length, std::string& out) const = 0;
    virtual status append(std::string_view data) = 0;
    // Makes everything appended so far durable.
    virtual status sync() = 0;
    virtual status truncate(uint64_t size) = 0;
    virtual uint64_t size() const = 0;
    // The OS descriptor for zero-copy sends, or -1 when the file is not on disk.
    virtual int native_handle() const { return -1; }
};

enum class open_mode {
    read_only,     // fails with not_found when missing
    read_write,    // creates when missing; appends go to the end
};

class file_system {
public:
    virtual ~file_system() = default;
    virtual result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) = 0;
    virtual bool exists(const std::string& path) = 0;
    virtual status create_directories(const std::string& path) = 0;
    // Names (not paths) of the entries of `dir`, sorted.
    virtual result<std::vector<std::string>> list(const std::string& dir) = 0;
    virtual status remove(const std::string& path) = 0;
    virtual status remove_all(const std::string& path) = 0;
    // Atomically replaces `to` with `from`.
    virtual status rename(const std::string& from, const std::string& to) = 0;
    // Makes the directory's entries (creations, renames, removals) durable.
    virtual status sync_dir(const std::string& dir) = 0;

    // The real file system.
    static file_system& disk();
};

// Writes `data` to `path` durably: temp file, sync, rename, sync directory.
status write_file_atomic(file_system& fs, const std::string& path, std::string_view data);
result<std::string> read_file(file_system& fs, const std::string& path);

// The owner write_private_file gives its file (chown), when not the process's own.
struct file_owner {
    uid_t uid = 0;
    gid_t gid = 0;
};
// Writes `text` to `path` with mode 0600 (whatever the umask; owned by `owner`
// when given), atomically: a fresh temp file in the same directory
// (O_EXCL|O_NOFOLLOW: a symlink planted there is never followed), fsync, then
// rename() over `path` (which replaces a symlink itself, never its target).
// For secrets: keys, password files. Errors name the file and the step.
status write_private_file(const std::string& path, std::string_view text, const std::optional<file_owner>& owner = {});

// Files in memory. `simulate_crash()` drops every byte not yet synced and every
// file whose creation was never made durable, as a power loss would.
class memory_file_system final : public file_system {
public:
    result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
    bool exists(const std::string& path) override;
    status create_directories(const std::string& path) override;
    result<std::vector<std::string>> list(const std::string& dir) override;
    status remove(const std::string& path) override;
    status remove_all(const std::string& path) override;
    status rename(const std::string& from, const std::string& to) override;
    status sync_dir(const std::string& dir) override;

    void simulate_crash();

    struct node {
        std::string data;
        size_t synced = 0;        // bytes of `data` that survive a crash
        bool durable = false;     // the directory entry survives a crash
    };

private:
    friend class memory_file;
    std::mutex mutex_;
    std::map<std::string, std::shared_ptr<node>> files_;
    std::map<std::string, bool> dirs_;
};

// Forwards to another file system and fails chosen operations on demand.
class fault_injection_file_system final : public file_system {
public:
    enum class op { open, append, sync, truncate, rename, remove, sync_dir };

    explicit fault_injection_file_system(file_system& base) : base_(base) {}

    // The next `count` calls of `which` (after `skip` successful ones) fail with `err`.
    void fail(op which, error err, int count = 1, int skip = 0);
    // Appends write only the first `bytes` bytes of the next append, then fail
    // (a torn write, as on a full disk).
    void tear_next_append(size_t bytes);
    void clear();

    result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override;
    bool exists(const std::string& path) override { return base_.exists(path); }
    status create_directories(const std::string& path) override { return base_.create_directories(path); }
    result<std::vector<std::string>> list(const std::string& dir) override { return base_.list(dir); }
    status remove(const std::string& path) override;
    status remove_all(const std::string& path) override { return base_.remove_all(path); }
    status rename(const std::string& from, const std::string& to) override;
    status sync_dir(const std::string& dir) override;

    // Used by the wrapped files: returns the error to inject for `which`, if any.
    std::unique_ptr<error> take_fault(op which);
    size_t take_tear();

private:
    struct fault {
        error err;
        int count;
        int skip;
    };
    file_system& base_;
    std::mutex mutex_;
    std::map<op, fault> faults_;
    size_t tear_bytes_ = SIZE_MAX;
};

}  // namespace millrace
