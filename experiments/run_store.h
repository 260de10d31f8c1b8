// The runs folder of an experiment: whether a finished run's (or reference's) files and a run's
// checkpoint can be reused, and setting aside the files that cannot — kept for inspection, never
// merged, never deleted. Part of //experiments:runner.
#ifndef EXPERIMENTS_RUN_STORE_H_
#define EXPERIMENTS_RUN_STORE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/runner.h"

namespace experiments {

// What a finished run's numbers depend on besides its seed: the figure, preset, device, data,
// yardstick (and its solve or retrain recipe), evaluation spacing and the method's options —
// written in this order, " | " between them (the yardstick's kind and recipe are two parts).
std::string RunFingerprint(const Experiment& e, const std::string& data_description,
                           const std::string& settings);

// Why a recorded fingerprint is not this run's, in words: the first part that differs.
std::string FingerprintDifference(const std::string& recorded, const std::string& expected);

// Why a finished run's (or reference's) files cannot be reused, or "" when they can.
std::string WhyNotReusable(const std::string& json, const std::string& csv,
                           const std::string& fingerprint);

// Moves each existing file of `paths` to `<path><suffix>` (".stale", ".damaged").
absl::Status SetAside(const std::vector<std::string>& paths, const std::string& suffix);

// A finished run's (or reference's) JSON when its files can be reused; nullopt when it must be
// computed — none there, or files that are set aside with one line (to stderr, from `who`).
// `settle` false (the ranks after 0 of a data-parallel experiment) reads without moving
// anything.
absl::StatusOr<std::optional<std::string>> ReuseFinished(const std::string& json_path,
                                                         const std::string& csv_path,
                                                         const std::string& fingerprint,
                                                         const std::string& who,
                                                         bool settle = true);

// Sets a run's checkpoint aside when it cannot be resumed: `.damaged` (with a warning) when it
// cannot be read back whole, `.stale` when it is another run's; OK leaves a usable one in place.
absl::Status SetAsideIfUnusable(const std::string& path, const std::string& fingerprint,
                                const std::string& who);

}  // namespace experiments

#endif  // EXPERIMENTS_RUN_STORE_H_
