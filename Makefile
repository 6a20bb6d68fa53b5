# The two commands: `make run` and `make test`. Both install what is missing first.
BUILD_DIR ?= build
PYTHON    := /usr/bin/python3
SOURCES    = $(shell find src tests bench -name '*.cpp' -o -name '*.hpp')

.PHONY: all deps configure build run test unit functional format format-check bench clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null

build: configure
	@cmake --build $(BUILD_DIR)

run: build
	@mkdir -p data
	$(BUILD_DIR)/evald serve

test: build format-check unit functional

unit:
	@scripts/with-postgres.sh sh -c "cd $(BUILD_DIR) && ctest --output-on-failure --timeout 300"

functional:
	@$(PYTHON) -m pytest tests/functional -q -p no:cacheprovider

format:
	@clang-format -i $(SOURCES)

format-check:
	@clang-format --dry-run -Werror $(SOURCES) || \
	  (echo "evald: code is not clang-formatted; run 'make format'" >&2; exit 1)

bench: build
	@bench/run.sh

clean:
	rm -rf $(BUILD_DIR)
