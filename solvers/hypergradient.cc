#include "solvers/hypergradient.h"

#include <ATen/ATen.h>

#include <cmath>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "solvers/core/solver_loop.h"
#include "solvers/lagrangian.h"

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
  absl::Status status = FirstError({
      ValidateBaseOptions(options),
      RequireAtLeast(options.max_iterations, 1, "max_iterations"),
      RequireAtLeast(options.inner_steps, 1, "inner_steps (T)"),
  });
  if (!status.ok()) return status;
  if (options.truncation < 0 || options.truncation > options.inner_steps) {
    return absl::InvalidArgumentError(
        absl::StrCat("truncation (K) must be in [0, inner_steps = ", options.inner_steps,
                     "] (0 = full reverse mode), got ", options.truncation));
  }
  status = FirstError({
      RequireAtLeast(options.linear_solver_iterations, 0, "linear_solver_iterations"),
      RequireFinitePositive(options.linear_solver_step, "linear_solver_step (β)"),
      RequireFiniteNonNegative(options.linear_solver_damping, "linear_solver_damping (δ)"),
      options.linear_solver_tolerance >= 0
          ? absl::OkStatus()
          : absl::InvalidArgumentError(absl::StrCat("linear_solver_tolerance must be >= 0, got ",
                                                    options.linear_solver_tolerance)),
      ValidateOptimizerOptions(options.inner_optimizer, "inner_optimizer"),
      ValidateOptimizerOptions(options.outer_optimizer, "outer_optimizer"),
  });
  if (!status.ok()) return status;
  if (options.method == HypergradientMethod::kReverse &&
      options.inner_optimizer.type != OptimizerType::kSgd) {
    return absl::InvalidArgumentError(
        "inner_optimizer.type must be sgd for the reverse method: it differentiates through "
        "plain gradient steps");
  }
  return RequireInRange(options.schedule_min_factor, 0, 1, "schedule_min_factor");
}

HypergradientEstimate ImplicitHypergradient(BilevelProblem* problem, const TensorList& x,
                                            const TensorList& y,
                                            const HypergradientOptions& options,
                                            const EstimateContext& context,
                                            const TensorList* warm_v) {
  HypergradientEstimate out;
  TensorList xs = GradLeaves(x), ys = GradLeaves(y);
  TensorList xy = xs;
  xy.insert(xy.end(), ys.begin(), ys.end());

  // Data parallel: averages this rank's shares over the ranks in one all-reduce; after a failure
  // nothing more is sent (each call would wait out the timeout again).
  auto reduce = [&](const std::vector<TensorList*>& groups, const NonzeroRows& sparse = {}) {
    if (out.communication_failure.empty()) {
      out.communication_failure = MeanOverRanks(context.reducer, groups, sparse);
    }
  };

  at::Tensor f = ShareOfMean(problem->OuterObjective(xs, ys, context.outer), context.outer);
  TensorList f_grad = Gradients(f, xy);
  context.counts->AddF(context.outer_examples);

  at::Tensor g = ShareOfMean(problem->InnerObjective(xs, ys, context.inner), context.inner);
  const TensorList gy = Gradients(g, ys, /*create_graph=*/true);  // ∇_y g, differentiable
  context.counts->AddG(context.inner_examples);
  TensorList gy_value;  // the batch's ∇_y g, for its norm
  for (const at::Tensor& t : gy) gy_value.push_back(t.detach());
  // The values travel with the gradients, in their dtype: one bucket.
  const at::ScalarType type = f_grad.front().scalar_type();
  TensorList values = {f.detach().to(type), g.detach().to(type)};
  reduce({&f_grad, &gy_value, &values}, PerExampleOuterRows(*problem, context.inner, &f_grad));
  const TensorList fx(f_grad.begin(), f_grad.begin() + xs.size());
  const TensorList fy(f_grad.begin() + xs.size(), f_grad.end());

  // (H + δI) v on the estimate's own inner batch, or (stocBiO) on a fresh one per product.
  const double damping = options.linear_solver_damping;
  auto hvp = [&](const TensorList& v) {
    ++context.counts->hessian_vector_products;
    TensorList hv;
    if (options.method == HypergradientMethod::kStocBiO && context.inner_sampler != nullptr &&
        !context.inner_sampler->IsFullBatch()) {
      TensorList yb = GradLeaves(y);
      const Batch fresh = context.inner_sampler->Next();
      at::Tensor gb = ShareOfMean(problem->InnerObjective(x, yb, fresh), fresh);
      context.counts->AddG(context.inner_sampler->BatchSize());
      TensorList gyb = Gradients(gb, yb, /*create_graph=*/true);
      hv = VectorJacobianProducts(gyb, yb, v, /*retain_graph=*/false);
    } else {
      hv = VectorJacobianProducts(gy, ys, v, /*retain_graph=*/true);
    }
    reduce({&hv});
    return damping > 0 ? Combination(hv, damping, v) : hv;
  };

  const int iterations = options.linear_solver_iterations;
  const double beta = options.linear_solver_step;
  const TensorList* start =
      options.warm_start_linear_solver && warm_v != nullptr && !warm_v->empty() ? warm_v : nullptr;
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
  TensorList mixed = VectorJacobianProducts(gy, xs, solved.solution, /*retain_graph=*/false);
  ++context.counts->jacobian_vector_products;
  reduce({&mixed}, PerExampleOuterRows(*problem, context.inner, &mixed));
  if (!out.communication_failure.empty()) return out;
  out.hypergradient = Combination(fx, -1.0, mixed);
  for (at::Tensor& t : out.hypergradient) t = t.detach();
  out.v = std::move(solved.solution);  // a detached copy already (LinearSolveResult)
  out.y = y;
  at::Tensor scalars = at::stack({values[0].to(at::kDouble), values[1].to(at::kDouble),
                                  SquaredNormTensor(gy_value).to(at::kDouble)})
                           .cpu();
  out.outer_objective = scalars[0].item<double>();
  out.inner_objective = scalars[1].item<double>();
  out.inner_gradient_norm = std::sqrt(scalars[2].item<double>());
  return out;
}

namespace {

// Reverse mode on data-parallel ranks. Every rank takes the same inner steps, each along the
// batch's gradient (the mean over the ranks of the shards' shares: one all-reduce per step), and
// keeps each recorded step's graph of its own share ∇_y g_r(x, y_t). The backward pass then runs
// step by step: the adjoint ȳ_t = ȳ_{t+1} − α H_t ȳ_{t+1} needs the batch's Hessian product, the
// mean of the shards' (one all-reduce per step), while the x-adjoint ∇_x f − α Σ_t J_tᵀ ȳ_{t+1}
// is linear in the shards: each rank sums its own and the ranks average it once, with the last
// product. T + K + 1 all-reduces (the last with ∇_y f and the values); the same estimate as one
// process's backward pass through the whole graph, up to rounding.
HypergradientEstimate ReverseOnRanks(BilevelProblem* problem, const TensorList& x,
                                     const TensorList& y0, double alpha, int T, int K,
                                     const EstimateContext& context,
                                     const std::function<Batch()>& next_batch,
                                     int64_t inner_examples) {
  HypergradientEstimate out;
  auto reduce = [&](const std::vector<TensorList*>& groups, const NonzeroRows& sparse = {}) {
    if (out.communication_failure.empty()) {
      out.communication_failure = MeanOverRanks(context.reducer, groups, sparse);
    }
    return out.communication_failure.empty();
  };
  TensorList xs = GradLeaves(x);
  TensorList y = DetachedClone(y0);
  std::vector<TensorList> leaves, shares;  // recorded steps: y_t and ∇_y g_r(x, y_t), with graph
  std::vector<Batch> batches;
  TensorList step, values;
  for (int t = 0; t < T; ++t) {
    const bool recorded = t >= T - K;
    const Batch batch = next_batch();
    TensorList ys = GradLeaves(y);
    const at::Tensor g = ShareOfMean(problem->InnerObjective(xs, ys, batch), batch);
    TensorList gy = Gradients(g, ys, /*create_graph=*/recorded);
    context.counts->AddG(inner_examples);
    step = DetachedClone(gy);
    values = {g.detach().to(step.front().scalar_type())};  // the last step's g is recorded
    if (!reduce({&step, &values})) return out;
    if (recorded) {
      leaves.push_back(ys);
      shares.push_back(std::move(gy));
      batches.push_back(batch);
      y = Combination(y, -alpha, step);
    } else {
      AddScaledInPlace(&y, -alpha, step);
    }
  }
  const double g_last = T > 0 ? values[0].item<double>() : 0.0;
  const double gy_norm = T > 0 ? Norm(step) : 0.0;

  TensorList yT = GradLeaves(y);
  TensorList xy = xs;
  xy.insert(xy.end(), yT.begin(), yT.end());
  const at::Tensor f = ShareOfMean(problem->OuterObjective(xs, yT, context.outer), context.outer);
  context.counts->AddF(context.outer_examples);
  const TensorList f_grad = Gradients(f, xy);
  TensorList x_adjoint(f_grad.begin(), f_grad.begin() + xs.size());  // this rank's, until the end
  TensorList y_adjoint(f_grad.begin() + xs.size(), f_grad.end());
  TensorList f_value = {f.detach().to(y_adjoint.front().scalar_type())};
  if (!reduce({&y_adjoint, &f_value})) return out;

  for (int k = K - 1; k >= 0; --k) {
    // ∂/∂(y_t, x) of ⟨∇_y g_r(x, y_t), ȳ_{t+1}⟩: this shard's H_tᵀ ȳ and J_tᵀ ȳ.
    TensorList wrt = leaves[k];
    wrt.insert(wrt.end(), xs.begin(), xs.end());
    TensorList products = VectorJacobianProducts(shares[k], wrt, y_adjoint, /*retain_graph=*/false);
    TensorList hy(products.begin(), products.begin() + yT.size());
    const TensorList jx(products.begin() + yT.size(), products.end());
    AddScaledInPlace(&x_adjoint, -alpha, jx);
    if (k > 0 ? !reduce({&hy})
              : !reduce({&hy, &x_adjoint}, PerExampleOuterRows(*problem, batches, &x_adjoint))) {
      return out;
    }
    y_adjoint = Combination(y_adjoint, -alpha, hy);
  }
  if (K == 0 && !reduce({&x_adjoint})) return out;
  context.counts->hessian_vector_products += K;
  context.counts->jacobian_vector_products += K;
  out.hypergradient = std::move(x_adjoint);
  for (at::Tensor& t : out.hypergradient) t = t.detach();
  out.y = std::move(y);
  out.outer_objective = f_value[0].item<double>();
  out.inner_objective = g_last;
  out.inner_gradient_norm = gy_norm;
  return out;
}

}  // namespace

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
  if (context.reducer != nullptr) {
    return ReverseOnRanks(problem, x, y0, alpha, T, K, context, next_batch, inner_examples);
  }

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

namespace {

// The hypergradient methods as an IterativeSolver (solver_loop.h): T inner steps on y, one
// hypergradient estimate, one step on x.
class HypergradientSolver : public IterativeSolver {
 public:
  HypergradientSolver(const HypergradientOptions& options, BilevelProblem* problem)
      : options_(options),
        problem_(problem),
        x_(DetachedClone(problem->InitialOuter())),
        y0_(DetachedClone(problem->InitialInner())),
        y_(DetachedClone(y0_)),
        outer_opt_(options.outer_optimizer, x_),
        inner_opt_(options.inner_optimizer, y_) {}

  void DeclareState(SolverStateSpec* spec) override {
    spec->Iterate("x", &x_);
    spec->Iterate("y", &y_);
    spec->Optimizer("outer_opt", &outer_opt_);
    spec->Optimizer("inner_opt", &inner_opt_);
    spec->Tensors("v_previous", &v_previous_, &y_);  // v has y's shapes
    spec->Int("linear_solves", &solves_.solves);
    spec->Int("linear_converged", &solves_.converged);
    spec->Int("linear_breakdowns", &solves_.breakdowns);
    spec->Int("linear_divergences", &solves_.divergences);
    spec->Int("linear_unconverged", &solves_.unconverged);
  }

  std::string LimitReached(int64_t iteration, int /*stage*/) const override {
    if (iteration < options_.max_iterations) return "";
    return absl::StrCat("all ", options_.max_iterations, " outer iterations ran");
  }

  std::string NonFiniteRemedy() const override {
    return options_.method == HypergradientMethod::kReverse ||
                   options_.method == HypergradientMethod::kT1T2
               ? "reduce outer_optimizer.learning_rate or inner_optimizer.learning_rate"
               : "reduce outer_optimizer.learning_rate or inner_optimizer.learning_rate, or "
                 "linear_solver_step (β < 2/L), or raise linear_solver_damping";
  }

  IterateView View() const override { return IterateView{x_, y_, y_}; }
  void Summarize(SolverSummary* summary) const override { summary->linear_solver = solves_; }

  // The AID methods average every gradient and product over the ranks (T + K + 2 all-reduces
  // per iteration for K products), reverse mode each inner step's gradient and, backwards, each
  // step's Hessian product (T + K + 1).
  bool SupportsDataParallel() const override { return true; }

  StepResult Step(const StepContext& context, IterationRecord* record) override {
    const double factor = ScheduleFactor(options_.schedule, context.iteration,
                                         options_.max_iterations, options_.schedule_min_factor);
    if (!options_.warm_start_inner) y_ = DetachedClone(y0_);
    MinibatchSampler& inner = *context.inner;
    EstimateContext estimate_context;
    estimate_context.outer = context.outer->Next();
    estimate_context.outer_examples = context.outer->BatchSize();
    estimate_context.inner_examples = inner.BatchSize();
    estimate_context.inner_sampler = &inner;
    estimate_context.counts = context.counts;
    estimate_context.reducer = context.reducer;

    HypergradientEstimate estimate;
    if (options_.method == HypergradientMethod::kReverse) {
      // The schedule is the outer loop's: the inner steps keep their rate (a shrinking inner
      // step would handicap the inner solve late in the run).
      estimate = ReverseHypergradient(problem_, x_, y_, options_, estimate_context, 1.0);
      if (!estimate.communication_failure.empty()) {
        return CommunicationFailed(estimate.communication_failure);
      }
    } else {
      const double lr_inner = options_.inner_optimizer.learning_rate;
      for (int t = 0; t < options_.inner_steps; ++t) {
        TensorList ys = GradLeaves(y_);
        const Batch batch = inner.Next();
        TensorList grad =
            Gradients(ShareOfMean(problem_->InnerObjective(x_, ys, batch), batch), ys);
        context.counts->AddG(inner.BatchSize());
        if (std::string failed = MeanOverRanks(context.reducer, {&grad}); !failed.empty()) {
          return CommunicationFailed(std::move(failed));
        }
        inner_opt_.Step(&y_, grad, lr_inner);
      }
      estimate_context.inner = inner.Next();
      estimate = ImplicitHypergradient(problem_, x_, y_, options_, estimate_context, &v_previous_);
      if (!estimate.communication_failure.empty()) {
        return CommunicationFailed(estimate.communication_failure);
      }
    }
    record->outer_objective = estimate.outer_objective;
    record->inner_objective = estimate.inner_objective;
    record->inner_stationarity = estimate.inner_gradient_norm;
    record->grad_norm_x = Norm(estimate.hypergradient);
    record->grad_norm_y = estimate.inner_gradient_norm;
    record->learning_rate_x = options_.outer_optimizer.learning_rate * factor;
    StepResult result;
    result.non_finite = NonFiniteValue(*record);  // before y, v and x change
    if (!result.non_finite.empty()) return result;
    y_ = std::move(estimate.y);
    v_previous_ = std::move(estimate.v);
    Count(estimate.linear_solve);
    outer_opt_.Step(&x_, estimate.hypergradient, record->learning_rate_x);
    problem_->ProjectOuter(&x_);
    return result;
  }

 private:
  void Count(LinearSolveOutcome outcome) {
    switch (outcome) {
      case LinearSolveOutcome::kNone:
        return;
      case LinearSolveOutcome::kConverged:
        ++solves_.converged;
        break;
      case LinearSolveOutcome::kIterationLimit:
        // Neumann and stocBiO sum a fixed number of terms: no residual to converge.
        if (options_.method == HypergradientMethod::kFixedPoint ||
            options_.method == HypergradientMethod::kConjugateGradient) {
          ++solves_.unconverged;
        }
        break;
      case LinearSolveOutcome::kBreakdown:
        ++solves_.breakdowns;
        break;
      case LinearSolveOutcome::kDiverged:
        ++solves_.divergences;
        break;
    }
    ++solves_.solves;
  }

  HypergradientOptions options_;
  BilevelProblem* problem_;
  TensorList x_;
  const TensorList y0_;
  TensorList y_;
  GroupOptimizer outer_opt_, inner_opt_;
  TensorList v_previous_;
  LinearSolverCounts solves_;
};

}  // namespace

absl::Status Solve(const HypergradientOptions& options, BilevelProblem* problem,
                   SolverSummary* summary) {
  return RunSolver(
      absl::StrCat("Hypergradient(", ToString(options.method), ")"), Validate(options), options,
      problem, [&] { return std::make_unique<HypergradientSolver>(options, problem); }, summary);
}

}  // namespace bilevel
