#include "solvers/penalty_method.h"

#include <ATen/ATen.h>

#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "solvers/core/solver_loop.h"
#include "solvers/lagrangian.h"

namespace bilevel {

OptimizerOptions DefaultPenaltyOptimizer() {
  OptimizerOptions options;
  options.type = OptimizerType::kAdam;
  options.learning_rate = 1e-3;
  return options;
}

namespace {

absl::Status CheckRange(double value, double lo, double hi, bool lo_open, const char* field,
                        const char* symbol) {
  const bool ok = std::isfinite(value) && (lo_open ? value > lo : value >= lo) && value <= hi;
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      field, " (", symbol, ") must be in ", lo_open ? "(" : "[", lo, ", ", hi, "], got ", value));
}

}  // namespace

absl::Status Validate(const PenaltyOptions& options) {
  return FirstError({
      ValidateBaseOptions(options),
      RequireAtLeast(options.max_iterations, 1, "max_iterations"),
      RequireAtLeast(options.max_iterations_per_stage, 0, "max_iterations_per_stage (0 = no cap)"),
      RequireAtLeast(options.inner_steps, 1, "inner_steps (T)"),
      CheckRange(options.initial_penalty, 0, 1e300, true, "initial_penalty", "ρ_0"),
      CheckRange(options.penalty_growth, 1, 1e300, false, "penalty_growth", "ρ growth"),
      CheckRange(options.initial_inner_weight, 0, 1e300, false, "initial_inner_weight", "μ_0"),
      CheckRange(options.inner_weight_decay, 0, 1, true, "inner_weight_decay", "μ decay"),
      CheckRange(options.initial_tolerance, 0, 1e300, true, "initial_tolerance", "ε_0"),
      CheckRange(options.tolerance_decay, 0, 1, true, "tolerance_decay", "ε decay"),
      CheckRange(options.learning_rate_decay, 0, 1, true, "learning_rate_decay",
                 "learning-rate decay"),
      CheckRange(options.min_tolerance, 0, 1e300, false, "min_tolerance", "ε_min"),
      ValidateOptimizerOptions(options.x_optimizer, "x_optimizer"),
      ValidateOptimizerOptions(options.y_optimizer, "y_optimizer"),
  });
}

namespace {

// Differentiable squared norm and inner product (tensor_list.h's versions are for monitoring and
// record no autograd history).
at::Tensor SumSquares(const TensorList& v) {
  at::Tensor total = (v[0] * v[0]).sum();
  for (size_t i = 1; i < v.size(); ++i) total = total + (v[i] * v[i]).sum();
  return total;
}

struct PenaltyState {
  double rho = 0, mu = 0, epsilon = 0, lr_factor = 1.0;
  TensorList nu;  // multiplier of ∇_y g = 0
};

// h(x, y) = f + ⟨ν, ∇_y g⟩ + ρ/2 ‖∇_y g‖² (+ μ g for h_low), its gradient with respect to the
// leaves `wrt`, and the pieces a caller records.
struct PenaltyValue {
  double h = 0, f = 0, g = 0;
  TensorList grad;      // ∂h/∂wrt
  TensorList grad_y_g;  // ∇_y g(x, y), detached
  std::string communication_failure;
};

// Data parallel (`reducer`): ‖∇_y g‖² is not a mean over the batch, so the ranks first average
// their shares of ∇_y g into the batch's G (one all-reduce); each then differentiates the
// surrogate f_r + ⟨ν + ρ G, ∇_y g_r⟩ (+ μ g_r), its shares scaled by Batch::shard_weight, whose
// gradients averaged over the ranks (a second all-reduce, with f and g) are h's at the batch:
// f's and μ g's gradients are linear in the batch, and ρ/2 ‖∇_y g‖² has gradient ρ J^T G with
// J = ∂(∇_y g) the batch mean of the ranks' J_r. One process keeps the direct form.
PenaltyValue Evaluate(BilevelProblem* problem, const TensorList& xs, const TensorList& ys,
                      const TensorList& wrt, const Batch& outer, const Batch& inner,
                      const PenaltyState& state, bool lower, int64_t outer_examples,
                      int64_t inner_examples, OracleCounts* counts, GradientReducer* reducer) {
  PenaltyValue v;
  at::Tensor f = ShareOfMean(problem->OuterObjective(xs, ys, outer), outer);
  at::Tensor g = ShareOfMean(problem->InnerObjective(xs, ys, inner), inner);
  counts->AddF(outer_examples);
  counts->AddG(inner_examples);
  // create_graph: the penalty's gradient differentiates ∇_y g once more (a Hessian-vector
  // product).
  ++counts->hessian_vector_products;
  TensorList gy = Gradients(g, ys, /*create_graph=*/true);
  for (const at::Tensor& t : gy) v.grad_y_g.push_back(t.detach());
  const double mu = lower ? state.mu : 0.0;
  if (reducer == nullptr) {
    at::Tensor h = f + 0.5 * state.rho * SumSquares(gy);
    if (!state.nu.empty()) h = h + DotTensor(state.nu, gy);
    if (mu != 0) h = h + mu * g;
    v.grad = Gradients(h, wrt);
    v.h = h.item<double>();
    v.f = f.item<double>();
    v.g = g.item<double>();
    return v;
  }
  v.communication_failure = MeanOverRanks(reducer, {&v.grad_y_g});
  if (!v.communication_failure.empty()) return v;
  TensorList coefficient = DetachedClone(v.grad_y_g);
  for (size_t i = 0; i < coefficient.size(); ++i) {
    coefficient[i].mul_(state.rho);
    if (!state.nu.empty()) coefficient[i].add_(state.nu[i]);
  }
  at::Tensor surrogate = f + DotTensor(coefficient, gy);
  if (mu != 0) surrogate = surrogate + mu * g;
  v.grad = Gradients(surrogate, wrt);
  const at::ScalarType type = v.grad.front().scalar_type();
  TensorList values = {f.detach().to(type), g.detach().to(type)};
  // h_up's wrt is (x, y), h_low's y alone.
  v.communication_failure =
      MeanOverRanks(reducer, {&v.grad, &values},
                    lower ? NonzeroRows{} : PerExampleOuterRows(*problem, inner, &v.grad));
  if (!v.communication_failure.empty()) return v;
  v.f = values[0].item<double>();
  v.g = values[1].item<double>();
  const double norm = Norm(v.grad_y_g);
  v.h = v.f + 0.5 * state.rho * norm * norm + mu * v.g;
  if (!state.nu.empty()) v.h += DotTensor(state.nu, v.grad_y_g).item<double>();
  return v;
}

// The penalty method as an IterativeSolver (solver_loop.h).
class PenaltySolver : public IterativeSolver {
 public:
  PenaltySolver(const PenaltyOptions& options, BilevelProblem* problem)
      : options_(options),
        problem_(problem),
        x_(DetachedClone(problem->InitialOuter())),
        y_(DetachedClone(problem->InitialInner())),
        x_opt_(options.x_optimizer, x_),
        y_opt_(options.y_optimizer, y_) {
    state_.rho = options.initial_penalty;
    state_.mu = options.initial_inner_weight;
    state_.epsilon = options.initial_tolerance;
    if (options.update_multiplier) {
      for (const at::Tensor& t : y_) state_.nu.push_back(at::zeros_like(t));
    }
  }

  void DeclareState(SolverStateSpec* spec) override {
    spec->Iterate("x", &x_);
    spec->Iterate("y", &y_);
    spec->Optimizer("x_opt", &x_opt_);
    spec->Optimizer("y_opt", &y_opt_);
    spec->Double("rho", &state_.rho);
    spec->Double("mu", &state_.mu);
    spec->Double("epsilon", &state_.epsilon);
    spec->Double("lr_factor", &state_.lr_factor);
    spec->Tensors("nu", &state_.nu, &y_);
  }

  std::string LimitReached(int64_t iteration, int /*stage*/) const override {
    if (iteration < options_.max_iterations) return "";
    return absl::StrCat("all ", options_.max_iterations, " iterations ran");
  }

  std::string NonFiniteRemedy() const override {
    return "reduce x_optimizer.learning_rate or y_optimizer.learning_rate, or initial_penalty";
  }

  IterateView View() const override { return IterateView{x_, y_, y_}; }

  // Two all-reduces per evaluation of h (the batch's ∇_y g, then the gradients): 2(T + 1) per
  // iteration.
  bool SupportsDataParallel() const override { return true; }

  StepResult Step(const StepContext& context, IterationRecord* record) override {
    // One minibatch pair per iteration, shared by its inner steps and its x-step.
    const Batch outer = context.outer->Next();
    const Batch inner = context.inner->Next();
    const int64_t n_out = context.outer->BatchSize(), n_in = context.inner->BatchSize();
    const double lr_y = options_.y_optimizer.learning_rate * state_.lr_factor;
    const double lr_x = options_.x_optimizer.learning_rate * state_.lr_factor;
    StepResult result;
    for (int s = 0; s < options_.inner_steps; ++s) {
      TensorList ys = GradLeaves(y_);  // x is a constant here (it requires no gradient)
      PenaltyValue low = Evaluate(problem_, x_, ys, ys, outer, inner, state_, /*lower=*/true, n_out,
                                  n_in, context.counts, context.reducer);
      if (!low.communication_failure.empty()) return CommunicationFailed(low.communication_failure);
      if (!std::isfinite(low.h) || !std::isfinite(Norm(low.grad))) {
        result.non_finite = "h_low(x, y) or its y-gradient";
        return result;
      }
      y_opt_.Step(&y_, low.grad, lr_y);
    }

    TensorList xs = GradLeaves(x_), ys = GradLeaves(y_);
    TensorList xy = xs;
    xy.insert(xy.end(), ys.begin(), ys.end());
    PenaltyValue up = Evaluate(problem_, xs, ys, xy, outer, inner, state_, /*lower=*/false, n_out,
                               n_in, context.counts, context.reducer);
    if (!up.communication_failure.empty()) return CommunicationFailed(up.communication_failure);
    TensorList grad_x(up.grad.begin(), up.grad.begin() + xs.size());
    TensorList grad_y(up.grad.begin() + xs.size(), up.grad.end());

    record->penalty_rho = state_.rho;
    record->outer_objective = up.f;
    record->inner_objective = up.g;
    record->inner_stationarity = Norm(up.grad_y_g);
    record->grad_norm_x = Norm(grad_x);
    record->grad_norm_y = Norm(grad_y);
    record->learning_rate_x = lr_x;
    if (!std::isfinite(up.h)) {
      result.non_finite = "h_up(x, y)";
      return result;
    }
    x_opt_.Step(&x_, grad_x, lr_x);
    problem_->ProjectOuter(&x_);

    const double residual =
        record->grad_norm_x * record->grad_norm_x + record->grad_norm_y * record->grad_norm_y;
    const bool tolerance_met = residual < state_.epsilon * state_.epsilon;
    result.stage_end =
        tolerance_met || (options_.max_iterations_per_stage > 0 &&
                          context.stage_iteration + 1 >= options_.max_iterations_per_stage);
    if (tolerance_met && options_.min_tolerance > 0 && state_.epsilon < options_.min_tolerance) {
      result.converged = true;
      result.converged_message =
          absl::StrCat("stage ", context.stage, " ended with tolerance ε = ", state_.epsilon,
                       " below min_tolerance ", options_.min_tolerance);
    }
    last_grad_y_g_ = std::move(up.grad_y_g);
    return result;
  }

  // Stage end: the augmented-Lagrangian updates.
  void EndStage() override {
    if (options_.update_multiplier) AddScaledInPlace(&state_.nu, state_.rho, last_grad_y_g_);
    state_.rho *= options_.penalty_growth;
    state_.mu *= options_.inner_weight_decay;
    state_.epsilon *= options_.tolerance_decay;
    state_.lr_factor *= options_.learning_rate_decay;
  }

 private:
  PenaltyOptions options_;
  BilevelProblem* problem_;
  TensorList x_, y_;
  GroupOptimizer x_opt_, y_opt_;
  PenaltyState state_;
  TensorList last_grad_y_g_;  // ∇_y g at the last Step's h_up evaluation
};

}  // namespace

absl::Status Solve(const PenaltyOptions& options, BilevelProblem* problem, SolverSummary* summary) {
  return RunSolver(
      "Penalty", Validate(options), options, problem,
      [&] { return std::make_unique<PenaltySolver>(options, problem); }, summary);
}

}  // namespace bilevel
