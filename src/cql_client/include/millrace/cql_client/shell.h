// `millrace cql shell`: an interactive CQL shell in the binary, in the manner
// of cqlsh, over our own client (session). It prints results in cqlsh's table
// format so that scripts and habits written for cqlsh keep working.
//
//   millrace cql shell [host [port]] [-e STATEMENTS | -f FILE] [-u USER -p PASSWORD] [-k KEYSPACE] [--ssl]
//
// Shell commands besides CQL: DESCRIBE/DESC (sent to the server, which answers
// it as Cassandra 4.0 does), USE, PAGING ON|OFF|<n>, EXPAND ON|OFF,
// TRACING ON|OFF, CONSISTENCY [<level>], HELP, EXIT/QUIT.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "millrace/cql_client/client.h"

namespace millrace::cql_client {

// What the shell uses when its words say nothing (cqlsh's cqlshrc role): the
// millrace configuration's CQL store and login (`cql.*`, `security.*`).
struct shell_defaults {
    std::string host = "127.0.0.1";
    std::string port = "9042";
    std::string username, password;
    std::string tls_ca;  // set: TLS by default (as --ssl), verifying against this CA
};

// Runs the shell with the words after `millrace cql shell`. Returns the exit
// code: 0 when every statement succeeded, 1 when one failed (each failure is
// one line on stderr naming the source and line), 2 for bad usage or when no
// server answers. Precedence as cqlsh's: words, then $CQLSH_HOST/$CQLSH_PORT
// and $SSL_CERTFILE, then `defaults`.
int run_shell(const std::vector<std::string>& args, const shell_defaults& defaults = {});

// Splits `text` into complete statements at `;` outside quotes and comments.
// `rest` receives the unterminated tail. Shell commands that need no `;`
// (EXIT, QUIT, HELP) end at the end of their line.
struct statement_text {
    std::string text;  // without the `;`, trimmed
    int line = 1;      // 1-based line where it starts
};
std::vector<statement_text> split_statements(std::string_view text, std::string& rest, int first_line = 1);

// One cell as cqlsh shows it: text unquoted, timestamps as
// "2024-01-02 03:04:05.678000+0000", booleans True/False, blobs 0x..., null.
std::string format_cell(const value& v, bool nested = false);

// A page of rows in cqlsh's table layout: header (names left-aligned) and a
// dashed rule when `with_header`, then each row with values right-aligned.
std::string format_table(const rows& page, bool with_header);
// The same rows one per block ("@ Row 1"), as cqlsh's EXPAND ON shows them.
std::string format_vertical(const rows& page, size_t first_row_number);

}  // namespace millrace::cql_client
