"""Rotating JWT_SECRET without signing everyone out: with JWT_SECRET_PREVIOUS set, tokens signed
by the old secret stay valid (new ones are signed by the new secret only), and MFA secrets
sealed under a key derived from the old secret are sealed again under the new one at start, so
that they still open once the grace period ends and JWT_SECRET_PREVIOUS is removed."""

from __future__ import annotations

import hashlib
import hmac
import time

import pyotp
import pytest
import requests

from authkit import b64url_decode
from conftest import free_port, run_evald

OLD = "rotation-old-jwt-secret-0123456789abcdef"
NEW = "rotation-new-jwt-secret-fedcba9876543210"
PASSWORD = "Evald-Rotation-Pass-2026!"


def signed_by(token: str, secret: str) -> bool:
    h, p, s = token.split(".")
    expected = hmac.new(secret.encode(), f"{h}.{p}".encode(), hashlib.sha256).digest()
    return hmac.compare_digest(expected, b64url_decode(s))


def login(srv, **extra):
    return requests.post(srv.url("/auth/login"), timeout=10,
                         json={"login_id": "admin", "password": PASSWORD, **extra})


def me(srv, token: str) -> int:
    return requests.get(srv.url("/auth/me"), headers={"Authorization": f"Bearer {token}"},
                        timeout=10).status_code


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_rotation_keeps_tokens_and_mfa_through_the_grace_period(engine, evald, tmp_path,
                                                                request):
    url = (f"sqlite://{tmp_path}/rotation.db" if engine == "sqlite"
           else request.getfixturevalue("fresh_pg_url"))
    base = {"DATABASE_URL": url, "ADMIN_LOGIN_ID": "admin", "ADMIN_PASSWORD": PASSWORD,
            "ADMIN_EMAIL": "admin@example.org"}

    # Before: a token and MFA under the old secret.
    a = evald(env={**base, "JWT_SECRET": OLD})
    r = login(a)
    assert r.status_code == 200, r.text
    old_token = r.json()["access_token"]
    assert signed_by(old_token, OLD)
    h = {"Authorization": f"Bearer {old_token}"}
    setup = requests.post(a.url("/auth/setup-mfa"), json={"password": PASSWORD}, headers=h,
                          timeout=10).json()
    totp = pyotp.TOTP(setup["secret"])
    v = requests.post(a.url("/auth/verify-mfa-setup"), json={"code": totp.now()}, headers=h,
                      timeout=10)
    assert v.status_code == 200, v.text
    assert a.stop() == 0

    # During the grace period: the old token works, new tokens are signed by the new secret
    # only, and the MFA secret was sealed again at start.
    b = evald(env={**base, "JWT_SECRET": NEW, "JWT_SECRET_PREVIOUS": OLD})
    assert '"msg":"MFA secrets sealed under the new JWT_SECRET","count":1' in b.log_text()
    assert me(b, old_token) == 200
    r = login(b, mfa_code=totp.at(time.time() + 30))
    assert r.status_code == 200, r.text
    new_token = r.json()["access_token"]
    assert signed_by(new_token, NEW) and not signed_by(new_token, OLD)
    assert b.stop() == 0

    # After: the old secret is gone. Its tokens are refused; the new ones work; MFA still opens
    # (a backup-code login reads the sealed secret too).
    c = evald(env={**base, "JWT_SECRET": NEW})
    assert "MFA secrets sealed" not in c.log_text()
    assert me(c, old_token) == 401
    assert me(c, new_token) == 200
    assert login(c).status_code == 401  # MFA is still on: a code is required
    r = login(c, mfa_code=setup["backup_codes"][0])
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("env, message", [
    ({"JWT_SECRET": NEW, "JWT_SECRET_PREVIOUS": "short"}, "at least 32 characters"),
    ({"JWT_SECRET": NEW, "JWT_SECRET_PREVIOUS": NEW}, "must differ from JWT_SECRET"),
    ({"JWT_SECRET_PREVIOUS": OLD}, "only with a JWT_SECRET"),
])
def test_bad_previous_secrets_are_refused_at_start(tmp_path, env, message):
    p = run_evald(["serve"], env={"DATABASE_URL": f"sqlite://{tmp_path}/x.db",
                                  "ENVIRONMENT": "test", "PORT": str(free_port()), **env},
                  cwd=tmp_path, timeout=30)
    assert p.returncode == 2, p.stderr
    assert "JWT_SECRET_PREVIOUS" in p.stderr and message in p.stderr
    assert OLD not in p.stderr and NEW not in p.stderr  # secrets are never echoed
