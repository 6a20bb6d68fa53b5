"""`evald seed-demo`: a realistic demo project on either engine, in one transaction, reproducible
by seed, refused in production, and usable at once: its accounts sign in with the printed
password."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import requests

from conftest import _psql, run_evald

WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)


def valid_business_number(s: str) -> bool:
    if not re.fullmatch(r"\d{3}-\d{2}-\d{5}", s):
        return False
    d = [int(c) for c in s.replace("-", "")]
    total = sum(a * b for a, b in zip(d, WEIGHTS)) + d[8] * 5 // 10
    return (10 - total % 10) % 10 == d[9]


def seed(tmp_path: Path, url: str, *args, env: dict | None = None):
    full = {"LOG_FORMAT": "json"}
    full.update(env or {})
    return run_evald(["seed-demo", "--database-url", url, *args], env=full, cwd=tmp_path,
                     timeout=120)


def parse(out: str) -> dict:
    m = re.search(r"seeded project (\S+): (\d+) companies, (\d+) evaluators, (\d+) sheets "
                  r"\((\d+) submitted\), (\d+) scores", out)
    assert m, out
    return {"project": m[1], "companies": int(m[2]), "evaluators": int(m[3]), "sheets": int(m[4]),
            "submitted": int(m[5]), "scores": int(m[6]),
            "secretary": re.search(r"secretary: (\S+)", out)[1],
            "evaluator": re.search(r"evaluators: (\S+)", out)[1],
            "password": re.search(r"password \(every demo account\): (\S+)", out)[1]}


class Engine:
    def __init__(self, kind: str, url: str):
        self.kind, self.url = kind, url

    def rows(self, sql: str) -> list[tuple]:
        if self.kind == "sqlite":
            con = sqlite3.connect(self.url.removeprefix("sqlite://"))
            try:
                return [tuple(r) for r in con.execute(sql).fetchall()]
            finally:
                con.close()
        out = _psql(self.url, sql).strip()
        return [tuple(line.split("|")) for line in out.splitlines() if line]


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path):
    if request.param == "sqlite":
        return Engine("sqlite", f"sqlite://{tmp_path}/demo.db")
    return Engine("postgresql", request.getfixturevalue("fresh_pg_url"))


def test_seeds_a_consistent_project_and_its_accounts_sign_in(engine, tmp_path, evald):
    p = seed(tmp_path, engine.url, "--companies", "40", "--evaluators", "9",
             "--sheets-per-company", "4", "--seed", "7")
    assert p.returncode == 0, p.stderr
    r = parse(p.stdout)
    assert (r["companies"], r["evaluators"], r["sheets"]) == (40, 9, 160)
    assert 0 < r["submitted"] < r["sheets"]
    pid = r["project"]
    numbers = [row[0] for row in engine.rows(
        f"SELECT registration_number FROM companies WHERE project_id = '{pid}'")]
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert all(valid_business_number(n) for n in numbers), numbers
    names = [row[0] for row in engine.rows(f"SELECT name FROM companies WHERE project_id = '{pid}'")]
    assert all("주식회사" in n for n in names), names[:3]
    # Every sheet: distinct evaluators per company, submitted ones carry both scores.
    per_company = engine.rows(
        f"SELECT company_id, COUNT(*), COUNT(DISTINCT evaluator_id) FROM evaluation_sheets "
        f"WHERE project_id = '{pid}' GROUP BY company_id")
    assert len(per_company) == 40
    assert all(int(n) == 4 and int(d) == 4 for _, n, d in per_company)
    done = engine.rows(
        f"SELECT COUNT(*) FROM evaluation_sheets WHERE project_id = '{pid}' AND status IN "
        f"('submitted', 'reviewed') AND total_score IS NOT NULL AND weighted_score IS NOT NULL "
        f"AND submitted_at IS NOT NULL")
    assert int(done[0][0]) == r["submitted"]
    assert int(engine.rows(
        f"SELECT COUNT(*) FROM scores s JOIN evaluation_sheets e ON e.id = s.sheet_id "
        f"WHERE e.project_id = '{pid}'")[0][0]) == r["scores"]
    # Weighted scores lie in 0..100 and agree with the item scores.
    bad = engine.rows(
        f"SELECT e.id FROM evaluation_sheets e WHERE e.project_id = '{pid}' AND e.status = "
        f"'submitted' AND (e.weighted_score < 0 OR e.weighted_score > 100 OR e.total_score <> "
        f"(SELECT SUM(score) FROM scores WHERE sheet_id = e.id))")
    assert bad == []
    # The accounts work at once, with the printed password.
    srv = evald(env={"DATABASE_URL": engine.url,
                     "JWT_SECRET": "seed-demo-tests-jwt-secret-0123456789abcdef"})
    for login in (r["secretary"], r["evaluator"]):
        res = requests.post(srv.url("/auth/login"), json={"login_id": login,
                                                           "password": r["password"]}, timeout=10)
        assert res.status_code == 200, res.text
    wrong = requests.post(srv.url("/auth/login"), json={"login_id": r["secretary"],
                                                         "password": r["password"] + "x"},
                          timeout=10)
    assert wrong.status_code == 401


def test_the_same_seed_gives_the_same_data_and_a_second_run_adds_a_project(tmp_path):
    url = f"sqlite://{tmp_path}/twice.db"
    a = seed(tmp_path, url, "--companies", "5", "--evaluators", "3", "--seed", "42")
    b = seed(tmp_path, url, "--companies", "5", "--evaluators", "3", "--seed", "42")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    ra, rb = parse(a.stdout), parse(b.stdout)
    assert ra["project"] != rb["project"] and ra["secretary"] != rb["secretary"]
    assert ra["password"] != rb["password"]
    e = Engine("sqlite", url)

    def names(pid):
        return [r[0] for r in e.rows(
            f"SELECT name || '|' || registration_number FROM companies WHERE project_id = '{pid}' "
            f"ORDER BY registration_number")]

    assert names(ra["project"]) == names(rb["project"])
    assert ra["submitted"] == rb["submitted"]


def test_refused_in_production_and_with_bad_counts(tmp_path):
    url = f"sqlite://{tmp_path}/prod.db"
    p = seed(tmp_path, url, env={"ENVIRONMENT": "production",
                                 "JWT_SECRET": "seed-demo-tests-jwt-secret-0123456789abcdef"})
    assert p.returncode != 0 and "production" in p.stderr
    assert not Path(f"{tmp_path}/prod.db").exists() or \
        Engine("sqlite", url).rows("SELECT name FROM sqlite_master WHERE name = 'users'") == [] or \
        Engine("sqlite", url).rows("SELECT COUNT(*) FROM users")[0][0] == 0
    for args in (["--companies", "0"], ["--evaluators", "-1"], ["--companies", "many"]):
        q = seed(tmp_path, f"sqlite://{tmp_path}/bad.db", *args)
        assert q.returncode != 0, args
        assert q.stderr.strip(), args
