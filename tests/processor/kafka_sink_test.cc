#include "kafka_sink.h"

#include <gtest/gtest.h>

namespace millrace::processor {
namespace {

// A restart given the same partitions must derive the same id (to fence its predecessor), so the
// format and the hash are pinned: a change here breaks fencing across an upgrade.
TEST(kafka_sink_test, transactional_id_is_pinned) {
    EXPECT_EQ(transactional_id_for("p", "j", {{"t", 0}, {"t", 1}}), "p-j-14b8a0840725bb52");
}

TEST(kafka_sink_test, transactional_id_depends_on_the_partition_set_only) {
    std::set<std::pair<std::string, int32_t>> one{{"b", 1}, {"a", 0}};
    std::set<std::pair<std::string, int32_t>> same{{"a", 0}, {"b", 1}};
    EXPECT_EQ(transactional_id_for("x", "job", one), transactional_id_for("x", "job", same));
    EXPECT_NE(transactional_id_for("x", "job", one), transactional_id_for("x", "job", {{"a", 0}}));
    EXPECT_NE(transactional_id_for("x", "job", {{"a", 1}, {"a", 2}}), transactional_id_for("x", "job", {{"a", 12}}));
    EXPECT_NE(transactional_id_for("x", "job", one), transactional_id_for("y", "job", one));
    EXPECT_EQ(transactional_id_for("x", "job", {}).rfind("x-job-", 0), 0u);
}

}  // namespace
}  // namespace millrace::processor
