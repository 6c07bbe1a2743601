// The capture's PostgreSQL side: the control session (tables, publication,
// the snapshot marker in <state_schema>.snapshots, the initial snapshot
// through a cursor) and the replication session (the slot, and the pgoutput
// stream of COPY-both chunks with standby status updates). Both over
// millrace_pg_client; nothing here knows Kafka.
//
// Used by the capture thread only; open_control() also by start(), before
// that thread runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "millrace/cdc/encoder.h"
#include "millrace/cdc/pgoutput.h"
#include "millrace/common/file_system.h"
#include "millrace/pg_client/connection.h"
#include "options.h"

namespace millrace::cdc {

// What the initial snapshot hands to the capture, table by table.
struct snapshot_sink {
    std::function<bool()> running;
    // Before each fetch (fencing: the lease must still be held).
    std::function<status()> before_fetch;
    // A table's columns are known: `rel` is complete (columns, keys, Avro schemas).
    std::function<void(const table_ref& table, relation& rel)> described;
    std::function<status(const relation& rel, const tuple_data& row)> row;
    // After each fetched batch (the producer's health).
    std::function<status()> after_fetch;
};

class replication {
public:
    // `data_dir` and `fs`: where an older version kept its snapshot marker file.
    replication(const cdc_options& options, std::string dsn, std::string application, std::string instance,
                file_system& fs, std::string data_dir);

    // Opens the control session unless it is open and answers.
    [[nodiscard]] status open_control();
    // Tables exist, the publication covers them (created or extended when
    // cdc.create_publication), and their primary keys are known.
    [[nodiscard]] status prepare_tables();
    const std::string& database() const { return database_; }
    // The primary key columns of "schema.table" (empty when it has none or is unknown).
    const std::vector<std::string>& primary_key(const std::string& qualified) const;

    // Opens the replication session (replication=database).
    [[nodiscard]] status connect_stream();
    // Creates the slot when missing and takes the initial snapshot through
    // `take_snapshot` (called with the exported snapshot's name and the slot's
    // consistent point; it answers the rows read); sets `start_at` to where
    // streaming begins and `resumed` when the slot existed and its snapshot
    // was done. A slot whose snapshot never completed is dropped and made again.
    [[nodiscard]] status ensure_slot(lsn& start_at, bool& resumed,
                                     const std::function<result<uint64_t>(const std::string&, lsn)>& take_snapshot);
    // Reads every configured table inside the exported snapshot `snapshot_name`
    // on the control session; the rows read.
    [[nodiscard]] result<uint64_t> read_snapshot(const std::string& snapshot_name, snapshot_sink& sink);

    // START_REPLICATION from `start_at`.
    [[nodiscard]] status start_streaming(lsn start_at);
    bool streaming() const { return streaming_; }
    bool stream_alive() const { return repl_.alive(); }
    // The next chunk of the stream (nullopt: none within `wait`).
    [[nodiscard]] result<std::optional<pg::copy_chunk>> read(std::chrono::milliseconds wait);
    // A Standby Status Update: written, flushed and applied positions.
    [[nodiscard]] status send_status(lsn written, lsn flushed, int64_t now_unix_us);
    // Ends our side of the stream (best effort) and closes the replication session.
    void end_stream(bool say_goodbye);
    void close_control() { owner_.close(); }

private:
    std::string state_table() const;
    std::string legacy_snapshot_marker() const;
    [[nodiscard]] status ensure_state_table();
    [[nodiscard]] result<bool> snapshot_recorded();
    [[nodiscard]] status record_snapshot(lsn point, uint64_t rows);
    [[nodiscard]] status migrate_legacy_marker(lsn fallback);
    [[nodiscard]] status remove_legacy_marker();

    const cdc_options& options_;
    std::string instance_;  // host:pid, recorded with the snapshot marker
    file_system& fs_;
    std::string data_dir_;
    pg::connection owner_;  // reads the snapshot, manages the publication and slot
    pg::connection repl_;   // replication=database
    bool streaming_ = false;
    std::string database_;
    std::map<std::string, std::vector<std::string>> primary_keys_;  // schema.table → key columns
};

}  // namespace millrace::cdc
