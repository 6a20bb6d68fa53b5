"""Configuration: validation (all problems at once, exit 2), secrets never echoed, precedence
flags > process environment > .env, and --version."""

from __future__ import annotations

import re

import pytest

from conftest import free_port, http_status, run_evald
from rawhttp import request

BASE = {"HOST": "127.0.0.1", "ENVIRONMENT": "test", "LOG_FORMAT": "json", "THREADS": "2"}


def _serve_expecting_failure(tmp_path, env: dict, args=()):
    full = dict(BASE, PORT=str(free_port()))
    full.update(env)
    return run_evald(["serve", *args], env=full, cwd=tmp_path, timeout=10)


def _lines_naming(stderr: str, name: str) -> list[str]:
    return [line for line in stderr.splitlines() if re.search(rf"\b{name}\b", line)]


def test_version():
    p = run_evald(["--version"])
    assert p.returncode == 0, p
    assert re.match(r"^evald v?\d+(\.\d+)+", p.stdout), p.stdout


def test_all_invalid_values_reported_at_once(tmp_path):
    p = _serve_expecting_failure(tmp_path, {"PORT": "abc", "THREADS": "0", "LOG_FORMAT": "xml"})
    assert p.returncode == 2, p
    for name in ("PORT", "THREADS", "LOG_FORMAT"):
        assert _lines_naming(p.stderr, name), f"stderr does not name {name}:\n{p.stderr}"
    # One problem per line: three different lines.
    lines = {line for n in ("PORT", "THREADS", "LOG_FORMAT") for line in _lines_naming(p.stderr, n)}
    assert len(lines) >= 3, p.stderr


@pytest.mark.parametrize("name,value", [
    ("PORT", "70000"), ("PORT", "-1"), ("THREADS", "many"), ("ENVIRONMENT", "prod"),
    ("LOG_FORMAT", "yaml"), ("MAX_BODY_BYTES", "lots"), ("HEADER_TIMEOUT_MS", "-5"),
    ("MAX_CONNECTIONS", "x"), ("DRAIN_TIMEOUT_MS", "soon"),
])
def test_single_invalid_value(tmp_path, name, value):
    p = _serve_expecting_failure(tmp_path, {name: value})
    assert p.returncode == 2, p
    assert _lines_naming(p.stderr, name), p.stderr


@pytest.mark.parametrize("environment", ["production", "staging"])
def test_jwt_secret_required_outside_development_and_test(tmp_path, environment):
    p = _serve_expecting_failure(tmp_path, {"ENVIRONMENT": environment})
    assert p.returncode == 2, p
    assert _lines_naming(p.stderr, "JWT_SECRET"), p.stderr


@pytest.mark.parametrize("length", [8, 31])
def test_short_jwt_secret_rejected_without_echo(tmp_path, length):
    secret = ("Sekr3tXyzzy" * 4)[:length]
    p = _serve_expecting_failure(tmp_path, {"ENVIRONMENT": "production", "JWT_SECRET": secret})
    assert p.returncode == 2, p
    assert _lines_naming(p.stderr, "JWT_SECRET"), p.stderr
    for out in (p.stderr, p.stdout):
        assert secret not in out
        assert "Sekr3t" not in out, "a part of the secret was echoed"


def test_secret_as_flag_is_not_echoed(tmp_path):
    secret = "FlagSecretQuux"
    p = _serve_expecting_failure(tmp_path, {"ENVIRONMENT": "production"},
                                 args=["--jwt-secret", secret])
    assert p.returncode == 2, p
    assert _lines_naming(p.stderr, "JWT_SECRET"), p.stderr
    assert "FlagSecret" not in p.stderr + p.stdout


def test_production_with_long_secret_starts(evald):
    srv = evald(env={"ENVIRONMENT": "production", "JWT_SECRET": "k" * 32})
    assert request(srv.port, "GET", "/ping").status == 200
    # /_test routes exist only in ENVIRONMENT=test.
    assert request(srv.port, "GET", "/_test/throw").status == 404
    assert "k" * 32 not in srv.log_text()


def test_dotenv_is_read(evald):
    port = free_port()
    srv = evald(env={"PORT": None}, dotenv=f"# settings\nPORT={port}\n", ready_port=port)
    assert srv.port == port
    assert http_status(port, "/ping") == 200


def test_dotenv_setting_takes_effect(evald):
    """A setting other than PORT, from .env: CORS_ORIGINS."""
    port = free_port()
    srv = evald(env={"PORT": None},
                dotenv=f'export PORT={port}\nCORS_ORIGINS="http://from-dotenv.example"\n',
                ready_port=port)
    r = request(srv.port, "GET", "/ping", {"Origin": "http://from-dotenv.example"})
    assert r.header("Access-Control-Allow-Origin") == "http://from-dotenv.example", r


def test_process_env_overrides_dotenv(evald):
    env_port, dotenv_port = free_port(), free_port()
    srv = evald(env={"PORT": str(env_port)}, dotenv=f"PORT={dotenv_port}\n")
    assert srv.port == env_port
    assert http_status(env_port, "/ping") == 200
    assert http_status(dotenv_port, "/ping") is None


def test_flag_overrides_env(evald):
    env_port, flag_port = free_port(), free_port()
    srv = evald(env={"PORT": str(env_port)}, args=["--port", str(flag_port)],
                dotenv=f"PORT={free_port()}\n", ready_port=flag_port)
    assert http_status(flag_port, "/ping") == 200
    assert http_status(env_port, "/ping") is None


def test_invalid_dotenv_value_is_reported(tmp_path):
    (tmp_path / ".env").write_text("MAX_CONNECTIONS=lots\n")
    p = _serve_expecting_failure(tmp_path, {})
    assert p.returncode == 2, p
    assert _lines_naming(p.stderr, "MAX_CONNECTIONS"), p.stderr

