// What every experiment binary shares: the common flags (--preset, --output_dir, --device,
// --seeds, --data_dir, --threads), their validation, and adapters from each solver's options to
// an experiments::Method.
//
// The common flags are defined once, here, rather than in every main(): four binaries with the
// same six flags would otherwise repeat them verbatim.
#ifndef EXPERIMENTS_COMMON_H_
#define EXPERIMENTS_COMMON_H_

#include <c10/core/Device.h>

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/runner.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"

namespace experiments {

struct Settings {
  std::string figure;
  std::string preset;  // ci | default | paper
  std::string output_dir;
  c10::Device device = c10::Device(c10::kCPU);
  std::vector<uint64_t> seeds;  // --seeds, or the preset's: ci 1; default 1,2,3; paper 1..5
  std::string data_dir;
  double checkpoint_seconds = 60;
};

// An experiment with the settings every figure shares (figure, preset, output folder, device,
// seeds, checkpoints); the figure adds its methods, notes and evaluation interval.
Experiment NewExperiment(const Settings& settings);

// Parses the command line (Abseil flags), validates the common flags, configures the CPU runtime,
// and runs `body`. Returns the process exit code: 0, 1 on a failed run, 2 on a bad flag; errors
// go to stderr with what to do.
int Main(const std::string& figure, int argc, char** argv,
         const std::function<absl::Status(const Settings&)>& body);

// Puts the lines of <data_dir>/CHECKSUMS.md5 (written by tools/setup.sh, checked by the loaders)
// for the files under `folder` ("mnist", "fashion-mnist", "fortunes") in the experiment's
// manifest; an error if there are none.
absl::Status AddDataChecksums(const std::string& data_dir, const std::string& folder,
                              Experiment* experiment);

// Methods from solver options; each run sets the options' seed and adds the runner's observer.
Method MinimaxMethod(std::string name, bilevel::MinimaxOptOptions options);
Method HypergradientMethod(std::string name, bilevel::HypergradientOptions options);
Method F2saMethod(std::string name, bilevel::F2saOptions options);
Method PenaltyMethod(std::string name, bilevel::PenaltyOptions options);

// Figures 1 and 2 compare the same methods on weight-decay logistic regression, full batch, with
// one learning rate for every method and variable group: MinimaxOPT (λ0 = 1, τ = 2), truncated
// reverse mode (K = 10), and AID with fixed point and CG (10 iterations, step 1).
struct LogisticComparison {
  double learning_rate = 1.0;
  int outer_iterations = 30;           // baselines: outer steps ...
  int inner_steps = 100;               // ... of this many inner steps each
  int num_stages = 8;                  // MinimaxOPT: stages ...
  int64_t iterations_per_stage = 250;  // ... of this many iterations each
};
std::vector<Method> LogisticComparisonMethods(const LogisticComparison& c);

}  // namespace experiments

#endif  // EXPERIMENTS_COMMON_H_
