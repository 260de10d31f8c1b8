// BOME ("Bilevel Optimization Made Easy", Liu, Ye, Wright, Stone & Liu, NeurIPS 2022): a
// first-order method on the value-function reformulation
//
//   min_{x, y} f(x, y)  subject to  q(x, y) = g(x, y) − min_θ g(x, θ) ≤ 0.
//
// Each iteration approximates y*(x) by ŷ, T gradient steps on g(x, ·) started at y, and takes
//   q̂(x, y) = g(x, y) − g(x, ŷ)          (ŷ held fixed),
//   ∇q̂       = (∇_x g(x, y) − ∇_x g(x, ŷ),  ∇_y g(x, y)),
//   λ         = max((η‖∇q̂‖² − ⟨∇f, ∇q̂⟩) / ‖∇q̂‖², 0),
//   (x, y)   ← (x, y) − ξ (∇f + λ ∇q̂)     (x projected onto X).
// λ is the smallest multiplier for which the step decreases q̂ at least at rate η‖∇q̂‖² (a control
// barrier), so the iterates approach the inner solution set while f decreases along it. Like
// MinimaxOPT, no second derivatives: T + 3 gradient calls per iteration (T ∇_y g for ŷ, then
// ∇f(x, y), ∇g(x, y), ∇_x g(x, ŷ); the last two share one training minibatch).
//
//   bilevel::BomeOptions options;
//   options.max_iterations = 2000;
//   options.inner_steps = 10;
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
//
// Added by following "Add a solver" in solvers/README.md.
#ifndef SOLVERS_BOME_H_
#define SOLVERS_BOME_H_

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"

namespace bilevel {

struct BomeOptions : SolverOptionsBase {
  // Updates of (x, y) in total. >= 1.
  int64_t max_iterations = 1000;
  // T >= 1: gradient steps on g(x, ·) from y that give ŷ ≈ y*(x) (the authors use 10 to 50).
  int inner_steps = 10;
  // α > 0: their step size (plain gradient descent, as in the authors' code).
  double inner_learning_rate = 0.1;
  // η > 0: the barrier's rate, φ = η‖∇q̂‖² (the authors' default is 0.5).
  double eta = 0.5;
  // ξ: the optimizers that step x and y along ∇f + λ∇q̂ (default: SGD with ξ = 0.1 for both).
  OptimizerOptions x_optimizer = OptimizerOptions{};
  OptimizerOptions y_optimizer = OptimizerOptions{};
};

// Checks every field; the message names the first invalid one.
absl::Status Validate(const BomeOptions& options);

// Runs BOME; same contract as the MinimaxOPT Solve (see minimax_opt.h). The records' `lambda` is
// the iteration's multiplier λ_k and `value_gap` is q̂(x, y) = g(x, y) − g(x, ŷ); the inner
// iterate (IterateView::inner, SolverSummary::inner) is ŷ, which descends g alone.
absl::Status Solve(const BomeOptions& options, BilevelProblem* problem, SolverSummary* summary);

}  // namespace bilevel

#endif  // SOLVERS_BOME_H_
