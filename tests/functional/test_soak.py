"""A short soak (bench/soak.py, the driver of `make soak`): one evald on SQLite under the realistic
mix at 40 connections for SOAK_SECONDS (default 45): evaluators reading, saving drafts and
submitting, secretaries reopening and reading results, paced sign-ins. No 5xx and no answer
other than each request expects; resident memory, open descriptors and latency flat after the
warm-up, within bounds loose enough for a busy 2-core machine (the ten-minute `make soak`
holds the tight ones). Under AddressSanitizer (EVALD_BIN of a sanitizer build) resident memory
is not judged: freed memory sits in its quarantine, up to 256 MiB, by design."""

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
    with open(f"/proc/{srv.pid}/maps") as f:
        sanitized = any(lib in f.read() for lib in ("libasan", "libtsan"))
    opt = soak.Options(seconds=seconds, warmup=seconds / 3, interval=seconds / 9 * 2,
                       sample=1, connections=40, secretaries=4, procs=1, login_rate=1,
                       limits=soak.Limits(rss_growth=float("inf") if sanitized else 0.15,
                                          fd_slack=4, p50_factor=3, p99_factor=4))
    report = soak.run(srv.url(""), srv.pid, seed, opt, tmp_path / "soak")
    assert report["failures"] == [], report["text"]
    kinds = report["per_kind"]
    # The mix ran: every kind of request, and the sheets went round (submitted, reopened).
    assert set(kinds) == set(soak.EXPECTED), report["text"]
    assert kinds["submit"]["count"] >= 20 and kinds["reopen"]["count"] >= 20, report["text"]
    assert report["memory"]["rss_first_window_kib"] > report["memory"]["rss_idle_kib"]


def _worker_result(intervals: int, latency_us=lambda i: 2000.0, extra_status=None) -> dict:
    """What one driver process reports: every kind of request answered as expected in every
    interval, at the given latency."""
    hist, status = {}, {}
    for i in range(intervals):
        for kind, code in soak.EXPECTED.items():
            hist[f"{i}|{kind}"] = {soak.bucket(latency_us(i)): 100}
            status[f"{i}|{kind}|{code}"] = 100
    status.update(extra_status or {})
    return {"hist": hist, "status": status, "lag": {soak.bucket(1000): 10}, "samples": [],
            "starved": 0, "reopen_backlog": 0, "cpu_s": 1.0, "hung": 0}


def test_the_judge_fails_a_5xx_growing_memory_or_descriptors_and_unsteady_latency(tmp_path):
    opt = soak.Options(seconds=60, warmup=20, interval=10, sample=1,
                       limits=soak.Limits(rss_growth=0.05, fd_slack=0, p50_factor=1.5,
                                          p99_factor=2))
    seed = {"project": "p", "companies": 1, "evaluators": 1, "sheets": 1}
    flat = [(t, 50_000 + (19_000 if t % 7 == 0 else 0), 80, t * 0.5, t * 0.1) for t in range(60)]

    def judge(samples=flat, result=None):
        return soak.judge(opt, seed, samples, [result or _worker_result(6)], None, tmp_path,
                          (20_000, 20), 1.0)["failures"]

    # Flat, with sign-ins' passing peaks: passes.
    assert judge() == []
    # One 503 among 100,000 answers.
    assert any("5xx" in f for f in judge(result=_worker_result(6, extra_status={"3|save|503": 1})))
    # A 409 where a 200 was expected.
    assert any("other than" in f for f in judge(result=_worker_result(
        6, extra_status={"4|submit|409": 1})))
    # Resident memory rising 200 KiB a second (a leak): 11 % between the first and last intervals.
    leak = [(t, 50_000 + 200 * t, 80, t * 0.5, t * 0.1) for t in range(60)]
    assert [f for f in judge(samples=leak) if "resident memory grew" in f]
    # One descriptor more every ten seconds.
    fds = [(t, 50_000, 80 + t // 10, t * 0.5, t * 0.1) for t in range(60)]
    assert [f for f in judge(samples=fds) if "descriptors grew" in f]
    # The last interval three times slower.
    slow = _worker_result(6, latency_us=lambda i: 6000.0 if i == 5 else 2000.0)
    assert {f[:3] for f in judge(result=slow) if "not steady" in f} == {"p50", "p99"}
