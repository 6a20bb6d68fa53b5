"""The cluster (issue 9): three evald instances on one PostgreSQL, one Redis and one SMTP sink,
behind Debian's nginx, all on loopback. What one instance decides the others honour: tokens,
revocation (within 1 s), lockout, spent TOTP steps, spent reset tokens and rate limits (a limit
of N allows N in total across the three). Killing one instance under write load loses no
acknowledged write, and the balancer's clients see only that instance's in-flight failures; a
rolling restart with SIGTERM under read load fails no request, and the instance stopping
answers what it was handling (a kill -9 in its place fails that check: nginx would resend those
GETs elsewhere, so "no failed request" alone cannot tell a drain from a crash).

One cluster for the module (clusterkit.py starts it); every test makes its own users. The two
disruptive tests come after the others and leave three running instances behind them. The last
test, on a database of its own, starts three instances at once: all come up, with one admin.
"""

from __future__ import annotations

import signal
import threading
import time

import pyotp
import pytest
import requests

pytest.register_assert_rewrite("authkit", "clusterkit")

from authkit import assert_error, describe, unique  # noqa: E402
from conftest import _psql  # noqa: E402
from clusterkit import (ADMIN, ADMIN_PASSWORD, JWT_SECRET, MAX_FAILED, RATE_N,  # noqa: E402
                        Cluster, cluster_fixture)

cluster = cluster_fixture()


def me(c: Cluster, base: str, token: str, **kw) -> requests.Response:
    return c.call("GET", base, "/auth/me", token=token, **kw)


# --- shared auth state -------------------------------------------------------------------------

def test_a_token_from_one_instance_works_on_the_others_and_through_the_balancer(cluster):
    c = cluster
    who = c.create_user("secretary")
    first = c.instances[0]
    token = c.login(first.url(""), who.login_id, who.password)["access_token"]
    for srv in c.instances:
        r = me(c, srv.url(""), token)
        assert r.status_code == 200 and r.json()["login_id"] == who.login_id, (srv, describe(r))
    mark = c.nginx.log_size()
    for _ in range(6):
        r = me(c, c.nginx.url, token)
        assert r.status_code == 200 and r.json()["login_id"] == who.login_id, describe(r)
    served = c.nginx.upstreams_since(mark, "/auth/me", 6)
    # Round robin: the six requests were spread over all three instances.
    assert set(served) == {f"127.0.0.1:{s.port}" for s in c.instances}, served


def test_a_session_revoked_on_one_instance_is_refused_by_the_others_within_a_second(cluster):
    c = cluster
    who = c.create_user("secretary")
    a, b, d = c.instances
    token = c.login(a.url(""), who.login_id, who.password)["access_token"]
    # The others have checked the session just now (and may cache that verdict for 1 s).
    for srv in (b, d):
        assert me(c, srv.url(""), token).status_code == 200
    r = c.call("POST", a.url(""), "/auth/logout", token=token)
    assert r.status_code == 200, describe(r)
    revoked = time.monotonic()
    assert me(c, a.url(""), token).status_code == 401
    seen = []  # (instance, seconds after the revocation the request was sent, status)
    refused = set()
    while len(refused) < 2 and time.monotonic() - revoked < 3:
        for srv in (b, d):
            sent = time.monotonic() - revoked
            status = me(c, srv.url(""), token).status_code
            seen.append((srv.name, round(sent, 3), status))
            if status == 401:
                refused.add(srv.name)
            else:
                refused.discard(srv.name)
        time.sleep(0.05)
    late = [s for s in seen if s[2] != 401 and s[1] >= 1.0]
    assert not late, f"accepted more than 1 s after the revocation: {seen}"
    assert refused == {b.name, d.name}, seen
    assert_error(me(c, c.nginx.url, token), 401, "AUTH_FAILED")


def test_lockout_counts_failures_on_every_instance(cluster):
    c = cluster
    who = c.create_user("secretary")
    for i in range(MAX_FAILED - 1):
        srv = c.instances[i % 3]
        r = c.try_login(srv.url(""), who.login_id, "not-the-password-1")
        assert_error(r, 401, "AUTH_FAILED")
    r = c.try_login(c.instances[(MAX_FAILED - 1) % 3].url(""), who.login_id, "not-the-password-2")
    assert_error(r, 423, "ACCOUNT_LOCKED")
    # The right password is refused everywhere while the account is locked.
    for base in [s.url("") for s in c.instances] + [c.nginx.url]:
        assert_error(c.try_login(base, who.login_id, who.password), 423, "ACCOUNT_LOCKED")


def test_a_totp_step_or_backup_code_used_on_one_instance_is_refused_on_another(cluster):
    c = cluster
    who = c.create_user("secretary")
    a, b, d = c.instances
    token = c.login(a.url(""), who.login_id, who.password)["access_token"]
    r = c.call("POST", a.url(""), "/auth/setup-mfa", token=token, json={"password": who.password})
    assert r.status_code == 200, describe(r)
    setup = r.json()
    totp = pyotp.TOTP(setup["secret"])
    # Set up on one instance, confirmed on another.
    code = totp.now()
    r = c.call("POST", b.url(""), "/auth/verify-mfa-setup", token=token, json={"code": code})
    assert r.status_code == 200 and r.json() == {"mfa_enabled": True}, describe(r)
    # The step spent confirming on b is refused on d.
    r = c.try_login(d.url(""), who.login_id, who.password, mfa_code=code)
    assert_error(r, 401, "AUTH_FAILED")
    nxt = totp.at(time.time() + 30)  # one step of drift is accepted
    assert c.try_login(a.url(""), who.login_id, who.password, mfa_code=nxt).status_code == 200
    for srv in (b, d):
        r = c.try_login(srv.url(""), who.login_id, who.password, mfa_code=nxt)
        assert_error(r, 401, "AUTH_FAILED")
    backup = setup["backup_codes"][0]
    assert c.try_login(d.url(""), who.login_id, who.password, mfa_code=backup).status_code == 200
    for srv in (a, b):
        r = c.try_login(srv.url(""), who.login_id, who.password, mfa_code=backup)
        assert_error(r, 401, "AUTH_FAILED")


def test_a_reset_token_spent_on_one_instance_is_refused_on_another(cluster):
    c = cluster
    who = c.create_user("secretary")
    a, b, d = c.instances
    r = c.call("POST", a.url(""), "/auth/request-password-reset", json={"email": who.email})
    assert r.status_code == 200, describe(r)
    token = c.reset_token_for(who.email)
    new_password = "Cluster-Reset-Words-2026!"
    r = c.call("POST", b.url(""), "/auth/reset-password",
               json={"token": token, "new_password": new_password})
    assert r.status_code == 200 and r.json() == {"password_reset": True}, describe(r)
    for base in (d.url(""), c.nginx.url):
        r = c.call("POST", base, "/auth/reset-password",
                   json={"token": token, "new_password": "Yet-Another-Reset-Words-1"})
        assert_error(r, 400, "VALIDATION_ERROR")
    assert c.try_login(d.url(""), who.login_id, new_password).status_code == 200
    assert_error(c.try_login(a.url(""), who.login_id, who.password), 401, "AUTH_FAILED")
    # Three instances share one outbox: the mail went out once.
    assert len(c.sink_messages_to(who.email)) == 1


# --- shared rate limits ------------------------------------------------------------------------

def test_a_per_user_limit_of_n_allows_n_in_total_across_the_three(cluster):
    c = cluster
    who = c.create_user("evaluator")  # per_user:evaluator is RATE_N per hour
    token = c.login(c.nginx.url, who.login_id, who.password)["access_token"]
    seen = []
    for i in range(2 * RATE_N):
        srv = c.instances[i % 3]
        r = me(c, srv.url(""), token)
        seen.append((srv.name, r.status_code, r.headers.get("X-RateLimit-Remaining")))
    assert [s for _, s, _ in seen] == [200] * RATE_N + [429] * RATE_N, seen
    assert [rem for _, _, rem in seen[:RATE_N]] == [str(RATE_N - 1 - i) for i in range(RATE_N)], \
        seen
    body = assert_error(me(c, c.nginx.url, token), 429, "RATE_LIMIT_EXCEEDED")
    assert body["details"][0]["message"] == "per_user:evaluator", body


def test_a_per_ip_limit_through_the_balancer_counts_the_forwarded_client(cluster):
    c = cluster
    admin = c.login(c.nginx.url, ADMIN, ADMIN_PASSWORD)["access_token"]
    r = c.call("POST", c.nginx.url, "/api/projects", token=admin, json={"name": unique("exp-")})
    assert r.status_code == 201, describe(r)
    path = f"/api/projects/{r.json()['id']}/export?format=csv"  # per_ip:export is RATE_N/h
    mark = c.nginx.log_size()
    statuses = [c.call("GET", c.nginx.url, path, token=admin, xff="203.0.113.70").status_code
                for _ in range(2 * RATE_N)]
    assert statuses == [200] * RATE_N + [429] * RATE_N, statuses
    served = c.nginx.upstreams_since(mark, "/export", 2 * RATE_N)
    assert len(served) == 2 * RATE_N and len(set(served)) == 3, served
    # Another client behind the same balancer has a bucket of its own: evald keys on the
    # forwarded address, not on nginx's.
    r = c.call("GET", c.nginx.url, path, token=admin, xff="203.0.113.71")
    assert r.status_code == 200, describe(r)


# --- failures under load -----------------------------------------------------------------------

class Load:
    """Client threads sending requests through nginx until stopped; every outcome recorded as
    (thread, started, ended, status or exception text, request tag)."""

    def __init__(self, threads: int, one):
        self.one = one
        self.stop_flag = threading.Event()
        self.lock = threading.Lock()
        self.results: list[tuple] = []
        self.threads = [threading.Thread(target=self._run, args=(i,)) for i in range(threads)]

    def _run(self, n: int):
        session = requests.Session()  # keep-alive to nginx, as a browser would
        i = 0
        while not self.stop_flag.is_set():
            i += 1
            tag = f"{n}-{i}"
            t0 = time.monotonic()
            try:
                status = self.one(session, tag).status_code
            except requests.RequestException as e:
                status = repr(e)
            with self.lock:
                self.results.append((n, t0, time.monotonic(), status, tag))

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop_flag.set()
        for t in self.threads:
            t.join(timeout=30)

    def count(self, ok=lambda s: isinstance(s, int) and 200 <= s < 300) -> int:
        with self.lock:
            return sum(1 for r in self.results if ok(r[3]))

    def wait_for(self, n: int, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while self.count() < n:
            assert time.monotonic() < deadline, f"{what}: {self.count()} of {n} in {timeout} s"
            time.sleep(0.02)


def test_kill_9_under_write_load_loses_no_acknowledged_write(cluster):
    c = cluster
    admin = c.login(c.nginx.url, ADMIN, ADMIN_PASSWORD)["access_token"]
    prefix = unique("kill9-") + "-"

    def write(session, tag):
        return session.post(c.nginx.url + "/api/projects", json={"name": prefix + tag},
                            headers={"Authorization": f"Bearer {admin}",
                                     "X-Request-ID": prefix + tag}, timeout=15)

    victim = c.instances[1]
    mark = c.nginx.log_size()
    with Load(4, write) as load:
        load.wait_for(30, 20, "writes before the kill")
        before = load.count()
        killed_at = time.monotonic()
        victim.send_signal(signal.SIGKILL)
        assert victim.wait_exit(10) == -signal.SIGKILL
        load.wait_for(before + 60, 20, "writes after the kill")
    results = list(load.results)
    acked = {prefix + tag for _, _, _, st, tag in results if st == 201}
    stored = set(c.psql(f"SELECT name FROM projects WHERE name LIKE '{prefix}%'").split())
    assert acked - stored == set(), f"acknowledged but not stored: {sorted(acked - stored)}"
    logged = {e["rid"]: e for e in c.nginx.wait_entries(mark, "/api/projects", len(results))}
    assert any(e["up"] == [f"127.0.0.1:{victim.port}"] and e["status"] == 201
               for e in logged.values()), "the victim took no writes: this test proves nothing"
    failed = [r for r in results if r[3] != 201]
    # Only requests the victim was handling may fail (nginx does not resend a POST it has sent):
    # sent before the kill, or in the instant after it, before nginx saw the victim's
    # connections close; answered after it. A few: about one per client thread.
    assert len(failed) <= 8, failed
    for n, t0, t1, status, tag in failed:
        e = logged.get(prefix + tag)
        assert status == 502 and e and e["up"] == [f"127.0.0.1:{victim.port}"], (status, e)
        assert t0 <= killed_at + 0.25 and t1 >= killed_at, \
            (f"a failure outside the kill window: thread {n} sent {t0 - killed_at:+.3f} s, "
             f"answered {t1 - killed_at:+.3f} s from the kill: {status}")
    c.replace(1)


def slow_batch(c: Cluster, n: int, ms: int) -> tuple[list, list[threading.Thread]]:
    """n concurrent GET /_test/sleep?ms= through nginx (a timer on the instance, no thread)."""
    out: list = []

    def one():
        try:
            r = requests.get(f"{c.nginx.url}/_test/sleep?ms={ms}", timeout=30)
            out.append((r.status_code, r.text))
        except requests.RequestException as e:
            out.append((None, repr(e)))
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    return out, threads


def test_rolling_restart_with_sigterm_under_load_fails_no_request(cluster):
    c = cluster
    admin = c.login(c.nginx.url, ADMIN, ADMIN_PASSWORD)["access_token"]
    headers = {"Authorization": f"Bearer {admin}"}

    def read(session, tag):
        return session.get(c.nginx.url + "/auth/me", headers=headers, timeout=15)

    slow_results = []
    with Load(4, read) as load:
        load.wait_for(40, 20, "reads before the restart")
        for i in range(3):
            old = c.instances[i]
            mark = c.nginx.log_size()
            # Slow requests on every instance (round robin over 18 of them), so that the one
            # about to stop has some in flight when SIGTERM arrives: its gauge counts more than
            # the scrape itself twice in a row, 0.1 s apart (longer than a fast request takes).
            out, threads = slow_batch(c, 18, 1000)
            deadline = time.monotonic() + 10
            busy = 0
            while busy < 2:
                assert time.monotonic() < deadline, f"{old.name} never had requests in flight"
                busy = busy + 1 if c.in_flight(old) >= 2 else 0
                time.sleep(0.1)
            term_at = time.time()
            old.send_signal(signal.SIGTERM)
            rc = old.wait_exit(15)
            assert rc == 0, f"{old.name} exited with {rc} after SIGTERM; log:\n{old.log_tail()}"
            for t in threads:
                t.join(timeout=30)
            slow_results += out
            # It drained: requests it was handling were answered by it, after the signal,
            # not cut and resent to another instance by nginx.
            drained = [e for e in c.nginx.wait_entries(mark, "/_test/sleep", len(out))
                       if e["up"] == [f"127.0.0.1:{old.port}"] and e["end"] > term_at]
            assert drained and all(e["status"] == 200 for e in drained), \
                c.nginx.entries_since(mark, "/_test/sleep")
            mark = c.nginx.log_size()
            new = c.replace(i)
            # nginx sends the replacement traffic before the next instance goes.
            c.nginx.wait_for_upstream(new.port, mark, timeout=15)
        total = load.count(lambda s: True)
        load.wait_for(total + 40, 20, "reads after the restart")
    failed = [r for r in load.results if r[3] != 200]
    assert not failed, f"{len(failed)} of {len(load.results)} failed: {failed[:10]}"
    assert len(slow_results) == 3 * 18 and all(st == 200 for st, _ in slow_results), slow_results


# --- start-up ----------------------------------------------------------------------------------

def test_three_instances_started_together_on_an_empty_database_all_come_up(evald, fresh_pg_url):
    env = {"DATABASE_URL": fresh_pg_url, "JWT_SECRET": JWT_SECRET, "ADMIN_LOGIN_ID": ADMIN,
           "ADMIN_PASSWORD": ADMIN_PASSWORD, "ADMIN_EMAIL": "boss@example.org"}
    servers = [evald(env=env, wait=False) for _ in range(3)]
    failed = []
    for srv in servers:
        try:
            srv.wait_ready(timeout=30)
        except AssertionError as e:
            failed.append(str(e))
    assert not failed, "\n".join(failed)
    admins = _psql(fresh_pg_url, "SELECT COUNT(*) FROM users WHERE role = 'admin'").strip()
    assert admins == "1", admins
