#!/usr/bin/env bash
# The evaluation domain under load (part of make bench): an evaluator listing their assignments
# and a secretary reading a project's results, on a project of 1,000 companies, 200 evaluators and
# 10,000 sheets (evald seed-demo), on SQLite and on PostgreSQL, against nginx's ping in the same
# run. Alternating rounds; medians.
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-50}
WRK_THREADS=${WRK_THREADS:-2}
EVALD=$(realpath "${EVALD:-build/evald}")
COMPANIES=${COMPANIES:-1000}
EVALUATORS=${EVALUATORS:-200}
PER_COMPANY=${PER_COMPANY:-10}
source bench/lib.sh
bench_setup bench-domain
pg_dir=$(mktemp -d /tmp/evald-bench-domain-pg.XXXXXX)  # the postgres user must enter it
on_cleanup() { scripts/test-postgres.sh kill "$pg_dir" >/dev/null 2>&1 || true; }

start_nginx_ping
pg_url=$(scripts/test-postgres.sh start "$pg_dir" | tail -1)
pg_pid=$(head -1 "$pg_dir/data/postmaster.pid")  # its backends are its children

secret=bench-secret-bench-secret-bench-secret
declare -A port project evaluator secretary password server_pids
for engine in sqlite postgresql; do
  if [[ $engine == sqlite ]]; then url="sqlite://$work/domain.db"; else url=$pg_url; fi
  start=$(date +%s.%N)
  out=$(ENVIRONMENT=test JWT_SECRET=$secret "$EVALD" seed-demo --database-url "$url" \
    --companies "$COMPANIES" --evaluators "$EVALUATORS" --sheets-per-company "$PER_COMPANY" 2>&1) ||
    { echo "bench: seed-demo failed: $out" >&2; exit 1; }
  seeded=$(/usr/bin/python3 -c "print(f'{$(date +%s.%N) - $start:.1f}')")
  echo "seed-demo ($engine): $(grep "^seeded" <<< "$out") in $seeded s" >> "$work/seeded"
  project[$engine]=$(sed -n 's/^seeded project \([^:]*\):.*/\1/p' <<< "$out")
  secretary[$engine]=$(sed -n 's/^secretary: //p' <<< "$out")
  evaluator[$engine]=$(sed -n 's/^evaluators: \([^ ]*\) .*/\1/p' <<< "$out")
  password[$engine]=$(sed -n 's/^password (every demo account): //p' <<< "$out")
  port[$engine]=$(free_port)
  mkdir -p "$work/$engine"
  (cd "$work/$engine" && exec env ENVIRONMENT=production JWT_SECRET=$secret HOST=127.0.0.1 \
    PORT=${port[$engine]} LOG_LEVEL=warn DATABASE_URL="$url" RATE_LIMIT_ENABLED=false \
    "$EVALD" serve > "$work/$engine/evald.log" 2>&1) &
  pids+=($!)
  server_pids[$engine]=$!
  if [[ $engine == postgresql ]]; then server_pids[$engine]+=" $pg_pid"; fi
done
wait_for "http://127.0.0.1:$nginx_port/health/ping"
login() {  # port login password
  curl -fs -X POST "http://127.0.0.1:$1/auth/login" -H 'Content-Type: application/json' \
    -d "{\"login_id\":\"$2\",\"password\":\"$3\"}" | field '["access_token"]'
}
declare -A eval_token sec_token
for engine in sqlite postgresql; do
  p=${port[$engine]}
  wait_for "http://127.0.0.1:$p/health/ping"
  eval_token[$engine]=$(login "$p" "${evaluator[$engine]}" "${password[$engine]}")
  sec_token[$engine]=$(login "$p" "${secretary[$engine]}" "${password[$engine]}")
  # Both answers are what they should be before they are timed.
  n=$(curl -fs "http://127.0.0.1:$p/api/assignments?limit=50" \
      -H "Authorization: Bearer ${eval_token[$engine]}" | field '["items"].__len__()')
  [[ $n -gt 0 ]] || { echo "bench: the evaluator has no assignments on $engine" >&2; exit 1; }
  c=$(curl -fs "http://127.0.0.1:$p/api/projects/${project[$engine]}/results" \
      -H "Authorization: Bearer ${sec_token[$engine]}" | field '["companies"].__len__()')
  [[ $c -eq $COMPANIES ]] || { echo "bench: results list $c companies on $engine" >&2; exit 1; }
done

: > "$work/results"
for round in $(seq "$ROUNDS"); do
  run_wrk nginx "$CONNECTIONS" "$nginx_pid" "http://127.0.0.1:$nginx_port/health/ping"
  for engine in sqlite postgresql; do
    p=${port[$engine]}
    run_wrk "$engine-assignments" "$CONNECTIONS" "${server_pids[$engine]}" \
      "http://127.0.0.1:$p/api/assignments?limit=50" -H "Authorization: Bearer ${eval_token[$engine]}"
    run_wrk "$engine-results" "$CONNECTIONS" "${server_pids[$engine]}" \
      "http://127.0.0.1:$p/api/projects/${project[$engine]}/results" \
      -H "Authorization: Bearer ${sec_token[$engine]}"
  done
done

cat "$work/seeded"
/usr/bin/python3 - "$work/results" "$ROUNDS" "$DURATION" "$CONNECTIONS" "$COMPANIES" "$EVALUATORS" \
  "$((COMPANIES * PER_COMPANY))" <<'PY'
import sys
sys.path.insert(0, "bench")
from benchlib import Results
path, rounds, duration, conns, companies, evaluators, sheets = sys.argv[1:]
r = Results(path)
print(f"domain: {companies} companies, {evaluators} evaluators, {sheets} sheets; wrk -c{conns} "
      f"-d{duration}, {rounds} alternating rounds (medians);\nCPU: user + system time per request "
      f"of nginx's workers, evald, and on PostgreSQL evald's and the PostgreSQL server's together")
print(f"{'scenario':<46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'CPU us':>7} "
      f"{'errors':>7} {'vs nginx':>9}")
base = r.med("nginx", "rps")
labels = {"nginx": "nginx GET /health/ping"}
for e in ("sqlite", "postgresql"):
    labels[f"{e}-assignments"] = f"{e}: GET /api/assignments (evaluator, 50)"
    labels[f"{e}-results"] = f"{e}: GET /api/projects/{{id}}/results"
for name, label in labels.items():
    rps = r.med(name, "rps")
    print(f"{label:<46} {rps:>9.0f} {r.ms(name, 'p50'):>8} {r.ms(name, 'p99'):>8} "
          f"{r.ms(name, 'p999'):>9} {r.cpu(name):>7} {r.errors(name):>7} {rps/base:>8.2f}x")
PY
