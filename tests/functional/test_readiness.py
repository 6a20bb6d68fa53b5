"""Readiness on the database: 200 when the schema is current and the database answers; 503 when
it does not, recovering without a restart; liveness never depends on it."""
import subprocess
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PG = ROOT / "scripts" / "test-postgres.sh"


def wait_for_status(srv, path, want, timeout=10.0):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = requests.get(srv.url(path), timeout=5)
        if last.status_code == want:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{path} stayed {last.status_code if last else None}: "
                         f"{last.text if last else ''}")


def test_ready_on_sqlite(evald):
    srv = evald()
    r = requests.get(srv.url("/health/ready"), timeout=5)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    db = body["checks"]["database"]
    assert db["status"] == "pass" and db["engine"] == "sqlite"
    assert db["schema_version"] >= 1


def test_ready_follows_postgresql_down_and_up(evald, own_postgres):
    url, pg_dir = own_postgres
    srv = evald(env={"DATABASE_URL": url, "DB_MIN_POOL_SIZE": "2"})
    assert requests.get(srv.url("/health/ready"), timeout=5).status_code == 200

    subprocess.run([str(PG), "stop", str(pg_dir)], check=True)
    r = wait_for_status(srv, "/health/ready", 503)
    body = r.json()
    assert body["status"] == "not_ready"
    assert body["checks"]["database"]["status"] == "fail"
    assert "password" not in r.text and url not in r.text  # no connection string leaks
    # Liveness is the process only: still 200 with the database down.
    assert requests.get(srv.url("/health/live"), timeout=5).status_code == 200

    subprocess.run([str(PG), "restart", str(pg_dir)], check=True)
    r = wait_for_status(srv, "/health/ready", 200)
    assert r.json()["checks"]["database"]["engine"] == "postgresql"
    assert srv.running  # recovered without a restart of evald


def test_ready_is_503_while_draining(evald):
    import signal
    srv = evald(env={"DRAIN_TIMEOUT_MS": "5000"})
    # One request keeps the drain going; a connection opened before SIGTERM, with no request
    # yet, still has its first request answered, and readiness says 503 at once.
    from rawhttp import Conn, build_request
    with Conn(srv.port, timeout=10) as held:
        held.send(build_request("GET", "/_test/sleep?ms=1500"))
        time.sleep(0.2)
        with Conn(srv.port, timeout=10) as probe:
            srv.send_signal(signal.SIGTERM)
            time.sleep(0.2)
            probe.send(build_request("GET", "/health/ready"))
            r = probe.read_response()
        assert r.status == 503
        assert r.json()["checks"]["shutdown"]["status"] == "fail"
        assert held.read_response().status == 200
    assert srv.wait_exit(8) == 0


def test_requests_get_503_database_error_while_postgresql_is_down(evald, own_postgres):
    """A request that needs the database answers 503 DATABASE_ERROR while PostgreSQL is down
    and succeeds again once it is back, without restarting evald."""
    url, pg_dir = own_postgres
    password = "Evald-Fault-Pass-2026!"
    srv = evald(env={"DATABASE_URL": url, "ADMIN_LOGIN_ID": "admin", "ADMIN_PASSWORD": password,
                     "ADMIN_EMAIL": "admin@example.org"})
    login = {"login_id": "admin", "password": password}
    assert requests.post(srv.url("/auth/login"), json=login, timeout=10).status_code == 200

    subprocess.run([str(PG), "stop", str(pg_dir)], check=True)
    r = requests.post(srv.url("/auth/login"), json=login, timeout=10)
    assert r.status_code == 503
    body = r.json()
    assert body["error_code"] == "DATABASE_ERROR"
    assert body["category"] == "database"
    assert password not in r.text and url not in r.text
    assert body["request_id"] == r.headers["X-Request-ID"]

    subprocess.run([str(PG), "restart", str(pg_dir)], check=True)
    deadline = time.monotonic() + 10
    while True:
        r = requests.post(srv.url("/auth/login"), json=login, timeout=10)
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200, r.text
    assert srv.running
