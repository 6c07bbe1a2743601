#include "millrace/common/file_system.h"
#include "millrace/common/private_file.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

namespace millrace {
namespace {

error os_error(std::string_view what, const std::string& path, int err) {
    errc code = err == ENOENT ? errc::not_found : err == EEXIST ? errc::already_exists : errc::io_error;
    return make_error(code, "{} {}: {}", what, path, std::strerror(err));
}

std::string parent_of(const std::string& path) {
    auto slash = path.rfind('/');
    if (slash == std::string::npos) return ".";
    if (slash == 0) return "/";
    return path.substr(0, slash);
}

// ---- disk ----

class disk_file final : public file {
public:
    disk_file(int fd, std::string path, uint64_t size) : fd_(fd), path_(std::move(path)), size_(size) {}
    ~disk_file() override { ::close(fd_); }

    status read_at(uint64_t offset, size_t length, std::string& out) const override {
        out.resize(length);
        size_t done = 0;
        while (done < length) {
            ssize_t n = ::pread(fd_, out.data() + done, length - done, static_cast<off_t>(offset + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                return os_error("read", path_, errno);
            }
            if (n == 0) break;
            done += static_cast<size_t>(n);
        }
        out.resize(done);
        return {};
    }

    status append(std::string_view data) override {
        size_t done = 0;
        while (done < data.size()) {
            ssize_t n = ::pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(size_ + done));
            if (n < 0) {
                if (errno == EINTR) continue;
                // Keep the size we know reached the file; the caller decides to truncate.
                size_ += done;
                return os_error("write", path_, errno);
            }
            done += static_cast<size_t>(n);
        }
        size_ += done;
        return {};
    }

    status sync() override {
        if (::fdatasync(fd_) != 0) return os_error("fsync", path_, errno);
        return {};
    }

    status truncate(uint64_t size) override {
        if (::ftruncate(fd_, static_cast<off_t>(size)) != 0) return os_error("truncate", path_, errno);
        size_ = size;
        return {};
    }

    uint64_t size() const override { return size_; }
    int native_handle() const override { return fd_; }

private:
    int fd_;
    std::string path_;
    uint64_t size_;
};

class disk_file_system final : public file_system {
public:
    result<std::unique_ptr<file>> open(const std::string& path, open_mode mode) override {
        int flags = mode == open_mode::read_only ? O_RDONLY : (O_RDWR | O_CREAT);
        int fd = ::open(path.c_str(), flags | O_CLOEXEC, 0644);
        if (fd < 0) return os_error("open", path, errno);
        struct stat st{};
        if (::fstat(fd, &st) != 0) {
            int err = errno;
            ::close(fd);
            return os_error("stat", path, err);
        }
        return std::unique_ptr<file>(std::make_unique<disk_file>(fd, path, static_cast<uint64_t>(st.st_size)));
    }

    bool exists(const std::string& path) override { return ::access(path.c_str(), F_OK) == 0; }

    status create_directories(const std::string& path) override {
        std::error_code ec;
        std::filesystem::create_directories(path, ec);
        if (ec) return make_error(errc::io_error, "create directory {}: {}", path, ec.message());
        return {};
    }

    result<std::vector<std::string>> list(const std::string& dir) override {
        std::error_code ec;
        std::vector<std::string> names;
        for (auto it = std::filesystem::directory_iterator(dir, ec); !ec && it != std::filesystem::directory_iterator();
             it.increment(ec)) {
            names.push_back(it->path().filename().string());
        }
        if (ec) {
            return make_error(ec == std::errc::no_such_file_or_directory ? errc::not_found : errc::io_error,
                              "list {}: {}", dir, ec.message());
        }
        std::sort(names.begin(), names.end());
        return names;
    }

    status remove(const std::string& path) override {
        if (::unlink(path.c_str()) != 0) return os_error("remove", path, errno);
        return {};
    }

    status remove_all(const std::string& path) override {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
        if (ec) return make_error(errc::io_error, "remove {}: {}", path, ec.message());
        return {};
    }

    status rename(const std::string& from, const std::string& to) override {
        if (::rename(from.c_str(), to.c_str()) != 0) return os_error("rename " + from + " to", to, errno);
        return {};
    }

    status sync_dir(const std::string& dir) override {
        int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) return os_error("open directory", dir, errno);
        int rc = ::fsync(fd);
        int err = errno;
        ::close(fd);
        if (rc != 0) return os_error("fsync directory", dir, err);
        return {};
    }
};

}  // namespace

file_system& file_system::disk() {
    static disk_file_system instance;
    return instance;
}

status write_file_atomic(file_system& fs, const std::string& path, std::string_view data) {
    std::string temp = path + ".tmp";
    {
        auto f = fs.open(temp, open_mode::read_write);
        if (!f) return f.err();
        if (auto st = (*f)->truncate(0); !st) return st;
        if (auto st = (*f)->append(data); !st) return st;
        if (auto st = (*f)->sync(); !st) return st;
    }
    if (auto st = fs.rename(temp, path); !st) return st;
    return fs.sync_dir(parent_of(path));
}

result<std::string> read_file(file_system& fs, const std::string& path) {
    auto f = fs.open(path, open_mode::read_only);
    if (!f) return f.err();
    std::string out;
    if (auto st = (*f)->read_at(0, (*f)->size(), out); !st) return st.err();
    return out;
}

// ---- memory ----

class memory_file final : public file {
public:
    explicit memory_file(std::shared_ptr<memory_file_system::node> n, std::mutex& m) : node_(std::move(n)), mutex_(m) {}

    status read_at(uint64_t offset, size_t length, std::string& out) const override {
        std::lock_guard lock(mutex_);
        if (offset >= node_->data.size()) {
            out.clear();
        } else {
            out = node_->data.substr(offset, length);
        }
        return {};
    }
    status append(std::string_view data) override {
        std::lock_guard lock(mutex_);
        node_->data.append(data);
        return {};
    }
    status sync() override {
        std::lock_guard lock(mutex_);
        node_->synced = node_->data.size();
        node_->durable = true;
        return {};
    }
    status truncate(uint64_t size) override {
        std::lock_guard lock(mutex_);
        node_->data.resize(size);
        node_->synced = std::min<size_t>(node_->synced, size);
        return {};
    }
    uint64_t size() const override {
        std::lock_guard lock(mutex_);
        return node_->data.size();
    }

private:
    std::shared_ptr<memory_file_system::node> node_;
    std::mutex& mutex_;
};

result<std::unique_ptr<file>> memory_file_system::open(const std::string& path, open_mode mode) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(path);
    if (it == files_.end()) {
        if (mode == open_mode::read_only) return make_error(errc::not_found, "open {}: No such file or directory", path);
        if (!dirs_.contains(parent_of(path))) return make_error(errc::not_found, "open {}: No such file or directory", path);
        it = files_.emplace(path, std::make_shared<node>()).first;
    }
    return std::unique_ptr<file>(std::make_unique<memory_file>(it->second, mutex_));
}

bool memory_file_system::exists(const std::string& path) {
    std::lock_guard lock(mutex_);
    return files_.contains(path) || dirs_.contains(path);
}

status memory_file_system::create_directories(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::string current = path;
    while (!current.empty() && current != "." && current != "/") {
        dirs_[current] = true;
        current = parent_of(current);
    }
    return {};
}

result<std::vector<std::string>> memory_file_system::list(const std::string& dir) {
    std::lock_guard lock(mutex_);
    if (!dirs_.contains(dir)) return make_error(errc::not_found, "list {}: No such file or directory", dir);
    std::vector<std::string> names;
    std::string prefix = dir + "/";
    auto add = [&](const std::string& path) {
        if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) {
            names.push_back(path.substr(prefix.size()));
        }
    };
    for (const auto& [path, n] : files_) add(path);
    for (const auto& [path, d] : dirs_) add(path);
    std::sort(names.begin(), names.end());
    return names;
}

status memory_file_system::remove(const std::string& path) {
    std::lock_guard lock(mutex_);
    if (files_.erase(path) == 0) return make_error(errc::not_found, "remove {}: No such file or directory", path);
    return {};
}

status memory_file_system::remove_all(const std::string& path) {
    std::lock_guard lock(mutex_);
    std::string prefix = path + "/";
    std::erase_if(files_, [&](const auto& entry) { return entry.first == path || entry.first.rfind(prefix, 0) == 0; });
    std::erase_if(dirs_, [&](const auto& entry) { return entry.first == path || entry.first.rfind(prefix, 0) == 0; });
    return {};
}

status memory_file_system::rename(const std::string& from, const std::string& to) {
    std::lock_guard lock(mutex_);
    auto it = files_.find(from);
    if (it == files_.end()) return make_error(errc::not_found, "rename {}: No such file or directory", from);
    auto n = it->second;
    files_.erase(it);
    files_[to] = n;
    return {};
}

status memory_file_system::sync_dir(const std::string& dir) {
    std::lock_guard lock(mutex_);
    std::string prefix = dir + "/";
    for (auto& [path, n] : files_) {
        if (path.rfind(prefix, 0) == 0 && path.find('/', prefix.size()) == std::string::npos) n->durable = true;
    }
    return {};
}

void memory_file_system::simulate_crash() {
    std::lock_guard lock(mutex_);
    std::erase_if(files_, [](const auto& entry) { return !entry.second->durable; });
    for (auto& [path, n] : files_) n->data.resize(n->synced);
}

// ---- fault injection ----

namespace {

class faulty_file final : public file {
public:
    faulty_file(std::unique_ptr<file> base, fault_injection_file_system& fs) : base_(std::move(base)), fs_(fs) {}

    status read_at(uint64_t offset, size_t length, std::string& out) const override {
        return base_->read_at(offset, length, out);
    }
    status append(std::string_view data) override {
        size_t tear = fs_.take_tear();
        if (tear != SIZE_MAX) {
            if (auto st = base_->append(data.substr(0, std::min(tear, data.size()))); !st) return st;
            return make_error(errc::io_error, "write: No space left on device (injected torn write)");
        }
        if (auto fault = fs_.take_fault(fault_injection_file_system::op::append)) return *fault;
        return base_->append(data);
    }
    status sync() override {
        if (auto fault = fs_.take_fault(fault_injection_file_system::op::sync)) return *fault;
        return base_->sync();
    }
    status truncate(uint64_t size) override {
        if (auto fault = fs_.take_fault(fault_injection_file_system::op::truncate)) return *fault;
        return base_->truncate(size);
    }
    uint64_t size() const override { return base_->size(); }
    int native_handle() const override { return base_->native_handle(); }

private:
    std::unique_ptr<file> base_;
    fault_injection_file_system& fs_;
};

}  // namespace

void fault_injection_file_system::fail(op which, error err, int count, int skip) {
    std::lock_guard lock(mutex_);
    faults_.insert_or_assign(which, fault{std::move(err), count, skip});
}

void fault_injection_file_system::tear_next_append(size_t bytes) {
    std::lock_guard lock(mutex_);
    tear_bytes_ = bytes;
}

void fault_injection_file_system::clear() {
    std::lock_guard lock(mutex_);
    faults_.clear();
    tear_bytes_ = SIZE_MAX;
}

std::unique_ptr<error> fault_injection_file_system::take_fault(op which) {
    std::lock_guard lock(mutex_);
    auto it = faults_.find(which);
    if (it == faults_.end()) return nullptr;
    if (it->second.skip > 0) {
        --it->second.skip;
        return nullptr;
    }
    auto err = std::make_unique<error>(it->second.err);
    if (--it->second.count <= 0) faults_.erase(it);
    return err;
}

size_t fault_injection_file_system::take_tear() {
    std::lock_guard lock(mutex_);
    return std::exchange(tear_bytes_, SIZE_MAX);
}

result<std::unique_ptr<file>> fault_injection_file_system::open(const std::string& path, open_mode mode) {
    if (auto fault = take_fault(op::open)) return *fault;
    auto f = base_.open(path, mode);
    if (!f) return f.err();
    return std::unique_ptr<file>(std::make_unique<faulty_file>(std::move(*f), *this));
}

status fault_injection_file_system::remove(const std::string& path) {
    if (auto fault = take_fault(op::remove)) return *fault;
    return base_.remove(path);
}

status fault_injection_file_system::rename(const std::string& from, const std::string& to) {
    if (auto fault = take_fault(op::rename)) return *fault;
    return base_.rename(from, to);
}

status fault_injection_file_system::sync_dir(const std::string& dir) {
    if (auto fault = take_fault(op::sync_dir)) return *fault;
    return base_.sync_dir(dir);
}

status write_private(file_system& fs, const std::string& path, std::string_view data) {
    if (&fs != &file_system::disk()) return write_file_atomic(fs, path, data);
    if (auto st = write_private_file(path, data); !st) return st;
    return fs.sync_dir(parent_of(path));
}

result<std::string> read_private_file(const std::string& path, size_t max_bytes) {
    int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        if (err == ENOENT) return make_error(errc::not_found, "{} does not exist", path);
        if (err == ELOOP) return make_error(errc::io_error, "cannot read {}: it is a symbolic link (not followed)", path);
        return make_error(errc::io_error, "cannot read {}: {}", path, std::strerror(err));
    }
    struct closer {
        int fd;
        ~closer() { ::close(fd); }
    } close_fd{fd};
    struct stat st {};
    if (::fstat(fd, &st) != 0) return make_error(errc::io_error, "cannot stat {}: {}", path, std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return make_error(errc::io_error, "cannot read {}: not a regular file", path);
    std::string text;
    char buf[4096];
    for (;;) {
        ssize_t n = ::read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return make_error(errc::io_error, "cannot read {}: {}", path, std::strerror(errno));
        if (n == 0) break;
        text.append(buf, static_cast<size_t>(n));
        if (text.size() > max_bytes) {
            return make_error(errc::io_error, "cannot read {}: larger than {} bytes", path, max_bytes);
        }
    }
    return text;
}

status write_private_file(const std::string& path, std::string_view text, const std::optional<file_owner>& owner) {
    static const char k_hex[] = "0123456789abcdef";
    std::string tmp;
    int fd = -1;
    for (int attempt = 0; attempt < 100 && fd < 0; ++attempt) {
        unsigned char random[8];
        if (::getrandom(random, sizeof random, 0) != static_cast<ssize_t>(sizeof random)) {
            return make_error(errc::io_error, "no randomness for a temp name beside {}: {}", path, std::strerror(errno));
        }
        tmp = path + ".tmp.";
        for (unsigned char byte : random) {
            tmp.push_back(k_hex[byte >> 4]);
            tmp.push_back(k_hex[byte & 15]);
        }
        fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) return make_error(errc::io_error, "cannot create {}: {}", tmp, std::strerror(errno));
    auto fail = [&](const char* what) {
        std::string message = fmt::format("cannot {} {}: {}", what, tmp, std::strerror(errno));
        if (fd >= 0) ::close(fd);
        ::unlink(tmp.c_str());
        return make_error(errc::io_error, "{}", message);
    };
    if (owner && ::fchown(fd, owner->uid, owner->gid) != 0) return fail("chown");
    if (::fchmod(fd, 0600) != 0) return fail("chmod");
    size_t done = 0;
    while (done < text.size()) {
        ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n <= 0) return fail("write");
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0) return fail("fsync");
    int closing = fd;
    fd = -1;
    if (::close(closing) != 0) return fail("close");
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string message = fmt::format("cannot rename {} to {}: {}", tmp, path, std::strerror(errno));
        ::unlink(tmp.c_str());
        return make_error(errc::io_error, "{}", message);
    }
    return {};
}

}  // namespace millrace
