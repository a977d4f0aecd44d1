#!/usr/bin/env bash
# Installs every Debian package Berth's build, tests and demos need. Idempotent.
# Usage: scripts/setup.sh   (as root, or with sudo available)
set -euo pipefail

PKGS=(
  # build
  build-essential cmake ninja-build ccache pkg-config
  # libraries
  librocksdb-dev libcereal-dev libyaml-cpp-dev libboost-dev libboost-system-dev
  libcurl4-openssl-dev libfmt-dev libgtest-dev libgmock-dev nlohmann-json3-dev
  libcli11-dev libspdlog-dev libarchive-dev libssl-dev
  # real components for integration tests and the demo
  docker.io busybox-static dnsmasq-base docker-registry docker-compose
  iproute2 iptables dnsutils procps psmisc curl python3 openssl
  # benchmarks (scripts/bench-serve.sh)
  wrk
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "setup: all ${#PKGS[@]} packages already installed"
  exit 0
fi
echo "setup: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "setup: done"
