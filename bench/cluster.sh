#!/usr/bin/env bash
# The cluster under load (part of make bench unless SKIP_CLUSTER=1): one evald directly, the same
# instance behind nginx, and three instances behind nginx (round robin, keep-alive upstream
# connections), all on one PostgreSQL, for GET /auth/me and a project's results (evald seed-demo,
# as in bench/domain.sh). Alternating rounds; medians. Everything shares this machine's cores:
# see docs/PERFORMANCE.md for what the numbers can and cannot say. KEEP_WORK=1 keeps the
# working directory (logs, nginx.conf) for a look afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
ME_CONNECTIONS=${ME_CONNECTIONS:-100}           # as bench/run.sh's /auth/me
RESULTS_CONNECTIONS=${RESULTS_CONNECTIONS:-50}  # as bench/domain.sh's results
WRK_THREADS=${WRK_THREADS:-2}
EVALD=$(realpath "${EVALD:-build/evald}")
INSTANCES=${INSTANCES:-3}
COMPANIES=${COMPANIES:-1000}
EVALUATORS=${EVALUATORS:-200}
PER_COMPANY=${PER_COMPANY:-10}
source bench/lib.sh
bench_setup bench-cluster
pg_dir=$(mktemp -d /tmp/evald-bench-cluster-pg.XXXXXX)  # the postgres user must enter it
on_cleanup() { scripts/test-postgres.sh kill "$pg_dir" >/dev/null 2>&1 || true; }

on_wait_failure() { tail -n 5 "$work"/evald-*/evald.log "$work/nginx/error.log" >&2 2>/dev/null || true; }

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
pg_url=$(scripts/test-postgres.sh start "$pg_dir" | tail -1)
pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")  # its backends are its children
secret=bench-secret-bench-secret-bench-secret
out=$(ENVIRONMENT=test JWT_SECRET=$secret "$EVALD" seed-demo --database-url "$pg_url" \
  --companies "$COMPANIES" --evaluators "$EVALUATORS" --sheets-per-company "$PER_COMPANY" 2>&1) ||
  { echo "bench: seed-demo failed: $out" >&2; exit 1; }
project=$(sed -n 's/^seeded project \([^:]*\):.*/\1/p' <<< "$out")
secretary=$(sed -n 's/^secretary: //p' <<< "$out")
password=$(sed -n 's/^password (every demo account): //p' <<< "$out")

# The instances: the same settings as bench/domain.sh's, one database. The schema exists (seeded),
# so they may start together.
ports=()
evald_pids=()
for i in $(seq "$INSTANCES"); do
  port=$(free_port)
  ports+=("$port")
  mkdir -p "$work/evald-$i"
  (cd "$work/evald-$i" && exec env ENVIRONMENT=production JWT_SECRET=$secret HOST=127.0.0.1 \
    PORT=$port LOG_LEVEL=warn DATABASE_URL="$pg_url" RATE_LIMIT_ENABLED=false \
    "$EVALD" serve > "$work/evald-$i/evald.log" 2>&1) &
  pids+=($!)
  evald_pids+=($!)
done

# nginx: one port in front of the first instance alone, one in front of all of them.
one_port=$(free_port)
all_port=$(free_port)
mkdir -p "$work/nginx"
servers=""
for p in "${ports[@]}"; do servers+="    server 127.0.0.1:$p;"$'\n'; done
user=""
[[ $(id -u) -eq 0 ]] && user="user root root;"  # else the workers drop to nobody
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 2;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
$user
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  keepalive_timeout 60s;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream one { server 127.0.0.1:${ports[0]}; keepalive 64; keepalive_requests 1000000; }
  upstream all {
$servers    keepalive 64;
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:$one_port;
    location / { proxy_pass http://one; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
  server {
    listen 127.0.0.1:$all_port;
    location / { proxy_pass http://all; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
NGINX
/usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" -e "$work/nginx/error.log" &
nginx_pid=$!
pids+=("$nginx_pid")

for p in "${ports[@]}"; do wait_for "http://127.0.0.1:$p/health/ping"; done
wait_for "http://127.0.0.1:$one_port/health/ping"
wait_for "http://127.0.0.1:$all_port/health/ping"
token=$(curl -fs -X POST "http://127.0.0.1:${ports[0]}/auth/login" -H 'Content-Type: application/json' \
  -d "{\"login_id\":\"$secretary\",\"password\":\"$password\"}" | field '["access_token"]')
auth="Authorization: Bearer $token"
# One token serves every instance (one database, one JWT_SECRET); every instance computes the
# results once (its cache) before they are timed, and they are what they should be.
for p in "${ports[@]}"; do
  c=$(curl -fs "http://127.0.0.1:$p/api/projects/$project/results" -H "$auth" | field '["companies"].__len__()')
  [[ $c -eq $COMPANIES ]] || { echo "bench: results list $c companies on port $p" >&2; exit 1; }
done
n=$(curl -fs "http://127.0.0.1:$all_port/auth/me" -H "$auth" | field '["login_id"]')
[[ $n == "$secretary" ]] || { echo "bench: /auth/me through nginx answered $n" >&2; exit 1; }

: > "$work/results"
results_path="/api/projects/$project/results"
# CPU per request: the instances' (all of them: the idle ones' background work counts too),
# nginx's and PostgreSQL's together.
servers="${evald_pids[*]} $nginx_pid $pg_pid"
for round in $(seq "$ROUNDS"); do
  run_wrk me-direct "$ME_CONNECTIONS" "$servers" "http://127.0.0.1:${ports[0]}/auth/me" -H "$auth"
  run_wrk me-nginx1 "$ME_CONNECTIONS" "$servers" "http://127.0.0.1:$one_port/auth/me" -H "$auth"
  run_wrk me-nginxN "$ME_CONNECTIONS" "$servers" "http://127.0.0.1:$all_port/auth/me" -H "$auth"
  run_wrk results-direct "$RESULTS_CONNECTIONS" "$servers" \
    "http://127.0.0.1:${ports[0]}$results_path" -H "$auth"
  run_wrk results-nginx1 "$RESULTS_CONNECTIONS" "$servers" \
    "http://127.0.0.1:$one_port$results_path" -H "$auth"
  run_wrk results-nginxN "$RESULTS_CONNECTIONS" "$servers" \
    "http://127.0.0.1:$all_port$results_path" -H "$auth"
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

/usr/bin/python3 - "$work/results" "$ROUNDS" "$DURATION" "$ME_CONNECTIONS" "$RESULTS_CONNECTIONS" \
  "$INSTANCES" "$(nproc)" "$load_before" "$load_after" <<'PY'
import sys
sys.path.insert(0, "bench")
from benchlib import Results
path, rounds, duration, me_c, res_c, n, cores, load_before, load_after = sys.argv[1:]
r = Results(path)
print(f"cluster: {n} instances on one PostgreSQL, {cores} cores, load average before "
      f"{load_before}, after {load_after}; wrk -d{duration}, {rounds} alternating rounds (medians);\n"
      f"results: GET /api/projects/{{id}}/results of a seeded project (1,000 companies);\n"
      f"CPU: user + system time per request of every instance, nginx and PostgreSQL together")
print(f"{'scenario':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'CPU us':>7} "
      f"{'errors':>7} {'vs direct':>10}")
for what, conns, label in (("me", me_c, "/auth/me"), ("results", res_c, "results")):
    base = r.med(f"{what}-direct", "rps")
    for kind, desc in (("direct", "1 instance, direct"), ("nginx1", "1 instance behind nginx"),
                       ("nginxN", f"{n} instances behind nginx")):
        name = f"{what}-{kind}"
        rps = r.med(name, "rps")
        print(f"{f'{label} -c{conns}: {desc}':<46} {rps:>9.0f} {r.ms(name, 'p50'):>8} "
              f"{r.ms(name, 'p99'):>8} {r.ms(name, 'p999'):>9} {r.cpu(name):>7} "
              f"{r.errors(name):>7} {rps/base:>9.2f}x")
PY
