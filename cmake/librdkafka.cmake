# librdkafka: the one millrace builds itself (scripts/deps/librdkafka; why in
# docs/dependencies.md), linked statically into every target that uses it
# through the imported target `millrace::rdkafka`. Debian's librdkafka, if
# installed (kcat brings its shared library), is never picked up: the headers
# come from the prefix ahead of /usr/include and the archive by full path.
#
# -DMILLRACE_RDKAFKA_PREFIX=<dir> uses another build (headers in include/,
# librdkafka.a and pkgconfig/rdkafka.pc in lib/).
set(_rdkafka_script ${CMAKE_SOURCE_DIR}/scripts/deps/librdkafka)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_rdkafka_script})
if(NOT MILLRACE_RDKAFKA_PREFIX)
  execute_process(COMMAND ${_rdkafka_script} --print-prefix
                  OUTPUT_VARIABLE MILLRACE_RDKAFKA_PREFIX OUTPUT_STRIP_TRAILING_WHITESPACE
                  RESULT_VARIABLE _rdkafka_rc)
  if(NOT _rdkafka_rc EQUAL 0)
    message(FATAL_ERROR "scripts/deps/librdkafka --print-prefix failed (${_rdkafka_rc})")
  endif()
endif()

set(_rdkafka_archive ${MILLRACE_RDKAFKA_PREFIX}/lib/librdkafka.a)
set(_rdkafka_pc ${MILLRACE_RDKAFKA_PREFIX}/lib/pkgconfig/rdkafka.pc)
if(NOT EXISTS ${_rdkafka_archive} OR NOT EXISTS ${_rdkafka_pc}
   OR NOT EXISTS ${MILLRACE_RDKAFKA_PREFIX}/include/librdkafka/rdkafka.h)
  message(FATAL_ERROR
    "librdkafka is not built at ${MILLRACE_RDKAFKA_PREFIX} (no lib/librdkafka.a, "
    "lib/pkgconfig/rdkafka.pc or include/librdkafka/rdkafka.h). Build it with "
    "scripts/deps/librdkafka (scripts/setup run does, and so do `make up` and `make test`), "
    "then configure again.")
endif()

# What the archive needs is what its rdkafka.pc says: the pkg-config modules of
# Requires.private (OpenSSL, SASL, curl, zstd, lz4, zlib; all shared, Debian's)
# and the system libraries of Libs.private.
file(STRINGS ${_rdkafka_pc} _rdkafka_requires REGEX "^Requires.private:")
file(STRINGS ${_rdkafka_pc} _rdkafka_libs_private REGEX "^Libs.private:")
file(STRINGS ${_rdkafka_pc} _rdkafka_version REGEX "^Version:")
string(REGEX REPLACE "^Requires.private:[ \t]*" "" _rdkafka_requires "${_rdkafka_requires}")
string(REGEX REPLACE "^Libs.private:[ \t]*" "" _rdkafka_libs_private "${_rdkafka_libs_private}")
string(REGEX REPLACE "^Version:[ \t]*" "" MILLRACE_RDKAFKA_VERSION "${_rdkafka_version}")
separate_arguments(_rdkafka_requires UNIX_COMMAND "${_rdkafka_requires}")
separate_arguments(_rdkafka_libs_private UNIX_COMMAND "${_rdkafka_libs_private}")
list(REMOVE_DUPLICATES _rdkafka_libs_private)

find_package(PkgConfig REQUIRED)
pkg_check_modules(RDKAFKA_DEPS REQUIRED IMPORTED_TARGET ${_rdkafka_requires})

add_library(millrace::rdkafka STATIC IMPORTED GLOBAL)
set_target_properties(millrace::rdkafka PROPERTIES
  IMPORTED_LOCATION ${_rdkafka_archive}
  INTERFACE_INCLUDE_DIRECTORIES ${MILLRACE_RDKAFKA_PREFIX}/include
  INTERFACE_LINK_LIBRARIES "PkgConfig::RDKAFKA_DEPS;Threads::Threads;${_rdkafka_libs_private}")
message(STATUS "librdkafka ${MILLRACE_RDKAFKA_VERSION} (static): ${MILLRACE_RDKAFKA_PREFIX}")
