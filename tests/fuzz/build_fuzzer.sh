#!/usr/bin/env bash
# Builds libFuzzer binaries with clang-14, AddressSanitizer and UndefinedBehaviorSanitizer: every
# .cc argument is compiled instrumented; an OUTPUT ending in .a is an archive of those objects (the
# readers, compiled once for all fuzz targets), any other OUTPUT a fuzzer linked from them and the
# .a arguments against Debian's LibTorch, Abseil and zlib. Called by fuzz.bzl's rules from Bazel's
# execution root (headers among the arguments are inputs only); by hand, from the repository root:
#
#   tests/fuzz/build_fuzzer.sh /tmp/idx_fuzzer tests/fuzz/idx_fuzzer.cc tasks/data/*.cc
set -euo pipefail
out="$1"
shift
CXX="${FUZZ_CXX:-clang++-14}"
if ! command -v "$CXX" >/dev/null; then
  echo "build_fuzzer.sh: $CXX is not installed; run tools/setup.sh (Debian packages clang-14 and" \
       "libclang-rt-14-dev)" >&2
  exit 1
fi
# Debian's LibTorch: its headers under /usr/include (already on the search path), the C++ API's
# one level down.
flags=(-std=c++17 -O1 -g -fno-omit-frame-pointer -fsanitize=fuzzer,address,undefined
       -fno-sanitize-recover=undefined -I. -isystem /usr/include/torch/csrc/api/include -w)
sources=()
archives=()
for s in "$@"; do
  case "$s" in
    *.cc) sources+=("$s") ;;
    *.a) archives+=("$s") ;;
  esac
done
objdir="$(mktemp -d)"
trap 'rm -rf "$objdir"' EXIT
objects=()
for s in "${sources[@]}"; do
  o="$objdir/$(echo "$s" | tr / _).o"
  "$CXX" "${flags[@]}" -c "$s" -o "$o"
  objects+=("$o")
done
if [[ "$out" == *.a ]]; then
  rm -f "$out"
  ar rcs "$out" "${objects[@]}"
  exit 0
fi
# shellcheck disable=SC2046  # pkg-config's words are separate flags
"$CXX" -fsanitize=fuzzer,address,undefined "${objects[@]}" "${archives[@]}" -o "$out" \
  -Wl,--no-as-needed -ltorch -ltorch_cpu -lc10 -Wl,--as-needed \
  $(pkg-config --libs absl_status absl_statusor absl_strings absl_str_format) -lz -lpthread
