"""Helpers of the fault drills (test_drill_*.py): a latency probe that keeps asking a server
GET /health/ping while something bad happens, the file-descriptor limit, a small file system
that can be filled (tmpfs, else a loop-mounted ext4 file), and write streams that remember what
the server acknowledged.
"""

from __future__ import annotations

import errno
import itertools
import os
import resource
import shutil
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from rawhttp import Conn, IncompleteResponse, request

# Latency while under attack may be this many times the baseline's p99, or this floor,
# whichever is larger (a shared 2-core runner has spikes of its own).
LATENCY_FACTOR = 10
LATENCY_FLOOR_S = 0.100


def percentile(samples: list[float], p: float) -> float:
    s = sorted(samples)
    if not s:
        return 0.0
    return s[min(len(s) - 1, int(len(s) * p))]


def describe_latency(samples: list[float]) -> str:
    if not samples:
        return "no samples"
    return (f"n={len(samples)} p50={percentile(samples, 0.5) * 1000:.2f} ms "
            f"p99={percentile(samples, 0.99) * 1000:.2f} ms max={max(samples) * 1000:.2f} ms")


class LatencyProbe:
    """A thread that asks GET /health/ping over and over, every other time on a connection it
    keeps and every other time on a new one (a new client must get in as well), and records
    each answer's latency; any failure (no answer, not 200) is recorded as an error."""

    def __init__(self, port: int, pause_s: float = 0.005, timeout_s: float = 5.0):
        self.port = port
        self.pause_s = pause_s
        self.timeout_s = timeout_s
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._kept: Conn | None = None

    def _one(self, fresh: bool) -> float:
        t0 = time.perf_counter()
        if fresh:
            r = request(self.port, "GET", "/health/ping", timeout=self.timeout_s)
        else:
            if self._kept is None:
                self._kept = Conn(self.port, timeout=self.timeout_s)
            try:
                r = self._kept.request("GET", "/health/ping", timeout=self.timeout_s)
            except (IncompleteResponse, OSError):
                self._kept.close()
                self._kept = None
                raise
        elapsed = time.perf_counter() - t0
        if r.status != 200:
            raise AssertionError(f"status {r.status}: {r.body[:200]!r}")
        return elapsed

    def _run(self):
        fresh = False
        while not self._stop.is_set():
            fresh = not fresh
            try:
                self.latencies.append(self._one(fresh))
            except Exception as e:  # noqa: BLE001 - every failure is a finding
                self.errors.append(f"{'new' if fresh else 'kept'} connection: {e!r}"[:300])
            time.sleep(self.pause_s)
        if self._kept:
            self._kept.close()

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def run_for(self, seconds: float) -> "LatencyProbe":
        with self:
            time.sleep(seconds)
        return self


def baseline_p99(port: int, seconds: float = 1.0) -> float:
    """The p99 of GET /health/ping on a quiet server (the probe's own mix of connections)."""
    probe = LatencyProbe(port).run_for(seconds)
    assert not probe.errors, probe.errors[:5]
    assert len(probe.latencies) >= 50, describe_latency(probe.latencies)
    return percentile(probe.latencies, 0.99)


def assert_normal_latency(probe: LatencyProbe, baseline: float, what: str):
    """Every probe answered 200, and the p99 stayed within the generous bound."""
    assert not probe.errors, (f"during {what}, {len(probe.errors)} health probes failed: "
                              f"{probe.errors[:5]}")
    assert len(probe.latencies) >= 20, \
        f"during {what} the probe got only {describe_latency(probe.latencies)}"
    bound = max(LATENCY_FACTOR * baseline, LATENCY_FLOOR_S)
    p99 = percentile(probe.latencies, 0.99)
    # Shown with -rP (or in the report when it fails): what the drill measured.
    print(f"{what}: baseline p99 {baseline * 1000:.2f} ms; during: "
          f"{describe_latency(probe.latencies)}; bound {bound * 1000:.1f} ms")
    assert p99 < bound, (f"during {what} the p99 of GET /health/ping was {p99 * 1000:.1f} ms, "
                         f"over {bound * 1000:.1f} ms (baseline p99 {baseline * 1000:.2f} ms): "
                         f"{describe_latency(probe.latencies)}")


# --- descriptors -------------------------------------------------------------------------------

@contextmanager
def nofile_limit(needed: int):
    """Raises this process's RLIMIT_NOFILE to at least `needed` (servers started meanwhile
    inherit it), restoring it afterwards; skips when the system does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want_hard = hard if hard == resource.RLIM_INFINITY else max(hard, needed)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, needed), want_hard))
    except (ValueError, OSError) as e:
        pytest.skip(f"cannot raise RLIMIT_NOFILE to {needed} (soft {soft}, hard {hard}): {e}")
    try:
        yield
    finally:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        except (ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, want_hard))


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


# --- a small file system --------------------------------------------------------------------------

class SmallFs:
    """A mounted file system of a few MB (tmpfs, else an ext4 loop file) and its filler."""

    def __init__(self, path: Path, kind: str):
        self.path = path
        self.kind = kind
        self.filler = path / "filler"

    def free_bytes(self) -> int:
        st = os.statvfs(self.path)
        return st.f_bavail * st.f_frsize

    def fill(self, leave_bytes: int = 0):
        """Fills the file system with a filler file until at most `leave_bytes` are free."""
        chunk = b"\0" * 65536
        with open(self.filler, "ab") as f:
            while self.free_bytes() > leave_bytes:
                want = min(len(chunk), self.free_bytes() - leave_bytes)
                try:
                    f.write(chunk[:max(want, 1)])
                    f.flush()
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break

    def release(self):
        """Gives the space back."""
        self.filler.unlink(missing_ok=True)


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@contextmanager
def small_fs(size_mb: int):
    """A fresh file system of `size_mb` MB mounted on a new directory under /tmp, unmounted
    (lazily if still busy) and removed afterwards, whatever happens. tmpfs first; where mounting
    tmpfs is refused, an ext4 file system in a loop file. Skips, saying why, only when this
    machine can mount neither."""
    mountpoint = Path(tempfile.mkdtemp(prefix="evald-smallfs-", dir="/tmp"))
    image = None
    mounted = None
    problems = []
    try:
        p = _run(["mount", "-t", "tmpfs", "-o", f"size={size_mb}m,mode=0777", "tmpfs",
                  str(mountpoint)])
        if p.returncode == 0:
            mounted = "tmpfs"
        else:
            problems.append(f"mount -t tmpfs: {p.stderr.strip() or p.returncode}")
            image = Path(tempfile.mkstemp(prefix="evald-smallfs-", suffix=".img", dir="/tmp")[1])
            with open(image, "wb") as f:
                f.truncate(size_mb * 1024 * 1024)
            mk = _run(["mkfs.ext4", "-q", "-F", "-m", "0", str(image)])
            if mk.returncode != 0:
                problems.append(f"mkfs.ext4: {mk.stderr.strip() or mk.returncode}")
            else:
                lo = _run(["mount", "-o", "loop", str(image), str(mountpoint)])
                if lo.returncode == 0:
                    mounted = "ext4 loop"
                else:
                    problems.append(f"mount -o loop: {lo.stderr.strip() or lo.returncode}")
        if mounted is None:
            pytest.skip("this machine cannot mount a small file system: " + "; ".join(problems))
        yield SmallFs(mountpoint, mounted)
    finally:
        if mounted is not None:
            if _run(["umount", str(mountpoint)]).returncode != 0:
                _run(["umount", "-l", str(mountpoint)])
        shutil.rmtree(mountpoint, ignore_errors=True)
        if image is not None:
            image.unlink(missing_ok=True)


# --- write streams --------------------------------------------------------------------------------

_REG_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_stream_ids = itertools.count(1)


def registration_number(n: int) -> str:
    """A valid Korean business registration number (check digit included) made of `n`."""
    d = f"{n % 1_000_000_000:09d}"
    s = sum(int(d[i]) * _REG_WEIGHTS[i] for i in range(9)) + int(d[8]) * 5 // 10
    return f"{d[:3]}-{d[3:5]}-{d[5:]}{(10 - s % 10) % 10}"


@dataclass
class Outcome:
    """One request of a WriteStream: what was sent, when, and what came back."""
    thread: int
    i: int
    kind: str  # "project" (one project), "batch" (WriteStream.BATCH companies) or "read"
    name: str
    t0: float
    t1: float = 0.0
    status: int | None = None
    body: dict = field(default_factory=dict)
    text: str = ""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in (200, 201)

    def describe(self) -> str:
        what = self.error or f"{self.status} {self.text[:300]}"
        return f"[{self.kind} {self.name} t{self.thread}#{self.i} {self.t1 - self.t0:.3f} s] {what}"


class WriteStream:
    """Client threads writing to a server until stopped (a context manager), each on a
    keep-alive session of its own: projects named `<prefix><thread>-<i>`, with `read_every`
    a list read every so often, and with `batch_project` every fifth request of thread 0 a batch
    of BATCH companies (one transaction) named `<prefix>b<thread>-<i>#<k>`. Every answer is
    kept as an Outcome; `write_some` writes from the caller's thread instead."""

    BATCH = 50

    def __init__(self, srv, token: str, threads: int = 4, prefix: str | None = None,
                 read_every: int = 0, batch_project: str | None = None,
                 description_bytes: int = 0, pause_s: float = 0.005):
        self.srv = srv
        self.headers = {"Authorization": f"Bearer {token}"}
        self.prefix = prefix or \
            f"drill{os.getpid()}x{next(_stream_ids)}x{time.monotonic_ns() % 10**6}-"
        self.read_every = read_every
        self.batch_project = batch_project
        self.description = "d" * description_bytes if description_bytes else None
        self.pause_s = pause_s
        self.results: list[Outcome] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(threads)]
        self._sync = 0  # requests made by write_some

    # --- one request -------------------------------------------------------------------------

    def _one(self, session: requests.Session, thread: int, i: int) -> Outcome:
        if self.batch_project and thread == 0 and i % 5 == 0:
            name = f"{self.prefix}b{thread}-{i}#"
            base = (thread * 1_000_000 + i * 1000) % 900_000_000
            companies = [{"name": f"{name}{k}",
                          "registration_number": registration_number(base + k)}
                         for k in range(self.BATCH)]
            o = Outcome(thread, i, "batch", name, time.monotonic())
            url, payload = "/api/companies/batch", {"project_id": self.batch_project,
                                                   "companies": companies}
        elif self.read_every and i % self.read_every == 1:
            o = Outcome(thread, i, "read", "", time.monotonic())
            url, payload = "/api/projects?limit=5", None
        else:
            name = f"{self.prefix}{thread}-{i}"
            body = {"name": name}
            if self.description:
                body["description"] = self.description
            o = Outcome(thread, i, "project", name, time.monotonic())
            url, payload = "/api/projects", body
        try:
            if payload is None:
                r = session.get(self.srv.url(url), headers=self.headers, timeout=30)
            else:
                r = session.post(self.srv.url(url), headers=self.headers, json=payload,
                                 timeout=30)
            o.status, o.text = r.status_code, r.text
            try:
                o.body = r.json() if r.content else {}
            except ValueError:
                o.body = {}
        except requests.RequestException as e:
            o.error = repr(e)[:300]
        o.t1 = time.monotonic()
        return o

    def _run(self, thread: int):
        i = 0
        with requests.Session() as session:
            while not self._stop.is_set():
                i += 1
                o = self._one(session, thread, i)
                with self._lock:
                    self.results.append(o)
                if o.error:
                    # A new connection next time (the server may be gone for a while).
                    session.close()
                time.sleep(self.pause_s)

    def write_some(self, n: int) -> list[Outcome]:
        out = []
        with requests.Session() as session:
            for _ in range(n):
                self._sync += 1
                o = self._one(session, 99, self._sync)
                out.append(o)
        with self._lock:
            self.results += out
        return out

    # --- control -----------------------------------------------------------------------------

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def matching(self, pred) -> list[Outcome]:
        with self._lock:
            return [o for o in self.results if pred(o)]

    def wait_for(self, pred, count: int, timeout: float, what: str) -> list[Outcome]:
        """Waits until `count` outcomes match `pred`; returns them."""
        deadline = time.monotonic() + timeout
        while len(found := self.matching(pred)) < count:
            if time.monotonic() > deadline:
                with self._lock:
                    tail = [o.describe() for o in self.results[-5:]]
                raise AssertionError(f"{what}: {len(found)} of {count} within {timeout} s; "
                                     f"last answers: {tail}")
            time.sleep(0.02)
        return found

    def wait_for_acks(self, count: int, timeout: float, what: str) -> list[Outcome]:
        return self.wait_for(lambda o: o.ok and o.kind != "read", count, timeout, what)

    def acked_names(self) -> set[str]:
        return {o.name for o in self.matching(lambda o: o.ok and o.kind == "project")}
