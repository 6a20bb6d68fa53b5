"""Server-side sessions: GET /auth/sessions, DELETE /auth/sessions/{session_id},
DELETE /auth/sessions (all but the current one)."""

from __future__ import annotations

import hashlib

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import (ADMIN_LOGIN, ADMIN_PASSWORD, ISO_Z, SESSION_KEYS, SHA256_HEX, assert_error,
                     describe, jwt_claims)

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory


def test_each_login_creates_a_listed_session(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    logins = [st.login(acct, headers={"User-Agent": f"agent-{n}/1.0"}) for n in range(3)]
    current = logins[-1]

    items = st.sessions(current.token)
    assert len(items) == 3, items
    for s in items:
        missing = SESSION_KEYS - s.keys()
        assert not missing, f"session lacks {missing}: {s}"
        assert s["user_id"] == current.user_id, s
        assert s["is_active"] is True, s
        assert SHA256_HEX.match(s["session_id"]), s
        for k in ("created_at", "last_activity", "expires_at"):
            assert isinstance(s[k], str) and ISO_Z.match(s[k]), s
        assert s["expires_at"] > s["created_at"], s
        assert s["ip_address"] == "127.0.0.1", s
    # The public id is SHA-256 of the raw id in the token, never the raw id itself.
    raw = {jwt_claims(l.token)["sid"] for l in logins}
    public = {hashlib.sha256(r.encode()).hexdigest() for r in raw}
    assert {s["session_id"] for s in items} == public, (items, raw)
    assert not raw & {s["session_id"] for s in items}, items
    for s in items:
        assert not any(r in str(s) for r in raw), s
    # Exactly one is the current one, with its own user agent.
    by_id = {s["session_id"]: s for s in items}
    assert [s["session_id"] for s in items if s["is_current"] is True] == [current.session_id]
    for n, l in enumerate(logins):
        assert by_id[l.session_id]["user_agent"] == f"agent-{n}/1.0", by_id[l.session_id]
    # Another token of the same user sees the same sessions with its own marked current.
    other = st.sessions(logins[0].token)
    assert [s["session_id"] for s in other if s["is_current"]] == [logins[0].session_id]


def test_revoke_one_session(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    a, b, c = (st.login(acct) for _ in range(3))
    res = st.delete(f"/auth/sessions/{a.session_id}", c.token)
    assert res.status_code == 200, describe(res)
    assert_error(st.get("/auth/me", a.token), 401, "AUTH_FAILED")
    assert st.me_status(b.token) == 200 and st.me_status(c.token) == 200
    listed = {s["session_id"]: s for s in st.sessions(c.token)}
    assert a.session_id not in listed or listed[a.session_id]["is_active"] is False, listed
    assert listed[b.session_id]["is_active"] is True, listed
    # Unknown, raw (the token's "sid") and already revoked ids: 404.
    assert_error(st.delete("/auth/sessions/" + "0" * 64, c.token), 404, "NOT_FOUND")
    assert_error(st.delete(f"/auth/sessions/{jwt_claims(b.token)['sid']}", c.token), 404,
                 "NOT_FOUND")
    assert st.me_status(b.token) == 200
    assert_error(st.delete(f"/auth/sessions/{a.session_id}", c.token), 404, "NOT_FOUND")
    # Without a token: 401.
    assert_error(st.delete(f"/auth/sessions/{b.session_id}"), 401, "AUTH_FAILED")
    assert st.me_status(b.token) == 200


def test_sessions_of_other_users(stack_factory, db_url):
    st = stack_factory(db_url)
    alice = st.login(st.create_user("evaluator"))
    bob = st.login(st.create_user("secretary"))
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)

    # A non-admin cannot revoke another user's session: 404, and it stays active.
    body = assert_error(st.delete(f"/auth/sessions/{bob.session_id}", alice.token), 404,
                        "NOT_FOUND")
    assert bob.session_id not in str(body)
    assert st.me_status(bob.token) == 200
    assert [s["is_active"] for s in st.sessions(bob.token)
            if s["session_id"] == bob.session_id] == [True]
    # ... nor list them: 403; their own user_id is fine.
    assert_error(st.get("/auth/sessions", alice.token, params={"user_id": bob.user_id}), 403,
                 "INSUFFICIENT_PERMISSIONS")
    own = st.sessions(alice.token, user_id=alice.user_id)
    assert [s["session_id"] for s in own] == [alice.session_id], own
    # Never someone else's sessions in one's own list.
    assert all(s["user_id"] == alice.user_id for s in st.sessions(alice.token))

    # An admin lists anyone's, and may revoke them.
    listed = st.sessions(admin.token, user_id=bob.user_id)
    assert [s["session_id"] for s in listed] == [bob.session_id], listed
    assert all(s["user_id"] == bob.user_id and s["is_current"] is False for s in listed), listed
    res = st.delete(f"/auth/sessions/{bob.session_id}", admin.token)
    assert res.status_code == 200, describe(res)
    assert_error(st.get("/auth/me", bob.token), 401, "AUTH_FAILED")
    assert st.me_status(admin.token) == 200 and st.me_status(alice.token) == 200


def test_revoke_all_other_sessions(stack_factory, db_url):
    st = stack_factory(db_url)
    acct = st.create_user()
    other_user = st.login(st.create_user())
    old = [st.login(acct) for _ in range(3)]
    current = st.login(acct)
    # One of the old ones is already gone: it is not counted again.
    assert st.post("/auth/logout", old[0].token).status_code == 200

    res = st.delete("/auth/sessions", current.token)
    assert res.status_code == 200, describe(res)
    assert res.json().get("revoked") == 2, res.json()
    for l in old:
        assert_error(st.get("/auth/me", l.token), 401, "AUTH_FAILED")
    assert st.me_status(current.token) == 200
    active = [s["session_id"] for s in st.sessions(current.token) if s["is_active"]]
    assert active == [current.session_id], active
    # Nobody else's sessions were touched.
    assert st.me_status(other_user.token) == 200
    # Nothing left to revoke.
    again = st.delete("/auth/sessions", current.token)
    assert again.status_code == 200 and again.json().get("revoked") == 0, describe(again)
