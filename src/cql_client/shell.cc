#include "millrace/cql_client/shell.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <sstream>

#include <editline/readline.h>
#include <fmt/format.h>
#include <unistd.h>

namespace millrace::cql_client {
namespace {

std::string upper(std::string_view text) {
    std::string out(text);
    for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
}

std::string trim(std::string_view text) {
    size_t begin = 0, end = text.size();
    while (begin < end && std::isspace(static_cast<unsigned char>(text[begin]))) ++begin;
    while (end > begin && std::isspace(static_cast<unsigned char>(text[end - 1]))) --end;
    return std::string(text.substr(begin, end - begin));
}

std::vector<std::string> words_of(std::string_view text) {
    std::vector<std::string> out;
    std::istringstream in{std::string(text)};
    for (std::string word; in >> word;) out.push_back(word);
    return out;
}

// Terminal columns a UTF-8 string takes (one per code point).
size_t display_width(std::string_view text) {
    size_t width = 0;
    for (char c : text) width += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
    return width;
}

std::string pad_left(const std::string& text, size_t width) {
    size_t shown = display_width(text);
    return shown >= width ? text : std::string(width - shown, ' ') + text;
}
std::string pad_right(const std::string& text, size_t width) {
    size_t shown = display_width(text);
    return shown >= width ? text : text + std::string(width - shown, ' ');
}

// Two's complement big-endian bytes as a decimal string (any length).
std::string varint_text(const std::string& bytes) {
    if (bytes.empty()) return "0";
    bool negative = (static_cast<unsigned char>(bytes[0]) & 0x80) != 0;
    std::vector<uint8_t> mag(bytes.begin(), bytes.end());
    if (negative) {  // magnitude = two's complement of the bytes
        for (auto& b : mag) b = static_cast<uint8_t>(~b);
        for (size_t idx = mag.size(); idx-- > 0;) {
            if (++mag[idx] != 0) break;
        }
    }
    std::string digits;
    while (std::any_of(mag.begin(), mag.end(), [](uint8_t b) { return b != 0; })) {
        unsigned remainder = 0;
        for (auto& b : mag) {
            unsigned cur = remainder * 256 + b;
            b = static_cast<uint8_t>(cur / 10);
            remainder = cur % 10;
        }
        digits.push_back(static_cast<char>('0' + remainder));
    }
    if (digits.empty()) digits = "0";
    std::reverse(digits.begin(), digits.end());
    return negative ? "-" + digits : digits;
}

std::string decimal_text(const value& v) {
    std::string digits = varint_text(v.as_bytes());
    bool negative = digits[0] == '-';
    if (negative) digits.erase(0, 1);
    int32_t scale = v.decimal_scale();
    if (scale <= 0) return (negative ? "-" : "") + digits + std::string(static_cast<size_t>(-scale), '0');
    if (digits.size() <= static_cast<size_t>(scale)) digits = std::string(scale - digits.size() + 1, '0') + digits;
    digits.insert(digits.size() - scale, ".");
    return (negative ? "-" : "") + digits;
}

std::string float_text(double v, int precision) {
    if (std::isnan(v)) return "NaN";
    if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
    return fmt::format("{:.{}g}", v, precision);
}

std::string timestamp_text(int64_t ms) {
    int64_t seconds = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    int64_t millis = ms - seconds * 1000;
    std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return fmt::format("{}.{:03d}000+0000", buf, millis);
}

std::string date_text(int32_t days) {
    std::time_t t = static_cast<std::time_t>(days) * 86400;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
    return buf;
}

std::string time_text(int64_t ns) {
    int64_t seconds = ns / 1000000000;
    return fmt::format("{:02d}:{:02d}:{:02d}.{:09d}", seconds / 3600, seconds / 60 % 60, seconds % 60, ns % 1000000000);
}

std::string quoted(const std::string& text) {
    std::string out = "'";
    for (char c : text) {
        out.push_back(c);
        if (c == '\'') out.push_back('\'');
    }
    return out + "'";
}

}  // namespace

std::string format_cell(const value& v, bool nested) {
    if (v.is_null()) return "null";
    switch (v.type().id) {
        case type_id::boolean: return v.as_bool() ? "True" : "False";
        case type_id::tinyint:
        case type_id::smallint:
        case type_id::int_:
        case type_id::bigint:
        case type_id::counter: return std::to_string(v.as_int());
        case type_id::varint: return varint_text(v.as_bytes());
        case type_id::decimal: return decimal_text(v);
        case type_id::float_: return float_text(v.as_double(), 5);
        case type_id::double_: return float_text(v.as_double(), 12);
        case type_id::varchar:
        case type_id::ascii: return nested ? quoted(v.as_text()) : v.as_text();
        case type_id::uuid:
        case type_id::timeuuid: return v.uuid_string();
        case type_id::inet: return v.inet_string();
        case type_id::timestamp: return nested ? quoted(timestamp_text(v.as_timestamp())) : timestamp_text(v.as_timestamp());
        case type_id::date: return nested ? quoted(date_text(v.as_date())) : date_text(v.as_date());
        case type_id::time: return nested ? quoted(time_text(v.as_time())) : time_text(v.as_time());
        case type_id::list:
        case type_id::set:
        case type_id::tuple: {
            const char* open = v.type().id == type_id::list ? "[" : v.type().id == type_id::set ? "{" : "(";
            const char* close = v.type().id == type_id::list ? "]" : v.type().id == type_id::set ? "}" : ")";
            std::string out = open;
            const auto& elements = v.elements();
            for (size_t idx = 0; idx < elements.size(); ++idx) out += (idx ? ", " : "") + format_cell(elements[idx], true);
            return out + close;
        }
        case type_id::map: {
            std::string out = "{";
            bool first = true;
            for (const auto& [key, val] : v.entries()) {
                out += fmt::format("{}{}: {}", first ? "" : ", ", format_cell(key, true), format_cell(val, true));
                first = false;
            }
            return out + "}";
        }
        case type_id::blob: {
            std::string hex = "0x";
            for (char c : v.as_bytes()) hex += fmt::format("{:02x}", static_cast<uint8_t>(c));
            return hex;
        }
        default: return v.to_string();
    }
}

std::string format_table(const rows& page, bool with_header) {
    std::vector<size_t> widths;
    for (const auto& column : page.columns) widths.push_back(display_width(column.name));
    std::vector<std::vector<std::string>> cells;
    for (const auto& r : page.data) {
        auto& out = cells.emplace_back();
        for (size_t idx = 0; idx < r.size() && idx < widths.size(); ++idx) {
            out.push_back(format_cell(r[idx]));
            widths[idx] = std::max(widths[idx], display_width(out.back()));
        }
    }
    std::string text;
    if (with_header) {
        std::string header, rule;
        for (size_t idx = 0; idx < widths.size(); ++idx) {
            header += (idx ? " | " : "") + pad_right(page.columns[idx].name, widths[idx]);
            rule += (idx ? "-+-" : "") + std::string(widths[idx], '-');
        }
        while (!header.empty() && header.back() == ' ') header.pop_back();
        text += " " + header + "\n-" + rule + "-\n";
    }
    for (const auto& row_cells : cells) {
        std::string line;
        for (size_t idx = 0; idx < row_cells.size(); ++idx) line += (idx ? " | " : "") + pad_left(row_cells[idx], widths[idx]);
        text += " " + line + "\n";
    }
    return text;
}

std::string format_vertical(const rows& page, size_t first_row_number) {
    size_t name_width = 0, value_width = 0;
    std::vector<std::vector<std::string>> cells;
    for (const auto& column : page.columns) name_width = std::max(name_width, display_width(column.name));
    for (const auto& r : page.data) {
        auto& out = cells.emplace_back();
        for (const auto& cell : r) {
            out.push_back(format_cell(cell));
            value_width = std::max(value_width, display_width(out.back()));
        }
    }
    std::string text;
    for (size_t row_idx = 0; row_idx < cells.size(); ++row_idx) {
        text += fmt::format("@ Row {}\n-{}-+-{}-\n", first_row_number + row_idx, std::string(name_width, '-'),
                            std::string(value_width, '-'));
        for (size_t idx = 0; idx < cells[row_idx].size() && idx < page.columns.size(); ++idx) {
            text += " " + pad_right(page.columns[idx].name, name_width) + " | " + cells[row_idx][idx] + "\n";
        }
        text += "\n";
    }
    return text;
}

std::vector<statement_text> split_statements(std::string_view text, std::string& rest, int first_line) {
    std::vector<statement_text> out;
    std::string current;
    int line = first_line, start_line = first_line;
    auto flush = [&] {
        std::string stmt = trim(current);
        if (!stmt.empty()) out.push_back({stmt, start_line});
        current.clear();
    };
    size_t pos = 0;
    while (pos < text.size()) {
        char c = text[pos];
        if (trim(current).empty()) {
            start_line = line;
            // A shell command needing no `;` ends at the end of its line (or at a `;`).
            size_t eol = text.find('\n', pos);
            std::string_view rest_of_line = text.substr(pos, eol == std::string_view::npos ? text.npos : eol - pos);
            auto first_words = words_of(rest_of_line);
            std::string word = first_words.empty() ? "" : upper(first_words[0]);
            if (auto semi = word.find(';'); semi != std::string::npos) word.erase(semi);
            static const char* const line_commands[] = {"EXIT", "QUIT", "HELP", "?", "PAGING", "EXPAND", "TRACING",
                                                        "CONSISTENCY", "DESCRIBE", "DESC"};
            bool line_command = std::any_of(std::begin(line_commands), std::end(line_commands),
                                            [&](const char* w) { return word == w; });
            size_t semi = rest_of_line.find(';');
            if (line_command && (eol != std::string_view::npos || semi != std::string_view::npos)) {
                size_t end = semi != std::string_view::npos ? semi : rest_of_line.size();
                current.assign(rest_of_line.substr(0, end));
                flush();
                pos += end + 1;
                if (semi == std::string_view::npos) ++line;
                continue;
            }
        }
        if (c == '\n') ++line;
        if (c == '\'' || c == '"') {  // string or quoted identifier; a doubled quote is one character
            size_t end = pos + 1;
            while (end < text.size()) {
                if (text[end] == c) {
                    if (end + 1 < text.size() && text[end + 1] == c) {
                        end += 2;
                        continue;
                    }
                    break;
                }
                if (text[end] == '\n') ++line;
                ++end;
            }
            if (end >= text.size()) {  // unterminated: wait for more input
                current.append(text.substr(pos));
                pos = text.size();
                break;
            }
            current.append(text.substr(pos, end - pos + 1));
            pos = end + 1;
            continue;
        }
        if (c == '$' && text.substr(pos, 2) == "$$") {
            size_t end = text.find("$$", pos + 2);
            if (end == std::string_view::npos) {
                current.append(text.substr(pos));
                pos = text.size();
                break;
            }
            for (size_t idx = pos; idx < end; ++idx) line += text[idx] == '\n';
            current.append(text.substr(pos, end + 2 - pos));
            pos = end + 2;
            continue;
        }
        if ((c == '-' && text.substr(pos, 2) == "--") || (c == '/' && text.substr(pos, 2) == "//")) {
            size_t eol = text.find('\n', pos);
            pos = eol == std::string_view::npos ? text.size() : eol;
            continue;
        }
        if (c == '/' && text.substr(pos, 2) == "/*") {
            size_t end = text.find("*/", pos + 2);
            if (end == std::string_view::npos) {
                current.append(text.substr(pos));
                pos = text.size();
                break;
            }
            for (size_t idx = pos; idx < end; ++idx) line += text[idx] == '\n';
            current.push_back(' ');
            pos = end + 2;
            continue;
        }
        if (c == ';') {
            flush();
            ++pos;
            continue;
        }
        current.push_back(c);
        ++pos;
    }
    rest = trim(current).empty() ? std::string() : current;
    return out;
}

namespace {

const char* k_help = R"(Shell commands (besides CQL statements, which end with ';'):
  DESCRIBE KEYSPACES | TABLES | KEYSPACE [ks] | TABLE [ks.]t | SCHEMA | CLUSTER   (DESC for short)
  USE <keyspace>;              statements without a keyspace refer to it
  PAGING ON | OFF | <n>        pause every <n> rows on a terminal (default 100)
  EXPAND ON | OFF              one block per row
  TRACING [ON | OFF]           print each statement's trace (system_traces), as cqlsh
  CONSISTENCY [<level>]        show or set the consistency level (default ONE)
  HELP, EXIT, QUIT
)";

struct shell_state {
    client_options options;
    std::shared_ptr<session> conn;
    std::string keyspace;
    bool interactive = false;  // reading a terminal: pause between pages
    bool paging = true;
    int32_t page_size = 100;
    bool expand = false;
    bool tracing = false;  // TRACING ON: each statement's trace is printed after it
    consistency level = consistency::one;
    bool quit = false;  // EXIT or QUIT was read
};

std::optional<consistency> parse_consistency(const std::string& name) {
    static const std::vector<std::pair<std::string, consistency>> levels = {
        {"ANY", consistency::any},       {"ONE", consistency::one},
        {"TWO", consistency::two},       {"THREE", consistency::three},
        {"QUORUM", consistency::quorum}, {"ALL", consistency::all},
        {"LOCAL_QUORUM", consistency::local_quorum}, {"EACH_QUORUM", consistency::each_quorum},
        {"SERIAL", consistency::serial}, {"LOCAL_SERIAL", consistency::local_serial},
        {"LOCAL_ONE", consistency::local_one},
    };
    for (const auto& [text, level] : levels) {
        if (text == name) return level;
    }
    return std::nullopt;
}

std::string consistency_name(consistency level) {
    switch (level) {
        case consistency::any: return "ANY";
        case consistency::one: return "ONE";
        case consistency::two: return "TWO";
        case consistency::three: return "THREE";
        case consistency::quorum: return "QUORUM";
        case consistency::all: return "ALL";
        case consistency::local_quorum: return "LOCAL_QUORUM";
        case consistency::each_quorum: return "EACH_QUORUM";
        case consistency::serial: return "SERIAL";
        case consistency::local_serial: return "LOCAL_SERIAL";
        case consistency::local_one: return "LOCAL_ONE";
    }
    return "?";
}

// Prints DESCRIBE's answer as cqlsh does: names in columns for the lists,
// the CREATE statements for one object.
void print_describe(const rows& result, const std::string& what) {
    int name_col = result.index_of("name");
    int ks_col = result.index_of("keyspace_name");
    int create_col = result.index_of("create_statement");
    if (what == "CLUSTER") {
        for (size_t idx = 0; idx < result.size(); ++idx) {
            std::printf("\nCluster: %s\nPartitioner: %s\nSnitch: %s\n\n", format_cell(result.at(idx, "cluster")).c_str(),
                        format_cell(result.at(idx, "partitioner")).c_str(), format_cell(result.at(idx, "snitch")).c_str());
        }
        return;
    }
    if (create_col >= 0) {
        for (const auto& r : result.data) std::printf("\n%s\n", format_cell(r[create_col]).c_str());
        if (!result.empty()) std::printf("\n");
        return;
    }
    if (name_col < 0) {
        std::fputs(("\n" + format_table(result, true) + "\n").c_str(), stdout);
        return;
    }
    // Names, grouped by keyspace for TABLES/TYPES/...; two spaces apart.
    std::string current_ks;
    bool by_keyspace = what != "KEYSPACES" && ks_col >= 0;
    std::string line;
    auto end_group = [&] {
        if (!line.empty()) std::printf("%s\n", line.c_str());
        line.clear();
    };
    std::printf("\n");
    for (const auto& r : result.data) {
        if (by_keyspace) {
            std::string ks = format_cell(r[ks_col]);
            if (ks != current_ks) {
                if (!current_ks.empty()) {
                    end_group();
                    std::printf("\n");
                }
                current_ks = ks;
                std::printf("Keyspace %s\n---------%s\n", ks.c_str(), std::string(ks.size(), '-').c_str());
            }
        }
        std::string name = format_cell(r[name_col]);
        if (!line.empty() && line.size() + 2 + name.size() > 80) end_group();
        line += (line.empty() ? "" : "  ") + name;
    }
    end_group();
    std::printf("\n");
}

result<std::shared_ptr<session>> reconnect(shell_state& st, const std::string& keyspace) {
    client_options options = st.options;
    options.keyspace = keyspace;
    auto conn = session::connect(options);
    if (!conn) return conn.err();
    if (st.conn) st.conn->close();
    st.conn = *conn;
    st.keyspace = keyspace;
    st.options = options;
    return *conn;
}

// Runs one statement or shell command; false when it failed (the message is
// on stderr, prefixed with `where`).
// Prints a trace as cqlsh does: the session's request, each event with its
// thread, then "Request complete" with the duration (system_traces).
void print_trace(shell_state& st, const std::string& id) {
    std::string hex;
    for (char c : id) hex += fmt::format("{:02x}", static_cast<uint8_t>(c));
    std::string uuid = hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
                       hex.substr(20);
    auto session = st.conn->query("SELECT request, coordinator, client, duration, started_at FROM system_traces.sessions "
                                  "WHERE session_id = " + uuid);
    auto events = st.conn->query("SELECT activity, thread, source, source_elapsed FROM system_traces.events WHERE "
                                 "session_id = " + uuid);
    if (!session || !events || session->empty()) {
        std::fprintf(stderr, "Session %s wasn't found.\n", uuid.c_str());
        return;
    }
    rows table;
    for (const char* name : {"activity", "source", "source_elapsed", "client"}) {
        column_spec c;
        c.name = name;
        c.type.id = type_id::varchar;
        table.columns.push_back(c);
    }
    auto cell = [](const rows& r, size_t idx, const char* name) { return format_cell(r.at(idx, name)); };
    std::string client = cell(*session, 0, "client");
    table.data.push_back({value::text(cell(*session, 0, "request")), value::text(cell(*session, 0, "coordinator")),
                          value::text("0"), value::text(client)});
    for (size_t idx = 0; idx < events->size(); ++idx) {
        table.data.push_back({value::text(cell(*events, idx, "activity") + " [" + cell(*events, idx, "thread") + "]"),
                              value::text(cell(*events, idx, "source")), value::text(cell(*events, idx, "source_elapsed")),
                              value::text(client)});
    }
    table.data.push_back({value::text("Request complete"), value::text(cell(*session, 0, "coordinator")),
                          value::text(cell(*session, 0, "duration")), value::text(client)});
    std::printf("\nTracing session: %s\n\n%s\n", uuid.c_str(), format_table(table, true).c_str());
    std::fflush(stdout);
}

bool run_one(shell_state& st, const statement_text& stmt, const std::string& where) {
    auto fail = [&](const std::string& message) {
        std::fprintf(stderr, "%s:%d:%s\n", where.c_str(), stmt.line, message.c_str());
        return false;
    };
    std::vector<std::string> words = words_of(stmt.text);
    std::string first = upper(words.empty() ? "" : words[0]);
    std::string second = upper(words.size() > 1 ? words[1] : "");
    if (first == "EXIT" || first == "QUIT") {
        st.quit = true;
        return true;
    }
    if (first == "HELP" || first == "?") {
        std::fputs(k_help, stdout);
        return true;
    }
    if (first == "PAGING") {
        if (second.empty()) {
            std::printf(st.paging ? "Query paging is currently enabled. Use PAGING OFF to disable\nPage size: %d\n"
                                  : "Query paging is currently disabled. Use PAGING ON to enable.\n",
                        st.page_size);
        } else if (second == "ON") {
            st.paging = true;
            std::printf("Now Query paging is enabled\nPage size: %d\n", st.page_size);
        } else if (second == "OFF") {
            st.paging = false;
            std::printf("Disabled Query paging.\n");
        } else {
            char* end = nullptr;
            long n = std::strtol(second.c_str(), &end, 10);
            if (*end != '\0' || n <= 0) return fail(fmt::format("PAGING takes ON, OFF or a page size above 0, not '{}'", words[1]));
            st.paging = true;
            st.page_size = static_cast<int32_t>(n);
            std::printf("Page size: %d\n", st.page_size);
        }
        return true;
    }
    if (first == "EXPAND") {
        if (second == "ON" || second == "OFF") {
            st.expand = second == "ON";
            std::printf(st.expand ? "Now Expanded output is enabled\n" : "Disabled Expanded output.\n");
        } else {
            std::printf("Expanded output is currently %s. Use EXPAND %s to %s\n", st.expand ? "enabled" : "disabled",
                        st.expand ? "OFF" : "ON", st.expand ? "disable" : "enable");
        }
        return true;
    }
    if (first == "TRACING") {
        // cqlsh 6's wording: "TRACING is OFF", "TRACING set to ON", "TRACING is already ON".
        if (second.empty()) {
            std::printf("TRACING is %s\n", st.tracing ? "ON" : "OFF");
            return true;
        }
        if (second != "ON" && second != "OFF") return fail(fmt::format("TRACING takes ON or OFF, not '{}'", words[1]));
        bool on = second == "ON";
        std::printf(on == st.tracing ? "TRACING is already %s\n" : "TRACING set to %s\n", second.c_str());
        st.tracing = on;
        return true;
    }
    if (first == "CONSISTENCY") {
        if (second.empty()) {
            std::printf("Current consistency level is %s.\n", consistency_name(st.level).c_str());
            return true;
        }
        auto level = parse_consistency(second);
        if (!level) return fail(fmt::format("Improper CONSISTENCY command: '{}' is not a consistency level", words[1]));
        st.level = *level;
        std::printf("Consistency level set to %s.\n", second.c_str());
        return true;
    }

    query_options opts;
    opts.consistency_level = st.level;
    opts.page_size = st.page_size;
    opts.tracing = st.tracing;
    auto page = st.conn->query(stmt.text, {}, opts);
    if (!page) return fail(page.err().message());
    // Printed after the statement's own output, as cqlsh does.
    struct trace_printer {
        shell_state& st;
        std::string id;
        ~trace_printer() {
            if (!id.empty()) print_trace(st, id);
        }
    } trace_after{st, page->trace_id};
    if (first == "USE") {
        // Every connection of the session must use the keyspace: reconnect with it.
        if (auto conn = reconnect(st, page->keyspace.empty() ? words.size() > 1 ? words[1] : "" : page->keyspace); !conn) {
            return fail(conn.err().message());
        }
        return true;
    }
    if (first == "DESCRIBE" || first == "DESC") {
        rows all = std::move(*page);
        while (all.paging_state) {
            query_options more = opts;
            more.paging_state = all.paging_state;
            auto next = st.conn->query(stmt.text, {}, more);
            if (!next) return fail(next.err().message());
            all.data.insert(all.data.end(), std::make_move_iterator(next->data.begin()),
                            std::make_move_iterator(next->data.end()));
            all.paging_state = next->paging_state;
        }
        print_describe(all, second == "FULL" ? "SCHEMA" : second);
        return true;
    }
    for (const auto& warning : page->warnings) std::fprintf(stderr, "Warnings :\n%s\n\n", warning.c_str());
    if (page->columns.empty()) return true;  // INSERT, DDL: nothing to show
    // cqlsh's layout: a blank line, each page (a header on the first, and on
    // every page on a terminal), a blank line, then "(N rows)".
    std::printf("\n");
    size_t total = 0;
    bool first_page = true;
    while (true) {
        if (!page->data.empty() || first_page) {
            std::string text = st.expand ? format_vertical(*page, total + 1)
                                         : format_table(*page, first_page || st.interactive);
            if (st.interactive && !st.expand) text += "\n";
            std::fputs(text.c_str(), stdout);
            total += page->size();
        }
        if (!page->paging_state) break;
        if (st.interactive && st.paging) {
            std::fflush(stdout);
            char* answer = readline("---MORE---");
            if (answer == nullptr) break;
            bool quit = trim(answer) == "q";
            std::free(answer);
            if (quit) break;
        }
        query_options more = opts;
        more.paging_state = page->paging_state;
        page = st.conn->query(stmt.text, {}, more);
        if (!page) return fail(page.err().message());
        first_page = false;
    }
    if (!st.interactive && !st.expand) std::printf("\n");
    std::printf("(%zu rows)\n", total);
    std::fflush(stdout);
    return true;
}

bool run_text(shell_state& st, const std::string& text, const std::string& where) {
    std::string rest;
    bool ok = true;
    for (const auto& stmt : split_statements(text + "\n", rest)) {
        ok = run_one(st, stmt, where) && ok;
        if (st.quit) return ok;
    }
    if (!trim(rest).empty()) {
        // A last statement without `;` still runs, as with cqlsh -e.
        ok = run_one(st, {trim(rest), 1}, where) && ok;
    }
    return ok;
}

std::string history_path() {
    const char* home = std::getenv("HOME");
    return home == nullptr ? std::string() : std::string(home) + "/.millrace_cql_history";
}

int interactive_loop(shell_state& st) {
    std::string history = history_path();
    using_history();
    if (!history.empty()) read_history(history.c_str());
    std::printf("Connected to %s.\n[millrace cql shell | CQL native protocol v4]\nUse HELP for help.\n",
                st.options.contact_points.front().c_str());
    std::string pending;
    int line_no = 0;
    bool ok = true;
    while (true) {
        std::string prompt = pending.empty() ? (st.keyspace.empty() ? "cql> " : "cql:" + st.keyspace + "> ") : "   ... ";
        char* raw = readline(prompt.c_str());
        if (raw == nullptr) {  // Ctrl-D
            std::printf("\n");
            break;
        }
        std::string line = raw;
        std::free(raw);
        ++line_no;
        if (!trim(line).empty()) {
            add_history(line.c_str());
            if (!history.empty()) write_history(history.c_str());
        }
        std::string rest;
        auto statements = split_statements(pending + line + "\n", rest, line_no);
        for (const auto& stmt : statements) {
            ok = run_one(st, stmt, "<stdin>") && ok;
            if (st.quit) return ok ? 0 : 1;
        }
        pending = rest;
    }
    return ok ? 0 : 1;
}

const char* k_usage =
    "usage: millrace cql shell [host [port]] [-e STATEMENTS | -f FILE] [-u USER] [-p PASSWORD] [-k KEYSPACE]\n"
    "                          [--ssl] [--connect-timeout SECONDS] [--request-timeout SECONDS]\n"
    "  host, port   the CQL server (default $CQLSH_HOST / $CQLSH_PORT, else the configuration's CQL store:\n"
    "               cql.contact_points, else cql.host and cql.port)\n"
    "  -e           run the statements (';'-separated) and exit\n"
    "  -f           run the statements of FILE and exit\n"
    "  -u, -p       credentials, sent when the server asks for them (default: cql.username and\n"
    "               cql.password, or with security.enabled the admin user)\n"
    "  -k           the keyspace to USE\n"
    "  --ssl        connect with TLS, verifying the server against $SSL_CERTFILE, else cql.tls_ca, else\n"
    "               (security.enabled) security.tls_ca or <data_dir>/tls/ca.pem; on by default when\n"
    "               the configuration names a CA for the CQL store\n"
    "Global options go before `cql shell`: millrace [--config FILE] [--secure] [--set KEY=VALUE] cql shell ...\n"
    "Without -e or -f it reads statements from the terminal (line editing and history in\n"
    "~/.millrace_cql_history) or from standard input. HELP lists the shell commands.\n";

}  // namespace

int run_shell(const std::vector<std::string>& args, const shell_defaults& defaults) {
    std::string host = std::getenv("CQLSH_HOST") ? std::getenv("CQLSH_HOST") : defaults.host;
    std::string port = std::getenv("CQLSH_PORT") ? std::getenv("CQLSH_PORT") : defaults.port;
    std::string execute, file, keyspace;
    bool have_execute = false;
    bool ssl = !defaults.tls_ca.empty();
    shell_state st;
    st.options.username = defaults.username;
    st.options.password = defaults.password;
    std::vector<std::string> positional;
    for (size_t idx = 0; idx < args.size(); ++idx) {
        const std::string& arg = args[idx];
        auto take = [&](std::string& out) {
            if (idx + 1 >= args.size()) {
                std::fprintf(stderr, "millrace cql shell: option %s needs a value\n%s", arg.c_str(), k_usage);
                return false;
            }
            out = args[++idx];
            return true;
        };
        std::string seconds;
        if (arg == "-h" || arg == "--help") {
            std::fputs(k_usage, stdout);
            return 0;
        } else if (arg == "-e" || arg == "--execute") {
            if (!take(execute)) return 2;
            have_execute = true;
        } else if (arg == "-f" || arg == "--file") {
            if (!take(file)) return 2;
        } else if (arg == "-u" || arg == "--username") {
            if (!take(st.options.username)) return 2;
        } else if (arg == "-p" || arg == "--password") {
            if (!take(st.options.password)) return 2;
        } else if (arg == "-k" || arg == "--keyspace") {
            if (!take(keyspace)) return 2;
        } else if (arg == "--ssl") {
            ssl = true;
        } else if (arg == "--connect-timeout" || arg == "--request-timeout") {
            if (!take(seconds)) return 2;
            char* end = nullptr;
            double value = std::strtod(seconds.c_str(), &end);
            if (*end != '\0' || value <= 0) {
                std::fprintf(stderr, "millrace cql shell: %s takes seconds above 0, not '%s'\n", arg.c_str(), seconds.c_str());
                return 2;
            }
            auto ms = std::chrono::milliseconds(static_cast<int64_t>(value * 1000));
            (arg == "--connect-timeout" ? st.options.connect_timeout : st.options.request_timeout) = ms;
        } else if (!arg.empty() && arg[0] == '-') {
            std::fprintf(stderr, "millrace cql shell: unknown option '%s'\n%s", arg.c_str(), k_usage);
            return 2;
        } else {
            positional.push_back(arg);
        }
    }
    if (positional.size() > 2) {
        std::fprintf(stderr, "millrace cql shell: unexpected argument '%s'\n%s", positional[2].c_str(), k_usage);
        return 2;
    }
    if (have_execute && !file.empty()) {
        std::fprintf(stderr, "millrace cql shell: -e and -f cannot be used together\n");
        return 2;
    }
    if (!positional.empty()) host = positional[0];
    if (positional.size() > 1) port = positional[1];
    if (port.empty() || port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) == 0 ||
        std::stoul(port) > 65535) {
        std::fprintf(stderr, "millrace cql shell: port '%s' is not a number from 1 to 65535\n", port.c_str());
        return 2;
    }
    std::string file_text;
    if (!file.empty()) {
        std::ifstream in(file);
        if (!in) {
            std::fprintf(stderr, "millrace cql shell: cannot read %s: %s\n", file.c_str(), std::strerror(errno));
            return 2;
        }
        std::stringstream buffer;
        buffer << in.rdbuf();
        file_text = buffer.str();
    }
    if (ssl) {
        // cqlsh's order: $SSL_CERTFILE, then the configured CA (its cqlshrc's [ssl] certfile).
        const char* certfile = std::getenv("SSL_CERTFILE");
        st.options.tls_ca = certfile != nullptr && *certfile != '\0' ? certfile : defaults.tls_ca;
        if (st.options.tls_ca.empty()) {
            std::fprintf(stderr, "millrace cql shell: --ssl needs the CA to verify the server with: set $SSL_CERTFILE or "
                                 "cql.tls_ca (with --secure, the generated <data_dir>/tls/ca.pem is used when it exists)\n");
            return 2;
        }
    }
    // One connection: USE, consistency and paging state stay on it.
    st.options.contact_points = {host.find(':') != std::string::npos ? "[" + host + "]:" + port : host + ":" + port};
    st.options.connections_per_host = 1;
    st.options.max_retries = 1;
    st.options.default_consistency = consistency::one;
    auto conn = session::connect(st.options);
    if (!conn) {
        std::fprintf(stderr, "Connection error: %s\n", conn.err().message().c_str());
        return 2;
    }
    st.conn = *conn;
    if (!keyspace.empty()) {
        if (auto used = st.conn->query("USE " + keyspace); !used) {
            std::fprintf(stderr, "millrace cql shell: -k %s: %s\n", keyspace.c_str(), used.err().message().c_str());
            return 2;
        }
        if (auto again = reconnect(st, keyspace); !again) {
            std::fprintf(stderr, "Connection error: %s\n", again.err().message().c_str());
            return 2;
        }
    }
    int code = 0;
    if (have_execute) {
        code = run_text(st, execute, "<stdin>") ? 0 : 1;
    } else if (!file.empty()) {
        code = run_text(st, file_text, file) ? 0 : 1;
    } else if (::isatty(STDIN_FILENO) == 1) {
        st.interactive = ::isatty(STDOUT_FILENO) == 1;
        code = interactive_loop(st);
    } else {
        std::stringstream buffer;
        buffer << std::cin.rdbuf();
        code = run_text(st, buffer.str(), "<stdin>") ? 0 : 1;
    }
    std::fflush(stdout);
    st.conn->close();
    return code;
}

}  // namespace millrace::cql_client
