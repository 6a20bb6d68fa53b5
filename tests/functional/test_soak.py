"""A short soak (bench/soak.py, the driver of `make soak`): one evald on SQLite under the realistic
mix at 40 connections for SOAK_SECONDS (default 45): evaluators reading, saving drafts and
submitting, secretaries reopening and reading results, paced sign-ins. No 5xx and no answer
other than each request expects; resident memory, open descriptors and latency flat after the
warm-up, within bounds loose enough for a busy 2-core machine (the ten-minute `make soak`
holds the tight ones)."""

from __future__ import annotations

import os
import sys

from conftest import REPO, run_evald

sys.path.insert(0, str(REPO / "bench"))
import soak  # noqa: E402

SECRET = "soak-test-jwt-secret-0123456789abcdef0123"
RULES = """rules:
  - {scope: per_ip, match: api, limit: 1000000000, window: 60}
  - {scope: per_user, match: default, limit: 1000000000, window: 3600}
  - {scope: global, limit: 1000000000, window: 60}
"""


def test_a_short_soak_keeps_memory_descriptors_and_latency_flat(evald, tmp_path):
    url = f"sqlite://{tmp_path}/soak.db"
    seeded = run_evald(["seed-demo", "--database-url", url, "--companies", "200",
                        "--evaluators", "40", "--sheets-per-company", "10"],
                       env={"LOG_FORMAT": "json"}, cwd=tmp_path, timeout=120)
    assert seeded.returncode == 0, seeded.stderr
    seed = soak.parse_seed_output(seeded.stdout)
    (tmp_path / "rules.yaml").write_text(RULES)
    # As deployed: the access log on, rate limiting on (with rules that never refuse).
    srv = evald(env={"DATABASE_URL": url, "JWT_SECRET": SECRET, "LOG_LEVEL": "info",
                     "RATE_LIMIT_ENABLED": "true",
                     "RATE_LIMIT_RULES": str(tmp_path / "rules.yaml")})
    seconds = float(os.environ.get("SOAK_SECONDS", "45"))
    opt = soak.Options(seconds=seconds, warmup=seconds / 3, interval=seconds / 9 * 2,
                       sample=1, connections=40, secretaries=4, procs=1, login_rate=1,
                       limits=soak.Limits(rss_growth=0.15, fd_slack=2, p50_factor=3,
                                          p99_factor=4))
    report = soak.run(srv.url(""), srv.pid, seed, opt, tmp_path / "soak")
    assert report["failures"] == [], report["text"]
    kinds = report["per_kind"]
    # The mix ran: every kind of request, and the sheets went round (submitted, reopened).
    assert set(kinds) == set(soak.EXPECTED), report["text"]
    assert kinds["submit"]["count"] >= 20 and kinds["reopen"]["count"] >= 20, report["text"]
    assert report["memory"]["rss_first_window_kib"] > report["memory"]["rss_idle_kib"]
