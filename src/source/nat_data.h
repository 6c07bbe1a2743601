// The per-nationality word lists and formats the generator draws from.
//
// Rationale: compiled-in tables rather than files under data/. The generator
// must make thousands of users per millisecond and `millrace` ships as one
// binary that runs from any directory: tables in .rodata need no loading, no
// path resolution and cannot be missing or malformed at start-up. The lists
// were written for millrace; they are small on purpose (plausible, not big).
//
// Patterns: '#' is a random digit, 'A' a random upper-case letter, anything
// else is copied. No entry may contain '"' or '\\' (the JSON writer does not
// escape table text; nat_data_test checks this).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace millrace::source {

struct place {
    std::string_view city;
    std::string_view state;
};

struct nationality {
    std::string_view code;     // "US", as in the API's `nat`
    std::string_view country;  // location.country
    std::span<const std::string_view> male_first;
    std::span<const std::string_view> female_first;
    std::span<const std::string_view> last;
    std::span<const std::string_view> streets;
    std::span<const place> places;
    std::string_view postcode;  // pattern
    bool postcode_is_string;    // the real API gives a JSON string (else a number)
    std::string_view phone;     // pattern
    std::string_view cell;      // pattern
    std::string_view id_name;   // "SSN"; "" with a null value for nationalities the API gives none
    std::string_view id_value;  // pattern
};

struct timezone_entry {
    std::string_view offset;
    std::string_view description;
};

// Every nationality the real API offers, sorted by code.
std::span<const nationality> nationalities();
std::span<const timezone_entry> timezones();
std::span<const std::string_view> passwords();
std::span<const std::string_view> username_words();

// The index of `code` (case-insensitive) in nationalities(), or -1.
int find_nationality(std::string_view code);

}  // namespace millrace::source
