// Hypergradient baselines: the methods that compute or approximate
//
//   ∇F(x) = ∇_x f − ∇²_xy g · [∇²_yy g]⁻¹ · ∇_y f     at (x, y*(x))
//
// that the paper compares MinimaxOPT against (../shared/docs/ALGORITHMS.md, "Baselines"):
//
//   kReverse            reverse-mode differentiation through T inner gradient steps
//                       (Franceschi et al. 2017), truncated to the last K (Shaban et al. 2019)
//   kFixedPoint         AID, H v = ∇_y f by the fixed-point iteration v ← v − β(Hv − ∇_y f)
//   kConjugateGradient  AID, conjugate gradient on H v = ∇_y f
//   kNeumann            AID, v = β Σ_{i=0}^{K} (I − βH)^i ∇_y f (Lorraine et al. 2020)
//   kT1T2               H⁻¹ ≈ I (Luketina et al. 2016)
//   kStocBiO            the Neumann estimator with a fresh inner minibatch for every
//                       Hessian-vector product (Ji et al. 2021)
//
// Every second-order quantity is a Hessian- or Jacobian-vector product by autograd; no Hessian is
// ever formed. F2SA, the fully first-order baseline, is in f2sa.h.
//
// The outer loop is the same for all of them: `inner_steps` optimizer steps on y for g (warm
// started from the previous outer iteration), the hypergradient estimate, and one step on x with
// the outer optimizer, projected onto X:
//
//   bilevel::HypergradientOptions options;
//   options.method = bilevel::HypergradientMethod::kConjugateGradient;
//   options.inner_steps = 20;
//   options.linear_solver_iterations = 20;
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
#ifndef SOLVERS_HYPERGRADIENT_H_
#define SOLVERS_HYPERGRADIENT_H_

#include <string>

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"
#include "solvers/linear/linear_solvers.h"

namespace bilevel {

enum class HypergradientMethod {
  kReverse,
  kFixedPoint,
  kConjugateGradient,
  kNeumann,
  kT1T2,
  kStocBiO,
};
std::string ToString(HypergradientMethod method);  // "reverse", "fixed_point", "cg", ...

struct HypergradientOptions : SolverOptionsBase {
  HypergradientMethod method = HypergradientMethod::kConjugateGradient;
  // Outer iterations (hypergradient steps on x). >= 1.
  int64_t max_iterations = 100;
  // T >= 1: inner steps on y per outer iteration. kReverse differentiates through them.
  int inner_steps = 100;
  // kReverse only: K, the number of final inner steps differentiated through; 0 = all T (full
  // reverse mode). 0 <= K <= T. Memory grows with K.
  int truncation = 0;
  // Iterations of the linear solver (fixed point, CG) or terms of the Neumann series (K). >= 0;
  // ignored by kReverse and kT1T2.
  int linear_solver_iterations = 10;
  // β > 0 of the fixed-point and Neumann iterations; they converge for β < 2/L_g (β ≤ 1/L_g
  // for Neumann's sum). Ignored by CG.
  double linear_solver_step = 0.1;
  // δ >= 0: the AID methods solve (H + δI) v = ∇_y f. δ > 0 is the remedy when H is not positive
  // definite at the inner iterate (a nonconvex inner problem, or y far from y*(x)): CG then meets
  // no direction of non-positive curvature, and the fixed-point and Neumann iterations contract for
  // β < 2/(L + δ).
  double linear_solver_damping = 0;
  // CG and the fixed-point iteration stop early when the residual norm falls below this (relative
  // to ‖∇_y f‖); a solve that runs every iteration above it counts as unconverged. >= 0.
  double linear_solver_tolerance = 1e-12;
  // Start the linear solver from the previous outer iteration's solution (fixed point, CG).
  bool warm_start_linear_solver = true;
  // Start the inner loop from the previous outer iteration's y (true) or from y0 (false).
  bool warm_start_inner = true;
  // The inner optimizer. kReverse differentiates through plain gradient steps and needs kSgd.
  OptimizerOptions inner_optimizer = OptimizerOptions{};
  OptimizerOptions outer_optimizer = OptimizerOptions{};
  // Learning-rate schedule over the outer iterations, for the outer optimizer only (the inner
  // steps keep inner_optimizer.learning_rate).
  Schedule schedule = Schedule::kConstant;
  double schedule_min_factor = 0;
};

absl::Status Validate(const HypergradientOptions& options);

// One hypergradient estimate and what was computed on the way.
struct HypergradientEstimate {
  TensorList hypergradient;        // ≈ ∇F(x)
  TensorList y;                    // the inner iterate it was computed at (y_T for kReverse)
  TensorList v;                    // AID: the approximate solution of H v = ∇_y f
  double outer_objective = 0;      // f(x, y)
  double inner_objective = 0;      // g(x, y)
  double inner_gradient_norm = 0;  // ‖∇_y g(x, y)‖
  LinearSolveOutcome linear_solve = LinearSolveOutcome::kNone;
  // Data parallel: the failed all-reduce, if any (the estimate is then unusable).
  std::string communication_failure;
};

// The batches and counters one estimate uses.
struct EstimateContext {
  Batch outer;                                // f's batch
  Batch inner;                                // g's batch for ∇_y g and the HVPs
  MinibatchSampler* inner_sampler = nullptr;  // fresh batches: kStocBiO's HVPs, kReverse's steps
  int64_t outer_examples = 0;
  int64_t inner_examples = 0;
  OracleCounts* counts = nullptr;
  // Data parallel: the batches are this rank's shards; every gradient, Hessian- and
  // Jacobian-vector product is averaged over the ranks (one all-reduce each; ∇f travels with
  // ∇_y g and the values; reverse mode averages its x-adjoint once, with the last product), so
  // every rank holds the batch's estimate. Null: one process.
  GradientReducer* reducer = nullptr;
};

// AID-type estimate at (x, y) for kFixedPoint, kConjugateGradient, kNeumann, kT1T2, kStocBiO.
// `warm_v` (may be null or empty) starts the fixed-point and CG iterations. Counts one ∇f, one
// ∇g, each Hessian-vector product, and one Jacobian-vector product (∇²_xy g · v).
HypergradientEstimate ImplicitHypergradient(BilevelProblem* problem, const TensorList& x,
                                            const TensorList& y,
                                            const HypergradientOptions& options,
                                            const EstimateContext& context,
                                            const TensorList* warm_v);

// Reverse mode: from y0, T = options.inner_steps gradient steps y ← y − α∇_y g(x, y) with
// α = inner_optimizer.learning_rate × `lr_factor`, then backpropagation of f(x, y_T) through the
// last K of them. Each inner step draws a batch from context.inner_sampler (full batches when it
// is null). Counts T ∇g, one ∇f, and K Hessian- and K Jacobian-vector products (the backward pass
// through one step is one of each). Data parallel (context.reducer), the backward pass runs step
// by step with one all-reduce per Hessian product: T + K + 1 in all.
HypergradientEstimate ReverseHypergradient(BilevelProblem* problem, const TensorList& x,
                                           const TensorList& y0,
                                           const HypergradientOptions& options,
                                           const EstimateContext& context, double lr_factor);

// Runs the outer loop; same contract as the MinimaxOPT Solve (minimax_opt.h). Records: `lambda`
// is 0, `grad_norm_x` is the hypergradient's norm, `grad_norm_y` is ‖∇_y g‖ after the inner loop.
// summary->linear_solver counts how the linear solves ended (breakdowns and divergences are
// failures of the estimate, not of the solve: the solve goes on, and reports them).
absl::Status Solve(const HypergradientOptions& options, BilevelProblem* problem,
                   SolverSummary* summary);

}  // namespace bilevel

#endif  // SOLVERS_HYPERGRADIENT_H_
