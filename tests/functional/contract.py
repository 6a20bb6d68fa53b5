"""Contract checks: every answer an evald server gives the functional suites is checked against
the OpenAPI document that `evald openapi` prints.

Registered by conftest.py. It wraps `requests.Session.send` (which `requests.get`, `.post`, ...
and every Session go through), and for each response of a watched server (conftest's
EvaldServer reports its port) it finds the documented operation (method + path template) and
checks that
- the status is documented for that operation (its own, and the standard errors the document
  implies for it: 400, 401, 403, 404, 413, 429, 500, ...),
- the Content-Type is one of the documented media types (no body when none is documented),
- a JSON body validates against the documented schema (JSON Schema 2020-12, `components`
  resolved in the document, formats checked).
Paths the document does not describe (/_test/*, hidden routes, unknown paths) are skipped; so
are OPTIONS (CORS preflight) and the raw-socket client (rawhttp.py), whose tests send broken HTTP
on purpose. A violation fails the test that caused it (setup, call or teardown phase), with the
method, path, status and the validation error.

Coverage: every (operation, 2xx status) whose answer was checked is recorded; the last test of a
full run (test_contract_walk.py::test_every_operation_had_a_checked_success_answer, which this
plugin moves to the end) fails when a documented operation never had one.
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
import threading
import time
from urllib.parse import unquote, urlsplit

import jsonschema
import pytest
import requests

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
COVERAGE_TEST = "test_every_operation_had_a_checked_success_answer"
MAX_REPORTED = 5


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def format_checker() -> jsonschema.FormatChecker:
    """The draft's checkers, and date-time (which jsonschema checks only with a package Debian
    does not install here): RFC 3339, as the document promises."""
    checker = copy.deepcopy(jsonschema.Draft202012Validator.FORMAT_CHECKER)
    checker.checks("date-time")(lambda v: not isinstance(v, str) or bool(RFC3339.match(v)))
    return checker


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def is_json(mt: str) -> bool:
    return mt == "application/json" or mt.endswith("+json")


class Operation:
    def __init__(self, method: str, template: str, op: dict):
        self.method = method.upper()
        self.template = template
        self.key = f"{self.method} {template}"
        self.op = op
        self.responses = op.get("responses", {})
        self._validators: dict[tuple[str, str], jsonschema.protocols.Validator | None] = {}

    def response_doc(self, status: int) -> dict | None:
        r = self.responses
        return r.get(str(status)) or r.get(f"{str(status)[0]}XX") or r.get("default")

    def validator(self, contract: "Contract", status_key: str, mt: str, schema: dict):
        key = (status_key, mt)
        if key not in self._validators:
            self._validators[key] = contract.compile(schema)
        return self._validators[key]


class Contract:
    """The document, compiled once, and what the checks found."""

    def __init__(self, load_document):
        self._load_document = load_document
        self._lock = threading.RLock()
        self.doc: dict | None = None
        self.load_error: str | None = None
        self.ports: set[int] = set()
        self.templates: list[tuple[re.Pattern, tuple, str]] = []
        self.operations: dict[tuple[str, str], Operation] = {}
        self._match_cache: dict[str, str | None] = {}
        self.violations: list[str] = []
        self.covered: set[str] = set()
        self.checked = 0
        self.seconds = 0.0  # spent checking (the overhead of this plugin)
        self.log_path: str | None = None  # where violations are also appended as they happen
        self.current_test = ""

    # --- the document ---------------------------------------------------------------------

    def load(self) -> bool:
        with self._lock:
            if self.doc is not None or self.load_error is not None:
                return self.doc is not None
            try:
                doc = self._load_document()
            except Exception as e:  # noqa: BLE001 - reported as a violation of every test
                self.load_error = f"cannot load the OpenAPI document: {e}"
                return False
            resolver = jsonschema.RefResolver.from_schema(doc)
            self._resolver = resolver
            self._format_checker = format_checker()
            for template, item in doc["paths"].items():
                segments = template.strip("/").split("/")
                # Literal segments win over parameters, earlier ones first (/api/companies/batch
                # before /api/companies/{id}), as the router does.
                rank = tuple(1 if s.startswith("{") else 0 for s in segments)
                pattern = re.compile(
                    "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$")
                self.templates.append((pattern, rank, template))
                for method, op in item.items():
                    if method in METHODS:
                        self.operations[(method.upper(), template)] = Operation(method, template,
                                                                                op)
            self.templates.sort(key=lambda t: t[1])
            self.doc = doc
            return True

    def compile(self, schema: dict):
        cls = jsonschema.Draft202012Validator
        cls.check_schema(schema)
        return cls(schema, resolver=self._resolver, format_checker=self._format_checker)

    def template_of(self, path: str) -> str | None:
        if path in self._match_cache:
            return self._match_cache[path]
        found = None
        for pattern, _, template in self.templates:
            if pattern.match(path):
                found = template
                break
        if len(self._match_cache) < 100_000:
            self._match_cache[path] = found
        return found

    def documented_operations(self) -> list[str]:
        return sorted(op.key for op in self.operations.values())

    def success_statuses(self, key: str) -> list[str]:
        method, template = key.split(" ", 1)
        op = self.operations[(method, template)]
        return [s for s in op.responses if s.startswith("2")]

    # --- checks ---------------------------------------------------------------------------

    def watch(self, port: int):
        with self._lock:
            self.ports.add(port)

    def check(self, res: requests.Response, streamed: bool):
        req = res.request
        # Once per response and contract (a redirect's hops come back with the final answer).
        seen = res.__dict__.setdefault("_contract_checked_by", set())
        if req is None or id(self) in seen:
            return
        seen.add(id(self))
        url = urlsplit(req.url)
        if url.hostname not in ("127.0.0.1", "localhost", "::1") or url.port not in self.ports:
            return
        method = (req.method or "GET").upper()
        if method == "OPTIONS":
            return
        if not self.load():
            self._violate(self.load_error)
            return
        path = unquote(url.path or "/")
        template = self.template_of(path)
        if template is None:
            return  # not documented: /_test/*, hidden routes, unknown paths (404)
        where = f"{method} {url.path} ({template}) -> {res.status_code}"
        op = self.operations.get(("GET" if method == "HEAD" else method, template))
        if op is None:
            # A documented path with a method it does not have: the server must refuse it.
            if 200 <= res.status_code < 300:
                self._violate(f"{where}: the method is not documented for this path, yet the "
                              f"server answered {res.status_code}")
            elif res.status_code != 405 and res.status_code < 500:
                self._violate(f"{where}: an undocumented method should get 405")
            else:
                self._check_body(where, res, method, streamed, "error",
                                 {"application/json": {"schema": {
                                     "$ref": "#/components/schemas/Error"}}}, None)
            return
        doc = op.response_doc(res.status_code)
        if doc is None:
            documented = ", ".join(sorted(op.responses))
            self._violate(f"{where}: status {res.status_code} is not documented for "
                          f"{op.key} (documented: {documented}); body: {res_text(res, streamed)}")
            return
        ok = self._check_body(where, res, method, streamed, str(res.status_code),
                              doc.get("content"), op)
        if ok and 200 <= res.status_code < 300 and method != "HEAD":
            with self._lock:
                self.covered.add(f"{op.key} {res.status_code}")

    def _check_body(self, where, res, method, streamed, status_key, content, op) -> bool:
        with self._lock:
            self.checked += 1
        mt = media_type(res.headers.get("Content-Type"))
        if not content:
            if method != "HEAD" and not streamed and res.content:
                self._violate(f"{where}: the document declares no body, but the server sent "
                              f"{len(res.content)} bytes of {mt or 'no Content-Type'}: "
                              f"{res_text(res, streamed)}")
                return False
            return True
        media = content.get(mt)
        if media is None:
            for declared, m in content.items():
                declared = media_type(declared)
                if declared == mt:
                    media = m
                    break
                major, _, minor = declared.partition("/")
                if declared == "*/*" or (minor == "*" and mt.startswith(major + "/")):
                    media = m
                    break
        if media is None:
            self._violate(f"{where}: Content-Type {res.headers.get('Content-Type')!r} is not "
                          f"among the documented {sorted(content)}")
            return False
        schema = media.get("schema")
        if method == "HEAD" or streamed or schema is None or not is_json(mt):
            return True
        try:
            body = json.loads(res.content)
        except ValueError as e:
            self._violate(f"{where}: the body is not JSON ({e}): {res_text(res, streamed)}")
            return False
        if op is None:
            validator = self.compile(schema)
        else:
            validator = op.validator(self, status_key, mt, schema)
        error = jsonschema.exceptions.best_match(validator.iter_errors(body))
        if error is not None:
            at = "/".join(str(p) for p in error.absolute_path) or "(the body)"
            schema_at = "/".join(str(p) for p in error.absolute_schema_path)
            self._violate(f"{where}: the body does not match the documented schema at {at}: "
                          f"{error.message} (schema: {schema_at}); body: "
                          f"{res_text(res, streamed)}")
            return False
        return True

    def _violate(self, message: str):
        with self._lock:
            self.violations.append(message)
            if self.log_path:
                with open(self.log_path, "a", encoding="utf-8") as f:
                    f.write(f"{self.current_test}: {message}\n")

    def take_violations(self) -> list[str]:
        with self._lock:
            out, self.violations = self.violations, []
            return out


def res_text(res: requests.Response, streamed: bool) -> str:
    if streamed:
        return "(streamed)"
    text = res.content[:400]
    try:
        return repr(text.decode("utf-8"))
    except UnicodeDecodeError:
        return f"({len(res.content)} bytes)"


# --- the pytest plugin --------------------------------------------------------------------------

class ContractPlugin:
    def __init__(self, load_document):
        self.contract = Contract(load_document)
        # EVALD_CONTRACT_LOG=FILE: every violation of the suites is also written there at once.
        self.contract.log_path = os.environ.get("EVALD_CONTRACT_LOG")
        self.full_run = False
        self._deselected = False
        self._original_send = None

    # requests

    def install(self):
        original = requests.Session.send
        contract = self.contract

        @functools.wraps(original)
        def send(session, request, **kwargs):
            res = original(session, request, **kwargs)
            started = time.perf_counter()
            streamed = bool(kwargs.get("stream"))
            for r in [*res.history, res]:
                try:
                    contract.check(r, streamed and r is res)
                except Exception as e:  # noqa: BLE001 - a bug here must not hide as a pass
                    contract._violate(f"contract check crashed on {request.method} "
                                      f"{request.url}: {e!r}")
            contract.seconds += time.perf_counter() - started
            return res

        self._original_send = original
        requests.Session.send = send

    def uninstall(self):
        if self._original_send is not None:
            requests.Session.send = self._original_send
            self._original_send = None

    # pytest hooks

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, session, config, items):
        """A full run (the whole directory, nothing deselected) ends with the coverage test."""
        self.full_run = self._is_full_run(config) and not self._deselected
        last = [i for i in items if i.name == COVERAGE_TEST]
        if last:
            items[:] = [i for i in items if i.name != COVERAGE_TEST] + last

    @staticmethod
    def _is_full_run(config) -> bool:
        opt = config.option
        if getattr(opt, "keyword", "") or getattr(opt, "markexpr", "") or \
                getattr(opt, "deselect", None) or getattr(opt, "lf", False) or \
                getattr(opt, "exitfirst", False) or getattr(opt, "maxfail", 0):
            return False
        here = str(config.rootpath)
        from pathlib import Path
        args = [Path(a).resolve() for a in config.args] if config.args else [Path(here)]
        return all(str(a) == here for a in args)

    def pytest_deselected(self, items):
        self._deselected = True

    def _fail_on_violations(self, when: str, outcome):
        found = self.contract.take_violations()
        if not found:
            return
        shown = found[:MAX_REPORTED]
        more = f"\n... and {len(found) - MAX_REPORTED} more" if len(found) > MAX_REPORTED else ""
        message = (f"the server's answers break the OpenAPI document ({len(found)} during "
                   f"{when}):\n" + "\n".join("- " + v for v in shown) + more)
        earlier = outcome.excinfo[1] if outcome.excinfo else None
        if earlier is not None and not isinstance(earlier, AssertionError):
            raise AssertionError(message) from earlier
        if earlier is not None:
            raise AssertionError(f"{message}\n\nand the test failed: {earlier}") from earlier
        raise AssertionError(message)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_setup(self, item):
        self.contract.take_violations()  # whatever came between tests belongs to no test
        self.contract.current_test = item.nodeid
        outcome = yield
        self._fail_on_violations("setup", outcome)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        outcome = yield
        self._fail_on_violations("the test", outcome)

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item, nextitem):
        outcome = yield
        self._fail_on_violations("teardown", outcome)

    def pytest_terminal_summary(self, terminalreporter):
        c = self.contract
        if c.doc is None:
            return
        wanted = {f"{k} {s}" for k in c.documented_operations() for s in c.success_statuses(k)}
        terminalreporter.write_line(
            f"contract: {c.checked} answers checked against the OpenAPI document in "
            f"{c.seconds:.1f} s; "
            f"{len(wanted & c.covered)} of {len(wanted)} documented success answers seen")

    def pytest_unconfigure(self, config):
        self.uninstall()
