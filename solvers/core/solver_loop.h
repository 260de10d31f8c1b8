// The one loop every solver in //solvers runs under. A solver supplies only what is its own — its
// state and one iteration (an IterativeSolver) — and the loop owns the rest:
//   - minibatches: two independent streams, validation (f) batches seeded 2·seed and training (g)
//     batches seeded 2·seed + 1 (Algorithm 2 of the MinimaxOPT paper);
//   - oracle accounting: the step adds its calls to StepContext::counts, the loop stamps the
//     cumulative counts on every record;
//   - the non-finite check of every recorded value, and the rollback of the declared iterate to
//     the last one whose values were finite;
//   - records, callbacks, budgets, the time limit and termination;
//   - stages: the solver says when one ends, the loop counts them and calls EndStage;
//   - checkpoints: the state the solver declares once (SolverStateSpec) serves both the save and
//     the restore, so every solver resumes bit for bit without code of its own.
// "Add a solver" in solvers/README.md walks through writing one.
#ifndef SOLVERS_CORE_SOLVER_LOOP_H_
#define SOLVERS_CORE_SOLVER_LOOP_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/checkpoint.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

// What the loop hands one iteration.
struct StepContext {
  BilevelProblem* problem = nullptr;
  int64_t iteration = 0;              // 0-based over the whole solve
  int stage = 0;                      // 0-based
  int64_t stage_iteration = 0;        // 0-based within the stage
  MinibatchSampler* outer = nullptr;  // validation (f) batches
  MinibatchSampler* inner = nullptr;  // training (g) batches
  OracleCounts* counts = nullptr;     // add every oracle call the step makes
  // Data parallelism: the reducer the step averages its gradients with (null: one process). The
  // samplers then return this rank's shards.
  GradientReducer* reducer = nullptr;
};

// How one iteration ended.
struct StepResult {
  // Non-empty when an objective or gradient was not finite: names it (e.g. "f(x, y)"). The loop
  // then rolls the iterate back and ends the solve; the step need not undo its updates.
  std::string non_finite;
  bool stage_end = false;  // the iteration ended its stage (EndStage follows)
  bool converged = false;  // the solver's stopping test held: the solve ends after this record
  std::string converged_message;  // why, in words
  // Non-empty when a data-parallel collective failed (StepContext::reducer's status message). The
  // loop then rolls the iterate back and ends the solve (kCommunicationFailed).
  std::string communication_failure;
};

// Gradient tensors whose rows outside `rows` are zero on every rank (per-example outer
// variables, BilevelProblem::OuterRowsPerInnerExample): a reduction sends only those rows.
struct NonzeroRows {
  TensorList* group = nullptr;  // one of the groups reduced; null: no such tensors
  std::vector<size_t> tensors;  // their positions in *group
  at::Tensor rows;              // 1-D int64 row indices, the same on every rank, no repeats
};

// The rows of the x-gradients in *group (x's tensor i at position first_x + i) that evaluations
// of f and of g on the shards `inner` can make nonzero on any rank: their global batches' rows,
// for the tensors the problem declares per inner example. None when it declares none or a batch
// is not a shard of a minibatch (a full batch touches every row).
NonzeroRows PerExampleOuterRows(const BilevelProblem& problem, const std::vector<Batch>& inner,
                                TensorList* group, size_t first_x = 0);
inline NonzeroRows PerExampleOuterRows(const BilevelProblem& problem, const Batch& inner,
                                       TensorList* group, size_t first_x = 0) {
  return PerExampleOuterRows(problem, std::vector<Batch>{inner}, group, first_x);
}

// Data parallelism: averages every tensor of `groups` over the ranks (reducer->AllReduceMean; in
// one process, reducer null, leaves them as they are), sending only `sparse`'s rows of its
// tensors (the others stay zero; these rows' means are those of reducing them whole, while the
// bucket's other tensors may be summed in another order at 3+ ranks). Returns "" or the
// failed collective's message, for StepResult::communication_failure.
std::string MeanOverRanks(GradientReducer* reducer, const std::vector<TensorList*>& groups,
                          const NonzeroRows& sparse = {});

// What a step returns after a collective failed with `message`.
StepResult CommunicationFailed(std::string message);

// The state a solver declares once: what a checkpoint saves and restores, and which tensors are
// the iterate that a non-finite value rolls back. The pointers must outlive the solve.
class SolverStateSpec {
 public:
  // Part of the iterate (saved, and rolled back on a non-finite value).
  void Iterate(const std::string& key, TensorList* v);
  // Saved; may be empty. A non-empty saved list is restored into tensors shaped like `*like`.
  void Tensors(const std::string& key, TensorList* v, const TensorList* like);
  void Optimizer(const std::string& key, GroupOptimizer* optimizer);
  void Double(const std::string& key, double* v);
  void Int(const std::string& key, int64_t* v);

  // Checkpoints: keys are prefixed "solver_" so that they cannot meet the loop's own.
  void Save(SolverState* state) const;
  absl::Status Restore(const SolverState& state) const;

  // Rollback: Snapshot before every iteration; RollBack restores the iterate the previous
  // iteration started from (the last one whose recorded values were all finite), or this
  // iteration's start when there is no previous one.
  void Snapshot();
  void RollBack();

 private:
  void Claim(const std::string& key);

  std::vector<std::string> keys_;
  std::vector<std::pair<std::string, TensorList*>> iterate_;
  struct Optional {
    std::string key;
    TensorList* v;
    const TensorList* like;
  };
  std::vector<Optional> tensors_;
  std::vector<std::pair<std::string, GroupOptimizer*>> optimizers_;
  std::vector<std::pair<std::string, double*>> doubles_;
  std::vector<std::pair<std::string, int64_t*>> ints_;
  std::vector<TensorList> current_, previous_;
};

// The two minibatch streams of a solve: validation (f) batches seeded 2·seed and training (g)
// batches seeded 2·seed + 1, on the device of the problem's x0.
struct MinibatchStreams {
  MinibatchStreams(const SolverOptionsBase& options, BilevelProblem* problem);
  MinibatchSampler outer, inner;

 private:
  MinibatchStreams(const SolverOptionsBase& options, BilevelProblem* problem, c10::Device device);
};

// A solver: its state and its step. Options are validated before it is built.
class IterativeSolver {
 public:
  virtual ~IterativeSolver() = default;
  // Declares the state (called once, before the first Step and before a resume).
  virtual void DeclareState(SolverStateSpec* spec) = 0;
  // Empty while an iteration `iteration` in stage `stage` may run; otherwise the limit that stops
  // the solve, in words ("all 10 stages ran").
  virtual std::string LimitReached(int64_t iteration, int stage) const = 0;
  // One iteration: draws its batches from the context, counts its oracle calls there, fills the
  // record's values (the loop sets iteration, stage, stage_end, counts and time) and updates the
  // iterate. Values describe the iterate the update started from.
  virtual StepResult Step(const StepContext& context, IterationRecord* record) = 0;
  // The stage that the last Step ended is over (its record was observed): update the stage's
  // parameters (λ, ρ, ...). Called after every stage's last iteration, the final stage's too,
  // unless that iteration ended the solve (convergence, a callback, a budget).
  virtual void EndStage() {}
  // The current iterate.
  virtual IterateView View() const = 0;
  // The options to change when a value is not finite, e.g. "reduce x_optimizer.learning_rate".
  virtual std::string NonFiniteRemedy() const = 0;
  // Adds the solver's own fields to the summary when the solve ends (e.g. linear-solver counts).
  virtual void Summarize(SolverSummary* /*summary*/) const {}
  // Whether Step averages its gradients through StepContext::reducer, so that the solve can run
  // data-parallel (SolverOptionsBase::data_parallel).
  virtual bool SupportsDataParallel() const { return false; }
};

using SolverFactory = std::function<std::unique_ptr<IterativeSolver>()>;

// Solves `problem`: resets `summary` (naming `solver`), checks the problem, the options
// (`options_status` is the solver's own Validate result), the batch sizes and the initial point,
// builds the solver with `make`, resumes from options.checkpoint if its file exists, and runs the
// loop. A non-OK status (kInvalidOptions in the summary) means nothing ran; otherwise the
// summary's termination says why the solve ended and x, y, inner hold the final iterate.
absl::Status RunSolver(const std::string& solver, const absl::Status& options_status,
                       const SolverOptionsBase& options, BilevelProblem* problem,
                       const SolverFactory& make, SolverSummary* summary);

// Steps a solver outside the loop, for benchmarks that time single iterations: each Step does
// what the loop does per iteration (the iterate's snapshot for the rollback, the step, the
// non-finite check of its record) without records, callbacks or checkpoints.
class SingleStepper {
 public:
  static absl::StatusOr<std::unique_ptr<SingleStepper>> Create(const absl::Status& options_status,
                                                               const SolverOptionsBase& options,
                                                               BilevelProblem* problem,
                                                               const SolverFactory& make);
  // One iteration (in stage 0); its result, including a non-finite value.
  StepResult Step();
  const OracleCounts& counts() const { return counts_; }

 private:
  SingleStepper(const SolverOptionsBase& options, BilevelProblem* problem,
                std::unique_ptr<IterativeSolver> solver);

  BilevelProblem* problem_;
  GradientReducer* reducer_;
  std::unique_ptr<IterativeSolver> solver_;
  SolverStateSpec spec_;
  MinibatchStreams streams_;
  OracleCounts counts_;
  int64_t iteration_ = 0;
};

// The loop's decisions, as pure functions (tested alone).

// The first recorded value that is not finite, by name ("outer_objective"); empty if all are.
std::string NonFiniteValue(const IterationRecord& record);
// Why the oracle budgets or the time limit end the solve after `counts` and `seconds`, if they do.
struct Stop {
  TerminationType type;
  std::string message;
};
std::optional<Stop> BudgetStop(const SolverOptionsBase& options, const OracleCounts& counts,
                               double seconds);
// Whether a checkpoint is due after `observed` iterations, `seconds_since_last` after the last.
bool CheckpointDue(const CheckpointOptions& checkpoint, int64_t observed,
                   double seconds_since_last);
// Whether SolverSummary::iterations keeps this record (record_every, and every stage end).
bool KeepRecord(const IterationRecord& record, int record_every);

}  // namespace bilevel

#endif  // SOLVERS_CORE_SOLVER_LOOP_H_
