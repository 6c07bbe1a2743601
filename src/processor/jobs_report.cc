#include "jobs_report.h"

#include <fmt/format.h>

#include "millrace/common/json_text.h"

namespace millrace::processor {

namespace {

std::string json_list(const std::vector<std::string>& items) {
    std::string out = "[";
    for (size_t idx = 0; idx < items.size(); ++idx) out += (idx ? "," : "") + json_text::quote(items[idx]);
    return out + "]";
}

std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

}  // namespace

std::string render_jobs_json(const std::vector<job_report>& jobs) {
    std::string out = "{\"jobs\":[";
    for (size_t idx = 0; idx < jobs.size(); ++idx) {
        const auto& s = jobs[idx].status;
        out += fmt::format(
            "{}{{\"name\":{},\"file\":{},\"state\":{},\"group\":{},\"sources\":{},\"sinks\":{},\"records_in\":{},"
            "\"rows_out\":{},\"rejected\":{},\"records_in_per_second\":{},\"rows_out_per_second\":{},\"lag\":{},"
            "\"assigned_partitions\":{},\"last_error\":{},\"sql\":{},\"plan\":{}}}",
            idx ? "," : "", json_text::quote(s.name), json_text::quote(s.file), json_text::quote(s.state), json_text::quote(s.group),
            json_list(s.sources), json_list(s.sinks), s.records_in, s.rows_out, s.rejected, s.records_in_per_second,
            s.rows_out_per_second, s.lag, s.assigned_partitions, json_text::quote(s.last_error), json_text::quote(jobs[idx].sql),
            json_text::quote(jobs[idx].plan));
    }
    return out + "]}";
}

std::string render_jobs_table(const std::vector<job_report>& jobs) {
    if (jobs.empty()) return "no jobs (processor.jobs_dir holds no *.sql file)\n";
    std::string out = fmt::format("{:<24} {:<9} {:>10} {:>10} {:>10} {:>9}  {}\n", "JOB", "STATE", "IN/S", "OUT/S", "LAG",
                                  "REJECTED", "LAST ERROR");
    for (const auto& r : jobs) {
        const auto& s = r.status;
        out += fmt::format("{:<24} {:<9} {:>10.0f} {:>10.0f} {:>10} {:>9}  {}\n", s.name, s.state, s.records_in_per_second,
                           s.rows_out_per_second, s.lag, s.rejected, s.last_error.empty() ? "-" : first_line(s.last_error));
    }
    return out;
}

}  // namespace millrace::processor
