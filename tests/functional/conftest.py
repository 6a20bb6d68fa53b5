"""Fixtures that run the real `evald serve` binary.

- `evald`: a function-scoped factory, `evald(env={...}, args=[...], dotenv="...")` starts a
  server with the test's own settings and returns an EvaldServer.
- `server`: one default server (ENVIRONMENT=test, THREADS=2) shared by the whole session, for
  the cheap tests.
- `module_evald`: the same factory, module-scoped, for a module that shares special settings.

Every server runs in a temporary working directory of its own (so no stray .env is read), with
a clean environment, its output captured in a log file under the pytest tmp dir. When a test
fails, the tail of each server log it used is attached to the report. At teardown a running
server gets SIGTERM and must exit 0 within 10 s (else it is killed and the test errors).

Every answer such a server gives through `requests` is checked against the OpenAPI document
(contract.py): a status, media type or body the document does not describe fails the test.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

import contract

REPO = Path(__file__).resolve().parents[2]
EVALD_BIN = Path(os.environ.get("EVALD_BIN", str(REPO / "build" / "evald")))

# Variables of the runner's environment a server may see (nothing that configures evald).
PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "ASAN_OPTIONS", "UBSAN_OPTIONS",
               "LSAN_OPTIONS", "TSAN_OPTIONS")
# A slower build (AddressSanitizer: `make sanitize`) sets EVALD_TEST_TIME_SCALE, and the waits
# for the server and the timing assertions that bound how long something may take grow by it.
TIME_SCALE = float(os.environ.get("EVALD_TEST_TIME_SCALE", "1"))
# The sanitizers EVALD_BIN was built with ("address,undefined"), or "": the few checks that are
# meaningless for such a build (resident memory, the libraries it links) look at it.
SANITIZER = os.environ.get("EVALD_TEST_SANITIZER", "")
READY_TIMEOUT_S = 10.0 * TIME_SCALE
STOP_TIMEOUT_S = 10.0 * TIME_SCALE

# What a sanitizer prints when it finds something (ASan, LSan, UBSan, TSan). Under
# -fno-sanitize-recover the process also exits non-zero, but a test that expects evald to fail
# would pass on that: the output is checked too.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "WARNING: ThreadSanitizer", "runtime error: ",
                     "SUMMARY: UndefinedBehaviorSanitizer", "SUMMARY: AddressSanitizer")

_counter = itertools.count(1)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_binary():
    if not EVALD_BIN.is_file() or not os.access(EVALD_BIN, os.X_OK):
        pytest.fail(f"evald binary not found at {EVALD_BIN} (build it, or set EVALD_BIN)",
                    pytrace=False)


def clean_env(overrides: dict | None = None) -> dict:
    """The runner's harmless variables plus `overrides` (a value of None removes a variable)."""
    env = {k: os.environ[k] for k in PASSTHROUGH if k in os.environ}
    for k, v in (overrides or {}).items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def sanitizer_report(text: str) -> str | None:
    """The sanitizer report in a process's output, from its first line, or None."""
    at = min((i for i in (text.find(m) for m in SANITIZER_MARKERS) if i >= 0), default=-1)
    if at < 0:
        return None
    start = text.rfind("\n", 0, at) + 1
    return text[start:start + 6000]


def fail_on_sanitizer_report(what: str, *outputs: str | None):
    for out in outputs:
        report = sanitizer_report(out or "")
        if report:
            pytest.fail(f"{what}: sanitizer report:\n{report}", pytrace=False)


def run_evald(args, env: dict | None = None, cwd: Path | None = None,
              timeout: float = 10.0) -> subprocess.CompletedProcess:
    """Runs the binary to completion (for commands that do not serve, or must fail to)."""
    require_binary()
    p = subprocess.run([str(EVALD_BIN), *args], env=clean_env(env), cwd=cwd,
                       stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout * TIME_SCALE)
    fail_on_sanitizer_report(f"evald {' '.join(map(str, args[:2]))}", p.stdout, p.stderr)
    return p


def load_openapi() -> dict:
    """The document `evald openapi` prints (what the contract plugin checks answers against)."""
    p = run_evald(["openapi"], env={"LOG_FORMAT": "json"}, timeout=30)
    if p.returncode != 0:
        raise RuntimeError(f"evald openapi exited with {p.returncode}: {p.stderr.strip()}")
    return json.loads(p.stdout)


# Every answer of a server started here is checked against the document (contract.py).
CONTRACT = contract.ContractPlugin(load_openapi)


def pytest_configure(config):
    CONTRACT.install()
    config.pluginmanager.register(CONTRACT, "evald-contract")


def http_status(port: int, path: str, timeout: float = 0.5, tls: bool = False) -> int | None:
    """The status of GET path, or None when nothing answers (over TLS without verifying the
    certificate when `tls`: this only asks whether the server is up)."""
    if tls:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout,
                                           context=ssl._create_unverified_context())
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        res = conn.getresponse()
        res.read()
        return res.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


class EvaldServer:
    def __init__(self, base_dir: Path, env: dict, args=(), dotenv: str | None = None,
                 ready_port: int | None = None):
        n = next(_counter)
        self.name = f"evald-{n}"
        self.workdir = base_dir / self.name
        self.workdir.mkdir(parents=True)
        if dotenv is not None:
            (self.workdir / ".env").write_text(dotenv)
        self.log_path = base_dir / f"{self.name}.log"
        self.env = env
        self.args = list(args)
        self.port = ready_port if ready_port is not None else int(env["PORT"])
        self.tls = bool(env.get("TLS_CERT_FILE"))
        self.proc: subprocess.Popen | None = None
        self.returncode: int | None = None
        self._log_file = None

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self, wait: bool = True):
        require_binary()
        CONTRACT.contract.watch(self.port)
        self._log_file = open(self.log_path, "wb")
        self.proc = subprocess.Popen([str(EVALD_BIN), "serve", *self.args], env=self.env,
                                     cwd=self.workdir, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=subprocess.STDOUT)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.returncode = self.proc.returncode
                raise AssertionError(f"{self.name} exited with {self.returncode} during start-up;"
                                     f" log:\n{self.log_tail()}")
            if http_status(self.port, "/health/ping", tls=self.tls) == 200:
                return
            time.sleep(0.05)
        raise AssertionError(f"{self.name} did not answer GET /health/ping with 200 on port "
                             f"{self.port} within {timeout} s; log:\n{self.log_tail()}")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def send_signal(self, sig=signal.SIGTERM):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code, or None if still running after `timeout` s."""
        try:
            self.returncode = self.proc.wait(timeout=timeout)
            return self.returncode
        except subprocess.TimeoutExpired:
            return None

    def kill(self):
        if self.running:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self, sig=signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int | None:
        """Signals the server and waits; kills it (and returns None) if it does not exit."""
        if self.proc is None:
            return None
        if not self.running:
            self.returncode = self.proc.returncode
            return self.returncode
        self.send_signal(sig)
        rc = self.wait_exit(timeout)
        if rc is None:
            self.kill()
        return rc

    def close_log(self):
        if self._log_file:
            self._log_file.close()
            self._log_file = None

    # --- helpers -----------------------------------------------------------------------------

    def url(self, path: str = "/") -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}{path}"

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 60) -> str:
        text = self.log_text().splitlines()
        return "\n".join(text[-lines:]) or "(empty log)"

    def __repr__(self):
        return f"<EvaldServer {self.name} port={self.port} pid={self.proc and self.proc.pid}>"


def default_env(port: int) -> dict:
    # Rate limiting is off unless a test turns it on: most suites sign in many times from
    # 127.0.0.1, far beyond the login rule's 5 per 300 s.
    return {"HOST": "127.0.0.1", "PORT": str(port), "ENVIRONMENT": "test", "LOG_FORMAT": "json",
            "THREADS": "2", "RATE_LIMIT_ENABLED": "false",
            # Readiness follows the database within this; tests poll rather than sleep.
            "HEALTH_CHECK_INTERVAL_MS": "200"}


class Launcher:
    """Starts servers under one base directory and stops the ones still running at teardown."""

    def __init__(self, base_dir: Path):
        self.base_dir = base_dir
        self.servers: list[EvaldServer] = []

    def __call__(self, env: dict | None = None, args=(), dotenv: str | None = None,
                 ready_port: int | None = None, wait: bool = True) -> EvaldServer:
        full = default_env(free_port())
        full.update(env or {})
        srv = EvaldServer(self.base_dir, clean_env(full), args, dotenv, ready_port)
        self.servers.append(srv)
        return srv.start(wait=wait)

    def teardown(self) -> list[str]:
        problems = []
        for srv in self.servers:
            was_running = srv.running
            rc = srv.stop()
            srv.close_log()
            if was_running and rc != 0:
                what = f"did not exit within {STOP_TIMEOUT_S:g} s of SIGTERM (killed)" \
                    if rc is None else f"exited with {rc} after SIGTERM"
                problems.append(f"{srv.name} {what}; log:\n{srv.log_tail()}")
            # Whether it was stopped here or earlier by the test (or died on its own).
            report = sanitizer_report(srv.log_text())
            if report:
                problems.append(f"{srv.name}: sanitizer report in {srv.log_path}:\n{report}")
        return problems


@pytest.fixture
def evald(tmp_path):
    """Factory: evald(env={...}, args=[...], dotenv=None, ready_port=None) -> EvaldServer."""
    launcher = Launcher(tmp_path)
    yield launcher
    problems = launcher.teardown()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="module")
def module_evald(tmp_path_factory):
    launcher = Launcher(tmp_path_factory.mktemp("module-evald"))
    yield launcher
    problems = launcher.teardown()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def _session_launcher(tmp_path_factory):
    launcher = Launcher(tmp_path_factory.mktemp("session-evald"))
    yield launcher
    problems = launcher.teardown()
    assert not problems, "\n".join(problems)


@pytest.fixture(scope="session")
def _session_server(_session_launcher):
    return _session_launcher()


@pytest.fixture
def server(_session_server):
    """The shared default server (ENVIRONMENT=test, THREADS=2, default limits)."""
    assert _session_server.running, f"the shared server died; log:\n{_session_server.log_tail()}"
    return _session_server


def _servers_of(item) -> list[EvaldServer]:
    found = []
    for value in getattr(item, "funcargs", {}).values():
        if isinstance(value, EvaldServer):
            found.append(value)
        elif isinstance(value, Launcher):
            found.extend(value.servers)
    seen, out = set(), []
    for s in found:
        if id(s) not in seen:
            seen.add(id(s))
            out.append(s)
    return out


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if rep.failed:
        for srv in _servers_of(item):
            rep.sections.append((f"{srv.name} log tail ({srv.log_path})", srv.log_tail()))


# --- PostgreSQL (storage tests) ---------------------------------------------------------------

PG_SCRIPT = REPO / "scripts" / "test-postgres.sh"


@pytest.fixture(scope="session")
def postgres_url():
    """A throw-away PostgreSQL cluster on loopback for the session (scripts/test-postgres.sh);
    its URL names the empty database evald_test. The cluster is killed at the end."""
    import tempfile
    # Not under pytest's tmp dir: that is private to the runner's user, and as root the server
    # runs as the postgres user, which must reach its directory.
    cluster = Path(tempfile.mkdtemp(prefix="evald-pg-", dir="/tmp"))
    try:
        started = subprocess.run([str(PG_SCRIPT), "start", str(cluster)], capture_output=True,
                                 text=True, timeout=120, stdin=subprocess.DEVNULL)
        if started.returncode != 0:
            pytest.fail(f"cannot start PostgreSQL: {started.stderr.strip()}", pytrace=False)
        yield started.stdout.strip().splitlines()[-1]
    finally:
        # Removing a few hundred test databases took over 60 s on a busy machine (2 min for 150
        # while other builds ran): a slow cleanup must not error the run's last test.
        subprocess.run([str(PG_SCRIPT), "kill", str(cluster)], capture_output=True, timeout=600,
                       stdin=subprocess.DEVNULL)


def _psql(url: str, sql: str) -> str:
    p = subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q", "-c", sql],
                       capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, f"psql failed: {p.stderr}"
    return p.stdout


@pytest.fixture
def own_postgres():
    """A PostgreSQL cluster of the test's own, for tests that stop and start it
    (scripts/test-postgres.sh stop|restart DIR): yields (DATABASE_URL, DIR). Directly under
    /tmp: as root the server runs as the postgres user, who cannot enter pytest's temporary
    directories. Killed and removed at teardown."""
    import tempfile
    pg_dir = Path(tempfile.mkdtemp(prefix="evald-pg-own-", dir="/tmp"))
    started = subprocess.run([str(PG_SCRIPT), "start", str(pg_dir)], capture_output=True,
                             text=True, timeout=120, stdin=subprocess.DEVNULL)
    if started.returncode != 0:
        subprocess.run([str(PG_SCRIPT), "kill", str(pg_dir)], capture_output=True, timeout=60)
        pytest.fail(f"cannot start PostgreSQL: {started.stderr.strip()}", pytrace=False)
    try:
        yield started.stdout.strip().splitlines()[-1], pg_dir
    finally:
        subprocess.run([str(PG_SCRIPT), "kill", str(pg_dir)], capture_output=True, timeout=60,
                       stdin=subprocess.DEVNULL)


@pytest.fixture
def fresh_pg_url(postgres_url):
    """A new, empty PostgreSQL database of the session cluster, for one test."""
    name = f"evald_t{next(_counter)}_{os.getpid()}"
    _psql(postgres_url, f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def psql():
    """psql(url, sql) -> the unaligned, tuples-only output."""
    return _psql


# --- Redis (rate-limit tests) -----------------------------------------------------------------

class RedisServer:
    """Debian's redis-server on a loopback port of its own, no persistence. stop() kills it
    (SIGKILL, as a crash would), start() brings it back on the same port, empty; pause() and
    resume() freeze it with SIGSTOP/SIGCONT (a hung Redis)."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir),
             "--logfile", str(self.workdir / "redis.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.cli("PING") == "PONG":
                return
            time.sleep(0.02)
        pytest.fail("redis-server did not start", pytrace=False)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def cli(self, *args) -> str | None:
        """A redis-cli command's output, stripped; None when Redis does not answer."""
        try:
            p = subprocess.run(["redis-cli", "-p", str(self.port), *args], capture_output=True,
                               text=True, timeout=5, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return None
        if p.returncode != 0 or "Could not connect" in p.stdout + p.stderr:
            return None
        return p.stdout.strip()


@pytest.fixture
def redis_server(tmp_path):
    """A running redis-server for one test (killed at teardown)."""
    workdir = tmp_path / "redis"
    workdir.mkdir()
    r = RedisServer(workdir)
    r.start()
    try:
        yield r
    finally:
        if r.proc and r.proc.poll() is None:
            r.resume()
        r.stop()
