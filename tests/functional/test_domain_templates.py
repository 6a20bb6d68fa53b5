"""Evaluation templates (docs/DOMAIN.md, "Templates"), on SQLite and PostgreSQL: create (a draft),
read with ordered items, the filters and cursor paging of the list, PATCH (a draft changes its
items; an active template goes back to draft; archived is frozen), activate, archive, copy
(version + 1, parent_id, items copied), delete, Korean text, every bad-input case (malformed
JSON, wrong types, missing and unknown fields, limits, bodies over MAX_BODY_BYTES), unknown and
malformed ids, and roles. Every refused request is shown to leave the database as it was.

What sheets do to a template (frozen once a submitted sheet uses it, no deletion while sheets
use it) is in test_domain_evaluations.py, which builds sheets through the assignment API.

One server per engine for the whole module; every test makes its own templates. The helpers
here (World, make_world, assert_err, ...) are shared with test_domain_evaluations.py.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
import requests

pytest.register_assert_rewrite("authkit")

from authkit import ISO_Z, Login, Stack, describe, unique
from conftest import _psql
from rawhttp import Conn

pytest_plugins = ["authkit"]

MAX_BODY = 1_048_576  # MAX_BODY_BYTES of this module's servers
ISO_MS = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"
KOREAN = "한국 평가 주식회사"
TEMPLATE_KEYS = {"id", "name", "description", "project_id", "status", "version", "parent_id",
                 "items", "created_by", "created_at", "updated_at"}
ITEM_KEYS = {"id", "name", "description", "min_score", "max_score", "weight", "is_required",
             "category", "bonus", "order"}
ERRORS = {  # API.md: error_code -> (category, severity)
    "VALIDATION_ERROR": ("validation", "medium"),
    "AUTH_FAILED": ("authentication", "medium"),
    "INSUFFICIENT_PERMISSIONS": ("authorization", "medium"),
    "NOT_FOUND": ("business_logic", "low"),
    "CONFLICT": ("business_logic", "medium"),
    "PAYLOAD_TOO_LARGE": ("validation", "medium"),
    "BUSINESS_LOGIC_ERROR": ("business_logic", "medium"),
}
NOT_UUIDS = ["nope", "12345", "0b9f8c1e4a524a8e9d1f2f3c4d5e6f70", "' OR '1'='1", "%20"]


# --- registration numbers, computed independently of evald ------------------------------------

def check_digit(nine: str) -> str:
    """Korean business registration number: weights 1,3,7,1,3,7,1,3,5 plus (d9 * 5) // 10."""
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(int(d) * w for d, w in zip(nine, weights)) + int(nine[8]) * 5 // 10
    return str((10 - total % 10) % 10)


def test_check_digit_agrees_with_published_numbers():
    for n in ("220-81-62517", "124-81-00998", "120-81-47521"):
        d = n.replace("-", "")
        assert check_digit(d[:9]) == d[9], n
    # an example once suggested for these tests: its check digit is wrong (2, not 5)
    assert check_digit("211862150") == "2"


_numbers = iter(range(10_000_000, 99_999_999))


def reg_number() -> str:
    nine = "6" + str(next(_numbers))
    d = nine + check_digit(nine)
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


# --- the world -------------------------------------------------------------------------------

@dataclass
class World:
    st: Stack
    engine: str
    url: str
    admin: Login
    sec: Login
    sec2: Login
    ev: Login
    ev2: Login
    extra: dict = field(default_factory=dict)

    def call(self, method, path, who=None, **kw) -> requests.Response:
        who = self.sec if who is None else who
        return self.st.call(method, path, who.token if who else None, **kw)

    # projects and companies (another part of evald, used as it is)
    def project(self, **fields) -> dict:
        res = self.call("POST", "/api/projects", json={"name": unique("프로젝트 ")} | fields)
        assert res.status_code == 201, describe(res)
        return res.json()

    def company(self, project_id, **fields) -> dict:
        body = {"name": unique(KOREAN + " "), "registration_number": reg_number()} | fields
        res = self.call("POST", f"/api/projects/{project_id}/companies", json=body)
        assert res.status_code == 201, describe(res)
        return res.json()

    # templates
    def template(self, items=None, activate=False, who=None, **fields) -> dict:
        body = {"name": unique("평가표 "),
                "items": items if items is not None else [
                    {"name": "사업성", "min_score": 0, "max_score": 10}]} | fields
        res = self.call("POST", "/api/templates", who, json=body)
        assert res.status_code == 201, describe(res)
        t = res.json()
        if activate:
            res = self.call("POST", f"/api/templates/{t['id']}/activate", who)
            assert res.status_code == 200, describe(res)
            t = res.json()
        return t

    def get_template(self, tid) -> dict:
        res = self.call("GET", f"/api/templates/{tid}")
        assert res.status_code == 200, describe(res)
        return res.json()

    def all_pages(self, path, who=None, **params) -> list[dict]:
        items, cursor = [], None
        for _ in range(500):
            q = dict(params, limit=200)
            if cursor:
                q["cursor"] = cursor
            res = self.call("GET", path + "?" + urlencode(q), who)
            assert res.status_code == 200, describe(res)
            body = res.json()
            assert set(body) == {"items", "next_cursor"}, body
            items += body["items"]
            cursor = body["next_cursor"]
            if not cursor:
                return items
        raise AssertionError("paging did not end")

    def templates(self, **params) -> list[dict]:
        return self.all_pages("/api/templates", **params)

    def template_count(self) -> int:
        return len(self.templates())

    # straight into the database (only values this file makes)
    def sql(self, statement: str):
        if self.engine == "sqlite":
            con = sqlite3.connect(self.url[len("sqlite://"):], timeout=10)
            try:
                con.execute(statement)
                con.commit()
            finally:
                con.close()
        else:
            _psql(self.url, statement)

    def scalar(self, statement: str) -> str:
        if self.engine == "sqlite":
            con = sqlite3.connect(f"file:{self.url[len('sqlite://'):]}?mode=ro", uri=True,
                                  timeout=10)
            try:
                return str(con.execute(statement).fetchone()[0])
            finally:
                con.close()
        return _psql(self.url, statement).strip()

    def raw_too_large(self, method: str, path: str, who: Login) -> None:
        """A body one byte over MAX_BODY_BYTES: 413 PAYLOAD_TOO_LARGE."""
        with Conn(self.st.server.port, timeout=10) as conn:
            head = (f"{method} {path} HTTP/1.1\r\nHost: x\r\n"
                    f"Authorization: Bearer {who.token}\r\nContent-Type: application/json\r\n"
                    f"Content-Length: {MAX_BODY + 1}\r\n\r\n").encode()
            try:
                conn.send(head + b"{" + b" " * (MAX_BODY - 1) + b"}")
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may answer and close before reading it all
            res = conn.read_response()
        assert res.status == 413, res
        body = res.json()
        assert body["error_code"] == "PAYLOAD_TOO_LARGE", res


def make_world(request, module_evald, tmp_path_factory, tag: str) -> World:
    d = tmp_path_factory.mktemp(f"{tag}-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite://{d}/{tag}.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_{tag}_{unique('m')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    st = Stack(module_evald, url, d, MAX_BODY_BYTES=MAX_BODY)
    accounts = [st.create_user(role) for role in
                ("secretary", "secretary", "evaluator", "evaluator")]
    logins = [st.login(a) for a in accounts]
    return World(st, request.param, url, st.login(st.admin), *logins)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def w(request, module_evald, tmp_path_factory) -> World:
    return make_world(request, module_evald, tmp_path_factory, "templates")


# --- assertions ------------------------------------------------------------------------------

def assert_err(res: requests.Response, status: int, code: str) -> dict:
    assert res.status_code == status, describe(res)
    assert (res.headers.get("Content-Type") or "").startswith("application/json"), describe(res)
    body = res.json()
    assert body["error"] is True and body["error_code"] == code, describe(res)
    assert (body["category"], body["severity"]) == ERRORS[code], describe(res)
    assert isinstance(body["details"], list) and body["message"], describe(res)
    assert ISO_Z.match(body["timestamp"]), describe(res)
    assert res.headers.get("X-Request-ID") == body["request_id"], describe(res)
    return body


def details(body: dict) -> dict[str, str]:
    """field -> code of an error body's details."""
    return {d["field"]: d["code"] for d in body["details"]}


def assert_400(res, *expected: tuple[str, str]) -> dict:
    body = assert_err(res, 400, "VALIDATION_ERROR")
    got = details(body)
    for fld, code in expected:
        assert got.get(fld) == code, f"expected {fld}={code} in {got}: {describe(res)}"
    return body


def assert_template(t: dict):
    assert set(t) == TEMPLATE_KEYS, t
    uuid.UUID(t["id"])
    assert t["status"] in ("draft", "active", "archived")
    assert re.match(ISO_MS, t["created_at"]) and re.match(ISO_MS, t["updated_at"]), t
    assert [i["order"] for i in t["items"]] == list(range(1, len(t["items"]) + 1)), t
    for i in t["items"]:
        assert set(i) == ITEM_KEYS, i
        uuid.UUID(i["id"])


def malformed_bodies():
    return [("{\"name\": ", "application/json"), ("[1, 2]", "application/json"),
            ("\"text\"", "application/json"), ("", "application/json"),
            ("{\"name\":\"x\"}", "text/plain"), ("name=x", None),
            ("{\"a\":1}{", "application/json")]


def send_raw(w: World, method: str, path: str, data: str, ctype: str | None, who=None):
    headers = {"Content-Type": ctype} if ctype else {}
    return w.call(method, path, who, data=data.encode(), headers=headers)


ITEMS3 = [
    {"name": "사업성", "description": "시장 규모와 수익 모델", "min_score": 0, "max_score": 30,
     "weight": 2, "is_required": True, "category": "사업", "bonus": False},
    {"name": "기술성", "min_score": 0, "max_score": 20.5},
    {"name": "가점: 지역 기업", "min_score": 0, "max_score": 5, "weight": 0.5,
     "is_required": False, "bonus": True},
]


# --- create and read -------------------------------------------------------------------------

def test_create_round_trips_korean_and_every_field(w):
    p = w.project()
    body = {"name": "2026 " + KOREAN + " 창업 지원 평가표", "description": "서면 평가\n발표 평가 ✓",
            "project_id": p["id"], "items": ITEMS3}
    res = w.call("POST", "/api/templates", json=body)
    assert res.status_code == 201, describe(res)
    t = res.json()
    assert_template(t)
    assert (t["name"], t["description"], t["project_id"]) == (body["name"], body["description"],
                                                               p["id"])
    assert (t["status"], t["version"], t["parent_id"]) == ("draft", 1, None)
    assert t["created_by"] == w.sec.user_id
    assert t["created_at"] == t["updated_at"]
    got = [{k: v for k, v in i.items() if k not in ("id", "order")} for i in t["items"]]
    assert got == [
        ITEMS3[0],
        {"name": "기술성", "description": None, "min_score": 0, "max_score": 20.5, "weight": 1,
         "is_required": True, "category": None, "bonus": False},
        {"name": "가점: 지역 기업", "description": None, "min_score": 0, "max_score": 5,
         "weight": 0.5, "is_required": False, "category": None, "bonus": True},
    ]
    assert len({i["id"] for i in t["items"]}) == 3
    assert w.get_template(t["id"]) == t
    assert w.call("GET", f"/api/templates/{t['id']}", w.admin).json() == t
    assert w.call("GET", f"/api/templates/{t['id']}", w.sec2).json() == t


def test_items_keep_the_order_given(w):
    names = [f"항목 {n}" for n in (5, 1, 4, 2, 3)]
    t = w.template(items=[{"name": n, "min_score": 1, "max_score": 2} for n in names])
    assert [i["name"] for i in w.get_template(t["id"])["items"]] == names
    assert [i["order"] for i in t["items"]] == [1, 2, 3, 4, 5]


def test_a_hundred_items_is_the_limit(w):
    items = [{"name": f"i{n}", "min_score": 0, "max_score": 1000} for n in range(100)]
    t = w.template(items=items)
    assert len(t["items"]) == 100
    before = w.template_count()
    assert_400(w.call("POST", "/api/templates", json={"name": "x", "items": items + items[:1]}),
               ("items", "value_error.list.max_items"))
    assert w.template_count() == before


BAD_CREATE = [
    ({"items": [{"name": "a", "min_score": 0, "max_score": 1}]}, [("name", "value_error.missing")]),
    ({"name": "", "items": []}, [("name", "value_error.min_length"),
                                 ("items", "value_error.list.min_items")]),
    ({"name": "x" * 201}, [("name", "value_error.max_length"), ("items", "value_error.missing")]),
    ({"name": 5, "items": "a"}, [("name", "type_error.str"), ("items", "type_error.list")]),
    ({"name": "t", "items": None}, [("items", "value_error.missing")]),
    ({"name": "t", "items": [3]}, [("items[0]", "type_error.dict")]),
    ({"name": "t", "items": [{}]}, [("items[0].name", "value_error.missing"),
                                    ("items[0].min_score", "value_error.missing"),
                                    ("items[0].max_score", "value_error.missing")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 5, "max_score": 5}]},
     [("items[0].max_score", "value_error.max_score")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 9, "max_score": 3}]},
     [("items[0].max_score", "value_error.max_score")]),
    ({"name": "t", "items": [{"name": "a", "min_score": -1, "max_score": 1001}]},
     [("items[0].min_score", "value_error.number.range"),
      ("items[0].max_score", "value_error.number.range")]),
    ({"name": "t", "items": [{"name": "a", "min_score": "0", "max_score": True}]},
     [("items[0].min_score", "type_error.number"), ("items[0].max_score", "type_error.number")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 0, "max_score": 1, "weight": 101}]},
     [("items[0].weight", "value_error.number.range")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 0, "max_score": 1, "weight": -0.5}]},
     [("items[0].weight", "value_error.number.range")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 0, "max_score": 1, "is_required": "yes",
                              "bonus": 1}]},
     [("items[0].is_required", "type_error.bool"), ("items[0].bonus", "type_error.bool")]),
    ({"name": "t", "items": [{"name": "a" * 201, "min_score": 0, "max_score": 1,
                              "category": "c" * 101, "description": "d" * 2001}]},
     [("items[0].name", "value_error.max_length"), ("items[0].category", "value_error.max_length"),
      ("items[0].description", "value_error.max_length")]),
    ({"name": "t", "items": [{"name": "a", "min_score": 0, "max_score": 1, "order": 1}]},
     [("items[0].order", "value_error.extra")]),
    ({"name": "t", "statuss": "active", "items": [{"name": "a", "min_score": 0, "max_score": 1}]},
     [("statuss", "value_error.extra")]),
    ({"name": "t", "project_id": "not-a-uuid",
      "items": [{"name": "a", "min_score": 0, "max_score": 1}]},
     [("project_id", "value_error.uuid")]),
    ({"name": "t", "project_id": 7, "items": [{"name": "a", "min_score": 0, "max_score": 1}]},
     [("project_id", "type_error.str")]),
    ({"name": "t", "description": "d" * 2001,
      "items": [{"name": "a", "min_score": 0, "max_score": 1}]},
     [("description", "value_error.max_length")]),
]


@pytest.mark.parametrize("body,expected", BAD_CREATE)
def test_create_rejects_bad_fields_and_writes_nothing(w, body, expected):
    before = w.template_count()
    assert_400(w.call("POST", "/api/templates", json=body), *expected)
    assert w.template_count() == before


def test_every_problem_in_one_answer(w):
    res = w.call("POST", "/api/templates", json={
        "name": "", "description": 3, "extra": 1,
        "items": [{"name": "ok", "min_score": 0, "max_score": 1},
                  {"name": "", "min_score": 2, "max_score": 1, "weight": "w", "x": 0}]})
    body = assert_400(res)
    assert details(body) == {
        "name": "value_error.min_length", "description": "type_error.str",
        "extra": "value_error.extra", "items[1].name": "value_error.min_length",
        "items[1].weight": "type_error.number", "items[1].x": "value_error.extra"}


def test_an_unknown_project_is_422(w):
    before = w.template_count()
    body = assert_err(w.call("POST", "/api/templates", json={
        "name": "t", "project_id": str(uuid.uuid4()),
        "items": [{"name": "a", "min_score": 0, "max_score": 1}]}), 422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"project_id": "value_error.project_id"}
    assert w.template_count() == before


def test_invalid_utf8_is_refused(w):
    raw = b'{"name": "\xff\xfe", "items": [{"name": "a", "min_score": 0, "max_score": 1}]}'
    res = w.call("POST", "/api/templates", data=raw, headers={"Content-Type": "application/json"})
    assert_err(res, 400, "VALIDATION_ERROR")


# --- the list --------------------------------------------------------------------------------

def test_list_filters_search_and_paging(w):
    marker = unique("MarK-")
    p = w.project()
    a = w.template(name=f"{marker} 가 Alpha")
    b = w.template(name=f"{marker} 나 beta", project_id=p["id"], activate=True)
    c = w.template(name=f"{marker} 다 100%_done")
    d = w.template(name=f"{marker} 라 gamma", project_id=p["id"])
    ids = lambda items: [t["id"] for t in items]  # noqa: E731
    # newest first; search is case-insensitive and takes % and _ literally
    assert ids(w.templates(search=marker)) == [d["id"], c["id"], b["id"], a["id"]]
    assert ids(w.templates(search=marker.upper())) == ids(w.templates(search=marker.lower()))
    assert ids(w.templates(search=marker + " 다 100%_")) == [c["id"]]
    assert ids(w.templates(search=marker + " % ")) == []
    assert ids(w.templates(search=f"{marker} 나")) == [b["id"]]
    assert ids(w.templates(search=marker, status="active")) == [b["id"]]
    assert ids(w.templates(search=marker, status="draft")) == [d["id"], c["id"], a["id"]]
    assert ids(w.templates(project_id=p["id"])) == [d["id"], b["id"]]
    assert ids(w.templates(project_id=p["id"], status="archived")) == []
    # the list carries the same objects as GET, items included
    assert w.templates(search=f"{marker} 나") == [w.get_template(b["id"])]
    # paging two at a time walks everything once, newest first
    seen, cursor = [], None
    for _ in range(10):
        q = {"search": marker, "limit": 2} | ({"cursor": cursor} if cursor else {})
        res = w.call("GET", "/api/templates?" + urlencode(q))
        assert res.status_code == 200, describe(res)
        page = res.json()
        assert len(page["items"]) <= 2
        seen += ids(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == [d["id"], c["id"], b["id"], a["id"]]


@pytest.mark.parametrize("query,fld", [
    ("status=bogus", "status"), ("status=", "status"), ("project_id=abc", "project_id"),
    ("limit=0", "limit"), ("limit=201", "limit"), ("limit=x", "limit"), ("cursor=%%%", "cursor"),
    ("search=" + "x" * 101, "search"),
])
def test_bad_list_queries_are_400(w, query, fld):
    body = assert_err(w.call("GET", "/api/templates?" + query), 400, "VALIDATION_ERROR")
    assert fld in details(body), body


# --- ids, roles, bodies ----------------------------------------------------------------------

def template_endpoints(tid: str):
    return [("GET", f"/api/templates/{tid}", None), ("PATCH", f"/api/templates/{tid}",
                                                     {"name": "x"}),
            ("DELETE", f"/api/templates/{tid}", None),
            ("POST", f"/api/templates/{tid}/activate", None),
            ("POST", f"/api/templates/{tid}/archive", None),
            ("POST", f"/api/templates/{tid}/copy", {})]


def test_unknown_and_malformed_ids_are_404(w):
    before = w.template_count()
    for tid in [str(uuid.uuid4())] + NOT_UUIDS:
        for method, path, body in template_endpoints(tid):
            kw = {"json": body} if body is not None else {}
            assert_err(w.call(method, path, **kw), 404, "NOT_FOUND")
    assert w.template_count() == before


def test_evaluators_and_strangers_may_not_touch_templates(w):
    t = w.template()
    before = w.template_count()
    calls = [("GET", "/api/templates", None),
             ("POST", "/api/templates", {"name": "x", "items": [
                 {"name": "a", "min_score": 0, "max_score": 1}]})] + template_endpoints(t["id"])
    for method, path, body in calls:
        kw = {"json": body} if body is not None else {}
        assert_err(w.call(method, path, w.ev, **kw), 403, "INSUFFICIENT_PERMISSIONS")
        assert_err(w.st.call(method, path, None, **kw), 401, "AUTH_FAILED")
    assert w.template_count() == before
    assert w.get_template(t["id"]) == t
    # admins may do what secretaries do
    assert w.call("GET", f"/api/templates/{t['id']}", w.admin).status_code == 200
    assert w.template(who=w.admin)["created_by"] == w.admin.user_id


def test_malformed_bodies_are_400_and_change_nothing(w):
    t = w.template()
    before = w.template_count()
    for method, path in (("POST", "/api/templates"), ("PATCH", f"/api/templates/{t['id']}"),
                         ("POST", f"/api/templates/{t['id']}/copy")):
        for data, ctype in malformed_bodies():
            if path.endswith("/copy") and data == "":
                continue  # copy takes an optional body
            res = send_raw(w, method, path, data, ctype)
            assert_err(res, 400, "VALIDATION_ERROR")
    assert w.template_count() == before
    assert w.get_template(t["id"]) == t


def test_bodies_over_max_body_bytes_are_413(w):
    t = w.template()
    before = w.template_count()
    for method, path in (("POST", "/api/templates"), ("PATCH", f"/api/templates/{t['id']}"),
                         ("POST", f"/api/templates/{t['id']}/copy")):
        w.raw_too_large(method, path, w.sec)
    assert w.template_count() == before
    assert w.get_template(t["id"]) == t


# --- PATCH -----------------------------------------------------------------------------------

def test_patch_a_draft_changes_only_what_is_given(w):
    p = w.project()
    t = w.template(items=ITEMS3, description="처음 설명", project_id=p["id"])
    res = w.call("PATCH", f"/api/templates/{t['id']}", json={"name": "바뀐 이름 " + KOREAN})
    assert res.status_code == 200, describe(res)
    u = res.json()
    assert_template(u)
    assert u["name"] == "바뀐 이름 " + KOREAN
    assert {k: v for k, v in u.items() if k not in ("name", "updated_at")} == \
        {k: v for k, v in t.items() if k not in ("name", "updated_at")}
    assert u["updated_at"] >= t["updated_at"]
    # null clears the optional texts
    res = w.call("PATCH", f"/api/templates/{t['id']}", json={"description": None,
                                                             "project_id": None})
    assert res.status_code == 200, describe(res)
    assert (res.json()["description"], res.json()["project_id"]) == (None, None)
    # items replace the whole list, in the new order, with new ids
    new_items = [{"name": "새 항목 B", "min_score": 1, "max_score": 9, "weight": 3},
                 {"name": "새 항목 A", "min_score": 0, "max_score": 100, "is_required": False}]
    res = w.call("PATCH", f"/api/templates/{t['id']}", json={"items": new_items})
    assert res.status_code == 200, describe(res)
    v = res.json()
    assert_template(v)
    assert [(i["name"], i["min_score"], i["max_score"], i["weight"], i["is_required"])
            for i in v["items"]] == [("새 항목 B", 1, 9, 3, True), ("새 항목 A", 0, 100, 1, False)]
    assert not {i["id"] for i in v["items"]} & {i["id"] for i in t["items"]}
    assert (v["status"], v["version"]) == ("draft", 1)
    assert w.get_template(t["id"]) == v
    # an empty PATCH changes nothing
    res = w.call("PATCH", f"/api/templates/{t['id']}", json={})
    assert res.status_code == 200 and res.json()["items"] == v["items"], describe(res)


BAD_PATCH = [
    ({"name": ""}, [("name", "value_error.min_length")]),
    ({"name": None}, [("name", "value_error.missing")]),
    ({"items": []}, [("items", "value_error.list.min_items")]),
    ({"items": None}, [("items", "value_error.missing")]),
    ({"items": [{"name": "a", "min_score": 3, "max_score": 2}]},
     [("items[0].max_score", "value_error.max_score")]),
    ({"status": "active"}, [("status", "value_error.enum")]),
    ({"status": "archived"}, [("status", "value_error.enum")]),
    ({"status": None}, [("status", "value_error.enum")]),
    ({"version": 2}, [("version", "value_error.extra")]),
    ({"project_id": "x"}, [("project_id", "value_error.uuid")]),
    ({"description": ["a"]}, [("description", "type_error.str")]),
]


@pytest.mark.parametrize("body,expected", BAD_PATCH)
def test_patch_rejects_bad_fields_and_changes_nothing(w, body, expected):
    t = w.template(items=ITEMS3)
    assert_400(w.call("PATCH", f"/api/templates/{t['id']}", json=body | {"description": "바뀜"}
                      if "description" not in body else body), *expected)
    assert w.get_template(t["id"]) == t


def test_patch_to_an_unknown_project_is_422_and_changes_nothing(w):
    t = w.template()
    body = assert_err(w.call("PATCH", f"/api/templates/{t['id']}",
                             json={"name": "changed", "project_id": str(uuid.uuid4())}),
                      422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"project_id": "value_error.project_id"}
    assert w.get_template(t["id"]) == t


# --- lifecycle -------------------------------------------------------------------------------

def test_lifecycle_draft_active_draft_active_archived(w):
    t = w.template(items=ITEMS3)
    tid = t["id"]
    # draft -> active
    res = w.call("POST", f"/api/templates/{tid}/activate")
    assert res.status_code == 200, describe(res)
    a = res.json()
    assert (a["status"], a["version"], a["items"]) == ("active", 1, t["items"])
    assert_err(w.call("POST", f"/api/templates/{tid}/activate"), 422, "BUSINESS_LOGIC_ERROR")
    # an active template's items change only together with going back to draft
    new_items = [{"name": "하나뿐", "min_score": 0, "max_score": 50}]
    body = assert_err(w.call("PATCH", f"/api/templates/{tid}", json={"items": new_items}),
                      422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"items": "value_error.template_status"}
    assert w.get_template(tid) == a
    # unused, so its name may change while active
    res = w.call("PATCH", f"/api/templates/{tid}", json={"name": "활성 이름"})
    assert res.status_code == 200 and res.json()["status"] == "active", describe(res)
    # back to draft with new items in one request
    res = w.call("PATCH", f"/api/templates/{tid}", json={"status": "draft", "items": new_items})
    assert res.status_code == 200, describe(res)
    d = res.json()
    assert (d["status"], d["name"], [i["name"] for i in d["items"]]) == \
        ("draft", "활성 이름", ["하나뿐"])
    # and active again, then archived
    assert w.call("POST", f"/api/templates/{tid}/activate").json()["status"] == "active"
    res = w.call("POST", f"/api/templates/{tid}/archive")
    assert res.status_code == 200, describe(res)
    z = res.json()
    assert z["status"] == "archived"
    # archived is frozen: no change, no activation, no second archive, not back to draft
    for method, path, body in (("PATCH", f"/api/templates/{tid}", {"name": "x"}),
                               ("PATCH", f"/api/templates/{tid}", {"status": "draft"}),
                               ("PATCH", f"/api/templates/{tid}", {"items": new_items}),
                               ("POST", f"/api/templates/{tid}/activate", None),
                               ("POST", f"/api/templates/{tid}/archive", None)):
        kw = {"json": body} if body is not None else {}
        assert_err(w.call(method, path, **kw), 422, "BUSINESS_LOGIC_ERROR")
    assert w.get_template(tid) == z


def test_a_draft_may_be_archived(w):
    t = w.template()
    res = w.call("POST", f"/api/templates/{t['id']}/archive")
    assert res.status_code == 200 and res.json()["status"] == "archived", describe(res)


def test_activate_and_archive_ignore_a_body(w):
    t = w.template()
    res = w.call("POST", f"/api/templates/{t['id']}/activate", json={"anything": 1})
    assert res.status_code == 200 and res.json()["status"] == "active", describe(res)


# --- copy ------------------------------------------------------------------------------------

def test_copy_makes_a_new_draft_with_the_next_version(w):
    p = w.project()
    t = w.template(items=ITEMS3, description="원본", project_id=p["id"], activate=True)
    res = w.call("POST", f"/api/templates/{t['id']}/copy")
    assert res.status_code == 201, describe(res)
    c = res.json()
    assert_template(c)
    assert c["id"] != t["id"]
    assert (c["status"], c["version"], c["parent_id"]) == ("draft", 2, t["id"])
    assert (c["name"], c["description"], c["project_id"]) == (t["name"], "원본", p["id"])
    assert c["created_by"] == w.sec.user_id
    strip = lambda items: [{k: v for k, v in i.items() if k != "id"} for i in items]  # noqa: E731
    assert strip(c["items"]) == strip(t["items"])
    assert not {i["id"] for i in c["items"]} & {i["id"] for i in t["items"]}
    assert w.get_template(t["id"]) == t  # the source is untouched
    # a copy of the copy, by an admin, with overrides
    res = w.call("POST", f"/api/templates/{c['id']}/copy", w.admin,
                 json={"name": "개정판 " + KOREAN, "project_id": None})
    assert res.status_code == 201, describe(res)
    cc = res.json()
    assert (cc["version"], cc["parent_id"], cc["name"], cc["project_id"], cc["created_by"]) == \
        (3, c["id"], "개정판 " + KOREAN, None, w.admin.user_id)
    # the copy is an independent draft: its items change, the source's do not
    res = w.call("PATCH", f"/api/templates/{c['id']}",
                 json={"items": [{"name": "x", "min_score": 0, "max_score": 1}]})
    assert res.status_code == 200, describe(res)
    assert w.get_template(t["id"]) == t


def test_copy_of_an_archived_template_works(w):
    t = w.template(activate=True)
    w.call("POST", f"/api/templates/{t['id']}/archive")
    res = w.call("POST", f"/api/templates/{t['id']}/copy", json={"name": "되살린 평가표"})
    assert res.status_code == 201 and res.json()["status"] == "draft", describe(res)


@pytest.mark.parametrize("body,expected", [
    ({"name": ""}, [("name", "value_error.min_length")]),
    ({"name": 1}, [("name", "type_error.str")]),
    ({"project_id": "x"}, [("project_id", "value_error.uuid")]),
    ({"items": []}, [("items", "value_error.extra")]),
])
def test_copy_rejects_bad_bodies_and_writes_nothing(w, body, expected):
    t = w.template()
    before = w.template_count()
    assert_400(w.call("POST", f"/api/templates/{t['id']}/copy", json=body), *expected)
    assert w.template_count() == before


def test_copy_into_an_unknown_project_is_422(w):
    t = w.template()
    before = w.template_count()
    assert_err(w.call("POST", f"/api/templates/{t['id']}/copy",
                      json={"project_id": str(uuid.uuid4())}), 422, "BUSINESS_LOGIC_ERROR")
    assert w.template_count() == before


# --- delete ----------------------------------------------------------------------------------

def test_delete_an_unused_template(w):
    for activate in (False, True):
        t = w.template(items=ITEMS3, activate=activate)
        res = w.call("DELETE", f"/api/templates/{t['id']}")
        assert res.status_code == 204 and res.content == b"", describe(res)
        assert_err(w.call("GET", f"/api/templates/{t['id']}"), 404, "NOT_FOUND")
        assert_err(w.call("DELETE", f"/api/templates/{t['id']}"), 404, "NOT_FOUND")
        assert t["id"] not in {x["id"] for x in w.templates()}
        n = w.scalar(f"SELECT COUNT(*) FROM template_items WHERE template_id = '{t['id']}'")
        assert n == "0"
