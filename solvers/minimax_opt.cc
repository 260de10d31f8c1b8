#include "solvers/minimax_opt.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "solvers/lagrangian.h"

namespace bilevel {

std::string ToString(UpdateOrder order) {
  switch (order) {
    case UpdateOrder::kSimultaneous:
      return "simultaneous";
    case UpdateOrder::kAlternating:
      return "alternating";
  }
  return "unknown";
}

OptimizerOptions DefaultLambdaScaledOptimizer() {
  OptimizerOptions options;
  options.lambda_scaling = LambdaScaling::kInverseLambda;
  return options;
}

absl::Status Validate(const MinimaxOptOptions& options) {
  absl::Status status = FirstError({
      ValidateBaseOptions(options),
      RequireFinitePositive(options.initial_lambda, "initial_lambda (λ_0)"),
      std::isfinite(options.lambda_growth) && options.lambda_growth >= 1
          ? absl::OkStatus()
          : absl::InvalidArgumentError(absl::StrCat(
                "lambda_growth (τ) must be finite and >= 1, got ", options.lambda_growth)),
      RequireAtLeast(options.num_stages, 1, "num_stages (K)"),
      RequireAtLeast(options.iterations_per_stage, 1, "iterations_per_stage (T)"),
  });
  if (!status.ok()) return status;
  const double last_lambda =
      options.initial_lambda * std::pow(options.lambda_growth, options.num_stages - 1);
  if (!std::isfinite(last_lambda)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_stages (K = ", options.num_stages, ") with lambda_growth (τ = ", options.lambda_growth,
        ") makes the last stage's λ overflow"));
  }
  return FirstError({
      RequireFiniteNonNegative(options.stationarity_tolerance, "stationarity_tolerance"),
      ValidateOptimizerOptions(options.x_optimizer, "x_optimizer"),
      ValidateOptimizerOptions(options.y_optimizer, "y_optimizer"),
      ValidateOptimizerOptions(options.z_optimizer, "z_optimizer"),
      RequireInRange(options.schedule_min_factor, 0, 1, "schedule_min_factor"),
  });
}

MinimaxOptSolver::MinimaxOptSolver(const MinimaxOptOptions& options, BilevelProblem* problem)
    : LagrangianSolver(problem, options.z_starts_at_y, options.x_optimizer, options.y_optimizer,
                       options.z_optimizer, options.initial_lambda),
      options_(options) {}

std::string MinimaxOptSolver::LimitReached(int64_t /*iteration*/, int stage) const {
  if (stage < options_.num_stages) return "";
  return absl::StrCat("all ", options_.num_stages, " stages ran");
}

std::string MinimaxOptSolver::NonFiniteRemedy() const {
  return "reduce x_optimizer.learning_rate, y_optimizer.learning_rate or "
         "z_optimizer.learning_rate (or initial_lambda if y and z are not lambda-scaled)";
}

StepResult MinimaxOptSolver::Step(const StepContext& context, IterationRecord* record) {
  const double factor = ScheduleFactor(options_.schedule, context.iteration,
                                       options_.num_stages * options_.iterations_per_stage,
                                       options_.schedule_min_factor);
  const Batch outer = context.outer->Next();
  const Batch inner = context.inner->Next();
  auto evaluate = [&] {
    return EvaluateLagrangian(problem_, x_, y_, z_, lambda_, outer, inner,
                              context.outer->BatchSize(), context.inner->BatchSize(),
                              context.counts, options_.common_random_numbers, context.reducer);
  };
  auto rate = [&](const OptimizerOptions& o) {
    return o.learning_rate * LambdaFactor(o.lambda_scaling, lambda_) * factor;
  };
  StepResult result;
  LagrangianEval e = evaluate();
  if (!e.communication_failure.empty()) return CommunicationFailed(e.communication_failure);
  if (e.non_finite != nullptr) {
    result.non_finite = e.non_finite;
    return result;
  }
  RecordLagrangian(e, lambda_, record);
  record->learning_rate_x = rate(options_.x_optimizer);

  // Descent in y, ascent in z (Algorithm 1, lines 4–5). Ascent along ∇_z L is a descent step with
  // a negated learning rate: every optimizer here is odd in the gradient (SGD, momentum and Adam
  // all map −g to minus the step for g), so this equals descending −∇_z L without negating it.
  z_opt_.Step(&z_, e.grad_z, -rate(options_.z_optimizer));
  y_opt_.Step(&y_, e.grad_y, rate(options_.y_optimizer));
  if (options_.update_order == UpdateOrder::kAlternating) {
    LagrangianEval after = evaluate();  // at the updated (y, z)
    if (!after.communication_failure.empty()) {
      return CommunicationFailed(after.communication_failure);
    }
    if (after.non_finite != nullptr) {
      result.non_finite = after.non_finite;
      return result;
    }
    e.grad_x = after.grad_x;
    e.norm_x = after.norm_x;
  }
  record->grad_norm_x = e.norm_x;  // the gradient x steps along (the second, if alternating)

  bool stationary = false;
  if (options_.stationarity_tolerance > 0) {
    // max(‖x − Proj_X(x − ∇_x L)‖, ‖∇_y L‖/λ, ‖∇_z L‖/λ): the projected gradient mapping of x
    // (‖∇_x L‖ when X is the whole space) and the λ-normalised inner gradients.
    TensorList mapped = DetachedClone(x_);
    AddScaledInPlace(&mapped, -1.0, e.grad_x);
    problem_->ProjectOuter(&mapped);
    AddScaledInPlace(&mapped, -1.0, x_);
    stationary = std::max({Norm(mapped), e.norm_y / lambda_, e.norm_z / lambda_}) <
                 options_.stationarity_tolerance;
  }
  // Descent in x, then the projection onto X (Algorithm 1, line 6).
  x_opt_.Step(&x_, e.grad_x, record->learning_rate_x);
  problem_->ProjectOuter(&x_);

  result.stage_end = stationary || context.stage_iteration + 1 == options_.iterations_per_stage;
  if (stationary && context.stage + 1 == options_.num_stages) {
    result.converged = true;
    result.converged_message =
        absl::StrCat("stationarity tolerance ", options_.stationarity_tolerance,
                     " met in the final stage at iteration ", context.iteration);
  }
  return result;
}

absl::Status Solve(const MinimaxOptOptions& options, BilevelProblem* problem,
                   SolverSummary* summary) {
  return RunSolver(
      "MinimaxOPT", Validate(options), options, problem,
      [&] { return std::make_unique<MinimaxOptSolver>(options, problem); }, summary);
}

}  // namespace bilevel
