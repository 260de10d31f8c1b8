#!/usr/bin/env bash
# experiments/noise_ratios.h must be what figures.bzl generates: one list of noise ratios.
#   noise_ratios_test.sh <checked-in header> <generated header>
set -uo pipefail
if ! diff -u "$1" "$2"; then
  echo "experiments/noise_ratios.h differs from figures.bzl's NOISE_RATIOS; update it with:" >&2
  echo "  bazel build //experiments:noise_ratios_generated && cp bazel-bin/experiments/noise_ratios_generated.h experiments/noise_ratios.h" >&2
  exit 1
fi
echo "noise_ratios.h matches figures.bzl"
