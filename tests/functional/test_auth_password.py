"""POST /auth/change-password: the current password is checked, the new one must pass the
policy (and is never echoed), and a change revokes every other session."""

from __future__ import annotations

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import Stack, assert_error, describe, detail_fields

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory

NEW = "Brand-New-Pass-2026?"


def change(st, token, current, new):
    return st.post("/auth/change-password", token,
                   json={"current_password": current, "new_password": new})


def test_change_password(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    here = st.login(acct)
    elsewhere = [st.login(acct) for _ in range(2)]

    res = change(st, here.token, acct.password, NEW)
    assert res.status_code == 200, describe(res)
    assert acct.password not in res.text and NEW not in res.text, res.text
    # Every other session is revoked; this one still works.
    for l in elsewhere:
        assert_error(st.get("/auth/me", l.token), 401, "AUTH_FAILED")
    assert st.me_status(here.token) == 200
    active = [s["session_id"] for s in st.sessions(here.token) if s["is_active"]]
    assert active == [here.session_id], active
    # The old password no longer signs in; the new one does.
    assert_error(st.try_login(acct.login_id, acct.password), 401, "AUTH_FAILED")
    assert st.login(acct.login_id, NEW).user_id == here.user_id
    # Recorded for the user.
    types = [e["event_type"] for e in st.events(here.token)]
    assert "authn_password_change" in types, types
    st.assert_log_clean(acct.password, NEW, here.token, *(l.token for l in elsewhere))


def test_wrong_current_password(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    here = st.login(acct)
    other = st.login(acct)
    res = change(st, here.token, "Not-The-Current-1!", NEW)
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert "current_password" in detail_fields(body), body
    assert "Not-The-Current-1!" not in res.text and NEW not in res.text, res.text
    # Nothing changed: both sessions live, the old password still signs in, the new does not.
    assert st.me_status(here.token) == 200 and st.me_status(other.token) == 200
    assert_error(st.try_login(acct.login_id, NEW), 401, "AUTH_FAILED")
    assert st.login(acct).user_id == here.user_id


@pytest.fixture(scope="module")
def weak_stack(module_evald, tmp_path_factory):
    """One server and one account (signed in twice) for the weak-password cases: a refused
    change alters nothing, so they can share it."""
    d = tmp_path_factory.mktemp("auth-weak")
    # The weak passwords are tried at /auth/login too: no lockout in the way.
    st = Stack(module_evald, f"sqlite://{d}/auth.db", d, MAX_FAILED_ATTEMPTS=1000)
    acct = st.create_user(login_id="pw-owner-7")
    return st, acct, st.login(acct), st.login(acct)


@pytest.mark.parametrize("weak", [
    "Zq7!x",           # too short
    "login-id",        # replaced by the account's login id below
    "LOGIN-ID",        # the login id in another case
    "email",           # replaced by the account's email below
    "password123",     # common
    "qwerty123",       # common
    "Password123",     # common, in another case
], ids=["short", "login-id", "login-id-upper", "email", "password123", "qwerty123",
        "Password123"])
def test_weak_new_passwords_are_refused(weak_stack, weak):
    st, acct, here, other = weak_stack
    weak = {"login-id": acct.login_id, "LOGIN-ID": acct.login_id.upper(),
            "email": acct.email}.get(weak, weak)
    res = change(st, here.token, acct.password, weak)
    body = assert_error(res, 400, "VALIDATION_ERROR")
    assert detail_fields(body) == {"new_password"}, body
    for d in body["details"]:
        assert "value" not in d or d["value"] != weak, body
    # Never echoed (the login id and email are not in an error body either).
    assert weak not in res.text and acct.password not in res.text, res.text
    # Nothing changed.
    assert st.me_status(here.token) == 200 and st.me_status(other.token) == 200
    assert st.try_login(acct.login_id, weak).status_code == 401


def test_change_password_needs_a_token(stack_factory, sqlite_url):
    st = stack_factory(sqlite_url)
    acct = st.create_user()
    res = st.post("/auth/change-password",
                  json={"current_password": acct.password, "new_password": NEW})
    assert_error(res, 401, "AUTH_FAILED")
    assert st.login(acct).user["login_id"] == acct.login_id
