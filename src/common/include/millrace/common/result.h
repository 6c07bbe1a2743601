// Error convention for every millrace module.
//
// Storage, network and configuration paths return `result<T>`: either a value
// or an `error` that carries a code and a human message naming the object and
// the numbers involved ("broker.port: 70000 is not a port (0..65535)").
// Exceptions are reserved for bugs and for decoders, which may throw a
// protocol error that only the connection loop catches.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

#include <fmt/format.h>

namespace millrace {

enum class errc {
    invalid_argument,  // the caller's input is wrong; retrying will not help
    not_found,
    already_exists,
    io_error,          // the OS refused; may be transient (see `retryable`)
    corruption,        // stored bytes fail a check; data may be lost
    unavailable,       // a peer or service cannot be reached; retryable
    timed_out,
    cancelled,
    unsupported,
};

std::string_view to_string(errc code);

class [[nodiscard]] error {
public:
    error(errc code, std::string message) : code_(code), message_(std::move(message)) {}

    errc code() const { return code_; }
    const std::string& message() const { return message_; }
    // True when the same call may succeed later without any change by the caller.
    bool retryable() const {
        return code_ == errc::unavailable || code_ == errc::timed_out || code_ == errc::io_error;
    }
    // Prefix the message with where it happened: "loading millrace.yaml: ...".
    error with_context(std::string_view context) const {
        return error(code_, fmt::format("{}: {}", context, message_));
    }

private:
    errc code_;
    std::string message_;
};

template <typename... Args>
error make_error(errc code, fmt::format_string<Args...> format, Args&&... args) {
    return error(code, fmt::format(format, std::forward<Args>(args)...));
}

template <typename T>
class [[nodiscard]] result {
public:
    result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
    result(error err) : state_(std::in_place_index<1>, std::move(err)) {}

    bool ok() const { return state_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { check(); return std::get<0>(state_); }
    const T& value() const& { check(); return std::get<0>(state_); }
    T&& value() && { check(); return std::get<0>(std::move(state_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const error& err() const { return std::get<1>(state_); }

private:
    void check() const {
        if (!ok()) {
            std::fprintf(stderr, "millrace: bug: value() on error result: %s\n", err().message().c_str());
            std::abort();
        }
    }
    std::variant<T, error> state_;
};

// A result with no value: success or an error.
class [[nodiscard]] status {
public:
    status() = default;
    status(error err) : err_(std::move(err)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const error& err() const { return err_; }

private:
    error err_{errc::invalid_argument, {}};
    bool failed_ = false;
};

}  // namespace millrace

// Invariant checks that stay on in release builds and print their context.
#define MILLRACE_ASSERT(cond, ...)                                                       \
    do {                                                                                 \
        if (!(cond)) [[unlikely]] {                                                      \
            std::fprintf(stderr, "millrace: assertion failed at %s:%d: %s: %s\n",        \
                         __FILE__, __LINE__, #cond, fmt::format(__VA_ARGS__).c_str());   \
            std::abort();                                                                \
        }                                                                                \
    } while (0)
