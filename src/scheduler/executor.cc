#include "executor.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>
#include <nlohmann/json.hpp>

#include "millrace/common/http.h"
#include "millrace/common/http_client.h"
#include "millrace/common/log.h"
#include "millrace/common/security.h"
#include "millrace/common/tls.h"
#include "millrace/scheduler/rendered.h"
#include "millrace/source/fetcher.h"
#include "millrace/source/generator.h"
#include "millrace/source/pg_writer.h"
#include "json.h"

extern char** environ;

namespace millrace::scheduler {
namespace {

using steady = std::chrono::steady_clock;

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The try's log: a file, or stdout for `tasks test`.
class task_log {
public:
    explicit task_log(const std::string& path) {
        if (path.empty()) {
            fd_ = ::dup(STDOUT_FILENO);
            return;
        }
        std::error_code ec;
        std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
        fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    ~task_log() {
        if (fd_ >= 0) ::close(fd_);
    }
    int fd() const { return fd_; }
    template <typename... Args>
    void line(fmt::format_string<Args...> f, Args&&... a) {
        std::string text = fmt::format("[{}] {}\n", format_ms(now_ms()), fmt::format(f, std::forward<Args>(a)...));
        write(masks_.empty() ? text : redact_text(std::move(text), masks_));
    }
    // Secrets the try read (rendered.h): masked in the lines the scheduler writes from
    // now on (not in the task process's own output, which goes to the file directly).
    void set_masks(std::vector<std::string> masks) { masks_ = std::move(masks); }
    void write(std::string_view text) {
        if (fd_ < 0) return;
        size_t done = 0;
        while (done < text.size()) {
            ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
            if (n <= 0) return;
            done += static_cast<size_t>(n);
        }
    }

private:
    int fd_ = -1;
    std::vector<std::string> masks_;
};

try_outcome fail(task_log& log, std::string note) {
    log.line("ERROR {}", note);
    return {false, false, std::move(note)};
}

// ---- rendering: templated values stay data ------------------------------

// A template split at its placeholders: literal text, and the values that
// replace "{{ name }}". Each task kind joins them so that no value becomes
// syntax (docs/scheduler.md, "Templates and injection").
struct segment {
    bool value = false;
    std::string text;
    std::string source;  // a value's placeholder as written, "{{ params.x }}"
};

result<std::vector<segment>> split_template(std::string_view text, const std::map<std::string, std::string>& vars) {
    std::vector<segment> out;
    size_t pos = 0;
    for (;;) {
        size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.push_back({false, std::string(text.substr(pos))});
            return out;
        }
        out.push_back({false, std::string(text.substr(pos, open - pos))});
        size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return make_error(errc::invalid_argument, "template '{}': '{{{{' at offset {} is not closed", text, open);
        }
        // render_template reports unknown names the same way everywhere.
        auto rendered = render_template(text.substr(open, close + 2 - open), vars);
        if (!rendered) return rendered.err();
        out.push_back({true, *rendered, std::string(text.substr(open, close + 2 - open))});
        pos = close + 2;
    }
}

// A BashOperator's bash_command (Airflow DAG files): split at its "{{ ... }}"
// placeholders without evaluating them. Each placeholder is evaluated on
// its own by the real jinja2 with Airflow's context (evaluate_placeholders),
// and its result is then placed like any template value (render_shell), so
// an expression's result is data, never shell syntax. `{% ... %}` statements
// are refused: their output is shell text that could depend on a run's conf.
result<std::vector<segment>> split_placeholders(std::string_view text) {
    if (size_t at = text.find("{%"); at != std::string_view::npos) {
        size_t end = text.find("%}", at);
        std::string_view construct = text.substr(at, end == std::string_view::npos ? 20 : end + 2 - at);
        return make_error(errc::invalid_argument,
                          "bash_command: the Jinja statement '{}' at offset {} is not rendered in a bash command (its "
                          "output would be shell syntax that a run's conf could change); compute the value in a "
                          "{{{{ expression }}}}, pass it in `env`, or use a PythonOperator",
                          construct, at);
    }
    std::vector<segment> out;
    size_t pos = 0;
    for (;;) {
        size_t open = text.find("{{", pos);
        if (open == std::string_view::npos) {
            out.push_back({false, std::string(text.substr(pos))});
            return out;
        }
        out.push_back({false, std::string(text.substr(pos, open - pos))});
        size_t close = text.find("}}", open + 2);
        if (close == std::string_view::npos) {
            return make_error(errc::invalid_argument, "template '{}': '{{{{' at offset {} is not closed", text, open);
        }
        out.push_back({true, std::string(), std::string(text.substr(open, close + 2 - open))});
        pos = close + 2;
    }
}

// Shell: every value is passed in an environment variable
// MILLRACE_TEMPLATE_<n> and the command names it, quoted for where it
// stands: "${V}" outside quotes, ${V} inside "...". The shell expands a
// variable without parsing its value, so the value is always data and one
// word. A placeholder where an expansion would be parsed again or split is
// refused: inside '...' (the text is usually a script a nested shell
// parses), inside $(...) or `...`, inside $(( )), (( )) or [[ ]] (bash
// evaluates a[$(cmd)] there), and in a here-document.
struct shell_command {
    std::string command;
    std::map<std::string, std::string> env;
};

class shell_lexer {
public:
    // Where a placeholder at the current position would stand, when that is
    // a place it may not; empty when "${V}" or ${V} is safe.
    std::string refused_place() const {
        if (heredoc_body_ || reading_delim_) return "in a here-document";
        for (auto f : stack_) {
            switch (f) {
                case frame::sq: return "inside single quotes '...'";
                case frame::cmdsub: return "inside a command substitution $(...)";
                case frame::backtick: return "inside a command substitution `...`";
                case frame::arith: return "inside an arithmetic expression $(( )) or (( ))";
                case frame::dbracket: return "inside [[ ... ]]";
                default: break;
            }
        }
        return {};
    }
    bool in_double_quotes() const { return !stack_.empty() && stack_.back() == frame::dq; }
    void value() { escaped_ = false; last_ = 'x'; }

    // Feeds one literal text; `text` is the whole literal segment so that a
    // token can look ahead.
    void feed(std::string_view text) {
        for (size_t idx = 0; idx < text.size(); ++idx) idx = step(text, idx);
    }

private:
    enum class frame { dq, sq, cmdsub, backtick, arith, dbracket, paren };
    std::vector<frame> stack_;
    bool escaped_ = false;
    char last_ = '\n';
    // here-documents
    bool reading_delim_ = false, delim_started_ = false, strip_next_ = false;
    std::string delim_;
    std::vector<std::pair<std::string, bool>> pending_;  // delimiter, strip tabs (<<-)
    bool heredoc_body_ = false;
    std::string line_;

    frame top() const { return stack_.empty() ? frame::paren : stack_.back(); }
    bool unquoted() const { return stack_.empty() || (top() != frame::dq && top() != frame::sq); }

    size_t step(std::string_view t, size_t idx) {
        char ch = t[idx];
        char next = idx + 1 < t.size() ? t[idx + 1] : '\0';
        char next2 = idx + 2 < t.size() ? t[idx + 2] : '\0';
        if (heredoc_body_) {
            if (ch != '\n') {
                line_.push_back(ch);
                return idx;
            }
            std::string line = line_;
            line_.clear();
            if (pending_.front().second) line.erase(0, line.find_first_not_of('\t') == std::string::npos ? line.size() : line.find_first_not_of('\t'));
            if (line == pending_.front().first) {
                pending_.erase(pending_.begin());
                if (pending_.empty()) heredoc_body_ = false;
            }
            return idx;
        }
        if (reading_delim_) {
            bool blank = ch == ' ' || ch == '\t';
            if (!delim_started_ && ch == '-' && delim_.empty() && !strip_next_) {
                strip_next_ = true;
                return idx;
            }
            if (!delim_started_ && blank) return idx;
            bool ends = blank || ch == '\n' || ch == ';' || ch == '|' || ch == '&' || ch == '<' || ch == '>' ||
                        ch == '(' || ch == ')';
            if (!ends) {
                delim_started_ = true;
                if (ch != '\'' && ch != '"' && ch != '\\') delim_.push_back(ch);
                return idx;
            }
            pending_.emplace_back(delim_, strip_next_);
            reading_delim_ = delim_started_ = strip_next_ = false;
            delim_.clear();
            // the terminating character is processed normally
        }
        char prev = last_;
        last_ = ch;
        if (escaped_) {
            escaped_ = false;
            return idx;
        }
        if (top() == frame::sq && !stack_.empty()) {
            if (ch == '\'') stack_.pop_back();
            return idx;
        }
        if (ch == '\\') {
            escaped_ = true;
            return idx;
        }
        if (ch == '$' && next == '(' && next2 == '(') {
            stack_.push_back(frame::arith);
            last_ = '(';
            return idx + 2;
        }
        if (ch == '$' && next == '(') {
            stack_.push_back(frame::cmdsub);
            last_ = '(';
            return idx + 1;
        }
        if (ch == '`') {
            if (top() == frame::backtick && !stack_.empty()) stack_.pop_back();
            else stack_.push_back(frame::backtick);
            return idx;
        }
        if (top() == frame::dq && !stack_.empty()) {
            if (ch == '"') stack_.pop_back();
            return idx;
        }
        // unquoted (top level, $(...), `...`, (( )), [[ ]], ( ))
        switch (ch) {
            case '\'': stack_.push_back(frame::sq); return idx;
            case '"': stack_.push_back(frame::dq); return idx;
            case '(':
                if (next == '(' && top() != frame::arith) {
                    stack_.push_back(frame::arith);
                    last_ = '(';
                    return idx + 1;
                }
                stack_.push_back(frame::paren);
                return idx;
            case ')':
                if (!stack_.empty() && top() == frame::paren) {
                    stack_.pop_back();
                } else if (!stack_.empty() && top() == frame::arith && next == ')') {
                    stack_.pop_back();
                    return idx + 1;
                } else if (!stack_.empty() && top() == frame::cmdsub) {
                    stack_.pop_back();
                }
                return idx;
            case '[':
                if (next == '[' && (prev == ' ' || prev == '\t' || prev == '\n' || prev == ';' || prev == '&' ||
                                    prev == '|' || prev == '(' || prev == '!')) {
                    stack_.push_back(frame::dbracket);
                    return idx + 1;
                }
                return idx;
            case ']':
                if (next == ']' && !stack_.empty() && top() == frame::dbracket) {
                    stack_.pop_back();
                    return idx + 1;
                }
                return idx;
            case '<':
                if (std::find(stack_.begin(), stack_.end(), frame::arith) != stack_.end()) return idx;  // a shift
                if (next == '<' && next2 != '<' && prev != '<') {
                    reading_delim_ = true;
                    return idx + 1;
                }
                if (next == '<' && next2 == '<') return idx + 2;  // <<< here-string: a word
                return idx;
            case '\n':
                if (!pending_.empty()) heredoc_body_ = true;
                return idx;
            default: return idx;
        }
    }
};

result<shell_command> render_shell(const std::vector<segment>& parts) {
    shell_lexer lexer;
    shell_command out;
    for (const auto& part : parts) {
        if (part.value) {
            std::string name = fmt::format("MILLRACE_TEMPLATE_{}", out.env.size() + 1);
            if (auto place = lexer.refused_place(); !place.empty()) {
                return make_error(errc::invalid_argument,
                                  "command: the placeholder {} stands {}, where the shell would parse or split its value; "
                                  "write it as a bare word or inside double quotes at the top level (it becomes "
                                  "\"${{{}}}\"), or pass it in `env` and use \"$NAME\"",
                                  part.source, place, name);
            }
            out.env[name] = part.text;
            out.command += lexer.in_double_quotes() ? "${" + name + "}" : "\"${" + name + "}\"";
            lexer.value();
            continue;
        }
        out.command += part.text;
        lexer.feed(part.text);
    }
    return out;
}

// SQL: every value becomes a bind parameter ($1, $2, ... per statement),
// never SQL text. '{{ x }}' (a whole string literal) becomes $n; a value
// inside a longer literal is concatenated: 'a{{ x }}b' -> 'a' || $n || 'b'.
// Statements are split at top-level semicolons, since one extended-protocol
// statement carries the parameters.
struct sql_statement {
    std::string text;
    std::vector<std::string> values;
};

result<std::vector<sql_statement>> render_sql(const std::vector<segment>& parts) {
    enum class lex { none, single, single_end, ident, line_comment, block_comment, dollar } state = lex::none;
    std::vector<sql_statement> out(1);
    std::string dollar_tag;
    size_t literal_start = 0;   // where the open string literal's quote is in out.back().text
    bool skip_quote = false;    // the closing quote of a '{{ x }}' literal replaced by $n
    for (size_t part_idx = 0; part_idx < parts.size(); ++part_idx) {
        const auto& part = parts[part_idx];
        auto& stmt = out.back();
        if (part.value) {
            if (state == lex::single_end) state = lex::none;
            stmt.values.push_back(part.text);
            std::string ref = fmt::format("${}", stmt.values.size());
            switch (state) {
                case lex::none: stmt.text += ref; break;
                case lex::single: {
                    const bool whole = stmt.text.size() == literal_start + 1 && part_idx + 1 < parts.size() &&
                                       !parts[part_idx + 1].value && parts[part_idx + 1].text.rfind("'", 0) == 0 &&
                                       parts[part_idx + 1].text.rfind("''", 0) != 0;
                    if (whole) {
                        stmt.text.pop_back();  // the opening quote
                        stmt.text += ref;
                        state = lex::none;
                        skip_quote = true;
                    } else {
                        stmt.text += "' || " + ref + "::text || '";
                        literal_start = stmt.text.size() - 1;
                    }
                    break;
                }
                case lex::line_comment:
                case lex::block_comment:
                    stmt.values.pop_back();  // nothing of a value goes into a comment
                    break;
                case lex::ident:
                    return make_error(errc::invalid_argument,
                                      "sql: a template value inside a quoted identifier (\"...\") cannot be a bind parameter");
                case lex::dollar:
                case lex::single_end:
                    return make_error(errc::invalid_argument,
                                      "sql: a template value inside a dollar-quoted string cannot be a bind parameter");
            }
            continue;
        }
        const std::string& text = part.text;
        for (size_t idx = skip_quote ? 1 : 0; idx < text.size(); ++idx) {
            char ch = text[idx];
            char next = idx + 1 < text.size() ? text[idx + 1] : '\0';
            auto& cur = out.back();
            switch (state) {
                case lex::single_end:
                    if (ch == '\'') {  // '' inside a literal
                        state = lex::single;
                        cur.text.push_back(ch);
                        continue;
                    }
                    state = lex::none;
                    [[fallthrough]];
                case lex::none:
                    if (ch == ';') {
                        cur.text.push_back(ch);
                        out.emplace_back();
                        continue;
                    }
                    if (ch == '\'') {
                        state = lex::single;
                        literal_start = cur.text.size();
                    } else if (ch == '"') {
                        state = lex::ident;
                    } else if (ch == '-' && next == '-') {
                        state = lex::line_comment;
                    } else if (ch == '/' && next == '*') {
                        state = lex::block_comment;
                    } else if (ch == '$') {
                        size_t end = text.find('$', idx + 1);
                        std::string tag = end == std::string::npos ? std::string() : text.substr(idx, end - idx + 1);
                        bool is_tag = !tag.empty() && std::all_of(tag.begin() + 1, tag.end() - 1, [](char c) {
                            return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                        }) && !(tag.size() > 2 && std::isdigit(static_cast<unsigned char>(tag[1])));
                        if (is_tag) {
                            state = lex::dollar;
                            dollar_tag = tag;
                            cur.text += tag;
                            idx = end;
                            continue;
                        }
                    }
                    break;
                case lex::single:
                    if (ch == '\'') state = lex::single_end;
                    break;
                case lex::ident:
                    if (ch == '"') state = lex::none;
                    break;
                case lex::line_comment:
                    if (ch == '\n') state = lex::none;
                    break;
                case lex::block_comment:
                    if (ch == '*' && next == '/') {
                        cur.text += "*/";
                        ++idx;
                        state = lex::none;
                        continue;
                    }
                    break;
                case lex::dollar:
                    if (text.compare(idx, dollar_tag.size(), dollar_tag) == 0) {
                        cur.text += dollar_tag;
                        idx += dollar_tag.size() - 1;
                        state = lex::none;
                        continue;
                    }
                    break;
            }
            cur.text.push_back(ch);
        }
        skip_quote = false;
    }
    // Drop statements that are only whitespace (after the last ';').
    std::erase_if(out, [](const sql_statement& st) {
        return st.text.find_first_not_of(" \t\r\n;") == std::string::npos && st.values.empty();
    });
    return out;
}


bool has_control(std::string_view text) {
    return std::any_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// URL: a value in the scheme or authority (before the path starts) may
// hold only letters, digits, '.' and '-' (a port only digits), so it cannot
// change the scheme, host, port or userinfo; a value in the path, query or
// fragment is percent-encoded, so it stays one value.
result<std::string> render_url(const std::vector<segment>& parts) {
    std::string out;
    for (const auto& part : parts) {
        if (!part.value) {
            out += part.text;
            continue;
        }
        auto scheme_end = out.find("://");
        bool in_authority = scheme_end == std::string::npos ||
                            out.find_first_of("/?#", scheme_end + 3) == std::string::npos;
        if (in_authority) {
            bool port = scheme_end != std::string::npos && out.find(':', scheme_end + 3) != std::string::npos;
            bool ok = std::all_of(part.text.begin(), part.text.end(), [&](unsigned char c) {
                return port ? std::isdigit(c) != 0 : (std::isalnum(c) != 0 || c == '.' || c == '-');
            });
            if (!ok) {
                return make_error(errc::invalid_argument,
                                  "url: the templated value of {} stands in the {} part and may hold only {}",
                                  part.source, scheme_end == std::string::npos ? "scheme or host" : port ? "port" : "host",
                                  port ? "digits" : "letters, digits, '.' and '-'");
            }
            out += part.text;
        } else {
            out += http::percent_encode(part.text);
        }
    }
    return out;
}

// JSON body: a value inside a JSON string is escaped into it; a value
// outside strings is a JSON number, true, false or null when it reads as
// one, else a JSON string. It can never add keys or structure.
std::string render_json_body(const std::vector<segment>& parts) {
    bool in_string = false, escaped = false;
    std::string out;
    for (const auto& part : parts) {
        if (part.value) {
            if (in_string) {
                std::string quoted = json::quote(part.text);
                out += quoted.substr(1, quoted.size() - 2);
            } else {
                auto parsed = nlohmann::json::parse(part.text, nullptr, false);
                bool scalar = !parsed.is_discarded() && (parsed.is_number() || parsed.is_boolean() || parsed.is_null());
                out += scalar ? parsed.dump() : json::quote(part.text);
            }
            continue;
        }
        for (char ch : part.text) {
            out.push_back(ch);
            if (escaped) {
                escaped = false;
            } else if (in_string && ch == '\\') {
                escaped = true;
            } else if (ch == '"') {
                in_string = !in_string;
            }
        }
    }
    return out;
}

std::string join_plain(const std::vector<segment>& parts) {
    std::string out;
    for (const auto& part : parts) out += part.text;
    return out;
}

// ---- shell ---------------------------------------------------------------

try_outcome run_shell(const std::map<std::string, std::string>& params, const std::map<std::string, std::string>& env_add,
                      int64_t timeout_ms, task_log& log, const std::atomic<bool>& cancel,
                      const std::function<void(int)>& on_start) {
    const std::string& command = params.at("command");
    std::string cwd = params.count("cwd") ? params.at("cwd") : std::string();
    // Everything the child needs is built before fork: after it, only
    // async-signal-safe calls are allowed in a threaded process.
    std::vector<std::string> env_strings;
    // An Airflow BashOperator with `env` and without append_env gets only that env (Airflow's rule).
    const bool inherit = !params.count("append_env") || params.at("append_env") == "true";
    for (char** e = environ; *e != nullptr && inherit; ++e) {
        std::string_view entry(*e);
        std::string name(entry.substr(0, entry.find('=')));
        if (!env_add.count(name)) env_strings.emplace_back(entry);
    }
    for (const auto& [name, value] : env_add) env_strings.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::string sh = params.count("shell") && params.at("shell") == "bash" ? "/bin/bash" : "/bin/sh", dash_c = "-c",
                cmd = command;
    char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};
    int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    // An Airflow BashOperator pushes its output's last line as XCom: its output
    // (stdout and stderr, as Airflow merges them) then passes through a pipe.
    const bool capture = params.count("xcom_push") && params.at("xcom_push") == "true";
    int out_pipe[2] = {-1, -1};
    if (capture && ::pipe2(out_pipe, O_CLOEXEC) != 0) {
        ::close(null_fd);
        return fail(log, fmt::format("pipe failed: {}", std::strerror(errno)));
    }
    log.line("running: {}", command);
    for (const auto& [name, value] : env_add) {
        if (name.rfind("MILLRACE_TEMPLATE_", 0) == 0) log.line("  {}={}", name, value);
    }
    pid_t parent = ::getpid();
    pid_t pid = ::fork();
    if (pid < 0) {
        ::close(null_fd);
        return fail(log, fmt::format("fork failed: {}", std::strerror(errno)));
    }
    if (pid == 0) {
        ::setpgid(0, 0);
        // Dies with the scheduler (even on kill -9), so a crashed scheduler leaves no orphan.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);
        ::dup2(null_fd, 0);
        ::dup2(capture ? out_pipe[1] : log.fd(), 1);
        ::dup2(capture ? out_pipe[1] : log.fd(), 2);
        if (!cwd.empty() && ::chdir(cwd.c_str()) != 0) {
            const char msg[] = "millrace: cannot change to the task's cwd\n";
            (void)!::write(2, msg, sizeof msg - 1);
            ::_exit(126);
        }
        ::execve(argv[0], argv, envp.data());
        ::_exit(127);
    }
    ::close(null_fd);
    std::string tail;  // the captured output's end, for the last line
    auto drain = [&] {
        char buffer[4096];
        for (;;) {
            ssize_t n = ::read(out_pipe[0], buffer, sizeof buffer);
            if (n <= 0) return;
            log.write(std::string_view(buffer, static_cast<size_t>(n)));
            tail.append(buffer, static_cast<size_t>(n));
            if (tail.size() > 65536) tail.erase(0, tail.size() - 65536);
        }
    };
    if (capture) {
        ::close(out_pipe[1]);
        ::fcntl(out_pipe[0], F_SETFL, ::fcntl(out_pipe[0], F_GETFL) | O_NONBLOCK);
    }
    ::setpgid(pid, pid);
    if (on_start) on_start(pid);
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    const auto deadline = timeout_ms > 0 ? steady::now() + std::chrono::milliseconds(timeout_ms) : steady::time_point::max();
    int wstatus = 0;
    bool timed_out = false, cancelled = false;
    for (;;) {
        pid_t done = ::waitpid(pid, &wstatus, WNOHANG);
        if (done == pid) break;
        if (steady::now() >= deadline || cancel.load()) {
            timed_out = !cancel.load();
            cancelled = cancel.load();
            ::kill(-pid, SIGTERM);
            auto grace = steady::now() + std::chrono::seconds(3);
            while (::waitpid(pid, &wstatus, WNOHANG) != pid) {
                if (steady::now() >= grace) {
                    ::kill(-pid, SIGKILL);
                    ::waitpid(pid, &wstatus, 0);
                    break;
                }
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            }
            ::kill(-pid, SIGKILL);  // stragglers of the group
            break;
        }
        int wait_ms = 100;
        if (deadline != steady::time_point::max()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - steady::now()).count();
            wait_ms = static_cast<int>(std::clamp<int64_t>(left, 0, 100));
        }
        if (pidfd >= 0) {
            pollfd pfds[2] = {{pidfd, POLLIN, 0}, {out_pipe[0], POLLIN, 0}};
            ::poll(pfds, capture ? 2 : 1, wait_ms);
        } else {
            std::this_thread::sleep_for(std::chrono::milliseconds(std::min(wait_ms, 2)));
        }
        if (capture) drain();
    }
    if (pidfd >= 0) ::close(pidfd);
    if (capture) {
        drain();  // what is buffered; a background child still writing is not waited for
        ::close(out_pipe[0]);
    }
    if (timed_out) {
        try_outcome out = fail(log, fmt::format("execution_timeout of {} ms exceeded: killed process group {}", timeout_ms, pid));
        out.timed_out = true;
        return out;
    }
    if (cancelled) return fail(log, fmt::format("the scheduler is stopping: killed process group {}", pid));
    if (WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0) {
        log.line("command exited with code 0");
        try_outcome out{true, false, {}};
        if (capture) {
            // Airflow: the last line, right-stripped ("" when there was no output).
            while (!tail.empty() && tail.back() == '\n') tail.pop_back();
            std::string last = tail.substr(tail.rfind('\n') == std::string::npos ? 0 : tail.rfind('\n') + 1);
            while (!last.empty() && std::isspace(static_cast<unsigned char>(last.back()))) last.pop_back();
            out.xcoms.emplace_back("return_value", nlohmann::json(last).dump());
            log.line("XCom return_value = {}", nlohmann::json(last).dump());
        }
        return out;
    }
    if (WIFSIGNALED(wstatus)) return fail(log, fmt::format("command was killed by signal {}", WTERMSIG(wstatus)));
    if (params.count("skip_on_exit_code") && std::to_string(WEXITSTATUS(wstatus)) == params.at("skip_on_exit_code")) {
        log.line("command exited with code {}: the task is skipped (skip_on_exit_code)", WEXITSTATUS(wstatus));
        try_outcome out;
        out.skipped = true;
        out.note = fmt::format("skipped: exit code {}", WEXITSTATUS(wstatus));
        return out;
    }
    try_outcome out = fail(log, fmt::format("command exited with code {}", WEXITSTATUS(wstatus)));
    out.exit_code = WEXITSTATUS(wstatus);
    return out;
}

// ---- sql -----------------------------------------------------------------

// Whether a statement is transaction control (BEGIN, COMMIT, ...), after
// leading blanks and comments.
bool is_transaction_control(std::string_view text) {
    size_t idx = 0;
    for (;;) {
        while (idx < text.size() && std::isspace(static_cast<unsigned char>(text[idx]))) ++idx;
        if (text.compare(idx, 2, "--") == 0) {
            idx = text.find('\n', idx);
            if (idx == std::string_view::npos) return false;
        } else if (text.compare(idx, 2, "/*") == 0) {
            idx = text.find("*/", idx);
            if (idx == std::string_view::npos) return false;
            idx += 2;
        } else {
            break;
        }
    }
    std::string word;
    while (idx < text.size() && std::isalpha(static_cast<unsigned char>(text[idx]))) {
        word.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(text[idx++]))));
    }
    static const char* const control[] = {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"};
    return std::any_of(std::begin(control), std::end(control), [&](const char* c) { return word == c; });
}

// Statements split from one templated `sql` run in one transaction, as the
// same SQL sent at once would (an implicit transaction), unless the SQL
// holds its own transaction control.
bool needs_transaction(const std::vector<sql_statement>& statements) {
    return statements.size() > 1 &&
           std::none_of(statements.begin(), statements.end(), [](const sql_statement& st) { return is_transaction_control(st.text); });
}

try_outcome run_sql(const std::string& dsn, const std::vector<sql_statement>& input, int64_t timeout_ms, task_log& log) {
    std::vector<sql_statement> statements;
    const bool transaction = needs_transaction(input);
    if (transaction) statements.push_back({"BEGIN", {}});
    statements.insert(statements.end(), input.begin(), input.end());
    if (transaction) statements.push_back({"COMMIT", {}});
    std::string conninfo = dsn;
    if (timeout_ms > 0) conninfo += fmt::format(" options='-c statement_timeout={}'", timeout_ms);
    PGconn* conn = PQconnectdb(conninfo.c_str());
    if (PQstatus(conn) != CONNECTION_OK) {
        std::string message = PQerrorMessage(conn);
        PQfinish(conn);
        while (!message.empty() && message.back() == '\n') message.pop_back();
        return fail(log, fmt::format("cannot connect to PostgreSQL: {}", message));
    }
    try_outcome out{true, false, {}};
    for (const auto& statement : statements) {
        log.line("executing: {}", statement.text);
        std::vector<const char*> values;
        for (size_t idx = 0; idx < statement.values.size(); ++idx) {
            log.line("  ${} = {}", idx + 1, json::quote(statement.values[idx]));
            values.push_back(statement.values[idx].c_str());
        }
        // No values: the simple protocol, which also runs several statements at once.
        PGresult* res = values.empty() ? PQexec(conn, statement.text.c_str())
                                       : PQexecParams(conn, statement.text.c_str(), static_cast<int>(values.size()), nullptr,
                                                      values.data(), nullptr, nullptr, 0);
        auto code = PQresultStatus(res);
        if (code == PGRES_TUPLES_OK) {
            int rows = PQntuples(res), cols = PQnfields(res);
            std::string header;
            for (int col = 0; col < cols; ++col) header += (col ? "\t" : "") + std::string(PQfname(res, col));
            log.write(header + "\n");
            for (int row = 0; row < std::min(rows, 100); ++row) {
                std::string line;
                for (int col = 0; col < cols; ++col) line += (col ? "\t" : "") + std::string(PQgetvalue(res, row, col));
                log.write(line + "\n");
            }
            log.line("{} rows", rows);
        } else if (code == PGRES_COMMAND_OK || code == PGRES_EMPTY_QUERY) {
            log.line("{} {}", PQcmdStatus(res), PQcmdTuples(res));
        } else {
            std::string message = PQresultErrorMessage(res);
            while (!message.empty() && message.back() == '\n') message.pop_back();
            out = fail(log, fmt::format("SQL failed: {}", message));
            out.timed_out = message.find("statement timeout") != std::string::npos;
            PQclear(res);
            if (transaction) PQclear(PQexec(conn, "ROLLBACK"));
            break;
        }
        PQclear(res);
    }
    PQfinish(conn);
    return out;
}

// ---- http ----------------------------------------------------------------

try_outcome run_http(const task_spec& task, const std::map<std::string, std::string>& p,
                     const std::map<std::string, std::string>& headers, int64_t timeout_ms, task_log& log) {
    std::string method = p.count("method") ? p.at("method") : "GET";
    const std::string& url = p.at("url");
    http::client_request request;
    request.method = method;
    request.url = url;
    for (const auto& [name, value] : headers) request.headers.emplace_back(name, value);
    if (p.count("body")) request.body = p.at("body");
    request.only_http = true;  // a task's URL is the user's: no file:, no redirect to one
    request.timeout = std::chrono::milliseconds(timeout_ms > 0 ? timeout_ms : 60'000);
    request.max_body_bytes = 64 * 1024;  // what the task log keeps
    log.line("{} {}", method, url);
    auto response = http::perform(request);
    if (!response) {
        try_outcome out = fail(log, response.err().message());
        out.timed_out = response.err().code() == errc::timed_out;
        return out;
    }
    const long status = response->status;
    const std::string& body = response->body;
    log.line("HTTP {} ({} bytes)", status, body.size());
    log.write(body);
    if (!body.empty() && body.back() != '\n') log.write("\n");
    bool expected = status >= 200 && status < 300;
    if (auto it = task.lists.find("expected_status"); it != task.lists.end()) {
        expected = false;
        for (const auto& s : it->second) expected = expected || std::to_string(status) == s;
    }
    if (!expected) return fail(log, fmt::format("{} {} answered HTTP {}, not the expected status", method, url, status));
    return {true, false, {}};
}

// ---- kafka_produce ---------------------------------------------------------

struct delivery_count {
    std::atomic<int64_t> ok{0}, failed{0};
    std::string first_error;
    std::mutex mutex;
};

void on_delivery(rd_kafka_t*, const rd_kafka_message_t* msg, void* opaque) {
    auto* count = static_cast<delivery_count*>(opaque);
    if (msg->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ++count->ok;
        return;
    }
    ++count->failed;
    std::lock_guard lock(count->mutex);
    if (count->first_error.empty()) count->first_error = rd_kafka_err2str(msg->err);
}

try_outcome run_kafka(const task_spec& task, const std::map<std::string, std::string>& p, const std::string& bootstrap,
                      const std::vector<std::pair<std::string, std::string>>& base_properties,
                      const std::vector<std::string>& messages, int64_t timeout_ms, task_log& log) {
    std::string servers = p.count("bootstrap") ? p.at("bootstrap") : bootstrap;
    const std::string& topic = p.at("topic");
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    delivery_count count;
    rd_kafka_conf_set_opaque(conf, &count);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    for (auto [name, value] : {std::pair<const char*, std::string>{"bootstrap.servers", servers},
                               {"client.id", "millrace-scheduler"},
                               {"message.timeout.ms", std::to_string(timeout_ms > 0 ? timeout_ms : 30'000)}}) {
        if (rd_kafka_conf_set(conf, name, value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(log, fmt::format("kafka config {}={}: {}", name, value, err));
        }
    }
    // Every Kafka client's base properties (security), when producing to the pipeline's cluster.
    for (const auto& [name, value] : p.count("bootstrap") ? std::vector<std::pair<std::string, std::string>>{} : base_properties) {
        if (rd_kafka_conf_set(conf, name.c_str(), value.c_str(), err, sizeof err) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(log, fmt::format("kafka config {}={}: {}", name, security::printable_property(name, value), err));
        }
    }
    rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (producer == nullptr) return fail(log, fmt::format("cannot create a Kafka producer: {}", err));
    log.line("producing {} messages to topic {} at {}", messages.size(), topic, servers);
    std::string key = p.count("key") ? p.at("key") : std::string();
    (void)task;
    for (const auto& value : messages) {
        for (;;) {
            rd_kafka_resp_err_t rc = rd_kafka_producev(
                producer, RD_KAFKA_V_TOPIC(topic.c_str()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_VALUE(const_cast<char*>(value.data()), value.size()),
                RD_KAFKA_V_KEY(key.empty() ? nullptr : const_cast<char*>(key.data()), key.size()), RD_KAFKA_V_END);
            if (rc == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(producer, 50);
                continue;
            }
            if (rc != RD_KAFKA_RESP_ERR_NO_ERROR) ++count.failed;
            break;
        }
        rd_kafka_poll(producer, 0);
    }
    rd_kafka_flush(producer, static_cast<int>(timeout_ms > 0 ? timeout_ms : 30'000));
    int64_t unsent = rd_kafka_outq_len(producer);
    rd_kafka_destroy(producer);
    log.line("delivered {}, failed {}, unsent {}", count.ok.load(), count.failed.load(), unsent);
    if (count.failed > 0 || unsent > 0) {
        return fail(log, fmt::format("{} of {} messages to {} not delivered{}", count.failed.load() + unsent,
                                     messages.size(), topic, count.first_error.empty() ? "" : ": " + count.first_error));
    }
    return {true, false, {}};
}

// ---- randomuser_fetch ------------------------------------------------------

// A randomuser API served in-process on 127.0.0.1:<ephemeral> from the source
// module's generator, for fetches when no source API runs: the HTTP path stays real.
class local_source_api {
public:
    local_source_api() : server_(io_, "scheduler-source") {
        server_.route("GET", "/api/", [](const http::request& req) {
            auto q = source::parse_query(req.query);
            if (!q) return http::response::json(400, fmt::format("{{\"error\":\"{}\"}}", q.err().message()));
            if (q->seed.empty()) q->seed = source::make_seed(static_cast<uint64_t>(now_ms()));
            std::string body;
            source::write_response(*q, now_ms(), body);
            return http::response::json(200, std::move(body));
        });
    }
    result<std::string> start() {
        auto ep = server_.start("127.0.0.1", 0);
        if (!ep) return ep.err();
        thread_ = std::thread([this] { io_.run(); });
        thread_.detach();
        // Every listener of the process speaks TLS when security.enabled (tls.h).
        return fmt::format("{}://{}/api/", tls::listener_context() ? "https" : "http", ep->to_string());
    }

private:
    asio::io_context io_{1};
    asio::executor_work_guard<asio::io_context::executor_type> guard_ = asio::make_work_guard(io_);
    http::server server_;
    std::thread thread_;
};

result<std::string> local_source_url() {
    static std::mutex mutex;
    static std::string url;
    std::lock_guard lock(mutex);
    if (!url.empty()) return url;
    // Lives until the process exits: tasks of any later run may use it.
    auto* api = new local_source_api();
    auto started = api->start();
    if (!started) return started.err();
    url = *started;
    return url;
}

result<int64_t> int_param(const std::map<std::string, std::string>& p, const std::string& name, int64_t fallback,
                          int64_t min, int64_t max) {
    auto it = p.find(name);
    if (it == p.end()) return fallback;
    try {
        size_t used = 0;
        int64_t v = std::stoll(it->second, &used);
        if (used == it->second.size() && v >= min && v <= max) return v;
    } catch (const std::exception&) {
    }
    return make_error(errc::invalid_argument, "{} must be a whole number in {}..{}, got '{}'", name, min, max, it->second);
}

try_outcome run_fetch_task(const std::map<std::string, std::string>& p, const executor_env& env, int64_t timeout_ms,
                           const std::atomic<bool>& cancel, task_log& log) {
    source::fetch_options options;
    auto count = int_param(p, "count", 100, 1, 100'000'000);
    auto batch = int_param(p, "batch_size", 500, 1, 5000);
    auto first_page = int_param(p, "first_page", 1, 1, 1'000'000'000);
    for (auto* r : {&count, &batch, &first_page}) {
        if (!*r) return fail(log, r->err().message());
    }
    options.count = *count;
    options.batch_size = static_cast<int>(*batch);
    options.first_page = *first_page;
    if (p.count("seed")) options.seed = p.at("seed");
    if (p.count("nat")) options.nat = p.at("nat");
    options.url = p.count("url") ? p.at("url") : env.source_url;
    // millrace's own source API (published or in-process) asks for the admin user when security is on.
    if (!p.count("url")) options.auth = env.own_auth;
    if (options.url.empty()) {
        auto url = local_source_url();
        if (!url) return fail(log, url.err().message());
        options.url = *url;
    }
    auto raw = source::parse_raw_storage(env.source_raw);
    options.raw = raw ? *raw : source::raw_storage::json;
    source::pg_writer writer(env.postgres_dsn, options.raw);
    if (auto st = writer.migrate(); !st) return fail(log, st.err().message());
    log.line("fetching {} users from {} (seed {}, {} per batch) into PostgreSQL", options.count, options.url,
             options.seed, options.batch_size);
    source::fetch_hooks hooks;
    int64_t counted = 0;
    hooks.on_progress = [&](const source::fetch_summary& s) {
        log.line("progress: fetched {}, stored {}, duplicates {}", s.fetched, s.stored, s.duplicates);
        if (env.users_stored != nullptr && s.stored > counted) env.users_stored->inc(static_cast<uint64_t>(s.stored - counted));
        counted = std::max<int64_t>(counted, s.stored);
    };
    hooks.on_store_error = [&](const error& e) { log.line("store failed, retrying: {}", e.message()); };
    const auto deadline = timeout_ms > 0 ? std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms)
                                         : std::chrono::steady_clock::time_point::max();
    hooks.should_stop = [&]() -> std::optional<std::string> {
        if (cancel.load()) return std::string("the scheduler is stopping");
        if (std::chrono::steady_clock::now() >= deadline) return fmt::format("execution_timeout of {} ms exceeded", timeout_ms);
        return std::nullopt;
    };
    auto summary = source::run_fetch(options, writer, hooks);
    if (!summary) return fail(log, summary.err().message());
    if (env.users_stored != nullptr && summary->stored > counted) {
        env.users_stored->inc(static_cast<uint64_t>(summary->stored - counted));
    }
    log.line("fetched {}, stored {}, duplicates {}, errors {}, http retries {} in {:.2f} s", summary->fetched,
             summary->stored, summary->duplicates, summary->errors, summary->http_retries, summary->seconds);
    // The try's note is the run's summary in the API and UI: new users first,
    // since a run that adds nothing (the same seed again) looks like no run.
    std::string note = fmt::format("{} new users, {} duplicates already stored (seed {})", summary->stored,
                                   summary->duplicates, options.seed);
    log.line("summary: {}", note);
    return {true, false, note};
}

// ---- python (Airflow DAG files) -------------------------------------------

// Runs the task through the runner (python_dags.h) in its own process group,
// like a shell task; the runner reads the context file and writes XComs,
// skips and variables to the output file.
try_outcome run_python(const try_request& req, const executor_env& env, int64_t timeout_ms, task_log& log,
                       const std::atomic<bool>& cancel, const std::function<void(int)>& on_start,
                       std::vector<segment>* placeholders) {
    const dag_spec& dag = *req.dag;
    std::string base = req.log_path.empty()
                           ? (std::filesystem::temp_directory_path() / fmt::format("millrace-task-{}", ::getpid())).string()
                           : req.log_path;
    std::string ctx_path = base + ".context.json", out_path = base + ".out.json";
    nlohmann::json ctx = {
        {"dag_id", dag.dag_id}, {"task_id", req.task_id}, {"run_id", req.run.run_id}, {"run_type", req.run.run_type},
        {"logical_date", format_iso(req.run.logical_date)}, {"ds", format_date(req.run.logical_date, dag.zone)},
        {"data_interval_start", format_iso(req.run.data_interval_start)},
        {"data_interval_end", format_iso(req.run.data_interval_end)}, {"try_number", req.try_number},
        {"max_tries", req.max_tries}, {"hostname", env.hostname},
    };
    auto conf = nlohmann::json::parse(req.run.conf.empty() ? std::string("{}") : req.run.conf, nullptr, false);
    ctx["conf"] = conf.is_object() ? conf : nlohmann::json::object();
    ctx["map_index"] = req.map_index;
    if (!req.mapped_kwargs_json.empty()) {
        auto mapped = nlohmann::json::parse(req.mapped_kwargs_json, nullptr, false);
        if (mapped.is_object()) ctx["mapped_kwargs"] = mapped;
    }
    if (placeholders != nullptr) {
        // The runner evaluates these with jinja2 instead of running the task.
        ctx["placeholders"] = nlohmann::json::array();
        for (const auto& part : *placeholders) {
            if (part.value) ctx["placeholders"].push_back(part.source);
        }
    }
    for (auto [name, text] : {std::pair{"xcoms", &req.xcoms_json}, std::pair{"variables", &req.variables_json},
                              std::pair{"connections", &req.connections_json}}) {
        auto parsed = nlohmann::json::parse(*text, nullptr, false);
        ctx[name] = parsed.is_discarded() ? nlohmann::json() : parsed;
    }
    {
        std::ofstream f(ctx_path, std::ios::trunc);
        f << ctx.dump();
        if (!f) return fail(log, fmt::format("writing the task's context to {}", ctx_path));
    }
    ::unlink(out_path.c_str());
    std::map<std::string, std::string> params = {
        {"command", "exec \"$MILLRACE_PYTHON\" \"$MILLRACE_RUNNER\" run \"$MILLRACE_DAG_FILE\" \"$MILLRACE_DAG_ID\" "
                    "\"$MILLRACE_TASK_ID\" \"$MILLRACE_CONTEXT\" \"$MILLRACE_OUTPUT\""},
        {"skip_on_exit_code", "99"}};  // the runner's exit code for AirflowSkipException
    std::string dag_dir = std::filesystem::path(dag.fileloc).parent_path().string();
    if (!dag_dir.empty()) params["cwd"] = dag_dir;
    std::map<std::string, std::string> vars = {
        {"MILLRACE_PYTHON", env.python}, {"MILLRACE_RUNNER", (std::filesystem::path(env.python_dir) / "millrace_airflow_runner.py").string()},
        {"MILLRACE_DAG_FILE", std::filesystem::absolute(dag.fileloc).string()}, {"MILLRACE_DAG_ID", dag.dag_id},
        {"MILLRACE_TASK_ID", req.task_id}, {"MILLRACE_CONTEXT", ctx_path}, {"MILLRACE_OUTPUT", out_path},
        {"PYTHONUNBUFFERED", "1"}, {"AIRFLOW_CTX_DAG_ID", dag.dag_id}, {"AIRFLOW_CTX_TASK_ID", req.task_id},
        {"AIRFLOW_CTX_DAG_RUN_ID", req.run.run_id}, {"AIRFLOW_CTX_TRY_NUMBER", std::to_string(req.try_number)},
        {"AIRFLOW_CTX_LOGICAL_DATE", format_iso(req.run.logical_date)},
    };
    try_outcome out = run_shell(params, vars, timeout_ms, log, cancel, on_start);
    std::ifstream in(out_path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    ::unlink(out_path.c_str());
    ::unlink(ctx_path.c_str());
    auto result = nlohmann::json::parse(text, nullptr, false);
    if (result.is_object()) {
        // Named copies: items() of a temporary would dangle in a range-for.
        const nlohmann::json xcoms = result.value("xcoms", nlohmann::json::array());
        const nlohmann::json skips = result.value("skip", nlohmann::json::array());
        const nlohmann::json variables = result.value("variables", nlohmann::json::object());
        const nlohmann::json rendered = result.value("rendered", nlohmann::json::object());
        for (const auto& m : result.value("masks", nlohmann::json::array())) {
            if (m.is_string() && !m.get<std::string>().empty()) out.masks.push_back(m.get<std::string>());
        }
        if (auto fields = result.find("rendered_fields"); fields != result.end() && fields->is_object()) {
            out.rendered_fields = redact(*fields, out.masks).dump();
        }
        for (const auto& x : xcoms) {
            out.xcoms.emplace_back(x.at("key").get<std::string>(), x.at("value").dump());
            log.line("XCom {} = {}", x.at("key").get<std::string>(), x.at("value").dump());
        }
        for (const auto& t : skips) out.skip_tasks.push_back(t.get<std::string>());
        for (const auto& [k, v] : variables.items()) out.variables.emplace_back(k, v.is_string() ? v.get<std::string>() : v.dump());
        for (const auto& [field, value] : rendered.items()) {
            // "op_kwargs.api_token": a value under a sensitive key is masked whole, as in the fields.
            std::string_view key = std::string_view(field).substr(field.rfind('.') == std::string::npos ? 0 : field.rfind('.') + 1);
            std::string text = value.is_string() ? value.get<std::string>() : value.dump();
            log.line("rendered {}: {}", redact_text(field, out.masks),
                     sensitive_name(key) ? std::string(k_mask) : redact_text(text, out.masks));
        }
        if (placeholders != nullptr && out.success) {
            const nlohmann::json values = result.value("values", nlohmann::json::array());
            size_t next = 0;
            for (auto& part : *placeholders) {
                if (!part.value) continue;
                if (next >= values.size() || !values[next].is_string()) {
                    out.success = false;
                    out.note = "the runner returned no value for " + part.source;
                    break;
                }
                part.text = values[next++].get<std::string>();
            }
        }
    }
    if (placeholders != nullptr) {
        // Evaluating failed: a Jinja error (undefined name, bad expression) is in the log as a traceback.
        if (!out.success && !out.timed_out && out.note.find("the runner returned") == std::string::npos) {
            out.note = "bash_command: evaluating its {{ }} placeholders with jinja2 failed (the traceback is in the log)";
        }
        out.skipped = false;
        return out;
    }
    if (!out.success && !out.timed_out) {
        if (out.exit_code == 99) {
            out.success = false;
            out.skipped = true;
            out.note = "skipped (AirflowSkipException)";
        } else if (out.exit_code == 98) {
            out.no_retry = true;
            out.note = "failed without retries (AirflowFailException or sensor timeout)";
        } else if (out.exit_code == 1) {
            out.note = "the task raised an exception (traceback in the log)";
        }
    }
    return out;
}

void flatten(const nlohmann::json& node, const std::string& prefix, std::map<std::string, std::string>& out) {
    if (node.is_object()) {
        for (const auto& [key, value] : node.items()) flatten(value, prefix + "." + key, out);
    } else if (node.is_string()) {
        out[prefix] = node.get<std::string>();
    } else {
        out[prefix] = node.dump();
    }
}

}  // namespace

result<std::string> render_message(std::string_view text, const std::map<std::string, std::string>& vars) {
    auto parts = split_template(text, vars);
    if (!parts) return parts.err();
    size_t first = text.find_first_not_of(" \t\r\n");
    bool json_message = first != std::string_view::npos && (text[first] == '{' || text[first] == '[');
    return json_message ? render_json_body(*parts) : join_plain(*parts);
}

std::map<std::string, std::string> template_vars(const dag_spec& dag, const dag_run& run, const std::string& task_id,
                                                 int try_number) {
    std::map<std::string, std::string> vars;
    std::string ds = format_date(run.logical_date, dag.zone);
    vars["ds"] = ds;
    std::string nodash = ds;
    nodash.erase(std::remove(nodash.begin(), nodash.end(), '-'), nodash.end());
    vars["ds_nodash"] = nodash;
    vars["ts"] = format_iso(run.logical_date);
    vars["logical_date"] = vars["ts"];
    vars["data_interval_start"] = format_iso(run.data_interval_start);
    vars["data_interval_end"] = format_iso(run.data_interval_end);
    vars["run_id"] = run.run_id;
    vars["dag_run.run_id"] = run.run_id;
    vars["dag_id"] = dag.dag_id;
    vars["dag.dag_id"] = dag.dag_id;
    vars["task_id"] = task_id;
    vars["task.task_id"] = task_id;
    vars["try_number"] = std::to_string(try_number);
    for (const auto& [name, value] : dag.params) vars["params." + name] = value;
    auto conf = nlohmann::json::parse(run.conf.empty() ? std::string("{}") : run.conf, nullptr, false);
    if (conf.is_object()) {
        std::map<std::string, std::string> flat;
        flatten(conf, "", flat);
        for (const auto& [name, value] : flat) {
            vars["dag_run.conf" + name] = value;
            // Trigger conf overrides the DAG's params of the same name (only declared ones: engine::trigger checks).
            if (name.find('.', 1) == std::string::npos) vars["params" + name] = value;
        }
    }
    return vars;
}

try_outcome run_try(const try_request& req, const executor_env& env, const std::atomic<bool>& cancel,
                    const std::function<void(int pid)>& on_start) {
    task_log log(req.log_path);
    const task_spec* task = req.dag->find_task(req.task_id);
    if (task == nullptr) return fail(log, fmt::format("task '{}' is no longer in DAG '{}'", req.task_id, req.dag->dag_id));
    log.line("dag {} run {} task {}{} ({}), try {} of {}, on {}", req.dag->dag_id, req.run.run_id, req.task_id,
             req.map_index >= 0 ? fmt::format(" map_index {}", req.map_index) : std::string(), to_string(task->kind),
             req.try_number, req.max_tries, env.hostname);
    task_spec mapped_task;
    if (task->kind == task_kind::shell && !req.mapped_kwargs_json.empty()) {
        // A mapped BashOperator: this instance's bash_command, env and cwd (then templated as usual).
        auto mapped = nlohmann::json::parse(req.mapped_kwargs_json, nullptr, false);
        mapped_task = *task;
        if (mapped.is_object()) {
            for (const auto& [name, value] : mapped.items()) {
                log.line("mapped {} = {}", name, value.dump());
                if (name == "bash_command" || name == "cwd") {
                    if (!value.is_string()) return fail(log, fmt::format("mapped {} must be a string, got {}", name, value.dump()));
                    mapped_task.params[name == "bash_command" ? "command" : "cwd"] = value.get<std::string>();
                } else if (name == "env") {
                    if (!value.is_object() && !value.is_null()) return fail(log, fmt::format("mapped env must be a dict, got {}", value.dump()));
                    mapped_task.maps["env"].clear();
                    if (value.is_object()) {
                        for (const auto& [k, v] : value.items()) mapped_task.maps["env"][k] = v.is_string() ? v.get<std::string>() : v.dump();
                    }
                }
            }
        }
        task = &mapped_task;
    }
    auto vars = template_vars(*req.dag, req.run, req.task_id, req.try_number);
    std::map<std::string, std::string> params;
    std::map<std::string, std::vector<segment>> split;  // the templates rendered per kind below
    // A BashOperator of an Airflow DAG file: bash_command's placeholders are Jinja expressions.
    const bool jinja_bash = task->kind == task_kind::shell && req.dag->fileloc.ends_with(".py");
    for (const auto& [name, value] : task->params) {
        auto parts = jinja_bash && name == "command" ? split_placeholders(value) : split_template(value, vars);
        if (!parts) return fail(log, fmt::format("{}: {}", name, parts.err().message()));
        params[name] = join_plain(*parts);
        split[name] = std::move(*parts);
    }
    std::map<std::string, std::map<std::string, std::string>> maps;
    for (const auto& [name, entries] : task->maps) {
        for (const auto& [key, value] : entries) {
            auto rendered = render_template(value, vars);
            if (!rendered) return fail(log, fmt::format("{}.{}: {}", name, key, rendered.err().message()));
            maps[name][key] = *rendered;
        }
    }
    // The try's rendered template fields, as text with each value in place
    // (what a user reads; the task itself still passes values as data):
    // Airflow's names for an Airflow DAG file's BashOperator, the YAML keys
    // for a YAML task. Secrets masked at the end (rendered.h).
    nlohmann::json fields = nlohmann::json::object();
    std::vector<std::string> masks;
    if (!req.dag->python) {
        for (const auto& [name, value] : params) fields[name] = value;
        for (const auto& [name, entries] : maps) fields[name] = entries;
    }
    shell_command shell;
    std::vector<sql_statement> statements;
    if (task->kind == task_kind::shell) {
        auto& parts = split["command"];
        if (jinja_bash && std::any_of(parts.begin(), parts.end(), [](const segment& p) { return p.value; })) {
            // Each placeholder's result, evaluated by jinja2 with Airflow's context, placed as data below.
            try_outcome evaluated = run_python(req, env, task->execution_timeout_ms, log, cancel, on_start, &parts);
            if (!evaluated.success) {
                log.line("ERROR {}", evaluated.note);
                return evaluated;
            }
            masks = std::move(evaluated.masks);
            log.set_masks(masks);  // the command's MILLRACE_TEMPLATE_<n> values are logged below
        }
        if (req.dag->python) {
            // BashOperator.template_fields: bash_command, env, cwd (None when not given).
            fields["bash_command"] = join_plain(parts);
            fields["env"] = maps["env"].empty() ? nlohmann::json() : nlohmann::json(maps["env"]);
            fields["cwd"] = params.count("cwd") && !params["cwd"].empty() ? nlohmann::json(params["cwd"]) : nlohmann::json();
        }
        auto rendered = render_shell(parts);
        if (!rendered) return fail(log, fmt::format("task '{}': {}", req.task_id, rendered.err().message()));
        shell = std::move(*rendered);
        params["command"] = shell.command;
        for (const auto& [name, value] : shell.env) maps["env"][name] = value;
    } else if (task->kind == task_kind::sql) {
        if (auto it = split.find("dsn"); it != split.end()) {
            for (const auto& part : it->second) {
                if (part.value) {
                    return fail(log, fmt::format("task '{}': dsn: the placeholder {} may not stand in a connection "
                                                 "string (a value could add libpq keywords); write the DSN as text",
                                                 req.task_id, part.source));
                }
            }
        }
        const auto& parts = split["sql"];
        bool templated = std::any_of(parts.begin(), parts.end(), [](const segment& p) { return p.value; });
        if (templated) {
            auto rendered = render_sql(parts);
            if (!rendered) return fail(log, rendered.err().message());
            statements = std::move(*rendered);
        } else {
            statements.push_back({params["sql"], {}});
        }
    } else if (task->kind == task_kind::http) {
        auto url = render_url(split["url"]);
        if (!url) return fail(log, url.err().message());
        params["url"] = *url;
        if (split.count("body")) {
            std::string content_type;
            for (const auto& [name, value] : maps["headers"]) {
                std::string lowered = name;
                std::transform(lowered.begin(), lowered.end(), lowered.begin(), [](unsigned char c) { return std::tolower(c); });
                if (lowered == "content-type") content_type = value;
            }
            const std::string& raw = task->params.at("body");
            size_t first = raw.find_first_not_of(" \t\r\n");
            bool json_body = content_type.find("json") != std::string::npos ||
                             (content_type.empty() && first != std::string::npos && (raw[first] == '{' || raw[first] == '['));
            if (json_body) {
                params["body"] = render_json_body(split["body"]);
            } else if (content_type.find("x-www-form-urlencoded") != std::string::npos) {
                std::string body;
                for (const auto& part : split["body"]) body += part.value ? http::percent_encode(part.text) : part.text;
                params["body"] = body;
            }
        }
        for (const auto& [name, value] : maps["headers"]) {
            if (has_control(value) || has_control(name)) {
                return fail(log, fmt::format("headers.{}: a templated value holds CR, LF or another control character", name));
            }
        }
        if (params.count("method")) {
            const std::string& m = params["method"];
            if (m.empty() || !std::all_of(m.begin(), m.end(), [](unsigned char c) { return std::isalpha(c); })) {
                return fail(log, fmt::format("method: '{}' is not an HTTP method", m));
            }
        }
    }
    const int64_t timeout = task->execution_timeout_ms;
    try_outcome out;
    switch (task->kind) {
        case task_kind::shell:
            out = run_shell(params, maps["env"], timeout, log, cancel, on_start);
            break;
        case task_kind::sql:
            out = run_sql(params.count("dsn") ? params.at("dsn") : env.postgres_dsn, statements, timeout, log);
            break;
        case task_kind::http:
            out = run_http(*task, params, maps["headers"], timeout, log);
            break;
        case task_kind::kafka_produce: {
            std::vector<std::string> messages;
            if (auto it = task->lists.find("messages"); it != task->lists.end()) {
                for (const auto& m : it->second) {
                    auto rendered = render_message(m, vars);
                    if (!rendered) return fail(log, fmt::format("messages: {}", rendered.err().message()));
                    messages.push_back(*rendered);
                }
                fields["messages"] = messages;
            }
            if (params.count("value")) {
                auto n = int_param(params, "count", 1, 1, 10'000'000);
                if (!n) return fail(log, n.err().message());
                auto value = render_message(task->params.at("value"), vars);
                if (!value) return fail(log, fmt::format("value: {}", value.err().message()));
                for (int64_t idx = 0; idx < *n; ++idx) messages.push_back(*value);
            }
            out = run_kafka(*task, params, env.kafka_bootstrap, env.kafka_properties, messages, timeout, log);
            break;
        }
        case task_kind::randomuser_fetch:
            out = run_fetch_task(params, env, timeout, cancel, log);
            break;
        case task_kind::python:
            out = run_python(req, env, timeout, log, cancel, on_start, nullptr);
            break;
        case task_kind::empty:
            log.line("EmptyOperator: nothing to run");
            out = {true, false, {}};
            break;
    }
    if (task->kind != task_kind::python) out.rendered_fields = redact(fields, masks).dump();
    log.line("try {} {}", req.try_number, out.skipped ? "was skipped" : out.success ? "succeeded" : "failed");
    return out;
}

}  // namespace millrace::scheduler
