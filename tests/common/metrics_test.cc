#include "millrace/common/metrics.h"

#include <gtest/gtest.h>

namespace millrace::metrics {
namespace {

TEST(metrics_test, counters_and_gauges_expose_in_prometheus_text) {
    registry r;
    auto& produced = r.make_counter("millrace_records_in_total", "Records produced.", {{"topic", "users_created"}});
    produced.inc(41);
    produced.inc();
    r.make_gauge("millrace_lag", "Consumer lag.").set(2.5);
    std::string text = r.expose();
    EXPECT_NE(text.find("# HELP millrace_records_in_total Records produced.\n# TYPE millrace_records_in_total counter\n"
                        "millrace_records_in_total{topic=\"users_created\"} 42\n"),
              std::string::npos)
        << text;
    EXPECT_NE(text.find("millrace_lag 2.5\n"), std::string::npos) << text;
}

TEST(metrics_test, same_name_and_labels_return_the_same_series) {
    registry r;
    auto& a = r.make_counter("c", "h", {{"k", "v"}});
    auto& b = r.make_counter("c", "h", {{"k", "v"}});
    auto& other = r.make_counter("c", "h", {{"k", "w"}});
    EXPECT_EQ(&a, &b);
    EXPECT_NE(&a, &other);
}

TEST(metrics_test, histogram_buckets_are_cumulative) {
    registry r;
    auto& h = r.make_histogram("latency_seconds", "Latency.", {0.1, 1}, {{"api", "produce"}});
    h.observe(0.05);
    h.observe(0.5);
    h.observe(5);
    std::string text = r.expose();
    EXPECT_NE(text.find("latency_seconds_bucket{api=\"produce\",le=\"0.1\"} 1\n"), std::string::npos) << text;
    EXPECT_NE(text.find("latency_seconds_bucket{api=\"produce\",le=\"1\"} 2\n"), std::string::npos) << text;
    EXPECT_NE(text.find("latency_seconds_bucket{api=\"produce\",le=\"+Inf\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("latency_seconds_count{api=\"produce\"} 3\n"), std::string::npos) << text;
    EXPECT_NE(text.find("latency_seconds_sum{api=\"produce\"} 5.55\n"), std::string::npos) << text;
}

TEST(metrics_test, label_values_are_escaped) {
    registry r;
    r.make_counter("c", "h", {{"k", "a\"b\\c\nd"}}).inc();
    EXPECT_NE(r.expose().find("c{k=\"a\\\"b\\\\c\\nd\"} 1\n"), std::string::npos) << r.expose();
}

TEST(metrics_test, process_metrics_read_real_values) {
    registry r;
    register_process_metrics(r);
    std::string text = r.expose();
    EXPECT_NE(text.find("# TYPE process_resident_memory_bytes gauge\n"), std::string::npos);
    EXPECT_EQ(text.find("process_resident_memory_bytes 0\n"), std::string::npos) << text;
}

}  // namespace
}  // namespace millrace::metrics
