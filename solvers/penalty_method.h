// The penalty method for bilevel optimization (Mehra & Hamm, "Penalty method for inversion-free
// deep bilevel optimization", ACML 2021; ../shared/papers/penalty-method-abstract.txt), in the
// augmented-Lagrangian form of the authors' public code (../shared/docs/ALGORITHMS.md):
//
//   h_up(x, y)  = f(x, y) + ⟨ν, ∇_y g(x, y)⟩ + (ρ/2) ‖∇_y g(x, y)‖²
//   h_low(x, y) = h_up(x, y) + μ g(x, y)
//
// The inner problem is replaced by its stationarity condition ∇_y g = 0, penalised with weight ρ
// and multiplier ν. Each iteration draws one minibatch pair, takes `inner_steps` optimizer steps
// on y for h_low, then one step on x for h_up (projected onto X). The gradients of the penalty
// are Hessian-vector products, ∇²_{yy} g · (ν + ρ∇_y g) in y and ∇²_{xy} g · (ν + ρ∇_y g) in x,
// obtained by double backpropagation: no Hessian is formed and none is inverted. One such
// backward pass yields both blocks and counts as one Hessian-vector product.
//
// A stage ends when ‖∇_x h_up‖² + ‖∇_y h_up‖² < ε² (or after max_iterations_per_stage); then ν ← ν
// + ρ ∇_y g, ρ ← growth·ρ, μ ← decay·μ, ε ← decay·ε and the learning rates are multiplied by
// `learning_rate_decay`.
//
//   bilevel::PenaltyOptions options;
//   options.max_iterations = 2000;
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
#ifndef SOLVERS_PENALTY_METHOD_H_
#define SOLVERS_PENALTY_METHOD_H_

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"

namespace bilevel {

OptimizerOptions DefaultPenaltyOptimizer();

struct PenaltyOptions : SolverOptionsBase {
  // Updates of x in total (each preceded by `inner_steps` updates of y). >= 1.
  int64_t max_iterations = 1000;
  // T >= 1: optimizer steps on y for h_low per step on x (the authors' default is 20).
  int inner_steps = 20;
  // ρ_0 > 0: the initial penalty weight on ½‖∇_y g‖².
  double initial_penalty = 1.0;
  // >= 1: ρ ← penalty_growth · ρ at each stage end (authors: 1.1).
  double penalty_growth = 1.1;
  // μ_0 >= 0: the initial weight of g itself in h_low.
  double initial_inner_weight = 1.0;
  // In (0, 1]: μ ← inner_weight_decay · μ at each stage end (authors: 0.9).
  double inner_weight_decay = 0.9;
  // ε_0 > 0: a stage ends when ‖∇_x h_up‖² + ‖∇_y h_up‖² < ε².
  double initial_tolerance = 1.0;
  // In (0, 1]: ε ← tolerance_decay · ε at each stage end (authors: 0.9).
  double tolerance_decay = 0.9;
  // In (0, 1]: every learning rate is multiplied by it at each stage end (authors: 0.9).
  double learning_rate_decay = 0.9;
  // Update the multiplier ν ← ν + ρ ∇_y g at each stage end (augmented Lagrangian). false keeps
  // ν = 0: the pure quadratic penalty.
  bool update_multiplier = true;
  // A stage also ends after this many iterations, so that ρ grows and ν is updated even when
  // ε is not met (our addition: with μ > 0, ∇_y h_up = −μ∇_y g at the inner minimiser, so a
  // small ε can be unreachable at the current ρ). 0 = no cap.
  int64_t max_iterations_per_stage = 100;
  // ε_min >= 0: the solve converges when a stage ends with ε below it; 0 disables it.
  double min_tolerance = 0;
  // Optimizers for x and y. Default: Adam (the authors' choice) with η = 1e-3.
  OptimizerOptions x_optimizer = DefaultPenaltyOptimizer();
  OptimizerOptions y_optimizer = DefaultPenaltyOptimizer();
};

// Checks every field; the message names the first invalid one.
absl::Status Validate(const PenaltyOptions& options);

// Runs the penalty method; same contract as the MinimaxOPT Solve (see minimax_opt.h). The
// records' `penalty_rho` is the penalty ρ and `inner_stationarity` is ‖∇_y g(x, y)‖.
absl::Status Solve(const PenaltyOptions& options, BilevelProblem* problem, SolverSummary* summary);

}  // namespace bilevel

#endif  // SOLVERS_PENALTY_METHOD_H_
