// F2SA, the fully first-order stochastic approximation method for bilevel problems (Kwon et al.,
// "A fully first-order method for stochastic bilevel optimization", ICML 2023): the baseline
// closest to MinimaxOPT. On the same Lagrangian L_λ = f(x, y) + λ[g(x, y) − g(x, z)] it takes, per
// outer iteration, `inner_steps` descent steps on z for g and on y for f + λg, then one step on x
// along ∇_x L_λ; λ grows every outer iteration by `lambda_increment` (MinimaxOPT instead keeps λ
// fixed within a stage and steps x, y, z together).
//
//   bilevel::F2saOptions options;
//   options.max_iterations = 500;
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
#ifndef SOLVERS_F2SA_H_
#define SOLVERS_F2SA_H_

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"

namespace bilevel {

struct F2saOptions : SolverOptionsBase {
  // Outer iterations. >= 1.
  int64_t max_iterations = 100;
  // T >= 1: steps on y and on z per outer iteration.
  int inner_steps = 10;
  // λ_0 > 0 and the increment δ >= 0: λ_{k+1} = λ_k + δ, capped at max_lambda (0 = no cap).
  double initial_lambda = 1.0;
  double lambda_increment = 1.0;
  double max_lambda = 0;
  // Optimizers. y defaults to η/λ scaling (its gradient is ∇_y f + λ∇_y g); z steps on g alone.
  OptimizerOptions x_optimizer = OptimizerOptions{};
  OptimizerOptions y_optimizer = [] {
    OptimizerOptions o;
    o.lambda_scaling = LambdaScaling::kInverseLambda;
    return o;
  }();
  OptimizerOptions z_optimizer = OptimizerOptions{};
};

absl::Status Validate(const F2saOptions& options);

// Same contract as the MinimaxOPT Solve (minimax_opt.h); records carry λ_k and the gap
// g(x, y) − g(x, z) measured at the x-step.
absl::Status Solve(const F2saOptions& options, BilevelProblem* problem, SolverSummary* summary);

}  // namespace bilevel

#endif  // SOLVERS_F2SA_H_
