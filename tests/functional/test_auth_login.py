"""POST /auth/login, GET /auth/me, POST /auth/logout: the answers, the token, and that a wrong
password and an unknown login id cannot be told apart (body or timing)."""

from __future__ import annotations

import hashlib
import hmac
import statistics
import time

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import (ADMIN_EMAIL, ADMIN_LOGIN, ADMIN_PASSWORD, ISO_Z, JWT_SECRET, PASSWORD,
                     USER_KEYS, assert_error, create_user_cli, describe, jwt_parts, unique)

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory


def assert_user(user: dict, login_id: str, email: str, role: str, user_name: str | None = None):
    assert isinstance(user, dict), user
    missing = USER_KEYS - user.keys()
    assert not missing, f"user object lacks {missing}: {user}"
    assert not [k for k in user if "password" in k.lower() or "hash" in k.lower()], user
    assert isinstance(user["id"], str) and user["id"], user
    assert user["login_id"] == login_id, user
    assert user["email"] == email, user
    assert user["role"] == role, user
    assert user["is_active"] is True, user
    assert user["phone"] is None, user
    if user_name is not None:
        assert user["user_name"] == user_name, user
    assert isinstance(user["created_at"], str) and ISO_Z.match(user["created_at"]), user


def test_login_json_answers_token_and_user(stack_factory, db_url):
    st = stack_factory(db_url)
    login_id = unique("ana-")
    p = create_user_cli(db_url, login_id, "evaluator", f"{login_id}@example.com", PASSWORD,
                        name="Ana Evaluator", cwd=st.cwd)
    assert p.returncode == 0, p.stderr

    t0 = int(time.time())
    res = st.try_login(login_id, PASSWORD)
    assert res.status_code == 200, describe(res)
    assert res.headers.get("Content-Type", "").startswith("application/json"), describe(res)
    assert "password_hash" not in res.text and "argon2" not in res.text, res.text
    body = res.json()
    assert {"access_token", "token_type", "expires_in", "user"} <= body.keys(), body
    assert body["token_type"] == "bearer", body
    assert body["expires_in"] == 3600, body
    assert_user(body["user"], login_id, f"{login_id}@example.com", "evaluator", "Ana Evaluator")
    assert body["user"]["last_login"] is not None and ISO_Z.match(body["user"]["last_login"]), body

    # The token: HS256 under JWT_SECRET (checked by an independent implementation), for this
    # user, living expires_in seconds.
    token = body["access_token"]
    header, claims, sig = jwt_parts(token)
    assert header.get("alg") == "HS256", header
    signing_input = token.rsplit(".", 1)[0].encode()
    assert hmac.compare_digest(sig, hmac.new(JWT_SECRET.encode(), signing_input,
                                             hashlib.sha256).digest()), "not HS256 under JWT_SECRET"
    assert claims["sub"] == body["user"]["id"], claims
    assert claims["role"] == "evaluator", claims
    assert claims["exp"] - claims["iat"] == body["expires_in"], claims
    assert abs(claims["iat"] - t0) <= 5, claims

    # /auth/me with it: the same user, no hash.
    me = st.get("/auth/me", token)
    assert me.status_code == 200, describe(me)
    assert "password_hash" not in me.text and "argon2" not in me.text, me.text
    assert_user(me.json(), login_id, f"{login_id}@example.com", "evaluator", "Ana Evaluator")
    assert me.json()["id"] == body["user"]["id"], me.json()
    assert me.headers.get("Cache-Control", "").find("no-store") >= 0, describe(me)

    # The first admin made from ADMIN_* signs in as an admin.
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    assert_user(admin.user, ADMIN_LOGIN, ADMIN_EMAIL, "admin")
    assert st.get("/auth/me", admin.token).json()["role"] == "admin"
    st.assert_log_clean(PASSWORD, ADMIN_PASSWORD, token, admin.token)


def test_login_accepts_the_oauth2_form(stack_factory, sqlite_url):
    st = stack_factory(sqlite_url)
    acct = st.create_user("secretary")
    res = st.post("/auth/login", data={"username": acct.login_id, "password": acct.password})
    assert res.status_code == 200, describe(res)
    body = res.json()
    assert body["token_type"] == "bearer", body
    assert_user(body["user"], acct.login_id, acct.email, "secretary")
    assert st.me_status(body["access_token"]) == 200
    # A wrong password through the form is refused like through JSON.
    bad = st.post("/auth/login", data={"username": acct.login_id, "password": "Not-It-2026!!"})
    body = assert_error(bad, 401, "AUTH_FAILED")
    assert bad.headers.get("WWW-Authenticate") == "Bearer", describe(bad)


def test_expires_in_follows_the_setting(stack_factory, sqlite_url):
    st = stack_factory(sqlite_url, ACCESS_TOKEN_EXPIRE_MINUTES=7)
    login = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    assert login.body["expires_in"] == 420, login.body
    claims = jwt_parts(login.token)[1]
    assert claims["exp"] - claims["iat"] == 420, claims


def test_wrong_password_and_unknown_login_id_get_the_same_answer(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    wrong = st.try_login(acct.login_id, "Wrong-Pass-Word-77")
    unknown = st.try_login(unique("nobody-"), "Wrong-Pass-Word-77")
    unknown_right_pw = st.try_login(unique("nobody-"), PASSWORD)
    bodies = []
    for res in (wrong, unknown, unknown_right_pw):
        body = assert_error(res, 401, "AUTH_FAILED")
        assert res.headers.get("WWW-Authenticate") == "Bearer", describe(res)
        assert "Wrong-Pass-Word-77" not in res.text and PASSWORD not in res.text, res.text
        bodies.append(body)
    for b in bodies[1:]:
        assert b["message"] == bodies[0]["message"], bodies
        assert b["details"] == bodies[0]["details"], bodies
    # The right password still works (two failures are under the default limit of 5).
    assert st.login(acct).user["login_id"] == acct.login_id
    st.assert_log_clean(acct.password, "Wrong-Pass-Word-77")


def test_unknown_login_id_is_not_answered_faster(stack_factory, sqlite_url):
    # No lockout in the way: every attempt below must run the password check.
    st = stack_factory(sqlite_url, MAX_FAILED_ATTEMPTS=1000)
    acct = st.create_user()

    def timed(login_id):
        t = time.perf_counter()
        res = st.try_login(login_id, "Wrong-Pass-Word-77")
        elapsed = time.perf_counter() - t
        assert res.status_code == 401, describe(res)
        return elapsed

    for _ in range(3):  # warm-up: connections, caches, first hash allocations
        timed(acct.login_id)
        timed(unique("ghost-"))
    known, unknown = [], []
    for _ in range(15):  # interleaved so that drift affects both alike
        known.append(timed(acct.login_id))
        unknown.append(timed(unique("ghost-")))
    mk, mu = statistics.median(known), statistics.median(unknown)
    assert mu >= 0.5 * mk, (f"unknown login ids answered in {mu * 1000:.1f} ms (median) vs "
                            f"{mk * 1000:.1f} ms for wrong passwords: the hash is skipped")


def test_me_and_logout(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    first = st.login(acct)
    second = st.login(acct)
    assert st.get("/auth/me", first.token).json()["login_id"] == acct.login_id

    out = st.post("/auth/logout", first.token)
    assert out.status_code == 200, describe(out)
    # The same token is refused at once, everywhere; the other session is untouched.
    assert_error(st.get("/auth/me", first.token), 401, "AUTH_FAILED")
    assert_error(st.post("/auth/logout", first.token), 401, "AUTH_FAILED")
    assert_error(st.get("/auth/sessions", first.token), 401, "AUTH_FAILED")
    assert st.me_status(second.token) == 200
    # Logging out needs a token.
    assert_error(st.post("/auth/logout"), 401, "AUTH_FAILED")
    st.assert_log_clean(acct.password, first.token, second.token)
