"""TOTP MFA end to end; codes computed by an independent implementation (python3-pyotp)."""
import base64
import time

import pyotp
import pytest
import requests

PASSWORD = "Evald-Mfa-Pass-2026!"
SECRET = "mfa-test-jwt-secret-0123456789abcdef"


@pytest.fixture(params=["sqlite", "postgresql"])
def srv(request, evald, tmp_path):
    url = (f"sqlite://{tmp_path}/mfa.db" if request.param == "sqlite"
           else request.getfixturevalue("fresh_pg_url"))
    return evald(env={"JWT_SECRET": SECRET, "ADMIN_LOGIN_ID": "admin", "ADMIN_PASSWORD": PASSWORD,
                      "ADMIN_EMAIL": "admin@example.org", "MAX_FAILED_ATTEMPTS": "4",
                      "DATABASE_URL": url})


def login(srv, **extra):
    return requests.post(srv.url("/auth/login"),
                         json={"login_id": "admin", "password": PASSWORD, **extra}, timeout=10)


def bearer(srv):
    r = login(srv)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def enable_mfa(srv, headers):
    r = requests.post(srv.url("/auth/setup-mfa"), json={"password": PASSWORD}, headers=headers,
                      timeout=10)
    assert r.status_code == 200, r.text
    setup = r.json()
    totp = pyotp.TOTP(setup["secret"])
    setup["verified_with"] = totp.now()
    v = requests.post(srv.url("/auth/verify-mfa-setup"), json={"code": setup["verified_with"]},
                      headers=headers, timeout=10)
    assert v.status_code == 200 and v.json() == {"mfa_enabled": True}, v.text
    return setup, totp


def test_setup_returns_a_working_secret_uri_qr_and_backup_codes(srv):
    headers = bearer(srv)
    r = requests.post(srv.url("/auth/setup-mfa"), json={"password": PASSWORD}, headers=headers,
                      timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert len(base64.b32decode(body["secret"] + "=" * (-len(body["secret"]) % 8))) == 20
    parsed = pyotp.parse_uri(body["otpauth_uri"])
    assert parsed.secret == body["secret"]
    assert parsed.issuer == "Online Evaluation System"
    assert parsed.name == "admin@example.org"
    assert parsed.digits == 6 and parsed.interval == 30
    assert body["qr_code"].startswith("data:image/png;base64,")
    assert base64.b64decode(body["qr_code"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    codes = body["backup_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    # Setting up is not enabling: login still needs no code.
    assert login(srv).status_code == 200


def test_login_requires_a_code_once_enabled_and_refuses_replays(srv):
    setup, totp = enable_mfa(srv, bearer(srv))
    r = login(srv)
    assert r.status_code == 401
    assert r.json()["error_code"] == "MFA_REQUIRED"
    assert r.json()["category"] == "authentication"
    # The step used to verify the setup is spent: the same code is refused.
    assert login(srv, mfa_code=setup["verified_with"]).status_code == 401
    nxt = totp.at(time.time() + 30)  # one step of drift is accepted
    assert login(srv, mfa_code=nxt).status_code == 200
    r = login(srv, mfa_code=nxt)
    assert r.status_code == 401 and r.json()["error_code"] == "AUTH_FAILED"
    assert login(srv, mfa_code=totp.at(time.time() + 90)).status_code == 401  # too far ahead
    assert login(srv, mfa_code=totp.at(time.time() - 90)).status_code == 401  # too old


def test_backup_codes_work_once(srv):
    setup, totp = enable_mfa(srv, bearer(srv))
    code = setup["backup_codes"][3]
    assert login(srv, mfa_code=code.lower()).status_code == 200
    r = login(srv, mfa_code=code)
    assert r.status_code == 401 and r.json()["error_code"] == "AUTH_FAILED"
    assert login(srv, mfa_code=setup["backup_codes"][4]).status_code == 200


def test_wrong_codes_count_towards_lockout_and_are_events(srv):
    setup, totp = enable_mfa(srv, bearer(srv))
    for _ in range(3):
        assert login(srv, mfa_code="000000").status_code == 401
    r = login(srv, mfa_code="111111")
    assert r.status_code == 423 and r.json()["error_code"] == "ACCOUNT_LOCKED"
    # Even the right password and code are refused while locked.
    assert login(srv, mfa_code=totp.at(time.time() + 30)).status_code == 423


def test_a_new_setup_does_not_disable_active_mfa(srv):
    headers = bearer(srv)
    setup, totp = enable_mfa(srv, headers)
    r = requests.post(srv.url("/auth/setup-mfa"), json={"password": PASSWORD}, headers=headers,
                      timeout=10)
    assert r.status_code == 200
    assert login(srv).json()["error_code"] == "MFA_REQUIRED"
    assert login(srv, mfa_code=totp.at(time.time() + 30)).status_code == 200  # old secret holds


def test_disable_needs_password_and_code(srv):
    headers = bearer(srv)
    setup, totp = enable_mfa(srv, headers)
    bad_pw = requests.post(srv.url("/auth/disable-mfa"),
                           json={"password": "wrong-password-here", "code": totp.now()},
                           headers=headers, timeout=10)
    assert bad_pw.status_code == 400
    bad_code = requests.post(srv.url("/auth/disable-mfa"),
                             json={"password": PASSWORD, "code": "000000"}, headers=headers,
                             timeout=10)
    assert bad_code.status_code == 400
    assert login(srv).json()["error_code"] == "MFA_REQUIRED"  # still on
    ok = requests.post(srv.url("/auth/disable-mfa"),
                       json={"password": PASSWORD, "code": totp.at(time.time() + 30)},
                       headers=headers, timeout=10)
    assert ok.status_code == 200 and ok.json() == {"mfa_enabled": False}
    assert login(srv).status_code == 200


def test_events_and_no_secrets_in_them(srv):
    headers = bearer(srv)
    setup, totp = enable_mfa(srv, headers)
    login(srv, mfa_code="000000")
    login(srv, mfa_code=setup["backup_codes"][0])
    events = requests.get(srv.url("/auth/security-events?limit=200"), headers=headers,
                          timeout=10).json()["items"]
    types = {e["event_type"] for e in events}
    assert {"authn_mfa_enabled", "authn_mfa_fail", "authn_backup_code_used"} <= types
    text = str(events) + srv.log_text()
    assert setup["secret"] not in text
    assert setup["backup_codes"][0] not in text


@pytest.mark.parametrize("body", [None, "not json", [], {"code": 123}, {}])
def test_verify_rejects_bad_input(srv, body):
    headers = bearer(srv)
    if body is None:
        r = requests.post(srv.url("/auth/verify-mfa-setup"), data=b"", headers=headers, timeout=10)
    elif isinstance(body, str):
        r = requests.post(srv.url("/auth/verify-mfa-setup"), data=body,
                          headers={**headers, "Content-Type": "application/json"}, timeout=10)
    else:
        r = requests.post(srv.url("/auth/verify-mfa-setup"), json=body, headers=headers,
                          timeout=10)
    assert r.status_code == 400
    assert r.json()["error_code"] == "VALIDATION_ERROR"


def test_verify_without_a_pending_setup_is_a_business_error(srv):
    r = requests.post(srv.url("/auth/verify-mfa-setup"), json={"code": "123456"},
                      headers=bearer(srv), timeout=10)
    assert r.status_code == 422
    assert r.json()["error_code"] == "BUSINESS_LOGIC_ERROR"


def test_mfa_endpoints_need_a_signed_in_user(srv):
    for path in ("/auth/setup-mfa", "/auth/verify-mfa-setup", "/auth/disable-mfa"):
        r = requests.post(srv.url(path), json={"password": PASSWORD, "code": "1"}, timeout=10)
        assert r.status_code == 401
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
