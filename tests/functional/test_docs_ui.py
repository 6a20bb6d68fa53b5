"""Swagger UI and ReDoc served by evald itself: the pages, their assets from the npm versions
pinned in web/package-lock.json, a same-origin Content-Security-Policy, caching, no CDN, and a
clear 503 when the assets are not installed."""

from __future__ import annotations

import json
import re

import pytest
import requests

from authkit import assert_error
from conftest import REPO

PAGES = ("/docs/", "/docs/redoc")


@pytest.fixture(scope="module")
def srv(module_evald):
    # Rate limits on: the pages and their assets must not run into the per-IP API rule.
    return module_evald(env={"RATE_LIMIT_ENABLED": "true"})


def referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


@pytest.mark.parametrize("page", PAGES)
def test_pages_load_only_same_origin_assets_under_a_strict_policy(srv, page):
    res = requests.get(srv.url(page), timeout=10)
    assert res.status_code == 200
    assert res.headers["Content-Type"].startswith("text/html")
    csp = res.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp
    assert "<script>" not in res.text  # no inline script: the policy would block it
    refs = referenced(res.text)
    assert refs and not any(r.startswith(("http:", "https:", "//")) for r in refs), refs
    for ref in refs:
        asset = requests.get(srv.url("/docs/" + ref), timeout=10)
        assert asset.status_code == 200, ref
        assert len(asset.content) > 100, ref
    assert "openapi.json" in res.text or page == "/docs/"


def test_swagger_ui_is_the_pinned_version_and_starts_on_our_document(srv):
    lock = json.loads((REPO / "web" / "package-lock.json").read_text())
    pinned = lock["packages"]["node_modules/swagger-ui-dist"]["version"]
    assert pinned.startswith("5.")
    redoc = lock["packages"]["node_modules/redoc"]["version"]
    assert redoc.startswith("2.")
    bundle = requests.get(srv.url("/docs/assets/swagger-ui-bundle.js"), timeout=10)
    installed = (REPO / "web" / "node_modules" / "swagger-ui-dist" / "swagger-ui-bundle.js")
    assert bundle.content == installed.read_bytes()
    init = requests.get(srv.url("/docs/assets/swagger-init.js"), timeout=10).text
    assert 'url: "openapi.json"' in init and "deepLinking: true" in init and "filter: true" in init


def test_assets_are_cacheable_with_etags_and_unknown_ones_are_404(srv):
    res = requests.get(srv.url("/docs/assets/swagger-ui.css"), timeout=10)
    assert res.status_code == 200 and res.headers["Content-Type"].startswith("text/css")
    assert "max-age=86400" in res.headers["Cache-Control"]
    etag = res.headers["ETag"]
    again = requests.get(srv.url("/docs/assets/swagger-ui.css"), timeout=10,
                         headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = requests.get(srv.url("/docs/assets/swagger-ui.css"), timeout=10,
                         headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200
    for name in ("nope.js", "..%2F..%2Fpackage.json", "swagger-ui-dist%2Fswagger-ui.css"):
        assert_error(requests.get(srv.url("/docs/assets/" + name), timeout=10), 404, "NOT_FOUND")
    moved = requests.get(srv.url("/docs"), timeout=10, allow_redirects=False)
    assert moved.status_code == 301 and moved.headers["Location"] == "/docs/"


def test_reloading_the_pages_is_never_rate_limited(srv):
    for _ in range(12):  # 12 page loads of 6 requests: beyond the per-IP API rule (60/min)
        for url in ("/docs/", "/docs/assets/swagger-ui.css", "/docs/assets/swagger-ui-bundle.js",
                    "/docs/assets/swagger-ui-standalone-preset.js",
                    "/docs/assets/swagger-init.js", "/docs/assets/favicon-32x32.png"):
            assert requests.get(srv.url(url), timeout=10).status_code == 200, url


def test_without_the_assets_the_pages_say_so(evald, tmp_path):
    srv = evald(env={"DOCS_ASSETS_DIR": str(tmp_path / "missing")})
    for page in PAGES:
        body = assert_error(requests.get(srv.url(page), timeout=10), 503,
                            "EXTERNAL_SERVICE_ERROR")
        assert "openapi.json" in body["message"]
    assert requests.get(srv.url("/docs/openapi.json"), timeout=10).status_code == 200
    assert "documentation UI is not installed" in srv.log_text()
