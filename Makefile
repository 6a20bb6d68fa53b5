# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
SOURCES    = $(shell find src tests bench fuzz -name '*.cpp' -o -name '*.hpp')
# The libFuzzer build (clang, ASan+UBSan, coverage): its own directory, see docs/TESTING.md.
FUZZ_DIR  ?= build-fuzz

.PHONY: all deps configure web build run test unit functional format format-check bench soak sweep clean

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

test: build format-check unit functional

unit:
	@scripts/with-postgres.sh sh -c "cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300"

.PHONY: fuzz-build fuzz-smoke fuzz

# Each fuzz target for a short fixed time over its committed corpus (FUZZ_SMOKE_SECONDS, 15).
fuzz-smoke: fuzz-build
	@fuzz/run.sh smoke

# Each fuzz target for longer (FUZZ_SECONDS, 300), keeping new inputs in fuzz-corpus/.
fuzz: fuzz-build
	@fuzz/run.sh long

fuzz-build: deps
	@cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER=clang++-14 \
	  -DEVALD_FUZZ=ON -DEVALD_BUILD_TESTS=OFF >/dev/null
	@cmake --build $(FUZZ_DIR) --target fuzzers

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
	rm -rf $(BUILD_DIR)
