"""Password reset by email through a real SMTP sink (Debian's python3-aiosmtpd)."""
import email
import email.policy
import mailbox
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

PASSWORD = "Evald-Reset-Pass-2026!"
NEW_PASSWORD = "Brand-New-Secret-Words-77"
EMAIL = "kim@example.org"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """aiosmtpd storing every message in a Maildir."""

    def __init__(self, tmp: Path, port: int):
        self.port = port
        self.dir = tmp / f"maildir-{port}"
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [sys.executable if sys.executable.startswith("/usr/bin") else "/usr/bin/python3",
             "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "aiosmtpd.handlers.Mailbox", str(self.dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("SMTP sink did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(5)

    def messages(self):
        if not self.dir.exists():
            return []
        return [email.message_from_bytes(bytes(m), policy=email.policy.default)
                for m in mailbox.Maildir(str(self.dir), create=False)]

    def wait_for(self, count, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msgs = self.messages()
            if len(msgs) >= count:
                return msgs
            time.sleep(0.1)
        raise AssertionError(f"expected {count} mails, got {len(self.messages())}")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite://{tmp_path}/reset.db"
    return request.getfixturevalue("fresh_pg_url")


@pytest.fixture
def sink(tmp_path):
    s = SmtpSink(tmp_path, free_port()).start()
    yield s
    s.stop()


def start(evald, smtp_port, db_url, **env):
    return evald(env={"DATABASE_URL": db_url, "SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(smtp_port), "SMTP_TLS": "none",
                      "FRONTEND_URL": "https://eval.example.org", "ADMIN_LOGIN_ID": "kim",
                      "ADMIN_PASSWORD": PASSWORD, "ADMIN_EMAIL": EMAIL, "MAIL_RETRY_BASE_MS": "200",
                      **env})


def token_of(msg):
    text = msg.get_body(preferencelist=("plain",)).get_content()
    m = re.search(r"https://eval\.example\.org/reset-password\?token=([0-9a-f]+)", text)
    assert m, text
    return m.group(1), text


def request_reset(srv, address=EMAIL):
    return requests.post(srv.url("/auth/request-password-reset"), json={"email": address},
                         timeout=10)


def reset(srv, token, password=NEW_PASSWORD):
    return requests.post(srv.url("/auth/reset-password"),
                         json={"token": token, "new_password": password}, timeout=10)


def login(srv, password):
    return requests.post(srv.url("/auth/login"), json={"login_id": "kim", "password": password},
                         timeout=10)


def test_reset_mail_and_new_password(evald, sink, db_url):
    srv = start(evald, sink.port, db_url)
    session = login(srv, PASSWORD).json()["access_token"]
    r = request_reset(srv)
    assert r.status_code == 200
    [msg] = sink.wait_for(1)
    assert msg["Subject"] == "Password Reset Request - Online Evaluation System"
    assert msg["To"] == EMAIL
    token, text = token_of(msg)
    assert len(token) == 64  # 256 bits
    assert "This link will expire in 24 hours." in text
    assert msg.get_body(preferencelist=("html",)) is not None

    r = reset(srv, token)
    assert r.status_code == 200 and r.json() == {"password_reset": True}
    assert "access_token" not in r.text  # it does not sign in
    assert login(srv, PASSWORD).status_code == 401
    assert login(srv, NEW_PASSWORD).status_code == 200
    # Every earlier session is revoked.
    me = requests.get(srv.url("/auth/me"), headers={"Authorization": f"Bearer {session}"},
                      timeout=10)
    assert me.status_code == 401
    # Single use.
    again = reset(srv, token, "Another-Fresh-Secret-99")
    assert again.status_code == 400 and again.json()["error_code"] == "VALIDATION_ERROR"
    # Nothing secret in the log.
    assert token not in srv.log_text() and NEW_PASSWORD not in srv.log_text()


def test_unknown_email_gets_the_same_answer_and_no_mail(evald, sink, db_url):
    srv = start(evald, sink.port, db_url)
    known = request_reset(srv)
    unknown = request_reset(srv, "nobody@example.org")
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    sink.wait_for(1)
    time.sleep(0.5)
    assert len(sink.messages()) == 1


def test_reset_answers_in_about_the_same_time_either_way(evald, sink, db_url):
    srv = start(evald, sink.port, db_url)
    import statistics

    def timed(address):
        t = time.perf_counter()
        assert request_reset(srv, address).status_code == 200
        return time.perf_counter() - t

    known = [timed(EMAIL) for _ in range(12)]
    unknown = [timed(f"n{i}@example.org") for i in range(12)]
    # Both are one lookup and one small transaction; no mail is sent on the request path.
    assert statistics.median(unknown) < 5 * statistics.median(known) + 0.005
    assert statistics.median(known) < 5 * statistics.median(unknown) + 0.005


def test_newer_request_supersedes_and_tokens_are_validated(evald, sink, db_url):
    srv = start(evald, sink.port, db_url)
    request_reset(srv)
    request_reset(srv)
    first, second = sorted(sink.wait_for(2), key=lambda m: m["Date"])
    tokens = {token_of(m)[0] for m in (first, second)}
    assert len(tokens) == 2
    results = {t: reset(srv, t).status_code for t in tokens}
    assert sorted(results.values()) == [200, 400]  # only the newest works
    assert reset(srv, "0" * 64).status_code == 400
    assert reset(srv, "not-a-token").status_code == 400


def test_policy_applies_to_the_new_password(evald, sink, db_url):
    srv = start(evald, sink.port, db_url)
    request_reset(srv)
    token, _ = token_of(sink.wait_for(1)[0])
    for weak in ("short", "password123", "kim", EMAIL):
        r = reset(srv, token, weak)
        assert r.status_code == 400
        assert any(d["field"] == "new_password" for d in r.json()["details"])
        assert all("value" not in d for d in r.json()["details"])  # never echoed
    assert reset(srv, token).status_code == 200  # the token survived the refusals


def test_expired_token_is_refused(evald, tmp_path, sink, db_url, psql):
    srv = start(evald, sink.port, db_url)
    request_reset(srv)
    token, _ = token_of(sink.wait_for(1)[0])
    # Age the token in the database behind the server's back.
    import hashlib
    token_hash = hashlib.sha256(token.encode()).hexdigest()
    sql = ("UPDATE password_resets SET expires_at = '2000-01-01T00:00:00.000Z' "
           f"WHERE token_hash = '{token_hash}'")
    if db_url.startswith("sqlite://"):
        import sqlite3
        db = sqlite3.connect(db_url[len("sqlite://"):], timeout=10)
        db.execute(sql)
        db.commit()
        db.close()
    else:
        psql(db_url, sql)
    assert reset(srv, token).status_code == 400
    assert login(srv, PASSWORD).status_code == 200


def test_mail_waits_while_the_server_is_down_and_none_is_lost(evald, tmp_path, db_url):
    port = free_port()
    srv = start(evald, port, db_url)  # nothing listens there yet
    for _ in range(3):
        assert request_reset(srv).status_code == 200
    time.sleep(1.0)  # a few failed deliveries
    sink = SmtpSink(tmp_path, port).start()
    try:
        msgs = sink.wait_for(3, timeout=20)
        assert len(msgs) == 3
    finally:
        sink.stop()


def test_mail_survives_a_restart(evald, tmp_path, db_url):
    port = free_port()
    srv = start(evald, port, db_url)
    assert request_reset(srv).status_code == 200
    assert srv.stop() == 0
    sink = SmtpSink(tmp_path, port).start()
    try:
        start(evald, port, db_url)
        assert len(sink.wait_for(1, timeout=20)) == 1
    finally:
        sink.stop()


@pytest.mark.parametrize("path,body", [
    ("/auth/request-password-reset", {}),
    ("/auth/request-password-reset", {"email": 5}),
    ("/auth/request-password-reset", {"email": "no-at-sign"}),
    ("/auth/reset-password", {"token": "x"}),
    ("/auth/reset-password", {"new_password": NEW_PASSWORD}),
    ("/auth/reset-password", {"token": ["x"], "new_password": NEW_PASSWORD}),
])
def test_bad_input(evald, sink, path, body, tmp_path):
    srv = start(evald, sink.port, f"sqlite://{tmp_path}/bad.db")
    r = requests.post(srv.url(path), json=body, timeout=10)
    assert r.status_code == 400
    assert r.json()["error_code"] == "VALIDATION_ERROR"
    assert NEW_PASSWORD not in r.text
    r = requests.post(srv.url(path), data="{broken", headers={"Content-Type": "application/json"},
                      timeout=10)
    assert r.status_code == 400
