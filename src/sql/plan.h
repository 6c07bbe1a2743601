// Internal: the bound operators of tables and pipelines.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "expr.h"
#include "millrace/sql/program.h"

namespace millrace::sql {

struct table_plan {
    std::vector<bound_ptr> computed;    // per column; nullptr unless computed
    std::vector<column_type> row;       // every column's name and type (the decoded row layout)
    std::optional<size_t> rowtime;      // the WATERMARK column
    int64_t watermark_delay_ms = 0;
};

enum class agg_fn { count_star, count, sum, min, max, avg };

struct agg_call {
    agg_fn fn = agg_fn::count_star;
    bool distinct = false;
    bound_ptr arg;       // over the source row; nullptr for COUNT(*)
    sql_type arg_type;
    sql_type result_type;
    std::string text;
};

struct pipeline_plan {
    bound_ptr filter;                   // over the source row; nullptr when no WHERE
    std::vector<bound_ptr> projection;  // stateless: over the source row; windowed: over the aggregate row
    // Windowed only. The aggregate row is [window_start, window_end, window_time, keys..., aggregates...].
    bool windowed = false;
    window_spec window;
    size_t time_index = 0;
    sql_type time_type;
    int64_t watermark_delay_ms = 0;
    std::vector<bound_ptr> keys;
    std::vector<agg_call> aggs;
    bool early_fire = false;
    int64_t early_fire_delay_ms = 0;
    int64_t idle_timeout_ms = 0;  // table.exec.source.idle-timeout; 0: partitions never idle
};

// Assigns a window spec's windows to an event time (ascending by start).
void assign_windows(const window_spec& w, int64_t t, std::vector<std::pair<int64_t, int64_t>>& out);

}  // namespace millrace::sql
