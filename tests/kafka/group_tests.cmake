# Consumer-group coordinator and offset store (included from
# tests/kafka/CMakeLists.txt). Links only millrace_kafka_group: no broker.
millrace_test(kafka_group_tests
  SOURCES group_coordinator_test.cc group_offset_store_test.cc consumer_group_test.cc
  DEPS millrace_kafka_group LABEL unit)
target_include_directories(kafka_group_tests PRIVATE ${PROJECT_SOURCE_DIR}/src/kafka)
