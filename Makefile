# The two commands in README.md:
#   make up    install what running needs, build the binary, run the pipeline
#              (millrace up); `make up ARGS='--data-dir /tmp/d'` passes arguments
#   make test  install what is missing (test clients too), build, run every test suite
# Builds use at most 2 jobs (see CMakePresets.json).

.PHONY: up test test-release test-asan test-fuzz build build-binary build-asan build-fuzz setup setup-run clean

ARGS ?=

up: build-binary
	./build/millrace up $(ARGS)

test: test-release test-asan test-fuzz

# What building and running needs (scripts/setup run); `setup` adds every test client.
setup-run:
	@scripts/setup run

setup:
	@scripts/setup test

# Only the binary: what `make up` runs.
build-binary: setup-run
	@test -f build/build.ninja || cmake --preset release
	@cmake --build --preset release --target millrace

build: setup
	@test -f build/build.ninja || cmake --preset release
	@cmake --build --preset release

# Only the unit suites: they are what runs under the sanitizers.
build-asan: setup
	@test -f build-asan/build.ninja || cmake --preset asan
	@cmake --build --preset asan --target unit_tests

# Every suite (unit, integration, compat) on the release build.
test-release: build
	ctest --preset release

# Unit tests again under AddressSanitizer + UndefinedBehaviorSanitizer.
test-asan: build-asan
	ctest --preset asan

# The decoders' libFuzzer targets (clang, only the decoder sources), each run
# for a few seconds from its seed corpus: tests/fuzz/README.md.
build-fuzz: setup
	@test -f build-fuzz/build.ninja || cmake --preset fuzz
	@cmake --build --preset fuzz

test-fuzz: build-fuzz
	ctest --preset fuzz

clean:
	rm -rf build build-debug build-asan build-fuzz
