// What every experiment binary shares: the common flags (--preset, --output_dir, --device,
// --seeds, --data_dir, --threads), their validation, and adapters from each solver's options to
// an experiments::Method.
//
// The common flags are defined once, here, rather than in every main(): four binaries with the
// same six flags would otherwise repeat them verbatim.
#ifndef EXPERIMENTS_COMMON_H_
#define EXPERIMENTS_COMMON_H_

#include <c10/core/Device.h>

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/runner.h"
#include "experiments/tuning.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"
#include "tasks/weight_decay_logistic.h"

namespace experiments {

// How big a figure's runs are: ci (each binary under a minute on 2 cores, for the tests), default
// (faithful in kind, minutes on a 2-core CPU; the paper build) or paper (the paper's scale).
enum class Preset { kCi, kDefault, kPaper };
std::string ToString(Preset preset);  // "ci", "default", "paper": the flag's words
// The preset a --preset value names; nullopt for any other word.
std::optional<Preset> ParsePreset(const std::string& name);

struct Settings {
  std::string figure;
  Preset preset = Preset::kDefault;
  std::string output_dir;
  c10::Device device = c10::Device(c10::kCPU);
  std::vector<uint64_t> seeds;  // --seeds, or the preset's: ci 1; default 1,2,3; paper 1..5
  std::string data_dir;
  int threads = 1;  // LibTorch intra-op threads
  double checkpoint_seconds = 60;
  bool tune = false;          // --tune: tune the step sizes instead of running the figure
  bool check_tuning = false;  // --check_tuning: only check the tuning files against the code
  std::string tuning_dir;     // --tuning_dir
  // Data parallel (--world_size > 1; ranks.h): this process's rank, -1 when none was given (Main
  // then launches world_size local ranks), and where rank 0 hosts the rendezvous.
  int world_size = 1;
  int rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  double distributed_timeout_seconds = 300;  // the rendezvous and every collective
  // The ranks' communicator while Main runs the figure (null in one process): NewExperiment
  // hands it to the experiment.
  bilevel::GradientReducer* data_parallel = nullptr;
};

// The seed of every tuning run: not one of the seeds any preset reports (1..5).
inline constexpr uint64_t kTuningSeed = 1000;

// The figure's last step, with its tunable methods: --tune writes the tuning file
// (TuningPath(s.tuning_dir, e)); otherwise the methods get the file's chosen rates (or their
// defaults without a file, said in the manifest), and --check_tuning stops there. `tuned_on`:
// the experiment the rates are tuned on when it is not e (figure 4 tunes at one noise ratio and
// runs three); with --tune, an e that is not the one tuned on returns at once.
absl::Status RunTuned(const Settings& s, Experiment e, const std::vector<TunableMethod>& methods,
                      const TaskFactory& make_task, const Experiment* tuned_on = nullptr);

// An experiment with the settings every figure shares (figure, preset, output folder, device,
// seeds, checkpoints); the figure adds its methods, notes and evaluation interval.
Experiment NewExperiment(const Settings& settings);

// The common flags' values as given (figure_flags.h defines the flags in a figure's main file).
struct FigureFlags {
  std::string preset = "default", output_dir, device = "cpu", seeds, data_dir, tuning_dir;
  int threads = 1;
  bool tune = false, check_tuning = false;
  double checkpoint_seconds = 60;
  // Data parallel; unset values (0, -1, "") come from RANK, WORLD_SIZE, MASTER_ADDR and
  // MASTER_PORT when those are set (torchrun's names), else 1 rank, none given, 127.0.0.1, 29500.
  int world_size = 0, rank = -1, master_port = 0;
  std::string master_addr;
  double distributed_timeout_seconds = 300;
};

// The GPU that local rank `local_rank` of a data-parallel run uses on a machine with
// `device_count` GPUs: its own where there are enough, shared round-robin where there are fewer
// (device 0 where the count is unknown, i.e. not positive).
int RankDeviceIndex(int local_rank, int64_t device_count);

// Checks the flags and fills in the defaults (the preset's seeds, the workspace's output and
// tuning folders, the data cache, the ranks from the environment). An InvalidArgument names the
// flag: "--seeds lists seed 1 more
// than once ('1,1')". `data_source` names a data source other than the figure's own ("" for its
// own): the default output folder then ends in `_<source>`, so that runs on two data sets never
// meet in one folder.
absl::StatusOr<Settings> ParseSettings(const std::string& figure, const FigureFlags& flags,
                                       const std::function<std::string()>& data_source = nullptr);

// Parses the command line (Abseil flags), reads the common flags with `read_flags` (the
// ReadFigureFlags of EXPERIMENTS_FIGURE_FLAGS), checks them (ParseSettings), configures the CPU
// runtime and runs `body` — with --world_size=N and no rank, as N local ranks it starts (each
// runs `body`; rank 0 alone prints progress and writes). Returns the process exit code: 0, 1 on a
// failed run, 2 on a bad flag; errors go to stderr with what to do. `data_source` is called after
// the flags are parsed.
int Main(const std::string& figure, int argc, char** argv,
         const std::function<FigureFlags()>& read_flags,
         const std::function<absl::Status(const Settings&)>& body,
         const std::function<std::string()>& data_source = nullptr);

// Measures the md5 of every file that <data_dir>/CHECKSUMS.md5 (written by tools/setup.sh) lists
// under `folder` ("mnist", "fashion-mnist", "fortunes") and puts "<md5>  <file>" in the
// experiment's manifest: the sums of the files on disk, not copies of the list. NotFound when the
// list has no such file or a listed file cannot be read (deleted, a dangling link, a folder),
// DataLoss when a file's sum differs from the list's; each names the file and tools/setup.sh.
absl::Status AddDataChecksums(const std::string& data_dir, const std::string& folder,
                              Experiment* experiment);

// Methods from solver options; each run sets the options' seed and adds the runner's observer.
Method MinimaxMethod(std::string name, bilevel::MinimaxOptOptions options);
Method HypergradientMethod(std::string name, bilevel::HypergradientOptions options);
Method F2saMethod(std::string name, bilevel::F2saOptions options);
Method PenaltyMethod(std::string name, bilevel::PenaltyOptions options);

// Equal terms: every method of a figure gets the same budget of gradient-call equivalents
// (bilevel::OracleCounts::GradientCallEquivalents: a Hessian- or Jacobian-vector product counts
// as two gradient calls). Each function sizes its method's iteration count to the budget from
// the method's cost per iteration (which, in calls, the comments of hypergradient.h, f2sa.h and
// penalty_method.h state) and sets max_gradient_call_equivalents as a hard stop.
// MinimaxOPT keeps num_stages and fits iterations_per_stage.
void FitToBudget(int64_t budget, bilevel::MinimaxOptOptions* o);
void FitToBudget(int64_t budget, bilevel::HypergradientOptions* o);
void FitToBudget(int64_t budget, bilevel::F2saOptions* o);
void FitToBudget(int64_t budget, bilevel::PenaltyOptions* o);
// The budget in words, for the manifest: "<budget> gradient-call equivalents per method (...),
// <data>".
std::string BudgetInWords(int64_t budget, const std::string& data);

// Figures 1 and 2 compare the same methods on weight-decay logistic regression, full batch, at
// one budget, each with two tuned rates (hand-set default: one learning rate for every method and
// variable group, the penalty method Adam 0.01): MinimaxOPT (λ0 = 1, τ = 2), truncated reverse mode
// (K = 10), AID with fixed point and CG (10 iterations, step 1), F2SA and the penalty method.
struct LogisticComparison {
  double learning_rate = 1.0;
  int64_t budget = 6000;  // gradient-call equivalents per method
  int inner_steps = 100;  // baselines: inner steps per outer step
  int num_stages = 8;     // MinimaxOPT: stages
  // The yardstick's exact inner solves (L-BFGS; float32 tasks stall near 1e-5).
  double exact_tolerance = 1e-5;
  int exact_max_iterations = 300;
};
std::vector<TunableMethod> LogisticComparisonMethods(const LogisticComparison& c);

// A tunable method named `name` whose two (or more) rates are `rates` (hand-set defaults; the grid
// is GridAround them) and which `make` builds from their values.
TunableMethod Tunable(std::string name, std::vector<std::pair<std::string, double>> rates,
                      std::function<Method(const std::vector<double>&)> make);

// The methods of the penalty method's applications (Mehra & Hamm: denoising, poisoning, few-shot),
// in this order: Penalty with the application's settings, CG (damped, in place of the authors'
// ApproxGrad; 10 iterations) and Reverse (truncated at 10), both with T = 20 inner steps, and
// MinimaxOPT (λ0 = 1, τ = 2, 5 stages); each fitted to `budget` with two rates tuned on a grid
// around the hand-set ones.
struct PenaltyApplication {
  int64_t budget = 0;  // gradient-call equivalents per method
  int64_t batch = 0;   // examples (or episodes) per f and g evaluation, every method; 0: all
  // The application's penalty settings (T is set to 20 and the rates come from the grid).
  bilevel::PenaltyOptions penalty;
  std::vector<std::pair<std::string, double>> penalty_rates;   // x_optimizer, y_optimizer
  std::vector<std::pair<std::string, double>> baseline_rates;  // CG and Reverse: outer, inner
  std::vector<std::pair<std::string, double>> minimax_rates;   // x_optimizer, "y,z learning_rate"
  double cg_damping = 1e-3;                                    // the authors' σ
  // The x optimizer of CG, Reverse and MinimaxOPT (the penalty method's is in `penalty`).
  bilevel::OptimizerType outer_type = bilevel::OptimizerType::kSgd;
};
std::vector<TunableMethod> PenaltyApplicationMethods(const PenaltyApplication& a);

// Runs figure 1 or 2 on the logistic data `make_data` gives for a seed: the methods of
// LogisticComparisonMethods at the budget `c.budget`, scored at the exactly re-solved y*(x_k)
// (Yardstick::kExactInner), beside the references "no tuning" (the initial decays) and "train +
// validation" (the initial decays, trained on both sets).
struct LogisticTaskSpec {
  std::string name;  // the task's name
  double initial_log_decay = 0;
  double max_log_decay = HUGE_VAL;
};
absl::Status RunLogisticFigure(
    const Settings& s, Experiment e, const LogisticComparison& c, const LogisticTaskSpec& task,
    const std::function<absl::StatusOr<tasks::LogisticData>(uint64_t seed)>& make_data);

}  // namespace experiments

#endif  // EXPERIMENTS_COMMON_H_
