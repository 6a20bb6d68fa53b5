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

# Rules that never refuse, so that the limited scenarios measure the decision, not refusals.
cat > "$work/rules.yaml" <<'YAML'
rules:
  - {scope: per_ip, match: api, limit: 1000000000, window: 60}
  - {scope: per_user, match: default, limit: 1000000000, window: 3600}
  - {scope: global, limit: 1000000000, window: 60}
YAML
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
pids+=($!)

start_evald() {  # name extra-env... -> sets port_<name>, pid_<name>
  local name=$1 port
  shift
  port=$(free_port)
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec env ENVIRONMENT=production JWT_SECRET=bench-secret-bench-secret-bench-secret \
    HOST=127.0.0.1 PORT=$port LOG_LEVEL=info DATABASE_URL=sqlite://$work/$name/bench.db \
    ADMIN_LOGIN_ID=bench-admin ADMIN_PASSWORD='Bench-Admin-Pass-2026!' ADMIN_EMAIL=bench@example.org \
    "$@" "$OLDPWD/$EVALD" serve > "$work/$name/evald.log" 2>&1) &
  pids+=($!)
  printf -v "port_$name" %s "$port"
  printf -v "pid_$name" %s "$!"
}
start_evald off RATE_LIMIT_ENABLED=false
start_evald local RATE_LIMIT_ENABLED=true RATE_LIMIT_RULES="$work/rules.yaml"
start_evald redis RATE_LIMIT_ENABLED=true RATE_LIMIT_RULES="$work/rules.yaml" \
  REDIS_URL="redis://127.0.0.1:$redis_port/0"
evald_port=$port_off
evald_pid=$pid_off

wait_for "http://127.0.0.1:$nginx_port/health/ping"
for p in "$port_off" "$port_local" "$port_redis"; do wait_for "http://127.0.0.1:$p/health/ping"; done
sleep 1
idle_rss=$(rss_kib "$evald_pid")

run_wrk() {  # name url [wrk args...] -> appends "name rps p50 p99 p999 errors" to results
  local name=$1 url=$2 out
  shift 2
  out=$(wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"$DURATION" -s bench/wrk_report.lua "$@" "$url" | grep '^RESULT')
  echo "$name $out" >> "$work/results"
}

login() {
  curl -fs -X POST "http://127.0.0.1:$1/auth/login" -H 'Content-Type: application/json' \
    -d '{"login_id":"bench-admin","password":"Bench-Admin-Pass-2026!"}' |
    /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])'
}
token=$(login "$port_off")
token_local=$(login "$port_local")
token_redis=$(login "$port_redis")
curl -fs "http://127.0.0.1:$port_redis/health/ready" | grep -q '"store":"redis"' ||
  { echo "bench: the Redis instance is not using Redis" >&2; exit 1; }

: > "$work/results"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "http://127.0.0.1:$nginx_port/health/ping"
  run_wrk evald "http://127.0.0.1:$evald_port/health/ping"
  run_wrk evald-me "http://127.0.0.1:$evald_port/auth/me" -H "Authorization: Bearer $token"
  run_wrk evald-me-local "http://127.0.0.1:$port_local/auth/me" -H "Authorization: Bearer $token_local"
  run_wrk evald-me-redis "http://127.0.0.1:$port_redis/auth/me" -H "Authorization: Bearer $token_redis"
done
curl -fs "http://127.0.0.1:$port_redis/health/ready" | grep -q '"store":"redis"' ||
  echo "bench: warning: the Redis instance fell back to in-process during the run" >&2
# Logins are argon2id-bound (about 20 ms of one core each): few connections, one round.
out=$(wrk -t2 -c8 -d"$DURATION" -s bench/login.lua "http://127.0.0.1:$evald_port/auth/login" | grep '^RESULT')
echo "evald-login $out" >> "$work/results"

held=$(/usr/bin/python3 bench/hold_connections.py "$evald_port" "$evald_pid" 1000 /health/ping)
for p in "$pid_off" "$pid_local" "$pid_redis"; do kill "$p" 2>/dev/null || true; done

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
          "evald-me": "evald GET /auth/me (JWT+session)",
          "evald-me-local": "  same, limits in-process",
          "evald-me-redis": "  same, limits in Redis",
          "evald-login": "evald POST /auth/login"}
for name in ("nginx", "evald", "evald-me", "evald-me-local", "evald-me-redis", "evald-login"):
    rps = med(name, "rps")
    print(f"{labels[name]:<34} {rps:>9.0f} {med(name,'p50')/1000:>8.2f} {med(name,'p99')/1000:>8.2f} "
          f"{med(name,'p999')/1000:>9.2f} {int(sum(r['errors']+r['non2xx'] for r in rows[name])):>7} {rps/base:>8.2f}x")
me = med("evald-me", "rps")
print(f"rate limiting on /auth/me: in-process {med('evald-me-local','rps')/me:.3f}x of off; "
      f"Redis {med('evald-me-redis','rps')/med('evald-me-local','rps'):.3f}x of in-process")
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

# The evaluation domain: an evaluator's assignments and a project's results, both engines.
if [[ "${SKIP_DOMAIN:-0}" != 1 ]]; then
  echo
  bench/domain.sh
fi

# One instance against three behind nginx, on one PostgreSQL: /auth/me and a project's results.
if [[ "${SKIP_CLUSTER:-0}" != 1 ]]; then
  echo
  bench/cluster.sh
fi
