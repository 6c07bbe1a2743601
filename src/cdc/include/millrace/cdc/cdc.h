// `millrace cdc`: streams the rows written to PostgreSQL into Kafka, the way
// Debezium's PostgreSQL connector does. See docs/cdc.md for the message format.
//
// The capture runs on its own thread (never the host's io thread): a logical
// replication session (pgoutput) on a named slot, an idempotent librdkafka
// producer, and an ack_tracker that lets the slot's confirmed flush position
// advance only past rows the broker acknowledged. Any failure of PostgreSQL or
// Kafka ends the session; a new one starts from the last confirmed position
// after a backoff, so rows arrive at least once and are never dropped.
#pragma once

#include <memory>

#include "millrace/common/component.h"
#include "millrace/common/config.h"

namespace millrace::cdc {

// Declares the cdc.* keys.
void add_options(config::schema& s);
std::unique_ptr<component> make_cdc(component_context& ctx);

}  // namespace millrace::cdc
