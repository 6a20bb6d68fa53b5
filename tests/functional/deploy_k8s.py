"""The check of deploy/kubernetes: a small JSON schema per kind for the fields the manifests use,
then the relations no schema sees (probes on routes evald serves, the drain within the grace
period, selectors that select, settings that exist). `k8s_problems(docs, facts)` -> problems.
"""

from __future__ import annotations

import jsonschema

S = {"type": "string", "minLength": 1}
I = {"type": "integer"}
LABELS = {"type": "object", "minProperties": 1, "additionalProperties": S}
META = {"type": "object", "required": ["name", "labels"],
        "properties": {"name": S, "namespace": S, "labels": LABELS}}
QUANTITIES = {"type": "object", "required": ["cpu", "memory"]}
RESOURCES = {"type": "object", "required": ["requests", "limits"],
             "properties": {"requests": QUANTITIES, "limits": QUANTITIES}}
PROBE = {"type": "object", "required": ["httpGet"],
         "properties": {"httpGet": {"type": "object", "required": ["path", "port"],
                                    "properties": {"path": S, "port": {"type": ["string", "integer"]}}}}}
CONTAINER_SECURITY = {"type": "object",
                      "required": ["allowPrivilegeEscalation", "capabilities"],
                      "properties": {"allowPrivilegeEscalation": {"const": False},
                                     "capabilities": {"type": "object", "required": ["drop"],
                                                      "properties": {"drop": {"contains": {"const": "ALL"}}}}}}
POD_SECURITY = {"type": "object", "required": ["runAsNonRoot", "runAsUser"],
                "properties": {"runAsNonRoot": {"const": True},
                               "runAsUser": {"type": "integer", "minimum": 1}}}
ENV_FROM = {"type": "array", "minItems": 1, "items": {
    "type": "object", "properties": {"configMapRef": {"type": "object", "required": ["name"]},
                                     "secretRef": {"type": "object", "required": ["name"]}}}}


def _container(*required):
    return {"type": "object", "required": ["name", "image", "resources", "securityContext", "envFrom", *required],
            "properties": {"name": S, "image": S, "args": {"type": "array", "items": S},
                           "resources": RESOURCES, "securityContext": CONTAINER_SECURITY,
                           "envFrom": ENV_FROM,
                           "ports": {"type": "array", "minItems": 1, "items": {
                               "type": "object", "required": ["name", "containerPort"],
                               "properties": {"name": S, "containerPort": I}}},
                           "livenessProbe": PROBE, "readinessProbe": PROBE, "startupProbe": PROBE}}


def _pod(container, *required):
    return {"type": "object", "required": ["metadata", "spec"], "properties": {
        "metadata": {"type": "object", "required": ["labels"], "properties": {"labels": LABELS}},
        "spec": {"type": "object", "required": ["securityContext", "containers", *required],
                 "properties": {"securityContext": POD_SECURITY,
                                "terminationGracePeriodSeconds": I,
                                "restartPolicy": {"enum": ["Never", "OnFailure"]},
                                "containers": {"type": "array", "minItems": 1, "maxItems": 1,
                                               "items": container}}}}}


def _kind(api, kind, spec=None, **extra):
    props = {"apiVersion": {"const": api}, "kind": {"const": kind}, "metadata": META}
    required = ["apiVersion", "kind", "metadata"]
    if spec is not None:
        props["spec"] = spec
        required.append("spec")
    props.update(extra)
    return {"type": "object", "required": required + list(extra), "properties": props}


SELECTOR = {"type": "object", "required": ["matchLabels"], "properties": {"matchLabels": LABELS}}
SCHEMAS = {
    "Namespace": _kind("v1", "Namespace"),
    "ConfigMap": _kind("v1", "ConfigMap", data={"type": "object", "additionalProperties": {"type": "string"}}),
    "Secret": _kind("v1", "Secret", stringData={"type": "object", "additionalProperties": {"type": "string"}}),
    "PersistentVolumeClaim": _kind("v1", "PersistentVolumeClaim", {
        "type": "object", "required": ["accessModes", "resources"],
        "properties": {"accessModes": {"contains": {"const": "ReadWriteMany"}}}}),
    "Deployment": _kind("apps/v1", "Deployment", {
        "type": "object", "required": ["replicas", "selector", "template", "strategy"],
        "properties": {"replicas": {"const": 3}, "selector": SELECTOR,
                       "template": _pod(_container("ports", "livenessProbe", "readinessProbe",
                                                   "startupProbe", "lifecycle"),
                                        "terminationGracePeriodSeconds")}}),
    "Service": _kind("v1", "Service", {
        "type": "object", "required": ["selector", "ports"],
        "properties": {"selector": LABELS, "ports": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["port", "targetPort"]}}}}),
    "Ingress": _kind("networking.k8s.io/v1", "Ingress", {
        "type": "object", "required": ["tls", "rules"],
        "properties": {"tls": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["hosts", "secretName"]}}}}),
    "PodDisruptionBudget": _kind("policy/v1", "PodDisruptionBudget", {
        "type": "object", "required": ["selector", "minAvailable"],
        "properties": {"selector": SELECTOR, "minAvailable": I}}),
    "HorizontalPodAutoscaler": _kind("autoscaling/v2", "HorizontalPodAutoscaler", {
        "type": "object", "required": ["scaleTargetRef", "minReplicas", "maxReplicas", "metrics"],
        "properties": {"scaleTargetRef": {"type": "object", "required": ["apiVersion", "kind", "name"]},
                       "minReplicas": I, "maxReplicas": I}}),
    "Job": _kind("batch/v1", "Job", {
        "type": "object", "required": ["template", "backoffLimit"],
        "properties": {"template": _pod(_container("args"), "restartPolicy")}}),
    "PodMonitor": _kind("monitoring.coreos.com/v1", "PodMonitor", {
        "type": "object", "required": ["selector", "podMetricsEndpoints"],
        "properties": {"selector": SELECTOR, "podMetricsEndpoints": {
            "type": "array", "minItems": 1, "items": {
                "type": "object", "required": ["port", "path", "bearerTokenSecret"],
                "properties": {"path": {"const": "/health/metrics"},
                               "bearerTokenSecret": {"type": "object", "required": ["name", "key"]}}}}}}),
}
# PostgreSQL's default max_connections, less superuser_reserved_connections.
PG_MAX_CONNECTIONS, PG_RESERVED = 100, 3
REQUIRED_KINDS = {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                  "HorizontalPodAutoscaler", "Job", "Ingress"}


def _subset(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _sleep_seconds(container: dict) -> int:
    cmd = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return int(cmd[1]) if len(cmd) == 2 and cmd[0] == "sleep" else 0


def k8s_problems(docs: list[dict], settings: dict, routes: set[str], commands: set[str]) -> list[str]:
    """`settings`: evald_settings(); `routes`: the OpenAPI paths; `commands`: evald's verbs."""
    problems = []
    by_kind: dict[str, list[dict]] = {}
    for d in docs:
        kind = d.get("kind")
        if kind not in SCHEMAS:
            problems.append(f"unexpected kind {kind!r}")
            continue
        for e in jsonschema.Draft7Validator(SCHEMAS[kind]).iter_errors(d):
            path = "/".join(str(p) for p in e.absolute_path)
            problems.append(f"{kind} {d.get('metadata', {}).get('name')}: {path}: {e.message}")
        by_kind.setdefault(kind, []).append(d)
    missing = REQUIRED_KINDS - set(by_kind)
    if missing:
        problems.append(f"missing kinds: {sorted(missing)}")
    if problems:
        return problems  # the relations below assume the shapes above

    ns = {d["metadata"]["name"] for d in by_kind.get("Namespace", [])}
    for d in docs:
        if d["kind"] != "Namespace" and ns and d["metadata"].get("namespace") not in ns:
            problems.append(f"{d['kind']} {d['metadata']['name']}: not in namespace {ns}")

    config = {k: v for c in by_kind["ConfigMap"] for k, v in c.get("data", {}).items()}
    secrets = {s["metadata"]["name"]: s.get("stringData", {}) for s in by_kind["Secret"]}
    for key in list(config) + [k for v in secrets.values() for k in v]:
        if key not in settings:
            problems.append(f"{key}: not a setting of evald (evald serve --help)")
    port = int(config.get("PORT", settings.get("PORT") or 8000))
    drain_s = int(config.get("DRAIN_TIMEOUT_MS", settings["DRAIN_TIMEOUT_MS"])) / 1000
    env_names = {("configMapRef", c["metadata"]["name"]) for c in by_kind["ConfigMap"]} | \
                {("secretRef", n) for n in secrets}
    claims = {c["metadata"]["name"] for c in by_kind.get("PersistentVolumeClaim", [])}

    dep = by_kind["Deployment"][0]
    pod = dep["spec"]["template"]
    pod_labels = pod["metadata"]["labels"]
    c = pod["spec"]["containers"][0]
    if not _subset(dep["spec"]["selector"]["matchLabels"], pod_labels):
        problems.append("Deployment: its selector does not select its pods")
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    if port not in ports.values():
        problems.append(f"Deployment: no container port is evald's PORT {port}")
    for probe, path in (("livenessProbe", "/health/live"), ("readinessProbe", "/health/ready"),
                        ("startupProbe", None)):
        get = c[probe]["httpGet"]
        if get["path"] not in routes:
            problems.append(f"{probe}: evald serves no {get['path']}")
        if path and get["path"] != path:
            problems.append(f"{probe} checks {get['path']}, expected {path}")
        if ports.get(get["port"], get["port"]) != port:
            problems.append(f"{probe}: port {get['port']} is not evald's PORT {port}")
    grace = pod["spec"]["terminationGracePeriodSeconds"]
    if grace <= drain_s + _sleep_seconds(c):
        problems.append(f"terminationGracePeriodSeconds {grace} is not longer than the preStop "
                        f"pause ({_sleep_seconds(c)} s) plus DRAIN_TIMEOUT_MS ({drain_s} s)")
    for ref in c["envFrom"]:
        (kind, r), = ref.items()
        if (kind, r["name"]) not in env_names:
            problems.append(f"Deployment: envFrom {kind} {r['name']} is not shipped")
    data_dir = config.get("DATA_DIR", settings["DATA_DIR"])
    mounts = {m["name"]: m["mountPath"] for m in c.get("volumeMounts", [])}
    if c["securityContext"].get("readOnlyRootFilesystem") and data_dir not in mounts.values():
        problems.append(f"read-only root, but DATA_DIR {data_dir} is not a volume")
    for v in pod["spec"].get("volumes", []):
        claim = v.get("persistentVolumeClaim", {}).get("claimName")
        if claim and claim not in claims:
            problems.append(f"volume {v['name']}: no PersistentVolumeClaim {claim}")
    if c.get("args", ["serve"])[0] != "serve":
        problems.append(f"Deployment runs {c.get('args')}, not serve")

    for svc in by_kind["Service"]:
        if not _subset(svc["spec"]["selector"], pod_labels):
            problems.append(f"Service {svc['metadata']['name']}: selects no evald pod")
        for p in svc["spec"]["ports"]:
            if ports.get(p["targetPort"], p["targetPort"]) != port:
                problems.append(f"Service: targetPort {p['targetPort']} is not evald's port")
    svc_ports = {(s["metadata"]["name"], p.get("name")) for s in by_kind["Service"]
                 for p in s["spec"]["ports"]}
    for ing in by_kind["Ingress"]:
        for rule in ing["spec"]["rules"]:
            for p in rule["http"]["paths"]:
                b = p["backend"]["service"]
                if (b["name"], b["port"].get("name")) not in svc_ports:
                    problems.append(f"Ingress: backend {b} is not a shipped Service port")

    for pdb in by_kind["PodDisruptionBudget"]:
        if not _subset(pdb["spec"]["selector"]["matchLabels"], pod_labels):
            problems.append("PodDisruptionBudget: does not select the Deployment's pods")
        if pdb["spec"]["minAvailable"] >= dep["spec"]["replicas"]:
            problems.append("PodDisruptionBudget: minAvailable leaves no pod to evict")
    for hpa in by_kind["HorizontalPodAutoscaler"]:
        ref = hpa["spec"]["scaleTargetRef"]
        if (ref["kind"], ref["name"], ref["apiVersion"]) != ("Deployment", dep["metadata"]["name"], "apps/v1"):
            problems.append(f"HorizontalPodAutoscaler targets {ref}, not the Deployment")
        if hpa["spec"]["minReplicas"] < dep["spec"]["replicas"]:
            problems.append("HorizontalPodAutoscaler: minReplicas below the Deployment's replicas")
        pool = int(config.get("DB_MAX_POOL_SIZE", settings["DB_MAX_POOL_SIZE"]))
        if (hpa["spec"]["maxReplicas"] + 1) * pool > PG_MAX_CONNECTIONS - PG_RESERVED:
            problems.append(f"{hpa['spec']['maxReplicas']} pods and the Job x DB_MAX_POOL_SIZE "
                            f"{pool} exceed PostgreSQL's default max_connections")

    for job in by_kind["Job"]:
        jc = job["spec"]["template"]["spec"]["containers"][0]
        if jc["args"][:1] != ["migrate"] or "migrate" not in commands:
            problems.append(f"Job {job['metadata']['name']}: runs {jc['args']}, not `evald migrate`")
        if jc["image"] != c["image"]:
            problems.append("Job: not the Deployment's image")
        if jc["envFrom"] != c["envFrom"]:
            problems.append("Job: not the Deployment's settings (envFrom)")
        if _subset(dep["spec"]["selector"]["matchLabels"], job["spec"]["template"]["metadata"]["labels"]):
            problems.append("Job: its pod carries the Deployment's selector labels")

    for pm in by_kind.get("PodMonitor", []):
        if not _subset(pm["spec"]["selector"]["matchLabels"], pod_labels):
            problems.append("PodMonitor: selects no evald pod")
        for ep in pm["spec"]["podMetricsEndpoints"]:
            token = ep["bearerTokenSecret"]
            if ep["port"] not in ports:
                problems.append(f"PodMonitor: no container port {ep['port']}")
            if token["key"] != "METRICS_TOKEN" or token["key"] not in secrets.get(token["name"], {}):
                problems.append(f"PodMonitor: token {token} is not the Secret's METRICS_TOKEN")
    return problems

