"""Results and exports (docs/DOMAIN.md, "Results and exports"), on SQLite and PostgreSQL.

One server per engine for the module. The world is built through the API (projects, companies,
a template, assignments, evaluators saving and submitting their sheets, a secretary reviewing
one), then:

- GET /api/projects/{id}/results is checked against this file's own computation from the scores
  it sent: weighted scores, means, the population standard deviation, competition ranking with
  ties (1, 1, 3), companies without a submitted sheet last and unranked, per-evaluator progress,
  completion; only submitted and reviewed sheets count;
- GET /api/projects/{id}/export?format=csv is parsed back with the csv module (BOM, Korean,
  quoting, formula-looking cells neutralised with an apostrophe, one row per sheet x item) and
  format=xlsx with openpyxl (two sheets, numbers as numbers, no formula cell);
- roles, unknown and malformed ids, bad formats.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import unquote

import pytest
import requests

pytest.register_assert_rewrite("authkit")

from authkit import Login, Stack, assert_error, describe, unique
from conftest import _psql

pytest_plugins = ["authkit"]

KOREAN = "한국 평가 주식회사"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COMPANY_KEYS = {"company_id", "name", "registration_number", "submitted", "assigned",
                "mean_total", "mean_weighted", "stddev_weighted", "rank"}
EVALUATOR_KEYS = {"evaluator_id", "user_name", "assigned", "submitted", "completion"}
RESULTS_HEADER = ["rank", "company", "registration_number", "assigned", "submitted", "mean_total",
                  "mean_weighted", "stddev_weighted"]
SCORES_HEADER = ["company", "registration_number", "evaluator", "template", "category", "item",
                 "score", "min_score", "max_score", "weight", "opinion", "sheet_status",
                 "sheet_total", "sheet_weighted", "submitted_at"]


# --- registration numbers (check digit weights 1,3,7,1,3,7,1,3,5) ------------------------------

def check_digit(nine: str) -> str:
    weights = [1, 3, 7, 1, 3, 7, 1, 3, 5]
    total = sum(int(d) * w for d, w in zip(nine, weights)) + int(nine[8]) * 5 // 10
    return str((10 - total % 10) % 10)


_numbers = iter(range(30_000_000, 99_999_999, 7))


def reg_number() -> str:
    nine = "3" + str(next(_numbers))
    d = nine + check_digit(nine)
    return f"{d[:3]}-{d[3:5]}-{d[5:]}"


def test_check_digit_of_published_numbers():
    # Published numbers pass; 211-86-21505 (given as valid in the brief) does not: its check
    # digit under weights 1,3,7,1,3,7,1,3,5 is 2.
    for n in ("220-81-62517", "124-81-00998", "120-81-47521"):
        d = n.replace("-", "")
        assert check_digit(d[:9]) == d[9], n
    assert check_digit("211862150") == "2"


# --- what this file expects, computed independently --------------------------------------------

def weighted(items: list[dict], scores: dict[str, float]) -> float | None:
    """sum(score/max*weight)/sum(weight)*100 over the scored items (DOMAIN.md)."""
    num = den = 0.0
    for it in items:
        if it["id"] in scores:
            num += scores[it["id"]] / it["max_score"] * it["weight"]
            den += it["weight"]
    return None if den == 0 else num / den * 100


def competition_ranks(means: dict[str, float | None]) -> dict[str, int | None]:
    ranked = sorted((m, cid) for cid, m in means.items() if m is not None)
    ranked.sort(key=lambda t: -t[0])
    out: dict[str, int | None] = {cid: None for cid, m in means.items() if m is None}
    for i, (m, cid) in enumerate(ranked):
        prev = ranked[i - 1][0] if i else None
        out[cid] = out[ranked[i - 1][1]] if prev is not None and math.isclose(prev, m,
                                                                               abs_tol=1e-9) \
            else i + 1
    return out


# --- the world -----------------------------------------------------------------------------------

@dataclass
class Sheet:
    id: str
    company: str  # key in World.companies
    evaluator: str  # key in World.evaluators
    scores: dict[str, tuple[float | None, str | None]] = field(default_factory=dict)
    status: str = "assigned"
    total: float | None = None
    weighted: float | None = None


@dataclass
class World:
    st: Stack
    engine: str
    url: str
    admin: Login
    sec: Login
    evaluators: dict[str, Login]
    project: dict
    empty_project: dict
    template: dict
    companies: dict[str, dict]
    sheets: list[Sheet]

    def call(self, method, path, who=None, **kw) -> requests.Response:
        who = self.sec if who is None else who
        return self.st.call(method, path, who.token if who else None, **kw)

    def ok(self, method, path, who=None, status=200, **kw):
        res = self.call(method, path, who, **kw)
        assert res.status_code == status, describe(res)
        return res.json() if res.content else None

    def results(self, project_id=None) -> dict:
        return self.ok("GET", f"/api/projects/{project_id or self.project['id']}/results")

    def export(self, fmt: str, project_id=None, who=None) -> requests.Response:
        res = self.call("GET", f"/api/projects/{project_id or self.project['id']}/export",
                        who, params={"format": fmt})
        assert res.status_code == 200, describe(res)
        return res

    def item(self, name: str) -> dict:
        return next(i for i in self.template["items"] if i["name"] == name)


def build_world(st: Stack, engine: str, url: str) -> World:
    admin = st.login(st.admin)
    sec = st.login(st.create_user("secretary"))
    evaluators = {k: st.login(st.create_user("evaluator")) for k in ("e1", "e2", "e3")}

    def ok(method, path, who, status=200, **kw):
        res = st.call(method, path, who.token, **kw)
        assert res.status_code == status, describe(res)
        return res.json()

    project = ok("POST", "/api/projects", sec, 201,
                 json={"name": unique("2026 중소기업 지원사업 "), "description": KOREAN})
    empty_project = ok("POST", "/api/projects", sec, 201, json={"name": unique("빈 사업 ")})
    names = {
        "A": KOREAN,
        "B": '=HYPERLINK("http://evil.example","클릭")',
        "C": "@위험 주식회사",
        "D": "-마이너스 상사",
        "E": "+플러스 (미배정)",
        "F": '새싹 벤처, "따옴표" 회사',
    }
    companies = {k: ok("POST", f"/api/projects/{project['id']}/companies", sec, 201,
                       json={"name": n, "registration_number": reg_number()})
                 for k, n in names.items()}
    tpl = ok("POST", "/api/templates", sec, 201, json={
        "name": unique("평가표 "), "project_id": project["id"],
        "items": [
            {"name": "사업성", "min_score": 0, "max_score": 10, "weight": 1, "category": "사업"},
            {"name": "기술성", "min_score": 0, "max_score": 100, "weight": 2,
             "category": "=cmd|' /C calc'!A0"},
            {"name": "가점", "min_score": 0, "max_score": 5, "weight": 1, "is_required": False,
             "category": "가점"},
        ]})
    ok("POST", f"/api/templates/{tpl['id']}/activate", sec)
    tpl = ok("GET", f"/api/templates/{tpl['id']}", sec)
    items = {i["name"]: i["id"] for i in tpl["items"]}
    i1, i2, i3 = items["사업성"], items["기술성"], items["가점"]

    # company, evaluator, scores (None: leave the sheet alone), submit, review
    plan = [
        ("A", "e1", {i1: (10, "좋음,\n우수"), i2: (70, "=1+2")}, True, False),
        ("A", "e2", {i1: (10, None), i2: (85, "+82 10")}, True, False),
        ("A", "e3", None, False, False),
        ("B", "e1", {i1: (10, "@SUM(A1)"), i2: (77.5, None)}, True, False),
        ("B", "e2", {i1: (10, None), i2: (77.5, "-감점 없음")}, True, True),
        ("C", "e1", {i1: (6, "\t탭으로 시작"), i2: (60, None)}, True, True),
        ("D", "e2", {i1: (9, "임시 저장")}, False, False),
        ("D", "e3", None, False, False),
        ("F", "e1", {i1: (5, None), i2: (50, None)}, True, False),
        ("F", "e2", {i1: (6, None), i2: (60, None), i3: (5, "가점 만점")}, True, False),
        ("F", "e3", {i1: (10, None), i2: (100, None)}, True, False),
    ]
    sheets = []
    for company, ev, scores, submit, review in plan:
        sheet = ok("POST", "/api/assignments", sec, 201, json={
            "project_id": project["id"], "evaluator_id": evaluators[ev].user_id,
            "company_id": companies[company]["id"], "template_id": tpl["id"]})
        s = Sheet(sheet["id"], company, ev)
        if scores is not None:
            body = {"version": sheet["version"],
                    "scores": [{"item_id": k, "score": v, "opinion": o}
                               for k, (v, o) in scores.items()]}
            saved = ok("PUT", f"/api/evaluations/{s.id}", evaluators[ev], json=body)
            s.scores = scores
            s.status = "in_progress"
            if submit:
                done = ok("POST", f"/api/evaluations/{s.id}/submit", evaluators[ev],
                          json={"version": saved["version"]})
                s.status = "submitted"
                s.total, s.weighted = done["total_score"], done["weighted_score"]
            if review:
                ok("POST", f"/api/evaluations/{s.id}/review", sec)
                s.status = "reviewed"
        sheets.append(s)
    return World(st, engine, url, admin, sec, evaluators, project, empty_project, tpl, companies,
                 sheets)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, module_evald, tmp_path_factory):
    d = tmp_path_factory.mktemp("results-" + request.param)
    if request.param == "sqlite":
        url = f"sqlite://{d}/results.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_results_{unique('m')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    return build_world(Stack(module_evald, url, d), request.param, url)


def expected(w: World) -> dict:
    """The results, from the scores this file sent."""
    counted = [s for s in w.sheets if s.status in ("submitted", "reviewed")]
    out = {}
    for key, c in w.companies.items():
        mine = [s for s in w.sheets if s.company == key]
        done = [s for s in counted if s.company == key]
        ws = [weighted(w.template["items"], {k: v for k, (v, _) in s.scores.items()})
              for s in done]
        totals = [sum(v for v, _ in s.scores.values()) for s in done]
        out[c["id"]] = {
            "company_id": c["id"], "name": c["name"],
            "registration_number": c["registration_number"],
            "assigned": len(mine), "submitted": len(done),
            "mean_total": statistics.fmean(totals) if totals else None,
            "mean_weighted": statistics.fmean(ws) if ws else None,
            "stddev_weighted": statistics.pstdev(ws) if ws else None,
        }
    ranks = competition_ranks({cid: e["mean_weighted"] for cid, e in out.items()})
    for cid, r in ranks.items():
        out[cid]["rank"] = r
    return out


def close(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


# --- results -------------------------------------------------------------------------------------

def test_submitted_sheets_carry_the_weighted_score_this_file_computes(world):
    """The sheets' own scores (another service's) agree with the formula, so that the results
    below are checked against numbers that are right."""
    for s in world.sheets:
        if s.status in ("submitted", "reviewed"):
            mine = weighted(world.template["items"], {k: v for k, (v, _) in s.scores.items()})
            assert close(s.weighted, mine), (s, mine)
            assert close(s.total, sum(v for v, _ in s.scores.values())), s


def test_results_per_company(world):
    body = world.results()
    assert set(body) >= {"project_id", "companies", "evaluators", "completion"}, body
    assert body["project_id"] == world.project["id"]
    want = expected(world)
    got = {c["company_id"]: c for c in body["companies"]}
    assert set(got) == set(want)
    for cid, e in want.items():
        g = got[cid]
        assert set(g) == COMPANY_KEYS, g
        for k in ("name", "registration_number", "assigned", "submitted", "rank"):
            assert g[k] == e[k], (k, g, e)
        for k in ("mean_total", "mean_weighted", "stddev_weighted"):
            assert close(g[k], e[k]), (k, g, e)
    # The numbers this world was built to show.
    by_key = {k: got[c["id"]] for k, c in world.companies.items()}
    assert by_key["A"]["rank"] == by_key["B"]["rank"] == 1  # a tie: 85 and 85
    assert by_key["F"]["rank"] == 3  # competition ranking skips 2
    assert by_key["C"]["rank"] == 4
    assert close(by_key["A"]["stddev_weighted"], 5.0)  # population: 80 and 90
    assert close(by_key["C"]["stddev_weighted"], 0.0)  # one sheet
    assert close(by_key["A"]["mean_total"], 87.5)
    # A's third sheet, D's draft and E's absence do not count.
    assert (by_key["A"]["assigned"], by_key["A"]["submitted"]) == (3, 2)
    assert (by_key["D"]["assigned"], by_key["D"]["submitted"]) == (2, 0)
    assert (by_key["E"]["assigned"], by_key["E"]["submitted"]) == (0, 0)
    for k in ("D", "E"):
        assert by_key[k]["rank"] is None and by_key[k]["mean_weighted"] is None
        assert by_key[k]["mean_total"] is None and by_key[k]["stddev_weighted"] is None


def test_results_order_is_ranked_first_then_unranked(world):
    companies = world.results()["companies"]
    ranks = [c["rank"] for c in companies]
    ranked = [r for r in ranks if r is not None]
    assert ranks == ranked + [None] * (len(ranks) - len(ranked)), ranks
    assert ranked == sorted(ranked)
    means = [c["mean_weighted"] for c in companies if c["rank"] is not None]
    assert all(a >= b - 1e-9 for a, b in zip(means, means[1:])), means
    # Korean names round-trip.
    assert KOREAN in {c["name"] for c in companies}


def test_results_per_evaluator_and_completion(world):
    body = world.results()
    counted = ("submitted", "reviewed")
    want = {}
    for key, login in world.evaluators.items():
        mine = [s for s in world.sheets if s.evaluator == key]
        want[login.user_id] = (login.user["user_name"], len(mine),
                               sum(s.status in counted for s in mine))
    got = {e["evaluator_id"]: e for e in body["evaluators"]}
    assert set(got) == set(want)
    for eid, (name, assigned, submitted) in want.items():
        e = got[eid]
        assert set(e) == EVALUATOR_KEYS, e
        assert (e["user_name"], e["assigned"], e["submitted"]) == (name, assigned, submitted), e
        assert close(e["completion"], submitted / assigned)
    total = len(world.sheets)
    done = sum(s.status in counted for s in world.sheets)
    assert (total, done) == (11, 8)
    assert body["assigned"] == total and body["submitted"] == done
    assert close(body["completion"], done / total)


def test_results_of_an_empty_project(world):
    body = world.results(world.empty_project["id"])
    assert body["companies"] == [] and body["evaluators"] == []
    assert body["assigned"] == 0 and body["submitted"] == 0 and body["completion"] == 0


def test_results_refusals(world):
    pid = world.project["id"]
    for who in world.evaluators.values():
        assert_error(world.call("GET", f"/api/projects/{pid}/results", who), 403,
                     "INSUFFICIENT_PERMISSIONS")
        assert_error(world.call("GET", f"/api/projects/{pid}/export", who,
                                params={"format": "csv"}), 403, "INSUFFICIENT_PERMISSIONS")
    res = world.st.call("GET", f"/api/projects/{pid}/results")
    assert_error(res, 401, "AUTH_FAILED")
    for bad in (str(uuid.uuid4()), "not-a-uuid", "1' OR '1'='1", world.companies["A"]["id"]):
        for path in (f"/api/projects/{bad}/results", f"/api/projects/{bad}/export"):
            assert_error(world.call("GET", path), 404, "NOT_FOUND")
    # The admin may, like the secretary.
    assert world.ok("GET", f"/api/projects/{pid}/results", world.admin)["project_id"] == pid


# --- CSV -------------------------------------------------------------------------------------------

def disposition_name(res: requests.Response) -> tuple[str, str]:
    """(the ASCII fallback, the UTF-8 filename*) of an attachment."""
    cd = res.headers["Content-Disposition"]
    assert cd.startswith("attachment;"), cd
    fallback = cd.split('filename="', 1)[1].split('"', 1)[0]
    star = cd.split("filename*=UTF-8''", 1)[1].split(";", 1)[0]
    assert all(32 <= ord(ch) < 127 for ch in fallback), cd
    return fallback, unquote(star, encoding="utf-8", errors="strict")


def sections(text: str) -> dict[str, list[list[str]]]:
    rows = list(csv.reader(io.StringIO(text, newline="")))
    out, current = {}, None
    for r in rows:
        if not r:
            current = None
            continue
        if current is None:
            assert len(r) == 1, r
            current = r[0]
            out[current] = []
            continue
        out[current].append(r)
    return out


def neutral(text: str) -> str:
    return "'" + text if text.startswith(FORMULA_START) else text


def test_csv_export(world):
    res = world.export("csv")
    assert res.headers["Content-Type"].lower().replace(" ", "") == "text/csv;charset=utf-8"
    assert res.content.startswith(b"\xef\xbb\xbf"), res.content[:10]
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    fallback, name = disposition_name(res)
    assert name in (f"{world.project['name']}-results-{today}.csv",)
    assert fallback.endswith(".csv")
    text = res.content[3:].decode("utf-8")
    s = sections(text)
    assert list(s) == ["Results", "Scores"], list(s)

    results = world.results()["companies"]
    assert s["Results"][0] == RESULTS_HEADER
    rows = s["Results"][1:]
    assert len(rows) == len(results)
    fmt = lambda v: "" if v is None else f"{v:.2f}"  # noqa: E731
    for row, c in zip(rows, results):
        assert row == ["" if c["rank"] is None else str(c["rank"]), neutral(c["name"]),
                       c["registration_number"], str(c["assigned"]), str(c["submitted"]),
                       fmt(c["mean_total"]), fmt(c["mean_weighted"]),
                       fmt(c["stddev_weighted"])], (row, c)
    names = [r[1] for r in rows]
    assert KOREAN in names
    assert '\'=HYPERLINK("http://evil.example","클릭")' in names
    assert {"'@위험 주식회사", "'-마이너스 상사", "'+플러스 (미배정)", '새싹 벤처, "따옴표" 회사'} <= \
        set(names)

    assert s["Scores"][0] == SCORES_HEADER
    scores = s["Scores"][1:]
    counted = [x for x in world.sheets if x.status in ("submitted", "reviewed")]
    assert len(scores) == len(counted) * len(world.template["items"]) == 24
    col = {h: i for i, h in enumerate(SCORES_HEADER)}
    items = {i["name"]: i for i in world.template["items"]}
    by_name = {c["name"]: k for k, c in world.companies.items()}
    ev_name = {k: v.user["user_name"] for k, v in world.evaluators.items()}
    seen = set()
    for r in scores:
        company = next(k for n, k in by_name.items() if neutral(n) == r[col["company"]])
        it = items[r[col["item"]]]
        sheet = next(x for x in counted if x.company == company and
                     ev_name[x.evaluator] == r[col["evaluator"]])
        assert (sheet.id, it["id"]) not in seen, r
        seen.add((sheet.id, it["id"]))
        score, opinion = sheet.scores.get(it["id"], (None, None))
        assert r[col["score"]] == ("" if score is None else f"{score:g}"), r
        assert r[col["opinion"]] == ("" if opinion is None else neutral(opinion)), r
        assert r[col["template"]] == world.template["name"]
        assert r[col["category"]] == neutral(it["category"]), r
        assert r[col["registration_number"]] == world.companies[company]["registration_number"]
        assert r[col["sheet_status"]] == sheet.status
        assert float(r[col["sheet_weighted"]]) == pytest.approx(sheet.weighted, abs=0.005)
    assert len(seen) == 24
    # Neutralised everywhere; a multi-line, comma-holding opinion survived the quoting.
    for r in s["Results"] + s["Scores"]:
        for cell in r:
            assert not cell.startswith(FORMULA_START), (cell, r)
    assert "좋음,\n우수" in {r[col["opinion"]] for r in scores}
    assert "'=cmd|' /C calc'!A0" in {r[col["category"]] for r in scores}
    assert {"'=1+2", "'+82 10", "'@SUM(A1)", "'-감점 없음", "'\t탭으로 시작"} <= \
        {r[col["opinion"]] for r in scores}
    # Drafts and untouched sheets are not exported.
    assert "임시 저장" not in text


def test_csv_export_of_an_empty_project(world):
    res = world.export("csv", world.empty_project["id"])
    s = sections(res.content[3:].decode("utf-8"))
    assert s == {"Results": [RESULTS_HEADER], "Scores": [SCORES_HEADER]}


def test_csv_is_the_default_format(world):
    res = world.call("GET", f"/api/projects/{world.project['id']}/export")
    assert res.status_code == 200, describe(res)
    assert res.headers["Content-Type"].startswith("text/csv")
    assert res.content.startswith(b"\xef\xbb\xbfResults")


def test_export_bad_format(world):
    for fmt in ("pdf", "CSV", "", "xlsx;csv", "../../etc/passwd"):
        res = world.call("GET", f"/api/projects/{world.project['id']}/export",
                         params={"format": fmt})
        body = assert_error(res, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in body["details"]] == ["format"], body


# --- XLSX ----------------------------------------------------------------------------------------

def test_xlsx_export(world):
    openpyxl = pytest.importorskip("openpyxl")
    res = world.export("xlsx")
    assert res.headers["Content-Type"] == XLSX_TYPE
    assert res.content.startswith(b"PK\x03\x04")
    today = datetime.now(timezone.utc).strftime("%Y%m%d")
    _, name = disposition_name(res)
    assert name == f"{world.project['name']}-results-{today}.xlsx"
    wb = openpyxl.load_workbook(io.BytesIO(res.content))
    assert wb.sheetnames == ["Results", "Scores"]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_START), (cell.coordinate, cell.value)

    results = world.results()["companies"]
    rows = list(wb["Results"].iter_rows(values_only=True))
    assert list(rows[0]) == RESULTS_HEADER
    assert len(rows) == len(results) + 1
    for row, c in zip(rows[1:], results):
        assert row[0] == c["rank"]
        assert row[1] == neutral(c["name"])
        assert row[2] == c["registration_number"]
        assert (row[3], row[4]) == (c["assigned"], c["submitted"])
        for got, want in zip(row[5:8], (c["mean_total"], c["mean_weighted"],
                                        c["stddev_weighted"])):
            assert close(got, want), (row, c)
    scores = list(wb["Scores"].iter_rows(values_only=True))
    assert list(scores[0]) == SCORES_HEADER
    assert len(scores) == 25
    col = {h: i for i, h in enumerate(SCORES_HEADER)}
    opinions = {r[col["opinion"]] for r in scores[1:]}
    assert {"좋음,\n우수", "'=1+2", "'+82 10", "'@SUM(A1)"} <= opinions
    assert all(isinstance(r[col["max_score"]], (int, float)) for r in scores[1:])
    assert KOREAN in {r[col["company"]] for r in scores[1:]}


def test_xlsx_export_of_an_empty_project(world):
    openpyxl = pytest.importorskip("openpyxl")
    res = world.export("xlsx", world.empty_project["id"])
    wb = openpyxl.load_workbook(io.BytesIO(res.content))
    assert [list(r) for r in wb["Results"].iter_rows(values_only=True)] == [RESULTS_HEADER]
    assert [list(r) for r in wb["Scores"].iter_rows(values_only=True)] == [SCORES_HEADER]


def test_results_and_exports_follow_a_new_submission(world):
    """A sheet submitted after a first read shows in the next one (nothing stale is served)."""
    sec, ev = world.sec, world.evaluators["e3"]
    p = world.ok("POST", "/api/projects", status=201, json={"name": unique("추가 사업 ")})
    c = world.ok("POST", f"/api/projects/{p['id']}/companies", status=201,
                 json={"name": unique("늦은 제출 "), "registration_number": reg_number()})
    tpl = world.ok("POST", "/api/templates", status=201, json={
        "name": unique("평가표 "), "project_id": p["id"],
        "items": [{"name": "종합", "min_score": 0, "max_score": 20, "weight": 3}]})
    world.ok("POST", f"/api/templates/{tpl['id']}/activate")
    item = world.ok("GET", f"/api/templates/{tpl['id']}")["items"][0]["id"]
    sheet = world.ok("POST", "/api/assignments", status=201, json={
        "project_id": p["id"], "evaluator_id": ev.user_id, "company_id": c["id"],
        "template_id": tpl["id"]})
    before = world.results(p["id"])
    assert before["companies"][0]["rank"] is None and before["completion"] == 0
    assert "종합" not in world.export("csv", p["id"]).content.decode("utf-8")
    saved = world.ok("PUT", f"/api/evaluations/{sheet['id']}", ev, json={
        "version": sheet["version"], "scores": [{"item_id": item, "score": 15}]})
    world.ok("POST", f"/api/evaluations/{sheet['id']}/submit", ev,
             json={"version": saved["version"]})
    after = world.results(p["id"])
    mine = after["companies"][0]
    assert mine["rank"] == 1 and close(mine["mean_weighted"], 75.0)
    assert close(mine["mean_total"], 15.0) and close(mine["stddev_weighted"], 0.0)
    assert (after["assigned"], after["submitted"], after["completion"]) == (1, 1, 1)
    s = sections(world.export("csv", p["id"]).content[3:].decode("utf-8"))
    assert len(s["Scores"]) == 2 and s["Scores"][1][5] == "종합" and s["Scores"][1][6] == "15"
