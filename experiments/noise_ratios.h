// Generated from experiments/figures.bzl (NOISE_RATIOS, TUNING_NOISE_RATIO): edit that file,
// then: bazel build //experiments:noise_ratios_generated &&
//   cp bazel-bin/experiments/noise_ratios_generated.h experiments/noise_ratios.h
#ifndef EXPERIMENTS_NOISE_RATIOS_H_
#define EXPERIMENTS_NOISE_RATIOS_H_

namespace experiments {

// A ratio as its output folder spells it (noise_<name>), and its value.
struct NoiseRatio {
  const char* name;
  double value;
};

// Figure 4's label-noise ratios, in order.
inline constexpr NoiseRatio kNoiseRatios[] = {{"0.5", 0.5}, {"0.7", 0.7}, {"0.9", 0.9}};
// The ratio the step sizes are tuned at (and used at every ratio).
inline constexpr NoiseRatio kTuningNoiseRatio = {"0.7", 0.7};

}  // namespace experiments

#endif  // EXPERIMENTS_NOISE_RATIOS_H_
