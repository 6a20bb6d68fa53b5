#!/usr/bin/env bash
# make soak: one evald on SQLite under a realistic mix for SOAK_SECONDS (default 600) at high
# concurrency (bench/soak.py: evaluators reading, saving drafts and submitting, secretaries
# reopening and reading results, paced sign-ins), sampling its memory, descriptors and CPU.
# Exits non-zero unless: no 5xx, resident memory after the warm-up grows under 5 %, open
# descriptors do not grow, per-minute p50/p99 stay within 1.5x/2x of their median.
# The report and its CSV files stay in SOAK_OUT (default: a new /tmp/evald-soak.* directory).
# SOAK_EVALD_ENV="NAME=value ..." adds settings to evald's; SOAK_ARGS adds bench/soak.py options
# (--sample, --warmup, --interval, the bounds: see bench/soak.py run --help).
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-600}
SOAK_CONNECTIONS=${SOAK_CONNECTIONS:-200}     # virtual users, one connection each
SOAK_SECRETARIES=${SOAK_SECRETARIES:-20}      # of them secretaries; the rest evaluators
SOAK_PROCS=${SOAK_PROCS:-2}                   # driver processes
SOAK_LOGIN_RATE=${SOAK_LOGIN_RATE:-2}         # sign-ins per second (argon2id)
COMPANIES=${COMPANIES:-1000}
EVALUATORS=${EVALUATORS:-200}                 # at least the evaluator connections
PER_COMPANY=${PER_COMPANY:-10}
EVALD=$(realpath "${EVALD:-build/evald}")
SOAK_OUT=${SOAK_OUT:-$(mktemp -d /tmp/evald-soak.XXXXXX)}
source bench/lib.sh
bench_setup soak-work
on_cleanup() { cp "$work/evald.log" "$SOAK_OUT/" 2>/dev/null || true; }
on_wait_failure() { tail -n 20 "$work/evald.log" >&2; }

secret=bench-secret-bench-secret-bench-secret
db="sqlite://$work/soak.db"
ENVIRONMENT=test JWT_SECRET=$secret "$EVALD" seed-demo --database-url "$db" \
  --companies "$COMPANIES" --evaluators "$EVALUATORS" --sheets-per-company "$PER_COMPANY" \
  > "$work/seeded" 2>&1 || { cat "$work/seeded" >&2; exit 1; }

# As deployed: production settings, the access log on, rate limiting on, with rules that never
# refuse (one client address sends everything here) so that the limiter's state is part of it.
never_refusing_rules "$work/rules.yaml"
port=$(free_port)
(cd "$work" && exec env ENVIRONMENT=production JWT_SECRET=$secret HOST=127.0.0.1 PORT=$port \
  LOG_LEVEL=info DATABASE_URL="$db" RATE_LIMIT_ENABLED=true RATE_LIMIT_RULES="$work/rules.yaml" \
  ${SOAK_EVALD_ENV:-} "$EVALD" serve > "$work/evald.log" 2>&1) &
evald_pid=$!
pids+=("$evald_pid")
wait_for "http://127.0.0.1:$port/health/ping"

load_before=$(cut -d" " -f1-3 /proc/loadavg)
ulimit -n "$(ulimit -Hn)"
status=0
"$BENCH_PYTHON" bench/soak.py run --url "http://127.0.0.1:$port" --pid "$evald_pid" \
  --seed-output "$work/seeded" --out "$SOAK_OUT" --seconds "$SOAK_SECONDS" \
  --connections "$SOAK_CONNECTIONS" --secretaries "$SOAK_SECRETARIES" --procs "$SOAK_PROCS" \
  --login-rate "$SOAK_LOGIN_RATE" ${SOAK_ARGS:-} || status=$?
echo "load average ($(nproc) cores): before $load_before, after $(cut -d" " -f1-3 /proc/loadavg)"
kill -0 "$evald_pid" 2>/dev/null || { echo "soak: evald is gone" >&2; status=1; }
echo "soak: report, samples.csv and intervals.csv in $SOAK_OUT"
exit "$status"
