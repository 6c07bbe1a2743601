#include "millrace/source/generator.h"

#include <set>

#include <gtest/gtest.h>

#include "json.h"
#include "nat_data.h"

namespace millrace::source {
namespace {

constexpr int64_t k_now_ms = 1'764'028'800'000;  // 2025-11-25

using params = std::vector<std::pair<std::string, std::string>>;

std::string generate(const params& p) {
    auto q = parse_query(p);
    EXPECT_TRUE(q.ok()) << q.err().message();
    if (q->seed.empty()) q->seed = "fixed";
    std::string out;
    write_response(*q, k_now_ms, out);
    return out;
}

json::value parse_ok(const std::string& text) {
    auto v = json::parse(text);
    EXPECT_TRUE(v.ok()) << v.err().message() << "\n" << text.substr(0, 400);
    return v.ok() ? *v : json::value{};
}

void expect_string(const json::value& parent, std::string_view name, const std::string& where) {
    const json::value* v = parent.find(name);
    ASSERT_NE(v, nullptr) << where << ": missing " << name;
    EXPECT_TRUE(v->is_string()) << where << ": " << name << " is not a string";
    EXPECT_FALSE(v->text.empty()) << where << ": " << name << " is empty";
}

const json::value& object(const json::value& parent, std::string_view name, const std::string& where) {
    static const json::value empty;
    const json::value* v = parent.find(name);
    EXPECT_TRUE(v != nullptr && v->is_object()) << where << ": " << name << " is not an object";
    return v != nullptr ? *v : empty;
}

// The field list of randomuser.me 1.4, checked for one user.
void expect_api_shape(const json::value& user, const nationality& nat) {
    const std::string where = std::string(nat.code);
    std::vector<std::string> keys;
    for (const auto& [key, v] : user.members) keys.push_back(key);
    EXPECT_EQ(keys, (std::vector<std::string>{"gender", "name", "location", "email", "login", "dob", "registered",
                                              "phone", "cell", "id", "picture", "nat"}))
        << where;
    expect_string(user, "gender", where);
    const auto& name = object(user, "name", where);
    for (auto f : {"title", "first", "last"}) expect_string(name, f, where);
    const auto& location = object(user, "location", where);
    const auto& street = object(location, "street", where);
    ASSERT_NE(street.find("number"), nullptr);
    EXPECT_TRUE(street.find("number")->is_number()) << where;
    expect_string(street, "name", where);
    for (auto f : {"city", "state", "country"}) expect_string(location, f, where);
    const json::value* postcode = location.find("postcode");
    ASSERT_NE(postcode, nullptr) << where;
    EXPECT_EQ(postcode->is_string(), nat.postcode_is_string) << where;
    EXPECT_TRUE(postcode->is_string() || postcode->is_number()) << where;
    const auto& coordinates = object(location, "coordinates", where);
    expect_string(coordinates, "latitude", where);
    expect_string(coordinates, "longitude", where);
    const auto& timezone = object(location, "timezone", where);
    expect_string(timezone, "offset", where);
    expect_string(timezone, "description", where);
    expect_string(user, "email", where);
    EXPECT_NE(user.find("email")->text.find("@example.com"), std::string::npos);
    const auto& login = object(user, "login", where);
    for (auto f : {"uuid", "username", "password", "salt", "md5", "sha1", "sha256"}) expect_string(login, f, where);
    EXPECT_EQ(login.find("uuid")->text.size(), 36u);
    EXPECT_EQ(login.find("uuid")->text[14], '4');
    EXPECT_EQ(login.find("md5")->text.size(), 32u);
    EXPECT_EQ(login.find("sha1")->text.size(), 40u);
    EXPECT_EQ(login.find("sha256")->text.size(), 64u);
    for (auto f : {"dob", "registered"}) {
        const auto& date = object(user, f, where);
        expect_string(date, "date", where);
        EXPECT_EQ(date.find("date")->text.size(), 24u) << date.find("date")->text;
        ASSERT_NE(date.find("age"), nullptr);
        EXPECT_TRUE(date.find("age")->is_number());
    }
    EXPECT_GE(object(user, "dob", where).find("age")->number, 21);
    expect_string(user, "phone", where);
    expect_string(user, "cell", where);
    const auto& id = object(user, "id", where);
    ASSERT_NE(id.find("name"), nullptr);
    ASSERT_NE(id.find("value"), nullptr);
    if (nat.id_name.empty()) {
        EXPECT_EQ(id.find("value")->type, json::value::kind::null) << where;
    } else {
        EXPECT_TRUE(id.find("value")->is_string()) << where;
    }
    const auto& picture = object(user, "picture", where);
    for (auto f : {"large", "medium", "thumbnail"}) expect_string(picture, f, where);
    expect_string(user, "nat", where);
    EXPECT_EQ(user.find("nat")->text, nat.code);
}

TEST(generator_test, every_nationality_has_the_api_shape) {
    ASSERT_EQ(nationalities().size(), 21u);
    for (const auto& nat : nationalities()) {
        auto doc = parse_ok(generate({{"results", "50"}, {"nat", std::string(nat.code)}, {"seed", "shape"}}));
        const json::value* results = doc.find("results");
        ASSERT_TRUE(results != nullptr && results->is_array());
        ASSERT_EQ(results->items.size(), 50u);
        for (const auto& user : results->items) expect_api_shape(user, nat);
    }
}

TEST(generator_test, info_block) {
    auto doc = parse_ok(generate({{"results", "3"}, {"seed", "abc\"d"}, {"page", "7"}}));
    const json::value* info = doc.find("info");
    ASSERT_NE(info, nullptr);
    EXPECT_EQ(info->find("seed")->text, "abc\"d");
    EXPECT_EQ(info->find("results")->number, 3);
    EXPECT_EQ(info->find("page")->number, 7);
    EXPECT_EQ(info->find("version")->text, "1.4");
    auto noinfo = parse_ok(generate({{"noinfo", ""}}));
    EXPECT_EQ(noinfo.find("info"), nullptr);
}

TEST(generator_test, same_seed_and_page_give_the_same_users) {
    params p = {{"results", "200"}, {"seed", "pipeline"}, {"page", "3"}};
    EXPECT_EQ(generate(p), generate(p));
}

TEST(generator_test, different_seeds_or_pages_give_different_users) {
    std::string a = generate({{"results", "10"}, {"seed", "one"}, {"page", "1"}, {"noinfo", ""}});
    std::string b = generate({{"results", "10"}, {"seed", "two"}, {"page", "1"}, {"noinfo", ""}});
    std::string c = generate({{"results", "10"}, {"seed", "one"}, {"page", "2"}, {"noinfo", ""}});
    EXPECT_NE(a, b);
    EXPECT_NE(a, c);
}

TEST(generator_test, a_user_does_not_depend_on_the_page_size) {
    auto small = parse_ok(generate({{"results", "5"}, {"seed", "s"}}));
    auto large = parse_ok(generate({{"results", "50"}, {"seed", "s"}}));
    for (size_t idx = 0; idx < 5; ++idx) {
        EXPECT_EQ(small.find("results")->items[idx].find("login")->find("uuid")->text,
                  large.find("results")->items[idx].find("login")->find("uuid")->text);
    }
}

TEST(generator_test, uuids_are_unique_across_pages) {
    std::set<std::string> seen;
    for (int page = 1; page <= 20; ++page) {
        auto doc = parse_ok(generate({{"results", "500"}, {"seed", "u"}, {"page", std::to_string(page)}}));
        for (const auto& user : doc.find("results")->items) seen.insert(user.find("login")->find("uuid")->text);
    }
    EXPECT_EQ(seen.size(), 10'000u);
}

TEST(generator_test, gender_and_nat_filters) {
    auto doc = parse_ok(generate({{"results", "100"}, {"gender", "female"}, {"nat", "fr,De"}}));
    for (const auto& user : doc.find("results")->items) {
        EXPECT_EQ(user.find("gender")->text, "female");
        EXPECT_TRUE(user.find("nat")->text == "FR" || user.find("nat")->text == "DE");
    }
}

TEST(generator_test, inc_and_exc_select_fields_without_changing_them) {
    auto full = parse_ok(generate({{"results", "4"}, {"seed", "f"}}));
    auto inc = parse_ok(generate({{"results", "4"}, {"seed", "f"}, {"inc", "login,nat"}}));
    auto exc = parse_ok(generate({{"results", "4"}, {"seed", "f"}, {"exc", "login"}}));
    for (size_t idx = 0; idx < 4; ++idx) {
        const auto& u = inc.find("results")->items[idx];
        ASSERT_EQ(u.members.size(), 2u);
        EXPECT_EQ(u.find("login")->find("uuid")->text, full.find("results")->items[idx].find("login")->find("uuid")->text);
        const auto& e = exc.find("results")->items[idx];
        EXPECT_EQ(e.members.size(), 11u);
        EXPECT_EQ(e.find("login"), nullptr);
        EXPECT_EQ(e.find("email")->text, full.find("results")->items[idx].find("email")->text);
    }
}

void expect_bad(const params& p, std::string_view mention) {
    auto q = parse_query(p);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.err().code(), errc::invalid_argument);
    EXPECT_NE(q.err().message().find(mention), std::string::npos) << q.err().message();
}

TEST(generator_test, results_zero_is_rejected) { expect_bad({{"results", "0"}}, "results=0"); }
TEST(generator_test, results_above_5000_is_rejected) { expect_bad({{"results", "99999"}}, "from 1 to 5000"); }
TEST(generator_test, results_not_a_number_is_rejected) { expect_bad({{"results", "ten"}}, "results=ten"); }
TEST(generator_test, page_zero_is_rejected) { expect_bad({{"page", "0"}}, "page=0"); }
TEST(generator_test, unknown_nat_is_rejected) { expect_bad({{"nat", "us,XX"}}, "unknown nationality 'XX'"); }
TEST(generator_test, unknown_gender_is_rejected) { expect_bad({{"gender", "robot"}}, "gender=robot"); }
TEST(generator_test, unknown_inc_field_is_rejected) { expect_bad({{"inc", "name,shoe"}}, "unknown field 'shoe'"); }
TEST(generator_test, unknown_exc_field_is_rejected) { expect_bad({{"exc", "hat"}}, "unknown field 'hat'"); }
TEST(generator_test, other_formats_are_rejected) { expect_bad({{"format", "xml"}}, "only json"); }
TEST(generator_test, too_long_seed_is_rejected) { expect_bad({{"seed", std::string(300, 'x')}}, "too long"); }

TEST(generator_test, table_text_needs_no_escaping) {
    auto check = [](std::string_view text) {
        EXPECT_EQ(text.find_first_of("\"\\"), std::string_view::npos) << text;
    };
    for (const auto& nat : nationalities()) {
        for (auto list : {nat.male_first, nat.female_first, nat.last, nat.streets}) {
            EXPECT_FALSE(list.empty()) << nat.code;
            for (auto word : list) check(word);
        }
        for (const auto& p : nat.places) {
            check(p.city);
            check(p.state);
        }
    }
}

TEST(generator_test, make_seed_is_16_hex_digits) {
    EXPECT_EQ(make_seed(1).size(), 16u);
    EXPECT_NE(make_seed(1), make_seed(2));
    EXPECT_EQ(make_seed(1), make_seed(1));
}

}  // namespace
}  // namespace millrace::source
