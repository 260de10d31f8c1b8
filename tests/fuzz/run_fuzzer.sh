#!/usr/bin/env bash
# Runs one libFuzzer binary over its seed corpus for a bounded time, with a fixed seed so that a
# test run is reproducible. Under `bazel test` new inputs go to $TEST_TMPDIR and a crashing input to
# bazel-testlogs/<target>/test.outputs/; under `bazel run` both go to a folder printed at the end.
#
#   run_fuzzer.sh FUZZER SECONDS SEED_CORPUS_README [libFuzzer flags...]   (the seeds: its folder)
#   bazel run //tests/fuzz:idx_fuzzer -- -max_total_time=600 -seed=0   # longer, fresh seed
set -euo pipefail
fuzzer="$1" seconds="$2" seeds="$(dirname "$3")"
shift 3
work="${TEST_TMPDIR:-$(mktemp -d /tmp/fuzz.XXXXXX)}"
artifacts="${TEST_UNDECLARED_OUTPUTS_DIR:-$work}"
mkdir -p "$work/corpus" "$artifacts"
# Leaks are reported except those allocated inside LibTorch: 1.13's zip reader leaks ~0.7 KB when a
# damaged archive throws while it is being opened (checkpoint_fuzzer), which is not ours to fix.
# Everything else ASan and UBSan find stops the run.
printf 'leak:libtorch_cpu.so\n' > "$work/lsan_suppressions.txt"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export LSAN_OPTIONS="${LSAN_OPTIONS:-suppressions=$work/lsan_suppressions.txt:print_suppressions=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
set +e
"$fuzzer" -seed=1 -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" "$seeds" "$@"
status=$?
set -e
echo "run_fuzzer.sh: $(basename "$fuzzer") exit $status; corpus grown in $work/corpus," \
     "crashing inputs (if any) in $artifacts"
exit "$status"
