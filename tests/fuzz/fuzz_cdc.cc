// Fuzz targets of the CDC decoders (see targets.cc).
#include <string_view>
#include <variant>

#include "millrace/cdc/pgoutput.h"

// One XLogData/keepalive CopyData payload, then its pgoutput message.
void fuzz_pgoutput(std::string_view data) {
    auto message = millrace::cdc::decode_stream_message(data);
    (void)millrace::cdc::decode_pgoutput(data);
    if (message) {
        if (auto* x = std::get_if<millrace::cdc::xlog_data>(&*message)) (void)millrace::cdc::decode_pgoutput(x->payload);
    }
}

