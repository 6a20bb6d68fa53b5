"""What the bench scripts' summaries share: the result lines run_wrk (bench/lib.sh) writes, read
back, and their medians over rounds."""

from __future__ import annotations

import os
import re
import statistics

CLK_TCK = os.sysconf("SC_CLK_TCK")


def load(path: str) -> dict[str, list[dict[str, float]]]:
    """name -> one dict per run: rps, p50, p99, p999 (us), errors, non2xx, requests, cpu_ticks."""
    rows: dict[str, list[dict[str, float]]] = {}
    with open(path) as f:
        for line in f:
            name, rest = line.split(" ", 1)
            vals = dict(kv.split("=") for kv in re.findall(r"\w+=[\d.]+", rest))
            rows.setdefault(name, []).append({k: float(v) for k, v in vals.items()})
    return rows


def cpu_us_per_request(run: dict[str, float]) -> float:
    """The server processes' CPU time per answered request, in microseconds."""
    if not run.get("requests"):
        return float("nan")
    return run.get("cpu_ticks", 0) / CLK_TCK * 1e6 / run["requests"]


class Results:
    def __init__(self, path: str):
        self.rows = load(path)

    def med(self, name: str, key: str) -> float:
        if key == "cpu":
            return statistics.median(cpu_us_per_request(r) for r in self.rows[name])
        return statistics.median(r[key] for r in self.rows[name])

    def ratios(self, base: str, name: str, key: str = "rps") -> list[float]:
        """Round by round, `name`'s value over `base`'s (the k-th run of each is round k): a
        drift of the machine during the bench moves both sides of a pair alike."""
        return [r[key] / b[key] for b, r in zip(self.rows[base], self.rows[name]) if b[key]]

    def cpu_diffs(self, base: str, name: str) -> list[float]:
        """Round by round, `name`'s CPU per request minus `base`'s, in microseconds."""
        return [cpu_us_per_request(r) - cpu_us_per_request(b)
                for b, r in zip(self.rows[base], self.rows[name])]

    def errors(self, name: str) -> int:
        return int(sum(r["errors"] + r["non2xx"] for r in self.rows[name]))

    def ms(self, name: str, key: str) -> str:
        return f"{self.med(name, key) / 1000:.2f}"

    def cpu(self, name: str) -> str:
        """CPU per request, with the precision the clock ticks allow (10 ms per tick)."""
        v = self.med(name, "cpu")
        return f"{v:.0f}" if v >= 100 else f"{v:.1f}"
