"""Helpers for the account and authentication tests (test_auth_*.py).

- `Stack`: one `evald serve` with a known JWT_SECRET, a first admin from ADMIN_*, and an explicit
  DATABASE_URL shared with `evald user create` (so tests can add users before or while it runs).
- An independent HS256 implementation (hmac/hashlib/base64) to forge and inspect tokens.
- `assert_error`: the standard error body of API.md, checked on a `requests` response.
- `db_url`: a fixture parametrised over SQLite and PostgreSQL (a fresh database per test).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from conftest import EVALD_BIN, TIME_SCALE, clean_env, fail_on_sanitizer_report, require_binary

JWT_SECRET = "evald-functional-tests-jwt-secret-0123456789"  # >= 32 characters
ADMIN_LOGIN = "chief"
ADMIN_PASSWORD = "Evald-Admin-Pass-2026!"
ADMIN_EMAIL = "chief@example.com"
PASSWORD = "Evald-Test-Pass-2026!"

ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")

# The table of API.md: error_code -> (category, severity).
ERROR_TABLE = {
    "VALIDATION_ERROR": ("validation", "medium"),
    "AUTH_FAILED": ("authentication", "medium"),
    "ACCOUNT_LOCKED": ("authentication", "medium"),
    "INSUFFICIENT_PERMISSIONS": ("authorization", "medium"),
    "NOT_FOUND": ("business_logic", "low"),
    "PAYLOAD_TOO_LARGE": ("validation", "medium"),
    "CONFLICT": ("business_logic", "medium"),
    "BUSINESS_LOGIC_ERROR": ("business_logic", "medium"),
    "METHOD_NOT_ALLOWED": ("validation", "low"),
    "SECURITY_VIOLATION": ("security", "high"),
    "RATE_LIMIT_EXCEEDED": ("security", "medium"),
    "EXTERNAL_SERVICE_ERROR": ("external_service", "high"),
    "DATABASE_ERROR": ("database", "high"),
}
ERROR_KEYS = {"error", "error_code", "message", "details", "timestamp", "request_id", "severity",
              "category"}
USER_KEYS = {"id", "login_id", "email", "user_name", "phone", "role", "is_active", "created_at",
             "last_login"}
SESSION_KEYS = {"session_id", "user_id", "created_at", "last_activity", "expires_at",
                "ip_address", "user_agent", "is_active", "is_current"}

_ids = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def newest_first(items: list[dict]) -> list[str]:
    """The ids of `items` in the lists' documented order: newest first, and within one
    millisecond (items made back to back) by id, descending."""
    return [x["id"] for x in sorted(items, key=lambda x: (x["created_at"], x["id"]), reverse=True)]


# --- JWT, independently of evald -------------------------------------------------------------

def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def jwt_parts(token: str) -> tuple[dict, dict, bytes]:
    h, p, s = token.split(".")
    return json.loads(b64url_decode(h)), json.loads(b64url_decode(p)), b64url_decode(s)


def jwt_claims(token: str) -> dict:
    return jwt_parts(token)[1]


def forge(payload: dict, secret: str | None = JWT_SECRET, header: dict | None = None,
          digest=hashlib.sha256) -> str:
    """A JWT with this header and payload, signed with HMAC(`digest`) under `secret`
    (secret None: an empty signature, as for alg "none")."""
    header = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    enc = lambda o: b64url(json.dumps(o, separators=(",", ":")).encode())  # noqa: E731
    signing_input = enc(header) + "." + enc(payload)
    if secret is None:
        return signing_input + "."
    sig = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(sig)


def public_session_id(token: str) -> str:
    """The public session id of a token: SHA-256 (hex) of the raw id in its "sid" claim."""
    return hashlib.sha256(jwt_claims(token)["sid"].encode()).hexdigest()


# --- responses -------------------------------------------------------------------------------

def describe(res: requests.Response) -> str:
    return (f"{res.request.method} {res.request.url} -> {res.status_code} "
            f"headers={dict(res.headers)} body={res.text[:600]!r}")


def assert_error(res: requests.Response, status: int, error_code: str) -> dict:
    """The standard error body with the API.md category and severity for `error_code`."""
    assert res.status_code == status, describe(res)
    assert (res.headers.get("Content-Type") or "").lower().startswith("application/json"), \
        describe(res)
    body = res.json()
    assert isinstance(body, dict), describe(res)
    missing = ERROR_KEYS - body.keys()
    assert not missing, f"error body lacks {missing}: {describe(res)}"
    assert body["error"] is True, describe(res)
    assert body["error_code"] == error_code, describe(res)
    category, severity = ERROR_TABLE[error_code]
    assert body["category"] == category, describe(res)
    assert body["severity"] == severity, describe(res)
    assert isinstance(body["message"], str) and body["message"], describe(res)
    assert isinstance(body["details"], list), describe(res)
    for d in body["details"]:
        assert isinstance(d, dict) and {"field", "message", "code"} <= d.keys(), describe(res)
    assert isinstance(body["timestamp"], str) and ISO_Z.match(body["timestamp"]), describe(res)
    assert isinstance(body["request_id"], str) and body["request_id"], describe(res)
    assert res.headers.get("X-Request-ID") == body["request_id"], describe(res)
    if status in (401, 403):
        cc = [t.strip().lower() for t in (res.headers.get("Cache-Control") or "").split(",")]
        assert "no-store" in cc, describe(res)
    if status == 401:
        www = res.headers.get("WWW-Authenticate") or ""
        assert www.split(" ")[0].lower() == "bearer", describe(res)
    return body


def detail_fields(body: dict) -> set[str]:
    return {d["field"] for d in body["details"]}


# --- the server and its users ----------------------------------------------------------------

@dataclass
class Login:
    token: str
    user: dict
    body: dict
    password: str

    @property
    def user_id(self) -> str:
        return self.user["id"]

    @property
    def session_id(self) -> str:
        return public_session_id(self.token)


@dataclass
class Account:
    login_id: str
    password: str
    role: str
    email: str
    created: subprocess.CompletedProcess | None = None


def create_user_cli(db_url: str, login_id: str, role: str, email: str, password: str,
                    name: str | None = None, cwd: Path | None = None,
                    stdin: str | None = None) -> subprocess.CompletedProcess:
    """`evald user create ... --database-url db_url` with the password on stdin."""
    require_binary()
    args = [str(EVALD_BIN), "user", "create", "--login-id", login_id, "--role", role,
            "--email", email, "--database-url", db_url]
    if name is not None:
        args += ["--name", name]
    p = subprocess.run(args, input=stdin if stdin is not None else password + "\n",
                       env=clean_env({"ENVIRONMENT": "test", "LOG_FORMAT": "json"}),
                       cwd=cwd, capture_output=True, text=True, timeout=60 * TIME_SCALE)
    fail_on_sanitizer_report("evald user create", p.stdout, p.stderr)
    return p


class Stack:
    """A running server plus what the tests need to talk to it."""

    def __init__(self, evald_factory, db_url: str, cwd: Path, **settings):
        self.db_url = db_url
        self.cwd = cwd
        env = {"JWT_SECRET": JWT_SECRET, "DATABASE_URL": db_url, "ADMIN_LOGIN_ID": ADMIN_LOGIN,
               "ADMIN_PASSWORD": ADMIN_PASSWORD, "ADMIN_EMAIL": ADMIN_EMAIL,
               "RATE_LIMIT_ENABLED": "false"}
        env.update({k: str(v) for k, v in settings.items()})
        self.server = evald_factory(env=env)
        self.http = requests.Session()
        self.admin = Account(ADMIN_LOGIN, ADMIN_PASSWORD, "admin", ADMIN_EMAIL)

    # users
    def create_user(self, role: str = "evaluator", login_id: str | None = None,
                    password: str = PASSWORD) -> Account:
        login_id = login_id or unique(role[:4] + "-")
        email = f"{login_id}@example.com"
        p = create_user_cli(self.db_url, login_id, role, email, password, cwd=self.cwd)
        assert p.returncode == 0, f"evald user create failed: {p.stderr}"
        return Account(login_id, password, role, email, p)

    # HTTP
    def url(self, path: str) -> str:
        return self.server.url(path)

    def call(self, method: str, path: str, token: str | None = None, headers: dict | None = None,
             **kw) -> requests.Response:
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        return self.http.request(method, self.url(path), headers=h, timeout=15, **kw)

    def get(self, path, token=None, **kw):
        return self.call("GET", path, token, **kw)

    def post(self, path, token=None, **kw):
        return self.call("POST", path, token, **kw)

    def delete(self, path, token=None, **kw):
        return self.call("DELETE", path, token, **kw)

    def try_login(self, login_id: str, password: str, **kw) -> requests.Response:
        return self.post("/auth/login", json={"login_id": login_id, "password": password}, **kw)

    def login(self, who: Account | str, password: str | None = None, **kw) -> Login:
        login_id = who.login_id if isinstance(who, Account) else who
        if password is None:
            password = who.password if isinstance(who, Account) else PASSWORD
        res = self.try_login(login_id, password, **kw)
        assert res.status_code == 200, describe(res)
        body = res.json()
        return Login(body["access_token"], body["user"], body, password)

    def assert_log_clean(self, *secrets: str):
        """None of these passwords or tokens is in the server's log (which must be there)."""
        # Access lines are batched (flushed every 250 ms heartbeat): wait for a marker request.
        marker = unique("log-flush-marker-")
        self.get("/ping", headers={"X-Request-ID": marker})
        deadline = time.monotonic() + 5
        while marker not in self.server.log_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)  # the other I/O thread's batch
        log = self.server.log_text()
        assert marker in log and '"/auth/' in log, "no access lines: this check proves nothing"
        for s in secrets:
            assert s not in log, f"a password or token ({s[:10]}...) is in the server log"

    def me_status(self, token: str) -> int:
        return self.get("/auth/me", token).status_code

    def events(self, token: str, **params) -> list[dict]:
        """Every event visible to `token` with these filters (pages followed). The query keeps
        ":" as is (RFC 3986 allows it there), so that timestamps pass unencoded."""
        items, cursor = [], None
        for _ in range(100):
            q = dict(params, limit=200)
            if cursor:
                q["cursor"] = cursor
            res = self.get("/auth/security-events?" + urlencode(q, safe=":"), token)
            assert res.status_code == 200, describe(res)
            body = res.json()
            items += body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return items
        raise AssertionError("security-events paging did not end")

    def sessions(self, token: str, **params) -> list[dict]:
        res = self.get("/auth/sessions", token, params=params)
        assert res.status_code == 200, describe(res)
        return res.json()["items"]


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database: SQLite in the test's tmp dir, or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/auth.db"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite://{tmp_path}/auth.db"


@pytest.fixture
def stack_factory(evald, tmp_path):
    """stack_factory(db_url, **settings) -> Stack (the admin exists; users via .create_user)."""
    def make(url: str, **settings) -> Stack:
        return Stack(evald, url, tmp_path, **settings)
    return make
