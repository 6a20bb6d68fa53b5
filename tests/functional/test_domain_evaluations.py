"""Assignments and evaluation sheets (docs/DOMAIN.md, "Assignments", "Evaluation sheets"), on SQLite
and PostgreSQL: assigning (single and batch, all or nothing, per-pair details, 422 for what does
not fit, 409 for what exists), the list and who sees what, deadlines (the project's by default,
any offset, changed by staff), withdrawal, and the scoring flow assign -> drafts -> submit ->
read-only -> reopen -> resubmit -> review, with the total and weighted scores checked against
this file's own computation; optimistic concurrency (two clients racing: exactly one wins);
out-of-range scores, unknown items, missing required items, late submission (deadlines set in
the past explicitly, never by waiting), other evaluators' sheets (404), wrong roles (403), and
every bad-input case. Refused requests are shown to leave the database as it was.

Also here: what sheets do to templates (frozen once a submitted sheet uses one; no deletion
while sheets use one; back to draft while only drafts use one).
"""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

import pytest
import requests

pytest.register_assert_rewrite("authkit", "test_domain_templates")

from authkit import Login, describe, unique
from test_domain_templates import (KOREAN, NOT_UUIDS, World, assert_400, assert_err, details,
                                   make_world, malformed_bodies, reg_number, send_raw)

pytest_plugins = ["authkit"]

SHEET_KEYS = {"id", "project_id", "evaluator_id", "company_id", "template_id", "status",
              "deadline", "total_score", "weighted_score", "version", "submitted_at",
              "reviewed_at", "opinion", "created_at", "updated_at"}
VIEW_KEYS = {"sheet", "company", "template", "scores", "version"}

FUTURE = "2099-12-31T23:59:59.000Z"
PAST = "2001-01-01T00:00:00.000Z"


def iso_ms(t: datetime) -> str:
    return t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{t.microsecond // 1000:03d}Z"


def expected_scores(items: list[dict], scores: dict[str, float]) -> tuple[float, float | None]:
    """DOMAIN.md: total = sum of the scores; weighted = sum(score/max*weight)/sum(weight)*100
    over the scored items."""
    total = sum(scores.values())
    num = sum(scores[i["id"]] / i["max_score"] * i["weight"] for i in items if i["id"] in scores)
    den = sum(i["weight"] for i in items if i["id"] in scores)
    return total, (num / den * 100 if den else None)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def w(request, module_evald, tmp_path_factory) -> World:
    world = make_world(request, module_evald, tmp_path_factory, "evaluations")
    # an evaluator whose account is deactivated (straight into the database)
    inactive = world.st.create_user("evaluator")
    world.extra["inactive"] = world.st.login(inactive)
    world.sql(f"UPDATE users SET is_active = 0 WHERE id = '{world.extra['inactive'].user_id}'")
    return world


# --- helpers ---------------------------------------------------------------------------------

ITEMS = [
    {"name": "사업성", "min_score": 0, "max_score": 30, "weight": 2, "category": "사업"},
    {"name": "기술성", "min_score": 0, "max_score": 20, "weight": 1.5},
    {"name": "발표", "min_score": 1, "max_score": 10, "weight": 1},
    {"name": "가점", "min_score": 0, "max_score": 5, "weight": 0.5, "is_required": False,
     "bonus": True},
]


def setup_sheet(w: World, evaluator: Login | None = None, items=None, deadline=FUTURE,
                **project_fields):
    """A project with a company, an active template and an assignment: (project, company,
    template, sheet)."""
    p = w.project(**project_fields)
    c = w.company(p["id"])
    t = w.template(items=items or ITEMS, activate=True)
    body = {"project_id": p["id"], "evaluator_id": (evaluator or w.ev).user_id,
            "company_id": c["id"], "template_id": t["id"]}
    if deadline is not None:
        body["deadline"] = deadline
    res = w.call("POST", "/api/assignments", json=body)
    assert res.status_code == 201, describe(res)
    return p, c, t, res.json()


def view(w: World, sheet_id: str, who=None) -> dict:
    res = w.call("GET", f"/api/evaluations/{sheet_id}", who or w.ev)
    assert res.status_code == 200, describe(res)
    return res.json()


def save(w: World, sheet_id: str, version: int, scores: list[dict], who=None, **extra):
    return w.call("PUT", f"/api/evaluations/{sheet_id}", who or w.ev,
                  json={"version": version, "scores": scores} | extra)


def submit(w: World, sheet_id: str, version: int, who=None):
    return w.call("POST", f"/api/evaluations/{sheet_id}/submit", who or w.ev,
                  json={"version": version})


def full_scores(t: dict, values=(27, 15, 8, 4)) -> list[dict]:
    return [{"item_id": i["id"], "score": v} for i, v in zip(t["items"], values)]


def assignments(w: World, who=None, **params) -> list[dict]:
    return w.all_pages("/api/assignments", who, **params)


def assert_sheet(s: dict):
    assert set(s) - {"scores"} == SHEET_KEYS, s
    uuid.UUID(s["id"])
    assert s["status"] in ("assigned", "in_progress", "submitted", "reviewed")


# --- assignments -----------------------------------------------------------------------------

def test_assign_defaults_to_the_projects_deadline(w):
    p = w.project(deadline="2030-01-01T09:00:00+09:00")
    c = w.company(p["id"])
    t = w.template(activate=True)
    res = w.call("POST", "/api/assignments", json={
        "project_id": p["id"], "evaluator_id": w.ev.user_id, "company_id": c["id"],
        "template_id": t["id"]})
    assert res.status_code == 201, describe(res)
    s = res.json()
    assert_sheet(s)
    assert (s["project_id"], s["evaluator_id"], s["company_id"], s["template_id"]) == \
        (p["id"], w.ev.user_id, c["id"], t["id"])
    assert (s["status"], s["version"], s["deadline"]) == ("assigned", 1,
                                                          "2030-01-01T00:00:00.000Z")
    assert s["deadline"] == p["deadline"]
    assert (s["total_score"], s["weighted_score"], s["submitted_at"], s["opinion"]) == \
        (None, None, None, None)
    assert assignments(w, project_id=p["id"]) == [s]
    assert view(w, s["id"])["sheet"] == s


@pytest.mark.parametrize("given,stored", [
    ("2031-05-31T18:00:00+09:00", "2031-05-31T09:00:00.000Z"),
    ("2031-05-31T18:00:00-0230", "2031-05-31T20:30:00.000Z"),
    ("2031-05-31T18:00:00.123456Z", "2031-05-31T18:00:00.123Z"),
    (PAST, PAST),
])
def test_an_explicit_deadline_any_offset_is_stored_in_utc(w, given, stored):
    *_, s = setup_sheet(w, deadline=given)
    assert s["deadline"] == stored
    assert view(w, s["id"])["sheet"]["deadline"] == stored


def test_without_any_deadline_there_is_none(w):
    *_, s = setup_sheet(w, deadline=None)
    assert s["deadline"] is None


def test_assignments_that_do_not_fit_are_422_and_write_nothing(w):
    p = w.project()
    c = w.company(p["id"])
    other_p = w.project()
    other_c = w.company(other_p["id"])
    t = w.template(activate=True)
    draft = w.template()
    archived = w.template(activate=True)
    w.call("POST", f"/api/templates/{archived['id']}/archive")
    foreign = w.template(activate=True, project_id=other_p["id"])
    closed = w.project(status="closed")
    w.company(closed["id"])
    base = {"project_id": p["id"], "evaluator_id": w.ev.user_id, "company_id": c["id"],
            "template_id": t["id"]}
    cases = [
        ({"evaluator_id": w.sec.user_id}, {"evaluator_id": "value_error.evaluator_id"}),
        ({"evaluator_id": w.admin.user_id}, {"evaluator_id": "value_error.evaluator_id"}),
        ({"evaluator_id": w.extra["inactive"].user_id},
         {"evaluator_id": "value_error.evaluator_id"}),
        ({"evaluator_id": str(uuid.uuid4())}, {"evaluator_id": "value_error.evaluator_id"}),
        ({"company_id": other_c["id"]}, {"company_id": "value_error.company_id"}),
        ({"company_id": str(uuid.uuid4())}, {"company_id": "value_error.company_id"}),
        ({"template_id": draft["id"]}, {"template_id": "value_error.template_status"}),
        ({"template_id": archived["id"]}, {"template_id": "value_error.template_status"}),
        ({"template_id": str(uuid.uuid4())}, {"template_id": "value_error.template_id"}),
        ({"template_id": foreign["id"]}, {"template_id": "value_error.template_project"}),
        ({"project_id": closed["id"]}, {"project_id": "value_error.project_status",
                                        "company_id": "value_error.company_id"}),
        ({"project_id": str(uuid.uuid4())}, {"project_id": "value_error.project_id",
                                             "company_id": "value_error.company_id"}),
        ({"evaluator_id": w.sec.user_id, "company_id": other_c["id"], "template_id": draft["id"]},
         {"evaluator_id": "value_error.evaluator_id", "company_id": "value_error.company_id",
          "template_id": "value_error.template_status"}),
    ]
    for change, expected in cases:
        body = assert_err(w.call("POST", "/api/assignments", json=base | change), 422,
                          "BUSINESS_LOGIC_ERROR")
        assert details(body) == expected, (change, body)
    assert assignments(w, project_id=p["id"]) == []
    assert assignments(w, project_id=closed["id"]) == []
    # the template of the project itself is fine
    own = w.template(activate=True, project_id=p["id"])
    res = w.call("POST", "/api/assignments", json=base | {"template_id": own["id"]})
    assert res.status_code == 201, describe(res)


def test_the_same_assignment_twice_is_409(w):
    p, c, t, s = setup_sheet(w)
    body = {"project_id": p["id"], "evaluator_id": w.ev.user_id, "company_id": c["id"],
            "template_id": t["id"]}
    assert_err(w.call("POST", "/api/assignments", json=body), 409, "CONFLICT")
    assert_err(w.call("POST", "/api/assignments", w.admin, json=body | {"deadline": PAST}),
               409, "CONFLICT")
    assert assignments(w, project_id=p["id"]) == [s]
    # another evaluator, or another template, is another assignment
    assert w.call("POST", "/api/assignments",
                  json=body | {"evaluator_id": w.ev2.user_id}).status_code == 201
    t2 = w.template(activate=True)
    assert w.call("POST", "/api/assignments",
                  json=body | {"template_id": t2["id"]}).status_code == 201


BAD_ASSIGN = [
    (None, {"project_id": "value_error.missing", "evaluator_id": "value_error.missing",
            "company_id": "value_error.missing", "template_id": "value_error.missing"}),
    ({"project_id": "x", "evaluator_id": 3, "company_id": None, "template_id": ""},
     {"project_id": "value_error.uuid", "evaluator_id": "type_error.str",
      "company_id": "value_error.missing", "template_id": "value_error.min_length"}),
    ({"deadline": "tomorrow"}, {"deadline": "value_error.datetime"}),
    ({"deadline": "2030-01-01T09:00:00"}, {"deadline": "value_error.datetime"}),
    ({"deadline": "2030-02-30T09:00:00Z"}, {"deadline": "value_error.datetime"}),
    ({"deadline": 20300101}, {"deadline": "type_error.str"}),
    ({"status": "submitted", "version": 3}, {"status": "value_error.extra",
                                             "version": "value_error.extra"}),
]


@pytest.mark.parametrize("change,expected", BAD_ASSIGN)
def test_bad_assignment_bodies_are_400_and_write_nothing(w, change, expected):
    p = w.project()
    c = w.company(p["id"])
    t = w.template(activate=True)
    base = {"project_id": p["id"], "evaluator_id": w.ev.user_id, "company_id": c["id"],
            "template_id": t["id"]}
    body = {} if change is None else base | change
    assert details(assert_400(w.call("POST", "/api/assignments", json=body))) == expected
    assert assignments(w, project_id=p["id"]) == []


# --- batch -----------------------------------------------------------------------------------

def test_batch_is_all_or_nothing(w):
    p = w.project(deadline="2032-02-02T02:02:02Z")
    cs = [w.company(p["id"]) for _ in range(3)]
    t = w.template(activate=True)
    other = w.company(w.project()["id"])
    good = [{"evaluator_id": e.user_id, "company_id": c["id"]} for e in (w.ev, w.ev2) for c in cs]

    def post(pairs, **extra):
        return w.call("POST", "/api/assignments/batch",
                      json={"project_id": p["id"], "template_id": t["id"], "pairs": pairs} | extra)

    # one pair that does not fit: 422 naming it, nothing written
    bad = good[:4] + [{"evaluator_id": w.ev.user_id, "company_id": other["id"]},
                      {"evaluator_id": w.sec.user_id, "company_id": cs[0]["id"]}] + good[4:]
    body = assert_err(post(bad), 422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"pairs[4].company_id": "value_error.company_id",
                             "pairs[5].evaluator_id": "value_error.evaluator_id"}
    assert assignments(w, project_id=p["id"]) == []
    # a pair twice within the batch: 409 naming the repeat, nothing written
    body = assert_err(post(good + [good[2]]), 409, "CONFLICT")
    assert details(body) == {f"pairs[{len(good)}]": "value_error.duplicate"}
    assert assignments(w, project_id=p["id"]) == []
    # the good batch
    res = post(good)
    assert res.status_code == 201, describe(res)
    out = res.json()
    assert out["created"] == len(good) == len(out["items"])
    for pair, s in zip(good, out["items"]):
        assert_sheet(s)
        assert (s["evaluator_id"], s["company_id"], s["template_id"], s["status"],
                s["deadline"]) == (pair["evaluator_id"], pair["company_id"], t["id"], "assigned",
                                   "2032-02-02T02:02:02.000Z")
    listed = assignments(w, project_id=p["id"])
    assert sorted(x["id"] for x in listed) == sorted(x["id"] for x in out["items"])
    assert {x["id"]: x for x in listed} == {x["id"]: x for x in out["items"]}
    # pairs that exist already: 409, nothing more written
    c4 = w.company(p["id"])
    body = assert_err(post([{"evaluator_id": w.ev.user_id, "company_id": c4["id"]}, good[1]]),
                      409, "CONFLICT")
    assert details(body) == {"pairs[1]": "value_error.duplicate"}
    assert len(assignments(w, project_id=p["id"])) == len(good)
    # an explicit deadline in the past applies to every pair
    res = post([{"evaluator_id": w.ev.user_id, "company_id": c4["id"]}], deadline=PAST)
    assert res.status_code == 201 and res.json()["items"][0]["deadline"] == PAST, describe(res)


def test_batch_project_or_template_that_does_not_fit_is_422(w):
    p = w.project()
    c = w.company(p["id"])
    draft = w.template()
    pairs = [{"evaluator_id": w.ev.user_id, "company_id": c["id"]}]
    body = assert_err(w.call("POST", "/api/assignments/batch", json={
        "project_id": str(uuid.uuid4()), "template_id": draft["id"], "pairs": pairs}),
        422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"project_id": "value_error.project_id",
                             "template_id": "value_error.template_status"}


def test_batch_of_five_thousand_pairs(w):
    p = w.project()
    t = w.template(activate=True)
    cs = [w.company(p["id"]) for _ in range(2)]
    evs = [w.ev, w.ev2]
    pairs = [{"evaluator_id": e.user_id, "company_id": c["id"]} for e in evs for c in cs]
    pairs += pairs[:1] * (5001 - len(pairs))
    res = w.call("POST", "/api/assignments/batch", json={
        "project_id": p["id"], "template_id": t["id"], "pairs": pairs})
    assert_400(res, ("pairs", "value_error.list.max_items"))
    # 5,000 (of which most repeat): every repeat reported, nothing written
    res = w.call("POST", "/api/assignments/batch", json={
        "project_id": p["id"], "template_id": t["id"], "pairs": pairs[:5000]})
    body = assert_err(res, 409, "CONFLICT")
    assert "4996" in body["message"]
    assert assignments(w, project_id=p["id"]) == []


def test_a_full_batch_of_five_thousand_pairs(w):
    p = w.project()
    t = w.template(activate=True)
    companies = []
    for _ in range(3):  # 2,500 companies through the companies' own batch import
        n = min(1000, 2500 - len(companies))
        res = w.call("POST", "/api/companies/batch", json={"project_id": p["id"], "companies": [
            {"name": unique("배치 기업 "), "registration_number": reg_number()}
            for _ in range(n)]})
        assert res.status_code == 201, describe(res)
        companies += res.json()["items"]
    pairs = [{"evaluator_id": e.user_id, "company_id": c["id"]}
             for e in (w.ev, w.ev2) for c in companies]
    assert len(pairs) == 5000
    res = w.call("POST", "/api/assignments/batch", json={
        "project_id": p["id"], "template_id": t["id"], "pairs": pairs})
    assert res.status_code == 201, describe(res)
    assert res.json()["created"] == 5000
    assert len({x["id"] for x in res.json()["items"]}) == 5000
    assert w.scalar("SELECT COUNT(*) FROM evaluation_sheets WHERE project_id = "
                    f"'{p['id']}'") == "5000"
    assert len(assignments(w, w.ev2, project_id=p["id"])) == 2500


BAD_BATCH = [
    ({"pairs": []}, {"pairs": "value_error.list.min_items"}),
    ({"pairs": None}, {"pairs": "value_error.missing"}),
    ({"pairs": {"a": 1}}, {"pairs": "type_error.list"}),
    ({"pairs": [1, {"evaluator_id": "x"}, {"evaluator_id": "EV", "company_id": "C", "z": 0}]},
     {"pairs[0]": "type_error.dict", "pairs[1].evaluator_id": "value_error.uuid",
      "pairs[1].company_id": "value_error.missing", "pairs[2].z": "value_error.extra"}),
    ({"project_id": None, "template_id": 5, "extra": True},
     {"project_id": "value_error.missing", "template_id": "type_error.str",
      "extra": "value_error.extra"}),
    ({"deadline": "2030-13-01T00:00:00Z"}, {"deadline": "value_error.datetime"}),
]


@pytest.mark.parametrize("change,expected", BAD_BATCH)
def test_bad_batch_bodies_are_400_and_write_nothing(w, change, expected):
    p = w.project()
    c = w.company(p["id"])
    t = w.template(activate=True)
    ids = {"EV": w.ev.user_id, "C": c["id"]}

    def resolve(x):
        if isinstance(x, dict):
            return {k: resolve(v) for k, v in x.items()}
        if isinstance(x, list):
            return [resolve(v) for v in x]
        return ids.get(x, x) if isinstance(x, str) else x

    body = {"project_id": p["id"], "template_id": t["id"],
            "pairs": [{"evaluator_id": "EV", "company_id": "C"}]} | change
    got = details(assert_400(w.call("POST", "/api/assignments/batch", json=resolve(body))))
    assert got == expected
    assert assignments(w, project_id=p["id"]) == []


# --- the list --------------------------------------------------------------------------------

def test_evaluators_see_only_their_own_assignments(w):
    p = w.project()
    cs = [w.company(p["id"]) for _ in range(3)]
    t = w.template(activate=True)
    res = w.call("POST", "/api/assignments/batch", json={
        "project_id": p["id"], "template_id": t["id"],
        "pairs": [{"evaluator_id": w.ev.user_id, "company_id": cs[0]["id"]},
                  {"evaluator_id": w.ev2.user_id, "company_id": cs[1]["id"]},
                  {"evaluator_id": w.ev.user_id, "company_id": cs[2]["id"]}]})
    assert res.status_code == 201, describe(res)
    mine, theirs, mine2 = res.json()["items"]
    ids = lambda xs: [x["id"] for x in xs]  # noqa: E731
    # newest first; created in one statement, so order by id within the same millisecond
    staff = assignments(w, project_id=p["id"])
    assert sorted(ids(staff)) == sorted([mine["id"], theirs["id"], mine2["id"]])
    assert sorted(ids(assignments(w, w.ev, project_id=p["id"]))) == sorted([mine["id"],
                                                                            mine2["id"]])
    assert ids(assignments(w, w.ev2, project_id=p["id"])) == [theirs["id"]]
    # an evaluator's filter naming someone else matches nothing (no error, no leak)
    assert assignments(w, w.ev, evaluator_id=w.ev2.user_id) == []
    assert ids(assignments(w, w.ev, project_id=p["id"], evaluator_id=w.ev.user_id,
                           company_id=cs[2]["id"])) == [mine2["id"]]
    # staff filters
    assert ids(assignments(w, project_id=p["id"], evaluator_id=w.ev2.user_id)) == [theirs["id"]]
    assert ids(assignments(w, w.admin, company_id=cs[0]["id"])) == [mine["id"]]
    assert assignments(w, project_id=p["id"], status="submitted") == []
    assert len(assignments(w, project_id=p["id"], status="assigned")) == 3
    # paging one at a time walks all three once, newest first
    seen, cursor = [], None
    for _ in range(5):
        q = {"project_id": p["id"], "limit": 1} | ({"cursor": cursor} if cursor else {})
        page = w.call("GET", "/api/assignments?" + urlencode(q)).json()
        seen += ids(page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids(staff)
    assert sorted([(x["created_at"], x["id"]) for x in staff], reverse=True) == \
        [(x["created_at"], x["id"]) for x in staff]


@pytest.mark.parametrize("query,fld", [
    ("status=draft", "status"), ("status=bogus", "status"), ("project_id=1", "project_id"),
    ("evaluator_id=x", "evaluator_id"), ("company_id=%27", "company_id"), ("limit=0", "limit"),
    ("limit=500", "limit"), ("cursor=!!", "cursor"),
])
def test_bad_assignment_list_queries_are_400(w, query, fld):
    for who in (w.sec, w.ev):
        body = assert_err(w.call("GET", "/api/assignments?" + query, who), 400,
                          "VALIDATION_ERROR")
        assert fld in details(body)


# --- deadline changes and withdrawal ---------------------------------------------------------

def test_staff_change_a_deadline(w):
    *_, s = setup_sheet(w)
    res = w.call("PATCH", f"/api/assignments/{s['id']}",
                 json={"deadline": "2033-03-03T12:00:00+09:00"})
    assert res.status_code == 200, describe(res)
    u = res.json()
    assert (u["deadline"], u["version"], u["status"]) == ("2033-03-03T03:00:00.000Z", 1,
                                                          "assigned")
    res = w.call("PATCH", f"/api/assignments/{s['id']}", w.admin, json={"deadline": None})
    assert res.status_code == 200 and res.json()["deadline"] is None, describe(res)
    assert view(w, s["id"])["sheet"]["deadline"] is None
    for body, expected in (({}, {"deadline": "value_error.missing"}),
                           ({"deadline": "soon"}, {"deadline": "value_error.datetime"}),
                           ({"deadline": FUTURE, "status": "x"}, {"status": "value_error.extra"})):
        assert details(assert_400(w.call("PATCH", f"/api/assignments/{s['id']}", json=body))) == \
            expected
    assert_err(w.call("PATCH", f"/api/assignments/{s['id']}", w.ev, json={"deadline": FUTURE}),
               403, "INSUFFICIENT_PERMISSIONS")
    assert view(w, s["id"])["sheet"]["deadline"] is None


def test_withdraw_an_assignment_until_it_is_submitted(w):
    _, _, t, s = setup_sheet(w)
    assert_err(w.call("DELETE", f"/api/assignments/{s['id']}", w.ev), 403,
               "INSUFFICIENT_PERMISSIONS")
    # a draft saved: still withdrawable, its scores go with it
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    res = w.call("DELETE", f"/api/assignments/{s['id']}")
    assert res.status_code == 204 and res.content == b"", describe(res)
    assert_err(w.call("GET", f"/api/evaluations/{s['id']}", w.ev), 404, "NOT_FOUND")
    assert_err(w.call("DELETE", f"/api/assignments/{s['id']}"), 404, "NOT_FOUND")
    assert w.scalar(f"SELECT COUNT(*) FROM scores WHERE sheet_id = '{s['id']}'") == "0"
    # submitted, reviewed or reopened: kept
    _, _, t, s = setup_sheet(w)
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    assert submit(w, s["id"], 2).status_code == 200
    assert_err(w.call("DELETE", f"/api/assignments/{s['id']}"), 422, "BUSINESS_LOGIC_ERROR")
    assert w.call("POST", f"/api/evaluations/{s['id']}/reopen").status_code == 200
    assert_err(w.call("DELETE", f"/api/assignments/{s['id']}", w.admin), 422,
               "BUSINESS_LOGIC_ERROR")
    assert view(w, s["id"])["sheet"]["status"] == "in_progress"


# --- the scoring flow ------------------------------------------------------------------------

def test_the_scoring_flow_end_to_end(w):
    p, c, t, s = setup_sheet(w)
    sid = s["id"]
    # what the evaluator sees
    v = view(w, sid)
    assert set(v) == VIEW_KEYS
    assert v["sheet"] == s and v["version"] == 1 and v["scores"] == []
    assert v["company"] == w.call("GET", f"/api/companies/{c['id']}").json()
    assert v["template"] == w.get_template(t["id"])
    assert view(w, sid, w.sec2) == v == view(w, sid, w.admin)
    items = t["items"]
    # first draft: some scores, Korean opinions
    res = save(w, sid, 1, [{"item_id": items[0]["id"], "score": 20, "opinion": "시장성 " + KOREAN},
                           {"item_id": items[2]["id"], "score": None, "opinion": "발표 전"}],
               opinion="전반적으로 양호")
    assert res.status_code == 200, describe(res)
    d1 = res.json()
    assert_sheet(d1)
    assert (d1["status"], d1["version"], d1["opinion"]) == ("in_progress", 2, "전반적으로 양호")
    assert d1["scores"] == [
        {"item_id": items[0]["id"], "score": 20, "opinion": "시장성 " + KOREAN},
        {"item_id": items[2]["id"], "score": None, "opinion": "발표 전"}]
    assert view(w, sid)["scores"] == d1["scores"]
    # a second draft replaces the scores; the sheet opinion stays when not sent
    values = {items[0]["id"]: 27.5, items[1]["id"]: 15, items[2]["id"]: 1, items[3]["id"]: 0}
    res = save(w, sid, 2, [{"item_id": k, "score": v} for k, v in values.items()])
    assert res.status_code == 200, describe(res)
    d2 = res.json()
    assert (d2["version"], d2["opinion"]) == (3, "전반적으로 양호")
    assert [x["score"] for x in d2["scores"]] == [27.5, 15, 1, 0]
    assert all(x["opinion"] is None for x in d2["scores"])
    # submit: the computed scores, this file's computation
    res = submit(w, sid, 3)
    assert res.status_code == 200, describe(res)
    sub = res.json()
    total, weighted = expected_scores(items, values)
    assert (sub["status"], sub["version"]) == ("submitted", 4)
    assert sub["total_score"] == pytest.approx(total) == 43.5
    assert sub["weighted_score"] == pytest.approx(weighted)
    assert 0 <= sub["weighted_score"] <= 100
    assert sub["submitted_at"] and sub["submitted_at"] >= sub["created_at"]
    # read-only now
    assert_err(save(w, sid, 4, []), 422, "BUSINESS_LOGIC_ERROR")
    assert_err(submit(w, sid, 4), 422, "BUSINESS_LOGIC_ERROR")
    assert view(w, sid)["sheet"] == {k: v for k, v in sub.items() if k != "scores"}
    # the secretary reopens it, with a reason
    res = w.call("POST", f"/api/evaluations/{sid}/reopen", json={"reason": "점수 재검토 요청",
                                                                "version": 4})
    assert res.status_code == 200, describe(res)
    ro = res.json()
    assert (ro["status"], ro["version"], ro["total_score"], ro["weighted_score"]) == \
        ("in_progress", 5, None, None)
    assert ro["scores"] == sub["scores"]
    events = w.st.events(w.sec.token, event_type="evaluation_reopened")
    assert any(sid in e["details"] and "점수 재검토 요청" in e["details"] for e in events), events
    # changed and resubmitted
    values[items[1]["id"]] = 20
    values.pop(items[3]["id"])
    res = save(w, sid, 5, [{"item_id": k, "score": v} for k, v in values.items()])
    assert res.status_code == 200 and res.json()["version"] == 6, describe(res)
    res = submit(w, sid, 6)
    assert res.status_code == 200, describe(res)
    sub2 = res.json()
    total, weighted = expected_scores(items, values)
    assert sub2["total_score"] == pytest.approx(total) == 48.5
    assert sub2["weighted_score"] == pytest.approx(weighted)
    assert sub2["submitted_at"] >= sub["submitted_at"]
    # reviewed: final
    assert_err(w.call("POST", f"/api/evaluations/{sid}/review", json={"version": 6}), 409,
               "CONFLICT")
    res = w.call("POST", f"/api/evaluations/{sid}/review", w.admin)
    assert res.status_code == 200, describe(res)
    rv = res.json()
    assert (rv["status"], rv["version"], rv["total_score"]) == ("reviewed", 8, sub2["total_score"])
    assert rv["reviewed_at"] and rv["reviewed_at"] >= sub2["submitted_at"]
    assert_err(save(w, sid, 8, []), 422, "BUSINESS_LOGIC_ERROR")
    assert_err(w.call("POST", f"/api/evaluations/{sid}/reopen"), 422, "BUSINESS_LOGIC_ERROR")
    assert_err(w.call("POST", f"/api/evaluations/{sid}/review"), 422, "BUSINESS_LOGIC_ERROR")
    assert [x["status"] for x in assignments(w, project_id=p["id"])] == ["reviewed"]
    assert [x["id"] for x in assignments(w, project_id=p["id"], status="reviewed")] == [sid]


@pytest.mark.parametrize("items,values", [
    # different scales and weights, decimals
    ([{"name": "a", "min_score": 0, "max_score": 7, "weight": 3},
      {"name": "b", "min_score": 0, "max_score": 1000, "weight": 0.25},
      {"name": "c", "min_score": 2.5, "max_score": 3.5, "weight": 100}], [6.5, 333.3, 2.75]),
    # an optional item left out: out of the weighted score as well
    ([{"name": "a", "min_score": 0, "max_score": 10},
      {"name": "b", "min_score": 0, "max_score": 10, "weight": 50, "is_required": False}],
     [7, None]),
    # weight 0: counts in the total only
    ([{"name": "a", "min_score": 0, "max_score": 4, "weight": 0},
      {"name": "b", "min_score": 0, "max_score": 5, "weight": 2}], [4, 1]),
    # full marks everywhere: 100
    ([{"name": "a", "min_score": 0, "max_score": 30, "weight": 2},
      {"name": "b", "min_score": 0, "max_score": 20}], [30, 20]),
])
def test_computed_scores_match_the_formula(w, items, values):
    _, _, t, s = setup_sheet(w, items=items)
    scores = {i["id"]: v for i, v in zip(t["items"], values) if v is not None}
    assert save(w, s["id"], 1, [{"item_id": k, "score": v} for k, v in scores.items()]
                ).status_code == 200
    res = submit(w, s["id"], 2)
    assert res.status_code == 200, describe(res)
    total, weighted = expected_scores(t["items"], scores)
    assert res.json()["total_score"] == pytest.approx(total)
    assert res.json()["weighted_score"] == pytest.approx(weighted)
    got = [x for x in assignments(w, w.ev) if x["id"] == s["id"]][0]
    assert (got["total_score"], got["weighted_score"]) == (res.json()["total_score"],
                                                           res.json()["weighted_score"])


def test_a_sheet_with_nothing_weighed_has_no_weighted_score(w):
    _, _, t, s = setup_sheet(w, items=[{"name": "opt", "min_score": 0, "max_score": 10,
                                        "is_required": False}])
    res = submit(w, s["id"], 1)
    assert res.status_code == 200, describe(res)
    assert (res.json()["total_score"], res.json()["weighted_score"]) == (0, None)


# --- concurrency -----------------------------------------------------------------------------

def race(w: World, requests_: list[tuple[str, str, dict]], who: Login) -> list[requests.Response]:
    """Sends the requests at once from separate threads and connections."""
    barrier = threading.Barrier(len(requests_))
    out: list = [None] * len(requests_)

    def run(i, method, path, body):
        with requests.Session() as s:
            barrier.wait()
            out[i] = s.request(method, w.st.url(path), json=body, timeout=30,
                               headers={"Authorization": f"Bearer {who.token}"})

    threads = [threading.Thread(target=run, args=(i, *r)) for i, r in enumerate(requests_)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def test_two_clients_saving_the_same_version_exactly_one_wins(w):
    _, _, t, s = setup_sheet(w)
    a = [{"item_id": t["items"][0]["id"], "score": 1}]
    b = [{"item_id": t["items"][0]["id"], "score": 2}]
    version = 1
    for _ in range(6):
        path = f"/api/evaluations/{s['id']}"
        res = race(w, [("PUT", path, {"version": version, "scores": a}),
                       ("PUT", path, {"version": version, "scores": b})], w.ev)
        codes = sorted(r.status_code for r in res)
        assert codes == [200, 409], [describe(r) for r in res]
        winner = next(r for r in res if r.status_code == 200)
        loser = next(r for r in res if r.status_code == 409)
        assert_err(loser, 409, "CONFLICT")
        assert str(version + 1) in loser.json()["message"]
        version += 1
        assert winner.json()["version"] == version
        assert view(w, s["id"])["scores"] == winner.json()["scores"]
    # a stale version later is 409 too, with the current one in the message, and changes nothing
    before = view(w, s["id"])
    body = assert_err(save(w, s["id"], 1, b), 409, "CONFLICT")
    assert f"current version is {version}" in body["message"]
    assert view(w, s["id"]) == before


def test_two_submissions_exactly_one_wins(w):
    for _ in range(3):
        _, _, t, s = setup_sheet(w)
        assert save(w, s["id"], 1, full_scores(t)).status_code == 200
        path = f"/api/evaluations/{s['id']}/submit"
        res = race(w, [("POST", path, {"version": 2}), ("POST", path, {"version": 2})], w.ev)
        codes = sorted(r.status_code for r in res)
        # the loser sees either the new version (409) or the submitted state (422)
        assert codes[0] == 200 and codes[1] in (409, 422), [describe(r) for r in res]
        assert view(w, s["id"])["sheet"]["version"] == 3


def test_a_save_racing_a_reopen_never_both_apply_to_one_version(w):
    _, _, t, s = setup_sheet(w)
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    assert submit(w, s["id"], 2).status_code == 200
    res = race(w, [("POST", f"/api/evaluations/{s['id']}/reopen", {"version": 3}),
                   ("POST", f"/api/evaluations/{s['id']}/reopen", {"version": 3})], w.sec)
    assert sorted(r.status_code for r in res)[0] == 200
    assert sorted(r.status_code for r in res)[1] in (409, 422)
    assert view(w, s["id"])["sheet"]["version"] == 4


# --- what a draft may hold -------------------------------------------------------------------

def test_scores_outside_the_items_range_unknown_items_and_repeats_are_400(w):
    _, _, t, s = setup_sheet(w)
    _, _, t_other, _ = setup_sheet(w)
    items = t["items"]
    assert save(w, s["id"], 1, [{"item_id": items[0]["id"], "score": 10}],
                opinion="처음").status_code == 200
    before = view(w, s["id"])
    out_of_range = {"scores[0].score": "value_error.number.range"}
    cases = [
        ([{"item_id": items[0]["id"], "score": 30.5}], out_of_range),
        ([{"item_id": items[2]["id"], "score": 0.5}], out_of_range),
        ([{"item_id": items[0]["id"], "score": -1}], out_of_range),
        ([{"item_id": items[0]["id"], "score": 1},
          {"item_id": str(uuid.uuid4()), "score": 1}],
         {"scores[1].item_id": "value_error.item_id"}),
        ([{"item_id": t_other["items"][0]["id"], "score": 1}],
         {"scores[0].item_id": "value_error.item_id"}),
        ([{"item_id": items[1]["id"], "score": 1}, {"item_id": items[1]["id"], "score": 2}],
         {"scores[1].item_id": "value_error.duplicate"}),
    ]
    for scores, expected in cases:
        got = details(assert_400(save(w, s["id"], 2, scores, opinion="바뀌면 안 됨")))
        assert got == expected, scores
    assert view(w, s["id"]) == before


BAD_DRAFT = [
    ({"scores": []}, {"version": "value_error.missing"}),
    ({"version": "2", "scores": []}, {"version": "type_error.integer"}),
    ({"version": 1.5, "scores": []}, {"version": "type_error.integer"}),
    ({"version": 0, "scores": []}, {"version": "value_error.number.range"}),
    ({"version": 2}, {"scores": "value_error.missing"}),
    ({"version": 2, "scores": "all"}, {"scores": "type_error.list"}),
    ({"version": 2, "scores": [7]}, {"scores[0]": "type_error.dict"}),
    ({"version": 2, "scores": [{"score": 1}]}, {"scores[0].item_id": "value_error.missing"}),
    ({"version": 2, "scores": [{"item_id": "x", "score": "10", "opinion": 5, "note": ""}]},
     {"scores[0].item_id": "value_error.uuid", "scores[0].score": "type_error.number",
      "scores[0].opinion": "type_error.str", "scores[0].note": "value_error.extra"}),
    ({"version": 2, "scores": [], "opinion": "x" * 4001}, {"opinion": "value_error.max_length"}),
    ({"version": 2, "scores": [], "status": "submitted"}, {"status": "value_error.extra"}),
]


@pytest.mark.parametrize("body,expected", BAD_DRAFT)
def test_bad_draft_bodies_are_400_and_change_nothing(w, body, expected):
    _, _, t, s = setup_sheet(w)
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    before = view(w, s["id"])
    res = w.call("PUT", f"/api/evaluations/{s['id']}", w.ev, json=body)
    assert details(assert_400(res)) == expected
    assert view(w, s["id"]) == before


def test_opinions_up_to_4000_characters_round_trip(w):
    _, _, t, s = setup_sheet(w)
    long_ko = ("평가 의견 " * 800)[:4000]
    res = save(w, s["id"], 1, [{"item_id": t["items"][0]["id"], "score": 3, "opinion": long_ko}],
               opinion=long_ko)
    assert res.status_code == 200, describe(res)
    v = view(w, s["id"])
    assert v["sheet"]["opinion"] == long_ko and v["scores"][0]["opinion"] == long_ko
    res = save(w, s["id"], 2, [{"item_id": t["items"][0]["id"], "opinion": long_ko + "가"}])
    assert_400(res, ("scores[0].opinion", "value_error.max_length"))
    # null clears the sheet's opinion
    res = save(w, s["id"], 2, [], opinion=None)
    assert res.status_code == 200 and res.json()["opinion"] is None, describe(res)
    assert res.json()["scores"] == []


def test_missing_required_items_are_422_and_change_nothing(w):
    _, _, t, s = setup_sheet(w)
    items = t["items"]
    # the optional (bonus) item and one required item scored; a required one only commented
    assert save(w, s["id"], 1, [{"item_id": items[0]["id"], "score": 1},
                                {"item_id": items[1]["id"], "opinion": "점수는 나중에"},
                                {"item_id": items[3]["id"], "score": 5}]).status_code == 200
    before = view(w, s["id"])
    body = assert_err(submit(w, s["id"], 2), 422, "BUSINESS_LOGIC_ERROR")
    assert [(d["field"], d["code"], d.get("value")) for d in body["details"]] == [
        ("scores", "value_error.missing_score", items[1]["id"]),
        ("scores", "value_error.missing_score", items[2]["id"])]
    assert items[1]["name"] in body["details"][0]["message"]
    assert items[2]["name"] in body["details"][1]["message"]
    assert view(w, s["id"]) == before
    # a sheet never saved cannot be submitted either
    *_, fresh = setup_sheet(w)
    assert_err(submit(w, fresh["id"], 1), 422, "BUSINESS_LOGIC_ERROR")


def test_submitting_after_the_deadline_is_422(w):
    _, _, t, s = setup_sheet(w, deadline=PAST)
    # saving a draft stays possible; submitting does not
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    before = view(w, s["id"])
    body = assert_err(submit(w, s["id"], 2), 422, "BUSINESS_LOGIC_ERROR")
    assert "deadline" in body["message"]
    assert view(w, s["id"]) == before
    # a deadline one second ago is past too
    just = iso_ms(datetime.now(timezone.utc) - timedelta(seconds=1))
    res = w.call("PATCH", f"/api/assignments/{s['id']}", json={"deadline": just})
    assert res.status_code == 200, describe(res)
    assert_err(submit(w, s["id"], 2), 422, "BUSINESS_LOGIC_ERROR")
    # extended by the secretary: accepted
    res = w.call("PATCH", f"/api/assignments/{s['id']}", json={"deadline": FUTURE})
    assert res.status_code == 200, describe(res)
    res = submit(w, s["id"], 2)
    assert res.status_code == 200 and res.json()["status"] == "submitted", describe(res)


def test_submit_bodies_are_checked(w):
    _, _, t, s = setup_sheet(w)
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    for body, expected in (({}, {"version": "value_error.missing"}),
                           ({"version": None}, {"version": "value_error.missing"}),
                           ({"version": "2"}, {"version": "type_error.integer"}),
                           ({"version": 2, "force": True}, {"force": "value_error.extra"})):
        res = w.call("POST", f"/api/evaluations/{s['id']}/submit", w.ev, json=body)
        assert details(assert_400(res)) == expected
    body = assert_err(submit(w, s["id"], 1), 409, "CONFLICT")
    assert "current version is 2" in body["message"]
    assert view(w, s["id"])["sheet"]["status"] == "in_progress"


def test_reopen_and_review_rules(w):
    _, _, t, s = setup_sheet(w)
    sid = s["id"]
    for action in ("reopen", "review"):
        assert_err(w.call("POST", f"/api/evaluations/{sid}/{action}"), 422,
                   "BUSINESS_LOGIC_ERROR")
    assert save(w, sid, 1, full_scores(t)).status_code == 200
    assert submit(w, sid, 2).status_code == 200
    before = view(w, sid)
    for action in ("reopen", "review"):
        assert_err(w.call("POST", f"/api/evaluations/{sid}/{action}", json={"version": 2}), 409,
                   "CONFLICT")
        assert details(assert_400(w.call("POST", f"/api/evaluations/{sid}/{action}",
                                         json={"version": "3"}))) == {
            "version": "type_error.integer"}
        assert details(assert_400(w.call("POST", f"/api/evaluations/{sid}/{action}",
                                         json={"why": 1}))) == {"why": "value_error.extra"}
        for data, ctype in malformed_bodies():
            if data == "":
                continue  # the body is optional
            assert_err(send_raw(w, "POST", f"/api/evaluations/{sid}/{action}", data, ctype),
                       400, "VALIDATION_ERROR")
    assert details(assert_400(w.call("POST", f"/api/evaluations/{sid}/reopen",
                                     json={"reason": "r" * 1001}))) == {
        "reason": "value_error.max_length"}
    assert view(w, sid) == before
    # evaluators neither reopen nor review, not even their own sheet
    for action in ("reopen", "review"):
        assert_err(w.call("POST", f"/api/evaluations/{sid}/{action}", w.ev), 403,
                   "INSUFFICIENT_PERMISSIONS")
    assert view(w, sid) == before
    res = w.call("POST", f"/api/evaluations/{sid}/review", json={"version": 3})
    assert res.status_code == 200 and res.json()["status"] == "reviewed", describe(res)


# --- who may see and do what -----------------------------------------------------------------

def test_another_evaluators_sheet_does_not_exist_for_them(w):
    _, _, t, s = setup_sheet(w)
    sid = s["id"]
    assert save(w, sid, 1, full_scores(t)).status_code == 200
    before = view(w, sid)
    unknown = str(uuid.uuid4())
    for path, method, body in (("/api/evaluations/{}", "GET", None),
                               ("/api/evaluations/{}", "PUT", {"version": 2, "scores": []}),
                               ("/api/evaluations/{}/submit", "POST", {"version": 2})):
        kw = {"json": body} if body is not None else {}
        theirs = assert_err(w.call(method, path.format(sid), w.ev2, **kw), 404, "NOT_FOUND")
        none = assert_err(w.call(method, path.format(unknown), w.ev2, **kw), 404, "NOT_FOUND")
        assert (theirs["message"], theirs["details"]) == (none["message"], none["details"])
    assert [x for x in assignments(w, w.ev2) if x["id"] == sid] == []
    assert view(w, sid) == before


def test_roles(w):
    _, _, t, s = setup_sheet(w)
    sid = s["id"]
    before = view(w, sid)
    # staff read every sheet but do not fill them in
    for who in (w.sec, w.sec2, w.admin):
        assert view(w, sid, who) == before
        assert_err(save(w, sid, 1, full_scores(t), who=who), 403, "INSUFFICIENT_PERMISSIONS")
        assert_err(submit(w, sid, 1, who=who), 403, "INSUFFICIENT_PERMISSIONS")
    # evaluators do not assign
    p = w.project()
    c = w.company(p["id"])
    for method, path, body in (
            ("POST", "/api/assignments", {"project_id": p["id"], "evaluator_id": w.ev.user_id,
                                          "company_id": c["id"], "template_id": t["id"]}),
            ("POST", "/api/assignments/batch", {"project_id": p["id"], "template_id": t["id"],
                                                "pairs": [{"evaluator_id": w.ev.user_id,
                                                           "company_id": c["id"]}]}),
            ("PATCH", f"/api/assignments/{sid}", {"deadline": None}),
            ("DELETE", f"/api/assignments/{sid}", None)):
        kw = {"json": body} if body is not None else {}
        assert_err(w.call(method, path, w.ev, **kw), 403, "INSUFFICIENT_PERMISSIONS")
    assert assignments(w, project_id=p["id"]) == []
    # nobody signed in: 401 everywhere
    for method, path in (("GET", "/api/assignments"), ("POST", "/api/assignments"),
                         ("POST", "/api/assignments/batch"), ("GET", f"/api/evaluations/{sid}"),
                         ("PUT", f"/api/evaluations/{sid}"),
                         ("POST", f"/api/evaluations/{sid}/submit"),
                         ("POST", f"/api/evaluations/{sid}/reopen"),
                         ("POST", f"/api/evaluations/{sid}/review"),
                         ("PATCH", f"/api/assignments/{sid}"),
                         ("DELETE", f"/api/assignments/{sid}")):
        assert_err(w.st.call(method, path, None, json={}), 401, "AUTH_FAILED")
    assert view(w, sid) == before


def test_unknown_and_malformed_sheet_ids_are_404(w):
    for sid in [str(uuid.uuid4())] + NOT_UUIDS:
        for who, method, path, body in (
                (w.ev, "GET", f"/api/evaluations/{sid}", None),
                (w.sec, "GET", f"/api/evaluations/{sid}", None),
                (w.ev, "PUT", f"/api/evaluations/{sid}", {"version": 1, "scores": []}),
                (w.ev, "POST", f"/api/evaluations/{sid}/submit", {"version": 1}),
                (w.sec, "POST", f"/api/evaluations/{sid}/reopen", None),
                (w.sec, "POST", f"/api/evaluations/{sid}/review", None),
                (w.sec, "PATCH", f"/api/assignments/{sid}", {"deadline": None}),
                (w.sec, "DELETE", f"/api/assignments/{sid}", None)):
            kw = {"json": body} if body is not None else {}
            assert_err(w.call(method, path, who, **kw), 404, "NOT_FOUND")


def test_malformed_bodies_are_400_and_change_nothing(w):
    p, c, t, s = setup_sheet(w)
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    before = view(w, s["id"])
    for who, method, path in ((w.sec, "POST", "/api/assignments"),
                              (w.sec, "POST", "/api/assignments/batch"),
                              (w.sec, "PATCH", f"/api/assignments/{s['id']}"),
                              (w.ev, "PUT", f"/api/evaluations/{s['id']}"),
                              (w.ev, "POST", f"/api/evaluations/{s['id']}/submit")):
        for data, ctype in malformed_bodies():
            assert_err(send_raw(w, method, path, data, ctype, who), 400, "VALIDATION_ERROR")
    assert view(w, s["id"]) == before
    assert len(assignments(w, project_id=p["id"])) == 1


def test_bodies_over_max_body_bytes_are_413(w):
    p, c, t, s = setup_sheet(w)
    before = view(w, s["id"])
    for who, method, path in ((w.sec, "POST", "/api/assignments"),
                              (w.sec, "POST", "/api/assignments/batch"),
                              (w.sec, "PATCH", f"/api/assignments/{s['id']}"),
                              (w.ev, "PUT", f"/api/evaluations/{s['id']}"),
                              (w.ev, "POST", f"/api/evaluations/{s['id']}/submit"),
                              (w.sec, "POST", f"/api/evaluations/{s['id']}/reopen")):
        w.raw_too_large(method, path, who)
    assert view(w, s["id"]) == before
    assert len(assignments(w, project_id=p["id"])) == 1


# --- what sheets do to templates -------------------------------------------------------------

def test_a_template_used_by_a_submitted_sheet_is_frozen(w):
    _, _, t, s = setup_sheet(w)
    tid = t["id"]
    assert save(w, s["id"], 1, full_scores(t)).status_code == 200
    assert submit(w, s["id"], 2).status_code == 200
    frozen = w.get_template(tid)
    for body in ({"name": "새 이름"}, {"status": "draft"},
                 {"status": "draft", "items": [{"name": "x", "min_score": 0, "max_score": 1}]}):
        body_ = assert_err(w.call("PATCH", f"/api/templates/{tid}", json=body), 422,
                           "BUSINESS_LOGIC_ERROR")
        assert "copy" in body_["message"]
    assert_err(w.call("DELETE", f"/api/templates/{tid}"), 422, "BUSINESS_LOGIC_ERROR")
    # reopened, it still is (its scores are history)
    assert w.call("POST", f"/api/evaluations/{s['id']}/reopen").status_code == 200
    assert_err(w.call("PATCH", f"/api/templates/{tid}", json={"status": "draft"}), 422,
               "BUSINESS_LOGIC_ERROR")
    assert w.get_template(tid) == frozen
    # a copy is the way to change it; archiving still works
    res = w.call("POST", f"/api/templates/{tid}/copy")
    assert res.status_code == 201 and res.json()["version"] == 2, describe(res)
    assert w.call("POST", f"/api/templates/{tid}/archive").json()["status"] == "archived"
    # sheets of an archived template go on
    assert save(w, s["id"], 4, full_scores(t)).status_code == 200
    assert submit(w, s["id"], 5).status_code == 200


def test_a_template_with_only_drafts_goes_back_to_draft(w):
    _, _, t, s = setup_sheet(w)
    tid = t["id"]
    assert save(w, s["id"], 1, full_scores(t), opinion="초안").status_code == 200
    # in use by sheets: not deletable
    assert_err(w.call("DELETE", f"/api/templates/{tid}"), 422, "BUSINESS_LOGIC_ERROR")
    # back to draft: scoring waits
    res = w.call("PATCH", f"/api/templates/{tid}", json={"status": "draft"})
    assert res.status_code == 200 and res.json()["status"] == "draft", describe(res)
    assert_err(save(w, s["id"], 2, full_scores(t)), 422, "BUSINESS_LOGIC_ERROR")
    assert_err(submit(w, s["id"], 2), 422, "BUSINESS_LOGIC_ERROR")
    # new items: the drafts' scores on the old ones go, and the sheet's version moves on
    new_items = [{"name": "새 기준", "min_score": 0, "max_score": 100}]
    res = w.call("PATCH", f"/api/templates/{tid}", json={"items": new_items})
    assert res.status_code == 200, describe(res)
    t2 = res.json()
    v = view(w, s["id"])
    assert (v["version"], v["scores"], v["sheet"]["opinion"]) == (3, [], "초안")
    assert v["template"]["items"] == t2["items"]
    # stale pages are refused; once active again, the sheet is scored on the new items
    assert_err(save(w, s["id"], 2, full_scores(t)), 409, "CONFLICT")
    assert w.call("POST", f"/api/templates/{tid}/activate").status_code == 200
    assert_400(save(w, s["id"], 3, full_scores(t)), ("scores[0].item_id", "value_error.item_id"))
    assert save(w, s["id"], 3, [{"item_id": t2["items"][0]["id"], "score": 64}]).status_code == 200
    res = submit(w, s["id"], 4)
    assert res.status_code == 200, describe(res)
    assert (res.json()["total_score"], res.json()["weighted_score"]) == (64, 64)


def test_a_template_moves_to_a_project_only_if_its_sheets_are_there(w):
    p, _, t, s = setup_sheet(w)
    other = w.project()
    body = assert_err(w.call("PATCH", f"/api/templates/{t['id']}",
                             json={"project_id": other["id"]}), 422, "BUSINESS_LOGIC_ERROR")
    assert details(body) == {"project_id": "value_error.project_id"}
    assert w.get_template(t["id"])["project_id"] is None
    res = w.call("PATCH", f"/api/templates/{t['id']}", json={"project_id": p["id"]})
    assert res.status_code == 200 and res.json()["project_id"] == p["id"], describe(res)
