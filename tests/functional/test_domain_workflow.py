"""The whole workflow, in the order an agency lives it, on SQLite and PostgreSQL: a secretary
signs up and is approved, imports companies from CSV, builds a template, invites and assigns
evaluators in batches; the evaluators score and submit; the agency reads the results, exports
them (parsed back and checked) and keeps the companies' files. Each step's finer rules have
their own suites (test_domain_*.py); this one proves the steps fit together."""

from __future__ import annotations

import csv
import io
import statistics
import time

import openpyxl
import pytest

from authkit import PASSWORD, Stack, assert_error, describe, unique
from conftest import _psql

WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
KOREAN = "한국 평가 주식회사"
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
       b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def business_number(seed: int) -> str:
    d = [int(c) for c in f"{220810000 + seed * 13:09d}"]
    total = sum(a * b for a, b in zip(d, WEIGHTS)) + d[8] * 5 // 10
    d.append((10 - total % 10) % 10)
    s = "".join(map(str, d))
    return f"{s[:3]}-{s[3:5]}-{s[5:]}"


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(request, evald, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite://{tmp_path}/workflow.db"
    else:
        base = request.getfixturevalue("postgres_url")
        name = f"evald_workflow_{unique('w')}_{int(time.time() * 1000) % 10**9}"
        _psql(base, f"CREATE DATABASE {name}")
        url = base.rsplit("/", 1)[0] + "/" + name
    return Stack(evald, url, tmp_path, DATA_DIR=str(tmp_path / "data"))


def test_sign_up_to_export_and_files(stack):
    st = stack

    def ok(method, path, who=None, status=200, **kw):
        res = st.call(method, path, who.token if who else None, **kw)
        assert res.status_code == status, f"{method} {path}: {describe(res)}"
        return res.json() if res.content and "json" in res.headers.get("Content-Type", "") \
            else res

    # 1. A secretary signs up; until an admin approves, they cannot sign in.
    sec_login = unique("sec-")
    ok("POST", "/auth/secretary-signup", status=202, json={
        "name": "김간사", "login_id": sec_login, "email": f"{sec_login}@agency.example",
        "phone": "010-1234-5678", "reason": "2026 지원사업 운영", "password": PASSWORD})
    assert st.try_login(sec_login, PASSWORD).status_code == 401
    admin = st.login(st.admin)
    pending = ok("GET", "/api/admin/secretary-requests?status=pending", admin)["items"]
    request_id = next(r["id"] for r in pending if r["login_id"] == sec_login)
    ok("POST", f"/api/admin/secretary-requests/{request_id}/approve", admin, status=201)
    sec = st.login(sec_login, PASSWORD)
    assert sec.user["role"] == "secretary"

    # 2. Evaluators in one batch (passwords given, so they can sign in at once).
    names = ["이평가", "박심사", "최위원"]
    batch = ok("POST", "/api/evaluators/batch", sec, status=201, json={"evaluators": [
        {"login_id": unique("ev-"), "email": f"{unique('ev')}@review.example", "user_name": n,
         "password": PASSWORD} for n in names]})
    assert batch["created"] == 3
    evaluators = [st.login(e["login_id"], PASSWORD) for e in batch["items"]]

    # 3. A project and its companies from a CSV upload (a BOM, Korean, a formula-looking name).
    project = ok("POST", "/api/projects", sec, status=201, json={
        "name": "2026 혁신 바우처", "start_date": "2026-01-05", "end_date": "2026-12-18",
        "deadline": "2099-12-31T18:00:00+09:00"})
    assert project["deadline"] == "2099-12-31T09:00:00.000Z"
    rows = [("name", "registration_number", "representative"),
            (KOREAN, business_number(1), "홍길동"),
            ("=HYPERLINK(\"http://evil.example\")", business_number(2), "김대표"),
            ("새싹, \"벤처\"", business_number(3), "이대표")]
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    imported = ok("POST", "/api/companies/batch", sec, status=201,
                  data={"project_id": project["id"]},
                  files={"file": ("회사.csv", ("\ufeff" + buf.getvalue()).encode(), "text/csv")})
    assert imported["created"] == 3
    companies = {c["name"]: c for c in imported["items"]}
    assert set(companies) == {r[0] for r in rows[1:]}

    # 4. A template: built as a draft, then activated.
    tpl = ok("POST", "/api/templates", sec, status=201, json={
        "name": "평가표", "project_id": project["id"], "items": [
            {"name": "기술성", "min_score": 0, "max_score": 40, "weight": 2},
            {"name": "사업성", "min_score": 0, "max_score": 30, "weight": 1},
            {"name": "가점", "min_score": 0, "max_score": 5, "weight": 1, "is_required": False}]})
    assert tpl["status"] == "draft"
    ok("POST", f"/api/templates/{tpl['id']}/activate", sec)
    items = {i["name"]: i for i in ok("GET", f"/api/templates/{tpl['id']}", sec)["items"]}

    # 5. Every evaluator on every company, in one batch.
    pairs = [{"evaluator_id": e.user_id, "company_id": c["id"]}
             for e in evaluators for c in companies.values()]
    assigned = ok("POST", "/api/assignments/batch", sec, status=201, json={
        "project_id": project["id"], "template_id": tpl["id"], "pairs": pairs})
    assert assigned["created"] == 9

    # 6. Each evaluator sees only their own sheets, saves a draft, then submits.
    scores = {}  # (evaluator index, company name) -> (기술성, 사업성)
    for n, ev in enumerate(evaluators):
        mine = ok("GET", f"/api/assignments?project_id={project['id']}", ev)["items"]
        assert len(mine) == 3 and {s["evaluator_id"] for s in mine} == {ev.user_id}
        for sheet in mine:
            company = next(c for c in companies.values() if c["id"] == sheet["company_id"])
            # Scores that differ by company (distinct means, distinct ranks) and by evaluator.
            k = sorted(companies).index(company["name"])
            tech, biz = 20 + 5 * n + 3 * k, 10 + 4 * n + k
            scores[(n, company["name"])] = (tech, biz)
            draft = ok("PUT", f"/api/evaluations/{sheet['id']}", ev, json={
                "version": sheet["version"], "opinion": "종합 의견",
                "scores": [{"item_id": items["기술성"]["id"], "score": tech, "opinion": "우수"},
                           {"item_id": items["사업성"]["id"], "score": biz}]})
            assert draft["status"] == "in_progress"
            done = ok("POST", f"/api/evaluations/{sheet['id']}/submit", ev,
                      json={"version": draft["version"]})
            assert done["status"] == "submitted" and done["total_score"] == tech + biz
        # Another evaluator's sheet does not exist for them.
        other = ok("GET", f"/api/assignments?project_id={project['id']}", evaluators[n - 1])
        assert_error(st.get(f"/api/evaluations/{other['items'][0]['id']}", ev.token), 404,
                     "NOT_FOUND")

    # 7. Results, checked against this test's own arithmetic.
    def weighted(tech, biz):
        return (tech / 40 * 2 + biz / 30 * 1) / 3 * 100

    results = ok("GET", f"/api/projects/{project['id']}/results", sec)
    assert (results["assigned"], results["submitted"], results["completion"]) == (9, 9, 1)
    means = {}
    for c in results["companies"]:
        w = [weighted(*scores[(n, c["name"])]) for n in range(3)]
        means[c["name"]] = statistics.fmean(w)
        assert c["mean_weighted"] == pytest.approx(means[c["name"]], abs=1e-9)
        assert c["stddev_weighted"] == pytest.approx(statistics.pstdev(w), abs=1e-9)
        assert c["mean_total"] == pytest.approx(
            statistics.fmean(sum(scores[(n, c["name"])]) for n in range(3)))
    order = sorted(means, key=lambda k: -means[k])
    assert [c["name"] for c in results["companies"]] == order
    assert [c["rank"] for c in results["companies"]] == [1, 2, 3]
    assert all(e["submitted"] == 3 for e in results["evaluators"])

    # 8. Exports, parsed back: Korean intact, formulas neutralised, the same numbers.
    res = st.get(f"/api/projects/{project['id']}/export?format=csv", sec.token)
    assert res.status_code == 200 and res.content.startswith(b"\xef\xbb\xbf"), describe(res)
    text = res.content.decode("utf-8-sig")
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert KOREAN in cells and "새싹, \"벤처\"" in cells
    assert "'=HYPERLINK(\"http://evil.example\")" in cells
    assert not any(c.startswith(("=", "+", "@")) for c in cells)
    res = st.get(f"/api/projects/{project['id']}/export?format=xlsx", sec.token)
    assert res.status_code == 200, describe(res)
    book = openpyxl.load_workbook(io.BytesIO(res.content))
    assert book.sheetnames == ["Results", "Scores"]
    values = [c.value for row in book["Results"].iter_rows() for c in row]
    assert KOREAN in values and "'=HYPERLINK(\"http://evil.example\")" in values
    scored = [c.value for row in book["Scores"].iter_rows() for c in row]
    assert scored.count("기술성") == 9

    # 9. A company's file: uploaded by the secretary, read by an assigned evaluator, byte for
    # byte, under its Korean name; a company no one is assigned to stays invisible to them.
    company = companies[KOREAN]
    up = ok("POST", f"/api/companies/{company['id']}/files", sec, status=201,
            files={"file": ("사업계획서.png", PNG, "application/octet-stream")})
    assert up["content_type"] == "image/png" and up["size_bytes"] == len(PNG)
    got = st.get(f"/api/files/{up['id']}", evaluators[0].token)
    assert got.status_code == 200 and got.content == PNG
    assert "filename*=UTF-8''%EC%82%AC" in got.headers["Content-Disposition"]
    lone = ok("POST", f"/api/projects/{project['id']}/companies", sec, status=201,
              json={"name": "미배정 회사", "registration_number": business_number(4)})
    lone_file = ok("POST", f"/api/companies/{lone['id']}/files", sec, status=201,
                   files={"file": ("a.png", PNG + b"x", "image/png")})
    assert_error(st.get(f"/api/files/{lone_file['id']}", evaluators[0].token), 404, "NOT_FOUND")

    # 10. Submitted sheets are read-only until a secretary reopens one.
    sheet = ok("GET", f"/api/assignments?project_id={project['id']}", evaluators[0])["items"][0]
    assert_error(st.call("PUT", f"/api/evaluations/{sheet['id']}", evaluators[0].token,
                         json={"version": sheet["version"], "scores": []}), 422,
                 "BUSINESS_LOGIC_ERROR")
    ok("POST", f"/api/evaluations/{sheet['id']}/reopen", sec, json={"reason": "재검토"})
    assert ok("GET", f"/api/projects/{project['id']}/results", sec)["submitted"] == 8

    # 11. An evaluator who leaves is deactivated: their token stops at once.
    assert st.me_status(evaluators[2].token) == 200
    st.call("DELETE", f"/api/users/{evaluators[2].user_id}", admin.token)
    assert st.me_status(evaluators[2].token) == 401
