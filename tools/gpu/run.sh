#!/usr/bin/env bash
# On a GPU machine with a CUDA PyTorch (whose wheel carries LibTorch) and no network: builds the
# project with CMake against that LibTorch and the dependencies tools/gpu/pack_deps.sh packed,
# then runs the named steps, each timed, with logs and results under OUT.
#
#   tools/gpu/run.sh gpu_deps "$OUT" build ctest device_tests data_parallel_device fig4_ci_ranks2 \
#       benchmark fig4_ci fig4_paper fig3_paper
#
# Steps: build (configure + build with every core; always first), ctest (every CMake test;
# ctest:REGEX those matching),
# device_tests (the tests that take a device, on cuda), data_parallel_device (2 ranks sharing the
# GPU against one CPU process), fig4_ci_ranks2 (figure 4 ci on cuda at --world_size=2 against one
# process, experiments/fig4_data_parallel_test.sh), benchmark (minimax_benchmark on cuda),
# figN_<preset> (the figure on cuda; its curves and manifest go to OUT/figN_<preset>).
# GPU memory is nvidia-smi's memory.used sampled every 0.5 s (CUDA context included).
set -uo pipefail
deps="$(realpath "$1")" out="$2"
shift 2
mkdir -p "$out"
build=/tmp/hfb-build data=/tmp/hfb-data
status=0
note() { echo "[$(date +%T)] $*" | tee -a "$out/steps.txt"; }

# step NAME COMMAND...: runs COMMAND with its output in OUT/NAME.log, records seconds, exit code
# and the peak GPU memory.
step() {
  local name="$1" start=$SECONDS peak=/tmp/peak.$1
  shift
  (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.5; done) \
    > "$peak" 2>/dev/null &
  local sampler=$!
  "$@" > "$out/$name.log" 2>&1
  local rc=$?
  kill "$sampler" 2>/dev/null
  note "$name: exit $rc, $((SECONDS - start)) s, peak GPU memory.used $(sort -n "$peak" | tail -1) MiB"
  [[ $rc -eq 0 ]] || status=1
  return $rc
}

{
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.utils.cmake_prefix_path)'
  g++ --version | head -1; cmake --version | head -1; ldd --version | head -1
  echo "cores $(nproc)"; grep PRETTY_NAME /etc/os-release
} > "$out/environment.txt" 2>&1
cat "$out/environment.txt"
torch_prefix="$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')"
jobs="$(nproc)"

configure_and_build() {
  cmake -S "$deps/googletest" -B /tmp/gtest-build -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_INSTALL_PREFIX="$deps/prefix" -DBUILD_GMOCK=ON >/dev/null &&
  cmake --build /tmp/gtest-build -j "$jobs" --target install >/dev/null &&
  # solvers/distributed needs Gloo's headers: the LibTorch's own where it ships them, else the
  # packed Debian ones (Gloo of 2022; torch 2.x links a newer Gloo: the data-parallel steps below
  # say whether that works).
  local gloo=()
  if [[ -f "$torch_prefix/../../include/gloo/algorithm.h" ]]; then
    echo "Gloo headers: the LibTorch's own"
  elif [[ -d "$deps/gloo_include/gloo" ]]; then
    echo "Gloo headers: Debian's, packed by pack_deps.sh (the LibTorch ships none)"
    gloo=(-DHFB_GLOO_INCLUDE_DIR="$deps/gloo_include")
  fi
  cmake -S . -B "$build" -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/prefix" \
    -DHFB_BUILD_BENCHMARKS=ON "${gloo[@]}" ${HFB_CMAKE_ARGS:-} &&
  cmake --build "$build" -j "$jobs" -- -k
}

run_figure() {  # figure preset [flags...]
  local figure="$1" preset="$2"
  shift 2
  "$build/$figure" --preset="$preset" --device=cuda --data_dir="$data" \
    --output_dir="$out/${figure}_$preset" "$@"
}

mkdir -p "$data"
for set in mnist fashion-mnist; do
  mkdir -p "$data/$set"
  for f in "$deps/data/$set"/*.gz; do
    case "$set" in
      mnist) gunzip -c "$f" > "$data/$set/$(basename "$f" .gz)" ;;
      *) cp "$f" "$data/$set/" ;;
    esac
  done
done
cp "$deps/data/CHECKSUMS.md5" "$data/"

for s in "$@"; do
  case "$s" in
    build) step build configure_and_build || { tail -50 "$out/build.log"; exit 1; } ;;
    ctest | ctest:*) regex="${s#ctest}"
       step ctest ctest --test-dir "$build" -j "$jobs" --output-on-failure ${regex:+-R "${regex#:}"} ;;
    device_tests) HFB_TEST_DEVICE=cuda step device_tests "$build/solvers_device_test" ;;
    data_parallel_device) HFB_TEST_DEVICE=cuda step data_parallel_device \
       "$build/solvers_distributed_data_parallel_test" --gtest_filter='DataParallelDeviceTest.*' ;;
    fig4_ci_ranks2) HFB_FIG4_FLAGS=--device=cuda TEST_TMPDIR=/tmp/hfb-fig4-ranks2 \
       step fig4_ci_ranks2 experiments/fig4_data_parallel_test.sh "$build/fig4_hyper_cleaning" \
       "$data/CHECKSUMS.md5" ;;
    benchmark) step benchmark "$build/minimax_benchmark" --device=cuda --benchmark_min_time=2 ;;
    fig*_*) figure="${s%_*}" preset="${s##*_}"
       binary="$(cd "$build" && ls | grep "^${figure}_" | head -1)"
       step "$s" run_figure "$binary" "$preset"
       tar czf "$out/${binary}_$preset.tgz" -C "$out" "${binary}_$preset" && rm -rf "$out/${binary}_$preset" ;;
    *) note "unknown step $s"; status=1 ;;
  esac
done
exit "$status"
