"""Fault drill: the SMTP server down for a while (issue 10). Password-reset mails asked for
meanwhile wait in the outbox (mail_outbox, status pending, the failed attempts counted) and are
all delivered, each once, when the server is back; the request path never waits for SMTP.

Three ways to be down: nothing listens (connection refused), a server that answers every
connection "421 service not available" (as one shutting down does), and a server that accepts
connections but hangs (SIGSTOP). test_password_reset.py already covers a server that is not
there from the start, and a restart of evald with mail pending; this drill takes a working
server away under way and brings it back.
"""

from __future__ import annotations

import signal
import socketserver
import sqlite3
import threading
import time

import pytest
import requests

pytest.register_assert_rewrite("authkit")  # before its import: full assert messages

from authkit import describe  # noqa: E402
from conftest import free_port  # noqa: E402
from test_password_reset import SmtpSink  # noqa: E402

PASSWORD = "Evald-Mail-Drill-2026!"
JWT_SECRET = "mail-drill-jwt-secret-0123456789abcdef"
USERS = 5
RETRY_BASE_MS = 200


class RefusingSmtp:
    """An SMTP server that greets every connection with 421 and closes it."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.server.connections += 1
            try:
                self.request.sendall(b"421 4.3.2 Service not available, closing channel\r\n")
            except OSError:
                pass

    class Server(socketserver.ThreadingTCPServer):
        allow_reuse_address = True
        daemon_threads = True
        connections = 0

    def __init__(self, port: int):
        self.server = self.Server(("127.0.0.1", port), self.Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def outbox(db_path) -> list[tuple]:
    """(to_address, status, attempts, last_error) of every mail, oldest first."""
    db = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        return list(db.execute("SELECT to_address, status, attempts, last_error FROM mail_outbox "
                               "ORDER BY created_at"))
    finally:
        db.close()


def wait_until(what: str, pred, timeout: float):
    deadline = time.monotonic() + timeout
    while not (value := pred()):
        assert time.monotonic() < deadline, f"{what} within {timeout} s"
        time.sleep(0.05)
    return value


def request_reset(srv, address: str) -> float:
    """POST /auth/request-password-reset; returns how long the answer took."""
    t0 = time.monotonic()
    r = requests.post(srv.url("/auth/request-password-reset"), json={"email": address},
                      timeout=10)
    assert r.status_code == 200, describe(r)
    return time.monotonic() - t0


@pytest.mark.parametrize("how", ["refused", "421", "hung"])
def test_reset_mails_wait_while_smtp_is_down_and_all_go_out_once_it_is_back(evald, tmp_path,
                                                                            how):
    port = free_port()
    db_path = tmp_path / "mail.db"
    db_url = f"sqlite://{db_path}"
    addresses = [f"mail-drill-{i}@example.org" for i in range(USERS + 2)]
    sink = SmtpSink(tmp_path, port).start()
    srv = evald(env={"DATABASE_URL": db_url, "SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(port),
                     "SMTP_TLS": "none", "FRONTEND_URL": "https://eval.example.org",
                     "MAIL_RETRY_BASE_MS": str(RETRY_BASE_MS), "JWT_SECRET": JWT_SECRET,
                     "ADMIN_LOGIN_ID": "maildrill", "ADMIN_PASSWORD": PASSWORD,
                     "ADMIN_EMAIL": "mail-drill-admin@example.org"})
    r = requests.post(srv.url("/auth/login"), json={"login_id": "maildrill",
                                                    "password": PASSWORD}, timeout=10)
    assert r.status_code == 200, describe(r)
    admin = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for i, address in enumerate(addresses):
        r = requests.post(srv.url("/api/users"), headers=admin, timeout=10,
                          json={"login_id": f"maildrill{i}", "email": address, "role": "evaluator",
                                "user_name": f"Mail Drill {i}", "password": PASSWORD})
        assert r.status_code == 201, describe(r)
    refusing = None
    try:
        # Working: a mail goes out at once.
        request_reset(srv, addresses[0])
        sink.wait_for(1, timeout=10)

        # Down.
        if how == "hung":
            sink.proc.send_signal(signal.SIGSTOP)
        else:
            sink.stop()
            if how == "421":
                refusing = RefusingSmtp(port).start()
        down_at = time.monotonic()
        took = [request_reset(srv, a) for a in addresses[1:1 + USERS]]
        assert max(took) < 2.0, f"a reset request waited for SMTP: {took}"
        def all_pending():
            found = [m for m in outbox(db_path) if m[1] == "pending"]
            return found if len(found) == USERS else None
        pending = wait_until("every mail asked for while SMTP is down pending in the outbox",
                             all_pending, timeout=10)
        assert sorted(m[0] for m in pending) == sorted(addresses[1:1 + USERS]), pending
        if how != "hung":
            # Attempts fail and are counted, with the reason, while it is down.
            failed = wait_until("failed attempts recorded in the outbox",
                                lambda: [m for m in outbox(db_path)
                                         if m[1] == "pending" and m[2] >= 1 and m[3]],
                                timeout=10)
            assert all("smtp" in m[3] for m in failed), failed
        time.sleep(max(0.0, 1.5 - (time.monotonic() - down_at)))
        assert len(sink.messages()) == 1, "mail was delivered while SMTP was down"
        if refusing:
            assert refusing.server.connections >= 1, "evald never tried while SMTP refused"

        # Back.
        if how == "hung":
            sink.proc.send_signal(signal.SIGCONT)
        else:
            if refusing:
                refusing.stop()
                refusing = None
            sink = SmtpSink(tmp_path, port).start()
        back_at = time.monotonic()
        msgs = sink.wait_for(1 + USERS, timeout=20)
        delivered_in = time.monotonic() - back_at
        # And a mail asked for now goes out as well.
        request_reset(srv, addresses[-1])
        msgs = sink.wait_for(2 + USERS, timeout=20)
        time.sleep(0.5)  # (a duplicate, wrongly sent, would be there by now)
        msgs = sink.messages()
    finally:
        if refusing:
            refusing.stop()
        if sink.proc and sink.proc.poll() is None:
            sink.proc.send_signal(signal.SIGCONT)
        sink.stop()
    to = sorted(m["To"] for m in msgs)
    assert to == sorted(addresses[:1 + USERS] + addresses[-1:]), \
        f"each address once: {to}"
    rows = outbox(db_path)
    assert [r[1] for r in rows] == ["sent"] * len(rows), rows
    # Delivered within the retry backoff after the server came back (attempts double from
    # 200 ms: the next one is at most a few seconds away after 1.5 s down).
    assert delivered_in < 10, f"the queued mail took {delivered_in:.1f} s after SMTP came back"
    assert srv.running
