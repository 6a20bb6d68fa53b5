"""GET /auth/security-events: own events for users, everyone's for admins; filters, limit, cursor
paging; never a password or a token in an event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import (ADMIN_LOGIN, ADMIN_PASSWORD, ISO_Z, Login, Stack, assert_error, describe,
                     detail_fields, jwt_claims)

pytest_plugins = ["authkit"]  # fixtures: db_url, sqlite_url, stack_factory

WRONG = "Wrong-Pass-Word-77"
WRONG_CURRENT = "Not-The-Current-1!"
NEW = "Brand-New-Pass-2026?"


def ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@dataclass
class World:
    st: Stack
    a: Login          # evaluator with a full history
    b: Login          # another evaluator
    admin: Login
    secrets: list[str]


def build_world(st: Stack) -> World:
    acct_a = st.create_user("evaluator")
    acct_b = st.create_user("evaluator")
    secrets = [acct_a.password, acct_b.password, ADMIN_PASSWORD, WRONG, WRONG_CURRENT, NEW]

    a = st.login(acct_a)                                            # authn_login_success
    assert st.try_login(acct_a.login_id, WRONG).status_code == 401  # authn_login_fail
    a2 = st.login(acct_a)
    assert st.post("/auth/logout", a2.token).status_code == 200     # session_revoked
    assert st.post("/auth/change-password", a.token, json={
        "current_password": WRONG_CURRENT, "new_password": NEW}).status_code == 400
    assert st.post("/auth/change-password", a.token, json={
        "current_password": acct_a.password, "new_password": NEW}).status_code == 200
    assert st.get(f"/auth/lockout-status/{acct_b.login_id}", a.token).status_code == 403

    b = st.login(acct_b)
    assert st.try_login(acct_b.login_id, WRONG).status_code == 401
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    for l in (a, a2, b, admin):
        secrets += [l.token, jwt_claims(l.token)["sid"]]
    return World(st, a, b, admin, secrets)


@pytest.fixture
def world(stack_factory, db_url):
    return build_world(stack_factory(db_url))


@pytest.fixture(scope="module")
def sqlite_world(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("auth-events")
    return build_world(Stack(module_evald, f"sqlite://{d}/auth.db", d))


def get(w: World, token: str, **params):
    """One page; ":" unencoded in the query (test_percent_encoded_query_is_decoded covers
    the encoded form)."""
    return w.st.get("/auth/security-events?" + urlencode(params, safe=":"), token)


def test_users_see_their_own_events_and_admins_everyones(world):
    w = world
    mine = w.st.events(w.a.token)
    assert mine, "no events for a user with a history"
    for e in mine:
        assert {"id", "event_type", "user_id", "created_at"} <= e.keys(), e
        assert ISO_Z.match(e["created_at"]), e
    assert {e["user_id"] for e in mine} == {w.a.user_id}, mine
    types = {e["event_type"] for e in mine}
    for t in ("authn_login_success", "authn_login_fail", "session_revoked",
              "authn_password_change", "authz_fail"):
        assert t in types, f"{t} missing from the user's own events: {sorted(types)}"
    theirs = w.st.events(w.b.token)
    assert {e["user_id"] for e in theirs} == {w.b.user_id}, theirs
    assert not {e["id"] for e in mine} & {e["id"] for e in theirs}

    everything = w.st.events(w.admin.token)
    ids = {e["id"] for e in everything}
    assert {e["id"] for e in mine} <= ids and {e["id"] for e in theirs} <= ids
    assert {w.a.user_id, w.b.user_id, w.admin.user_id} <= {e["user_id"] for e in everything}

    # Admin filters: user_id gives exactly that user's own view; event_type only that type.
    only_a = w.st.events(w.admin.token, user_id=w.a.user_id)
    assert {e["id"] for e in only_a} == {e["id"] for e in mine}
    fails = w.st.events(w.admin.token, event_type="authn_login_fail")
    assert fails and {e["event_type"] for e in fails} == {"authn_login_fail"}, fails
    assert {w.a.user_id, w.b.user_id} <= {e["user_id"] for e in fails}, fails
    both = w.st.events(w.admin.token, event_type="authn_login_success", user_id=w.b.user_id)
    assert both and all(e["event_type"] == "authn_login_success" and e["user_id"] == w.b.user_id
                        for e in both), both

    # A user may name themself, not anybody else.
    assert {e["id"] for e in w.st.events(w.a.token, user_id=w.a.user_id)} == \
        {e["id"] for e in mine}
    assert_error(get(w, w.a.token, user_id=w.b.user_id), 403, "INSUFFICIENT_PERMISSIONS")
    assert_error(get(w, w.a.token, user_id=w.admin.user_id), 403, "INSUFFICIENT_PERMISSIONS")
    # A user's event_type filter stays within their own events.
    own_fails = w.st.events(w.a.token, event_type="authn_login_fail")
    assert own_fails and {e["user_id"] for e in own_fails} == {w.a.user_id}, own_fails
    # Without a token: 401.
    assert_error(w.st.get("/auth/security-events"), 401, "AUTH_FAILED")


def test_no_event_holds_a_password_or_token(world):
    w = world
    dump = json.dumps(w.st.events(w.admin.token))
    for s in w.secrets:
        assert s not in dump, f"a secret ({s[:12]}...) appears in the security events"
    assert "$argon2" not in dump and "password_hash" not in dump, "a password hash in the events"


def test_cursor_paging(world):
    w = world
    full = w.st.events(w.admin.token)
    assert len(full) >= 7, full
    # Newest first.
    stamps = [ts(e["created_at"]) for e in full]
    assert stamps == sorted(stamps, reverse=True), [e["created_at"] for e in full]

    pages, cursor = [], None
    for _ in range(len(full) + 2):
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        res = get(w, w.admin.token, **params)
        assert res.status_code == 200, describe(res)
        body = res.json()
        assert "items" in body and "next_cursor" in body, body
        assert 1 <= len(body["items"]) <= 2, body
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            break
    else:
        pytest.fail("next_cursor never became null")
    paged = [e["id"] for p in pages for e in p]
    assert len(paged) == len(set(paged)), "an event appears on two pages"
    assert paged == [e["id"] for e in full], "paging does not give the full list in order"
    assert all(len(p) == 2 for p in pages[:-1]), [len(p) for p in pages]

    # Paging within a filter and a user's own view.
    own, cursor = [], None
    while True:
        params = {"limit": 1} if cursor is None else {"limit": 1, "cursor": cursor}
        body = get(w, w.a.token, **params).json()
        own += [e["id"] for e in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert own == [e["id"] for e in w.st.events(w.a.token)]


@pytest.mark.parametrize("value", ["0", "201", "-1", "x", "1.5"])
def test_bad_limit_is_refused(sqlite_world, value):
    w = sqlite_world
    body = assert_error(get(w, w.admin.token, limit=value), 400, "VALIDATION_ERROR")
    assert "limit" in detail_fields(body), body


@pytest.mark.parametrize("value", ["1", "200"])
def test_limit_bounds_are_accepted(sqlite_world, value):
    w = sqlite_world
    res = get(w, w.admin.token, limit=value)
    assert res.status_code == 200, describe(res)
    items = res.json()["items"]
    assert 1 <= len(items) <= int(value), items
    if value == "1":
        assert res.json()["next_cursor"] is not None, res.json()


@pytest.mark.parametrize("cursor", ["!!!not-a-cursor!!!", "abc", "%%%", "x" * 7])
def test_invalid_cursor_is_refused(sqlite_world, cursor):
    w = sqlite_world
    body = assert_error(get(w, w.admin.token, cursor=cursor), 400, "VALIDATION_ERROR")
    assert "cursor" in detail_fields(body), body


def test_since_and_until(sqlite_world):
    w = sqlite_world
    full = w.st.events(w.admin.token)
    pivot = full[len(full) // 2]["created_at"]
    since = w.st.events(w.admin.token, since=pivot)
    until = w.st.events(w.admin.token, until=pivot)
    assert [e["id"] for e in since] == [e["id"] for e in full if ts(e["created_at"]) >= ts(pivot)]
    assert [e["id"] for e in until] == [e["id"] for e in full if ts(e["created_at"]) < ts(pivot)]
    # Both: the window between.
    lo, hi = full[-2]["created_at"], full[1]["created_at"]
    window = w.st.events(w.admin.token, since=lo, until=hi)
    assert [e["id"] for e in window] == \
        [e["id"] for e in full if ts(lo) <= ts(e["created_at"]) < ts(hi)]
    # Far past and future.
    assert w.st.events(w.admin.token, since="2999-01-01T00:00:00Z") == []
    assert w.st.events(w.admin.token, until="2000-01-01T00:00:00Z") == []
    # Not a UTC timestamp: 400 naming the parameter.
    for name in ("since", "until"):
        body = assert_error(get(w, w.admin.token, **{name: "yesterday"}), 400, "VALIDATION_ERROR")
        assert name in detail_fields(body), body


def test_since_and_until_in_whole_seconds(sqlite_world):
    """The documented format, 2026-01-15T10:30:00Z (no fraction), is a point in time: events
    later in that same second are after it, not before it."""
    w = sqlite_world
    full = w.st.events(w.admin.token)
    # An event with a non-zero fraction of a second, so that the whole second is before it.
    pivot = next((e for e in full if not e["created_at"].endswith(".000Z")), None)
    assert pivot is not None, "every event at a whole second (retry)"
    second = ts(pivot["created_at"]).replace(microsecond=0)
    second_s = second.strftime("%Y-%m-%dT%H:%M:%SZ")
    since = w.st.events(w.admin.token, since=second_s)
    until = w.st.events(w.admin.token, until=second_s)
    assert pivot["id"] in {e["id"] for e in since}, (
        f"since={second_s} leaves out the event created at {pivot['created_at']}")
    assert pivot["id"] not in {e["id"] for e in until}, (
        f"until={second_s} includes the event created at {pivot['created_at']}")
    assert [e["id"] for e in since] == [e["id"] for e in full if ts(e["created_at"]) >= second]
    assert [e["id"] for e in until] == [e["id"] for e in full if ts(e["created_at"]) < second]


def test_failures_while_locked_are_the_users_events_too(stack_factory, sqlite_url):
    """Every authn_login_fail for a login id (the admin's view) is in its owner's own list,
    the attempts refused because of a lock included."""
    st = stack_factory(sqlite_url, MAX_FAILED_ATTEMPTS=2, LOCKOUT_DURATION_MINUTES=1)
    acct = st.create_user()
    first = st.login(acct)
    admin = st.login(ADMIN_LOGIN, ADMIN_PASSWORD)
    for _ in range(2):
        st.try_login(acct.login_id, WRONG)
    assert st.try_login(acct.login_id, acct.password).status_code == 423
    assert st.post(f"/auth/unlock-account/{acct.login_id}", admin.token).status_code == 200
    fails = [e for e in st.events(admin.token, event_type="authn_login_fail")
             if e.get("login_id") == acct.login_id]
    assert len(fails) == 3, fails
    own = st.events(first.token, event_type="authn_login_fail")
    assert {e["id"] for e in own} == {e["id"] for e in fails}, (
        f"the user sees {len(own)} of the {len(fails)} failed sign-ins on their login id: "
        f"{[e.get('details') for e in fails]}")


def test_percent_encoded_query_is_decoded(sqlite_world):
    """What browsers and HTTP libraries send: since=2026-01-15T10%3A30%3A00Z is the same
    filter as since=2026-01-15T10:30:00Z."""
    w = sqlite_world
    full = w.st.events(w.admin.token)
    pivot = full[len(full) // 2]["created_at"]
    plain = w.st.get(f"/auth/security-events?limit=200&since={pivot}", w.admin.token)
    assert plain.status_code == 200, describe(plain)
    encoded = w.st.get(f"/auth/security-events?limit=200&since={quote(pivot, safe='')}",
                       w.admin.token)
    assert encoded.status_code == 200, describe(encoded)
    assert [e["id"] for e in encoded.json()["items"]] == \
        [e["id"] for e in plain.json()["items"]]
    # An encoded parameter name and event type too.
    res = w.st.get("/auth/security-events?event%5Ftype=authn%5Flogin%5Fsuccess&limit=200",
                   w.admin.token)
    assert res.status_code == 200, describe(res)
    assert res.json()["items"] and {e["event_type"] for e in res.json()["items"]} == \
        {"authn_login_success"}, res.json()
