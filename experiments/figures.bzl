"""The experiments and figure 4's noise ratios, named once for every BUILD file and for C++.

C++ reads the noise ratios from experiments/noise_ratios.h, which is this file's
noise_ratios_header() checked in (CMake builds without Bazel); //experiments:noise_ratios_test
fails when the two differ and prints the command that brings the header up to date.
"""

# Figure 4's label-noise ratios (decimal numbers, which C++ reads as written): one experiment,
# output folder (noise_<ratio>), plot panel and table column each, in this order. The step sizes
# are tuned at TUNING_NOISE_RATIO and used at all.
NOISE_RATIOS = ["0.5", "0.7", "0.9"]
TUNING_NOISE_RATIO = "0.7"

# Every experiment binary (//experiments:<name>), in the paper's order, with
#   folders: the folders under its output that hold one curves.csv and manifest.json each
#            ("" = the output folder itself): the outputs of //experiments:<name>_<preset>;
#   tune:    the name of its tuning target, //experiments:tune_<tune>;
#   data:    (optional) data targets it reads beyond @bilevel_data//:all;
#   default_preset: (optional) False while its default preset has not been measured to fit the
#            default-preset paper build (`bazel build //paper`, under 90 minutes on 2 cores): it then
#            has no _default target and the default paper says so in its place.
# This list makes the build actions, the tuning targets, the tuning-files test, the paper's
# inputs (//paper:summarize gets --<name>=<output folder>) and the end-to-end test's inputs.
# experiments/README.md, "Add a figure", says what else a new entry needs.
FIGURES = {
    "fig1_logreg_synthetic": {"folders": [""], "tune": "fig1"},
    "fig2_logreg_text": {"folders": [""], "tune": "fig2"},
    "fig3_resnet_weight_decay": {"folders": [""], "tune": "fig3"},
    "fig4_hyper_cleaning": {"folders": ["noise_" + r for r in NOISE_RATIOS], "tune": "fig4"},
    "fig4_linear": {"folders": ["noise_" + r for r in NOISE_RATIOS], "tune": "fig4_linear"},
    "denoising": {"folders": ["small", "large"], "tune": "denoising"},
    "poisoning": {"folders": ["untargeted_%dpct" % p for p in [1, 2, 4, 6]] + ["targeted_8to3"], "tune": "poisoning"},
    # Not in the default-preset paper: measured at about 35 minutes for both settings and 3 seeds
    # on 2 cores (README.md, "Few-shot learning").
    "few_shot": {"folders": ["5way_1shot", "20way_5shot"], "tune": "few_shot", "data": ["@bilevel_data//:omniglot"], "default_preset": False},
}

def figures_at(preset):
    """The experiments with a target at `preset` ("ci": all)."""
    return [fig for fig in FIGURES if preset == "ci" or FIGURES[fig].get("default_preset", True)]

def figure_outputs(figure):
    """The files //experiments:<figure>_<preset> writes, relative to its output folder."""
    return [
        (folder + "/" if folder else "") + f
        for folder in FIGURES[figure]["folders"]
        for f in ["curves.csv", "manifest.json"]
    ]

def noise_ratios_header():
    """The text of experiments/noise_ratios.h."""
    return "\n".join([
        "// Generated from experiments/figures.bzl (NOISE_RATIOS, TUNING_NOISE_RATIO): edit that file,",
        "// then: bazel build //experiments:noise_ratios_generated &&",
        "//   cp bazel-bin/experiments/noise_ratios_generated.h experiments/noise_ratios.h",
        "#ifndef EXPERIMENTS_NOISE_RATIOS_H_",
        "#define EXPERIMENTS_NOISE_RATIOS_H_",
        "",
        "namespace experiments {",
        "",
        "// A ratio as its output folder spells it (noise_<name>), and its value.",
        "struct NoiseRatio {",
        "  const char* name;",
        "  double value;",
        "};",
        "",
        "// Figure 4's label-noise ratios, in order.",
        "inline constexpr NoiseRatio kNoiseRatios[] = {" +
        ", ".join(["{\"%s\", %s}" % (r, r) for r in NOISE_RATIOS]) + "};",
        "// The ratio the step sizes are tuned at (and used at every ratio).",
        "inline constexpr NoiseRatio kTuningNoiseRatio = {\"%s\", %s};" % (TUNING_NOISE_RATIO, TUNING_NOISE_RATIO),
        "",
        "}  // namespace experiments",
        "",
        "#endif  // EXPERIMENTS_NOISE_RATIOS_H_",
        "",
    ])
