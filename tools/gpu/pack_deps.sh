#!/usr/bin/env bash
# Packs what a GPU machine without network lacks for the CMake build (README "On a GPU"):
# Debian's Abseil (headers, static archives, its CMake config pointed at the archives, so that
# nothing of Debian is needed at run time), GoogleTest's sources (built there), Gloo's headers,
# Google Benchmark (headers, library, CMake config) and the data sets from the cache, gzipped to
# fit the device tool's 64 MiB carry. Run after tools/setup.sh, from the repository root:
#
#   tools/gpu/pack_deps.sh [gpu_deps]        # then carry gpu_deps/ (git ignores it)
set -euo pipefail
out="${1:-gpu_deps}"
data_dir="${BILEVEL_DATA_DIR:-$HOME/.cache/hessian-free-bilevel}"
lib=/usr/lib/x86_64-linux-gnu
rm -rf "$out"
mkdir -p "$out/prefix/include" "$out/prefix/lib/x86_64-linux-gnu/cmake" "$out/data"
cp -r /usr/include/absl /usr/include/benchmark "$out/prefix/include/"
cp "$lib"/libabsl_*.a "$out/prefix/lib/x86_64-linux-gnu/"
cp -r "$lib/cmake/absl" "$lib/cmake/benchmark" "$out/prefix/lib/x86_64-linux-gnu/cmake/"
# Abseil's imported targets name the shared objects; point them at the static archives.
sed -i -e 's#\(libabsl_[a-z0-9_]*\)\.so\.[0-9.]*"#\1.a"#g' -e '/IMPORTED_SONAME_NONE/d' \
  "$out/prefix/lib/x86_64-linux-gnu/cmake/absl/abslTargets-none.cmake"
cp -P "$lib"/libbenchmark.so* "$lib"/libbenchmark_main.a "$out/prefix/lib/x86_64-linux-gnu/"
cp -r /usr/src/googletest "$out/googletest"
# Gloo's headers (libgloo-dev, the 2022 Gloo of LibTorch 1.13), for solvers/distributed where the
# GPU machine's LibTorch ships none; run.sh says in build.log which ones the build used.
mkdir -p "$out/gloo_include"
cp -r /usr/include/gloo "$out/gloo_include/"
# Not a Bazel package here: `bazel test //...` must not find its BUILD files.
find "$out/googletest" \( -name "BUILD*" -o -name "WORKSPACE*" -o -name "*.bzl" \) -delete
for set in mnist fashion-mnist; do
  mkdir -p "$out/data/$set"
  for f in "$data_dir/$set"/*; do
    case "$f" in
      *.gz) cp "$f" "$out/data/$set/" ;;
      *) gzip -n -c "$f" > "$out/data/$set/$(basename "$f").gz" ;;  # gunzipped there
    esac
  done
done
cp "$data_dir/CHECKSUMS.md5" "$out/data/"
du -sh "$out"
