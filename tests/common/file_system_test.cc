#include "millrace/common/file_system.h"
#include "millrace/common/private_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>

#include "harness/process.h"

namespace millrace {
namespace {

// The same contract checks run against the disk and the in-memory file system.
class file_system_test : public ::testing::TestWithParam<bool> {
protected:
    file_system& fs() { return GetParam() ? static_cast<file_system&>(memory_) : file_system::disk(); }
    std::string root() { return GetParam() ? std::string("/mem") : dir_.path(); }
    void SetUp() override { ASSERT_TRUE(fs().create_directories(root() + "/sub").ok()); }

    memory_file_system memory_;
    testing::temp_dir dir_;
};

TEST_P(file_system_test, append_read_truncate) {
    auto f = fs().open(root() + "/a.log", open_mode::read_write);
    ASSERT_TRUE(f.ok()) << f.err().message();
    ASSERT_TRUE((*f)->append("hello ").ok());
    ASSERT_TRUE((*f)->append("world").ok());
    EXPECT_EQ((*f)->size(), 11u);
    std::string out;
    ASSERT_TRUE((*f)->read_at(6, 100, out).ok());
    EXPECT_EQ(out, "world");
    ASSERT_TRUE((*f)->truncate(5).ok());
    ASSERT_TRUE((*f)->read_at(0, 100, out).ok());
    EXPECT_EQ(out, "hello");
    ASSERT_TRUE((*f)->read_at(50, 10, out).ok());
    EXPECT_EQ(out, "");
}

TEST_P(file_system_test, reopen_appends_at_end) {
    {
        auto f = fs().open(root() + "/b", open_mode::read_write);
        ASSERT_TRUE((*f)->append("one").ok());
        ASSERT_TRUE((*f)->sync().ok());
    }
    auto f = fs().open(root() + "/b", open_mode::read_write);
    ASSERT_TRUE((*f)->append("two").ok());
    EXPECT_EQ(read_file(fs(), root() + "/b").value(), "onetwo");
}

TEST_P(file_system_test, missing_file_is_not_found_and_named) {
    auto f = fs().open(root() + "/missing", open_mode::read_only);
    ASSERT_FALSE(f.ok());
    EXPECT_EQ(f.err().code(), errc::not_found);
    EXPECT_NE(f.err().message().find("/missing"), std::string::npos);
}

TEST_P(file_system_test, list_rename_remove) {
    ASSERT_TRUE(write_file_atomic(fs(), root() + "/z", "zz").ok());
    ASSERT_TRUE(write_file_atomic(fs(), root() + "/a", "aa").ok());
    EXPECT_EQ(fs().list(root()).value(), (std::vector<std::string>{"a", "sub", "z"}));
    ASSERT_TRUE(fs().rename(root() + "/a", root() + "/z").ok());
    EXPECT_EQ(read_file(fs(), root() + "/z").value(), "aa");
    ASSERT_TRUE(fs().remove(root() + "/z").ok());
    EXPECT_FALSE(fs().exists(root() + "/z"));
    EXPECT_EQ(fs().remove(root() + "/z").err().code(), errc::not_found);
}

INSTANTIATE_TEST_SUITE_P(disk_and_memory, file_system_test, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "memory" : "disk"; });

TEST(memory_file_system_test, crash_drops_unsynced_bytes_and_unsynced_files) {
    memory_file_system fs;
    ASSERT_TRUE(fs.create_directories("/d").ok());
    auto kept = fs.open("/d/kept", open_mode::read_write);
    ASSERT_TRUE((*kept)->append("durable").ok());
    ASSERT_TRUE((*kept)->sync().ok());
    ASSERT_TRUE((*kept)->append("-lost").ok());
    auto lost = fs.open("/d/lost", open_mode::read_write);
    ASSERT_TRUE((*lost)->append("never synced").ok());
    fs.simulate_crash();
    EXPECT_EQ(read_file(fs, "/d/kept").value(), "durable");
    EXPECT_FALSE(fs.exists("/d/lost"));
}

TEST(fault_injection_file_system_test, fails_chosen_calls_then_recovers) {
    memory_file_system memory;
    fault_injection_file_system fs(memory);
    ASSERT_TRUE(fs.create_directories("/d").ok());
    auto f = fs.open("/d/x", open_mode::read_write);
    ASSERT_TRUE(f.ok());
    fs.fail(fault_injection_file_system::op::sync, error(errc::io_error, "fsync: Input/output error"), 1, 1);
    EXPECT_TRUE((*f)->sync().ok());   // skipped once
    EXPECT_FALSE((*f)->sync().ok());  // fails once
    EXPECT_TRUE((*f)->sync().ok());   // then recovers
}

TEST(fault_injection_file_system_test, torn_append_writes_a_prefix_and_fails) {
    memory_file_system memory;
    fault_injection_file_system fs(memory);
    ASSERT_TRUE(fs.create_directories("/d").ok());
    auto f = fs.open("/d/x", open_mode::read_write);
    fs.tear_next_append(3);
    auto st = (*f)->append("abcdef");
    ASSERT_FALSE(st.ok());
    EXPECT_NE(st.err().message().find("No space left"), std::string::npos);
    EXPECT_EQ(read_file(memory, "/d/x").value(), "abc");
    EXPECT_TRUE((*f)->append("g").ok());
}

TEST(fault_injection_file_system_test, atomic_write_leaves_old_content_when_rename_fails) {
    memory_file_system memory;
    fault_injection_file_system fs(memory);
    ASSERT_TRUE(fs.create_directories("/d").ok());
    ASSERT_TRUE(write_file_atomic(fs, "/d/state", "v1").ok());
    fs.fail(fault_injection_file_system::op::rename, error(errc::io_error, "rename: injected"));
    EXPECT_FALSE(write_file_atomic(fs, "/d/state", "v2").ok());
    memory.simulate_crash();
    EXPECT_EQ(read_file(memory, "/d/state").value(), "v1");
}

TEST(private_file_test, write_private_on_disk_is_0600_and_replaces_a_symlink) {
    testing::temp_dir dir;
    std::ofstream(dir.file("victim")) << "precious\n";
    ASSERT_EQ(::symlink(dir.file("victim").c_str(), dir.file("store").c_str()), 0);
    mode_t old_umask = ::umask(0);
    auto st = write_private(file_system::disk(), dir.file("store"), "secret\n");
    ::umask(old_umask);
    ASSERT_TRUE(st.ok()) << st.err().message();
    struct stat info {};
    ASSERT_EQ(::lstat(dir.file("store").c_str(), &info), 0);
    EXPECT_TRUE(S_ISREG(info.st_mode));
    EXPECT_EQ(info.st_mode & 0777, 0600u);
    EXPECT_EQ(read_private_file(dir.file("store")).value(), "secret\n");
    EXPECT_EQ(read_private_file(dir.file("victim")).value(), "precious\n") << "the symlink's target is never written";
}

TEST(private_file_test, write_private_fails_as_rename_under_fault_injection) {
    memory_file_system memory;
    fault_injection_file_system fs(memory);
    ASSERT_TRUE(fs.create_directories("/d").ok());
    ASSERT_TRUE(write_private(fs, "/d/acls", "v1").ok());
    fs.fail(fault_injection_file_system::op::rename, error(errc::io_error, "rename: injected"));
    EXPECT_FALSE(write_private(fs, "/d/acls", "v2").ok());
    memory.simulate_crash();
    EXPECT_EQ(read_file(memory, "/d/acls").value(), "v1");
}

TEST(private_file_test, read_private_refuses_symlink_fifo_missing_and_oversized) {
    testing::temp_dir dir;
    std::ofstream(dir.file("real")) << "0123456789";
    ASSERT_EQ(::symlink(dir.file("real").c_str(), dir.file("link").c_str()), 0);
    ASSERT_EQ(::mkfifo(dir.file("fifo").c_str(), 0600), 0);

    EXPECT_EQ(read_private_file(dir.file("real")).value(), "0123456789");
    auto link = read_private_file(dir.file("link"));
    ASSERT_FALSE(link.ok());
    EXPECT_NE(link.err().message().find("symbolic link"), std::string::npos) << link.err().message();
    auto fifo = read_private_file(dir.file("fifo"));  // would block a plain read
    ASSERT_FALSE(fifo.ok());
    EXPECT_NE(fifo.err().message().find("not a regular file"), std::string::npos) << fifo.err().message();
    auto missing = read_private_file(dir.file("missing"));
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.err().code(), errc::not_found);
    auto big = read_private_file(dir.file("real"), 4);
    ASSERT_FALSE(big.ok());
    EXPECT_NE(big.err().message().find("larger than 4 bytes"), std::string::npos) << big.err().message();
}

}  // namespace
}  // namespace millrace
