// Errors of a job file, with where they are.
#pragma once

#include <string>
#include <vector>

namespace millrace::sql {

// A 1-based line and column in the job's text (column counts bytes).
struct position {
    int line = 1;
    int column = 1;
};

struct diagnostic {
    std::string file;
    int line = 1;
    int column = 1;
    std::string message;  // one line; names the construct, column and types involved

    // "file:line:column: message"
    std::string to_string() const;
};

// Every diagnostic, one per line (the output of `millrace jobs validate`).
std::string to_string(const std::vector<diagnostic>& diagnostics);

}  // namespace millrace::sql
