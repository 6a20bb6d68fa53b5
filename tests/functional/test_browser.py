"""The pages a person opens, in a real browser: Debian's headless Chromium driven by
playwright-core (web/package-lock.json; it never downloads a browser) through the scripts of
web/browser-tests/, against a running evald.

- /docs/ (Swagger UI) lists every tag and operation of /docs/openapi.json; Authorize with the
  OAuth2 password flow signs the admin in; "Try it out" on GET /auth/me shows 200 and the user.
- /docs/redoc renders every operation.
- /status signs the admin in (and refuses a non-admin) and draws its charts after some traffic.

Each script blocks (and fails on) any request of the page that is not to the loopback, and fails
on a console error, an uncaught exception or a Content-Security-Policy violation. Screenshots
are kept in test-artifacts/browser/ (gitignored). Skipped only when Chromium is not installed
(`make test` installs it with scripts/install-deps.sh).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import requests

from authkit import Stack, describe
from conftest import REPO

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
SCRIPTS = REPO / "web" / "browser-tests"
ARTIFACTS = REPO / "test-artifacts" / "browser"
PLAYWRIGHT = REPO / "web" / "node_modules" / "playwright-core" / "package.json"
SCRIPT_TIMEOUT_S = 240  # one browser launch each; the 2-core machine may be busy

pytestmark = pytest.mark.skipif(
    not (CHROMIUM.is_file() and os.access(CHROMIUM, os.X_OK)),
    reason=f"Chromium is not installed at {CHROMIUM} (scripts/install-deps.sh installs it)")


@pytest.fixture(scope="module")
def st(module_evald, tmp_path_factory):
    if not PLAYWRIGHT.is_file():
        pytest.fail("playwright-core is not installed in web/node_modules (run `make web`)",
                    pytrace=False)
    if shutil.which("node") is None:
        pytest.fail("node is not installed (scripts/install-deps.sh installs it)", pytrace=False)
    d = tmp_path_factory.mktemp("browser")
    # The pages' assets from this checkout, wherever EVALD_BIN was built.
    return Stack(module_evald, f"sqlite://{d}/auth.db", d,
                 DOCS_ASSETS_DIR=REPO / "web" / "node_modules")


def run_script(st: Stack, name: str, **extra: str) -> str:
    """Runs web/browser-tests/<name>.mjs; fails with its output unless it exits 0."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}-failure.png").unlink(missing_ok=True)  # from an earlier run
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "EVALD_URL": st.server.url("").rstrip("/"),
        "EVALD_LOGIN_ID": st.admin.login_id,
        "EVALD_PASSWORD": st.admin.password,
        "ARTIFACTS_DIR": str(ARTIFACTS),
        "CHROMIUM_PATH": str(CHROMIUM),
        # playwright-core has no browser download, and none must ever be attempted.
        "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
        **extra,
    }
    print(f"browser test {name}: screenshots in {ARTIFACTS}")
    try:
        p = subprocess.run(["node", str(SCRIPTS / f"{name}.mjs")], cwd=REPO / "web", env=env,
                           stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=SCRIPT_TIMEOUT_S)
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        pytest.fail(f"{name}.mjs did not finish within {SCRIPT_TIMEOUT_S} s:\n{out}",
                    pytrace=False)
    output = p.stdout + (("\n" + p.stderr) if p.stderr.strip() else "")
    print(output)
    assert p.returncode == 0, f"{name}.mjs exited with {p.returncode}:\n{output}"
    assert f"PASS {name}" in p.stdout, output
    return output


def test_swagger_ui_lists_everything_authorizes_and_tries_auth_me(st):
    out = run_script(st, "docs")
    assert (ARTIFACTS / "docs-try-auth-me.png").stat().st_size > 10_000, out
    # The browser's sign-in is a real one: the admin has a session opened by Chromium.
    sessions = st.sessions(st.login(st.admin).token)
    assert any("Chrome" in (s["user_agent"] or "") for s in sessions), sessions


def test_redoc_renders_every_operation(st):
    out = run_script(st, "redoc")
    assert (ARTIFACTS / "docs-redoc.png").stat().st_size > 10_000, out


def test_status_page_signs_in_and_draws_charts(st):
    page = requests.get(st.url("/status"), timeout=10)
    assert page.status_code == 200, describe(page)
    # Traffic for the charts: requests, and a failed login.
    for path in ("/health/ping", "/docs/openapi.json", "/auth/me", "/health/ping"):
        st.get(path)
    failed = st.try_login(st.admin.login_id, "not-the-password")
    assert failed.status_code == 401, describe(failed)
    user = st.create_user("evaluator")
    run_script(st, "status", EVALD_USER_LOGIN_ID=user.login_id,
               EVALD_USER_PASSWORD=user.password)
    assert (ARTIFACTS / "status-dashboard.png").stat().st_size > 10_000
