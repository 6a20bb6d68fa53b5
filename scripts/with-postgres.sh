#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL cluster: EVALD_TEST_PG_URL and EVALD_TEST_PG_DIR
# name it (the storage tests stop and restart it through scripts/test-postgres.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=$(mktemp -d /tmp/evald-pg.XXXXXX)
trap '"$here/test-postgres.sh" kill "$dir"' EXIT
EVALD_TEST_PG_URL=$("$here/test-postgres.sh" start "$dir")
export EVALD_TEST_PG_URL EVALD_TEST_PG_DIR="$dir" EVALD_REQUIRE_PG=1
"$@"
