#!/usr/bin/env bash
# Installs the Debian 12 packages that building, running and testing evald need, if missing.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config ccache clang-format
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev
  libsodium-dev libspdlog-dev libfmt-dev libcli11-dev libgtest-dev libgmock-dev
  libsqlite3-dev libpq-dev libssl-dev libqrencode-dev libpng-dev libcurl4-openssl-dev
  libhiredis-dev libyaml-cpp-dev prometheus-cpp-dev libxlsxwriter-dev
  # the libFuzzer targets (fuzz/): clang 14, its sanitizer and fuzzer runtimes, llvm-symbolizer
  clang-14 libclang-rt-14-dev llvm-14
  # tests and benchmark
  python3-pytest python3-requests python3-pyotp python3-aiosmtpd python3-openpyxl python3-jsonschema
  curl nginx-light wrk postgresql sqlite3 redis-server
  prometheus
  # the disk-full drill (tests/functional/test_drill_storage.py): a tmpfs, else an ext4 loop file
  mount e2fsprogs
  # the deployment artifacts' checks (tests/functional/test_deploy_*.py)
  docker-compose python3-yaml openssl
  # browser tests (tests/functional/test_browser.py): headless Chromium, and Hangul glyphs for
  # the Korean examples in the screenshots (fonts-nanum, 10 MB; fonts-noto-cjk is 56 MB)
  chromium fonts-nanum
  # the benchmarks beyond make test: FastAPI on uvicorn (with uvloop and httptools, as
  # uvicorn[standard] has it) for bench/sweep.sh, matplotlib for its plot. python3-munkres is
  # named so that python3-fonttools (matplotlib's) takes it rather than python3-scipy, whose
  # python3-pythran would bring libboost1.74-dev, which conflicts with libboost1.81-dev.
  python3-fastapi uvicorn python3-uvloop python3-httptools python3-munkres python3-matplotlib
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done
# Node.js and npm (the docs UI assets and the OpenAPI validator, from web/package-lock.json):
# Debian's packages unless a node with npm is already there (e.g. from NodeSource).
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -ne 0 ]]; then
  echo "evald: missing packages: ${missing[*]}" >&2
  echo "run: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
