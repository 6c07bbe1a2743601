// Secrets in rendered template fields (rendered.h): Airflow's sensitive names
// and the masking of registered secrets inside strings.
#include <gtest/gtest.h>

#include "millrace/scheduler/rendered.h"

namespace millrace::scheduler {
namespace {

using json = nlohmann::json;

TEST(redact_test, sensitive_names_are_airflows_words_anywhere_in_any_case) {
    for (const char* name : {"password", "DB_PASSWORD", " Api_Key ", "x-apikey", "authorization", "my_token",
                             "client_secret", "ssh_private_key", "passphrase", "passwd", "access_token",
                             "keyfile_dict", "service_account_json"}) {
        EXPECT_TRUE(sensitive_name(name)) << name;
    }
    for (const char* name : {"", "region", "user", "pass", "key", "tok", "bash_command", "env"}) {
        EXPECT_FALSE(sensitive_name(name)) << name;
    }
}

TEST(redact_test, a_value_under_a_sensitive_key_is_masked_whole_numbers_stay) {
    json fields = {{"env", {{"PGPASSWORD", "pw"}, {"PLAIN", "pw"}}},
                   {"op_kwargs", {{"api_key", {{"a", "x"}, {"n", 3}}}, {"tokens", json::array({"a", 1})}}}};
    json out = redact(fields, {});
    EXPECT_EQ(out["env"]["PGPASSWORD"], "***");
    EXPECT_EQ(out["env"]["PLAIN"], "pw") << "no secret registered: only names mask";
    EXPECT_EQ(out["op_kwargs"]["api_key"], json({{"a", "***"}, {"n", 3}}));
    EXPECT_EQ(out["op_kwargs"]["tokens"], json::array({"***", 1}));
}

TEST(redact_test, registered_secrets_are_masked_inside_every_string_longest_first) {
    json fields = {{"bash_command", "echo hunter2 and hunter2-long; hunter"},
                   {"op_args", json::array({"x hunter2", 7, nullptr, true})}};
    json out = redact(fields, {"hunter2", "hunter2-long", ""});
    EXPECT_EQ(out["bash_command"], "echo *** and ***; hunter");
    EXPECT_EQ(out["op_args"], json::array({"x ***", 7, nullptr, true}));
    EXPECT_EQ(redact_text("aaaa", {"aa"}), "******");
    EXPECT_EQ(redact_text("nothing here", {}), "nothing here");
}

}  // namespace
}  // namespace millrace::scheduler
