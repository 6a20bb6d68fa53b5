#!/usr/bin/env bash
# make bench: evald against nginx on loopback, same body, same wrk settings, alternating rounds.
# Prints a table of req/s, p50, p99, p99.9, the server's CPU time per request and the ratio to
# nginx, and the memory figures.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-100}
WRK_THREADS=${WRK_THREADS:-2}
EVALD=$(realpath "${EVALD:-build/evald}")
source bench/lib.sh
bench_setup bench

start_nginx_ping

never_refusing_rules "$work/rules.yaml"
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" \
  --logfile "$work/redis.log" &
redis_pid=$!
pids+=("$redis_pid")

start_evald() {  # name extra-env... -> sets port_<name>, pid_<name>
  local name=$1 port
  shift
  port=$(free_port)
  mkdir -p "$work/$name"
  (cd "$work/$name" && exec env ENVIRONMENT=production JWT_SECRET=bench-secret-bench-secret-bench-secret \
    HOST=127.0.0.1 PORT=$port LOG_LEVEL=info DATABASE_URL=sqlite://$work/$name/bench.db \
    ADMIN_LOGIN_ID=bench-admin ADMIN_PASSWORD='Bench-Admin-Pass-2026!' ADMIN_EMAIL=bench@example.org \
    "$@" "$EVALD" serve > "$work/$name/evald.log" 2>&1) &
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

login() {
  curl -fs -X POST "http://127.0.0.1:$1/auth/login" -H 'Content-Type: application/json' \
    -d '{"login_id":"bench-admin","password":"Bench-Admin-Pass-2026!"}' |
    field '["access_token"]'
}
token=$(login "$port_off")
token_local=$(login "$port_local")
token_redis=$(login "$port_redis")
curl -fs "http://127.0.0.1:$port_redis/health/ready" | grep -q '"store":"redis"' ||
  { echo "bench: the Redis instance is not using Redis" >&2; exit 1; }

me_off() {
  run_wrk evald-me "$CONNECTIONS" "$evald_pid" "http://127.0.0.1:$evald_port/auth/me" \
    -H "Authorization: Bearer $token"
}
me_local() {
  run_wrk evald-me-local "$CONNECTIONS" "$pid_local" "http://127.0.0.1:$port_local/auth/me" \
    -H "Authorization: Bearer $token_local"
}
me_redis() {  # CPU per request here is evald's and redis-server's together.
  run_wrk evald-me-redis "$CONNECTIONS" "$pid_redis $redis_pid" \
    "http://127.0.0.1:$port_redis/auth/me" -H "Authorization: Bearer $token_redis"
}

: > "$work/results"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$CONNECTIONS" "$nginx_pid" "http://127.0.0.1:$nginx_port/health/ping"
  run_wrk evald "$CONNECTIONS" "$evald_pid" "http://127.0.0.1:$evald_port/health/ping"
  # The three /auth/me runs in turn, in reverse order every other round, so that a drift of
  # the machine does not favour the one that always runs first.
  me_runs=(me_off me_local me_redis)
  if ((round % 2 == 0)); then me_runs=(me_redis me_local me_off); fi
  for run in "${me_runs[@]}"; do "$run"; done
done
curl -fs "http://127.0.0.1:$port_redis/health/ready" | grep -q '"store":"redis"' ||
  echo "bench: warning: the Redis instance fell back to in-process during the run" >&2
# Logins are argon2id-bound (about 20 ms of one core each): few connections, one round.
WRK_SCRIPT=bench/login.lua WRK_THREADS=2 run_wrk evald-login 8 "$evald_pid" \
  "http://127.0.0.1:$evald_port/auth/login"

held=$(/usr/bin/python3 bench/hold_connections.py "$evald_port" "$evald_pid" 1000 /health/ping)
for p in "$pid_off" "$pid_local" "$pid_redis"; do kill "$p" 2>/dev/null || true; done

/usr/bin/python3 - "$work/results" "$idle_rss" "$held" "$ROUNDS" "$DURATION" "$CONNECTIONS" <<'PY'
import sys
sys.path.insert(0, "bench")
from benchlib import Results
path, idle, held, rounds, duration, conns = sys.argv[1:]
r = Results(path)
print(f"wrk -c{conns} -d{duration}, {rounds} alternating rounds (medians); logins: -c8, one round;"
      f"\nCPU: the server's user + system time per request (evald, nginx's workers; with Redis,"
      f" evald's and redis-server's)")
print(f"{'scenario':<34} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'CPU us':>7} "
      f"{'errors':>7} {'vs nginx':>9}")
base = r.med("nginx", "rps")
labels = {"nginx": "nginx GET /health/ping", "evald": "evald GET /health/ping",
          "evald-me": "evald GET /auth/me (JWT+session)",
          "evald-me-local": "  same, limits in-process",
          "evald-me-redis": "  same, limits in Redis",
          "evald-login": "evald POST /auth/login"}
for name in ("nginx", "evald", "evald-me", "evald-me-local", "evald-me-redis", "evald-login"):
    rps = r.med(name, "rps")
    print(f"{labels[name]:<34} {rps:>9.0f} {r.ms(name, 'p50'):>8} {r.ms(name, 'p99'):>8} "
          f"{r.ms(name, 'p999'):>9} {r.cpu(name):>7} {r.errors(name):>7} {rps/base:>8.2f}x")
# Issue 5's targets, from the rounds' pairs (each round runs the three back to back).
import statistics
def paired(base, name):
    q = sorted(r.ratios(base, name))
    return f"{statistics.median(q):.3f}x (rounds {q[0]:.3f}-{q[-1]:.3f})"
local_cpu = statistics.median(r.cpu_diffs("evald-me", "evald-me-local"))
print(f"rate limiting on /auth/me, median of the rounds' ratios: in-process {paired('evald-me', 'evald-me-local')}"
      f" of off (+{local_cpu:.1f} us CPU per request); Redis {paired('evald-me-local', 'evald-me-redis')}"
      f" of in-process")
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
