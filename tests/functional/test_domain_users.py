"""Users (admin), secretary sign-up and approval, evaluators (docs/DOMAIN.md), on SQLite and
PostgreSQL: one server per engine for the module, distinct objects per test.

The flow: a public sign-up waits (and cannot sign in), an admin approves it, the new secretary
signs in with the sign-up password and creates evaluators (one, a batch, with a password or
invited by mail: the invitation waits in the outbox and its link sets the password). Then every
bad input, wrong role, unknown or malformed id, and that a refused request writes nothing.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import time
from dataclasses import dataclass

import pytest
import requests

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

import authkit
from authkit import (ADMIN_LOGIN, PASSWORD, USER_KEYS, Login, Stack, assert_error, describe,
                     detail_fields, unique)
from conftest import _psql

pytest_plugins = ["authkit"]

MAX_BODY = 262144
KOREAN = "한국 평가 주식회사"
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
REQUEST_KEYS = {"id", "name", "login_id", "email", "phone", "reason", "status", "created_at",
                "decided_by", "decided_at", "decision_reason"}
UNKNOWN_ID = "00000000-0000-4000-8000-000000000000"
WEAK = "iloveyou"  # too common


# --- the database, read directly -------------------------------------------------------------

class Db:
    def __init__(self, url: str):
        self.url = url

    def rows(self, sql: str) -> list[list[str]]:
        if self.url.startswith("sqlite://"):
            con = sqlite3.connect(self.url[len("sqlite://"):], timeout=10)
            try:
                return [["" if v is None else str(v) for v in r] for r in con.execute(sql)]
            finally:
                con.close()
        # Unit and record separators: values may hold newlines, "|" or be empty.
        p = subprocess.run(["psql", self.url, "-v", "ON_ERROR_STOP=1", "-X", "-A", "-t", "-q",
                            "-F", "\x1f", "-R", "\x1e", "-c",
                            f"SELECT 'r', t.* FROM ({sql}) AS t"],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
        assert p.returncode == 0, f"psql failed: {p.stderr}"
        out = p.stdout[:-1] if p.stdout.endswith("\n") else p.stdout
        # Every record begins with "r": an empty value still makes a record.
        return [rec.split("\x1f")[1:] for rec in out.split("\x1e") if rec.startswith("r")]

    def value(self, sql: str) -> str:
        return self.rows(sql)[0][0]

    def snapshot(self) -> list[list[str]]:
        """What a refused request must leave as it was."""
        return self.rows(
            "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM secretary_requests), "
            "(SELECT COUNT(*) FROM mail_outbox), (SELECT COUNT(*) FROM password_resets), "
            "(SELECT COALESCE(MAX(updated_at), '') FROM users), "
            "(SELECT COUNT(*) FROM users WHERE is_active = 1), "
            "(SELECT COUNT(*) FROM secretary_requests WHERE status = 'pending')")


def q(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


# --- the module's servers --------------------------------------------------------------------

@dataclass
class World:
    st: Stack
    db: Db
    admin: Login
    sec: Login
    ev: Login

    def patch(self, path, token, **kw) -> requests.Response:
        return self.st.call("PATCH", path, token, **kw)

    def new_user(self, role="evaluator", token=None, **over) -> dict:
        login = unique(role[:3] + "-")
        body = {"login_id": login, "email": f"{login}@example.com", "user_name": f"{KOREAN} {login}",
                "role": role, "password": PASSWORD}
        body.update(over)
        res = self.st.post("/api/users", token or self.admin.token, json=body)
        assert res.status_code == 201, describe(res)
        return res.json()

    def login_of(self, user: dict, password: str = PASSWORD) -> Login:
        return self.st.login(user["login_id"], password)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def w(request, module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("users-" + request.param)
    if request.param == "sqlite":
        url = f"sqlite://{d}/users.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_users_{unique('m').replace('-', '_')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    st = Stack(module_evald, url, d, MAX_BODY_BYTES=MAX_BODY,
               FRONTEND_URL="https://eval.example.org")
    admin = st.login(st.admin)
    sec = st.login(st.create_user("secretary"))
    ev = st.login(st.create_user("evaluator"))
    return World(st, Db(url), admin, sec, ev)


def check_user(u: dict, **expected):
    assert set(u) == USER_KEYS, u
    assert UUID.match(u["id"]), u
    assert ISO_MS.match(u["created_at"]), u
    for k, v in expected.items():
        assert u[k] == v, (k, u)


def events(w: World, event_type: str) -> list[dict]:
    return w.st.events(w.admin.token, event_type=event_type)


def invitation_token(w: World, email: str) -> str:
    rows = w.db.rows(f"SELECT body_text, subject FROM mail_outbox WHERE to_address = {q(email)}")
    assert len(rows) == 1, rows
    m = re.search(r"https://eval\.example\.org/reset-password\?token=([0-9a-f]{64})", rows[0][0])
    assert m, rows[0][0]
    return m.group(1)


def signup_body(**over) -> dict:
    login = unique("sec-")
    body = {"name": f"이비서 {login}", "login_id": login, "email": f"{login}@agency.example",
            "phone": "010-2222-3333", "reason": f"{KOREAN} 사업 담당\n둘째 줄", "password": PASSWORD}
    body.update(over)
    return body


def pending(w: World, login_id: str) -> dict:
    found = [r for r in all_requests(w, status="pending") if r["login_id"] == login_id]
    assert len(found) == 1, found
    return found[0]


def all_requests(w: World, **params) -> list[dict]:
    items, cursor = [], None
    for _ in range(100):
        p = dict(params, limit=200)
        if cursor:
            p["cursor"] = cursor
        res = w.st.get("/api/admin/secretary-requests", w.admin.token, params=p)
        assert res.status_code == 200, describe(res)
        items += res.json()["items"]
        cursor = res.json()["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("paging did not end")


def walk(w: World, path: str, token: str, limit: int, **params) -> list[dict]:
    items, cursor = [], None
    for _ in range(1000):
        p = dict(params, limit=limit)
        if cursor:
            p["cursor"] = cursor
        res = w.st.get(path, token, params=p)
        assert res.status_code == 200, describe(res)
        page = res.json()
        assert set(page) == {"items", "next_cursor"}
        assert len(page["items"]) <= limit
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items
    raise AssertionError("paging did not end")


# --- the whole flow ---------------------------------------------------------------------------

def test_signup_approval_secretary_creates_evaluators(w):
    st = w.st
    body = signup_body()
    res = st.post("/auth/secretary-signup", json=body)
    assert res.status_code == 202, describe(res)
    assert res.json()["status"] == "pending" and res.json()["message"]
    # Pending: no account yet.
    assert_error(st.try_login(body["login_id"], PASSWORD), 401, "AUTH_FAILED")

    req = pending(w, body["login_id"])
    assert set(req) == REQUEST_KEYS, req
    assert req["name"] == body["name"] and req["reason"] == body["reason"]
    assert req["email"] == body["email"] and req["phone"] == "010-2222-3333"
    assert req["decided_by"] is None and req["decided_at"] is None
    assert PASSWORD not in res.text and "argon2" not in str(all_requests(w))

    res = st.post(f"/api/admin/secretary-requests/{req['id']}/approve", w.admin.token)
    assert res.status_code == 201, describe(res)
    user = res.json()
    check_user(user, login_id=body["login_id"], email=body["email"], user_name=body["name"],
               role="secretary", phone="010-2222-3333", is_active=True, last_login=None)
    # Decided: twice is 409 (either way), and the hash left the request.
    assert_error(st.post(f"/api/admin/secretary-requests/{req['id']}/approve", w.admin.token),
                 409, "CONFLICT")
    assert_error(st.post(f"/api/admin/secretary-requests/{req['id']}/reject", w.admin.token),
                 409, "CONFLICT")
    assert w.db.value(f"SELECT password_hash FROM secretary_requests WHERE id = {q(req['id'])}") \
        == ""
    done = [r for r in all_requests(w, status="approved") if r["id"] == req["id"]]
    assert len(done) == 1 and done[0]["decided_by"] == w.admin.user_id
    assert ISO_MS.match(done[0]["decided_at"])
    assert any(e["login_id"] == body["login_id"] for e in events(w, "secretary_signup_requested"))
    assert any(e["login_id"] == body["login_id"] and e["user_id"] == w.admin.user_id
               for e in events(w, "secretary_request_approved"))

    # The secretary signs in with the sign-up password and is listed as a user.
    sec = st.login(body["login_id"], PASSWORD)
    assert sec.user["role"] == "secretary"
    res = st.get(f"/api/users/{user['id']}", w.admin.token)
    assert res.status_code == 200 and res.json()["role"] == "secretary", describe(res)

    # One evaluator with a password: signs in with it.
    login = unique("ev-")
    res = st.post("/api/evaluators", sec.token,
                  json={"login_id": login, "email": f"{login.upper()}@Example.com",
                        "user_name": KOREAN, "password": PASSWORD, "phone": "+82 10 1234 5678"})
    assert res.status_code == 201, describe(res)
    check_user(res.json(), role="evaluator", email=f"{login}@example.com", user_name=KOREAN,
               phone="+82 10 1234 5678")
    assert st.login(login, PASSWORD).user["role"] == "evaluator"
    assert not w.db.rows(f"SELECT id FROM mail_outbox WHERE to_address = {q(login + '@example.com')}")

    # One invited: no usable password; the mail's link sets one.
    login = unique("inv-")
    email = f"{login}@example.com"
    res = st.post("/api/evaluators", sec.token,
                  json={"login_id": login, "email": email, "user_name": KOREAN})
    assert res.status_code == 201, describe(res)
    token = invitation_token(w, email)
    subject = w.db.value(f"SELECT subject FROM mail_outbox WHERE to_address = {q(email)}")
    assert "account" in subject.lower()
    assert_error(st.try_login(login, PASSWORD), 401, "AUTH_FAILED")
    res = st.post("/auth/reset-password", json={"token": token, "new_password": PASSWORD})
    assert res.status_code == 200, describe(res)
    assert st.login(login, PASSWORD).user["login_id"] == login

    # A batch: items in order, invitations only for those without a password.
    logins = [unique("bat-") for _ in range(3)]
    items = [{"login_id": logins[0], "email": f"{logins[0]}@example.com", "user_name": "가"},
             {"login_id": logins[1], "email": f"{logins[1]}@example.com", "user_name": "나",
              "password": PASSWORD, "phone": "02-123-4567"},
             {"login_id": logins[2], "email": f"{logins[2]}@example.com", "user_name": KOREAN,
              "phone": None}]
    res = st.post("/api/evaluators/batch", sec.token, json={"evaluators": items})
    assert res.status_code == 201, describe(res)
    out = res.json()
    assert out["created"] == 3 and [u["login_id"] for u in out["items"]] == logins
    for u, it in zip(out["items"], items):
        check_user(u, role="evaluator", user_name=it["user_name"], is_active=True,
                   phone=it.get("phone"))
    assert st.login(logins[1], PASSWORD).user["role"] == "evaluator"
    invitation_token(w, f"{logins[0]}@example.com")
    invitation_token(w, f"{logins[2]}@example.com")
    assert not w.db.rows(
        f"SELECT id FROM mail_outbox WHERE to_address = {q(logins[1] + '@example.com')}")
    assert any(e["user_id"] == sec.user_id and "evaluators: 3, invited: 2" in e["details"]
               for e in events(w, "admin_users_batch_created"))


def test_signup_answers_the_same_for_taken_and_free_ids(w):
    st = w.st
    free = signup_body()
    taken_login = signup_body(login_id=ADMIN_LOGIN)
    taken_email = signup_body(email=authkit.ADMIN_EMAIL.upper())
    answers = []
    for body in (free, taken_login, taken_email):
        res = st.post("/auth/secretary-signup", json=body)
        assert res.status_code == 202, describe(res)
        answers.append(res.json())
    assert answers[0] == answers[1] == answers[2]

    # The taken ones are stored, but not approvable; they stay pending.
    for body, field in ((taken_login, "login_id"), (taken_email, "email")):
        req = pending(w, body["login_id"])
        before = w.db.snapshot()
        res = st.post(f"/api/admin/secretary-requests/{req['id']}/approve", w.admin.token)
        assert field in detail_fields(assert_error(res, 409, "CONFLICT"))
        assert w.db.snapshot() == before
        assert pending(w, body["login_id"])["status"] == "pending"
    # Reject, with a reason (Korean round-trips); the hash is gone.
    req = pending(w, taken_login["login_id"])
    res = st.post(f"/api/admin/secretary-requests/{req['id']}/reject", w.admin.token,
                  json={"reason": f"{KOREAN}: 중복"})
    assert res.status_code == 200, describe(res)
    r = res.json()
    assert set(r) == REQUEST_KEYS and r["status"] == "rejected"
    assert r["decision_reason"] == f"{KOREAN}: 중복" and r["decided_by"] == w.admin.user_id
    assert w.db.value(f"SELECT password_hash FROM secretary_requests WHERE id = {q(req['id'])}") \
        == ""
    assert any(e["login_id"] == ADMIN_LOGIN for e in events(w, "secretary_request_rejected"))
    # A rejected request cannot be approved; the admin's password was never replaced.
    assert_error(st.post(f"/api/admin/secretary-requests/{req['id']}/approve", w.admin.token),
                 409, "CONFLICT")
    st.login(st.admin)
    assert_error(st.try_login(ADMIN_LOGIN, PASSWORD), 401, "AUTH_FAILED")
    # Rejected without a body at all.
    req = pending(w, taken_email["login_id"])
    res = st.post(f"/api/admin/secretary-requests/{req['id']}/reject", w.admin.token)
    assert res.status_code == 200 and res.json()["decision_reason"] is None, describe(res)


@pytest.mark.parametrize("body, fields", [
    ({}, {"name", "login_id", "email", "phone", "reason", "password"}),
    ({"name": 1, "login_id": ["x"], "email": True, "phone": 5, "reason": {}, "password": 7},
     {"name", "login_id", "email", "phone", "reason", "password"}),
    (signup_body(email="not-an-email"), {"email"}),
    (signup_body(password=WEAK), {"password"}),
    (signup_body(password="Sh0rt!"), {"password"}),
    (signup_body(login_id="a b"), {"login_id"}),
    (signup_body(login_id="-lead"), {"login_id"}),
    (signup_body(login_id="한국어아이디"), {"login_id"}),
    (signup_body(phone="call me"), {"phone"}),
    (signup_body(name="x" * 101), {"name"}),
    (signup_body(name="tab\there"), {"name"}),
    (signup_body(reason="r" * 1001), {"reason"}),
    (signup_body(reason=""), {"reason"}),
    (dict(signup_body(), role="admin"), {"role"}),
    (dict(signup_body(), is_active=True, extra=1), {"is_active", "extra"}),
])
def test_signup_refuses_bad_input(w, body, fields):
    before = w.db.snapshot()
    res = w.st.post("/auth/secretary-signup", json=body)
    b = assert_error(res, 400, "VALIDATION_ERROR")
    assert detail_fields(b) == fields, b
    if isinstance(body.get("password"), str):
        assert body["password"] not in res.text
    assert w.db.snapshot() == before


def test_control_characters_have_the_common_error_code(w):
    """Names and reasons with control characters are refused with the code every other
    text field uses (value_error.control_characters)."""
    before = w.db.snapshot()
    cases = [("/api/users", w.admin.token, good_user(user_name="bell\u0007name"), "user_name"),
             ("/auth/secretary-signup", None, signup_body(name="tab\there"), "name"),
             ("/auth/secretary-signup", None, signup_body(reason="esc\u001b[2J"), "reason")]
    for path, token, body, field in cases:
        b = assert_error(w.st.post(path, token, json=body) if token else
                         w.st.post(path, json=body), 400, "VALIDATION_ERROR")
        codes = {d["field"]: d["code"] for d in b["details"]}
        assert codes == {field: "value_error.control_characters"}, (path, b)
    assert w.db.snapshot() == before


def test_bodies_that_are_not_json_objects(w):
    st = w.st
    before = w.db.snapshot()
    cases = [("POST", "/auth/secretary-signup", None), ("POST", "/api/users", w.admin.token),
             ("POST", "/api/evaluators", w.sec.token),
             ("POST", "/api/evaluators/batch", w.sec.token),
             ("PATCH", f"/api/users/{w.ev.user_id}", w.admin.token)]
    for method, path, token in cases:
        for data, ctype in (("{not json", "application/json"), ("[1, 2]", "application/json"),
                            ('"text"', "application/json"), ("login_id=x", "text/plain"),
                            ("", "application/json")):
            res = st.call(method, path, token, data=data.encode(),
                          headers={"Content-Type": ctype})
            assert_error(res, 400, "VALIDATION_ERROR")
        # Over MAX_BODY_BYTES: 413 before anything is read.
        big = b'{"login_id": "' + b"x" * (MAX_BODY + 10) + b'"}'
        res = st.call(method, path, token, data=big, headers={"Content-Type": "application/json"})
        assert_error(res, 413, "PAYLOAD_TOO_LARGE")
    assert w.db.snapshot() == before


# --- /api/users --------------------------------------------------------------------------------

def test_admin_creates_reads_and_lists_users(w):
    st = w.st
    login = unique("usr-")
    res = st.post("/api/users", w.admin.token,
                  json={"login_id": login, "email": f"{login}@Example.COM", "user_name": KOREAN,
                        "role": "secretary", "password": PASSWORD, "phone": "010-9999-8888"})
    assert res.status_code == 201, describe(res)
    u = res.json()
    check_user(u, login_id=login, email=f"{login}@example.com", user_name=KOREAN,
               role="secretary", phone="010-9999-8888", is_active=True, last_login=None)
    assert "password" not in res.text
    assert st.login(login, PASSWORD).user["role"] == "secretary"
    got = st.get(f"/api/users/{u['id']}", w.admin.token).json()
    assert got["id"] == u["id"] and got["last_login"] and ISO_MS.match(got["last_login"])
    assert any(e["login_id"] == login and e["user_id"] == w.admin.user_id
               for e in events(w, "admin_user_created"))

    # Filters: role, active, search (login id, name or email, case-insensitive; Korean too).
    tag = unique("flt")
    made = [w.new_user("evaluator", user_name=f"{KOREAN} {tag} {i}") for i in range(3)]
    made.append(w.new_user("admin", email=f"{tag}-boss@example.com"))
    res = st.get("/api/users", w.admin.token, params={"search": tag.upper()})
    assert {x["id"] for x in res.json()["items"]} == {x["id"] for x in made}, describe(res)
    res = st.get("/api/users", w.admin.token, params={"search": f"{KOREAN} {tag}"})
    assert {x["id"] for x in res.json()["items"]} == {x["id"] for x in made[:3]}, describe(res)
    res = st.get("/api/users", w.admin.token, params={"search": tag, "role": "admin"})
    assert [x["id"] for x in res.json()["items"]] == [made[3]["id"]], describe(res)
    # LIKE's wildcards are plain characters in a search.
    assert st.get("/api/users", w.admin.token, params={"search": "%"}).json()["items"] == []
    assert st.get("/api/users", w.admin.token, params={"search": "_"}).json()["items"] == []
    # Paging: newest first, every user once, whatever the page size.
    everyone = walk(w, "/api/users", w.admin.token, 200)
    assert len({x["id"] for x in everyone}) == len(everyone)
    assert int(w.db.value("SELECT COUNT(*) FROM users")) == len(everyone)
    assert [x["created_at"] for x in everyone] == sorted((x["created_at"] for x in everyone),
                                                         reverse=True)
    assert [x["id"] for x in walk(w, "/api/users", w.admin.token, 2)] == \
        [x["id"] for x in everyone]
    page = walk(w, "/api/users", w.admin.token, 1, search=tag)
    assert [x["id"] for x in page] == authkit.newest_first(made)
    for role in ("admin", "secretary", "evaluator"):
        listed = walk(w, "/api/users", w.admin.token, 200, role=role)
        assert listed and all(x["role"] == role for x in listed)


@pytest.mark.parametrize("params, field", [
    ({"role": "root"}, "role"), ({"active": "yes"}, "active"), ({"limit": "0"}, "limit"),
    ({"limit": "201"}, "limit"), ({"limit": "x"}, "limit"), ({"cursor": "!!!"}, "cursor"),
    ({"search": "s" * 101}, "search"),
])
def test_user_list_filters_are_validated(w, params, field):
    before = w.db.snapshot()
    for path, token in (("/api/users", w.admin.token), ("/api/evaluators", w.sec.token)):
        if path == "/api/evaluators" and field == "role":
            continue  # not a filter there
        b = assert_error(w.st.get(path, token, params=params), 400, "VALIDATION_ERROR")
        assert detail_fields(b) == {field}, b
    assert w.db.snapshot() == before


@pytest.mark.parametrize("params, field", [
    ({"status": "done"}, "status"), ({"status": "PENDING"}, "status"), ({"limit": "0"}, "limit"),
    ({"cursor": "!!!"}, "cursor"),
])
def test_secretary_request_list_filters_are_validated(w, params, field):
    b = assert_error(w.st.get("/api/admin/secretary-requests", w.admin.token, params=params), 400,
                     "VALIDATION_ERROR")
    assert detail_fields(b) == {field}, b


def good_user(**over) -> dict:
    login = unique("bad-")
    body = {"login_id": login, "email": f"{login}@example.com", "user_name": "이름",
            "role": "evaluator", "password": PASSWORD}
    body.update(over)
    return body


@pytest.mark.parametrize("body, fields", [
    ({}, {"login_id", "email", "user_name", "role", "password"}),
    (good_user(role="root"), {"role"}),
    (good_user(role=None), {"role"}),
    (good_user(login_id=12), {"login_id"}),
    (good_user(login_id="ab"), {"login_id"}),
    (good_user(login_id="x" * 65), {"login_id"}),
    (good_user(email="a@b"), {"email"}),
    (good_user(user_name=""), {"user_name"}),
    (good_user(user_name="n" * 101), {"user_name"}),
    (good_user(user_name="line\nbreak"), {"user_name"}),
    (good_user(phone="12"), {"phone"}),
    (good_user(phone=1012345678), {"phone"}),
    (good_user(password=None), {"password"}),
    (good_user(password=WEAK), {"password"}),
    (good_user(password="p" * 2000), {"password"}),
    (dict(good_user(), is_active=False), {"is_active"}),
    (dict(good_user(), id="x", password_hash="y"), {"id", "password_hash"}),
])
def test_create_user_refuses_bad_input(w, body, fields):
    before = w.db.snapshot()
    res = w.st.post("/api/users", w.admin.token, json=body)
    b = assert_error(res, 400, "VALIDATION_ERROR")
    assert detail_fields(b) == fields, b
    if isinstance(body.get("password"), str):
        assert body["password"] not in res.text
    assert w.db.snapshot() == before


def test_create_user_conflicts(w):
    existing = w.new_user("evaluator")
    before = w.db.snapshot()
    for body, fields in (
            (good_user(login_id=existing["login_id"]), {"login_id"}),
            (good_user(email=existing["email"].upper()), {"email"}),
            (good_user(login_id=existing["login_id"], email=existing["email"]),
             {"login_id", "email"})):
        b = assert_error(w.st.post("/api/users", w.admin.token, json=body), 409, "CONFLICT")
        assert detail_fields(b) == fields, b
        b = assert_error(w.st.post("/api/evaluators", w.sec.token,
                                   json={k: v for k, v in body.items() if k != "role"}),
                         409, "CONFLICT")
        assert detail_fields(b) == fields, b
    assert w.db.snapshot() == before


def test_wrong_roles_and_anonymous(w):
    st = w.st
    target = w.ev.user_id
    admin_only = [("GET", "/api/users", None), ("POST", "/api/users", good_user()),
                  ("GET", f"/api/users/{target}", None),
                  ("PATCH", f"/api/users/{target}", {"user_name": "x"}),
                  ("DELETE", f"/api/users/{target}", None),
                  ("GET", "/api/admin/secretary-requests", None),
                  ("POST", f"/api/admin/secretary-requests/{UNKNOWN_ID}/approve", None),
                  ("POST", f"/api/admin/secretary-requests/{UNKNOWN_ID}/reject", None)]
    staff = [("GET", "/api/evaluators", None),
             ("POST", "/api/evaluators", {k: v for k, v in good_user().items() if k != "role"}),
             ("POST", "/api/evaluators/batch", {"evaluators": [
                 {k: v for k, v in good_user().items() if k not in ("role", "password")}]})]
    before = w.db.snapshot()
    for method, path, body in admin_only + staff:
        assert_error(st.call(method, path, None, json=body), 401, "AUTH_FAILED")
        assert_error(st.call(method, path, w.ev.token, json=body), 403,
                     "INSUFFICIENT_PERMISSIONS")
    for method, path, body in admin_only:
        assert_error(st.call(method, path, w.sec.token, json=body), 403,
                     "INSUFFICIENT_PERMISSIONS")
    assert w.db.snapshot() == before
    assert st.me_status(w.ev.token) == 200 and st.me_status(w.sec.token) == 200


def test_unknown_and_malformed_ids_are_not_found(w):
    st = w.st
    before = w.db.snapshot()
    for bad in (UNKNOWN_ID, "not-a-uuid", "1", UNKNOWN_ID.upper() + "0", "%20"):
        assert_error(st.get(f"/api/users/{bad}", w.admin.token), 404, "NOT_FOUND")
        assert_error(w.patch(f"/api/users/{bad}", w.admin.token, json={"user_name": "x"}), 404,
                     "NOT_FOUND")
        assert_error(st.delete(f"/api/users/{bad}", w.admin.token), 404, "NOT_FOUND")
        assert_error(st.post(f"/api/admin/secretary-requests/{bad}/approve", w.admin.token), 404,
                     "NOT_FOUND")
        assert_error(st.post(f"/api/admin/secretary-requests/{bad}/reject", w.admin.token,
                             json={"reason": "x"}), 404, "NOT_FOUND")
    # A user id is not a request id.
    assert_error(st.post(f"/api/admin/secretary-requests/{w.ev.user_id}/approve", w.admin.token),
                 404, "NOT_FOUND")
    assert w.db.snapshot() == before


def test_reject_refuses_bad_bodies(w):
    req = signup_body()
    assert w.st.post("/auth/secretary-signup", json=req).status_code == 202
    rid = pending(w, req["login_id"])["id"]
    before = w.db.snapshot()
    for body, field in (({"reason": 5}, "reason"), ({"reason": "r" * 1001}, "reason"),
                        ({"why": "x"}, "why"), ({"reason": "bell\x07"}, "reason")):
        b = assert_error(w.st.post(f"/api/admin/secretary-requests/{rid}/reject", w.admin.token,
                                   json=body), 400, "VALIDATION_ERROR")
        assert detail_fields(b) == {field}, b
    assert w.db.snapshot() == before
    assert pending(w, req["login_id"])["status"] == "pending"


def test_secretary_requests_filter_and_paging(w):
    logins = []
    for _ in range(3):
        body = signup_body()
        logins.append(body["login_id"])
        assert w.st.post("/auth/secretary-signup", json=body).status_code == 202
    mine = [r for r in walk(w, "/api/admin/secretary-requests", w.admin.token, 1,
                            status="pending") if r["login_id"] in logins]
    assert [r["login_id"] for r in mine] == list(reversed(logins))
    everything = walk(w, "/api/admin/secretary-requests", w.admin.token, 2)
    assert len(everything) == int(w.db.value("SELECT COUNT(*) FROM secretary_requests"))
    assert {r["status"] for r in everything} <= {"pending", "approved", "rejected"}
    for r in everything:
        assert set(r) == REQUEST_KEYS, r


# --- updates, deactivation, the admin rules ---------------------------------------------------

def test_patch_user(w):
    st = w.st
    u = w.new_user("evaluator", phone="010-1111-2222")
    token = w.login_of(u).token
    res = w.patch(f"/api/users/{u['id']}", w.admin.token,
                  json={"user_name": f"{KOREAN} 수정", "email": "New." + u["email"], "phone": None})
    assert res.status_code == 200, describe(res)
    check_user(res.json(), user_name=f"{KOREAN} 수정", email="new." + u["email"], phone=None,
               role="evaluator", is_active=True)
    # Name and email changes keep the sessions.
    assert st.me_status(token) == 200
    # Empty patch: nothing changes.
    res = w.patch(f"/api/users/{u['id']}", w.admin.token, json={})
    assert res.status_code == 200 and res.json()["user_name"] == f"{KOREAN} 수정"

    # A role change revokes the sessions: the old token carried the old role.
    res = w.patch(f"/api/users/{u['id']}", w.admin.token, json={"role": "secretary"})
    assert res.status_code == 200 and res.json()["role"] == "secretary", describe(res)
    assert_error(st.get("/auth/me", token), 401, "AUTH_FAILED")
    fresh = st.login(u["login_id"], PASSWORD)
    assert fresh.user["role"] == "secretary"
    assert st.get("/api/evaluators", fresh.token).status_code == 200
    assert any(e["login_id"] == u["login_id"] and "role evaluator -> secretary" in e["details"]
               for e in events(w, "admin_user_updated"))

    # Refusals leave the user as it was.
    other = w.new_user("evaluator")
    before = w.db.snapshot()
    b = assert_error(w.patch(f"/api/users/{u['id']}", w.admin.token,
                             json={"email": other["email"].upper()}), 409, "CONFLICT")
    assert detail_fields(b) == {"email"}
    for body, fields in (({"email": None}, {"email"}), ({"user_name": None}, {"user_name"}),
                         ({"role": None}, {"role"}), ({"is_active": None}, {"is_active"}),
                         ({"role": "boss"}, {"role"}), ({"is_active": "no"}, {"is_active"}),
                         ({"email": "x"}, {"email"}), ({"login_id": "renamed"}, {"login_id"}),
                         ({"password": PASSWORD}, {"password"}),
                         ({"phone": "abc", "user_name": ""}, {"phone", "user_name"})):
        b = assert_error(w.patch(f"/api/users/{u['id']}", w.admin.token, json=body), 400,
                         "VALIDATION_ERROR")
        assert detail_fields(b) == fields, b
    assert w.db.snapshot() == before
    assert st.get(f"/api/users/{u['id']}", w.admin.token).json()["role"] == "secretary"


def test_deactivation_kills_tokens_and_sign_in_then_reactivation(w):
    st = w.st
    u = w.new_user("evaluator")
    a, b = w.login_of(u), w.login_of(u)
    assert st.me_status(a.token) == 200
    res = st.delete(f"/api/users/{u['id']}", w.admin.token)
    assert res.status_code == 204 and res.content == b"", describe(res)
    # Both live tokens die at once; sign-in is refused like a wrong password.
    assert_error(st.get("/auth/me", a.token), 401, "AUTH_FAILED")
    assert_error(st.get("/auth/sessions", b.token), 401, "AUTH_FAILED")
    assert_error(st.try_login(u["login_id"], PASSWORD), 401, "AUTH_FAILED")
    got = st.get(f"/api/users/{u['id']}", w.admin.token).json()
    assert got["is_active"] is False
    assert u["id"] in {x["id"] for x in walk(w, "/api/users", w.admin.token, 200, active="false")}
    assert u["id"] not in {x["id"] for x in walk(w, "/api/users", w.admin.token, 200,
                                                 active="true")}
    assert u["id"] in {x["id"] for x in walk(w, "/api/evaluators", w.sec.token, 200,
                                             active="false")}
    assert any(e["login_id"] == u["login_id"] and "sessions revoked: 2" in e["details"]
               for e in events(w, "admin_user_deactivated"))
    # Again: nothing changes, still 204.
    before = w.db.snapshot()
    assert st.delete(f"/api/users/{u['id']}", w.admin.token).status_code == 204
    assert w.db.snapshot() == before

    res = w.patch(f"/api/users/{u['id']}", w.admin.token, json={"is_active": True})
    assert res.status_code == 200 and res.json()["is_active"] is True, describe(res)
    assert st.me_status(a.token) == 401  # revoked stays revoked
    assert st.me_status(w.login_of(u).token) == 200
    assert any(e["login_id"] == u["login_id"] for e in events(w, "admin_user_reactivated"))


def test_deactivation_spends_an_open_invitation(w):
    login = unique("inv-")
    email = f"{login}@example.com"
    res = w.st.post("/api/evaluators", w.admin.token,
                    json={"login_id": login, "email": email, "user_name": "초대"})
    assert res.status_code == 201, describe(res)
    token = invitation_token(w, email)
    assert w.st.delete(f"/api/users/{res.json()['id']}", w.admin.token).status_code == 204
    w.patch(f"/api/users/{res.json()['id']}", w.admin.token, json={"is_active": True})
    res = w.st.post("/auth/reset-password", json={"token": token, "new_password": PASSWORD})
    assert_error(res, 400, "VALIDATION_ERROR")
    assert_error(w.st.try_login(login, PASSWORD), 401, "AUTH_FAILED")


def test_admin_cannot_remove_themself_nor_the_last_admin(w):
    st = w.st
    me = w.admin.user_id
    before = w.db.snapshot()
    assert_error(st.delete(f"/api/users/{me}", w.admin.token), 422, "BUSINESS_LOGIC_ERROR")
    assert_error(w.patch(f"/api/users/{me}", w.admin.token, json={"is_active": False}), 422,
                 "BUSINESS_LOGIC_ERROR")
    for role in ("secretary", "evaluator"):
        assert_error(w.patch(f"/api/users/{me}", w.admin.token, json={"role": role}), 422,
                     "BUSINESS_LOGIC_ERROR")
    assert w.db.snapshot() == before
    assert st.me_status(w.admin.token) == 200
    # Harmless changes to oneself are fine.
    res = w.patch(f"/api/users/{me}", w.admin.token, json={"role": "admin", "is_active": True})
    assert res.status_code == 200 and res.json()["role"] == "admin"
    assert st.me_status(w.admin.token) == 200

    # A second admin may demote another admin while two are active.
    second = w.new_user("admin")
    third = w.new_user("admin")
    res = w.patch(f"/api/users/{third['id']}", w.admin.token, json={"role": "evaluator"})
    assert res.status_code == 200, describe(res)
    # The last active admin: `second` acts with a live session after everyone else but the
    # chief was made inactive behind the API's back; the chief may then not be removed.
    two = w.login_of(second)
    others = w.db.rows("SELECT id FROM users WHERE role = 'admin' AND is_active = 1")
    keep = {me}
    gone = [r[0] for r in others if r[0] not in keep]
    set_active(w, gone, 0)
    try:
        snap = w.db.snapshot()
        for call in (lambda: st.delete(f"/api/users/{me}", two.token),
                     lambda: w.patch(f"/api/users/{me}", two.token, json={"is_active": False}),
                     lambda: w.patch(f"/api/users/{me}", two.token, json={"role": "secretary"})):
            b = assert_error(call(), 422, "BUSINESS_LOGIC_ERROR")
            assert "last" in b["message"].lower()
        assert w.db.snapshot() == snap
    finally:
        set_active(w, gone, 1)
    assert st.me_status(w.admin.token) == 200


def set_active(w: World, ids: list[str], value: int):
    if not ids:
        return
    in_list = ", ".join(q(i) for i in ids)
    sql = f"UPDATE users SET is_active = {value} WHERE id IN ({in_list})"
    if w.db.url.startswith("sqlite://"):
        con = sqlite3.connect(w.db.url[len("sqlite://"):], timeout=10)
        try:
            con.execute(sql)
            con.commit()
        finally:
            con.close()
    else:
        _psql(w.db.url, sql)


# --- evaluators -------------------------------------------------------------------------------

def test_evaluator_list_is_evaluators_only(w):
    tag = unique("evl")
    made = [w.new_user("evaluator", user_name=f"{KOREAN} {tag}") for _ in range(3)]
    w.new_user("secretary", user_name=f"{KOREAN} {tag}")
    for token in (w.sec.token, w.admin.token):
        listed = walk(w, "/api/evaluators", token, 2, search=tag)
        assert [x["id"] for x in listed] == authkit.newest_first(made)
        everyone = walk(w, "/api/evaluators", token, 200)
        assert everyone and {x["role"] for x in everyone} == {"evaluator"}
    # role is not a filter of this list: whatever it says, the list stays evaluators only.
    res = w.st.get("/api/evaluators", w.sec.token, params={"role": "admin"})
    assert {x["role"] for x in res.json()["items"]} == {"evaluator"}


def evaluator(**over) -> dict:
    login = unique("bev-")
    body = {"login_id": login, "email": f"{login}@example.com", "user_name": "평가"}
    body.update(over)
    return body


@pytest.mark.parametrize("body, fields", [
    ({}, {"login_id", "email", "user_name"}),
    (evaluator(role="admin"), {"role"}),
    (evaluator(password=WEAK), {"password"}),
    (evaluator(password=""), {"password"}),
    (evaluator(email="nope"), {"email"}),
    (evaluator(login_id="a"), {"login_id"}),
    (evaluator(user_name=["x"]), {"user_name"}),
])
def test_create_evaluator_refuses_bad_input(w, body, fields):
    before = w.db.snapshot()
    b = assert_error(w.st.post("/api/evaluators", w.sec.token, json=body), 400,
                     "VALIDATION_ERROR")
    assert detail_fields(b) == fields, b
    assert w.db.snapshot() == before


def test_batch_refuses_bad_input_as_a_whole(w):
    st = w.st
    good = [evaluator() for _ in range(3)]
    cases = [
        ({}, {"evaluators"}),
        ({"evaluators": []}, {"evaluators"}),
        ({"evaluators": {}}, {"evaluators"}),
        ({"evaluators": good, "extra": 1}, {"extra"}),
        ({"evaluators": [good[0], evaluator(email="bad"), 7, evaluator(login_id="", role="x")]},
         {"evaluators[1].email", "evaluators[2]", "evaluators[3].login_id",
          "evaluators[3].role"}),
        ({"evaluators": [evaluator(password=WEAK)]}, {"evaluators[0].password"}),
        ({"evaluators": [evaluator() for _ in range(501)]}, {"evaluators"}),
        ({"evaluators": [evaluator(password=PASSWORD) for _ in range(101)]}, {"evaluators"}),
    ]
    before = w.db.snapshot()
    for body, fields in cases:
        b = assert_error(st.post("/api/evaluators/batch", w.sec.token, json=body), 400,
                         "VALIDATION_ERROR")
        assert detail_fields(b) == fields, (fields, b)
    assert w.db.snapshot() == before

    # Conflicts: inside the batch and with existing users, each item named; nothing written.
    existing = w.new_user("secretary")
    before = w.db.snapshot()
    dup = evaluator()
    items = [dup, evaluator(login_id=dup["login_id"]), evaluator(email=dup["email"].upper()),
             evaluator(email=existing["email"]), evaluator(login_id=existing["login_id"]),
             evaluator()]
    b = assert_error(st.post("/api/evaluators/batch", w.sec.token, json={"evaluators": items}),
                     409, "CONFLICT")
    assert detail_fields(b) == {"evaluators[1].login_id", "evaluators[2].email",
                                "evaluators[3].email", "evaluators[4].login_id"}, b
    assert w.db.snapshot() == before
    assert_error(st.try_login(items[5]["login_id"], PASSWORD), 401, "AUTH_FAILED")


def test_batch_of_500_invitations(w):
    tag = unique("big")
    items = [{"login_id": f"{tag}-{i:03d}", "email": f"{tag}-{i:03d}@example.com",
              "user_name": f"{KOREAN} {i}"} for i in range(500)]
    before = int(w.db.value("SELECT COUNT(*) FROM mail_outbox"))
    res = w.st.post("/api/evaluators/batch", w.admin.token, json={"evaluators": items})
    assert res.status_code == 201, describe(res)
    body = res.json()
    assert body["created"] == 500 and [u["login_id"] for u in body["items"]] == \
        [i["login_id"] for i in items]
    assert int(w.db.value("SELECT COUNT(*) FROM mail_outbox")) == before + 500
    listed = walk(w, "/api/evaluators", w.sec.token, 200, search=tag)
    assert len(listed) == 500 and len({x["id"] for x in listed}) == 500
    assert {x["user_name"] for x in listed} == {i["user_name"] for i in items}
    # The same batch again: every item conflicts, nothing more is written.
    snap = w.db.snapshot()
    b = assert_error(w.st.post("/api/evaluators/batch", w.admin.token, json={"evaluators": items}),
                     409, "CONFLICT")
    assert len(b["details"]) == 1000
    assert w.db.snapshot() == snap


def test_no_secret_in_answers_or_log(w):
    body = signup_body(password="Log-Secret-Signup-Pass-9")
    assert w.st.post("/auth/secretary-signup", json=body).status_code == 202
    weak = good_user(password="Log-Secret-User-Pass-8")
    res = w.st.post("/api/users", w.admin.token, json=dict(weak, phone="bad"))
    assert "Log-Secret-User-Pass-8" not in res.text
    for r in all_requests(w):
        assert "password_hash" not in r and "password" not in r
    w.st.assert_log_clean("Log-Secret-Signup-Pass-9", "Log-Secret-User-Pass-8")
