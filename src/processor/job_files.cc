#include "job_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/stat.h>

namespace millrace::processor {

namespace fs = std::filesystem;

std::map<std::string, int64_t> scan_job_files(const std::string& dir) {
    std::map<std::string, int64_t> seen;
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) return seen;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        if (entry.path().extension() != ".sql") continue;
        struct stat st {};
        if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        seen[entry.path().string()] = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec +
                                      static_cast<int64_t>(st.st_size);  // a rewrite within one tick still differs in size
    }
    return seen;
}

std::string job_name_of(std::string_view path) {
    auto slash = path.rfind('/');
    std::string_view file = slash == std::string_view::npos ? path : path.substr(slash + 1);
    if (file.size() > 4 && file.substr(file.size() - 4) == ".sql") file.remove_suffix(4);
    return std::string(file);
}

result<std::string> read_job_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return make_error(errc::not_found, "cannot read job file {}", path);
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return make_error(errc::io_error, "reading job file {} failed", path);
    return text.str();
}

}  // namespace millrace::processor
