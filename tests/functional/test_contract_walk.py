"""The contract plugin (contract.py) checks every answer of the suites against the OpenAPI
document. This suite proves the checker is real (a wrong status, media type or body is caught,
with a message that names the request), and ends a full run with the coverage check: every
documented operation had at least one success answer that was checked against its schema."""

from __future__ import annotations

import copy

import pytest
import requests

from authkit import Stack
from conftest import CONTRACT, load_openapi
from contract import Contract


@pytest.fixture(scope="module")
def stack(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("contract")
    return Stack(module_evald, f"sqlite://{d}/contract.db", d)


@pytest.fixture(scope="module")
def document():
    return load_openapi()


def checker(doc: dict, port: int) -> Contract:
    """A Contract of its own (not the session's), on a copy of the document that a test may
    tamper with."""
    c = Contract(lambda: doc)
    c.watch(port)
    return c


def fetch(stack, method, path, token=None, **kw) -> requests.Response:
    # Through the session's hook too: the real document accepts these answers.
    res = stack.call(method, path, token, **kw)
    assert not CONTRACT.contract.violations, CONTRACT.contract.violations
    return res


def test_a_body_that_breaks_the_schema_is_reported_with_the_request(stack, document):
    admin = stack.login(stack.admin)
    doc = copy.deepcopy(document)
    me = doc["paths"]["/auth/me"]["get"]["responses"]["200"]["content"]["application/json"]
    me["schema"]["required"].append("favourite_colour")
    c = checker(doc, stack.server.port)
    res = fetch(stack, "GET", "/auth/me", admin.token)
    assert res.status_code == 200
    c.check(res, streamed=False)
    assert len(c.violations) == 1, c.violations
    v = c.violations[0]
    assert v.startswith("GET /auth/me (/auth/me) -> 200: the body does not match"), v
    assert "'favourite_colour' is a required property" in v, v
    assert ("GET /auth/me 200") not in c.covered  # a broken answer covers nothing
    # The untouched document accepts the same answer, and counts it.
    ok = checker(document, stack.server.port)
    ok.check(res, streamed=False)
    assert ok.violations == [] and ok.covered == {"GET /auth/me 200"}


def test_an_undocumented_status_or_media_type_is_reported(stack, document):
    doc = copy.deepcopy(document)
    version = doc["paths"]["/docs/version"]["get"]["responses"]
    version["200"]["content"] = {"text/plain": version["200"]["content"]["application/json"]}
    login = doc["paths"]["/auth/login"]["post"]["responses"]
    del login["400"]
    c = checker(doc, stack.server.port)
    c.check(fetch(stack, "GET", "/docs/version"), streamed=False)
    bad = fetch(stack, "POST", "/auth/login", data="{",
                headers={"Content-Type": "application/json"})
    assert bad.status_code == 400
    c.check(bad, streamed=False)
    assert len(c.violations) == 2, c.violations
    assert "GET /docs/version (/docs/version) -> 200: Content-Type 'application/json" in \
        c.violations[0] and "['text/plain']" in c.violations[0]
    assert c.violations[1].startswith("POST /auth/login (/auth/login) -> 400: status 400 is not "
                                      "documented for POST /auth/login"), c.violations[1]


def test_paths_match_their_templates_and_undocumented_ones_are_skipped(stack, document):
    c = checker(document, stack.server.port)
    assert c.load()
    # A literal segment wins over a parameter, whatever the order of the document.
    assert c.template_of("/api/companies/batch") == "/api/companies/batch"
    assert c.template_of("/api/companies/0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10") == \
        "/api/companies/{id}"
    assert c.template_of("/_test/echo") is None and c.template_of("/docs") is None
    # A hidden route's answer is not checked (it would break: /_test/echo is not documented).
    c.check(fetch(stack, "POST", "/_test/echo", data="x"), streamed=False)
    # Another server's answers are not either.
    other = checker(document, stack.server.port + 1)
    other.check(fetch(stack, "GET", "/docs/version"), streamed=False)
    assert c.violations == [] and other.violations == [] and c.checked == other.checked == 0
    # A documented path with a method it lacks must be refused with the error body.
    res = fetch(stack, "PUT", "/docs/version")
    c.check(res, streamed=False)
    assert res.status_code == 405 and c.violations == [] and c.checked == 1


def test_every_operation_had_a_checked_success_answer(request):
    """Last in a full run (the plugin moves it there); skipped when tests were selected."""
    if not CONTRACT.full_run:
        pytest.skip("only a full run of tests/functional exercises every operation")
    c = CONTRACT.contract
    assert c.load(), c.load_error
    missing = []
    for key in c.documented_operations():
        for status in c.success_statuses(key):
            if f"{key} {status}" not in c.covered:
                missing.append(f"{key} {status}")
    assert not missing, (
        f"{len(missing)} documented success answers were never seen and checked by the suites "
        f"(add a test that gets one):\n" + "\n".join(missing))
    assert c.checked > 1000, c.checked  # the hook saw the suites' traffic
