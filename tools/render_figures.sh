#!/usr/bin/env bash
# Renders the result pages of the default-preset paper to PNG for the README:
#   tools/render_figures.sh      # after `bazel build //paper`
# Writes paper/figures/page-<n>.png (60 dpi) for the pages that hold figures and tables.
set -euo pipefail
cd "$(dirname "$0")/.."
pdf=bazel-bin/paper/paper.pdf
[[ -f "$pdf" ]] || { echo "render_figures.sh: $pdf is missing: run 'bazel build //paper' first" >&2; exit 1; }
command -v pdftoppm >/dev/null || { echo "render_figures.sh: pdftoppm is missing: run tools/setup.sh" >&2; exit 1; }
mkdir -p paper/figures
rm -f paper/figures/page-*.png
pdftoppm -r 60 -png -f 2 -l 4 "$pdf" paper/figures/page
ls paper/figures
