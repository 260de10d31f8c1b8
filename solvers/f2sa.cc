#include "solvers/f2sa.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/solver_loop.h"
#include "solvers/lagrangian.h"

namespace bilevel {

absl::Status Validate(const F2saOptions& options) {
  return FirstError({
      ValidateBaseOptions(options),
      RequireAtLeast(options.max_iterations, 1, "max_iterations"),
      RequireAtLeast(options.inner_steps, 1, "inner_steps (T)"),
      RequireFinitePositive(options.initial_lambda, "initial_lambda (λ_0)"),
      RequireFiniteNonNegative(options.lambda_increment, "lambda_increment (δ)"),
      RequireFiniteNonNegative(options.max_lambda, "max_lambda", "(0 = no cap)"),
      ValidateOptimizerOptions(options.x_optimizer, "x_optimizer"),
      ValidateOptimizerOptions(options.y_optimizer, "y_optimizer"),
      ValidateOptimizerOptions(options.z_optimizer, "z_optimizer"),
  });
}

namespace {

// F2SA as an IterativeSolver (solver_loop.h).
class F2saSolver : public LagrangianSolver {
 public:
  F2saSolver(const F2saOptions& options, BilevelProblem* problem)
      : LagrangianSolver(problem, /*z_starts_at_y=*/true, options.x_optimizer, options.y_optimizer,
                         options.z_optimizer, options.initial_lambda),
        options_(options) {}

  std::string LimitReached(int64_t iteration, int /*stage*/) const override {
    if (iteration < options_.max_iterations) return "";
    return absl::StrCat("all ", options_.max_iterations, " outer iterations ran");
  }

  std::string NonFiniteRemedy() const override {
    return "reduce x_optimizer.learning_rate, y_optimizer.learning_rate or "
           "z_optimizer.learning_rate, or lambda_increment";
  }

  // Each inner step reduces ∇_z g and ∇_y(f + λg) in one call, the outer step its Lagrangian.
  bool SupportsDataParallel() const override { return true; }

  StepResult Step(const StepContext& context, IterationRecord* record) override {
    MinibatchSampler& outer = *context.outer;
    MinibatchSampler& inner = *context.inner;
    OracleCounts& counts = *context.counts;
    const int64_t n_out = outer.BatchSize(), n_in = inner.BatchSize();
    const double lr_y = options_.y_optimizer.learning_rate *
                        LambdaFactor(options_.y_optimizer.lambda_scaling, lambda_);
    const double lr_z = options_.z_optimizer.learning_rate *
                        LambdaFactor(options_.z_optimizer.lambda_scaling, lambda_);
    for (int t = 0; t < options_.inner_steps; ++t) {
      // z ← z − γ ∇_y g(x, z);  y ← y − α (∇_y f(x, y) + λ ∇_y g(x, y)). Neither gradient
      // depends on the other's update, so a data-parallel step reduces both in one call.
      const Batch inner_batch = inner.Next();
      const Batch outer_batch = outer.Next();
      TensorList zs = GradLeaves(z_), ys = GradLeaves(y_);
      const at::Tensor gz = ShareOfMean(problem_->InnerObjective(x_, zs, inner_batch), inner_batch);
      const at::Tensor fy = ShareOfMean(problem_->OuterObjective(x_, ys, outer_batch), outer_batch);
      const at::Tensor gy = ShareOfMean(problem_->InnerObjective(x_, ys, inner_batch), inner_batch);
      counts.AddG(n_in);
      counts.AddF(n_out);
      counts.AddG(n_in);
      TensorList grad_z = Gradients(gz, zs);
      TensorList grad_y = Gradients(fy + lambda_ * gy, ys);
      if (std::string failed = MeanOverRanks(context.reducer, {&grad_z, &grad_y});
          !failed.empty()) {
        return CommunicationFailed(std::move(failed));
      }
      z_opt_.Step(&z_, grad_z, lr_z);
      y_opt_.Step(&y_, grad_y, lr_y);
    }
    StepResult result;
    const LagrangianEval e =
        EvaluateLagrangian(problem_, x_, y_, z_, lambda_, outer.Next(), inner.Next(), n_out, n_in,
                           &counts, /*common_random_numbers=*/true, context.reducer);
    if (!e.communication_failure.empty()) return CommunicationFailed(e.communication_failure);
    if (e.non_finite != nullptr) {
      result.non_finite = e.non_finite;
      return result;
    }
    RecordLagrangian(e, lambda_, record);
    record->learning_rate_x = options_.x_optimizer.learning_rate *
                              LambdaFactor(options_.x_optimizer.lambda_scaling, lambda_);
    x_opt_.Step(&x_, e.grad_x, record->learning_rate_x);
    problem_->ProjectOuter(&x_);
    lambda_ += options_.lambda_increment;
    if (options_.max_lambda > 0) lambda_ = std::min(lambda_, options_.max_lambda);
    return result;
  }

 private:
  F2saOptions options_;
};

}  // namespace

absl::Status Solve(const F2saOptions& options, BilevelProblem* problem, SolverSummary* summary) {
  return RunSolver(
      "F2SA", Validate(options), options, problem,
      [&] { return std::make_unique<F2saSolver>(options, problem); }, summary);
}

}  // namespace bilevel
