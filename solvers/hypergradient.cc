#include "solvers/hypergradient.h"

#include <ATen/ATen.h>

#include <cmath>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace bilevel {

std::string ToString(HypergradientMethod method) {
  switch (method) {
    case HypergradientMethod::kReverse:
      return "reverse";
    case HypergradientMethod::kFixedPoint:
      return "fixed_point";
    case HypergradientMethod::kConjugateGradient:
      return "cg";
    case HypergradientMethod::kNeumann:
      return "neumann";
    case HypergradientMethod::kT1T2:
      return "t1t2";
    case HypergradientMethod::kStocBiO:
      return "stocbio";
  }
  return "unknown";
}

absl::Status Validate(const HypergradientOptions& options) {
  absl::Status status = ValidateBaseOptions(options);
  if (!status.ok()) return status;
  if (options.max_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_iterations must be >= 1, got ", options.max_iterations));
  }
  if (options.inner_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner_steps (T) must be >= 1, got ", options.inner_steps));
  }
  if (options.truncation < 0 || options.truncation > options.inner_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncation (K) must be in [0, inner_steps = ", options.inner_steps,
                     "] (0 = full reverse mode), got ", options.truncation));
  }
  if (options.linear_solver_iterations < 0) {
    return absl::InvalidArgumentError(absl::StrCat("linear_solver_iterations must be >= 0, got ",
                                                   options.linear_solver_iterations));
  }
  if (!(options.linear_solver_step > 0) || std::isinf(options.linear_solver_step)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linear_solver_step (β) must be finite and > 0, got ", options.linear_solver_step));
  }
  if (!(options.linear_solver_damping >= 0) || std::isinf(options.linear_solver_damping)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "linear_solver_damping (δ) must be finite and >= 0, got ", options.linear_solver_damping));
  }
  if (!(options.linear_solver_tolerance >= 0)) {
    return absl::InvalidArgumentError(absl::StrCat("linear_solver_tolerance must be >= 0, got ",
                                                   options.linear_solver_tolerance));
  }
  status = ValidateOptimizerOptions(options.inner_optimizer, "inner_optimizer");
  if (!status.ok()) return status;
  status = ValidateOptimizerOptions(options.outer_optimizer, "outer_optimizer");
  if (!status.ok()) return status;
  if (options.method == HypergradientMethod::kReverse &&
      options.inner_optimizer.type != OptimizerType::kSgd) {
    return absl::InvalidArgumentError(
        "inner_optimizer.type must be sgd for the reverse method: it differentiates through "
        "plain gradient steps");
  }
  if (!(options.schedule_min_factor >= 0 && options.schedule_min_factor <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule_min_factor must be in [0, 1], got ", options.schedule_min_factor));
  }
  return absl::OkStatus();
}

namespace {

// The linear-solver counters in a checkpoint.
std::vector<std::pair<const char*, int64_t LinearSolverCounts::*>> LinearSolverFields() {
  return {{"linear_solves", &LinearSolverCounts::solves},
          {"linear_converged", &LinearSolverCounts::converged},
          {"linear_breakdowns", &LinearSolverCounts::breakdowns},
          {"linear_divergences", &LinearSolverCounts::divergences},
          {"linear_unconverged", &LinearSolverCounts::unconverged}};
}

}  // namespace

HypergradientEstimate ImplicitHypergradient(BilevelProblem* problem, const TensorList& x,
                                            const TensorList& y,
                                            const HypergradientOptions& options,
                                            const EstimateContext& context,
                                            const TensorList* warm_v) {
  HypergradientEstimate out;
  TensorList xs = GradLeaves(x), ys = GradLeaves(y);
  TensorList xy = xs;
  xy.insert(xy.end(), ys.begin(), ys.end());

  at::Tensor f = problem->OuterObjective(xs, ys, context.outer);
  const TensorList f_grad = Gradients(f, xy);
  context.counts->AddF(context.outer_examples);
  const TensorList fx(f_grad.begin(), f_grad.begin() + xs.size());
  const TensorList fy(f_grad.begin() + xs.size(), f_grad.end());

  at::Tensor g = problem->InnerObjective(xs, ys, context.inner);
  const TensorList gy = Gradients(g, ys, /*create_graph=*/true);  // ∇_y g, differentiable
  context.counts->AddG(context.inner_examples);

  // (H + δI) v on the estimate's own inner batch, or (stocBiO) on a fresh one per product.
  const double damping = options.linear_solver_damping;
  auto hvp = [&](const TensorList& v) {
    ++context.counts->hessian_vector_products;
    TensorList hv;
    if (options.method == HypergradientMethod::kStocBiO && context.inner_sampler != nullptr &&
        !context.inner_sampler->IsFullBatch()) {
      TensorList yb = GradLeaves(y);
      at::Tensor gb = problem->InnerObjective(x, yb, context.inner_sampler->Next());
      context.counts->AddG(context.inner_sampler->BatchSize());
      TensorList gyb = Gradients(gb, yb, /*create_graph=*/true);
      hv = VectorJacobianProducts(gyb, yb, v, /*retain_graph=*/false);
    } else {
      hv = VectorJacobianProducts(gy, ys, v, /*retain_graph=*/true);
    }
    return damping > 0 ? Combination(hv, damping, v) : hv;
  };

  const int iterations = options.linear_solver_iterations;
  const double beta = options.linear_solver_step;
  const TensorList* start =
      options.warm_start_linear_solver && warm_v != nullptr && !warm_v->empty() ? warm_v
                                                                                : nullptr;
  const double stop = options.linear_solver_tolerance * std::sqrt(Dot(fy, fy));
  LinearSolveResult solved;
  switch (options.method) {
    case HypergradientMethod::kT1T2:  // H⁻¹ ≈ I
      solved.solution = DetachedClone(fy);
      break;
    case HypergradientMethod::kFixedPoint:
      solved = FixedPointIteration(hvp, fy, start, iterations, beta, stop);
      break;
    case HypergradientMethod::kNeumann:
    case HypergradientMethod::kStocBiO:
      solved = NeumannSeries(hvp, fy, iterations, beta);
      break;
    case HypergradientMethod::kConjugateGradient:
      solved = ConjugateGradient(hvp, fy, start, iterations, stop);
      break;
    case HypergradientMethod::kReverse:
      TORCH_CHECK(false, "ImplicitHypergradient: use ReverseHypergradient for kReverse");
  }
  out.linear_solve = solved.outcome;

  // ∇F ≈ ∇_x f − ∇²_xy g · v: the x-derivative of ⟨∇_y g, v⟩.
  const TensorList mixed =
      VectorJacobianProducts(gy, xs, solved.solution, /*retain_graph=*/false);
  ++context.counts->jacobian_vector_products;
  out.hypergradient = Combination(fx, -1.0, mixed);
  for (at::Tensor& t : out.hypergradient) t = t.detach();
  out.v = std::move(solved.solution);  // a detached copy already (LinearSolveResult)
  out.y = y;
  at::Tensor scalars = at::stack({f.detach().to(at::kDouble), g.detach().to(at::kDouble),
                                  SquaredNormTensor(gy).to(at::kDouble)})
                           .cpu();
  out.outer_objective = scalars[0].item<double>();
  out.inner_objective = scalars[1].item<double>();
  out.inner_gradient_norm = std::sqrt(scalars[2].item<double>());
  return out;
}

HypergradientEstimate ReverseHypergradient(BilevelProblem* problem, const TensorList& x,
                                           const TensorList& y0,
                                           const HypergradientOptions& options,
                                           const EstimateContext& context, double lr_factor) {
  const double alpha = options.inner_optimizer.learning_rate * lr_factor;
  const int T = options.inner_steps;
  const int K = options.truncation == 0 ? T : options.truncation;
  auto next_batch = [&]() -> Batch {
    return context.inner_sampler != nullptr ? context.inner_sampler->Next() : Batch{};
  };
  const int64_t inner_examples = context.inner_sampler != nullptr
                                     ? context.inner_sampler->BatchSize()
                                     : context.inner_examples;

  // The first T − K steps carry no graph.
  TensorList y = DetachedClone(y0);
  for (int t = 0; t < T - K; ++t) {
    TensorList ys = GradLeaves(y);
    TensorList grad = Gradients(problem->InnerObjective(x, ys, next_batch()), ys);
    context.counts->AddG(inner_examples);
    AddScaledInPlace(&y, -alpha, grad);
  }
  // The last K steps are recorded: y_{t+1} = y_t − α ∇_y g(x, y_t) as a function of x.
  TensorList xs = GradLeaves(x);
  TensorList yt = GradLeaves(y);
  at::Tensor g_last;
  TensorList gy_last;
  for (int t = 0; t < K; ++t) {
    g_last = problem->InnerObjective(xs, yt, next_batch());
    gy_last = Gradients(g_last, yt, /*create_graph=*/true);
    context.counts->AddG(inner_examples);
    yt = Combination(yt, -alpha, gy_last);
  }
  at::Tensor f = problem->OuterObjective(xs, yt, context.outer);
  context.counts->AddF(context.outer_examples);
  HypergradientEstimate out;
  out.hypergradient = Gradients(f, xs);
  for (at::Tensor& t : out.hypergradient) t = t.detach();
  context.counts->hessian_vector_products += K;
  context.counts->jacobian_vector_products += K;
  out.y = DetachedClone(yt);
  out.outer_objective = f.item<double>();
  out.inner_objective = g_last.defined() ? g_last.item<double>() : 0.0;
  out.inner_gradient_norm = Norm(gy_last);
  return out;
}

absl::Status Solve(const HypergradientOptions& options, BilevelProblem* problem,
                   SolverSummary* summary) {
  TensorList x, y0_list;
  absl::Status status = BeginSolve(absl::StrCat("Hypergradient(", ToString(options.method), ")"),
                                   Validate(options), options, problem, summary, &x, &y0_list);
  if (!status.ok()) return status;
  const TensorList y0 = std::move(y0_list);

  const c10::Device device = x.front().device();
  MinibatchSampler outer_sampler(problem->NumOuterExamples(), options.outer_batch_size,
                                 2 * options.seed, device);
  MinibatchSampler inner_sampler(problem->NumInnerExamples(), options.inner_batch_size,
                                 2 * options.seed + 1, device);
  GroupOptimizer outer_opt(options.outer_optimizer, x);
  TensorList y = DetachedClone(y0);
  GroupOptimizer inner_opt(options.inner_optimizer, y);
  TensorList v_previous;
  TensorList x_finite;  // x at the last iteration whose values were finite

  IterationMonitor monitor(options, summary);
  summary->num_stages = 1;
  int64_t first_iteration = 0;
  status = monitor.Resume(problem, [&](const SolverState& state) {
    absl::StatusOr<int64_t> next = state.GetInt("next_iteration");
    absl::StatusOr<int64_t> has_v = state.GetInt("has_v_previous");
    absl::Status restored = !next.ok() ? next.status() : has_v.status();
    if (restored.ok()) restored = state.RestoreTensors("x", &x);
    if (restored.ok()) restored = state.RestoreTensors("y", &y);
    if (restored.ok()) restored = outer_opt.RestoreState("outer_opt", state);
    if (restored.ok()) restored = inner_opt.RestoreState("inner_opt", state);
    if (restored.ok()) restored = outer_sampler.RestoreState("outer", state);
    if (restored.ok()) restored = inner_sampler.RestoreState("inner", state);
    for (const auto& [name, field] : LinearSolverFields()) {
      if (!restored.ok()) break;
      absl::StatusOr<int64_t> count = state.GetInt(name);
      if (count.ok()) summary->linear_solver.*field = *count;
      restored = count.status();
    }
    if (restored.ok() && *has_v) {
      v_previous = DetachedClone(y);  // v has y's shapes
      restored = state.RestoreTensors("v_previous", &v_previous);
    }
    if (restored.ok()) first_iteration = *next;
    return restored;
  });
  if (!status.ok()) return status;
  bool running = true;
  for (int64_t iteration = first_iteration; iteration < options.max_iterations && running;
       ++iteration) {
    const double factor = ScheduleFactor(options.schedule, iteration, options.max_iterations,
                                         options.schedule_min_factor);
    if (!options.warm_start_inner) y = DetachedClone(y0);
    const TensorList y_start = DetachedClone(y);
    EstimateContext context;
    context.outer = outer_sampler.Next();
    context.outer_examples = outer_sampler.BatchSize();
    context.inner_examples = inner_sampler.BatchSize();
    context.inner_sampler = &inner_sampler;
    context.counts = &summary->oracle_calls;

    HypergradientEstimate estimate;
    if (options.method == HypergradientMethod::kReverse) {
      // The schedule is the outer loop's: the inner steps keep their rate (a shrinking inner
      // step would handicap the inner solve late in the run).
      estimate = ReverseHypergradient(problem, x, y, options, context, 1.0);
    } else {
      const double lr_inner = options.inner_optimizer.learning_rate;
      for (int t = 0; t < options.inner_steps; ++t) {
        TensorList ys = GradLeaves(y);
        TensorList grad = Gradients(problem->InnerObjective(x, ys, inner_sampler.Next()), ys);
        context.counts->AddG(inner_sampler.BatchSize());
        inner_opt.Step(&y, grad, lr_inner);
      }
      context.inner = inner_sampler.Next();
      estimate = ImplicitHypergradient(problem, x, y, options, context, &v_previous);
    }
    const double hypergradient_norm = Norm(estimate.hypergradient);
    if (!std::isfinite(estimate.outer_objective) || !std::isfinite(estimate.inner_objective) ||
        !std::isfinite(hypergradient_norm) || !std::isfinite(estimate.inner_gradient_norm)) {
      // Back to the last iterate whose values were finite: the previous iteration's x and the
      // inner iterate it was estimated at.
      y = y_start;
      if (!x_finite.empty()) x = x_finite;
      monitor.StopNonFinite(
          "f, g or the hypergradient", iteration,
          options.method == HypergradientMethod::kReverse || options.method == HypergradientMethod::kT1T2
              ? "reduce outer_optimizer.learning_rate or inner_optimizer.learning_rate"
              : "reduce outer_optimizer.learning_rate or inner_optimizer.learning_rate, or "
                "linear_solver_step (β < 2/L), or raise linear_solver_damping");
      break;
    }
    y = estimate.y;
    v_previous = std::move(estimate.v);
    LinearSolverCounts& solves = summary->linear_solver;
    switch (estimate.linear_solve) {
      case LinearSolveOutcome::kNone:
        break;
      case LinearSolveOutcome::kConverged:
        ++solves.solves;
        ++solves.converged;
        break;
      case LinearSolveOutcome::kIterationLimit:
        ++solves.solves;
        // Neumann and stocBiO sum a fixed number of terms: no residual to converge.
        if (options.method == HypergradientMethod::kFixedPoint ||
            options.method == HypergradientMethod::kConjugateGradient) {
          ++solves.unconverged;
        }
        break;
      case LinearSolveOutcome::kBreakdown:
        ++solves.solves;
        ++solves.breakdowns;
        break;
      case LinearSolveOutcome::kDiverged:
        ++solves.solves;
        ++solves.divergences;
        break;
    }

    IterationRecord record;
    record.iteration = iteration;
    record.outer_objective = estimate.outer_objective;
    record.inner_objective = estimate.inner_objective;
    record.inner_stationarity = estimate.inner_gradient_norm;
    record.grad_norm_x = hypergradient_norm;
    record.grad_norm_y = estimate.inner_gradient_norm;
    record.learning_rate_x = options.outer_optimizer.learning_rate * factor;
    record.stage_end = iteration + 1 == options.max_iterations;
    x_finite = DetachedClone(x);
    outer_opt.Step(&x, estimate.hypergradient, record.learning_rate_x);
    problem->ProjectOuter(&x);
    if (!monitor.Observe(record, x, y)) {
      running = false;
    } else if (!monitor.MaybeCheckpoint(problem, [&](SolverState* state) {
                 state->PutInt("next_iteration", iteration + 1);
                 state->PutTensors("x", x);
                 state->PutTensors("y", y);
                 outer_opt.SaveState("outer_opt", state);
                 inner_opt.SaveState("inner_opt", state);
                 outer_sampler.SaveState("outer", state);
                 inner_sampler.SaveState("inner", state);
                 state->PutInt("has_v_previous", v_previous.empty() ? 0 : 1);
                 for (const auto& [name, field] : LinearSolverFields()) {
                   state->PutInt(name, summary->linear_solver.*field);
                 }
                 state->PutTensors("v_previous", v_previous);
               })) {
      running = false;
    }
  }
  if (running && summary->termination == TerminationType::kInvalidOptions) {
    monitor.Finish(TerminationType::kIterationLimit,
                   absl::StrCat("all ", options.max_iterations, " outer iterations ran"));
  }
  summary->x = DetachedClone(x);
  summary->y = DetachedClone(y);
  summary->inner = DetachedClone(y);
  return absl::OkStatus();
}

}  // namespace bilevel
