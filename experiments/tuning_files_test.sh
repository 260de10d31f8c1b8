#!/usr/bin/env bash
# Fails when a committed tuning file (experiments/tuning/*.json) no longer matches the grid,
# settings or budget in its figure's code: each figure binary checks its files (--check_tuning)
# for every preset that has one. The ci preset's files are also checked by every ci run.
set -euo pipefail
data_dir="$(dirname "$(echo $1 | cut -d' ' -f1)")"
shift
status=0
checked=0
for binary in "$@"; do
  figure="$(basename "${binary}")"
  for preset in ci default paper; do
    if ls experiments/tuning/"${figure}"_*"${preset}".json > /dev/null 2>&1 ||
       ls experiments/tuning/"${figure}_${preset}".json > /dev/null 2>&1; then
      checked=$((checked + 1))
      if ! "${binary}" --check_tuning --preset="${preset}" --data_dir="${data_dir}" \
          --tuning_dir=experiments/tuning --output_dir="${TEST_TMPDIR}/${figure}" 2> "${TEST_TMPDIR}/log"; then
        cat "${TEST_TMPDIR}/log" >&2
        status=1
      fi
    fi
  done
done
echo "checked the tuning files of ${checked} (figure, preset) pairs"
[[ ${checked} -gt 0 ]] || { echo "no tuning file found under experiments/tuning" >&2; exit 1; }
exit ${status}
