"""The cluster of test_cluster.py: one PostgreSQL database, one redis-server, one SMTP sink,
three `evald serve` sharing them, and Debian's nginx balancing the three, all on loopback.

nginx runs in the foreground as the current user with a configuration written into the tmp dir
(pid, logs and temp paths there too): round robin over the three ports with keep-alive
upstream connections, X-Forwarded-For passed on (evald trusts 127.0.0.1 as a proxy, so per-IP
limits see the client), and `proxy_next_upstream error timeout http_502 http_503`, which nginx
applies to idempotent requests and to any request not yet sent. Its access log records which
upstream answered each request.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from authkit import Account, create_user_cli, describe, unique
from conftest import RedisServer, _psql, free_port
from test_password_reset import SmtpSink

JWT_SECRET = "cluster-tests-jwt-secret-0123456789abcdef"
ADMIN = "boss"
ADMIN_PASSWORD = "Evald-Cluster-Boss-2026!"
PASSWORD = "Evald-Cluster-Pass-2026!"
MAX_FAILED = 5
RATE_N = 9  # per_user:evaluator and per_ip:export, per hour
ROOMY = 1_000_000
NGINX = "/usr/sbin/nginx"
METRICS_TOKEN = "cluster-metrics-scrape-token-0123456789"
LOG_LINE = re.compile(r'"(?P<method>\S+) (?P<path>\S+) [^"]*" (?P<status>\d+) '
                      r'up=\[(?P<up>[^\]]*)\] ups=\[(?P<ups>[^\]]*)\] '
                      r't=(?P<t>[\d.]+) end=(?P<end>[\d.]+) rid=(?P<rid>\S*)')

NGINX_CONF = """
worker_processes 2;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
{user}
events {{ worker_connections 1024; }}
http {{
  log_format upstreams '$remote_addr "$request" $status up=[$upstream_addr] '
                       'ups=[$upstream_status] t=$request_time end=$msec '
                       'rid=$http_x_request_id';
  access_log {dir}/access.log upstreams;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream evald {{
    zone evald 64k;
{servers}
    keepalive 16;
  }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://evald;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_next_upstream error timeout http_502 http_503;
      proxy_connect_timeout 2s;
      proxy_read_timeout 30s;
    }}
  }}
}}
"""


class Nginx:
    def __init__(self, workdir: Path, ports: list[int]):
        self.dir = workdir
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;"
                            for p in ports)
        # As root the workers would drop to nobody, who cannot use the private tmp dir.
        user = "user root root;" if os.getuid() == 0 else ""
        self.conf = self.dir / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(dir=self.dir, port=self.port, servers=servers,
                                               user=user))
        self.access_log = self.dir / "access.log"
        self.proc: subprocess.Popen | None = None

    def start(self):
        self.proc = subprocess.Popen(
            [NGINX, "-c", str(self.conf), "-p", str(self.dir), "-e", str(self.dir / "error.log")],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "stderr.log", "wb"))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"nginx exited: {self.logs()}"
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"nginx did not listen on {self.port}: {self.logs()}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def logs(self) -> str:
        out = []
        for name in ("stderr.log", "error.log"):
            p = self.dir / name
            if p.exists():
                out.append(f"{name}: {p.read_text(errors='replace')[-3000:]}")
        return "\n".join(out)

    def log_size(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def lines_since(self, mark: int) -> list[str]:
        if not self.access_log.exists():
            return []
        with open(self.access_log, "rb") as f:
            f.seek(mark)
            return f.read().decode("utf-8", "replace").splitlines()

    def entries_since(self, mark: int, path_part: str = "/") -> list[dict]:
        """The requests logged after byte `mark` whose path contains `path_part`: path, status,
        the upstreams tried in order (`up`) with their statuses (`ups`), when the request
        started and ended (wall clock, s) and its X-Request-ID (`rid`)."""
        out = []
        for line in self.lines_since(mark):
            m = LOG_LINE.search(line)
            if m and path_part in m["path"]:
                end = float(m["end"])
                out.append({"path": m["path"], "status": int(m["status"]),
                            "up": [u.strip() for u in m["up"].split(",")],
                            "ups": [u.strip() for u in m["ups"].split(",")],
                            "start": end - float(m["t"]), "end": end, "rid": m["rid"]})
        return out

    def wait_entries(self, mark: int, path_part: str, count: int,
                     timeout: float = 5) -> list[dict]:
        """entries_since once `count` of them are there: nginx writes a request's line just
        after sending its response, so the client may read the response first."""
        deadline = time.monotonic() + timeout
        while len(found := self.entries_since(mark, path_part)) < count:
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        return found

    def upstreams_since(self, mark: int, path_part: str, count: int) -> list[str]:
        """The upstream that answered each request (the last one tried)."""
        return [e["up"][-1] for e in self.wait_entries(mark, path_part, count)]

    def wait_for_upstream(self, port: int, mark: int, timeout: float):
        deadline = time.monotonic() + timeout
        while not any(e["up"][-1] == f"127.0.0.1:{port}" for e in self.entries_since(mark)):
            assert time.monotonic() < deadline, \
                f"nginx sent nothing to port {port} within {timeout} s"
            time.sleep(0.05)


@dataclass
class Cluster:
    launcher: object  # conftest.Launcher
    env: dict
    db_url: str
    redis: RedisServer
    sink: SmtpSink
    nginx: Nginx
    instances: list
    tmp: Path

    # --- instances ---------------------------------------------------------------------------

    def replace(self, i: int):
        """A new instance on instance i's port (the old one has exited)."""
        old = self.instances[i]
        assert not old.running, f"{old.name} is still running"
        new = self.launcher(env={**self.env, "PORT": str(old.port)})
        self.instances[i] = new
        return new

    @staticmethod
    def in_flight(srv) -> int:
        """The instance's http_requests_in_flight gauge (this scrape included)."""
        r = requests.get(srv.url("/health/metrics"), timeout=10,
                         headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert r.status_code == 200, describe(r)
        m = re.search(r"^http_requests_in_flight(?:\{[^}]*\})? ([\d.e+]+)$", r.text, re.M)
        assert m, r.text[:2000]
        return int(float(m.group(1)))

    # --- data --------------------------------------------------------------------------------

    def psql(self, sql: str) -> str:
        return _psql(self.db_url, sql)

    def create_user(self, role: str) -> Account:
        login_id = unique(f"cl-{role[:3]}-")
        email = f"{login_id}@example.org"
        p = create_user_cli(self.db_url, login_id, role, email, PASSWORD, cwd=self.tmp)
        assert p.returncode == 0, f"evald user create failed: {p.stderr}"
        return Account(login_id, PASSWORD, role, email, p)

    def sink_messages_to(self, address: str) -> list:
        return [m for m in self.sink.messages() if m["To"] == address]

    def reset_token_for(self, address: str, timeout: float = 15) -> str:
        deadline = time.monotonic() + timeout
        while not self.sink_messages_to(address):
            assert time.monotonic() < deadline, f"no reset mail to {address} in {timeout} s"
            time.sleep(0.1)
        [msg] = self.sink_messages_to(address)
        text = msg.get_body(preferencelist=("plain",)).get_content()
        m = re.search(r"reset-password\?token=([0-9a-f]+)", text)
        assert m, text
        return m.group(1)

    # --- HTTP --------------------------------------------------------------------------------

    @staticmethod
    def call(method: str, base: str, path: str, token: str | None = None,
             xff: str | None = None, **kw) -> requests.Response:
        headers = dict(kw.pop("headers", {}))
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if xff:
            headers["X-Forwarded-For"] = xff
        return requests.request(method, base + path, headers=headers, timeout=15, **kw)

    def try_login(self, base: str, login_id: str, password: str, **extra) -> requests.Response:
        return self.call("POST", base, "/auth/login",
                         json={"login_id": login_id, "password": password, **extra})

    def login(self, base: str, login_id: str, password: str) -> dict:
        r = self.try_login(base, login_id, password)
        assert r.status_code == 200, describe(r)
        return r.json()


def _rules_file(path: Path) -> str:
    rules = [
        {"scope": "per_ip", "match": "login", "limit": ROOMY, "window": 60},
        {"scope": "per_ip", "match": "admin", "limit": ROOMY, "window": 60},
        {"scope": "per_ip", "match": "api", "limit": ROOMY, "window": 60},
        {"scope": "per_ip", "match": "export", "limit": RATE_N, "window": 3600},
        {"scope": "per_user", "match": "default", "limit": ROOMY, "window": 3600},
        {"scope": "per_user", "match": "evaluator", "limit": RATE_N, "window": 3600},
    ]
    path.write_text(json.dumps({"rules": rules}))
    return str(path)


def cluster_fixture():
    """The module-scoped `cluster` fixture (assign it to a name in the test module)."""

    @pytest.fixture(scope="module")
    def cluster(postgres_url, module_evald, tmp_path_factory):
        tmp = tmp_path_factory.mktemp("cluster")
        name = f"evald_cluster_{os.getpid()}_{time.monotonic_ns() % 1_000_000}"
        _psql(postgres_url, f"CREATE DATABASE {name}")
        db_url = postgres_url.rsplit("/", 1)[0] + "/" + name
        (tmp / "redis").mkdir()
        redis = RedisServer(tmp / "redis")
        redis.start()
        sink = SmtpSink(tmp, free_port()).start()
        nginx = None
        try:
            env = {"DATABASE_URL": db_url, "JWT_SECRET": JWT_SECRET, "ADMIN_LOGIN_ID": ADMIN,
                   "ADMIN_PASSWORD": ADMIN_PASSWORD, "ADMIN_EMAIL": "boss@example.org",
                   "REDIS_URL": redis.url, "RATE_LIMIT_ENABLED": "true",
                   "RATE_LIMIT_RULES": _rules_file(tmp / "rules.json"),
                   # A loaded runner must not trip the breaker into in-process decisions.
                   "REDIS_TIMEOUT_MS": "2000", "TRUSTED_PROXIES": "127.0.0.1",
                   "SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(sink.port), "SMTP_TLS": "none",
                   "FRONTEND_URL": "https://eval.example.org", "MAIL_RETRY_BASE_MS": "200",
                   "MAX_FAILED_ATTEMPTS": str(MAX_FAILED), "DRAIN_TIMEOUT_MS": "10000",
                   "DB_MAX_POOL_SIZE": "20", "METRICS_TOKEN": METRICS_TOKEN}
            # One first, on the empty database; the other two together. (All three at once
            # race to create the first admin: test_cluster.py, the xfail at its end.)
            instances = [module_evald(env=env, wait=False)]
            instances[0].wait_ready(timeout=30)
            instances += [module_evald(env=env, wait=False) for _ in range(2)]
            for srv in instances[1:]:
                srv.wait_ready(timeout=30)
            nginx = Nginx(tmp / "nginx", [s.port for s in instances]).start()
            c = Cluster(module_evald, env, db_url, redis, sink, nginx, instances, tmp)
            deadline = time.monotonic() + 10
            while requests.get(nginx.url + "/health/ping", timeout=5).status_code != 200:
                assert time.monotonic() < deadline, nginx.logs()
                time.sleep(0.05)
            yield c
        finally:
            if nginx:
                nginx.stop()
            sink.stop()
            redis.stop()

    return cluster
