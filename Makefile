# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
SOURCES    = $(shell find src tests bench fuzz -name '*.cpp' -o -name '*.hpp')
# The sanitizer builds, each in a directory of its own, at -O1 (docs/TESTING.md). build-asan:
# clang 14 with ASan+UBSan and libFuzzer's coverage hooks, for evald, the unit tests and the fuzz
# targets alike (one build for all three). build-tsan: GCC with TSan, the threaded unit tests only.
ASAN_DIR  ?= build-asan
TSAN_DIR  ?= build-tsan
SAN_SUPP  := $(CURDIR)/tests/sanitizers
SYMBOLIZER := /usr/lib/llvm-14/bin/llvm-symbolizer
# Any report fails the run: the process stops at the first one with a non-zero status, and the
# functional fixtures also look for a report in each server's log (tests/functional/conftest.py).
SAN_ENV = ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1:check_initialization_order=1:strict_init_order=1:external_symbolizer_path=$(SYMBOLIZER) \
  UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:print_stacktrace=1:external_symbolizer_path=$(SYMBOLIZER) \
  LSAN_OPTIONS=suppressions=$(SAN_SUPP)/lsan.supp:print_suppressions=0
TSAN_ENV = TSAN_OPTIONS=halt_on_error=1:abort_on_error=1:second_deadlock_stack=1:suppressions=$(SAN_SUPP)/tsan.supp:print_suppressions=0
# Waits and time bounds in the functional suites grow by this under ASan (conftest.py).
ASAN_TIME_SCALE ?= 3
# The functional suites `make test` runs against the ASan binary: the ones that drive the most
# C++ (HTTP, auth, MFA, reset, rate limits, the domain, storage, errors, health); `make
# test-full` runs the whole directory under ASan.
ASAN_SUITES ?= $(addprefix tests/functional/,test_http_basics.py test_streamed_bodies.py \
  test_auth_login.py test_auth_tokens.py test_auth_sessions.py test_auth_password.py \
  test_auth_lockout.py test_auth_input.py test_mfa.py test_password_reset.py \
  test_rate_limit.py test_rate_limit_rules.py test_rate_limit_redis.py \
  test_domain_workflow.py test_domain_evaluations.py test_domain_files.py \
  test_storage_cli.py test_error_log.py test_health_ops.py test_config.py)

.PHONY: all deps configure web build run test test-full unit functional format format-check bench soak sweep clean \
        sanitize asan-build asan-unit asan-functional tsan-build tsan

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure web
	@cmake --build $(BUILD_DIR)

# Swagger UI, ReDoc and the OpenAPI validator, at the versions pinned in web/package-lock.json.
web: web/node_modules/.package-lock.json
web/node_modules/.package-lock.json: web/package.json web/package-lock.json
	@cd web && npm ci --no-audit --no-fund --loglevel=error

run: build
	@mkdir -p data
	$(BUILD_DIR)/evald serve

test: build format-check unit functional sanitize fuzz-smoke

# The same, with every functional suite under ASan+UBSan rather than the core ones.
test-full: ASAN_SUITES = tests/functional
test-full: test

# The unit tests and the core functional suites against the ASan+UBSan build, the threaded unit
# tests under TSan.
sanitize: asan-unit asan-functional tsan

asan-build: deps web
	@cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DEVALD_FUZZ=ON >/dev/null
	@cmake --build $(ASAN_DIR) --target evald unit_tests fuzzers

# One process for the whole suite rather than ctest's one per test (each would pay for ASan's
# start-up and the leak check at exit).
asan-unit: asan-build
	@$(SAN_ENV) scripts/with-postgres.sh $(ASAN_DIR)/unit_tests --gtest_brief=1

asan-functional: asan-build
	@$(SAN_ENV) EVALD_BIN=$(CURDIR)/$(ASAN_DIR)/evald EVALD_TEST_TIME_SCALE=$(ASAN_TIME_SCALE) \
	  EVALD_TEST_SANITIZER=address,undefined $(PYTHON) -m pytest $(ASAN_SUITES) -q -p no:cacheprovider

# ThreadSanitizer over the unit tests that run code on several threads (concurrency_tests in
# CMakeLists.txt); only the libraries they need are built.
tsan-build: deps
	@cmake -S . -B $(TSAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DEVALD_SANITIZE=thread >/dev/null
	@cmake --build $(TSAN_DIR) --target concurrency_tests

tsan: tsan-build
	@$(TSAN_ENV) scripts/with-postgres.sh $(TSAN_DIR)/concurrency_tests --gtest_brief=1

unit:
	@scripts/with-postgres.sh sh -c "cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300"

.PHONY: fuzz-build fuzz-smoke fuzz

# Each fuzz target for a short fixed time over its committed corpus (FUZZ_SMOKE_SECONDS, 15).
fuzz-smoke: fuzz-build
	@FUZZ_BUILD_DIR=$(ASAN_DIR) fuzz/run.sh smoke

# Each fuzz target for longer (FUZZ_SECONDS, 300), keeping new inputs in fuzz-corpus/.
fuzz: fuzz-build
	@FUZZ_BUILD_DIR=$(ASAN_DIR) fuzz/run.sh long

fuzz-build: asan-build

functional:
	@$(PYTHON) -m pytest tests/functional -q -p no:cacheprovider

format:
	@clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run -Werror $(SOURCES) || \
	  (echo "evald: code is not clang-formatted; run 'make format'" >&2; exit 1)

bench: build
	@bench/run.sh

# Ten minutes of a realistic mix against one evald on SQLite (SOAK_SECONDS to change).
soak: build
	@bench/soak.sh

# Throughput and latency against connections, evald against nginx and FastAPI with uvicorn.
sweep: build
	@bench/sweep.sh

clean:
	rm -rf $(BUILD_DIR) $(ASAN_DIR) $(TSAN_DIR)
