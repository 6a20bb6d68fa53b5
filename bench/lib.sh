# shellcheck shell=bash
# Shell helpers shared by the bench scripts (sourced, from the repository's root). A script
# calls bench_setup NAME first: it sets `work` (its scratch directory) and `pids=()` (what the
# exit trap kills).

BENCH_PYTHON=${BENCH_PYTHON:-/usr/bin/python3}

free_port() { "$BENCH_PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# wait_for URL: until it answers 2xx (10 s); else says so, calls on_wait_failure if the script
# defines it (to show logs), and exits.
wait_for() {
  for _ in $(seq 200); do curl -fs "$1" >/dev/null 2>&1 && return 0; sleep 0.05; done
  echo "bench: $1 did not come up" >&2
  declare -F on_wait_failure >/dev/null && on_wait_failure
  exit 1
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }

# field EXPR: reads JSON on stdin and prints json.load(stdin)EXPR, e.g. field '["access_token"]'.
field() { "$BENCH_PYTHON" -c "import json,sys; print(json.load(sys.stdin)$1)"; }

# descendants PID...: the pids and every live process below them (nginx's and uvicorn's workers,
# PostgreSQL's backends).
descendants() {
  local p
  for p in "$@"; do
    [[ -d /proc/$p ]] || continue
    echo "$p"
    # shellcheck disable=SC2046
    descendants $(cat /proc/"$p"/task/*/children 2>/dev/null)
  done
}

# cpu_ticks PID...: user + system CPU time (clock ticks, getconf CLK_TCK) of the processes and
# their descendants, all threads included.
cpu_ticks() {
  local sum=0 p s
  for p in $(descendants "$@"); do
    s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
    s=${s##*) }  # past the command name, which may hold spaces: field 3 (state) comes first
    # shellcheck disable=SC2086
    set -- $s
    sum=$((sum + ${12} + ${13}))
  done
  echo "$sum"
}

# rss_tree_kib PID...: resident memory (VmRSS) of the processes and their descendants, summed.
rss_tree_kib() {
  local sum=0 p r
  for p in $(descendants "$@"); do
    r=$(awk '/^VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null) || continue
    sum=$((sum + ${r:-0}))
  done
  echo "$sum"
}

# start_nginx_ping: nginx answering every path with /health/ping's body (bench/nginx.conf.in),
# in $work/nginx; sets nginx_port and nginx_pid (the master; its workers are its children).
start_nginx_ping() {
  nginx_port=$(free_port)
  mkdir -p "$work/nginx"
  sed -e "s|@DIR@|$work/nginx|g" -e "s|@PORT@|$nginx_port|g" bench/nginx.conf.in > "$work/nginx/nginx.conf"
  /usr/sbin/nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
  nginx_pid=$!
  pids+=("$nginx_pid")
}

# run_wrk NAME CONNECTIONS "PID..." URL [wrk args...]: one wrk run (WRK_THREADS threads, at
# most one per connection; DURATION); appends "NAME RESULT rps=.. p50=.. p99=.. p999=.. errors=..
# non2xx=.. requests=.. cpu_ticks=.. rss_kib=.." to $work/results: cpu_ticks is what the given
# server processes (and their children) spent during the run, rss_kib their resident memory
# halfway through it, connections open. WRK_SCRIPT picks another report script (bench/login.lua).
run_wrk() {
  local name=$1 conns=$2 servers=$3 url=$4 before after wpid rss=0 threads=$WRK_THREADS
  shift 4
  if ((threads > conns)); then threads=$conns; fi
  # shellcheck disable=SC2086
  before=$(cpu_ticks $servers)
  wrk -t"$threads" -c"$conns" -d"$DURATION" -s "${WRK_SCRIPT:-bench/wrk_report.lua}" "$@" "$url" \
    > "$work/wrk.out" &
  wpid=$!
  if [[ $DURATION =~ ^([0-9]+)s?$ ]]; then
    sleep "$((BASH_REMATCH[1] / 2)).$((BASH_REMATCH[1] % 2 * 5))"
    # shellcheck disable=SC2086
    rss=$(rss_tree_kib $servers)
  fi
  wait "$wpid"
  # shellcheck disable=SC2086
  after=$(cpu_ticks $servers)
  echo "$name $(grep '^RESULT' "$work/wrk.out") cpu_ticks=$((after - before)) rss_kib=$rss" \
    >> "$work/results"
}

# bench_setup NAME: the scratch directory /tmp/evald-NAME.* ($work), the processes to stop at exit
# ($pids, appended to by the script) and the exit trap that stops them and removes $work
# (kept when KEEP_WORK is set). A script may define on_cleanup, run after the processes are
# stopped and before $work goes (to copy logs out, or stop PostgreSQL).
bench_setup() {
  work=$(mktemp -d "/tmp/evald-$1.XXXXXX")
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if declare -F on_cleanup >/dev/null; then on_cleanup; fi
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$work"
}

# never_refusing_rules FILE: a RATE_LIMIT_RULES file with evald's three kinds of bucket (per IP,
# per user, global) that never refuse, so that a limited run measures the decision, not refusals.
never_refusing_rules() {
  cat > "$1" <<'YAML'
rules:
  - {scope: per_ip, match: api, limit: 1000000000, window: 60}
  - {scope: per_user, match: default, limit: 1000000000, window: 3600}
  - {scope: global, limit: 1000000000, window: 60}
YAML
}
