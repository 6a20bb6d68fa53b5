"""Two evald instances sharing one PostgreSQL: a token from one works on the other, and a
session revoked on one is refused by the other within a second."""
import time

import requests

SECRET = "shared-jwt-secret-for-two-instances-0123"
PASSWORD = "Evald-Twin-Pass-2026!"


def test_revocation_on_one_instance_holds_on_the_other_within_a_second(evald, fresh_pg_url):
    env = {"DATABASE_URL": fresh_pg_url, "JWT_SECRET": SECRET, "ADMIN_LOGIN_ID": "admin",
           "ADMIN_PASSWORD": PASSWORD, "ADMIN_EMAIL": "admin@example.org"}
    a = evald(env=env)
    b = evald(env=env)
    token = requests.post(a.url("/auth/login"), json={"login_id": "admin", "password": PASSWORD},
                          timeout=10).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(b.url("/auth/me"), headers=headers, timeout=10).status_code == 200

    assert requests.post(a.url("/auth/logout"), headers=headers, timeout=10).status_code == 200
    revoked_at = time.monotonic()
    assert requests.get(a.url("/auth/me"), headers=headers, timeout=10).status_code == 401
    while requests.get(b.url("/auth/me"), headers=headers, timeout=10).status_code == 200:
        assert time.monotonic() - revoked_at < 1.5, "instance B honoured a revoked session"
        time.sleep(0.05)
    assert time.monotonic() - revoked_at <= 1.5


def test_lockout_is_shared_between_instances(evald, fresh_pg_url):
    env = {"DATABASE_URL": fresh_pg_url, "JWT_SECRET": SECRET, "ADMIN_LOGIN_ID": "admin",
           "ADMIN_PASSWORD": PASSWORD, "ADMIN_EMAIL": "admin@example.org",
           "MAX_FAILED_ATTEMPTS": "4"}
    a = evald(env=env)
    b = evald(env=env)
    bad = {"login_id": "admin", "password": "not-the-password-1"}
    for srv in (a, b, a):
        assert requests.post(srv.url("/auth/login"), json=bad, timeout=10).status_code == 401
    assert requests.post(b.url("/auth/login"), json=bad, timeout=10).status_code == 423
    good = {"login_id": "admin", "password": PASSWORD}
    assert requests.post(a.url("/auth/login"), json=good, timeout=10).status_code == 423
