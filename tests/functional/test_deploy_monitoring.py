"""deploy/prometheus and deploy/grafana: promtool check config / check rules / test rules, the
coverage of the alert unit tests, and every series the alerts and the dashboard name checked
against the metrics text of a running evald (Redis, scheduled backups and rate limiting on, some
traffic, so that every family evald can export is there). Each check is shown to fail on a
broken copy.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml

from conftest import RedisServer
from deploykit import DEPLOY, grafana_to_promql, parse_exposition, promql_selectors, selector_problems

PROM = DEPLOY / "prometheus"
RULES = PROM / "rules" / "evald-alerts.yml"
DASHBOARD = DEPLOY / "grafana" / "evald-dashboard.json"
TOKEN = "deploy-monitoring-token-0123456789abcdef"
TOKEN_PATH = "/etc/prometheus/secrets/evald-metrics-token"


def promtool(*args, cwd=None) -> subprocess.CompletedProcess:
    exe = shutil.which("promtool")
    if not exe:
        pytest.fail("promtool is not installed (Debian's prometheus package)", pytrace=False)
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def exported(module_evald, tmp_path_factory):
    """The series of a running evald's /health/metrics: name -> {label -> values}."""
    work = tmp_path_factory.mktemp("monitoring")
    redis = RedisServer(work)
    redis.start()
    try:
        srv = module_evald(env={"METRICS_TOKEN": TOKEN, "REDIS_URL": redis.url,
                                "BACKUP_DIR": str(work / "backups"), "RATE_LIMIT_ENABLED": "true"})
        for method, path in (("GET", "/health/ping"), ("GET", "/no/such/route"),
                             ("GET", "/auth/me"), ("POST", "/auth/login")):
            requests.request(method, srv.url(path), json={"login_id": "nobody", "password": "x"},
                             timeout=10)
        r = requests.get(srv.url("/health/metrics"), timeout=10,
                         headers={"Authorization": f"Bearer {TOKEN}"})
        assert r.status_code == 200, r.text
        yield parse_exposition(r.text)
    finally:
        redis.stop()


# --- scrape config -----------------------------------------------------------------------------

def prometheus_copy(tmp_path: Path, token: bool = True) -> Path:
    """deploy/prometheus in tmp_path, its token file there instead of /etc/prometheus."""
    dst = tmp_path / "prometheus"
    shutil.copytree(PROM, dst)
    conf = dst / "prometheus.yml"
    text = conf.read_text()
    assert TOKEN_PATH in text
    conf.write_text(text.replace(TOKEN_PATH, str(tmp_path / "token")))
    if token:
        (tmp_path / "token").write_text(TOKEN)
    return conf


def test_scrape_config_reads_health_metrics_with_the_bearer_token(tmp_path):
    conf = yaml.safe_load((PROM / "prometheus.yml").read_text())
    jobs = conf["scrape_configs"]
    assert jobs and all(j["metrics_path"] == "/health/metrics" for j in jobs)
    assert all(j["authorization"] == {"type": "Bearer", "credentials_file": TOKEN_PATH}
               for j in jobs)
    assert conf["rule_files"] == ["rules/evald-alerts.yml"]
    p = promtool("check", "config", str(prometheus_copy(tmp_path)))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "1 rule files found" in p.stdout and "SUCCESS: 15 rules found" in p.stdout


def test_promtool_check_config_rejects_a_missing_token_file(tmp_path):
    p = promtool("check", "config", str(prometheus_copy(tmp_path, token=False)))
    assert p.returncode != 0 and "credentials" in p.stdout + p.stderr


# --- alert rules -------------------------------------------------------------------------------

def alert_rules() -> list[dict]:
    return [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]


def test_alert_rules_pass_promtool_and_reject_a_broken_expression(tmp_path):
    p = promtool("check", "rules", str(RULES))
    assert p.returncode == 0, p.stdout + p.stderr
    broken = tmp_path / "broken.yml"
    broken.write_text(RULES.read_text().replace("rate(http_requests_total[5m])",
                                                "rate(http_requests_total[5m]", 1))
    p = promtool("check", "rules", str(broken))
    assert p.returncode != 0, p.stdout


def test_alerts_cover_what_operators_must_hear_about():
    names = {r["alert"] for r in alert_rules()}
    for required in ("EvaldHighErrorRate", "EvaldAuthFailureBurst", "EvaldRateLimitRefusalBurst",
                     "EvaldRateLimiterFallback", "EvaldDatabaseSlow", "EvaldDatabaseDown",
                     "EvaldMailOutboxGrowing", "EvaldFileDescriptorsExhausted",
                     "EvaldMemoryHigh", "EvaldDbPoolExhausted"):
        assert required in names
    for r in alert_rules():
        assert r["labels"]["severity"] in ("warning", "critical"), r["alert"]
        assert r["annotations"]["summary"] and r["annotations"]["description"], r["alert"]


def unit_test_files(root: Path = PROM) -> list[Path]:
    files = sorted((root / "tests").glob("*.test.yml"))
    assert files
    return files


def test_alert_unit_tests_pass():
    p = promtool("test", "rules", *map(str, unit_test_files()))
    assert p.returncode == 0, p.stdout + p.stderr


def test_alert_unit_tests_catch_a_changed_threshold(tmp_path):
    conf = prometheus_copy(tmp_path)
    rules = conf.parent / "rules" / "evald-alerts.yml"
    text = rules.read_text()
    assert text.count("> 0.05") == 1
    rules.write_text(text.replace("> 0.05", "> 0.5"))
    p = promtool("test", "rules", *map(str, unit_test_files(conf.parent)))
    assert p.returncode != 0 and "EvaldHighErrorRate" in p.stdout + p.stderr


def coverage_problems(rules: list[dict], tests: list[dict]) -> list[str]:
    """Alerts without a case where they fire, or without one where they stay quiet."""
    fired, quiet = set(), set()
    for t in tests:
        for check in t.get("alert_rule_test", []):
            (fired if check.get("exp_alerts") else quiet).add(check["alertname"])
    problems = []
    for r in rules:
        if r["alert"] not in fired:
            problems.append(f"{r['alert']}: no case where it fires")
        if r["alert"] not in quiet:
            problems.append(f"{r['alert']}: no case where it stays quiet")
    return problems


def load_unit_tests() -> list[dict]:
    return [t for f in unit_test_files() for t in yaml.safe_load(f.read_text())["tests"]]


def test_every_alert_has_a_firing_and_a_quiet_case():
    tests = load_unit_tests()
    assert coverage_problems(alert_rules(), tests) == []
    for t in tests:  # drop the quiet checks of one alert: the coverage check notices
        t["alert_rule_test"] = [c for c in t["alert_rule_test"]
                                if c["alertname"] != "EvaldMailOutboxGrowing" or c["exp_alerts"]]
    assert coverage_problems(alert_rules(), tests) == \
        ["EvaldMailOutboxGrowing: no case where it stays quiet"]


def test_alert_rules_name_only_series_evald_exports(exported):
    problems = [p for r in alert_rules()
                for p in selector_problems(r["expr"], exported, allow_synthetic=True)]
    assert problems == []
    assert selector_problems('rate(evald_logins_total[5m]) > 0', exported) == \
        ["evald_logins_total: not exported by evald (in 'rate(evald_logins_total[5m]) > 0')"]
    wrong_value = selector_problems('rate_limit_store_mode{store="redis_down"} == 1', exported)
    assert len(wrong_value) == 1 and "never 'redis_down'" in wrong_value[0]
    wrong_word = selector_problems('evald_auth_logins_total{outcome=~"failure|failed"}', exported)
    assert len(wrong_word) == 1 and "never 'failed'" in wrong_word[0]


# --- Grafana -----------------------------------------------------------------------------------

def dashboard_queries(dash: dict) -> list[str]:
    """Every PromQL expression of the dashboard: panel targets, and the selectors of its
    label_values(...) variables."""
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
            m = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", q)
            assert m, f"variable {v['name']}: unexpected query {q!r}"
            exprs.append(m.group(1))
    return exprs


def test_dashboard_is_valid_json_and_covers_the_asked_panels():
    dash = json.loads(DASHBOARD.read_text())
    panels = [p for p in dash["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)) and dash["uid"] and dash["title"]
    for p in panels:
        assert p["targets"] and all(t["expr"] and t["refId"] for t in p["targets"]), p["title"]
        assert p["datasource"]["uid"] == "${datasource}"
    exprs = " ".join(dashboard_queries(dash))
    names = {n for e in dashboard_queries(dash) for n, _ in promql_selectors(e)}
    for family in ("http_requests_total", "http_request_duration_seconds_bucket", "evald_errors_total",
                   "rate_limit_decisions_total", "evald_auth_logins_total",
                   "evald_db_query_duration_seconds_bucket", "evald_db_pool_connections",
                   "evald_cache_hits_total", "process_cpu_seconds_total",
                   "process_resident_memory_bytes", "process_open_fds"):
        assert family in names, f"no panel shows {family}"
    for q in ("0.5", "0.99"):
        assert f"histogram_quantile({q}, sum by (le, route) (rate(http_request_duration_seconds_bucket" in exprs
    assert "sum by (category) (rate(evald_errors_total" in exprs


def recording_rules(exprs: list[str]) -> dict:
    return {"groups": [{"name": "dashboard", "rules": [
        {"record": f"dashboard:q{i}", "expr": grafana_to_promql(e)} for i, e in enumerate(exprs)]}]}


def test_dashboard_queries_are_valid_promql(tmp_path):
    exprs = dashboard_queries(json.loads(DASHBOARD.read_text()))
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(yaml.safe_dump(recording_rules(exprs)))
    p = promtool("check", "rules", str(path))
    assert p.returncode == 0, p.stdout + p.stderr
    path.write_text(yaml.safe_dump(recording_rules(exprs + ["sum(rate(http_requests_total[5m])"])))
    assert promtool("check", "rules", str(path)).returncode != 0


def test_dashboard_names_only_series_evald_exports(exported):
    dash_text = DASHBOARD.read_text()
    exprs = dashboard_queries(json.loads(dash_text))
    assert [p for e in exprs for p in selector_problems(e, exported)] == []
    broken = json.loads(dash_text.replace("evald_cache_hits_total", "evald_cache_hit_total")
                        .replace('outcome=\\"refused\\"', 'outcome=\\"denied\\"'))
    problems = [p for e in dashboard_queries(broken) for p in selector_problems(e, exported)]
    assert any(p.startswith("evald_cache_hit_total: not exported") for p in problems), problems
    assert any("never 'denied'" in p for p in problems), problems
