#include "millrace/kafka_client/offsets.h"

#include <algorithm>

#include <librdkafka/rdkafka.h>

namespace millrace::kafka_client {

result<std::vector<int64_t>> list_offsets(rd_kafka_t* client, const std::string& topic, int partitions, int64_t which,
                                          std::chrono::milliseconds timeout) {
    rd_kafka_topic_partition_list_t* list = rd_kafka_topic_partition_list_new(partitions);
    for (int p = 0; p < partitions; ++p) rd_kafka_topic_partition_list_add(list, topic.c_str(), p)->offset = which;
    const char* kind = which == RD_KAFKA_OFFSET_BEGINNING ? "first" : "end";
    auto err = rd_kafka_offsets_for_times(client, list, static_cast<int>(timeout.count()));
    std::vector<int64_t> out(partitions, 0);
    status failure;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        failure = make_error(errc::unavailable, "listing the {} offsets of topic {} within {} ms: {}", kind, topic,
                             timeout.count(), rd_kafka_err2str(err));
    }
    for (int idx = 0; failure && idx < list->cnt; ++idx) {
        const auto& e = list->elems[idx];
        if (e.err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            failure = make_error(errc::unavailable, "listing the {} offset of {}-{}: {}", kind, topic, e.partition,
                                 rd_kafka_err2str(e.err));
        } else if (e.partition >= 0 && e.partition < partitions) {
            out[e.partition] = std::max<int64_t>(e.offset, 0);
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    if (!failure) return failure.err();
    return out;
}

}  // namespace millrace::kafka_client
