#!/usr/bin/env bash
# bazel run //experiments:tune_<figure> -- --preset=ci|default|paper: the figure binary (first
# argument) with --tune; writes experiments/tuning/<figure>_<preset>.json in the workspace.
set -euo pipefail
binary="$1"
shift
exec "${binary}" --tune "$@"
