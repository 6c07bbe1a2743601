#include "jobs_sql.h"

#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>

#include "millrace/sql/program.h"

namespace millrace::app {

namespace {

constexpr int k_exit_errors = 2;

bool read_file(const std::string& path, std::string& text) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::ostringstream buf;
    buf << in.rdbuf();
    text = buf.str();
    return true;
}

// Compiles one file; prints its errors. Returns the program on success.
std::optional<sql::job_program> compile_file(const std::string& path) {
    std::string text;
    if (!read_file(path, text)) {
        std::fprintf(stderr, "%s:1:1: cannot read the file\n", path.c_str());
        return std::nullopt;
    }
    auto compiled = sql::compile_job(text, path);
    if (auto* errors = std::get_if<std::vector<sql::diagnostic>>(&compiled)) {
        std::fputs(sql::to_string(*errors).c_str(), stderr);
        return std::nullopt;
    }
    return std::get<sql::job_program>(std::move(compiled));
}

}  // namespace

bool is_jobs_sql_command(const std::vector<std::string>& args) {
    return args.size() >= 3 && args[1] == "jobs" && (args[2] == "validate" || args[2] == "explain");
}

int run_jobs_sql_command(const std::vector<std::string>& args) {
    const std::string& verb = args[2];
    std::vector<std::string> files(args.begin() + 3, args.end());
    if (verb == "validate") {
        if (files.empty()) {
            std::fprintf(stderr, "millrace: usage: millrace jobs validate FILE...\n");
            return k_exit_errors;
        }
        bool ok = true;
        for (const auto& f : files) ok = compile_file(f).has_value() && ok;
        return ok ? 0 : k_exit_errors;
    }
    if (files.size() != 1) {
        std::fprintf(stderr, "millrace: usage: millrace jobs explain FILE\n");
        return k_exit_errors;
    }
    auto program = compile_file(files[0]);
    if (!program) return k_exit_errors;
    std::fputs(program->explain().c_str(), stdout);
    return 0;
}

}  // namespace millrace::app
