// The REST API, modelled on Airflow's stable API v1 (paths, field names,
// list envelopes with total_entries, problem-JSON errors). Handlers read the
// engine's in-memory state and never wait on PostgreSQL.
#pragma once

#include "engine.h"
#include "millrace/common/http.h"

namespace millrace::scheduler {

void add_api_routes(http::server& server, engine& eng);

}  // namespace millrace::scheduler
