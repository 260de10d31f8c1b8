// The inner problem alone, at a fixed x: min_y g(x, y). Two ways to solve it, used to score every
// method of a comparison with the same function, outside the solver's clock and oracle counts:
//
// - SolveInnerExactly: full-batch L-BFGS to a stated gradient-norm tolerance, for strongly convex
//   inner problems, where y*(x) is well defined: F(x) = f(x, y*(x)) is then the true upper
//   objective at the method's x, whatever the method's own y.
// - Retrain: a fixed recipe (minibatch SGD with momentum from the problem's y0) on g(x, ·) alone,
//   for deep, nonconvex inner problems: what a user would get by training a fresh model with the
//   hyperparameters x a method returned.
//
//   bilevel::ExactInnerOptions exact;                 // ‖∇_y g‖ <= 1e-6 by default
//   absl::StatusOr<bilevel::InnerSolveResult> r = bilevel::SolveInnerExactly(&problem, x, y0, exact);
//   bilevel::RetrainOptions recipe;  recipe.steps = 2000;  recipe.batch_size = 256;
//   bilevel::InnerSolveResult fresh = bilevel::Retrain(&problem, x, recipe);
#ifndef SOLVERS_INNER_SOLVE_H_
#define SOLVERS_INNER_SOLVE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

struct ExactInnerOptions {
  // Stop when ‖∇_y g(x, y)‖ (full batch, Euclidean norm over all of y) is at most this. > 0.
  double gradient_tolerance = 1e-6;
  // L-BFGS iterations at most (each costs one full-batch gradient, more when the line search
  // backtracks). >= 1.
  int max_iterations = 2000;
  // Curvature pairs L-BFGS keeps. >= 1.
  int history = 20;
};

struct InnerSolveResult {
  TensorList y;
  // SolveInnerExactly: ‖∇_y g(x, y)‖ at the returned y (full batch). Retrain: the norm of the last
  // minibatch gradient (a full-batch gradient of a deep model would cost more than it tells).
  double gradient_norm = 0;
  int64_t iterations = 0;
  bool converged = false;  // SolveInnerExactly: the tolerance was met
  bool finite = true;      // Retrain: every step stayed finite (else it stopped at the failure)
};

std::string ToString(const ExactInnerOptions& options);

// L-BFGS (two-loop recursion, Armijo backtracking) on the full-batch g(x, ·) from `y_start`.
// InvalidArgument for invalid options; a result that did not meet the tolerance says so
// (`converged` false) rather than failing.
absl::StatusOr<InnerSolveResult> SolveInnerExactly(BilevelProblem* problem, const TensorList& x,
                                                   const TensorList& y_start,
                                                   const ExactInnerOptions& options);

struct RetrainOptions {
  int64_t steps = 1000;        // optimizer steps. >= 1.
  int64_t batch_size = 0;      // training examples per step; 0 = full batch.
  double learning_rate = 0.1;  // > 0, constant
  double momentum = 0.0;       // heavy-ball β in [0, 1); 0 = plain SGD
  uint64_t seed = 0;           // minibatch order and the batches' noise keys (dropout masks)
};

std::string ToString(const RetrainOptions& options);

// `steps` steps of SGD (with momentum) on g(x, ·) from problem->InitialInner(). Deterministic in
// (x, options) for problems that draw their random numbers from the batches' noise keys.
absl::StatusOr<InnerSolveResult> Retrain(BilevelProblem* problem, const TensorList& x,
                                         const RetrainOptions& options);

}  // namespace bilevel

#endif  // SOLVERS_INNER_SOLVE_H_
