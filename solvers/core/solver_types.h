// What every solver in //solvers shares: oracle accounting, termination reasons, per-iteration
// records, the summary of a solve, callbacks, and the options common to all solvers.
//
// The conventions follow Ceres Solver: a solver is called as
//
//   bilevel::MinimaxOptOptions options;          // every field documented, with its default
//   options.num_stages = 10;
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
//   if (!status.ok()) ...                        // an invalid option, named in the message
//   std::cout << summary.BriefReport() << "\n";  // termination, f, λ, oracle calls, time
//
// and never prints by itself: callbacks observe each iteration and may stop the solve.
#ifndef SOLVERS_CORE_SOLVER_TYPES_H_
#define SOLVERS_CORE_SOLVER_TYPES_H_

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/checkpoint.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

// Oracle calls, shared by all solvers so that every method can be plotted against the paper's
// "gradient calls". One gradient evaluation of f (or g) on a batch counts once, whatever the
// batch size; `*_examples` adds the batch sizes, so examples / num_examples = passes over data.
struct OracleCounts {
  int64_t f_gradients = 0;               // evaluations of ∇f(x, y) (either block)
  int64_t g_gradients = 0;               // evaluations of ∇g(x, ·)
  int64_t hessian_vector_products = 0;   // ∇²_yy g · v by double backpropagation
  int64_t jacobian_vector_products = 0;  // ∇²_xy g · v (mixed second derivatives), separately
  int64_t f_examples = 0;                // examples summed over all f evaluations
  int64_t g_examples = 0;                // examples summed over all g evaluations

  // One evaluation of ∇f (or ∇g) on a batch of `examples` examples.
  void AddF(int64_t examples) {
    ++f_gradients;
    f_examples += examples;
  }
  void AddG(int64_t examples) {
    ++g_gradients;
    g_examples += examples;
  }

  // The paper's "gradient calls": first-order oracle evaluations of f and g.
  int64_t GradientCalls() const { return f_gradients + g_gradients; }
  // First-order calls plus second-order products, for budgets across method families.
  int64_t TotalOracleCalls() const {
    return GradientCalls() + hessian_vector_products + jacobian_vector_products;
  }
  // Gradient calls plus 2 per Hessian- or Jacobian-vector product (a product by double
  // backpropagation costs about two gradients): the budgets of the experiments.
  int64_t GradientCallEquivalents() const {
    return GradientCalls() + 2 * (hessian_vector_products + jacobian_vector_products);
  }
};

enum class TerminationType {
  kConverged,         // the stationarity tolerance was met in the final stage
  kIterationLimit,    // every stage / iteration ran
  kOracleBudget,      // max_gradient_calls or max_gradient_call_equivalents reached
  kTimeLimit,         // max_wall_time_seconds reached
  kUserStop,          // a callback asked to stop
  kNonFinite,         // an objective or gradient became NaN or infinite; x, y are the last finite
  kCheckpointFailed,  // writing options.checkpoint failed (the message says why); x, y are usable
  kCommunicationFailed,  // a data-parallel collective failed (a rank died or stalled); x, y are
                         // the iterate before the failed step
  kInvalidOptions,       // Solve returned a non-OK status; nothing ran
};
std::string ToString(TerminationType type);

// One iteration's numbers, recorded after the iteration's oracle calls and before its update, so
// the values describe the iterate the update started from.
struct IterationRecord {
  int64_t iteration = 0;  // 0-based count of updates of x over the whole solve
  int stage = 0;          // 0-based stage index
  // The stage's weight, under the name of what it is (at most one is set; none for the
  // hypergradient methods): MinimaxOPT's and F2SA's multiplier λ_k, the penalty method's ρ.
  std::optional<double> lambda;
  std::optional<double> penalty_rho;
  double outer_objective = 0;  // f(x, y) on this iteration's batch
  double inner_objective = 0;  // g(x, y) on this iteration's batch
  // MinimaxOPT: the value-function gap estimate g(x, y) − g(x, z) (≥ 0 when z = y*(x)).
  std::optional<double> value_gap;
  // Penalty method: ‖∇_y g(x, y)‖, the violated stationarity condition.
  std::optional<double> inner_stationarity;
  double grad_norm_x = 0;             // norm of the x-gradient the update used (of L_λ or h_up)
  double grad_norm_y = 0;             // norm of the y-gradient the update used
  std::optional<double> grad_norm_z;  // MinimaxOPT: ‖∇_z L_λ‖
  double learning_rate_x = 0;         // step size applied to x at this iteration
  OracleCounts oracle_calls;          // cumulative, including this iteration
  double wall_time_seconds = 0;       // since Solve started
  bool stage_end = false;             // the last iteration of its stage
};

// "lambda 2" or "rho 1.1" (the record's stage weight, %.4g), or "" for a solver without one.
std::string StageWeight(const IterationRecord& record);

// Return value of an iteration callback.
enum class CallbackResult { kContinue, kStop };
using IterationCallback = std::function<CallbackResult(const IterationRecord&)>;

// The iterate after an iteration's update, as an IterateCallback sees it (read only).
struct IterateView {
  const TensorList& x;
  const TensorList& y;  // the solver's inner variable
  // The inner iterate that descends g(x, ·) alone, the one to score a method by when its y also
  // sees f: MinimaxOPT's and F2SA's z (their y descends f/λ + g, so it trains on the validation
  // data); y after the inner loop for the hypergradient methods; y for the penalty method (which
  // has no g-only iterate: its y descends h_low, which contains f).
  const TensorList& inner;
};
// Sees the iterate too (for metrics on held-out data). Callbacks must not modify it.
using IterateCallback = std::function<CallbackResult(const IterationRecord&, const IterateView&)>;

// What the linear solvers of the AID methods (fixed point, CG, Neumann, stocBiO) did over a
// solve: one solve per hypergradient estimate. A breakdown or a divergence is a failure the
// estimate could not repair; the summary and the experiments' manifests report the counts.
struct LinearSolverCounts {
  int64_t solves = 0;
  int64_t converged = 0;    // residual below linear_solver_tolerance (CG, fixed point)
  int64_t breakdowns = 0;   // CG met a direction of non-positive curvature of H + δI
  int64_t divergences = 0;  // the fixed-point residual or a Neumann term grew past 2× its start
  int64_t unconverged = 0;  // ran every iteration with the residual above the tolerance
};

// Periodic checkpoints of a solve, so that an interrupted process can continue it (see
// checkpoint.h). Every solver supports them (the loop of solver_loop.h writes them).
struct CheckpointOptions {
  // The checkpoint file; empty = no checkpoints. When Solve starts and the file exists, the solve
  // continues from it instead of starting at x0, y0 (the file must come from a solve with the same
  // solver, seed and fingerprint; a mismatch is an error, not a silent restart). The file stays
  // after the solve: delete it to start over.
  std::string path;
  // Write the state after every this many iterations, and after the first iteration that ends at
  // least `every_seconds` of solver time after the last write; 0 turns a criterion off, and at
  // least one must be on. Iterations since the last write are recomputed after a resume
  // (identically, on the CPU).
  int64_t every_iterations = 100;
  double every_seconds = 0;
  // Any text that identifies the options the checkpoint belongs to (e.g. the settings in words);
  // a resume with a different fingerprint is refused.
  std::string fingerprint;
  // The caller's own state, saved in the same file (atomically with the solver's, so both describe
  // the same iteration) and handed back on resume; e.g. the metrics recorded so far. Both or
  // neither must be set.
  std::function<std::string()> save_user_state;
  std::function<absl::Status(const std::string&)> restore_user_state;
  // false: resume from the file when it is there, never write it — for every process but one
  // when several run the same solve side by side (the ranks after 0 of a data-parallel
  // experiment, for a method that runs whole on each rank). A data-parallel solve
  // (SolverOptionsBase::data_parallel) writes from rank 0 alone whatever this says.
  bool write = true;
};

// Options every solver has. Solver-specific options structs derive from this.
struct SolverOptionsBase {
  // Stop after this many gradient calls (OracleCounts::GradientCalls()); 0 = no budget.
  int64_t max_gradient_calls = 0;
  // Stop after this many gradient-call equivalents: gradient calls plus 2 for every Hessian- or
  // Jacobian-vector product (one product costs about two gradients); 0 = no budget. The budget
  // that puts first- and second-order methods on equal terms.
  int64_t max_gradient_call_equivalents = 0;
  // Stop after this much wall time; 0 = no limit.
  double max_wall_time_seconds = 0;
  // Keep one IterationRecord in SolverSummary::iterations every `record_every` iterations (and
  // always the last iteration of each stage); callbacks see every iteration regardless. >= 1.
  int record_every = 1;
  // Minibatch sizes for f (validation examples) and g (training examples); 0 = full batch.
  // Must not exceed the problem's NumOuterExamples() / NumInnerExamples().
  int64_t outer_batch_size = 0;
  int64_t inner_batch_size = 0;
  // Seed of every random draw the solver makes (minibatch order). Same seed, same iterates.
  uint64_t seed = 0;
  // Called after every iteration, in order; the first to return kStop ends the solve.
  std::vector<IterationCallback> callbacks;
  // Called after `callbacks`, with the iterate; the first to return kStop ends the solve.
  std::vector<IterateCallback> iterate_callbacks;
  // Periodic checkpoints (off by default).
  CheckpointOptions checkpoint;
  // Data parallelism (gradient_reducer.h): null, or a reducer over world_size() ranks that each
  // run this solve with the same options; every global minibatch (the full data, for a batch size
  // of 0) is split over them and each step averages its gradients with one collective. Must
  // outlive the solve. Supported by the solvers whose IterativeSolver says so (MinimaxOPT, F2SA).
  GradientReducer* data_parallel = nullptr;
};

// The ranks a solve is split over: options.data_parallel's world size, or 1 in one process.
int WorldSize(const SolverOptionsBase& options);

// Checks the fields of SolverOptionsBase; the message names the offending field.
absl::Status ValidateBaseOptions(const SolverOptionsBase& options);
// Checks that the batch sizes fit the problem's data (names the field).
absl::Status ValidateBatchSizes(const SolverOptionsBase& options, int64_t num_outer_examples,
                                int64_t num_inner_examples);

// Field checks for Validate functions; each message names `field` and the value, e.g.
// "inner_steps (T) must be >= 1, got 0". `note` is appended to the requirement ("(0 = no cap)").
absl::Status RequireAtLeast(int64_t value, int64_t min, const std::string& field);
absl::Status RequireFinitePositive(double value, const std::string& field);
absl::Status RequireFiniteNonNegative(double value, const std::string& field,
                                      const std::string& note = "");
// `value` in [lo, hi] (NaN is not): "schedule_min_factor must be in [0, 1], got 2".
absl::Status RequireInRange(double value, double lo, double hi, const std::string& field);
// The first error among `checks` (all evaluated), or OK.
absl::Status FirstError(std::initializer_list<absl::Status> checks);

// Checks a problem's starting point: x0 and y0 non-empty, defined, floating point, finite shapes.
absl::Status ValidateInitialPoint(const TensorList& x0, const TensorList& y0);

struct SolverSummary {
  std::string solver;  // "MinimaxOPT", "Penalty", ...
  TerminationType termination = TerminationType::kInvalidOptions;
  std::string message;  // why the solve ended, in words
  std::vector<IterationRecord> iterations;
  TensorList x;  // final outer variables (the last finite iterate)
  TensorList y;  // final inner variables
  OracleCounts oracle_calls;
  int64_t num_iterations = 0;
  int num_stages = 0;  // stages that ran at least one iteration
  // The last record's stage weight: λ (MinimaxOPT, F2SA) or ρ (penalty method); unset otherwise.
  std::optional<double> final_lambda;
  std::optional<double> final_penalty_rho;
  double total_time_seconds = 0;  // includes the time before a resume, excludes checkpoint writes
  // Iterations restored from a checkpoint (0: the solve started at x0, y0). `iterations` then holds
  // only the records of the iterations run after the resume.
  int64_t resumed_iterations = 0;
  // The final inner iterate that descends g alone (IterateView::inner): z for MinimaxOPT and F2SA,
  // y otherwise.
  TensorList inner;
  // AID methods only (all zero otherwise).
  LinearSolverCounts linear_solver;

  // True when the solve ran (the iterate is meaningful), whatever made it stop.
  bool IsSolutionUsable() const;
  // One line: solver, termination, iterations, stages, last f, λ, gradient calls, time.
  std::string BriefReport() const;
  // BriefReport plus the message and one line per stage.
  std::string FullReport() const;
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_SOLVER_TYPES_H_
