// SQL values of the sql library → CQL values for the cassandra sink, by the
// value's declared Flink type.
#pragma once

#include "millrace/common/result.h"
#include "millrace/cql_client/client.h"
#include "millrace/sql/types.h"

namespace millrace::processor {

// STRING→text, BIGINT→bigint, INT/SMALLINT/TINYINT→int/smallint/tinyint,
// DOUBLE→double, FLOAT→float, BOOLEAN→boolean, DECIMAL→decimal,
// DATE→date, TIME→time, TIMESTAMP(_LTZ)→timestamp, BYTES→blob,
// ARRAY→list, MAP→map, ROW→text (its SQL literal). Errors name the type.
result<cql_client::value> to_cql_value(const sql::value& v, const sql::sql_type& t);

}  // namespace millrace::processor
