# The two commands in README.md:
#   make up    install what is missing, build, run the pipeline (millrace up)
#   make test  install what is missing, build, run every test suite
# Builds use at most 2 jobs (see CMakePresets.json).

.PHONY: up test test-release test-asan build build-asan setup clean

up: build
	./build/millrace up

test: test-release test-asan

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

clean:
	rm -rf build build-debug build-asan
