"""deploy/: the Docker image, docker-compose, Kubernetes, systemd and nginx artifacts.

Each artifact is checked by the tool that reads it where this machine has one (docker-compose
config, nginx -t, systemd-analyze), by its schema and relations otherwise, and each checker is
shown to reject a broken copy. The settings the artifacts give evald are run by the real binary
(`evald migrate`, then `evald serve`), and nginx proxies HTTPS to a real evald. The Dockerfile
cannot be built here (no Docker engine): test_deploy_image.py checks it from its text.
Prometheus and Grafana: test_deploy_monitoring.py.
"""

from __future__ import annotations

import copy
import http.client
import json
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest
import requests
import yaml

from conftest import EVALD_BIN, REPO, free_port, http_status, require_binary, run_evald
from deploy_k8s import k8s_problems
from deploykit import DEPLOY, evald_routes, evald_settings, systemd_problems

FILLED = {"POSTGRES_PASSWORD": "5f0c1e7d9a8b4c3d2e1f0a9b8c7d6e5f",
          "JWT_SECRET": "deploy-test-jwt-secret-0123456789abcdef",
          "METRICS_TOKEN": "deploy-test-metrics-token-0123456789",
          "ADMIN_PASSWORD": "Evald-Deploy-Admin-2026!"}


@pytest.fixture(scope="module")
def settings():
    require_binary()
    return evald_settings()


def tool(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None)
    if not path:
        pytest.fail(f"{name} is not installed (scripts/install-deps.sh installs it)", pytrace=False)
    return path


# --- docker-compose ----------------------------------------------------------------------------

def filled_env_file(tmp_path: Path, values: dict = FILLED) -> Path:
    text = (DEPLOY / "env.example").read_text()
    for k, v in values.items():
        text, n = re.subn(rf"(?m)^{k}=$", f"{k}={v}", text)
        assert n == 1, f"env.example has no empty {k}="
    path = tmp_path / "compose.env"
    path.write_text(text)
    return path


def compose_config(env_file: Path, compose: Path = DEPLOY / "docker-compose.yml"):
    return subprocess.run([tool("docker-compose"), "-f", str(compose), "--env-file", str(env_file),
                           "config"], capture_output=True, text=True, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def compose(tmp_path_factory):
    p = compose_config(filled_env_file(tmp_path_factory.mktemp("compose")))
    assert p.returncode == 0, f"docker-compose config failed:\n{p.stderr}"
    return yaml.safe_load(p.stdout)


def seconds(duration: str) -> float:
    m = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", str(duration))
    assert m and duration, f"not a duration: {duration!r}"
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def test_compose_runs_three_replicas_behind_nginx_with_postgres_and_redis(compose, settings):
    s = compose["services"]
    assert {"evald", "migrate", "nginx", "postgres", "redis"} <= set(s)
    assert s["evald"]["deploy"]["replicas"] == 3
    assert "ports" not in s["evald"], "replicas are reached through nginx only"
    assert {"80:80", "443:443"} <= {f"{p['published']}:{p['target']}" if isinstance(p, dict)
                                    else p for p in s["nginx"]["ports"]}
    assert re.match(r"postgres:15(\b|$)", s["postgres"]["image"])
    assert re.match(r"redis:7(\b|$)", s["redis"]["image"])
    for name in ("postgres", "redis", "evald", "nginx"):
        assert s[name]["healthcheck"]["test"], f"{name} has no health check"
    for name, path in (("postgres", "/var/lib/postgresql/data"), ("redis", "/data"),
                       ("evald", "/var/lib/evald/data")):
        sources = {v.split(":")[0] for v in s[name]["volumes"] if v.split(":")[1] == path}
        assert sources and sources <= set(compose["volumes"]), f"{name}: no named volume at {path}"
    env = s["evald"]["environment"]
    unknown = set(env) - set(settings)
    assert not unknown, f"not settings of evald: {unknown}"
    drain = int(env.get("DRAIN_TIMEOUT_MS", settings["DRAIN_TIMEOUT_MS"])) / 1000
    assert seconds(s["evald"]["stop_grace_period"]) > drain
    # Migrations run once, before the replicas, which refuse to migrate themselves.
    assert s["migrate"]["command"] == ["migrate"]
    assert s["evald"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert env["MIGRATE_ON_START"] == "false"
    nginx_ip = s["nginx"]["networks"]["evald"]["ipv4_address"]
    assert env["TRUSTED_PROXIES"] == f"{nginx_ip}/32"
    pool = int(env.get("DB_MAX_POOL_SIZE", settings["DB_MAX_POOL_SIZE"]))
    assert (s["evald"]["deploy"]["replicas"] + 1) * pool <= 97, "beyond PostgreSQL's max_connections"


def test_compose_takes_secrets_from_the_uncommitted_env_file(tmp_path):
    raw = (DEPLOY / "docker-compose.yml").read_text()
    for key in ("JWT_SECRET", "METRICS_TOKEN", "POSTGRES_PASSWORD"):
        assert re.search(rf"\${{{key}:\?", raw), f"{key} is not required from the env file"
    ignored = subprocess.run(["git", "check-ignore", "-q", "deploy/.env"], cwd=REPO)
    assert ignored.returncode == 0, "deploy/.env is not git-ignored"
    # The template as shipped lacks the secrets: docker-compose refuses it, naming them.
    p = compose_config(DEPLOY / "env.example")
    assert p.returncode != 0 and "POSTGRES_PASSWORD" in p.stderr, p.stderr


def test_compose_config_rejects_a_broken_file(tmp_path):
    broken = tmp_path / "docker-compose.yml"
    broken.write_text((DEPLOY / "docker-compose.yml").read_text()
                      .replace("stop_grace_period: 40s", "stop_grace_period: [40]"))
    p = compose_config(filled_env_file(tmp_path), broken)
    assert p.returncode != 0 and "stop_grace_period" in p.stderr, p.stderr


def run_stack_env(evald, env: dict, migrate_args: list[str], tmp_path: Path):
    """The deployment's evald settings, with a local database, data directory and port: serve
    refuses the empty database, the migration command migrates it, then serve serves."""
    env = {**env, "DATABASE_URL": f"sqlite://{tmp_path}/evald.db", "DATA_DIR": str(tmp_path / "data"),
           "REDIS_URL": "", "HOST": "127.0.0.1", "PORT": str(free_port())}
    refused = run_evald(["serve"], env=env, cwd=tmp_path)
    assert refused.returncode != 0 and "evald migrate" in refused.stderr, refused.stderr
    migrated = run_evald(migrate_args, env=env, cwd=tmp_path)
    assert migrated.returncode == 0, migrated.stderr
    env.pop("PORT")
    srv = evald(env={**env, "RATE_LIMIT_ENABLED": None})
    deadline = time.monotonic() + 5  # readiness comes from the background checks
    while http_status(srv.port, "/health/ready", timeout=2) != 200:
        assert time.monotonic() < deadline, "not ready within 5 s"
        time.sleep(0.05)
    r = requests.get(srv.url("/health/metrics"), timeout=5,
                     headers={"Authorization": f"Bearer {env['METRICS_TOKEN']}"})
    assert r.status_code == 200 and "evald_build_info" in r.text
    assert '"environment":"production"' in srv.log_text()
    return srv


def test_compose_settings_run_evald(evald, compose, tmp_path):
    s = compose["services"]
    run_stack_env(evald, {k: str(v) for k, v in s["evald"]["environment"].items()},
                  s["migrate"]["command"], tmp_path)


# --- Kubernetes --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def k8s_docs():
    docs = []
    for path in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


@pytest.fixture(scope="module")
def k8s_facts(settings):
    help_text = run_evald(["--help"]).stdout
    commands = set(re.findall(r"(?m)^  ([a-z][a-z-]+)\s{2,}", help_text.split("Subcommands:")[1]))
    return settings, evald_routes(), commands


def test_kubernetes_manifests_match_their_schemas_and_evald(k8s_docs, k8s_facts):
    assert k8s_problems(k8s_docs, *k8s_facts) == []


def _deployment(docs):
    return next(d for d in docs if d["kind"] == "Deployment")


def _pod_spec(docs, kind="Deployment"):
    return next(d for d in docs if d["kind"] == kind)["spec"]["template"]["spec"]


BREAKAGES = {
    "readiness on a route evald does not serve": (
        lambda d: _pod_spec(d)["containers"][0]["readinessProbe"]["httpGet"].update(path="/health/readiness"),
        "evald serves no /health/readiness"),
    "liveness on the readiness route": (
        lambda d: _pod_spec(d)["containers"][0]["livenessProbe"]["httpGet"].update(path="/health/ready"),
        "livenessProbe checks /health/ready, expected /health/live"),
    "probe on another port": (
        lambda d: _pod_spec(d)["containers"][0]["startupProbe"]["httpGet"].update(port=8080),
        "startupProbe: port 8080"),
    "root allowed": (lambda d: _pod_spec(d)["securityContext"].update(runAsNonRoot=False),
                     "runAsNonRoot"),
    "grace period shorter than the drain": (
        lambda d: _pod_spec(d).update(terminationGracePeriodSeconds=30),
        "terminationGracePeriodSeconds 30 is not longer"),
    "no resources": (lambda d: _pod_spec(d)["containers"][0].pop("resources"), "'resources' is a required"),
    "two replicas": (lambda d: _deployment(d)["spec"].update(replicas=2), "3 was expected"),
    "HPA on another target": (
        lambda d: next(x for x in d if x["kind"] == "HorizontalPodAutoscaler")["spec"]["scaleTargetRef"].update(name="api"),
        "HorizontalPodAutoscaler targets"),
    "PDB selecting nothing": (
        lambda d: next(x for x in d if x["kind"] == "PodDisruptionBudget")["spec"]["selector"]["matchLabels"].update(app="web"),
        "PodDisruptionBudget: does not select"),
    "Job serving instead of migrating": (
        lambda d: _pod_spec(d, "Job")["containers"][0].update(args=["serve"]),
        "not `evald migrate`"),
    "ConfigMap key that is no setting": (
        lambda d: next(x for x in d if x["kind"] == "ConfigMap")["data"].update(DRAIN_TIMEOUT="25000"),
        "DRAIN_TIMEOUT: not a setting"),
    "ConfigMap drain longer than the grace period": (
        lambda d: next(x for x in d if x["kind"] == "ConfigMap")["data"].update(DRAIN_TIMEOUT_MS="60000"),
        "plus DRAIN_TIMEOUT_MS (60.0 s)"),
    "Service on no pod": (
        lambda d: next(x for x in d if x["kind"] == "Service")["spec"]["selector"].update(tier="db"),
        "Service evald: selects no evald pod"),
    "pool too large for the autoscaler's maximum": (
        lambda d: next(x for x in d if x["kind"] == "ConfigMap")["data"].update(DB_MAX_POOL_SIZE="20"),
        "exceed PostgreSQL's default max_connections"),
    "Ingress without TLS": (lambda d: next(x for x in d if x["kind"] == "Ingress")["spec"].pop("tls"),
                            "'tls' is a required"),
}


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_kubernetes_check_rejects_a_broken_manifest(k8s_docs, k8s_facts, breakage):
    docs = copy.deepcopy(k8s_docs)
    mutate, expected = BREAKAGES[breakage]
    mutate(docs)
    problems = k8s_problems(docs, *k8s_facts)
    assert any(expected in p for p in problems), problems


def test_kubernetes_settings_run_evald(evald, k8s_docs, tmp_path):
    env = {}
    for d in k8s_docs:
        if d["kind"] == "ConfigMap":
            env.update(d["data"])
        elif d["kind"] == "Secret":  # the template's placeholders, filled in
            env.update({k: FILLED.get(k, "deploy-test-value") if "CHANGE-ME" in v else v
                        for k, v in d["stringData"].items()})
    env.update(JWT_SECRET=FILLED["JWT_SECRET"], METRICS_TOKEN=FILLED["METRICS_TOKEN"],
               ADMIN_PASSWORD=FILLED["ADMIN_PASSWORD"], SMTP_SERVER="")
    assert not [k for k, v in env.items() if "CHANGE-ME" in v]
    run_stack_env(evald, env, _pod_spec(k8s_docs, "Job")["containers"][0]["args"], tmp_path)


# --- systemd -----------------------------------------------------------------------------------

UNIT = DEPLOY / "systemd" / "evald.service"


def test_systemd_unit_verifies_and_is_hardened(settings, tmp_path):
    require_binary()
    unit = tmp_path / "evald.service"
    shutil.copy(UNIT, unit)
    assert systemd_problems(unit, EVALD_BIN, int(settings["DRAIN_TIMEOUT_MS"]) / 1000) == []


UNIT_BREAKAGES = {
    "no NoNewPrivileges": (("NoNewPrivileges=yes\n", ""), "NoNewPrivileges=(unset)"),
    "root": (("User=evald", "User=root"), "runs as root"),
    "stop before the drain ends": (("TimeoutStopSec=40", "TimeoutStopSec=20"), "TimeoutStopSec=20"),
    "unknown key": (("Restart=on-failure", "Restart=on-failure\nRestartPolicy=always"),
                    "Unknown key"),
    "writable system": (("ProtectSystem=strict", "ProtectSystem=no"), "ProtectSystem=no"),
}


@pytest.mark.parametrize("breakage", list(UNIT_BREAKAGES))
def test_systemd_check_rejects_a_broken_unit(settings, tmp_path, breakage):
    (old, new), expected = UNIT_BREAKAGES[breakage]
    if expected == "Unknown key" and not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze is not installed")
    text = UNIT.read_text()
    assert old in text
    unit = tmp_path / "evald.service"
    unit.write_text(text.replace(old, new))
    problems = systemd_problems(unit, EVALD_BIN, int(settings["DRAIN_TIMEOUT_MS"]) / 1000)
    assert any(expected in p for p in problems), problems


# --- nginx -------------------------------------------------------------------------------------

def nginx_conf(tmp_path: Path, upstream: str, http_port: int | None = None,
               https_port: int | None = None, text: str | None = None) -> Path:
    """The shipped config with this machine's paths: a throw-away certificate, the upstream's
    address for Docker's "evald", and (to run it) loopback ports and temporary directories."""
    tls = tmp_path / "tls"
    tls.mkdir(exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=localhost", "-keyout", str(tls / "tls.key"),
                    "-out", str(tls / "tls.crt")], check=True, capture_output=True, timeout=60)
    conf = (text or (DEPLOY / "nginx" / "nginx.conf").read_text())
    assert "/etc/nginx/tls/" in conf and "server evald:8000" in conf
    conf = conf.replace("/etc/nginx/tls/", f"{tls}/").replace("server evald:8000", f"server {upstream}")
    if http_port:
        conf = re.sub(r"(?m)^\s*listen \[::\].*\n", "", conf)
        conf = conf.replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        conf = conf.replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
        temp = "".join(f"    {k}_temp_path {tmp_path}/{k};\n"
                       for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        conf = conf.replace("http {\n", "http {\n" + temp, 1)
    path = tmp_path / "nginx.conf"
    path.write_text(conf)
    return path


def nginx_test(conf: Path) -> subprocess.CompletedProcess:
    return subprocess.run([tool("nginx"), "-t", "-q", "-e", "stderr", "-c", str(conf)],
                          capture_output=True, text=True, timeout=30)


def test_nginx_config_passes_nginx_t(tmp_path):
    p = nginx_test(nginx_conf(tmp_path, "127.0.0.1:8000"))
    assert p.returncode == 0, p.stderr
    broken = (DEPLOY / "nginx" / "nginx.conf").read_text().replace("proxy_pass", "proxy_passs", 1)
    p = nginx_test(nginx_conf(tmp_path, "127.0.0.1:8000", text=broken))
    assert p.returncode != 0 and "proxy_passs" in p.stderr, p.stderr


def test_nginx_terminates_https_in_front_of_evald(evald, tmp_path):
    srv = evald(env={"TRUSTED_PROXIES": "127.0.0.1/32"})
    http_port, https_port = free_port(), free_port()
    conf = nginx_conf(tmp_path, f"127.0.0.1:{srv.port}", http_port, https_port)
    log = open(tmp_path / "nginx.log", "wb")
    proc = subprocess.Popen([tool("nginx"), "-e", "stderr", "-c", str(conf),
                             "-g", f"daemon off; pid {tmp_path}/nginx.pid;"],
                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while http_status(http_port, "/health/ping") != 200:
            assert proc.poll() is None and time.monotonic() < deadline, \
                (tmp_path / "nginx.log").read_text()
            time.sleep(0.05)
        plain = http.client.HTTPConnection("127.0.0.1", http_port, timeout=5)
        plain.request("GET", "/auth/me")
        r = plain.getresponse()
        assert r.status == 301 and r.getheader("Location") == "https://127.0.0.1/auth/me"
        # HTTPS from another loopback address, with a forged X-Forwarded-For.
        ctx = ssl.create_default_context(cafile=str(tmp_path / "tls" / "tls.crt"))
        ctx.check_hostname = False
        tls = http.client.HTTPSConnection("127.0.0.1", https_port, timeout=5, context=ctx,
                                          source_address=("127.0.0.2", 0))
        tls.request("GET", "/no/such/route", headers={"X-Request-ID": "deploy-nginx-test-1",
                                                      "X-Forwarded-For": "203.0.113.9"})
        r = tls.getresponse()
        body = json.loads(r.read())
        assert r.status == 404 and body["error_code"] == "NOT_FOUND"
        assert body["request_id"] == r.getheader("X-Request-ID") == "deploy-nginx-test-1"
        assert r.getheader("Strict-Transport-Security")
        assert tls.sock.version() in ("TLSv1.2", "TLSv1.3")
        deadline = time.monotonic() + 5
        while not (entries := [json.loads(ln) for ln in srv.log_text().splitlines()
                               if "deploy-nginx-test-1" in ln and '"access"' in ln]):
            assert time.monotonic() < deadline, "no access log entry for the request"
            time.sleep(0.05)
        entry = entries[0]
        assert entry["client_ip"] == "127.0.0.2", entry  # nginx's word, not the forged header
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


# --- docs/OPERATIONS.md ------------------------------------------------------------------------

def documented_variables(text: str) -> set[str]:
    """The names in the first column of the guide's configuration tables."""
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    return {name for row in re.findall(r"(?m)^\| ([A-Z][A-Z0-9_ /]+?) \|", section)
            for name in re.findall(r"[A-Z][A-Z0-9_]+", row)}


# Documented before the server reads it (the secret rotation): see the guide.
ANNOUNCED = {"JWT_SECRET_PREVIOUS"}


def test_operations_guide_documents_every_setting(settings):
    text = (REPO / "docs" / "OPERATIONS.md").read_text()
    documented = documented_variables(text)
    assert set(settings) - documented == set(), "settings missing from docs/OPERATIONS.md"
    assert documented - set(settings) - ANNOUNCED == set(), "documented, but not settings"
    api = REPO.parent / "shared" / "API.md"
    if api.is_file():  # the contract's table (beside the repository in CI and sessions)
        table = api.read_text().split("## Environment", 1)[1].split("\n## ", 1)[0]
        names = {n for row in re.findall(r"(?m)^\| ([A-Z][A-Z0-9_ /]+?) \|", table)
                 for n in re.findall(r"[A-Z][A-Z0-9_]+", row)}
        assert names and names - documented == set()
    assert "JWT_SECRET_PREVIOUS" in text.split("## Rotating JWT_SECRET", 1)[1]
    for topic in ("**Redis down.**", "**Database down.**", "**SMTP failing.**",
                  "**Limits too strict.**", "**Restore drill**", "## Upgrades and migrations"):
        assert topic in text
    broken = documented_variables(text.replace("| SLOW_QUERY_MS |", "| SLOW_QUERIES_MS |"))
    assert "SLOW_QUERY_MS" not in broken and "SLOW_QUERIES_MS" in broken
