// Temporary: bodies filled in by later commits.
#include "millrace/sql/decoder.h"
#include "millrace/sql/encoder.h"
#include "millrace/sql/pipeline.h"
#include "millrace/sql/program.h"
#include "program_state.h"

namespace millrace::sql {

std::variant<job_program, std::vector<diagnostic>> compile_job(std::string_view, std::string file_name) {
    return std::vector<diagnostic>{{file_name, 1, 1, "the SQL compiler is not implemented yet"}};
}
std::string job_program::explain() const { return ""; }
result<std::unique_ptr<source_decoder>> job_program::make_decoder(size_t) const {
    return make_error(errc::unsupported, "not implemented yet");
}
result<std::unique_ptr<stateless_pipeline>> job_program::make_stateless(size_t) const {
    return make_error(errc::unsupported, "not implemented yet");
}
result<std::unique_ptr<window_state>> job_program::make_window_state(size_t) const {
    return make_error(errc::unsupported, "not implemented yet");
}
result<std::unique_ptr<row_encoder>> job_program::make_encoder(size_t, int32_t, std::string_view) const {
    return make_error(errc::unsupported, "not implemented yet");
}
std::string avro_schema_for(const std::vector<column_type>&, const std::string&) { return ""; }
result<std::vector<column_type>> columns_from_avro(std::string_view) { return make_error(errc::unsupported, "not implemented yet"); }
result<std::string> cql_type_for(const sql_type&) { return make_error(errc::unsupported, "not implemented yet"); }
result<std::string> cql_create_table(const table_def&) { return make_error(errc::unsupported, "not implemented yet"); }
result<std::string> cql_create_keyspace(const table_def&) { return make_error(errc::unsupported, "not implemented yet"); }
result<std::string> cql_upsert(const table_def&) { return make_error(errc::unsupported, "not implemented yet"); }

}  // namespace millrace::sql
