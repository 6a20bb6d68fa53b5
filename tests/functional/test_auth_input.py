"""Bad input on the POST endpoints of /auth: 400 VALIDATION_ERROR (413 PAYLOAD_TOO_LARGE for an
oversized body) in the standard error body with field details; none of it signs anybody in or
changes anything, and no password reaches a response or the server log.

Every bad body below carries the account's RIGHT credentials, so that a server that read them
anyway would be caught by the checks on sessions and events at the end."""

from __future__ import annotations

import json

import pytest

import rawhttp

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import ADMIN_LOGIN, ADMIN_PASSWORD, ERROR_TABLE, Stack, assert_error, detail_fields

MAX_BODY = 4096
NEW = "Brand-New-Pass-2026?"


@pytest.fixture(scope="module")
def env(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("auth-input")
    st = Stack(module_evald, f"sqlite://{d}/auth.db", d, MAX_BODY_BYTES=MAX_BODY,
               LOG_LEVEL="debug", MAX_FAILED_ATTEMPTS=1000)
    acct = st.create_user("evaluator")
    login = st.login(acct)
    other = st.login(acct)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    baseline = {
        "sessions": {s["session_id"] for s in st.sessions(admin.token, user_id=login.user_id)},
        "events": {e["id"] for e in st.events(admin.token, user_id=login.user_id)},
    }
    return {"st": st, "acct": acct, "login": login, "other": other, "admin": admin,
            "baseline": baseline}


def _login_body(acct, **override):
    body = {"login_id": acct.login_id, "password": acct.password}
    body.update(override)
    return body


def _change_body(acct, **override):
    body = {"current_password": acct.password, "new_password": NEW}
    body.update(override)
    return body


JSON = {"Content-Type": "application/json"}

# (id, path, function(acct) -> (headers, raw body bytes), expected detail fields or None)
LOGIN_CASES = [
    ("malformed-json", lambda a: (JSON, json.dumps(_login_body(a))[:-1].encode()), None),
    ("trailing-garbage", lambda a: (JSON, (json.dumps(_login_body(a)) + "}").encode()), None),
    ("json-array", lambda a: (JSON, json.dumps([_login_body(a)]).encode()), None),
    ("json-string", lambda a: (JSON, json.dumps(a.password).encode()), None),
    ("empty-body", lambda a: (JSON, b""), None),
    ("login-id-number", lambda a: (JSON, json.dumps(_login_body(a, login_id=123)).encode()),
     {"login_id"}),
    ("login-id-list", lambda a: (JSON, json.dumps(_login_body(a, login_id=[a.login_id])).encode()),
     {"login_id"}),
    ("password-number", lambda a: (JSON, json.dumps(_login_body(a, password=12345678)).encode()),
     {"password"}),
    ("password-object", lambda a: (JSON, json.dumps(
        _login_body(a, password={"value": a.password})).encode()), {"password"}),
    ("missing-login-id", lambda a: (JSON, json.dumps({"password": a.password}).encode()),
     {"login_id"}),
    ("missing-password", lambda a: (JSON, json.dumps({"login_id": a.login_id}).encode()),
     {"password"}),
    ("missing-both", lambda a: (JSON, b"{}"), {"login_id", "password"}),
    ("null-password", lambda a: (JSON, json.dumps(_login_body(a, password=None)).encode()),
     {"password"}),
    ("text-plain", lambda a: ({"Content-Type": "text/plain"},
                              json.dumps(_login_body(a)).encode()), None),
    ("application-xml", lambda a: ({"Content-Type": "application/xml"},
                                   json.dumps(_login_body(a)).encode()), None),
    ("form-missing-password", lambda a: ({"Content-Type": "application/x-www-form-urlencoded"},
                                         f"username={a.login_id}".encode()), {"password"}),
]

CHANGE_CASES = [
    ("malformed-json", lambda a: (JSON, json.dumps(_change_body(a))[:-1].encode()), None),
    ("json-array", lambda a: (JSON, json.dumps([_change_body(a)]).encode()), None),
    ("empty-body", lambda a: (JSON, b""), None),
    ("current-number", lambda a: (JSON, json.dumps(
        _change_body(a, current_password=12345678)).encode()), {"current_password"}),
    ("new-number", lambda a: (JSON, json.dumps(_change_body(a, new_password=12345678)).encode()),
     {"new_password"}),
    ("missing-new", lambda a: (JSON, json.dumps({"current_password": a.password}).encode()),
     {"new_password"}),
    ("missing-current", lambda a: (JSON, json.dumps({"new_password": NEW}).encode()),
     {"current_password"}),
    ("text-plain", lambda a: ({"Content-Type": "text/plain"},
                              json.dumps(_change_body(a)).encode()), None),
    ("form", lambda a: ({"Content-Type": "application/x-www-form-urlencoded"},
                        f"current_password={a.password}&new_password={NEW}".encode()), None),
]


def _check_400(env, res, fields):
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert body["details"], f"no field details: {body}"
    if fields is not None:
        assert fields <= detail_fields(body), body
    for secret in (env["acct"].password, NEW, ADMIN_PASSWORD):
        assert secret not in res.text, f"a password is echoed: {res.text}"
    return body


@pytest.mark.parametrize("make,fields", [(c[1], c[2]) for c in LOGIN_CASES],
                         ids=[c[0] for c in LOGIN_CASES])
def test_bad_login_bodies(env, make, fields):
    st = env["st"]
    headers, body = make(env["acct"])
    res = st.post("/auth/login", headers=headers, data=body)
    _check_400(env, res, fields)
    assert "access_token" not in res.text


@pytest.mark.parametrize("make,fields", [(c[1], c[2]) for c in CHANGE_CASES],
                         ids=[c[0] for c in CHANGE_CASES])
def test_bad_change_password_bodies(env, make, fields):
    st = env["st"]
    headers, body = make(env["acct"])
    res = st.post("/auth/change-password", env["login"].token, headers=headers, data=body)
    _check_400(env, res, fields)
    # Nothing changed: the other session lives.
    assert st.me_status(env["other"].token) == 200


def _raw_error(res: rawhttp.Response, status: int, code: str) -> dict:
    body = rawhttp.assert_error_body(res, status, code, *ERROR_TABLE[code])
    return body


def _oversized(env, body: dict) -> bytes:
    body = dict(body, padding="x" * (MAX_BODY + 100))
    return json.dumps(body).encode()


@pytest.mark.parametrize("path", ["/auth/login", "/auth/change-password", "/auth/logout",
                                  "/auth/unlock-account/{login_id}"])
def test_oversized_bodies_get_413(env, path):
    st, acct = env["st"], env["acct"]
    token = {"/auth/login": None, "/auth/unlock-account/{login_id}": env["admin"].token}.get(
        path, env["login"].token)
    payload = _login_body(acct) if path == "/auth/login" else _change_body(acct)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    res = rawhttp.request(st.server.port, "POST", path.format(login_id=acct.login_id), headers,
                          _oversized(env, payload))
    _raw_error(res, 413, "PAYLOAD_TOO_LARGE")
    text = res.body.decode("utf-8", "replace")
    assert acct.password not in text and NEW not in text, text
    # Not signed out by an oversized logout.
    assert st.me_status(env["login"].token) == 200


def test_oversized_chunked_body_gets_413(env):
    st, acct = env["st"], env["acct"]
    data = _oversized(env, _login_body(acct))
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(data[i:i + 1000]), data[i:i + 1000])
                      for i in range(0, len(data), 1000)) + b"0\r\n\r\n"
    res = rawhttp.request(st.server.port, "POST", "/auth/login",
                          {"Content-Type": "application/json", "Transfer-Encoding": "chunked",
                           "Content-Length": None},
                          chunks)
    _raw_error(res, 413, "PAYLOAD_TOO_LARGE")
    assert acct.password not in res.body.decode("utf-8", "replace")


def test_nothing_was_signed_in_or_changed(env):
    """Runs after the cases above (file order): no session, no success, no password change."""
    st, acct, admin = env["st"], env["acct"], env["admin"]
    sessions = {s["session_id"] for s in st.sessions(admin.token, user_id=env["login"].user_id)}
    assert sessions == env["baseline"]["sessions"], "a bad request created a session"
    new_events = [e for e in st.events(admin.token, user_id=env["login"].user_id)
                  if e["id"] not in env["baseline"]["events"]]
    assert not [e for e in new_events if e["event_type"] in (
        "authn_login_success", "authn_password_change", "session_revoked")], new_events
    # Both sessions are alive and the password is the old one.
    assert st.me_status(env["login"].token) == 200 and st.me_status(env["other"].token) == 200
    assert st.try_login(acct.login_id, NEW).status_code == 401
    assert st.login(acct).user_id == env["login"].user_id


def test_no_password_in_the_server_log(env):
    """At LOG_LEVEL=debug, after every bad request above."""
    env["st"].assert_log_clean(env["acct"].password, NEW, ADMIN_PASSWORD, env["login"].token,
                               env["other"].token, env["admin"].token)
