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
# Every leak, and everything else ASan and UBSan find, stops the run.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
set +e
"$fuzzer" -seed=1 -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 -print_final_stats=1 \
  -artifact_prefix="$artifacts/" "$work/corpus" "$seeds" "$@"
status=$?
set -e
echo "run_fuzzer.sh: $(basename "$fuzzer") exit $status; corpus grown in $work/corpus," \
     "crashing inputs (if any) in $artifacts"
exit "$status"
