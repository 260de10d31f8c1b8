#!/usr/bin/env bash
# Bad flags end with exit 2 and a message that names the flag, before any work is done, and no
# LibTorch backtrace (an unexpected LibTorch error ending as one line and exit 1 is RunMain's,
# tested in solvers/core:runtime_test):
#   tests/bad_flags_test.sh <figure binary> <quadratic_demo binary>
set -uo pipefail
figure="$1"
demo="$2"
failures=0
# expect <exit code> <text the message must contain> <command...>
expect() {
  local code="$1" text="$2"
  shift 2
  "$@" > "${TEST_TMPDIR}/out" 2> "${TEST_TMPDIR}/err"
  local got=$?
  if [[ ${got} -ne ${code} ]] || ! grep -qF -- "${text}" "${TEST_TMPDIR}/err"; then
    echo "FAIL: $* exited ${got} (want ${code}); stderr must contain '${text}':" >&2
    cat "${TEST_TMPDIR}/err" >&2
    failures=$((failures + 1))
  fi
}
out="--output_dir=${TEST_TMPDIR}/never_written"
expect 2 "--preset must be ci, default or paper, got 'fast'" "${figure}" --preset=fast "${out}"
expect 2 "--seeds lists seed 1 more than once" "${figure}" --preset=ci --seeds=1,1 "${out}"
expect 2 "--seeds must be comma-separated" "${figure}" --preset=ci --seeds=1,x "${out}"
expect 2 "--world_size (or WORLD_SIZE) must be >= 1, got -2" "${figure}" --preset=ci --world_size=-2 "${out}"
expect 2 "--rank (or RANK) must be in [0, 2), got 2" "${figure}" --preset=ci --world_size=2 --rank=2 "${out}"
expect 2 "the environment variable RANK='one' is not an integer" env RANK=one "${figure}" --preset=ci --world_size=2 "${out}"
expect 2 "--tune and --check_tuning run in one process" "${figure}" --preset=ci --world_size=2 --tune "${out}"
expect 2 "--master_port (or MASTER_PORT) must be in [1, 65535], got 70000" "${figure}" --preset=ci --world_size=2 --master_port=70000 "${out}"
# Rank 1 of 2 with no rank 0 anywhere: the rendezvous times out naming the address (exit 1).
expect 1 "rendezvous at 127.0.0.1:9" "${figure}" --preset=ci --world_size=2 --rank=1 --master_port=9 --distributed_timeout_seconds=2 "${out}"
expect 2 "--inner_condition must be a finite number >= 1, got nan" "${demo}" --inner_condition=nan
expect 2 "--inner_condition must be a finite number >= 1, got inf" "${demo}" --inner_condition=inf
expect 2 "--inner_condition must be a finite number >= 1, got 0.5" "${demo}" --inner_condition=0.5
expect 2 "--dim and --threads must be >= 1" "${demo}" --dim=0
# Matrices larger than the machine's memory are refused before any allocation (whether a huge
# allocation fails or the process is killed later depends on the machine's overcommit policy).
expect 2 "needs 5.6e+04 GB for the problem's dense matrices" "${demo}" --dim=1000000
if grep -q "Exception raised from\|terminate called" "${TEST_TMPDIR}/err"; then
  echo "FAIL: an exception escaped with a backtrace:" >&2
  cat "${TEST_TMPDIR}/err" >&2
  failures=$((failures + 1))
fi
[[ -e "${TEST_TMPDIR}/never_written" ]] && { echo "FAIL: a bad flag wrote output" >&2; failures=$((failures + 1)); }
echo "${failures} failure(s)"
exit $((failures > 0))
