"""Rate limiting with the in-process store: token buckets, headers, 429, exemptions, bypass."""
import requests

PASSWORD = "Evald-Limit-Pass-2026!"


def limited(evald, **env):
    return evald(env={"RATE_LIMIT_ENABLED": "true", "ADMIN_LOGIN_ID": "admin",
                      "ADMIN_PASSWORD": PASSWORD, "ADMIN_EMAIL": "admin@example.org",
                      "JWT_SECRET": "rate-limit-test-secret-0123456789abcd",
                      # Lockout would answer 423 first; these tests are about the limiter.
                      "MAX_FAILED_ATTEMPTS": "100", **env})


def bad_login(srv, headers=None):
    return requests.post(srv.url("/auth/login"),
                         json={"login_id": "nobody", "password": "wrong-password-1"},
                         headers=headers or {}, timeout=10)


def test_login_rule_allows_five_per_ip_then_429_with_headers(evald):
    srv = limited(evald)
    for i in range(5):
        r = bad_login(srv)
        assert r.status_code == 401, i
        assert r.headers["X-RateLimit-Limit"] == "5"
        assert r.headers["X-RateLimit-Remaining"] == str(4 - i)
        assert r.headers["X-RateLimit-Window"] == "300"
        assert "RateLimit-Policy" in r.headers and "RateLimit" in r.headers
    r = bad_login(srv)
    assert r.status_code == 429
    body = r.json()
    assert body["error_code"] == "RATE_LIMIT_EXCEEDED"
    assert body["category"] == "security"
    assert body["details"][0]["message"].startswith("per_ip:login")
    retry = int(r.headers["Retry-After"])
    assert 1 <= retry <= 60  # one token every 60 s
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) >= retry


def test_a_refused_request_is_not_passed_on(evald):
    srv = limited(evald)
    for _ in range(5):
        bad_login(srv)
    for _ in range(3):
        assert bad_login(srv).status_code == 429
    # The refused attempts never reached the login: the lockout counted only five.
    token = requests.post(srv.url("/auth/login"),
                          json={"login_id": "admin", "password": PASSWORD},
                          headers={"X-Forwarded-For": "198.51.100.1"}, timeout=10)
    assert token.status_code == 429  # the header is ignored: 127.0.0.1 is not a trusted proxy


def test_health_and_probes_are_exempt(evald):
    srv = limited(evald)
    for _ in range(100):
        r = requests.get(srv.url("/health/ping"), timeout=10)
        assert r.status_code == 200
        assert "X-RateLimit-Limit" not in r.headers


def test_trusted_proxy_forwarded_address_gets_its_own_bucket(evald):
    srv = limited(evald, TRUSTED_PROXIES="127.0.0.1")
    for _ in range(5):
        bad_login(srv, {"X-Forwarded-For": "203.0.113.1"})
    assert bad_login(srv, {"X-Forwarded-For": "203.0.113.1"}).status_code == 429
    assert bad_login(srv, {"X-Forwarded-For": "203.0.113.2"}).status_code == 401
    # A forged left-most entry does not help: the right-most untrusted hop is the client.
    r = bad_login(srv, {"X-Forwarded-For": "203.0.113.2, 203.0.113.1"})
    assert r.status_code == 429


def test_per_user_buckets_use_the_token_user(evald):
    srv = limited(evald)
    token = requests.post(srv.url("/auth/login"), json={"login_id": "admin", "password": PASSWORD},
                          timeout=10).json()["access_token"]
    r = requests.get(srv.url("/auth/me"), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert r.status_code == 200
    # The per-IP api rule (60) is closer to its limit than the admin's per-user rule (2000).
    assert r.headers["X-RateLimit-Limit"] == "60"
    assert r.headers["RateLimit-Policy"].endswith('policy="per_ip:api"')


def test_bypass_token_outside_production(evald):
    srv = limited(evald, RATE_LIMIT_BYPASS_TOKEN="let-me-through-0123")
    for _ in range(5):
        bad_login(srv)
    assert bad_login(srv).status_code == 429
    assert bad_login(srv, {"X-RateLimit-Bypass": "let-me-through-0123"}).status_code == 401
    assert bad_login(srv, {"X-RateLimit-Bypass": "let-me-through-0124"}).status_code == 429


def test_disabled_means_no_limits_and_no_headers(evald):
    srv = evald(env={"RATE_LIMIT_ENABLED": "false", "MAX_FAILED_ATTEMPTS": "100"})
    for _ in range(10):
        r = bad_login(srv)
        assert r.status_code == 401
        assert "X-RateLimit-Limit" not in r.headers
