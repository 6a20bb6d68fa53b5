"""Logging: JSON lines by default, an access line per request, levels per module, no secrets."""
import json
import time

import requests

SECRET = "s3cret-jwt-value-that-must-never-be-logged-0123456789"


def _lines(srv):
    # The writer thread flushes access batches at least every heartbeat (250 ms).
    time.sleep(0.6)
    return [line for line in srv.log_text().splitlines() if line.strip()]


def test_every_line_is_json_with_time_level_and_module(evald):
    srv = evald()
    requests.get(srv.url("/ping"), headers={"X-Request-ID": "log-check-1"}, timeout=5)
    requests.get(srv.url("/nope"), timeout=5)
    lines = _lines(srv)
    assert len(lines) >= 3
    for line in lines:
        rec = json.loads(line)  # raises on a broken or interleaved line
        assert rec["ts"].endswith("Z") and "T" in rec["ts"]
        assert rec["level"] in ("trace", "debug", "info", "warning", "error", "critical")
        assert rec["module"]
        assert rec["msg"]


def test_access_line_per_request_with_request_id_and_route(evald):
    srv = evald()
    for i in range(5):
        requests.get(srv.url("/health/ping"), headers={"X-Request-ID": f"acc-{i}"}, timeout=5)
    requests.delete(srv.url("/ping"), headers={"X-Request-ID": "acc-405"}, timeout=5)
    access = [json.loads(line) for line in _lines(srv) if '"module":"access"' in line]
    by_id = {rec["request_id"]: rec for rec in access}
    for i in range(5):
        rec = by_id[f"acc-{i}"]
        assert rec["method"] == "GET"
        assert rec["path"] == "/health/ping"
        assert rec["route"] == "/health/ping"
        assert rec["status"] == 200
        assert rec["duration_ms"] >= 0
        assert rec["client_ip"] == "127.0.0.1"
    assert by_id["acc-405"]["status"] == 405
    assert by_id["acc-405"]["error_code"] == "METHOD_NOT_ALLOWED"


def test_access_log_leaves_out_the_query_string(evald):
    srv = evald()
    requests.get(srv.url("/ping?token=abcdef-secret-token"), timeout=5)
    text = "\n".join(_lines(srv))
    assert "abcdef-secret-token" not in text
    assert '"path":"/ping"' in text


def test_levels_per_module(evald):
    srv = evald(env={"LOG_LEVEL": "warn,access=info"})
    requests.get(srv.url("/ping"), headers={"X-Request-ID": "lvl-1"}, timeout=5)
    lines = _lines(srv)
    assert any('"request_id":"lvl-1"' in line for line in lines), "access lines stay on"
    assert not any('"msg":"listening"' in line for line in lines), "http info lines are off"

    quiet = evald(env={"LOG_LEVEL": "info,access=off"})
    requests.get(quiet.url("/ping"), headers={"X-Request-ID": "lvl-2"}, timeout=5)
    lines = _lines(quiet)
    assert not any('"request_id":"lvl-2"' in line for line in lines)
    assert any('"msg":"listening"' in line for line in lines)


def test_text_format(evald):
    srv = evald(env={"LOG_FORMAT": "text"})
    requests.get(srv.url("/ping"), headers={"X-Request-ID": "txt-1"}, timeout=5)
    lines = _lines(srv)
    access = [line for line in lines if "[access]" in line and "request_id=txt-1" in line]
    assert len(access) == 1 and "status=200" in access[0] and "path=/ping" in access[0]
    assert not lines[0].startswith("{")


def test_secrets_never_reach_the_log(evald):
    srv = evald(env={"JWT_SECRET": SECRET, "ENVIRONMENT": "production",
                     "LOG_LEVEL": "debug"})
    requests.get(srv.url("/ping"), headers={"Authorization": f"Bearer {SECRET}"}, timeout=5)
    requests.get(srv.url("/nope"), headers={"Cookie": f"session={SECRET}"}, timeout=5)
    assert SECRET not in srv.log_text()


def test_many_concurrent_requests_never_interleave_lines(evald):
    import concurrent.futures
    srv = evald(env={"THREADS": "2"})

    def hit(i):
        with requests.Session() as s:
            for j in range(50):
                s.get(srv.url("/health/ping"), headers={"X-Request-ID": f"c{i}-{j}"}, timeout=5)

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(hit, range(8)))
    lines = _lines(srv)
    ids = set()
    for line in lines:
        rec = json.loads(line)
        if rec["module"] == "access":
            ids.add(rec["request_id"])
    assert len({f"c{i}-{j}" for i in range(8) for j in range(50)} - ids) == 0
