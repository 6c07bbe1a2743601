// The C++ registry client against a real registry: register, cache, lookup,
// compatibility, errors; and a Confluent-framed Avro round trip with it.
#include "millrace/registry/client.h"

#include <gtest/gtest.h>

#include "fixture.h"
#include "millrace/avro/codec.h"
#include "millrace/avro/wire.h"

namespace millrace::testing {
namespace {

const std::string k_user = R"({"type":"record","name":"User","fields":[{"name":"id","type":"long"},{"name":"name","type":"string"}]})";

TEST(registry_client_test, register_fetch_lookup_and_frame) {
    registry_cluster cluster("_schemas_client");
    ASSERT_TRUE(cluster.registry.proc);
    registry::client c({.url = cluster.registry.address});
    auto id = c.register_schema("users-value", k_user);
    ASSERT_TRUE(id.ok()) << id.err().message();
    auto again = c.register_schema("users-value", k_user);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(*again, *id);

    auto fetched = c.schema_by_id(*id);
    ASSERT_TRUE(fetched.ok()) << fetched.err().message();
    ASSERT_TRUE((*fetched)->avro);
    EXPECT_EQ((*fetched)->avro->root().name, "User");
    auto cached = c.schema_by_id(*id);
    ASSERT_TRUE(cached.ok());
    EXPECT_EQ(cached->get(), fetched->get());  // from the cache

    auto found = c.lookup("users-value", k_user);
    ASSERT_TRUE(found.ok()) << found.err().message();
    EXPECT_EQ(found->version, 1);
    EXPECT_EQ(found->id, *id);
    auto latest = c.latest("users-value");
    ASSERT_TRUE(latest.ok());
    EXPECT_EQ(latest->id, *id);

    auto ok = c.compatible("users-value", R"({"type":"record","name":"User","fields":[{"name":"id","type":"long"}]})");
    ASSERT_TRUE(ok.ok());
    EXPECT_TRUE(*ok);
    auto not_ok = c.compatible("users-value", R"({"type":"record","name":"User","fields":[{"name":"id","type":"string"}]})");
    ASSERT_TRUE(not_ok.ok());
    EXPECT_FALSE(*not_ok);

    // Producer side: frame with the id; consumer side: unframe, fetch by id, decode.
    auto doc = avro::json::parse(R"({"id":42,"name":"ann"})");
    std::string message = avro::wire::frame(*id, *avro::encode((*fetched)->avro->root(), *doc));
    auto frame = avro::wire::unframe(message);
    ASSERT_TRUE(frame.ok());
    auto writer = c.schema_by_id(frame->schema_id);
    ASSERT_TRUE(writer.ok());
    auto decoded = avro::decode(frame->payload, (*writer)->avro->root());
    ASSERT_TRUE(decoded.ok());
    EXPECT_EQ(avro::json::dump(*decoded), R"({"id":42,"name":"ann"})");
}

TEST(registry_client_test, errors_carry_the_registry_reason) {
    registry_cluster cluster("_schemas_client_errors");
    ASSERT_TRUE(cluster.registry.proc);
    registry::client c({.url = "http://" + cluster.registry.address + "/"});
    auto missing = c.schema_by_id(12345);
    ASSERT_FALSE(missing.ok());
    EXPECT_EQ(missing.err().code(), errc::not_found);
    EXPECT_NE(missing.err().message().find("40403"), std::string::npos) << missing.err().message();
    auto invalid = c.register_schema("x", R"({"type":"record"})");
    ASSERT_FALSE(invalid.ok());
    EXPECT_EQ(invalid.err().code(), errc::invalid_argument);
    EXPECT_NE(invalid.err().message().find("42201"), std::string::npos);
    ASSERT_TRUE(c.register_schema("x", R"("int")").ok());
    auto incompatible = c.register_schema("x", R"("string")");
    ASSERT_FALSE(incompatible.ok());
    EXPECT_EQ(incompatible.err().code(), errc::already_exists);
    EXPECT_NE(incompatible.err().message().find("TYPE_MISMATCH"), std::string::npos);
    EXPECT_EQ(c.lookup("nope", R"("int")").err().code(), errc::not_found);

    registry::client down({.url = "127.0.0.1:1", .timeout_ms = 2000});
    auto unreachable = down.latest("x");
    ASSERT_FALSE(unreachable.ok());
    EXPECT_TRUE(unreachable.err().retryable());
    EXPECT_NE(unreachable.err().message().find("127.0.0.1:1"), std::string::npos);
}

}  // namespace
}  // namespace millrace::testing
