#!/usr/bin/env bash
# Installs what cnnc's tests need on a fresh Debian 12 machine: system packages
# (ONNX backend test data, Mesa for WebGPU-on-CPU, Chromium for the browser test) and npm packages.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi
need=()
for p in libonnx-testdata libgles2 libegl1 libegl-mesa0 libgl1-mesa-dri chromium; do
  dpkg -s "$p" >/dev/null 2>&1 || need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
npm ci --no-audit --no-fund
