"""Account lockout: MAX_FAILED_ATTEMPTS failures lock a login id (existing or not, alike) with 423
ACCOUNT_LOCKED; a success before the limit resets the count; GET /auth/lockout-status and
POST /auth/unlock-account are for admins and secretaries."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import ADMIN_LOGIN, ADMIN_PASSWORD, PASSWORD, assert_error, describe, unique

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory

MAX = 3
SETTINGS = {"MAX_FAILED_ATTEMPTS": MAX, "LOCKOUT_DURATION_MINUTES": 1}
WRONG = "Wrong-Pass-Word-77"


def parse_ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


def status_of(st, token, login_id) -> dict:
    res = st.get(f"/auth/lockout-status/{login_id}", token)
    assert res.status_code == 200, describe(res)
    body = res.json()
    assert {"login_id", "is_locked", "lockout_until", "failed_attempts",
            "remaining_attempts"} <= body.keys(), body
    assert body["login_id"] == login_id, body
    return body


def test_lockout_after_max_failures_and_unlock(stack_factory, db_url):
    st = stack_factory(db_url, **SETTINGS)
    acct = st.create_user()
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)

    fresh = status_of(st, admin.token, acct.login_id)
    assert fresh["is_locked"] is False and fresh["failed_attempts"] == 0, fresh
    assert fresh["remaining_attempts"] == MAX and fresh["lockout_until"] is None, fresh

    for n in range(1, MAX):
        assert_error(st.try_login(acct.login_id, WRONG), 401, "AUTH_FAILED")
        s = status_of(st, admin.token, acct.login_id)
        assert s["is_locked"] is False, s
        assert s["failed_attempts"] == n and s["remaining_attempts"] == MAX - n, s
        assert s["lockout_until"] is None, s
    # The failure that reaches the limit may already say "locked".
    last = st.try_login(acct.login_id, WRONG)
    assert last.status_code in (401, 423), describe(last)

    # Locked: even the right password gets 423, and no session is made.
    res = st.try_login(acct.login_id, acct.password)
    body = assert_error(res, 423, "ACCOUNT_LOCKED")
    assert acct.password not in res.text, res.text
    assert "access_token" not in res.json(), body
    s = status_of(st, admin.token, acct.login_id)
    assert s["is_locked"] is True and s["remaining_attempts"] == 0, s
    assert s["failed_attempts"] >= MAX, s
    until = parse_ts(s["lockout_until"])
    now = datetime.now(timezone.utc)
    assert now < until <= now + timedelta(minutes=1, seconds=5), s

    # Unlock: the count and the lock are gone, and the right password works again.
    res = st.post(f"/auth/unlock-account/{acct.login_id}", admin.token)
    assert res.status_code == 200, describe(res)
    s = status_of(st, admin.token, acct.login_id)
    assert s["is_locked"] is False and s["failed_attempts"] == 0, s
    assert s["remaining_attempts"] == MAX and s["lockout_until"] is None, s
    login = st.login(acct)
    # The failures and the locked attempt made no session: this login's is the only one.
    assert [x["session_id"] for x in st.sessions(admin.token, user_id=login.user_id)] == \
        [login.session_id]


def _run_sequence(st, login_id):
    """MAX wrong passwords, then the right one twice: [(status, code, message, detail fields)]."""
    out = []
    for pw in [WRONG] * MAX + [PASSWORD, PASSWORD]:
        res = st.try_login(login_id, pw)
        body = res.json()
        assert PASSWORD not in res.text and WRONG not in res.text, res.text
        msg = re.sub(r"\d{4}-\d{2}-\d{2}T[0-9:.]+Z", "<time>", body.get("message", ""))
        msg = msg.replace(login_id, "<login_id>")
        out.append((res.status_code, body.get("error_code"), msg,
                    sorted((d["field"], d["code"]) for d in body.get("details", []))))
    return out


def test_unknown_login_id_locks_exactly_like_a_real_one(stack_factory, db_url):
    st = stack_factory(db_url, **SETTINGS)
    acct = st.create_user()
    ghost = unique("ghost-")
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)

    real = _run_sequence(st, acct.login_id)
    fake = _run_sequence(st, ghost)
    assert real == fake, f"a real and an unknown login id behave differently:\n{real}\n{fake}"
    assert [s for s, *_ in real[:MAX - 1]] == [401] * (MAX - 1), real
    assert real[-1][0] == 423 and real[-1][1] == "ACCOUNT_LOCKED", real
    assert real[-2][0] == 423, real
    assert_error(st.try_login(ghost, PASSWORD), 423, "ACCOUNT_LOCKED")

    a = status_of(st, admin.token, acct.login_id)
    b = status_of(st, admin.token, ghost)
    assert a["is_locked"] is True and b["is_locked"] is True, (a, b)
    assert {k: v for k, v in a.items() if k not in ("login_id", "lockout_until")} == \
        {k: v for k, v in b.items() if k not in ("login_id", "lockout_until")}, (a, b)


def test_a_success_before_the_limit_resets_the_count(stack_factory, db_url):
    st = stack_factory(db_url, **SETTINGS)
    acct = st.create_user()
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    statuses = []
    for _ in range(3):
        for _ in range(MAX - 1):
            statuses.append(st.try_login(acct.login_id, WRONG).status_code)
        statuses.append(st.try_login(acct.login_id, acct.password).status_code)
        s = status_of(st, admin.token, acct.login_id)
        assert s["failed_attempts"] == 0 and s["remaining_attempts"] == MAX, s
    assert statuses == ([401] * (MAX - 1) + [200]) * 3, statuses


def test_lockout_endpoints_are_for_admins_and_secretaries(stack_factory, sqlite_url):
    st = stack_factory(sqlite_url, **SETTINGS)
    target = st.create_user()
    evaluator = st.login(st.create_user("evaluator"))
    secretary = st.login(st.create_user("secretary"))
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    for _ in range(MAX):
        st.try_login(target.login_id, WRONG)
    assert_error(st.try_login(target.login_id, target.password), 423, "ACCOUNT_LOCKED")

    status_path = f"/auth/lockout-status/{target.login_id}"
    unlock_path = f"/auth/unlock-account/{target.login_id}"
    # No token: 401.
    assert_error(st.get(status_path), 401, "AUTH_FAILED")
    assert_error(st.post(unlock_path), 401, "AUTH_FAILED")
    # An evaluator: 403, and the account stays locked.
    assert_error(st.get(status_path, evaluator.token), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(st.post(unlock_path, evaluator.token), 403, "INSUFFICIENT_PERMISSIONS")
    assert status_of(st, admin.token, target.login_id)["is_locked"] is True
    assert_error(st.try_login(target.login_id, target.password), 423, "ACCOUNT_LOCKED")
    # ... and each refusal is a recorded authz_fail event of that evaluator.
    fails = st.events(admin.token, event_type="authz_fail", user_id=evaluator.user_id)
    assert len(fails) >= 2, fails
    assert all(e["user_id"] == evaluator.user_id for e in fails), fails
    assert all(e["event_type"] == "authz_fail" for e in fails), fails

    # A secretary may read and unlock.
    s = status_of(st, secretary.token, target.login_id)
    assert s["is_locked"] is True, s
    res = st.post(unlock_path, secretary.token)
    assert res.status_code == 200, describe(res)
    assert status_of(st, secretary.token, target.login_id)["is_locked"] is False
    assert st.login(target).user["login_id"] == target.login_id
