"""Bearer tokens: everything but a well-formed HS256 token signed with JWT_SECRET, unexpired, for
a live session of its subject, is refused with 401 AUTH_FAILED."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time

import pytest

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import (PASSWORD, Stack, assert_error, b64url, describe, forge, jwt_parts,
                     public_session_id)


@pytest.fixture(scope="module")
def stack(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("auth-tokens")
    return Stack(module_evald, f"sqlite://{d}/auth.db", d)


@pytest.fixture(scope="module")
def victim(stack):
    """A signed-in evaluator whose session stays alive for the whole module."""
    return stack.login(stack.create_user("evaluator"))


@pytest.fixture(scope="module")
def bystander(stack):
    return stack.login(stack.create_user("evaluator"))


def _swap_payload(token: str, **changes) -> str:
    """The token with its payload changed and the ORIGINAL signature kept."""
    h, p, s = token.split(".")
    _, claims, _ = jwt_parts(token)
    claims.update(changes)
    return h + "." + b64url(json.dumps(claims, separators=(",", ":")).encode()) + "." + s


def _claims(victim, **changes) -> dict:
    c = dict(jwt_parts(victim.token)[1])
    c.update(changes)
    return c


# Each case: (id, function(stack, victim, bystander) -> Authorization header value or None).
BAD = [
    ("no-header", lambda st, v, b: None),
    ("basic", lambda st, v, b: "Basic " + base64.b64encode(
        f"{v.user['login_id']}:{PASSWORD}".encode()).decode()),
    ("basic-with-jwt", lambda st, v, b: "Basic " + v.token),
    ("bearer-alone", lambda st, v, b: "Bearer"),
    ("bearer-space", lambda st, v, b: "Bearer "),
    ("garbage", lambda st, v, b: "Bearer not-a-token"),
    ("garbage-3-parts", lambda st, v, b: "Bearer a.b.c"),
    ("token-twice", lambda st, v, b: f"Bearer {v.token} {v.token}"),
    ("token-without-scheme", lambda st, v, b: v.token),
    ("alg-none-unsigned", lambda st, v, b: "Bearer " + forge(
        _claims(v), None, {"alg": "none", "typ": "JWT"})),
    ("alg-none-original-signature", lambda st, v, b: "Bearer " + forge(
        _claims(v), None, {"alg": "none", "typ": "JWT"}) + v.token.rsplit(".", 1)[1]),
    ("hs256-other-key", lambda st, v, b: "Bearer " + forge(
        _claims(v), "another-secret-of-at-least-32-characters!")),
    ("hs512-right-key", lambda st, v, b: "Bearer " + forge(
        _claims(v), header={"alg": "HS512", "typ": "JWT"}, digest=hashlib.sha512)),
    ("tampered-role", lambda st, v, b: "Bearer " + _swap_payload(v.token, role="admin")),
    ("tampered-sub", lambda st, v, b: "Bearer " + _swap_payload(v.token, sub=b.user["id"])),
    ("truncated-signature", lambda st, v, b: "Bearer " + v.token[:-4]),
    ("expired", lambda st, v, b: "Bearer " + forge(_claims(
        v, iat=int(time.time()) - 7200, exp=int(time.time()) - 60))),
    ("expires-now", lambda st, v, b: "Bearer " + forge(_claims(
        v, iat=int(time.time()) - 3600, exp=int(time.time())))),
    ("no-exp", lambda st, v, b: "Bearer " + forge(
        {k: x for k, x in _claims(v).items() if k != "exp"})),
    ("no-session", lambda st, v, b: "Bearer " + forge(_claims(v, sid=secrets.token_hex(16)))),
    ("session-of-another-user", lambda st, v, b: "Bearer " + forge(
        _claims(v, sid=jwt_parts(b.token)[1]["sid"]))),
    ("public-session-id-as-sid", lambda st, v, b: "Bearer " + forge(
        _claims(v, sid=public_session_id(v.token)))),
]


def test_a_correctly_forged_token_is_accepted(stack, victim):
    """The control for the cases below: the forging itself is right, so each refusal is due to
    the one thing a case changes."""
    token = forge(_claims(victim, iat=int(time.time()), exp=int(time.time()) + 600))
    res = stack.get("/auth/me", token)
    assert res.status_code == 200, describe(res)
    assert res.json()["id"] == victim.user["id"]


@pytest.mark.parametrize("make", [c[1] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_tokens_are_refused(stack, victim, bystander, make):
    value = make(stack, victim, bystander)
    headers = {} if value is None else {"Authorization": value}
    res = stack.get("/auth/me", headers=headers)
    assert_error(res, 401, "AUTH_FAILED")
    # The refusal reveals nothing of who the token was for.
    assert victim.user["login_id"] not in res.text and victim.user["id"] not in res.text, res.text
    # ... and the same on another protected endpoint.
    assert_error(stack.get("/auth/sessions", headers=headers), 401, "AUTH_FAILED")
    # The real token still works afterwards (nothing above harmed the session).
    assert stack.me_status(victim.token) == 200


def test_token_of_a_session_revoked_by_logout_is_refused(stack):
    login = stack.login(stack.create_user())
    assert stack.me_status(login.token) == 200
    assert stack.post("/auth/logout", login.token).status_code == 200
    assert_error(stack.get("/auth/me", login.token), 401, "AUTH_FAILED")
    # Re-signing the same claims does not bring the session back.
    again = forge(_claims(login, iat=int(time.time()), exp=int(time.time()) + 600))
    assert_error(stack.get("/auth/me", again), 401, "AUTH_FAILED")


def test_token_of_a_session_revoked_by_delete_is_refused(stack):
    acct = stack.create_user()
    doomed = stack.login(acct)
    keeper = stack.login(acct)
    res = stack.delete(f"/auth/sessions/{doomed.session_id}", keeper.token)
    assert res.status_code == 200, describe(res)
    assert_error(stack.get("/auth/me", doomed.token), 401, "AUTH_FAILED")
    assert stack.me_status(keeper.token) == 200
