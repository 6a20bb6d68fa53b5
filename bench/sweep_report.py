#!/usr/bin/python3
"""bench/sweep.sh's summary: the table, sweep.csv and sweep.png (matplotlib, Agg).

    sweep_report.py RESULTS OUT_DIR DURATION ROUNDS UVICORN_WORKERS "evald=KiB nginx=KiB ..."
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import Results  # noqa: E402

LABELS = {("nginx", "ping"): "nginx GET /health/ping",
          ("evald", "ping"): "evald GET /health/ping",
          ("fastapi", "ping"): "FastAPI GET /health/ping",
          ("evald", "me"): "evald GET /auth/me",
          ("fastapi", "me"): "FastAPI GET /auth/me"}
STYLE = {"nginx": ("tab:green", "o"), "evald": ("tab:blue", "s"), "fastapi": ("tab:red", "^")}


def main() -> int:
    results, out, duration, rounds, workers, idle = sys.argv[1:7]
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    r = Results(results)
    idle_kib = dict(kv.split("=") for kv in idle.split())
    rows = []
    for name in r.rows:
        server, endpoint, conns = name.split(":")
        rows.append({"server": server, "endpoint": endpoint, "connections": int(conns),
                     "rps": r.med(name, "rps"), "p50_ms": r.med(name, "p50") / 1000,
                     "p99_ms": r.med(name, "p99") / 1000, "p999_ms": r.med(name, "p999") / 1000,
                     "cpu_us_per_request": r.med(name, "cpu"),
                     "rss_mib": r.med(name, "rss_kib") / 1024,
                     "idle_rss_mib": int(idle_kib[server]) / 1024,
                     "errors": sum(int(x["errors"]) for x in r.rows[name]),
                     "non2xx": sum(int(x["non2xx"]) for x in r.rows[name])})
    order = list(LABELS)
    rows.sort(key=lambda x: (order.index((x["server"], x["endpoint"])), x["connections"]))

    with open(out_dir / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for x in rows:
            w.writerow({k: f"{v:.3f}" if isinstance(v, float) else v for k, v in x.items()})

    print(f"sweep: wrk -t2 -d{duration}, {rounds} round(s) (medians), {os.cpu_count()} cores; "
          f"FastAPI on uvicorn with {workers} workers;\nCPU: the server's user + system time per "
          f"request (all its processes); RSS: resident memory halfway through the run, all its "
          f"processes")
    print(f"{'server and endpoint':<26} {'conns':>6} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
          f"{'p99.9 ms':>9} {'CPU us':>7} {'RSS MiB':>8} {'errors':>7}")
    for x in rows:
        cpu = x["cpu_us_per_request"]
        print(f"{LABELS[(x['server'], x['endpoint'])]:<26} {x['connections']:>6} {x['rps']:>9.0f} "
              f"{x['p50_ms']:>8.2f} {x['p99_ms']:>8.2f} {x['p999_ms']:>9.2f} "
              f"{cpu:>7.{0 if cpu >= 100 else 1}f} {x['rss_mib']:>8.1f} "
              f"{x['errors'] + x['non2xx']:>7}")
    print("idle resident memory (MiB): " + ", ".join(
        f"{k} {int(v) / 1024:.1f}" for k, v in idle_kib.items()))

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 9), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 2]})
    for key, label in LABELS.items():
        pts = [x for x in rows if (x["server"], x["endpoint"]) == key]
        if not pts:
            continue
        color, marker = STYLE[key[0]]
        ls = "-" if key[1] == "ping" else "--"
        xs = [x["connections"] for x in pts]
        top.plot(xs, [x["rps"] for x in pts], ls, color=color, marker=marker, label=label)
        bottom.plot(xs, [x["p99_ms"] for x in pts], ls, color=color, marker=marker, label=label)
    top.set_xscale("log")
    top.set_ylabel("requests per second")
    top.set_ylim(bottom=0)
    top.grid(True, which="both", alpha=0.3)
    top.legend()
    top.set_title(f"Throughput and p99 against connections (wrk -t2 -d{duration}, loopback, "
                  f"{os.cpu_count()} cores shared)")
    bottom.set_yscale("log")
    bottom.set_ylabel("p99 latency (ms)")
    bottom.set_xlabel("connections")
    bottom.grid(True, which="both", alpha=0.3)
    conns = sorted({x["connections"] for x in rows})
    bottom.set_xticks(conns)
    bottom.set_xticklabels([str(c) for c in conns])
    fig.tight_layout()
    fig.savefig(out_dir / "sweep.png", dpi=110)
    print(f"sweep: {out_dir / 'sweep.csv'} and {out_dir / 'sweep.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
