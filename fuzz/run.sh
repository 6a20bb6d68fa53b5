#!/usr/bin/env bash
# Runs the libFuzzer targets built in build-asan/ (docs/TESTING.md, "Fuzzing").
#
#   fuzz/run.sh smoke [TARGET...]   each target for FUZZ_SMOKE_SECONDS (15); what `make test` runs.
#                                   New inputs are thrown away; any crash fails the run.
#   fuzz/run.sh long [TARGET...]    each target for FUZZ_SECONDS (300); what `make fuzz` runs.
#                                   New inputs are kept in fuzz-corpus/TARGET/ (git-ignored).
#
# Every run starts by executing the committed seeds (fuzz/corpus/TARGET/, regression inputs
# included). A crash, leak, timeout or sanitizer report leaves the input in
# fuzz-artifacts/TARGET/ and the whole output in fuzz-artifacts/TARGET/log.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:-smoke}
shift || true
build=${FUZZ_BUILD_DIR:-build-asan}
all=(http_request api_bodies query jwt ratelimit_rules multipart backup)
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=("${all[@]}")

case "$mode" in
  smoke) seconds=${FUZZ_SMOKE_SECONDS:-15} ;;
  long) seconds=${FUZZ_SECONDS:-300} ;;
  *) echo "usage: fuzz/run.sh smoke|long [TARGET...]" >&2; exit 2 ;;
esac

dict_of() {
  case "$1" in
    http_request) echo http ;;
    api_bodies | query) echo json ;;
    ratelimit_rules) echo rules ;;
    *) echo "$1" ;;
  esac
}
max_len_of() {
  case "$1" in
    http_request) echo 24576 ;;  # past the default 16 KiB head limit
    backup) echo 32768 ;;
    query) echo 4096 ;;
    *) echo 16384 ;;
  esac
}

symbolizer=$(command -v llvm-symbolizer-14 || command -v llvm-symbolizer || true)
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:symbolize=1${symbolizer:+:external_symbolizer_path=$symbolizer}}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1${symbolizer:+:external_symbolizer_path=$symbolizer}}

failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  if [[ ! -x "$bin" ]]; then
    echo "fuzz: $bin is not built (make fuzz-build)" >&2
    exit 2
  fi
  artifacts="fuzz-artifacts/$t"
  mkdir -p "$artifacts"
  if [[ "$mode" == smoke ]]; then
    new=$(mktemp -d)
  else
    new="fuzz-corpus/$t"
    mkdir -p "$new"
  fi
  log="$artifacts/log"
  start=$(date +%s)
  set +e
  "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=3072 -max_len="$(max_len_of "$t")" \
    -dict="fuzz/dict/$(dict_of "$t").dict" -artifact_prefix="$artifacts/" -print_final_stats=1 \
    "$new" "fuzz/corpus/$t" >"$log" 2>&1
  rc=$?
  set -e
  [[ "$mode" == smoke ]] && rm -rf "$new"
  took=$(($(date +%s) - start))
  stats=$(grep -E '^#[0-9]+.*(DONE|pulse|NEW|REDUCE)' "$log" | tail -1 | sed -E 's/^#([0-9]+)\s+\w+\s+/\1 runs, /')
  rate=$(sed -nE 's/^stat::average_exec_per_sec:\s+//p' "$log")
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    echo "fuzz: $t FAILED after ${took}s (exit $rc): input and log in $artifacts/" >&2
    grep -E 'ERROR: |BROKEN PROPERTY|runtime error|Test unit written|SUMMARY' "$log" | head -12 >&2 || true
  else
    echo "fuzz: $t ok in ${took}s: ${stats:-?}; ${rate:-?} execs/s"
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
