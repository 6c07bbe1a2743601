// The randomuser.me 1.4 compatible generator: query parameters in, the API's
// JSON document out. Pure and deterministic: the same query (seed, page,
// results, filters) and the same `now` give the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "millrace/common/result.h"

namespace millrace::source {

inline constexpr int k_max_results = 5000;
inline constexpr int64_t k_max_page = 1'000'000'000;
inline constexpr std::string_view k_api_version = "1.4";

enum class gender_filter { any, male, female };

// The top-level fields of one user, as `inc`/`exc` name them.
enum field : uint32_t {
    f_gender = 1u << 0,
    f_name = 1u << 1,
    f_location = 1u << 2,
    f_email = 1u << 3,
    f_login = 1u << 4,
    f_registered = 1u << 5,
    f_dob = 1u << 6,
    f_phone = 1u << 7,
    f_cell = 1u << 8,
    f_id = 1u << 9,
    f_picture = 1u << 10,
    f_nat = 1u << 11,
};
inline constexpr uint32_t k_all_fields = (1u << 12) - 1;

struct query {
    int results = 1;               // 1..k_max_results
    std::string seed;              // the API's seed; "" until resolved
    int64_t page = 1;              // 1..k_max_page
    gender_filter gender = gender_filter::any;
    std::vector<int> nats;         // indices into nationalities(); empty = all
    uint32_t fields = k_all_fields;
    bool noinfo = false;
};

// Parses the API's query parameters. Errors are `invalid_argument` with a
// message naming the parameter, the value and what is accepted; the server
// answers them with 400. A missing seed stays "" (see resolve_seed).
result<query> parse_query(const std::vector<std::pair<std::string, std::string>>& params);

// The seed the API reports when none was asked for: 16 hex digits from `entropy`.
std::string make_seed(uint64_t entropy);

// Appends the whole response document for `q` (seed already resolved) to
// `out`. `now_ms` is the wall time the ages are counted at.
void write_response(const query& q, int64_t now_ms, std::string& out);

// Appends only the users, comma-separated, without the enclosing array:
// users [first, first + count) of the page. For benchmarks and tests.
void write_users(const query& q, int64_t now_ms, int first, int count, std::string& out);

}  // namespace millrace::source
