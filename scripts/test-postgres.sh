#!/usr/bin/env bash
# A throw-away PostgreSQL cluster on loopback for the tests (Debian's postgresql package).
#   test-postgres.sh start DIR   -> prints the DATABASE_URL; DIR is created
#   test-postgres.sh stop DIR | restart DIR | kill DIR
# As root, the server runs as the postgres user (initdb refuses root).
set -euo pipefail

cmd=${1:?usage: test-postgres.sh start|stop|restart|kill DIR}
dir=${2:?usage: test-postgres.sh start|stop|restart|kill DIR}
bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[[ -x "$bin/initdb" ]] || { echo "test-postgres: PostgreSQL server binaries not found" >&2; exit 1; }

as_owner() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ctl_start() {
  local port; port=$(cat "$dir/port")
  as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
    -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
    start >/dev/null
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
    port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" > "$dir/port"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U evald -E UTF8 --locale=C.UTF-8 --no-sync >/dev/null
    pg_ctl_start
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U evald evald_test
    echo "postgresql://evald@127.0.0.1:$port/evald_test"
    ;;
  stop) as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ;;
  restart) pg_ctl_start ;;
  kill) as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true; rm -rf "$dir" ;;
  *) echo "test-postgres: unknown command $cmd" >&2; exit 2 ;;
esac
