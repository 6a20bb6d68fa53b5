"""Checkers for the deployment artifacts in deploy/ (test_deploy_artifacts.py and its kin).

Each checker returns a list of problems (empty when the artifact is right), so that a test can
show both that the shipped file passes and that a broken copy is caught.

- `evald_settings()`: the variables `evald serve --help` lists, with their defaults.
- `parse_exposition()`: the metric names and label values of a Prometheus text exposition.
- `promql_selectors()`: the metric selectors of a PromQL expression (a small tokenizer).
- `selector_problems()`: selectors naming series or label values evald does not export.
- `dockerfile_problems()`: the rules deploy/Dockerfile keeps (it cannot be built here).
- `systemd_problems()`: systemd-analyze verify and the hardening keys of the unit.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from conftest import REPO, run_evald

DEPLOY = REPO / "deploy"

# --- evald's own facts ---------------------------------------------------------------------

_HELP_VAR = re.compile(r"\(([A-Z][A-Z0-9_]+)(?:, default ([^)]*))?\)\s*$")


def evald_settings() -> dict[str, str | None]:
    """NAME -> default (None when it has none) for every setting of `evald serve --help`."""
    p = run_evald(["serve", "--help"])
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        m = _HELP_VAR.search(line)
        if m:
            out[m.group(1)] = m.group(2)
    assert len(out) > 50 and "DRAIN_TIMEOUT_MS" in out, f"cannot read the settings: {p.stdout}"
    return out


def evald_routes() -> set[str]:
    import json
    p = run_evald(["openapi"])
    assert p.returncode == 0, p.stderr
    return set(json.loads(p.stdout)["paths"])


# --- Prometheus exposition and PromQL ----------------------------------------------------------

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+\S+")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text: str) -> dict[str, dict[str, set[str]]]:
    """series name -> {label name -> values seen}, from the sample lines."""
    series: dict[str, dict[str, set[str]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a sample line: {line!r}"
        labels = series.setdefault(m.group(1), {})
        for name, value in _LABEL.findall(m.group(3) or ""):
            labels.setdefault(name, set()).add(value)
    return series


_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
  | (?P<range>\[[^\]]*\])
  | (?P<dur>\d+(?:ms|[smhdwy])(?![a-zA-Z0-9_]))
  | (?P<num>0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){},])
""", re.VERBOSE)
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "atan2"}
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def grafana_to_promql(expr: str) -> str:
    for var, value in GRAFANA_VARS.items():
        expr = expr.replace(var, value)
    return expr


def _tokens(expr: str):
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"cannot read PromQL at {expr[pos:pos + 20]!r} in {expr!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            yield m.lastgroup, m.group()


def promql_selectors(expr: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """[(metric name, [(label, op, value), ...]), ...] of every selector in `expr`."""
    toks = list(_tokens(grafana_to_promql(expr)))
    out, i = [], 0
    while i < len(toks):
        kind, text = toks[i]
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in _LABEL_LISTS and nxt == "(":
            i = toks.index(("op", ")"), i) + 1  # a label list, not selectors
            continue
        if kind == "ident" and (text.lower() in _KEYWORDS or nxt in ("(", "by", "without")):
            i += 1  # a keyword, a function, or an aggregation (`sum by (x) (...)` too)
            continue
        if kind == "ident" or text == "{":
            name, matchers = (text, []) if kind == "ident" else ("", [])
            j = i + 1 if kind == "ident" else i
            if j < len(toks) and toks[j][1] == "{":
                j += 1
                while toks[j][1] != "}":
                    label, op, value = toks[j][1], toks[j + 1][1], toks[j + 2][1]
                    matchers.append((label, op, value[1:-1]))
                    j += 3
                    if toks[j][1] == ",":
                        j += 1
                j += 1
            if not name:
                name = next((v for (l, o, v) in matchers if l == "__name__" and o == "="), "")
            out.append((name, matchers))
            i = j
            continue
        i += 1
    return out


# Labels Prometheus adds to every scraped series (the target's), and its own series.
TARGET_LABELS = {"job", "instance", "namespace", "pod"}
SYNTHETIC_SERIES = {"up": {"job", "instance"}}


def selector_problems(expr: str, exported: dict[str, dict[str, set[str]]],
                      allow_synthetic: bool = False) -> list[str]:
    """Selectors of `expr` that name a series evald does not export, a label it does not put on
    that series, or (for `=` matchers) a value it never gives that label."""
    problems = []
    for name, matchers in promql_selectors(expr):
        if allow_synthetic and name in SYNTHETIC_SERIES:
            labels = {k: None for k in SYNTHETIC_SERIES[name]}
        elif name in exported:
            labels = exported[name]
        else:
            problems.append(f"{name or '(no name)'}: not exported by evald (in {expr!r})")
            continue
        for label, op, value in matchers:
            if label in TARGET_LABELS or label == "__name__":
                continue
            if label not in labels:
                problems.append(f"{name}: has no label {label!r} (in {expr!r})")
            elif labels[label] is None or not value:
                continue
            elif op == "=" and value not in labels[label]:
                problems.append(f"{name}: label {label} is never {value!r} "
                                f"(seen: {sorted(labels[label])})")
            elif op == "=~" and re.fullmatch(r"[\w:-]+(\|[\w:-]+)*", value):
                # A plain alternation (outcome=~"failure|locked"): each word must occur.
                for word in value.split("|"):
                    if word not in labels[label]:
                        problems.append(f"{name}: label {label} is never {word!r} "
                                        f"(seen: {sorted(labels[label])})")
    return problems


# --- Dockerfile ------------------------------------------------------------------------------

def dockerfile_instructions(text: str) -> list[tuple[str, str]]:
    """[(INSTRUCTION, arguments)], continuation lines joined, comments dropped."""
    out, buf = [], ""
    for raw in text.splitlines():
        line = raw.strip()
        if not buf and (not line or line.startswith("#")):
            continue
        if buf and line.startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def dockerfile_stages(text: str) -> list[dict]:
    stages = []
    for word, args in dockerfile_instructions(text):
        if word == "FROM":
            parts = args.split()
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append({"image": parts[0], "name": name, "steps": []})
        elif stages:
            stages[-1]["steps"].append((word, args))
    return stages


_DEBIAN_12 = re.compile(r"^debian:(12|bookworm)([.\d]*)(-slim)?(@sha256:[0-9a-f]{64})?$")
# What the final stage may copy from the build stage: the binary and the docs UI assets.
ALLOWED_RUNTIME_COPIES = (re.compile(r"/build/evald$"),
                          re.compile(r"/web/node_modules/(swagger-ui-dist|redoc(/bundles)?)$"))


def dockerfile_problems(text: str) -> list[str]:
    problems = []
    stages = dockerfile_stages(text)
    if len(stages) < 2:
        return [f"not multi-stage: {len(stages)} stage(s)"]
    for s in stages:
        if not _DEBIAN_12.match(s["image"]):
            problems.append(f"FROM {s['image']}: not Debian 12 pinned by tag")
    build_names = {s["name"] for s in stages[:-1]}
    final = stages[-1]
    steps = final["steps"]
    words = [w for w, _ in steps]
    users = [a for w, a in steps if w == "USER"]
    if not users:
        problems.append("final stage has no USER")
    elif users[-1].split(":")[0] in ("root", "0"):
        problems.append(f"final stage runs as {users[-1]}")
    health = [a for w, a in steps if w == "HEALTHCHECK"]
    if not health or "/health/ping" not in health[-1]:
        problems.append("no HEALTHCHECK on /health/ping")
    stops = [a for w, a in steps if w == "STOPSIGNAL"]
    if stops != ["SIGTERM"]:
        problems.append(f"STOPSIGNAL is {stops or 'unset'}, not SIGTERM")
    entry = [a for w, a in steps if w == "ENTRYPOINT"]
    if not entry or not entry[-1].startswith("["):
        problems.append("ENTRYPOINT is not in exec form (signals would go to a shell)")
    if "ADD" in words:
        problems.append("final stage uses ADD")
    for w, a in steps:
        if w != "COPY":
            continue
        parts = a.split()
        flags = [p for p in parts if p.startswith("--")]
        paths = [p for p in parts if not p.startswith("--")]
        src = [f.split("=", 1)[1] for f in flags if f.startswith("--from=")]
        if not src or src[0] not in build_names:
            problems.append(f"COPY {a}: final stage copies from outside the build stage")
            continue
        for p in paths[:-1]:
            if not any(r.search(p) for r in ALLOWED_RUNTIME_COPIES):
                problems.append(f"COPY {p}: neither the release binary nor the docs assets")
    return problems


def runtime_packages(text: str) -> set[str]:
    """The packages the final stage's apt-get install lines name."""
    final = dockerfile_stages(text)[-1]
    pkgs = set()
    for w, a in final["steps"]:
        if w == "RUN":
            for part in a.split("&&"):
                if "apt-get install" in part:
                    pkgs |= {p for p in part.split()[2:] if not p.startswith("-") and
                             p not in ("install", "apt-get")}
    return pkgs


# In every Debian image: the essential packages (bash, coreutils, apt) depend on them.
BASE_PACKAGES = {"libc6", "libgcc-s1"}


def linked_packages(binary: Path) -> dict[str, str]:
    """library -> Debian package, for each shared library `binary` names (DT_NEEDED), except
    those every Debian image has."""
    needed = re.findall(r"\(NEEDED\).*\[(.+)\]",
                        subprocess.run(["readelf", "-d", str(binary)], capture_output=True,
                                       text=True, check=True).stdout)
    resolved = dict(re.findall(r"(?m)^\s*(\S+) => (/\S+)",
                               subprocess.run(["ldd", str(binary)], capture_output=True,
                                              text=True, check=True).stdout))
    # usrmerge: dpkg knows each file under one of /lib and /usr/lib; ask for both at once.
    paths = {lib: resolved[lib] for lib in needed}
    variants = {p2 for p in paths.values() for p2 in (p, p[4:] if p.startswith("/usr/") else "/usr" + p)}
    found = subprocess.run(["dpkg", "-S", *sorted(variants)], capture_output=True, text=True).stdout
    owner = {}
    for line in found.splitlines():
        pkgs, _, path = line.partition(": ")
        for p2 in (path, path[4:] if path.startswith("/usr/") else "/usr" + path):
            owner[p2] = pkgs.split(",")[0].split(":")[0].strip()
    out = {}
    for lib, path in paths.items():
        assert path in owner, f"no package holds {lib} ({path})"
        if owner[path] not in BASE_PACKAGES:
            out[lib] = owner[path]
    return out


# --- systemd ---------------------------------------------------------------------------------

HARDENING = {"NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
             "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
             "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
             "RestrictNamespaces": "yes", "RestrictSUIDSGID": "yes", "LockPersonality": "yes",
             "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
             "SystemCallArchitectures": "native"}


def unit_keys(text: str) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            k, _, v = line.partition("=")
            keys.setdefault(k.strip(), []).append(v.strip())
    return keys


def systemd_problems(unit: Path, evald_bin: Path, drain_seconds: float,
                     max_exposure: float = 2.0) -> list[str]:
    text = unit.read_text()
    keys = unit_keys(text)
    problems = []
    for k, v in HARDENING.items():
        if keys.get(k, [None])[-1] != v:
            problems.append(f"{k}={keys.get(k, ['(unset)'])[-1]}, expected {k}={v}")
    user = keys.get("User", ["root"])[-1]
    if user in ("root", "0"):
        problems.append(f"runs as {user}")
    stop = keys.get("TimeoutStopSec", ["90"])[-1]
    if not stop.isdigit() or int(stop) <= drain_seconds:
        problems.append(f"TimeoutStopSec={stop} is not longer than the drain ({drain_seconds} s)")
    if keys.get("KillSignal", ["SIGTERM"])[-1] != "SIGTERM":
        problems.append("KillSignal is not SIGTERM")
    if not keys.get("ExecStart", [""])[-1].endswith("evald serve"):
        problems.append("ExecStart does not run `evald serve`")
    if shutil.which("systemd-analyze"):
        # verify needs ExecStart's binary to exist: point it at the one under test.
        copy = unit.parent / ".verify" / unit.name
        copy.parent.mkdir(exist_ok=True)
        copy.write_text(text.replace("/usr/local/bin/evald", str(evald_bin)))
        v = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True,
                           text=True, timeout=60)
        if v.returncode != 0 or v.stdout.strip() or v.stderr.strip():
            problems.append(f"systemd-analyze verify: {(v.stdout + v.stderr).strip()}")
        s = subprocess.run(["systemd-analyze", "security", "--offline=yes",
                            f"--threshold={int(max_exposure * 10)}", str(copy)],
                           capture_output=True, text=True, timeout=60)
        if s.returncode != 0:
            level = re.search(r"Overall exposure level.*", s.stdout)
            problems.append(f"systemd-analyze security: {level.group() if level else s.stderr}")
        shutil.rmtree(copy.parent)
    return problems
