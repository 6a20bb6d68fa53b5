#!/usr/bin/env bash
# make bench: evald against nginx on loopback, same body, same wrk settings, alternating rounds.
# Prints a table of req/s, p50, p99 and the ratio to nginx, and the memory figures.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
WRK_THREADS=${WRK_THREADS:-2}
EVALD=${EVALD:-build/evald}
work=$(mktemp -d /tmp/evald-bench.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_for() {
  for _ in $(seq 100); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench: $1 did not come up" >&2; exit 1
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

nginx_port=$(free_port)
mkdir -p "$work/nginx"
sed -e "s|@DIR@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" bench/nginx.conf.in > "$work/nginx/nginx.conf"
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)

evald_port=$(free_port)
(cd "$work" && ENVIRONMENT=production JWT_SECRET=bench-secret-bench-secret-bench-secret \
  HOST=127.0.0.1 PORT=$evald_port LOG_LEVEL=info DATABASE_URL=sqlite://$work/bench.db RATE_LIMIT_ENABLED=false \
  ADMIN_LOGIN_ID=bench-admin ADMIN_PASSWORD='Bench-Admin-Pass-2026!' ADMIN_EMAIL=bench@example.org \
  exec "$OLDPWD/$EVALD" serve > "$work/evald.log" 2>&1) &
evald_pid=$!
pids+=($evald_pid)

wait_for "http://127.0.0.1:$nginx_port/health/ping"
wait_for "http://127.0.0.1:$evald_port/health/ping"
sleep 1
idle_rss=$(rss_kib "$evald_pid")

run_wrk() {  # name url [wrk args...] -> appends "name rps p50 p99 p999 errors" to results
  local name=$1 url=$2 out
  shift 2
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/wrk_report.lua "$@" "$url" | grep '^RESULT')
  echo "$name $out" >> "$work/results"
}

token=$(curl -fs -X POST "http://127.0.0.1:$evald_port/auth/login" -H 'Content-Type: application/json' \
  -d '{"login_id":"bench-admin","password":"Bench-Admin-Pass-2026!"}' |
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

: > "$work/results"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$nginx_port/health/ping"
  run_wrk evald "http://127.0.0.1:$evald_port/health/ping"
  run_wrk evald-me "http://127.0.0.1:$evald_port/auth/me" -H "Authorization: Bearer $token"
done
# Logins are argon2id-bound (about 20 ms of one core each): few connections, one round.
out=$(wrk -t2 -c8 -d"$DURATION" -s bench/login.lua "http://127.0.0.1:$evald_port/auth/login" | grep '^RESULT')
echo "evald-login $out" >> "$work/results"

held=$(/usr/bin/python3 bench/hold_connections.py "$evald_port" "$evald_pid" 1000 /health/ping)
kill "$evald_pid" 2>/dev/null || true

/usr/bin/python3 - "$work/results" "$idle_rss" "$held" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import re, statistics, sys
path, idle, held, rounds, duration, conns = sys.argv[1:]
rows = {}
for line in open(path):
    name, rest = line.split(" ", 1)
    vals = dict(kv.split("=") for kv in re.findall(r"\w+=[\d.]+", rest))
    rows.setdefault(name, []).append({k: float(v) for k, v in vals.items()})
def med(name, key):
    return statistics.median(r[key] for r in rows[name])
print(f"wrk -c{conns} -d{duration}, {rounds} alternating rounds (medians); logins: -c8, one round")
print(f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'errors':>7} {'vs nginx':>9}")
base = med("nginx", "rps")
labels = {"nginx": "nginx GET /health/ping", "evald": "evald GET /health/ping",
          "evald-me": "evald GET /auth/me (JWT+session)", "evald-login": "evald POST /auth/login"}
for name in ("nginx", "evald", "evald-me", "evald-login"):
    rps = med(name, "rps")
    print(f"{labels[name]:<34} {rps:>9.0f} {med(name,'p50')/1000:>8.2f} {med(name,'p99')/1000:>8.2f} "
          f"{med(name,'p999')/1000:>9.2f} {int(sum(r['errors']+r['non2xx'] for r in rows[name])):>7} {rps/base:>8.2f}x")
answered, rss = held.split()
print(f"evald resident memory: idle {int(idle)/1024:.1f} MiB; with {answered} open keep-alive "
      f"connections {int(rss)/1024:.1f} MiB")
PY

# Storage: queries/s from the worker pool over 100,000 rows, both engines, cache off and on.
if [[ "${SKIP_DB:-0}" != 1 ]]; then
  pg_dir=$(mktemp -d /tmp/evald-bench-pg.XXXXXX)  # directly in /tmp: the postgres user must enter it
  pg_url=$(scripts/test-postgres.sh start "$pg_dir")
  DB_SECONDS=${DB_SECONDS:-5}
  { build/db_bench "sqlite://$work/db-bench.sqlite" "$DB_SECONDS"
    build/db_bench "$pg_url" "$DB_SECONDS"; } 2>/dev/null > "$work/db-results"
  scripts/test-postgres.sh kill "$pg_dir"
  echo
  echo "storage: queries/s from the worker pool (8 threads, 64 in flight), 100,000 companies"
  /usr/bin/python3 - "$work/db-results" <<'PY'
import sys
rows = {}
for line in open(sys.argv[1]):
    _, engine, query, mode, qps = line.split()
    rows[(engine, query, mode)] = float(qps)
print(f"{'engine':<11} {'query':<32} {'no cache':>10} {'cache':>10}")
for engine in ("sqlite", "postgresql"):
    for query, label in (("pk_lookup", "lookup by primary key"), ("list50", "50-row filtered, ordered list")):
        print(f"{engine:<11} {label:<32} {rows[(engine, query, 'nocache')]:>10.0f} {rows[(engine, query, 'cache')]:>10.0f}")
PY
fi
