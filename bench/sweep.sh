#!/usr/bin/env bash
# make sweep: throughput and latency against concurrency. GET /health/ping on evald, nginx and
# FastAPI (uvicorn, 2 workers, uvloop and httptools, from Debian's packages; bench/fastapi_app.py),
# and GET /auth/me on evald and FastAPI (the same HS256 check of the same token), at 1 to 1,000
# connections (wrk, 2 threads). For each run: req/s, p50/p99/p99.9, the server's CPU time per
# request (/proc/<pid>/stat of the server and its worker processes, before and after) and its
# resident memory halfway through the run. Writes sweep.csv and sweep.png (req/s against
# connections, log x; p99 below) to SWEEP_OUT and prints the table.
set -euo pipefail
cd "$(dirname "$0")/.."

CONNECTIONS_LIST=${CONNECTIONS_LIST:-1 10 50 100 250 500 1000}
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-1}
WRK_THREADS=${WRK_THREADS:-2}
WRK_TIMEOUT=${WRK_TIMEOUT:-10s}  # a slow answer is measured, not dropped as a timeout
UVICORN_WORKERS=${UVICORN_WORKERS:-$(nproc)}
EVALD=$(realpath "${EVALD:-build/evald}")
SWEEP_OUT=${SWEEP_OUT:-$(mktemp -d /tmp/evald-sweep.XXXXXX)}
source bench/lib.sh
bench_setup sweep-work
on_wait_failure() { tail -n 5 "$work/evald/evald.log" "$work/uvicorn.log" >&2 2>/dev/null || true; }

# 1,000 connections: wrk, and each server, hold one descriptor per connection and more.
ulimit -n "$(ulimit -Hn)"
(($(ulimit -n) >= 4096)) || { echo "sweep: ulimit -n is $(ulimit -n); 1,000 connections need more" >&2; exit 1; }

secret=bench-secret-bench-secret-bench-secret
start_nginx_ping

# evald as in bench/run.sh's first instance: production settings, SQLite, access log on, rate
# limiting off.
evald_port=$(free_port)
mkdir -p "$work/evald"
(cd "$work/evald" && exec env ENVIRONMENT=production JWT_SECRET=$secret HOST=127.0.0.1 \
  PORT=$evald_port LOG_LEVEL=info DATABASE_URL="sqlite://$work/evald/bench.db" \
  RATE_LIMIT_ENABLED=false ADMIN_LOGIN_ID=bench-admin ADMIN_PASSWORD='Bench-Admin-Pass-2026!' \
  ADMIN_EMAIL=bench@example.org "$EVALD" serve > "$work/evald/evald.log" 2>&1) &
evald_pid=$!
pids+=("$evald_pid")
wait_for "http://127.0.0.1:$evald_port/health/ping"
wait_for "http://127.0.0.1:$nginx_port/health/ping"
login=$(curl -fs -X POST "http://127.0.0.1:$evald_port/auth/login" -H 'Content-Type: application/json' \
  -d '{"login_id":"bench-admin","password":"Bench-Admin-Pass-2026!"}')
token=$(field '["access_token"]' <<< "$login")
auth="Authorization: Bearer $token"
me=$(curl -fs "http://127.0.0.1:$evald_port/auth/me" -H "$auth")

# FastAPI knows the same user and session, in memory.
session=$("$BENCH_PYTHON" -c '
import base64, json, sys
p = sys.argv[1].split(".")[1]
print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["sid"])' "$token")
user_id=$(field '["id"]' <<< "$me")
uvicorn_port=$(free_port)
JWT_SECRET=$secret BENCH_USERS="{\"$user_id\": $me}" BENCH_SESSIONS="[\"$session\"]" \
  "$BENCH_PYTHON" -m uvicorn fastapi_app:app --app-dir bench --host 127.0.0.1 \
  --port "$uvicorn_port" --workers "$UVICORN_WORKERS" --no-access-log --log-level warning \
  > "$work/uvicorn.log" 2>&1 &
uvicorn_pid=$!
pids+=("$uvicorn_pid")
wait_for "http://127.0.0.1:$uvicorn_port/health/ping"
# Both answer /auth/me with the same user, and FastAPI refuses what evald refuses.
[[ $(curl -fs "http://127.0.0.1:$uvicorn_port/auth/me" -H "$auth" | field '["login_id"]') == bench-admin ]] ||
  { echo "sweep: FastAPI's /auth/me does not answer the user" >&2; exit 1; }
bad=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$uvicorn_port/auth/me" -H "${auth}x")
[[ $bad == 401 ]] || { echo "sweep: FastAPI accepted a bad signature ($bad)" >&2; exit 1; }
sleep 1  # every uvicorn worker up

# Not measured: a first short run against each, so that no series pays for first requests (a
# Python worker's lazy imports, evald's first allocations).
warm="$work/warm"
for url in "$nginx_port/health/ping" "$evald_port/health/ping" "$uvicorn_port/health/ping"; do
  wrk -t2 -c50 -d2s "http://127.0.0.1:$url" > "$warm"
done
for port in "$evald_port" "$uvicorn_port"; do
  wrk -t2 -c50 -d2s -H "$auth" "http://127.0.0.1:$port/auth/me" > "$warm"
done

load_before=$(cut -d" " -f1-3 /proc/loadavg)
idle="evald=$(rss_tree_kib "$evald_pid") nginx=$(rss_tree_kib "$nginx_pid") fastapi=$(rss_tree_kib "$uvicorn_pid")"
: > "$work/results"
for round in $(seq "$ROUNDS"); do
  for c in $CONNECTIONS_LIST; do
    run_wrk "nginx:ping:$c" "$c" "$nginx_pid" "http://127.0.0.1:$nginx_port/health/ping" \
      --timeout "$WRK_TIMEOUT"
    run_wrk "evald:ping:$c" "$c" "$evald_pid" "http://127.0.0.1:$evald_port/health/ping" \
      --timeout "$WRK_TIMEOUT"
    run_wrk "fastapi:ping:$c" "$c" "$uvicorn_pid" "http://127.0.0.1:$uvicorn_port/health/ping" \
      --timeout "$WRK_TIMEOUT"
    run_wrk "evald:me:$c" "$c" "$evald_pid" "http://127.0.0.1:$evald_port/auth/me" \
      --timeout "$WRK_TIMEOUT" -H "$auth"
    run_wrk "fastapi:me:$c" "$c" "$uvicorn_pid" "http://127.0.0.1:$uvicorn_port/auth/me" \
      --timeout "$WRK_TIMEOUT" -H "$auth"
  done
done

echo "load average ($(nproc) cores): before $load_before, after $(cut -d" " -f1-3 /proc/loadavg)"
"$BENCH_PYTHON" bench/sweep_report.py "$work/results" "$SWEEP_OUT" "$DURATION" "$ROUNDS" \
  "$UVICORN_WORKERS" "$idle"
