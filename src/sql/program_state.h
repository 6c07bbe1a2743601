// Internal: what a compiled job holds besides its public description.
#pragma once

#include <memory>
#include <vector>

#include "millrace/sql/program.h"

namespace millrace::sql {

struct table_plan;     // bound computed columns and watermark of a table
struct pipeline_plan;  // bound filter, projection, window aggregation

struct job_program::state {
    std::string file_name;
    std::string text;
    std::map<std::string, std::string> settings;
    std::vector<table_def> tables;
    std::vector<pipeline_def> pipelines;
    std::vector<source_read> reads;
    std::vector<std::shared_ptr<const table_plan>> table_plans;        // one per table
    std::vector<std::shared_ptr<const pipeline_plan>> pipeline_plans;  // one per pipeline
};

}  // namespace millrace::sql
