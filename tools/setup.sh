#!/usr/bin/env bash
# Installs every Debian package this repository needs to build, test and (later) to write its
# paper. Idempotent: when everything is already installed it checks and returns in about a second.
#
#   tools/setup.sh            # as root (or with sudo available) on Debian 12
#
# Exits non-zero with a message naming the package when one cannot be installed.
set -euo pipefail

# Build and test toolchain plus the libraries the C++ code links (see WORKSPACE).
PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3, WORKSPACE style, offline
  bazel-rules-java       # @rules_java, which Bazel asks for even for C++-only builds
  g++
  libtorch-dev           # LibTorch 1.13.1 (CPU)
  libopenblas0-pthread   # makes libblas.so.3 OpenBLAS: ~18x faster matmul than reference BLAS
  libeigen3-dev
  libabsl-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "setup.sh: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO="sudo"; else
    echo "setup.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1
  fi
fi

echo "setup.sh: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  echo "setup.sh: apt-get install failed; refreshing the package index and retrying" >&2
  $SUDO apt-get update || true
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
    for p in "${missing[@]}"; do
      apt-cache show "$p" >/dev/null 2>&1 || echo "setup.sh: package '$p' is not available from the configured Debian repositories" >&2
    done
    echo "setup.sh: could not install: ${missing[*]}" >&2
    exit 1
  fi
fi
echo "setup.sh: done"
