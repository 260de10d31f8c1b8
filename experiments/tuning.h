// Equal terms for step sizes: every method of a figure gets its rates from the same procedure, a
// grid of the same size (two rates, three values each, by default), run on a tuning seed that is
// not a reported seed, and chosen by the figure's yardstick at the end of the budget (the
// validation loss: at the re-solved y*(x) for figures 1-2, of the retrained model for 3-4 — never
// the test set).
//
//   std::vector<experiments::TunableMethod> tunable = ...;   // each: name, grid, make(rates)
//   // bazel run //experiments:tune_fig1 -- --preset=ci   (the figure binary with --tune):
//   absl::StatusOr<std::string> file = experiments::Tune(experiment, tunable, make_task, 1000);
//   // the figure itself:
//   absl::Status s = experiments::ApplyTuning(tuning_dir, tunable, &experiment);
//
// A choice at an end of a rate's grid means the grid may have been too narrow: the method's grid is
// then re-centred on the choice (the same 3 values per rate, shifted) and run again, up to
// kTuningRounds rounds, the same rule for every method; a point two rounds share runs once.
//
// The result is a small JSON file committed under experiments/tuning/ (<figure>_<preset>.json;
// figure 4 tunes at its middle noise ratio and uses the file at all three): the grid, the score
// of every grid point, the chosen values and a fingerprint of the settings it tuned. A figure
// whose tuning file's fingerprints no longer match its code refuses to run (and
// //experiments:tuning_files_test fails), so a changed grid or setting cannot silently use stale
// choices; without a file the figure runs its hand-set defaults and its manifest says "not tuned".
// The fingerprint has two parts: the figure's (budget, yardstick, notes, rounds) and one per method
// (its grid and settings). Re-tuning keeps the entry of every method whose own fingerprint still
// matches under an unchanged figure fingerprint (runs are deterministic on CPU, so re-running it
// would give the same entry) and tunes only the others: changing one method's settings re-tunes
// that method alone.
#ifndef EXPERIMENTS_TUNING_H_
#define EXPERIMENTS_TUNING_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/runner.h"

namespace experiments {

// Rounds of re-centring, the first included: a method whose last round still chose an end of its
// grid is marked "settled": false in the file (and $^e$ in the paper's appendix).
inline constexpr int kTuningRounds = 2;

struct RateGrid {
  std::string name;            // e.g. "x_optimizer.learning_rate"
  std::vector<double> values;  // the grid, e.g. {10, 30, 100}
};

struct TunableMethod {
  std::string name;
  std::vector<RateGrid> rates;
  std::vector<double> defaults;  // hand-set values, used when the figure has no tuning file
  std::function<Method(const std::vector<double>& rates)> make;
};

// `base` rates as a grid {v/3, v, 3v} each: the grid every figure uses.
std::vector<RateGrid> GridAround(const std::vector<std::pair<std::string, double>>& base);

// `grid` shifted (geometrically) so that its middle values are `at`; a value `grid` already had
// is kept exactly. `at` must hold one value per rate.
std::vector<RateGrid> RecentredGrid(const std::vector<RateGrid>& grid,
                                    const std::vector<double>& at);

// Whether `point` lies at the first or last value of any rate of `grid`.
bool AtAnEnd(const std::vector<RateGrid>& grid, const std::vector<double>& point);

// The figure's part of a tuning file's fingerprint: figure, preset, budget, yardstick, notes and
// the number of rounds.
std::string TuningFingerprint(const Experiment& e);

// A method's part: its grid and its settings at its first grid point.
std::string MethodTuningFingerprint(const TunableMethod& m);

// The tuning file of an experiment: <dir>/<figure>_<preset>.json.
std::string TuningPath(const std::string& dir, const Experiment& e);

// Runs every grid point of every method at seed `tuning_seed` (in <e.output_dir>/tuning_runs,
// resumable like any experiment; runs are named <method>@<rates>), re-centring as above, and
// returns the tuning file's contents. Every method must have the same number of grid points, an
// odd number of values per rate. `previous` is the figure's current tuning file ("" when none):
// a method whose entry there still matches (same figure fingerprint, tuning seed and method
// fingerprint) keeps it and runs nothing; `reused`, when given, receives those methods' names.
absl::StatusOr<std::string> Tune(Experiment e, const std::vector<TunableMethod>& methods,
                                 const TaskFactory& make_task, uint64_t tuning_seed,
                                 const std::string& previous = "",
                                 std::vector<std::string>* reused = nullptr);

// Sets e->methods from `path`'s chosen values (and e->tuning to the file), or from the defaults
// (e->tuning says "not tuned") when there is no file. The file must carry the fingerprint of
// `tuned_on`, the experiment the rates were tuned on (e itself when null; figure 4: its middle
// noise ratio). FailedPrecondition when it does not (names the command that re-tunes), DataLoss
// when the file is malformed.
absl::Status ApplyTuning(const std::string& path, const std::vector<TunableMethod>& methods,
                         Experiment* e, const Experiment* tuned_on = nullptr);

}  // namespace experiments

#endif  // EXPERIMENTS_TUNING_H_
