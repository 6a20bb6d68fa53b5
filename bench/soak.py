#!/usr/bin/python3
"""The soak's load driver, sampler and judge (bench/soak.sh runs it; so does
tests/functional/test_soak.py, shorter).

Against one running evald whose database `evald seed-demo` filled, it runs a realistic mix for a
fixed time from a few worker processes (asyncio, one keep-alive connection per virtual user):

- evaluators (one account each) read /auth/me, the projects, their assignments, a company and
  a sheet, and work through their open sheets: fetch, save a draft one to three times, submit;
- secretaries reopen every sheet the evaluators submit (so the open sheets never run out and
  the data stay the same size), and otherwise read /auth/me, the projects, a page of companies,
  the submitted sheets and the project's results;
- one paced client per worker signs in (argon2id, so few), reads /auth/me and signs out.

Meanwhile it samples the server's resident memory (VmRSS), open file descriptors (/proc/pid/fd)
and CPU time every few seconds, and records every answer's status and latency per interval
(log-scale histograms, 2 % wide). Then it judges: no 5xx and no transport error, no answer other
than the one each request expects, resident memory after the warm-up growing less than a bound,
no file descriptor growth, and per-interval p50 and p99 within a factor of their median.

    soak.py run --url URL --pid PID --seed-output FILE [options]   (see --help)
    soak.py worker CONFIG.json                                      (internal)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import re
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

CLK_TCK = os.sysconf("SC_CLK_TCK")

# --- latency histograms -------------------------------------------------------------------------

SCALE = 50  # buckets per e-fold of latency: each about 2 % wide


def bucket(us: float) -> int:
    return int(math.log(max(us, 1.0)) * SCALE)


def percentile(hist: dict[int, int], p: float) -> float:
    """The p-th percentile (0..100) of a histogram, in microseconds (NaN when empty)."""
    total = sum(hist.values())
    if total == 0:
        return float("nan")
    rank = max(1, math.ceil(total * p / 100.0))
    seen = 0
    for b in sorted(hist):
        seen += hist[b]
        if seen >= rank:
            return math.exp((b + 0.5) / SCALE)
    return math.exp((max(hist) + 0.5) / SCALE)


def merge_into(into: dict[int, int], other: dict) -> None:
    for b, n in other.items():
        into[int(b)] = into.get(int(b), 0) + n


# --- the mix ------------------------------------------------------------------------------------

# What each kind of request must answer; anything else is counted as unexpected.
EXPECTED = {"login": 200, "logout": 200, "me": 200, "projects": 200, "assignments": 200,
            "company": 200, "sheet": 200, "save": 200, "submit": 200, "reopen": 200,
            "companies": 200, "submitted": 200, "results": 200}

# An evaluator's next step: cumulative weights. The rest (15 %) is a step of the sheet work:
# fetch, save or submit.
EVALUATOR_READS = (("me", 0.20), ("projects", 0.30), ("assignments", 0.50), ("company", 0.60),
                   ("sheet", 0.85))
# A secretary reopens whatever was submitted first; otherwise reads (cumulative weights).
SECRETARY_READS = (("me", 0.15), ("projects", 0.30), ("companies", 0.60), ("submitted", 0.85),
                   ("results", 1.00))


class Conn:
    """One keep-alive HTTP/1.1 connection; reconnects after an error or a `Connection: close`."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader = self.writer = None

    async def _open(self):
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self):
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, token: str | None = None,
                      body: bytes | None = None) -> tuple[int, bytes]:
        """(status, body); status 0 for a transport error."""
        head = [f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"]
        if token:
            head.append(f"Authorization: Bearer {token}\r\n")
        if body is not None:
            head.append(f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n")
        head.append("\r\n")
        data = "".join(head).encode() + (body or b"")
        try:
            if self.writer is None:
                await self._open()
            self.writer.write(data)
            raw = await self.reader.readuntil(b"\r\n\r\n")
            status = int(raw[9:12])
            lower = raw.lower()
            i = lower.find(b"\r\ncontent-length:")
            if i >= 0:
                n = int(lower[i + 17:lower.index(b"\r\n", i + 2)])
                payload = await self.reader.readexactly(n) if n else b""
            elif b"\r\ntransfer-encoding: chunked" in lower:
                parts = []
                while True:
                    size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
                    chunk = await self.reader.readexactly(size + 2)
                    if size == 0:
                        break
                    parts.append(chunk[:-2])
                payload = b"".join(parts)
            else:
                payload = b""
            if b"\r\nconnection: close" in lower:
                self.close()
            return status, payload
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            self.close()
            return 0, b""


class Worker:
    """One process's virtual users, sharing the reopen queue and the statistics."""

    def __init__(self, cfg: dict):
        self.cfg = cfg
        u = urlsplit(cfg["url"])
        self.host, self.port = u.hostname, u.port
        self.t0 = self.deadline = 0.0  # set by the parent once every process has signed in
        self.interval = cfg["interval"]
        self.n_intervals = max(1, math.ceil(cfg["seconds"] / cfg["interval"]))
        self.project = cfg["project"]
        self.password = cfg["password"]
        self.rng = random.Random(cfg["seed"])
        self.hist: dict[tuple[int, str], dict[int, int]] = {}
        self.status: dict[tuple[int, str, int], int] = {}
        self.lag: dict[int, int] = {}
        self.samples: list[str] = []  # a few unexpected answers, to say what went wrong
        self.reopen: list[tuple[str, "Evaluator"]] = []
        self.items: list[tuple[str, int, int]] | None = None  # the template: (id, min, max)
        self.starved = 0  # sheet steps with no open sheet at hand

    def running(self) -> bool:
        return time.monotonic() < self.deadline

    async def ready(self, vus: list) -> None:
        """Signs every virtual user in (at most a few at a time: argon2id), says so to the parent
        on stdout and waits for the start time on stdin."""
        gate = asyncio.Semaphore(4)

        async def one(vu):
            async with gate:
                await vu.login()

        await asyncio.gather(*(one(v) for v in vus))
        print("ready", flush=True)
        line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
        self.t0 = float(line)
        self.deadline = self.t0 + self.cfg["seconds"]
        await asyncio.sleep(max(0.0, self.t0 - time.monotonic()))

    async def call(self, conn: Conn, kind: str, method: str, path: str, token: str | None = None,
                   body: dict | None = None) -> tuple[int, bytes]:
        start = time.monotonic()
        status, payload = await conn.request(method, path, token,
                                             None if body is None else json.dumps(body).encode())
        end = time.monotonic()
        i = min(int((end - self.t0) // self.interval), self.n_intervals - 1) if self.t0 else -1
        h = self.hist.setdefault((i, kind), {})
        b = bucket((end - start) * 1e6)
        h[b] = h.get(b, 0) + 1
        key = (i, kind, status)
        self.status[key] = self.status.get(key, 0) + 1
        if status != EXPECTED[kind] and len(self.samples) < 10:
            self.samples.append(f"{kind} {method} {path}: {status} {payload[:300]!r}")
        return status, payload

    async def login(self, conn: Conn, login_id: str) -> str | None:
        status, payload = await self.call(conn, "login", "POST", "/auth/login",
                                          body={"login_id": login_id, "password": self.password})
        return json.loads(payload)["access_token"] if status == 200 else None

    async def watch_lag(self):
        """How late a 100 ms timer fires: a driver that cannot keep up shows it here."""
        while self.running():
            start = time.monotonic()
            await asyncio.sleep(0.1)
            b = bucket((time.monotonic() - start - 0.1) * 1e6)
            self.lag[b] = self.lag.get(b, 0) + 1

    async def main(self) -> dict:
        cpu0 = os.times()
        evaluators = [Evaluator(self, login) for login in self.cfg["evaluators"]]
        secretaries = [Secretary(self, self.cfg["secretary"])
                       for _ in range(self.cfg["secretaries"])]
        await self.ready(evaluators + secretaries)
        tasks = [asyncio.create_task(v.run()) for v in evaluators + secretaries]
        tasks.append(asyncio.create_task(self.login_loop()))
        tasks.append(asyncio.create_task(self.watch_lag()))
        # The run ends at the deadline; an answer still missing 30 s later counts as an error.
        done, pending = await asyncio.wait(tasks, timeout=self.deadline + 30 - time.monotonic())
        for t in pending:
            t.cancel()
        for t in done:
            if t.exception() is not None:
                raise t.exception()
        cpu1 = os.times()
        # Interval -1 holds what happened before the start (the virtual users' sign-ins).
        return {"hist": {f"{i}|{k}": h for (i, k), h in self.hist.items()},
                "status": {f"{i}|{k}|{s}": n for (i, k, s), n in self.status.items()},
                "hung": len(pending), "lag": self.lag, "samples": self.samples,
                "starved": self.starved, "reopen_backlog": len(self.reopen),
                "cpu_s": (cpu1.user + cpu1.system) - (cpu0.user + cpu0.system)}

    async def login_loop(self):
        """Sign in as a random evaluator, read /auth/me, sign out, at a fixed pace."""
        period = self.cfg["login_period"]
        if period <= 0 or not self.cfg["all_evaluators"]:
            return
        conn = Conn(self.host, self.port)
        nxt = time.monotonic() + self.rng.uniform(0, period)
        while True:
            await asyncio.sleep(max(0.0, nxt - time.monotonic()))
            if not self.running():
                break
            nxt += period
            token = await self.login(conn, self.rng.choice(self.cfg["all_evaluators"]))
            if token:
                await self.call(conn, "me", "GET", "/auth/me", token)
                await self.call(conn, "logout", "POST", "/auth/logout", token)
        conn.close()


class Evaluator:
    def __init__(self, w: Worker, login_id: str):
        self.w, self.login_id = w, login_id
        self.conn = Conn(w.host, w.port)
        self.token: str | None = None
        self.open: list[str] = []  # my sheets that can be worked on
        self.mine: list[str] = []
        self.company: dict[str, str] = {}
        self.cur: str | None = None
        self.version: int | None = None
        self.saves_left = 0

    async def login(self):
        """Before the start: signs in and lists my sheets."""
        w, conn = self.w, self.conn
        token = self.token = await w.login(conn, self.login_id)
        if token is None:
            return
        cursor = None
        while True:  # every sheet of mine, page by page
            path = f"/api/assignments?project_id={w.project}&limit=200"
            status, payload = await w.call(conn, "assignments", "GET",
                                           path + (f"&cursor={cursor}" if cursor else ""), token)
            if status != 200:
                break
            page = json.loads(payload)
            for s in page["items"]:
                self.mine.append(s["id"])
                self.company[s["id"]] = s["company_id"]
                if s["status"] in ("assigned", "in_progress"):
                    self.open.append(s["id"])
            cursor = page.get("next_cursor")
            if not cursor:
                break

    async def run(self):
        w, rng, conn, token = self.w, self.w.rng, self.conn, self.token
        if token is None or not self.mine:
            return
        while w.running():
            r = rng.random()
            kind = next((k for k, cum in EVALUATOR_READS if r < cum), "work")
            if kind == "me":
                await w.call(conn, kind, "GET", "/auth/me", token)
            elif kind == "projects":
                await w.call(conn, kind, "GET", "/api/projects", token)
            elif kind == "assignments":
                await w.call(conn, kind, "GET", f"/api/assignments?project_id={w.project}&limit=50",
                             token)
            elif kind == "company":
                sheet = rng.choice(self.mine)
                await w.call(conn, kind, "GET", f"/api/companies/{self.company[sheet]}", token)
            elif kind == "sheet":
                await w.call(conn, kind, "GET", f"/api/evaluations/{rng.choice(self.mine)}", token)
            else:
                await self.work(conn, token)
        conn.close()

    async def work(self, conn: Conn, token: str):
        w, rng = self.w, self.w.rng
        if self.cur is None:
            if not self.open:
                w.starved += 1
                await w.call(conn, "sheet", "GET", f"/api/evaluations/{rng.choice(self.mine)}",
                             token)
                return
            self.cur = self.open.pop(rng.randrange(len(self.open)))
            self.version, self.saves_left = None, rng.randint(1, 3)
        path = f"/api/evaluations/{self.cur}"
        if self.version is None:
            status, payload = await w.call(conn, "sheet", "GET", path, token)
            if status == 200:
                doc = json.loads(payload)
                self.version = doc["version"]
                if w.items is None:
                    w.items = [(i["id"], int(i["min_score"]), int(i["max_score"]))
                               for i in doc["template"]["items"]]
            return
        if self.saves_left > 0:
            body = {"version": self.version, "opinion": "종합 의견: 성장 가능성이 높음",
                    "scores": [{"item_id": i, "score": rng.randint(lo, hi),
                                "opinion": "근거 자료 확인"} for i, lo, hi in w.items]}
            status, payload = await w.call(conn, "save", "PUT", path, token, body)
            if status == 200:
                self.version = json.loads(payload)["version"]
                self.saves_left -= 1
            else:
                self.version = None
            return
        status, _ = await w.call(conn, "submit", "POST", path + "/submit", token,
                                 {"version": self.version})
        if status == 200:
            w.reopen.append((self.cur, self))
            self.cur = None
        else:
            self.version = None


class Secretary:
    def __init__(self, w: Worker, login_id: str):
        self.w, self.login_id = w, login_id
        self.conn = Conn(w.host, w.port)
        self.token: str | None = None

    async def login(self):
        self.token = await self.w.login(self.conn, self.login_id)

    async def run(self):
        w, rng, conn, token = self.w, self.w.rng, self.conn, self.token
        if token is None:
            return
        p = w.project
        while w.running():
            if w.reopen:
                sheet, owner = w.reopen.pop(0)
                status, _ = await w.call(conn, "reopen", "POST", f"/api/evaluations/{sheet}/reopen",
                                         token, {"reason": "점수 근거 보완 요청"})
                if status == 200:
                    owner.open.append(sheet)
                continue
            r = rng.random()
            kind = next(k for k, cum in SECRETARY_READS if r < cum)
            path = {"me": "/auth/me", "projects": "/api/projects",
                    "companies": f"/api/projects/{p}/companies?limit=50",
                    "submitted": f"/api/assignments?project_id={p}&status=submitted&limit=50",
                    "results": f"/api/projects/{p}/results"}[kind]
            await w.call(conn, kind, "GET", path, token)
        conn.close()


def worker_main(config_path: str) -> None:
    cfg = json.loads(Path(config_path).read_text())
    try:
        import uvloop  # Debian's python3-uvloop, when installed: a cheaper event loop
        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(Worker(cfg).main())
    Path(cfg["out"]).write_text(json.dumps(result))


# --- the run ------------------------------------------------------------------------------------

@dataclass
class Limits:
    rss_growth: float = 0.05  # resident memory after the warm-up may grow by less than this
    fd_slack: int = 0  # open descriptors after the warm-up may exceed the count at its end by this
    p50_factor: float = 1.5  # every interval's p50 within this factor of the intervals' median
    p99_factor: float = 2.0  # the same for p99


@dataclass
class Options:
    seconds: float = 600
    warmup: float = 60
    interval: float = 60  # latency and status per interval of this length
    sample: float = 5  # memory, descriptors and CPU every this many seconds
    connections: int = 200  # virtual users, one connection each: evaluators and secretaries
    secretaries: int = 20
    procs: int = 2  # driver processes
    login_rate: float = 2.0  # sign-ins per second, all processes together
    limits: Limits = field(default_factory=Limits)


def parse_seed_output(text: str) -> dict:
    """What `evald seed-demo` printed: the project, the accounts and their password."""
    m = re.search(r"seeded project (\S+): (\d+) companies, (\d+) evaluators, (\d+) sheets", text)
    if not m:
        raise ValueError(f"not seed-demo output: {text[:200]!r}")
    first = re.search(r"evaluators: (\S+)-eval-1 ", text)[1]
    return {"project": m[1], "companies": int(m[2]), "evaluators": int(m[3]), "sheets": int(m[4]),
            "secretary": re.search(r"secretary: (\S+)", text)[1],
            "evaluator_logins": [f"{first}-eval-{i + 1}" for i in range(int(m[3]))],
            "password": re.search(r"password \(every demo account\): (\S+)", text)[1]}


def proc_sample(pid: int) -> tuple[int, int, float]:
    """(VmRSS KiB, open descriptors, user + system CPU seconds) of a process."""
    with open(f"/proc/{pid}/status") as f:
        rss = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return rss, fds, (int(fields[11]) + int(fields[12])) / CLK_TCK


def run(url: str, pid: int, seed: dict, opt: Options, out_dir: Path) -> dict:
    """Runs the soak against the server at `url` (process `pid`); returns the report, whose
    "failures" list is empty when every criterion holds."""
    out_dir.mkdir(parents=True, exist_ok=True)
    n_eval = opt.connections - opt.secretaries
    if opt.secretaries < opt.procs or n_eval < opt.procs:
        raise ValueError("need at least one evaluator and one secretary per driver process")
    if n_eval > len(seed["evaluator_logins"]):
        raise ValueError(f"{n_eval} evaluator connections but only "
                         f"{len(seed['evaluator_logins'])} evaluators seeded")
    workers = []
    for k in range(opt.procs):
        cfg = {"url": url, "seconds": opt.seconds, "interval": opt.interval,
               "project": seed["project"], "password": seed["password"],
               "secretary": seed["secretary"], "seed": 1000 + k,
               "evaluators": seed["evaluator_logins"][k:n_eval:opt.procs],
               "all_evaluators": seed["evaluator_logins"],
               "secretaries": len(range(k, opt.secretaries, opt.procs)),
               "login_period": opt.procs / opt.login_rate if opt.login_rate > 0 else 0,
               "out": str(out_dir / f"worker-{k}.json")}
        path = out_dir / f"worker-{k}.config.json"
        path.write_text(json.dumps(cfg))
        workers.append(subprocess.Popen([sys.executable, __file__, "worker", str(path)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True))
    idle = proc_sample(pid)
    # Every virtual user signs in and lists its sheets first; the clock starts when all have.
    setup = time.monotonic()
    for n, p in enumerate(workers):
        if p.stdout.readline().strip() != "ready":
            for q in workers:
                q.kill()
            raise RuntimeError(f"driver process {n} did not get ready (exit {p.wait()})")
    setup = time.monotonic() - setup
    t0 = time.monotonic() + 0.2
    for p in workers:
        p.stdin.write(f"{t0}\n")
        p.stdin.flush()
    samples = []  # (t, rss KiB, fds, server CPU s, driver CPU s)
    died = None
    k = 0
    while any(p.poll() is None for p in workers):
        t = t0 + k * opt.sample
        k += 1
        time.sleep(max(0.0, t - time.monotonic()))
        try:
            rss, fds, cpu = proc_sample(pid)
        except (OSError, StopIteration):
            died = died or time.monotonic() - t0
            continue
        driver = 0.0
        for p in workers:
            try:
                driver += proc_sample(p.pid)[2]
            except (OSError, StopIteration):
                pass
        samples.append((time.monotonic() - t0, rss, fds, cpu, driver))
    results = []
    for n, p in enumerate(workers):
        if p.wait() != 0:
            raise RuntimeError(f"driver process {n} exited with {p.returncode}")
        results.append(json.loads((out_dir / f"worker-{n}.json").read_text()))
    return judge(opt, seed, samples, results, died, out_dir, idle, setup)


def judge(opt: Options, seed: dict, samples, results, died, out_dir: Path, idle, setup) -> dict:
    lim = opt.limits
    n_int = max(1, math.ceil(opt.seconds / opt.interval))
    hist_ik: dict[tuple[int, str], dict[int, int]] = {}
    status_iks: dict[tuple[int, str, int], int] = {}
    lag: dict[int, int] = {}
    for r in results:
        for key, h in r["hist"].items():
            i, kind = key.split("|")
            merge_into(hist_ik.setdefault((int(i), kind), {}), h)
        for key, n in r["status"].items():
            i, kind, s = key.split("|")
            status_iks[(int(i), kind, int(s))] = status_iks.get((int(i), kind, int(s)), 0) + n
        merge_into(lag, r["lag"])
    kinds = sorted({k for _, k in hist_ik})
    per_kind_status: dict[str, dict[int, int]] = {}
    for (_, kind, s), n in status_iks.items():
        per_kind_status.setdefault(kind, {})
        per_kind_status[kind][s] = per_kind_status[kind].get(s, 0) + n

    intervals = []
    for i in range(n_int):
        h: dict[int, int] = {}
        for kind in kinds:
            merge_into(h, hist_ik.get((i, kind), {}))
        start = i * opt.interval
        length = min(opt.interval, opt.seconds - start)
        n = sum(h.values())
        s5 = sum(c for (j, _, s), c in status_iks.items() if j == i and s >= 500)
        bad = sum(c for (j, kind, s), c in status_iks.items() if j == i and s != EXPECTED[kind])
        in_window = [x for x in samples if start <= x[0] < min(start + opt.interval, opt.seconds)]
        intervals.append({"interval": i, "start_s": start, "warmup": start < opt.warmup,
                          "requests": n, "rps": n / length if length > 0 else 0,
                          "p50_ms": percentile(h, 50) / 1000, "p99_ms": percentile(h, 99) / 1000,
                          "p999_ms": percentile(h, 99.9) / 1000, "status_5xx": s5,
                          "unexpected": bad,
                          "rss_low_kib": min((x[1] for x in in_window), default=None),
                          "rss_high_kib": max((x[1] for x in in_window), default=None),
                          "fds_low": min((x[2] for x in in_window), default=None),
                          "fds_high": max((x[2] for x in in_window), default=None)})

    failures = []
    total = sum(status_iks.values())
    n5xx = sum(n for (_, _, s), n in status_iks.items() if s >= 500)
    n_err = sum(n for (_, _, s), n in status_iks.items() if s == 0)
    n_bad = sum(n for (_, kind, s), n in status_iks.items() if s != EXPECTED[kind])
    hung = sum(r["hung"] for r in results)
    if died is not None:
        failures.append(f"the server went away {died:.0f} s into the run")
    if n5xx:
        failures.append(f"{n5xx} answers were 5xx")
    if n_err or hung:
        failures.append(f"{n_err} transport errors, {hung} requests unanswered at the end")
    if n_bad - n5xx - n_err:
        failures.append(f"{n_bad - n5xx - n_err} answers other than the request expects (4xx)")
    for kind in ("login", "save", "submit", "reopen", "results"):
        if not per_kind_status.get(kind, {}).get(200):
            failures.append(f"no successful {kind}: the mix did not run")

    # Memory and descriptors: the lowest sample of the first interval after the warm-up against
    # the lowest of the last interval. Each sign-in in progress holds argon2id's 19 MiB (two at
    # a time at most) and a results computation its rows, for a moment: a sample may catch them
    # or not, 40 MiB apart. The floor is what stays held, and a leak raises it.
    after = [x for x in samples if opt.warmup <= x[0] < opt.seconds]  # not once it stopped
    first = [x for x in after if x[0] < opt.warmup + opt.interval]
    last = [x for x in after if x[0] >= opt.seconds - opt.interval]
    mem = {}
    if first and last and first[0] is not last[-1]:
        base_rss, base_fds = min(x[1] for x in first), min(x[2] for x in first)
        end_rss, end_fds = min(x[1] for x in last), min(x[2] for x in last)
        growth = end_rss / base_rss - 1
        mem = {"rss_idle_kib": idle[0], "fds_idle": idle[1], "rss_start_kib": samples[0][1],
               "fds_start": samples[0][2], "rss_first_window_kib": base_rss,
               "rss_last_window_kib": end_rss, "rss_max_after_kib": max(x[1] for x in after),
               "rss_growth": growth, "fds_first_window": base_fds, "fds_last_window": end_fds,
               "fds_max_after": max(x[2] for x in after)}
        if growth >= lim.rss_growth:
            failures.append(f"resident memory grew {growth * 100:.1f} % after the warm-up "
                            f"({base_rss} -> {end_rss} KiB, lowest samples of the first and last "
                            f"intervals; bound {lim.rss_growth * 100:.0f} %)")
        if end_fds > base_fds + lim.fd_slack:
            failures.append(f"open descriptors grew after the warm-up ({base_fds} -> {end_fds}, "
                            f"lowest samples of the first and last intervals; slack "
                            f"{lim.fd_slack})")
    else:
        failures.append("too few samples after the warm-up to judge memory and descriptors")

    steady = [x for x in intervals if not x["warmup"] and x["requests"]]
    if len(steady) >= 2:
        for key, factor in (("p50_ms", lim.p50_factor), ("p99_ms", lim.p99_factor)):
            med = statistics.median(x[key] for x in steady)
            worst = max(steady, key=lambda x: x[key])
            if worst[key] > factor * med:
                failures.append(f"{key[:3]} not steady: {worst[key]:.1f} ms in the interval from "
                                f"{worst['start_s']:.0f} s, the intervals' median {med:.1f} ms "
                                f"(bound {factor}x)")
    else:
        failures.append("fewer than two intervals after the warm-up to judge latency")

    steady_cpu = None
    if len(after) >= 2:
        reqs = sum(x["requests"] for x in steady)
        if reqs:
            steady_cpu = (after[-1][3] - after[0][3]) / reqs * 1e6
    duration = samples[-1][0] if samples else opt.seconds
    driver_cpu = [r["cpu_s"] for r in results]
    report = {
        "options": {k: v for k, v in asdict(opt).items()}, "seed": {
            k: seed[k] for k in ("project", "companies", "evaluators", "sheets")},
        "requests": total, "status_5xx": n5xx, "transport_errors": n_err, "unexpected": n_bad,
        "per_kind": {k: {"count": sum(per_kind_status.get(k, {}).values()),
                         "statuses": per_kind_status.get(k, {}),
                         "p50_ms": percentile(_all(hist_ik, k), 50) / 1000,
                         "p99_ms": percentile(_all(hist_ik, k), 99) / 1000,
                         "p999_ms": percentile(_all(hist_ik, k), 99.9) / 1000} for k in kinds},
        "intervals": intervals, "memory": mem, "samples": samples, "setup_s": setup,
        "server_cpu_us_per_request": steady_cpu,
        "driver": {"processes": len(results), "cpu_share_of_a_core": [
            c / duration for c in driver_cpu], "loop_lag_p99_ms": percentile(lag, 99) / 1000,
            "loop_lag_max_ms": percentile(lag, 100) / 1000,
            "starved_sheet_steps": sum(r["starved"] for r in results),
            "reopen_backlog_at_end": sum(r["reopen_backlog"] for r in results)},
        "unexpected_samples": [s for r in results for s in r["samples"]][:10],
        "failures": failures}
    report["text"] = render(report)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, default=str))
    (out_dir / "report.txt").write_text(report["text"])
    with open(out_dir / "samples.csv", "w") as f:
        f.write("t_s,rss_kib,fds,server_cpu_s,driver_cpu_s\n")
        for x in samples:
            f.write(f"{x[0]:.1f},{x[1]},{x[2]},{x[3]:.2f},{x[4]:.2f}\n")
    with open(out_dir / "intervals.csv", "w") as f:
        cols = ["interval", "start_s", "warmup", "requests", "rps", "p50_ms", "p99_ms", "p999_ms",
                "status_5xx", "unexpected", "rss_low_kib", "rss_high_kib", "fds_low", "fds_high"]
        f.write(",".join(cols) + "\n")
        for x in intervals:
            f.write(",".join(f"{x[c]:.2f}" if isinstance(x[c], float) else str(x[c])
                             for c in cols) + "\n")
    return report


def _all(hist_ik, kind) -> dict[int, int]:
    h: dict[int, int] = {}
    for (_, k), hh in hist_ik.items():
        if k == kind:
            merge_into(h, hh)
    return h


def render(r: dict) -> str:
    o, s, lim = r["options"], r["seed"], r["options"]["limits"]
    lines = [f"soak: {o['seconds']:.0f} s ({o['warmup']:.0f} s warm-up), {o['connections']} "
             f"connections ({o['connections'] - o['secretaries']} evaluators, {o['secretaries']} "
             f"secretaries) + {o['login_rate']:g} sign-ins/s, {o['procs']} driver processes; "
             f"project of {s['companies']} companies, {s['evaluators']} evaluators, "
             f"{s['sheets']} sheets",
             "", f"{'request':<12} {'count':>9} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9}  "
                 f"statuses"]
    for kind, k in r["per_kind"].items():
        st = " ".join(f"{code}:{n}" for code, n in sorted(k["statuses"].items()))
        lines.append(f"{kind:<12} {k['count']:>9} {k['p50_ms']:>8.2f} {k['p99_ms']:>8.2f} "
                     f"{k['p999_ms']:>9.2f}  {st}")
    lines.append(f"{'all':<12} {r['requests']:>9}   5xx: {r['status_5xx']}, transport errors: "
                 f"{r['transport_errors']}, unexpected: {r['unexpected']}")
    lines += ["", f"{'from s':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} "
                  f"{'5xx':>5} {'RSS MiB low-high':>17} {'fds':>9}"]
    for x in r["intervals"]:
        rss = (f"{x['rss_low_kib'] / 1024:.1f}-{x['rss_high_kib'] / 1024:.1f}"
               if x["rss_low_kib"] else "-")
        fds = f"{x['fds_low']}-{x['fds_high']}" if x["fds_low"] is not None else "-"
        lines.append(f"{x['start_s']:>7.0f} {x['rps']:>8.0f} {x['p50_ms']:>8.2f} "
                     f"{x['p99_ms']:>8.2f} {x['p999_ms']:>9.2f} {x['status_5xx']:>5} {rss:>17} "
                     f"{fds:>9}{'  (warm-up)' if x['warmup'] else ''}")
    m = r["memory"]
    lines += ["", f"setup: {o['connections']} sign-ins and sheet lists in {r['setup_s']:.1f} s "
                  f"before the clock starts (counted above, not in the intervals)"]
    if m:
        mib = lambda k: f"{m[k] / 1024:.1f}"  # noqa: E731
        lines += [f"resident memory (MiB): idle {mib('rss_idle_kib')}, at the start "
                  f"{mib('rss_start_kib')}; lowest in the first interval after the warm-up "
                  f"{mib('rss_first_window_kib')}, in the last {mib('rss_last_window_kib')} "
                  f"({m['rss_growth'] * 100:+.1f} %, bound {lim['rss_growth'] * 100:.0f} %); "
                  f"highest after the warm-up {mib('rss_max_after_kib')} (a sample that caught "
                  f"sign-ins hashing)",
                  f"open descriptors: idle {m['fds_idle']}, at the start {m['fds_start']}; "
                  f"lowest in the first interval after the warm-up {m['fds_first_window']}, in "
                  f"the last {m['fds_last_window']}; highest after the warm-up "
                  f"{m['fds_max_after']}"]
    if r["server_cpu_us_per_request"]:
        lines.append(f"server CPU after the warm-up: {r['server_cpu_us_per_request']:.0f} us per "
                     f"request")
    d = r["driver"]
    lines.append(f"driver: {d['processes']} processes using "
                 f"{', '.join(f'{c * 100:.0f} %' for c in d['cpu_share_of_a_core'])} of a core; "
                 f"event-loop lag p99 {d['loop_lag_p99_ms']:.1f} ms, max "
                 f"{d['loop_lag_max_ms']:.1f} ms; sheet steps with no open sheet: "
                 f"{d['starved_sheet_steps']}")
    if max(d["cpu_share_of_a_core"]) > 0.8:
        lines.append("  warning: a driver process used over 80 % of a core: it may have been the "
                     "bottleneck; run more of them (--procs, SOAK_PROCS)")
    elif d["loop_lag_p99_ms"] > 50:
        lines.append("  warning: the driver's timers fired over 50 ms late (p99) though it was "
                     "mostly idle: the machine was short of CPU, and latencies include waiting "
                     "for it (what else ran? see the load average)")
    for smp in r["unexpected_samples"]:
        lines.append(f"  unexpected: {smp}")
    lines.append("")
    lines += [f"FAIL: {f}" for f in r["failures"]] or ["PASS: no 5xx, memory and descriptors "
                                                       "flat, latency steady"]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["worker"]:
        worker_main(argv[1])
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("command", choices=["run"])
    ap.add_argument("--url", required=True)
    ap.add_argument("--pid", type=int, required=True, help="the server's process id")
    ap.add_argument("--seed-output", required=True, help="what evald seed-demo printed")
    ap.add_argument("--out", required=True, help="directory for the report and the CSV files")
    d, dl = Options(), Limits()
    for name in ("seconds", "sample", "login_rate"):
        ap.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(d, name))
    ap.add_argument("--warmup", type=float, help="default 60 s, a quarter of shorter runs")
    ap.add_argument("--interval", type=float, help="default 60 s, an eighth of shorter runs")
    for name in ("connections", "secretaries", "procs"):
        ap.add_argument("--" + name, type=int, default=getattr(d, name))
    for name in ("rss_growth", "p50_factor", "p99_factor"):
        ap.add_argument("--" + name.replace("_", "-"), type=float, default=getattr(dl, name))
    ap.add_argument("--fd-slack", type=int, default=dl.fd_slack)
    a = ap.parse_args(argv)
    if a.warmup is None:
        a.warmup = 60 if a.seconds >= 300 else a.seconds / 4
    if a.interval is None:
        a.interval = 60 if a.seconds >= 300 else max(5.0, a.seconds / 8)
    opt = Options(seconds=a.seconds, warmup=a.warmup, interval=a.interval, sample=a.sample,
                  connections=a.connections, secretaries=a.secretaries, procs=a.procs,
                  login_rate=a.login_rate,
                  limits=Limits(rss_growth=a.rss_growth, fd_slack=a.fd_slack,
                                p50_factor=a.p50_factor, p99_factor=a.p99_factor))
    seed = parse_seed_output(Path(a.seed_output).read_text())
    report = run(a.url, a.pid, seed, opt, Path(a.out))
    print(report["text"], end="")
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
