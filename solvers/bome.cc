#include "solvers/bome.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "solvers/core/solver_loop.h"

namespace bilevel {

absl::Status Validate(const BomeOptions& options) {
  return FirstError({
      ValidateBaseOptions(options),
      RequireAtLeast(options.max_iterations, 1, "max_iterations"),
      RequireAtLeast(options.inner_steps, 1, "inner_steps (T)"),
      RequireFinitePositive(options.inner_learning_rate, "inner_learning_rate (α)"),
      RequireFinitePositive(options.eta, "eta (η)"),
      ValidateOptimizerOptions(options.x_optimizer, "x_optimizer"),
      ValidateOptimizerOptions(options.y_optimizer, "y_optimizer"),
  });
}

namespace {

TensorList Concat(const TensorList& a, const TensorList& b) {
  TensorList out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

class BomeSolver : public IterativeSolver {
 public:
  BomeSolver(const BomeOptions& options, BilevelProblem* problem)
      : options_(options),
        problem_(problem),
        x_(DetachedClone(problem->InitialOuter())),
        y_(DetachedClone(problem->InitialInner())),
        y_hat_(DetachedClone(y_)),
        x_opt_(options.x_optimizer, x_),
        y_opt_(options.y_optimizer, y_) {}

  void DeclareState(SolverStateSpec* spec) override {
    spec->Iterate("x", &x_);
    spec->Iterate("y", &y_);
    spec->Iterate("y_hat", &y_hat_);
    spec->Optimizer("x_opt", &x_opt_);
    spec->Optimizer("y_opt", &y_opt_);
  }

  std::string LimitReached(int64_t iteration, int /*stage*/) const override {
    if (iteration < options_.max_iterations) return "";
    return absl::StrCat("all ", options_.max_iterations, " iterations ran");
  }

  std::string NonFiniteRemedy() const override {
    return "reduce x_optimizer.learning_rate, y_optimizer.learning_rate or inner_learning_rate";
  }

  IterateView View() const override { return IterateView{x_, y_, y_hat_}; }

  StepResult Step(const StepContext& context, IterationRecord* record) override {
    MinibatchSampler& outer = *context.outer;
    MinibatchSampler& inner = *context.inner;
    // ŷ: T gradient steps on g(x, ·) from y, x held fixed.
    y_hat_ = DetachedClone(y_);
    for (int t = 0; t < options_.inner_steps; ++t) {
      TensorList ys = GradLeaves(y_hat_);
      const TensorList grad = Gradients(problem_->InnerObjective(x_, ys, inner.Next()), ys);
      context.counts->AddG(inner.BatchSize());
      AddScaledInPlace(&y_hat_, -options_.inner_learning_rate, grad);
    }
    // ∇f(x, y), ∇g(x, y) and ∇_x g(x, ŷ); both g terms on one training batch.
    const Batch outer_batch = outer.Next();
    const Batch inner_batch = inner.Next();
    const TensorList xs = GradLeaves(x_), ys = GradLeaves(y_);
    const TensorList xy = Concat(xs, ys);
    const at::Tensor f = problem_->OuterObjective(xs, ys, outer_batch);
    const TensorList grad_f = Gradients(f, xy);
    context.counts->AddF(outer.BatchSize());
    const at::Tensor g = problem_->InnerObjective(xs, ys, inner_batch);
    TensorList grad_q = Gradients(g, xy);
    context.counts->AddG(inner.BatchSize());
    const TensorList xs_hat = GradLeaves(x_);
    const at::Tensor g_hat = problem_->InnerObjective(xs_hat, y_hat_, inner_batch);
    const TensorList grad_x_hat = Gradients(g_hat, xs_hat);
    context.counts->AddG(inner.BatchSize());
    for (size_t i = 0; i < xs.size(); ++i) grad_q[i] = grad_q[i] - grad_x_hat[i];

    // λ = max((η‖∇q̂‖² − ⟨∇f, ∇q̂⟩) / ‖∇q̂‖², 0); λ = 0 where ∇q̂ = 0 (y is inner-optimal and x
    // sees no value-function gradient).
    const double q_norm2 = Dot(grad_q, grad_q);
    const double lambda =
        q_norm2 > 0 ? std::max((options_.eta * q_norm2 - Dot(grad_f, grad_q)) / q_norm2, 0.0) : 0.0;
    const TensorList direction = Combination(grad_f, lambda, grad_q);
    const TensorList d_x(direction.begin(), direction.begin() + xs.size());
    const TensorList d_y(direction.begin() + xs.size(), direction.end());

    record->lambda = lambda;
    record->outer_objective = f.item<double>();
    record->inner_objective = g.item<double>();
    record->value_gap = record->inner_objective - g_hat.item<double>();
    record->grad_norm_x = Norm(d_x);
    record->grad_norm_y = Norm(d_y);
    record->learning_rate_x = options_.x_optimizer.learning_rate;
    StepResult result;
    result.non_finite = NonFiniteValue(*record);
    if (!result.non_finite.empty()) return result;
    x_opt_.Step(&x_, d_x, options_.x_optimizer.learning_rate);
    problem_->ProjectOuter(&x_);
    y_opt_.Step(&y_, d_y, options_.y_optimizer.learning_rate);
    return result;
  }

 private:
  BomeOptions options_;
  BilevelProblem* problem_;
  TensorList x_, y_, y_hat_;
  GroupOptimizer x_opt_, y_opt_;
};

}  // namespace

absl::Status Solve(const BomeOptions& options, BilevelProblem* problem, SolverSummary* summary) {
  return RunSolver(
      "BOME", Validate(options), options, problem,
      [&] { return std::make_unique<BomeSolver>(options, problem); }, summary);
}

}  // namespace bilevel
