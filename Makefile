# medhub: the two set-up commands are `make run` and `make test` (see README.md).
# Everything else is for developers. CMake + Ninja do the real build in build/.

BUILD     ?= build
CMAKE_ARGS ?=
PYTHON    := /usr/bin/python3

.PHONY: all deps test-deps configure build run test unit integration asan fuzz-smoke fuzz \
        bench lint format format-check docs clean

all: build

deps:
	@scripts/deps.sh build

test-deps:
	@scripts/deps.sh test

$(BUILD)/build.ninja:
	cmake -S . -B $(BUILD) -G Ninja -DMEDHUB_WERROR=ON $(CMAKE_ARGS)

configure: $(BUILD)/build.ninja

build: deps configure
	ninja -C $(BUILD)

# Starts a first-look demo on loopback in a temporary data dir; Ctrl-C stops it.
run: build
	./$(BUILD)/medhub demo

# What CI runs: build with -Werror, lint, unit tests, integration tests, unit tests again
# under ASan+UBSan, and a short run of every fuzz target. Prints a summary at the end.
test: test-deps
	@tools/test.sh all

unit: test-deps
	@tools/test.sh unit

integration: test-deps
	@tools/test.sh integration

asan: test-deps
	@tools/test.sh asan

fuzz-smoke: test-deps
	@tools/test.sh fuzz

# Long fuzz runs (FUZZ_SECONDS per target, default 300).
fuzz: test-deps
	@tools/fuzz.sh $${FUZZ_SECONDS:-300}

# Benchmarks; results land in bench/results/.
bench: build
	@scripts/deps.sh bench
	@bench/run.sh $(BUILD)/medhub

lint:
	@tools/lint

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tests/*.h')

format-check:
	@tools/format-check

docs: build
	./$(BUILD)/medhub config reference > docs/config-reference.md.tmp && \
	  mv docs/config-reference.md.tmp docs/config-reference.md

clean:
	rm -rf $(BUILD) build-asan build-fuzz
