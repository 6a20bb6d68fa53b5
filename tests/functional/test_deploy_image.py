"""deploy/Dockerfile, which cannot be built here (CI has no Docker engine): its rules checked from
its text (Debian 12 stages, a non-root user, HEALTHCHECK on /health/ping, STOPSIGNAL SIGTERM, an
exec-form ENTRYPOINT, only the binary and the docs assets in the final stage); the runtime stage
installs the package of every shared library the binary links; the build stage installs the
build dependencies of scripts/install-deps.sh, and what it copies through
Dockerfile.dockerignore is enough for its cmake command to configure every input of evald.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import EVALD_BIN, REPO, SANITIZER, require_binary
from deploykit import DEPLOY, dockerfile_problems, dockerfile_stages, linked_packages, runtime_packages

# --- Dockerfile --------------------------------------------------------------------------------

DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def test_dockerfile_keeps_the_image_rules():
    assert dockerfile_problems(DOCKERFILE) == []


DOCKER_BREAKAGES = {
    "root": (("USER 10001:10001", "USER root"), "final stage runs as root"),
    "unpinned base": (("FROM debian:12-slim", "FROM debian:latest"), "not Debian 12 pinned"),
    "other distribution": (("FROM debian:12 AS build", "FROM ubuntu:24.04 AS build"), "ubuntu"),
    "no health check": (("/health/ping", "/"), "no HEALTHCHECK on /health/ping"),
    "kill signal": (("STOPSIGNAL SIGTERM", "STOPSIGNAL SIGKILL"), "not SIGTERM"),
    "shell-form entrypoint": (('ENTRYPOINT ["/usr/local/bin/evald"]', "ENTRYPOINT /usr/local/bin/evald"),
                              "exec form"),
    "sources in the image": (("WORKDIR /var/lib/evald", "WORKDIR /var/lib/evald\nCOPY . /src"),
                             "copies from outside the build stage"),
    "build tree in the image": (("COPY --from=build /src/build/evald ", "COPY --from=build /src/build "),
                                "neither the release binary nor the docs assets"),
}


@pytest.mark.parametrize("breakage", list(DOCKER_BREAKAGES))
def test_dockerfile_check_rejects_a_broken_copy(breakage):
    (old, new), expected = DOCKER_BREAKAGES[breakage]
    assert old in DOCKERFILE
    problems = dockerfile_problems(DOCKERFILE.replace(old, new))
    assert any(expected in p for p in problems), problems


@pytest.mark.skipif(bool(SANITIZER), reason="a sanitizer build links its runtimes (libasan, "
                    "libubsan), which the image's release build does not")
def test_dockerfile_runtime_installs_every_library_evald_links():
    require_binary()
    needed = linked_packages(EVALD_BIN)
    assert "libpq.so.5" in needed, needed
    installed = runtime_packages(DOCKERFILE)
    assert {lib: p for lib, p in needed.items() if p not in installed} == {}
    without = runtime_packages(DOCKERFILE.replace(" libpq5 ", " "))
    assert needed["libpq.so.5"] not in without


def configure_from_copies(dockerfile: str, tmp_path: Path) -> list[str]:
    """Problems found by copying what the build stage copies (through the dockerignore) into an
    empty directory and running its cmake command there: every input of evald must be there."""
    build = dockerfile_stages(dockerfile)[0]
    allowed = [ln[1:].rstrip("/") for ln in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
               if ln.startswith("!")]
    ctx = tmp_path / "src"
    ctx.mkdir(parents=True)
    for w, a in build["steps"]:
        if w != "COPY" or "--from" in a:
            continue
        *sources, dest = a.split()
        for src in sources:
            if src.rstrip("/") not in allowed:
                return [f"COPY {src}: excluded by Dockerfile.dockerignore"]
            target = ctx / dest / Path(src).name if dest.endswith("/") else ctx / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (REPO / src).is_dir() else shutil.copy)(REPO / src, target)
    runs = [part.strip() for w, a in build["steps"] if w == "RUN" for part in a.split("&&")]
    configure = next(r for r in runs if r.startswith("cmake -S"))
    if "-DCMAKE_BUILD_TYPE=Release" not in configure or "cmake --build build --target evald" not in runs:
        return ["the build stage does not build the Release evald target"]
    p = subprocess.run(shlex.split(configure), cwd=ctx, capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        return [f"cmake: {(p.stdout + p.stderr)[-2000:]}"]
    return missing_inputs(ctx)


def missing_inputs(ctx: Path) -> list[str]:
    """The source files of the evald target (configured in ctx/build) that ctx lacks; CMake
    turns missing ones into phony targets, so only ninja's list of inputs shows them."""
    p = subprocess.run(["ninja", "-C", "build", "-t", "inputs", "evald"], cwd=ctx,
                       capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        return [f"ninja: {p.stderr}"]
    inputs = [Path(ln) for ln in p.stdout.split()]
    return [f"{i.relative_to(ctx)}: needed by evald, not copied" for i in inputs
            if i.is_relative_to(ctx) and not i.is_relative_to(ctx / "build") and not i.exists()]


def test_dockerfile_build_stage_configures_from_what_it_copies(tmp_path):
    assert configure_from_copies(DOCKERFILE, tmp_path) == []
    shutil.rmtree(tmp_path / "src" / "share")  # as if `COPY share share` were dropped
    problems = missing_inputs(tmp_path / "src")
    assert problems and problems[0].startswith("share/"), problems
    excluded = DOCKERFILE.replace("COPY bench bench", "COPY bench tests bench")
    assert configure_from_copies(excluded, tmp_path / "x") == \
        ["COPY tests: excluded by Dockerfile.dockerignore"]


def install_deps_packages(section: str) -> set[str]:
    text = (REPO / "scripts" / "install-deps.sh").read_text()
    block = text.split(f"# {section}\n", 1)[1].split("#", 1)[0].split(")", 1)[0]
    return set(block.split())


def test_dockerfile_build_stage_installs_the_build_dependencies():
    build_pkgs = {p for w, a in dockerfile_stages(DOCKERFILE)[0]["steps"] if w == "RUN"
                  for p in a.split()}
    needed = install_deps_packages("build") - {"ccache", "clang-format", "libgtest-dev", "libgmock-dev"}
    assert "libpq-dev" in needed
    assert needed - build_pkgs == set()
