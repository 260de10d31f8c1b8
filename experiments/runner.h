// The shared machinery of the experiment binaries (one per figure or table of the paper):
// presets, running every (method, seed) with held-out metrics sampled along the way, progress on
// stderr, atomic outputs, resumption, and the JSON manifest.
//
//   experiments::Experiment e = ...;         // figure name, preset, output folder, seeds
//   e.methods.push_back({"MinimaxOPT", [&](tasks::Task* task, uint64_t seed,
//                                          const bilevel::IterateCallback& observer,
//                                          bilevel::SolverSummary* summary) { ... }});
//   return experiments::Run(e, make_task);   // writes curves.csv and manifest.json
//
// Output, under <output_dir>:
//   runs/<method>__seed<k>.csv  one run's curve, written when the run completes (atomically);
//                               a rerun skips runs whose file exists
//   runs/<method>__seed<k>.ckpt the run in progress (solver state and the curve so far), written
//                               every `checkpoint_every_seconds` of solver time; a rerun of an
//                               interrupted experiment continues from it, with the same numbers
//                               (on the CPU) as an uninterrupted run. Removed when the run ends.
//   runs/reference_<name>__seed<k>.json  a reference line's metrics (see Reference)
//   curves.csv                  every run's rows: method, seed, evaluated_at (exact_inner,
//                               inner_iterate, minimax_y, retrained or reference; see Yardstick),
//                               iteration, gradient_calls, hessian_vector_products,
//                               jacobian_vector_products, gradient_call_equivalents (gradient
//                               calls + 2 × every Hessian- or Jacobian-vector product),
//                               wall_time_seconds (solver time, without metric evaluation), then
//                               the task's metrics; the references' rows come last
//   manifest.json               options, seeds, data, its files' checksums and what stood in for
//                               it, commit, machine,
//                               wall time
#ifndef EXPERIMENTS_RUNNER_H_
#define EXPERIMENTS_RUNNER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/results.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/solver_types.h"
#include "solvers/inner_solve.h"
#include "tasks/task.h"

namespace experiments {

// Runs one method on `task`: the solver's options get `seed`, the runner's `observer` (metrics
// on held-out data), `checkpoint` (the run's checkpoint file, so that an interrupted run
// continues where it stopped) and `data_parallel` (the ranks to split each minibatch over, for a
// Method::data_parallel method of a data-parallel experiment; null otherwise).
using RunMethod = std::function<absl::Status(
    tasks::Task* task, uint64_t seed, const bilevel::IterateCallback& observer,
    const bilevel::CheckpointOptions& checkpoint, bilevel::GradientReducer* data_parallel,
    bilevel::SolverSummary* summary)>;

struct Method {
  std::string name;
  RunMethod run;
  std::string settings;  // the method's options in words, for the manifest
  // Every option that can change the numbers (bilevel::Fingerprint): part of the fingerprint a
  // finished run or a checkpoint must match to be reused. Empty: `settings` stands for it.
  std::string options;
  // Iterations a run makes when nothing stops it early, for the time-left estimate; 0 unknown.
  int64_t total_iterations = 0;
  // Score the solver's y as well, as a second series (evaluated_at "minimax_y"): MinimaxOPT,
  // whose y descends f/λ + g and so trains on the validation data.
  bool also_score_y = false;
  // The solver splits each minibatch over the ranks of a data-parallel experiment (every solver
  // but BOME). The other methods run whole on every rank: the same numbers, no speed-up.
  bool data_parallel = false;
};

// How every method of a figure is scored: one function, evaluated outside the solver (its time
// is excluded from the solver's clock and it makes no oracle calls that count).
enum class Yardstick {
  // Strongly convex inner problems (figures 1–2): each point evaluates f and the test metrics at
  // y*(x_k), re-solved with x_k frozen (bilevel::SolveInnerExactly, warm-started from the method's
  // inner iterate). curves.csv: evaluated_at "exact_inner".
  kExactInner,
  // Deep inner problems (figures 3–4): each point evaluates the method's g-only inner iterate
  // (bilevel::IterateView::inner; "inner_iterate"), and every run ends with a retrain of a fresh
  // model on g(x_final, ·) with one recipe for all methods ("retrained").
  kInnerIterate,
  // Tasks whose Evaluate is itself a fixed training recipe of x alone (few-shot learning: the
  // extractor frozen, a fresh head fitted on each test episode's support set): each point
  // evaluates Task::Evaluate(x_k, ·), the same recipe for every method and reference, with no
  // retrain beside it. curves.csv: evaluated_at "protocol".
  kProtocol,
};
std::string ToString(Yardstick yardstick);

// Makes the task for a seed (the data split and initialisation may depend on it).
using TaskFactory = std::function<absl::StatusOr<std::unique_ptr<tasks::Task>>(uint64_t seed)>;

// A reference line: what plain training gets without any bilevel method, scored by the same
// yardstick at the reference task's initial x (exact inner solve, or the retrain recipe).
struct Reference {
  std::string name;         // e.g. "validation only"
  std::string description;  // what it trains on, for the manifest
  TaskFactory make_task;    // the task it trains on (same validation and test sets as the figure's)
};

struct Experiment {
  std::string figure;  // e.g. "fig1_logreg_synthetic"
  std::string preset;  // "ci", "default" or "paper"
  std::string output_dir;
  std::vector<uint64_t> seeds = {1};
  // Evaluate the task's metrics each time the gradient calls pass a multiple of this (and at the
  // start and the end of every run).
  int64_t eval_every_gradient_calls = 100;
  // Checkpoint each run after this much solver time (0: no checkpoints, a rerun restarts the
  // interrupted run).
  double checkpoint_every_seconds = 60;
  std::string device = "cpu";
  // A data-parallel experiment's ranks (--world_size > 1); null in one process. Every rank runs
  // the whole experiment in step: Method::data_parallel methods split each minibatch over the
  // ranks, everything else (the other methods, the references, every evaluation) runs whole on
  // each rank. Rank 0 alone writes; all ranks read the one output folder (shared storage across
  // machines) to reuse finished runs and resume checkpoints, and agree on each run's road before
  // it starts.
  bilevel::GradientReducer* data_parallel = nullptr;
  std::vector<Method> methods;
  std::string notes;  // anything the reader of the outputs must know (stand-ins, scale)
  // "<md5>  <file>" for every data file the experiment read (empty for generated data).
  std::vector<std::string> data_checksums;

  Yardstick yardstick = Yardstick::kInnerIterate;
  bilevel::ExactInnerOptions exact_inner;  // kExactInner
  bilevel::RetrainOptions retrain;         // kInnerIterate (its seed is set to the run's seed)
  std::vector<Reference> references;       // evaluated once per seed
  // kInnerIterate, optional: a second retrain at the end of every run, with the same recipe, on
  // the training set that the final x selects (the penalty method's denoising evaluation: the
  // examples whose weight exceeds 0.9, plus the validation set). Scored by the run's task at
  // x_final, so its cleaning precision and recall are the selection's. curves.csv: evaluated_at
  // "retrained_kept"; run JSON: "kept_retrain_test_accuracy". Part of the yardstick's words.
  struct KeptRetrain {
    std::string description;  // what it trains on, e.g. "weight >= 0.9 plus validation"
    std::function<absl::StatusOr<std::unique_ptr<tasks::Task>>(const bilevel::TensorList& x,
                                                               uint64_t seed)>
        make_task;
  };
  std::optional<KeptRetrain> kept_retrain;
  // The figure's budget and how the methods' step sizes were chosen, in words, for the manifest.
  std::string budget;
  std::string tuning;
  // More top-level manifest fields: (key, a JSON value), e.g. {"corrupted_fraction", "[0.45]"}.
  std::vector<std::pair<std::string, std::string>> manifest_fields;
};

absl::Status Run(const Experiment& experiment, const TaskFactory& make_task);

// The ranks of a data-parallel experiment (Experiment::data_parallel's world size), 1 in one
// process.
int WorldSize(const Experiment& e);

// The yardstick and its recipe, in words: "exact_inner | <the exact inner solve>" or
// "inner_iterate | <the retrain recipe>" (part of the run and tuning fingerprints).
std::string DescribeYardstick(const Experiment& e);

// The commit the experiment runs at: $BILEVEL_COMMIT (the experiment genrules set it from
// Bazel's volatile workspace status, tools/workspace_status.sh; "-dirty" marks uncommitted
// changes), else `git rev-parse HEAD` in the workspace under `bazel run`, else "unknown ...".
std::string BuildCommit();

}  // namespace experiments

#endif  // EXPERIMENTS_RUNNER_H_
