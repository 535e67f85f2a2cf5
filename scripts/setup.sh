#!/usr/bin/env bash
# Installs what cnnc's tests need on a fresh Debian 12 machine: system packages
# (ONNX backend test data, Mesa for WebGPU-on-CPU, Chromium for the browser test) and npm packages.
# Needs Node >= 20 (Debian 12's own nodejs is 18: see README, "Node 20 on Debian 12").
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive

major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "setup.sh: cnnc needs Node >= 20, found $(node --version 2>/dev/null || echo none); see README, 'Node 20 on Debian 12'" >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
need=()
for p in libonnx-testdata libgles2 libegl1 libegl-mesa0 libgl1-mesa-dri chromium; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  # Wait (up to 5 min) for another apt/dpkg (unattended-upgrades on a fresh machine) instead of failing.
  apt_opts=(-o DPkg::Lock::Timeout=300 -qq)
  $SUDO apt-get "${apt_opts[@]}" update
  $SUDO apt-get "${apt_opts[@]}" install -y --no-install-recommends "${need[@]}"
fi

# Opt-in (CNNC_MESA25=1): Mesa 25 from bookworm-backports. Its lavapipe gives Dawn a core Vulkan adapter with
# shader-f16, which test/wgsl-f16.test.ts needs (Debian 12's own Mesa 22.3.6 offers Dawn only its OpenGL ES
# backend, without f16). Not the default: Mesa 25's llvmpipe (OpenGL ES too) JIT-compiles every compute shader
# with LLVM's coroutine passes at its first dispatch, seconds per shader, which on a fresh machine (cold shader
# cache) multiplies the wgsl tests' time. Installed once: skipped when mesa-vulkan-drivers from backports is there.
if [ "${CNNC_MESA25:-0}" = 1 ] && grep -q 'VERSION_CODENAME=bookworm' /etc/os-release 2>/dev/null \
  && ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q '~bpo12'; then
  src=/etc/apt/sources.list.d/bookworm-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    printf '%s\n' 'Types: deb' 'URIs: http://deb.debian.org/debian' 'Suites: bookworm-backports' 'Components: main' \
      'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' | $SUDO tee "$src" >/dev/null
  fi
  apt_opts=(-o DPkg::Lock::Timeout=300 -qq)
  $SUDO apt-get "${apt_opts[@]}" update
  # libgl1-mesa-dri and libegl-mesa0 follow to 25.x as well (the OpenGL ES path runs the same Mesa)
  $SUDO apt-get "${apt_opts[@]}" install -y --no-install-recommends -t bookworm-backports \
    mesa-vulkan-drivers libgl1-mesa-dri libegl-mesa0
fi

# onnxruntime-node (a dev dependency: the benchmarks and tests compare against it) would otherwise
# download its CUDA execution provider from nuget.org in its postinstall script; cnnc needs only its CPU build.
export ONNXRUNTIME_NODE_INSTALL=skip
# `npm ci` once: skipped when node_modules already matches package-lock.json (npm writes
# node_modules/.package-lock.json after an install; it is newer than the lock file unless the lock changed).
if [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ] && [ node_modules/.package-lock.json -nt package.json ]; then
  echo "setup.sh: node_modules is up to date with package-lock.json; skipping npm ci"
else
  npm ci --no-audit --no-fund
fi
