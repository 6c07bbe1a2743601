# The two commands in README.md:
#   make up    install what is missing, build, run the pipeline (millrace up)
#   make test  install what is missing, build, run every test suite
# Builds use at most 2 jobs (see CMakePresets.json).

.PHONY: up test test-release test-asan test-fuzz build build-asan build-fuzz setup clean

up: build
	./build/millrace up

test: test-release test-asan test-fuzz

setup:
	@scripts/setup

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
