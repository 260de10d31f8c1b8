#include "solvers/penalty_method.h"

#include <ATen/ATen.h>

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "solvers/minibatch_sampler.h"

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
  absl::Status status = ValidateBaseOptions(options);
  if (status.ok()) status = RejectCheckpoints(options, "the penalty method");
  if (!status.ok()) return status;
  if (options.max_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_iterations must be >= 1, got ", options.max_iterations));
  }
  if (options.max_iterations_per_stage < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_iterations_per_stage must be >= 0 (0 = no cap), got ",
                     options.max_iterations_per_stage));
  }
  if (options.inner_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner_steps (T) must be >= 1, got ", options.inner_steps));
  }
  for (absl::Status s : {
           CheckRange(options.initial_penalty, 0, 1e300, true, "initial_penalty", "ρ_0"),
           CheckRange(options.penalty_growth, 1, 1e300, false, "penalty_growth", "ρ growth"),
           CheckRange(options.initial_inner_weight, 0, 1e300, false, "initial_inner_weight", "μ_0"),
           CheckRange(options.inner_weight_decay, 0, 1, true, "inner_weight_decay", "μ decay"),
           CheckRange(options.initial_tolerance, 0, 1e300, true, "initial_tolerance", "ε_0"),
           CheckRange(options.tolerance_decay, 0, 1, true, "tolerance_decay", "ε decay"),
           CheckRange(options.learning_rate_decay, 0, 1, true, "learning_rate_decay",
                      "learning-rate decay"),
           CheckRange(options.min_tolerance, 0, 1e300, false, "min_tolerance", "ε_min"),
       }) {
    if (!s.ok()) return s;
  }
  status = ValidateOptimizerOptions(options.x_optimizer, "x_optimizer");
  if (!status.ok()) return status;
  return ValidateOptimizerOptions(options.y_optimizer, "y_optimizer");
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

// h(x, y) = f + ⟨ν, ∇_y g⟩ + ρ/2 ‖∇_y g‖² (+ μ g for h_low), with the pieces a caller records.
struct PenaltyValue {
  at::Tensor h, f, g;
  TensorList grad_y_g;  // ∇_y g(x, y), detached
};

PenaltyValue Evaluate(BilevelProblem* problem, const TensorList& xs, const TensorList& ys,
                      const Batch& outer, const Batch& inner, const PenaltyState& state, bool lower,
                      int64_t outer_examples, int64_t inner_examples, OracleCounts* counts) {
  PenaltyValue v;
  v.f = problem->OuterObjective(xs, ys, outer);
  v.g = problem->InnerObjective(xs, ys, inner);
  // create_graph: the penalty's gradient differentiates ∇_y g once more (the Hessian-vector
  // product, counted below when the caller backpropagates through it).
  TensorList gy = Gradients(v.g, ys, /*create_graph=*/true);
  v.h = v.f + 0.5 * state.rho * SumSquares(gy);
  if (!state.nu.empty()) v.h = v.h + DotTensor(state.nu, gy);
  if (lower && state.mu != 0) v.h = v.h + state.mu * v.g;
  for (const at::Tensor& t : gy) v.grad_y_g.push_back(t.detach());
  counts->AddF(outer_examples);
  counts->AddG(inner_examples);
  ++counts->hessian_vector_products;
  return v;
}

}  // namespace

absl::Status Solve(const PenaltyOptions& options, BilevelProblem* problem, SolverSummary* summary) {
  TensorList x, y;
  absl::Status status = BeginSolve("Penalty", Validate(options), options, problem, summary, &x, &y);
  if (!status.ok()) return status;

  const c10::Device device = x.front().device();
  MinibatchSampler outer_sampler(problem->NumOuterExamples(), options.outer_batch_size,
                                 2 * options.seed, device);
  MinibatchSampler inner_sampler(problem->NumInnerExamples(), options.inner_batch_size,
                                 2 * options.seed + 1, device);
  GroupOptimizer x_opt(options.x_optimizer, x), y_opt(options.y_optimizer, y);
  PenaltyState state;
  state.rho = options.initial_penalty;
  state.mu = options.initial_inner_weight;
  state.epsilon = options.initial_tolerance;
  if (options.update_multiplier) {
    for (const at::Tensor& t : y) state.nu.push_back(at::zeros_like(t));
  }

  IterationMonitor monitor(options, summary);
  int stage = 0;
  int64_t stage_start = 0;
  summary->num_stages = 1;
  TensorList x_finite;  // x at the last iteration whose values were finite
  bool running = true;
  for (int64_t iteration = 0; iteration < options.max_iterations && running; ++iteration) {
    // One minibatch pair per iteration, shared by its inner steps and its x-step.
    const Batch outer = outer_sampler.Next();
    const Batch inner = inner_sampler.Next();
    const int64_t n_out = outer_sampler.BatchSize(), n_in = inner_sampler.BatchSize();
    const double lr_y = options.y_optimizer.learning_rate * state.lr_factor;
    const double lr_x = options.x_optimizer.learning_rate * state.lr_factor;

    // Back to the last iterate whose values were finite (the previous iteration's) on a failure.
    const TensorList y_start = DetachedClone(y);
    auto stop_non_finite = [&](const std::string& what) {
      y = y_start;
      if (!x_finite.empty()) x = x_finite;
      monitor.StopNonFinite(what, iteration,
                            "reduce x_optimizer.learning_rate or y_optimizer.learning_rate, or "
                            "initial_penalty");
    };
    bool finite = true;
    for (int s = 0; s < options.inner_steps; ++s) {
      TensorList ys = GradLeaves(y);  // x is a constant here (it requires no gradient)
      PenaltyValue low = Evaluate(problem, x, ys, outer, inner, state, /*lower=*/true, n_out, n_in,
                                  &summary->oracle_calls);
      TensorList grad_y = Gradients(low.h, ys);
      if (!std::isfinite(low.h.item<double>()) || !std::isfinite(Norm(grad_y))) {
        stop_non_finite("h_low(x, y) or its y-gradient");
        finite = false;
        break;
      }
      y_opt.Step(&y, grad_y, lr_y);
    }
    if (!finite) break;

    TensorList xs = GradLeaves(x), ys = GradLeaves(y);
    PenaltyValue up = Evaluate(problem, xs, ys, outer, inner, state, /*lower=*/false, n_out, n_in,
                               &summary->oracle_calls);
    TensorList grads = Gradients(up.h, [&] {
      TensorList all = xs;
      all.insert(all.end(), ys.begin(), ys.end());
      return all;
    }());
    TensorList grad_x(grads.begin(), grads.begin() + xs.size());
    TensorList grad_y(grads.begin() + xs.size(), grads.end());

    IterationRecord record;
    record.iteration = iteration;
    record.stage = stage;
    record.penalty_rho = state.rho;
    record.outer_objective = up.f.item<double>();
    record.inner_objective = up.g.item<double>();
    record.inner_stationarity = Norm(up.grad_y_g);
    record.grad_norm_x = Norm(grad_x);
    record.grad_norm_y = Norm(grad_y);
    record.learning_rate_x = lr_x;
    const double h_up = up.h.item<double>();
    for (double v : {h_up, record.outer_objective, record.inner_objective,
                     *record.inner_stationarity, record.grad_norm_x, record.grad_norm_y}) {
      if (!std::isfinite(v)) {
        stop_non_finite("h_up(x, y), f, g or a gradient");
        finite = false;
        break;
      }
    }
    if (!finite) break;

    x_finite = DetachedClone(x);
    x_opt.Step(&x, grad_x, lr_x);
    problem->ProjectOuter(&x);

    const double residual =
        record.grad_norm_x * record.grad_norm_x + record.grad_norm_y * record.grad_norm_y;
    const bool tolerance_met = residual < state.epsilon * state.epsilon;
    const bool stage_done =
        tolerance_met || (options.max_iterations_per_stage > 0 &&
                          iteration + 1 - stage_start >= options.max_iterations_per_stage);
    record.stage_end = stage_done || iteration + 1 == options.max_iterations;
    if (!monitor.Observe(record, x, y)) {
      running = false;
      break;
    }
    if (stage_done) {
      if (tolerance_met && options.min_tolerance > 0 && state.epsilon < options.min_tolerance) {
        monitor.Finish(TerminationType::kConverged,
                       absl::StrCat("stage ", stage, " ended with tolerance ε = ", state.epsilon,
                                    " below min_tolerance ", options.min_tolerance));
        running = false;
        break;
      }
      // Stage end: the augmented-Lagrangian updates.
      if (options.update_multiplier) AddScaledInPlace(&state.nu, state.rho, up.grad_y_g);
      state.rho *= options.penalty_growth;
      state.mu *= options.inner_weight_decay;
      state.epsilon *= options.tolerance_decay;
      state.lr_factor *= options.learning_rate_decay;
      ++stage;
      stage_start = iteration + 1;
      summary->num_stages = stage + 1;
    }
  }
  if (running && summary->termination == TerminationType::kInvalidOptions) {
    monitor.Finish(TerminationType::kIterationLimit,
                   absl::StrCat("all ", options.max_iterations, " iterations ran"));
  }
  summary->x = DetachedClone(x);
  summary->y = DetachedClone(y);
  summary->inner = DetachedClone(y);
  return absl::OkStatus();
}

}  // namespace bilevel
