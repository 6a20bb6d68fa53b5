"""The OpenAPI document: generated from the route table, valid by a real validator (npm
@apidevtools/swagger-parser), the same from `evald openapi` and /docs/openapi.json, and true to
the server: every documented operation exists, hidden routes stay out, security and errors are
declared as the server behaves, and real answers match the documented schemas."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import requests

from authkit import Stack, assert_error
from conftest import REPO, run_evald
from contract import format_checker

VALIDATOR = REPO / "web" / "validate-openapi.mjs"
METHODS = ("get", "post", "put", "patch", "delete")
DUMMY_ID = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def stack(module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("openapi")
    return Stack(module_evald, f"sqlite://{d}/openapi.db", d)


@pytest.fixture(scope="module")
def doc(stack):
    res = requests.get(stack.server.url("/docs/openapi.json"), timeout=10)
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("application/json")
    return res.json()


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def test_the_cli_prints_the_document_and_a_real_validator_accepts_it(tmp_path, doc):
    p = run_evald(["openapi"], env={"LOG_FORMAT": "json"}, cwd=tmp_path, timeout=30)
    assert p.returncode == 0, p.stderr
    printed = json.loads(p.stdout)
    assert printed["openapi"] == "3.1.0"
    # The served document describes the same operations (the server also runs test-only routes,
    # which neither shows).
    assert sorted(printed["paths"]) == sorted(doc["paths"])
    out = tmp_path / "openapi.json"
    out.write_text(json.dumps(doc))
    v = subprocess.run(["node", str(VALIDATOR), str(out)], capture_output=True, text=True,
                       timeout=120)
    assert v.returncode == 0, v.stdout + v.stderr
    assert "valid OpenAPI 3.1.0" in v.stdout
    # The validator is not a rubber stamp: a broken reference fails it.
    broken = json.loads(json.dumps(doc))
    next(iter(broken["paths"].values()))["get"] = {"responses": {"200": {
        "description": "x", "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/NoSuchSchema"}}}}}}
    out.write_text(json.dumps(broken))
    bad = subprocess.run(["node", str(VALIDATOR), str(out)], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode == 1, bad.stdout


def test_info_security_schemes_and_versions(doc, stack):
    info = doc["info"]
    assert info["title"] == "Online Evaluation System API"
    assert info["version"] == "1.1.0"
    assert "Bearer" in info["description"] and "request_id" in info["description"]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    flow = doc["components"]["securitySchemes"]["oauth2"]["flows"]["password"]
    assert flow["tokenUrl"] == "/auth/login"
    versions = [v["version"] for v in doc["x-api-versions"]]
    assert {"1.0.0", "1.1.0"} <= set(versions)
    served = requests.get(stack.server.url("/docs/versions"), timeout=10).json()
    assert served["current"] == "1.1.0"
    assert [v["version"] for v in served["versions"]] == versions
    v = requests.get(stack.server.url("/docs/version"), timeout=10).json()
    assert v["version"] == "1.1.0" and v["environment"] == "test"
    assert re.fullmatch(r"[0-9a-f]{7,40}|unknown", v["commit"]), v
    md = requests.get(stack.server.url("/docs/changelog"), timeout=10)
    assert md.headers["Content-Type"].startswith("text/markdown")
    assert "## 1.1.0 (2024-02-15)" in md.text and "Bearer prefix" in md.text
    as_json = requests.get(stack.server.url("/docs/changelog?format=json"), timeout=10).json()
    assert as_json["versions"] == served["versions"]
    assert_error(requests.get(stack.server.url("/docs/changelog?format=xml"), timeout=10), 400,
                 "VALIDATION_ERROR")


def test_every_documented_operation_exists_and_hidden_routes_do_not_appear(doc, stack):
    base = stack.server.url("")
    # The test-only routes exist on this server (ENVIRONMENT=test) yet are not documented.
    assert requests.get(base + "/_test/echo", timeout=10).status_code != 404
    assert not any(p.startswith("/_test") for p in doc["paths"])
    ids = set()
    for path, method, op in operations(doc):
        assert op["operationId"] not in ids, op["operationId"]
        ids.add(op["operationId"])
        concrete = re.sub(r"\{[^}]+\}", DUMMY_ID, path)
        res = requests.request(method.upper(), base + concrete, timeout=10,
                               headers={"Content-Type": "application/json"}, data="{}")
        body = res.json() if res.headers.get("Content-Type", "").startswith(
            "application/json") else {}
        assert res.status_code != 405, f"{method} {path}: 405"
        assert not str(body.get("message", "")).startswith("No route matches"), \
            f"{method} {path} is documented but the server has no such route"


def test_security_and_errors_are_declared_as_the_server_behaves(doc, stack):
    base = stack.server.url("")
    for path, method, op in operations(doc):
        where = f"{method.upper()} {path}"
        assert op["summary"] and op["tags"] and op["responses"], where
        assert "500" in op["responses"], where
        if op["security"] == []:
            continue
        assert "401" in op["responses"], where
        assert op["responses"]["401"]["content"]["application/json"]["schema"] == \
            {"$ref": "#/components/schemas/Error"}, where
        # Documented as protected: without a token the server refuses with 401.
        concrete = re.sub(r"\{[^}]+\}", DUMMY_ID, path)
        res = requests.request(method.upper(), base + concrete, timeout=10)
        assert res.status_code == 401, f"{where}: {res.status_code} without a token"
    public = {p for p, m, op in operations(doc) if op["security"] == []}
    assert {"/auth/login", "/health/ready", "/docs/openapi.json", "/ping"} <= public
    assert "/auth/me" not in public
    # Limited operations state their policy; probes are never limited.
    me = doc["paths"]["/auth/me"]["get"]
    assert me["x-ratelimit-policy"]["rules"], me
    assert "X-RateLimit-Remaining" in me["responses"]["200"]["headers"]
    assert "x-ratelimit-policy" not in doc["paths"]["/health/ready"]["get"]
    login = doc["paths"]["/auth/login"]["post"]
    assert login["x-ratelimit-policy"]["category"] == "login"


def test_every_success_answer_has_a_schema_and_a_valid_example(doc):
    """What a client generator needs: each 2xx with a body names its media types, JSON ones with
    a schema and an example that the schema accepts (the contract plugin then checks the real
    answers against the same schema)."""
    resolver = jsonschema.RefResolver.from_schema(doc)
    checked = 0
    for path, method, op in operations(doc):
        for status, res in op["responses"].items():
            where = f"{method.upper()} {path} {status}"
            if not status.startswith("2") or status == "204":
                continue
            assert res.get("content"), f"{where}: a success answer without a documented body"
            for media, m in res["content"].items():
                assert "schema" in m, f"{where} {media}: no schema"
                if media.split(";")[0] != "application/json":
                    continue
                assert "example" in m, f"{where} {media}: no example"
                jsonschema.Draft202012Validator.check_schema(m["schema"])
                v = jsonschema.Draft202012Validator(
                    m["schema"], resolver=resolver,
                    format_checker=format_checker())
                errors = [e.message for e in v.iter_errors(m["example"])]
                assert not errors, f"{where}: the example breaks its own schema: {errors[:3]}"
                checked += 1
    assert checked > 60, checked  # not vacuous: most operations answer JSON


def test_errors_with_a_body_of_their_own_and_the_implied_503(doc):
    # The probes' 503 is their report (in both media types), not the Error body.
    ready = doc["paths"]["/health/ready"]["get"]["responses"]["503"]["content"]
    assert set(ready) == {"application/json", "application/health+json"}
    assert ready["application/json"]["schema"]["properties"]["status"]["enum"] == ["not_ready"]
    assert ready["application/health+json"]["example"]["status"] == "fail"
    # Every signed-in operation may meet a database outage; a public probe does not say so.
    for path, method, op in operations(doc):
        if op["security"]:
            assert op["responses"]["503"]["content"]["application/json"]["schema"] == \
                {"$ref": "#/components/schemas/Error"}, f"{method} {path}"
    assert "503" not in doc["paths"]["/ping"]["get"]["responses"]


def response_schema(doc, path, method, status):
    content = doc["paths"][path][method]["responses"][str(status)]["content"]
    schema = next(iter(content.values()))["schema"]
    return {**schema, "components": doc["components"]} if "$ref" in schema else schema


def validate(doc, path, method, res):
    schema = response_schema(doc, path, method, res.status_code)
    if "$ref" in schema:
        schema = {"$ref": schema["$ref"], "components": doc["components"]}
    jsonschema.validate(res.json(), schema)


def test_real_answers_match_the_documented_schemas(doc, stack):
    admin = stack.login(stack.admin)
    h = {"Authorization": f"Bearer {admin.token}"}
    base = stack.server.url("")
    validate(doc, "/auth/me", "get", requests.get(base + "/auth/me", headers=h, timeout=10))
    validate(doc, "/docs/version", "get", requests.get(base + "/docs/version", timeout=10))
    validate(doc, "/docs/versions", "get", requests.get(base + "/docs/versions", timeout=10))
    # Error answers match the shared Error schema.
    unauth = requests.get(base + "/auth/me", timeout=10)
    validate(doc, "/auth/me", "get", unauth)
    bad = requests.post(base + "/auth/login", data="{", timeout=10,
                        headers={"Content-Type": "application/json"})
    validate(doc, "/auth/login", "post", bad)
    # And the check is real: a body missing a required field does not pass.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"error": True}, {"$ref": "#/components/schemas/Error",
                                              "components": doc["components"]})
