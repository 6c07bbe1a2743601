// The console's CQL table browser against a real `millrace cql` and a real
// `millrace broker`, the table filled through our CQL client.
#include <set>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "harness/process.h"
#include "millrace/cql_client/client.h"

namespace millrace::console {
namespace {

using nlohmann::json;

TEST(console_tables_test, pages_through_a_table_and_reports_unknown_ones) {
    testing::temp_dir dir;
    auto cql = testing::start_server("cql", dir.file("cql"));
    auto broker = testing::start_server("broker", dir.file("broker"));
    ASSERT_TRUE(cql.proc && broker.proc);
    auto console = testing::start_server("console", dir.file("console"),
                                         {"--set", "kafka.bootstrap=" + broker.address, "--set", "cql.contact_points=" + cql.address});
    ASSERT_TRUE(console.proc);

    auto options = cql_client::options_from_contact_points(cql.address);
    ASSERT_TRUE(options.ok());
    auto session = cql_client::session::connect(*options);
    ASSERT_TRUE(session.ok()) << session.err().message();
    for (const char* ddl : {"CREATE KEYSPACE spark_streams WITH replication = {'class': 'SimpleStrategy', 'replication_factor': 1}",
                            "CREATE TABLE spark_streams.created_users (id int PRIMARY KEY, first_name text, age int)"}) {
        auto done = (*session)->query(ddl);
        ASSERT_TRUE(done.ok()) << done.err().message();
    }
    for (int id = 0; id < 60; ++id) {
        auto done = (*session)->query("INSERT INTO spark_streams.created_users (id, first_name, age) VALUES (?, ?, ?)",
                                      {cql_client::value::int32(id), cql_client::value::text("user" + std::to_string(id)),
                                       cql_client::value::int32(20 + id)});
        ASSERT_TRUE(done.ok()) << done.err().message();
    }

    auto listing = testing::http_request(console.address, "GET", "/api/tables");
    ASSERT_EQ(listing.status, 200) << listing.body;
    auto keyspaces = json::parse(listing.body)["keyspaces"];
    bool found = false;
    for (const auto& k : keyspaces) {
        if (k["name"] == "spark_streams") found = k["tables"] == json::array({"created_users"});
    }
    EXPECT_TRUE(found) << listing.body;

    std::set<int> seen;
    std::string state;
    int pages = 0;
    do {
        std::string target = "/api/tables/spark_streams/created_users/rows?page_size=25";
        if (!state.empty()) target += "&paging_state=" + state;
        auto page = testing::http_request(console.address, "GET", target);
        ASSERT_EQ(page.status, 200) << page.body;
        auto body = json::parse(page.body);
        for (const auto& row : body["rows"]) {
            EXPECT_EQ(row["first_name"], "user" + std::to_string(row["id"].get<int>()));
            EXPECT_EQ(row["age"], 20 + row["id"].get<int>());
            EXPECT_TRUE(seen.insert(row["id"].get<int>()).second) << "row " << row["id"] << " twice";
        }
        ++pages;
        ASSERT_LE(pages, 10);
        state.clear();
        if (!body["paging_state"].is_null()) {
            for (char c : body["paging_state"].get<std::string>()) {  // percent-encode base64's + / =
                state += std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : fmt::format("%{:02X}", c);
            }
        }
    } while (!state.empty());
    EXPECT_EQ(seen.size(), 60u);
    EXPECT_GE(pages, 3);

    auto unknown = testing::http_request(console.address, "GET", "/api/tables/spark_streams/nope/rows");
    EXPECT_EQ(unknown.status, 404) << unknown.body;
    EXPECT_NE(unknown.body.find("nope"), std::string::npos);
    auto bad = testing::http_request(console.address, "GET", "/api/tables/spark_streams/x;drop/rows");
    EXPECT_EQ(bad.status, 400);
    auto bad_size = testing::http_request(console.address, "GET", "/api/tables/spark_streams/created_users/rows?page_size=0");
    EXPECT_EQ(bad_size.status, 400);
}

}  // namespace
}  // namespace millrace::console
