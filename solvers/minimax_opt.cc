#include "solvers/minimax_opt.h"

#include <cmath>
#include <utility>

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace bilevel {

std::string ToString(UpdateOrder order) {
  switch (order) {
    case UpdateOrder::kSimultaneous:
      return "simultaneous";
    case UpdateOrder::kZFirst:
      return "z_first";
  }
  return "unknown";
}

OptimizerOptions DefaultLambdaScaledOptimizer() {
  OptimizerOptions options;
  options.lambda_scaling = LambdaScaling::kInverseLambda;
  return options;
}

absl::Status Validate(const MinimaxOptOptions& options) {
  absl::Status status = ValidateBaseOptions(options);
  if (!status.ok()) return status;
  if (!(options.initial_lambda > 0) || std::isinf(options.initial_lambda)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "initial_lambda (λ_0) must be finite and > 0, got ", options.initial_lambda));
  }
  if (!(options.lambda_growth >= 1) || std::isinf(options.lambda_growth)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lambda_growth (τ) must be finite and >= 1, got ", options.lambda_growth));
  }
  if (options.num_stages < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_stages (K) must be >= 1, got ", options.num_stages));
  }
  if (options.iterations_per_stage < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "iterations_per_stage (T) must be >= 1, got ", options.iterations_per_stage));
  }
  const double last_lambda =
      options.initial_lambda * std::pow(options.lambda_growth, options.num_stages - 1);
  if (!std::isfinite(last_lambda)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_stages (K = ", options.num_stages, ") with lambda_growth (τ = ", options.lambda_growth,
        ") makes the last stage's λ overflow"));
  }
  if (!(options.stationarity_tolerance >= 0) || std::isinf(options.stationarity_tolerance)) {
    return absl::InvalidArgumentError(
        absl::StrCat("stationarity_tolerance must be finite and >= 0, got ",
                     options.stationarity_tolerance));
  }
  for (const auto& [opt, name] : {std::pair{&options.x_optimizer, "x_optimizer"},
                                  std::pair{&options.y_optimizer, "y_optimizer"},
                                  std::pair{&options.z_optimizer, "z_optimizer"}}) {
    status = ValidateOptimizerOptions(*opt, name);
    if (!status.ok()) return status;
  }
  if (!(options.schedule_min_factor >= 0 && options.schedule_min_factor <= 1)) {
    return absl::InvalidArgumentError(absl::StrCat("schedule_min_factor must be in [0, 1], got ",
                                                   options.schedule_min_factor));
  }
  return absl::OkStatus();
}

namespace {

// The device the problem's variables live on (the solvers put batch indices there).
c10::Device DeviceOf(const TensorList& v) { return v.front().device(); }

TensorList Slice(const TensorList& v, size_t begin, size_t end) {
  return TensorList(v.begin() + begin, v.begin() + end);
}

TensorList Concat(std::initializer_list<const TensorList*> lists) {
  TensorList out;
  for (const TensorList* l : lists) out.insert(out.end(), l->begin(), l->end());
  return out;
}

TensorList Negated(const TensorList& v) {
  TensorList out;
  out.reserve(v.size());
  for (const at::Tensor& t : v) out.push_back(-t);
  return out;
}

}  // namespace

MinimaxOptIterator::MinimaxOptIterator(const MinimaxOptOptions& options, BilevelProblem* problem)
    : options_(options),
      problem_(problem),
      x_(DetachedClone(problem->InitialOuter())),
      y_(DetachedClone(problem->InitialInner())),
      z_(options.z_starts_at_y ? DetachedClone(y_) : DetachedClone(problem->InitialInner())),
      // Independent streams for validation and training batches (Algorithm 2).
      outer_sampler_(problem->NumOuterExamples(), options.outer_batch_size, 2 * options.seed,
                     DeviceOf(x_)),
      inner_sampler_(problem->NumInnerExamples(), options.inner_batch_size, 2 * options.seed + 1,
                     DeviceOf(x_)),
      x_opt_(options.x_optimizer, x_),
      y_opt_(options.y_optimizer, y_),
      z_opt_(options.z_optimizer, z_) {}

absl::StatusOr<std::unique_ptr<MinimaxOptIterator>> MinimaxOptIterator::Create(
    const MinimaxOptOptions& options, BilevelProblem* problem) {
  if (problem == nullptr) return absl::InvalidArgumentError("problem is null");
  absl::Status status = Validate(options);
  if (!status.ok()) return status;
  status = ValidateBatchSizes(options, problem->NumOuterExamples(), problem->NumInnerExamples());
  if (!status.ok()) return status;
  status = ValidateInitialPoint(problem->InitialOuter(), problem->InitialInner());
  if (!status.ok()) return status;
  return std::unique_ptr<MinimaxOptIterator>(new MinimaxOptIterator(options, problem));
}

bool MinimaxOptIterator::Iterate(double lambda, double schedule_factor, IterationRecord* record,
                                 OracleCounts* counts, std::string* non_finite) {
  const Batch outer = outer_sampler_.Next();
  const Batch inner = inner_sampler_.Next();
  const int64_t outer_examples = outer_sampler_.BatchSize();
  const int64_t inner_examples = inner_sampler_.BatchSize();
  auto count_g = [&] {
    ++counts->g_gradients;
    counts->g_examples += inner_examples;
  };

  const double lr_z =
      options_.z_optimizer.learning_rate * LambdaFactor(options_.z_optimizer.lambda_scaling, lambda) *
      schedule_factor;
  // kZFirst: the ascent step on z comes first, from ∇_z L = −λ ∇_z g(x, z).
  if (options_.update_order == UpdateOrder::kZFirst) {
    TensorList xs = GradLeaves(x_), zs = GradLeaves(z_);
    at::Tensor gz = problem_->InnerObjective(xs, zs, inner);
    count_g();
    TensorList grad_z = Gradients(lambda * gz, zs);  // = −∇_z L
    if (!std::isfinite(gz.item<double>()) || !std::isfinite(Norm(grad_z))) {
      *non_finite = "g(x, z) or its gradient";
      return false;
    }
    z_opt_.Step(&z_, grad_z, lr_z);
  }

  TensorList xs = GradLeaves(x_), ys = GradLeaves(y_), zs = GradLeaves(z_);
  at::Tensor f = problem_->OuterObjective(xs, ys, outer);
  at::Tensor g_y = problem_->InnerObjective(xs, ys, inner);
  at::Tensor g_z = problem_->InnerObjective(xs, zs, inner);
  ++counts->f_gradients;
  counts->f_examples += outer_examples;
  count_g();
  count_g();
  // One backward pass through L_λ gives all three gradients (eq. 6).
  at::Tensor lagrangian = f + lambda * (g_y - g_z);
  const TensorList all = Gradients(lagrangian, Concat({&xs, &ys, &zs}));
  const TensorList grad_x = Slice(all, 0, xs.size());
  const TensorList grad_y = Slice(all, xs.size(), xs.size() + ys.size());
  const TensorList grad_z = Slice(all, xs.size() + ys.size(), all.size());  // = −λ ∇_z g

  // One host synchronisation per iteration for all the scalars the record and checks need.
  at::Tensor scalars =
      at::stack({f.detach().to(at::kDouble), g_y.detach().to(at::kDouble),
                 g_z.detach().to(at::kDouble), SquaredNormTensor(grad_x).to(at::kDouble),
                 SquaredNormTensor(grad_y).to(at::kDouble), SquaredNormTensor(grad_z).to(at::kDouble)})
          .cpu();
  const double* s = scalars.data_ptr<double>();
  record->lambda = lambda;
  record->outer_objective = s[0];
  record->inner_objective = s[1];
  record->value_gap = s[1] - s[2];
  record->grad_norm_x = std::sqrt(s[3]);
  record->grad_norm_y = std::sqrt(s[4]);
  record->grad_norm_z = std::sqrt(s[5]);
  const char* names[] = {"f(x, y)", "g(x, y)", "g(x, z)", "‖∇_x L‖", "‖∇_y L‖", "‖∇_z L‖"};
  for (int i = 0; i < 6; ++i) {
    if (!std::isfinite(s[i])) {
      *non_finite = names[i];
      return false;
    }
  }

  const double lr_x = options_.x_optimizer.learning_rate *
                      LambdaFactor(options_.x_optimizer.lambda_scaling, lambda) * schedule_factor;
  const double lr_y = options_.y_optimizer.learning_rate *
                      LambdaFactor(options_.y_optimizer.lambda_scaling, lambda) * schedule_factor;
  record->learning_rate_x = lr_x;
  if (options_.stationarity_tolerance > 0) {
    // max(‖x − Proj_X(x − ∇_x L)‖, ‖∇_y L‖/λ, ‖∇_z L‖/λ): the projected gradient mapping of x
    // (‖∇_x L‖ when X is the whole space) and the λ-normalised inner gradients.
    TensorList mapped = DetachedClone(x_);
    AddScaledInPlace(&mapped, -1.0, grad_x);
    problem_->ProjectOuter(&mapped);
    AddScaledInPlace(&mapped, -1.0, x_);
    last_stationarity_ = std::max(
        {Norm(mapped), record->grad_norm_y / lambda, *record->grad_norm_z / lambda});
  }
  if (options_.update_order == UpdateOrder::kSimultaneous) {
    z_opt_.Step(&z_, Negated(grad_z), lr_z);  // ascent in z
  }
  y_opt_.Step(&y_, grad_y, lr_y);
  x_opt_.Step(&x_, grad_x, lr_x);
  problem_->ProjectOuter(&x_);
  return true;
}

absl::Status Solve(const MinimaxOptOptions& options, BilevelProblem* problem,
                   SolverSummary* summary) {
  *summary = SolverSummary{};
  summary->solver = "MinimaxOPT";
  absl::StatusOr<std::unique_ptr<MinimaxOptIterator>> created =
      MinimaxOptIterator::Create(options, problem);
  if (!created.ok()) {
    summary->termination = TerminationType::kInvalidOptions;
    summary->message = std::string(created.status().message());
    return created.status();
  }
  MinimaxOptIterator& it = **created;
  IterationMonitor monitor(options, summary);
  const int64_t total = options.num_stages * options.iterations_per_stage;
  double lambda = options.initial_lambda;
  bool running = true;
  for (int stage = 0; stage < options.num_stages && running; ++stage) {
    summary->num_stages = stage + 1;
    for (int64_t t = 0; t < options.iterations_per_stage; ++t) {
      const int64_t iteration = stage * options.iterations_per_stage + t;
      IterationRecord record;
      record.iteration = iteration;
      record.stage = stage;
      const double factor =
          ScheduleFactor(options.schedule, iteration, total, options.schedule_min_factor);
      std::string non_finite;
      if (!it.Iterate(lambda, factor, &record, &summary->oracle_calls, &non_finite)) {
        monitor.StopNonFinite(non_finite, iteration);
        running = false;
        break;
      }
      const bool stationary = options.stationarity_tolerance > 0 &&
                              it.last_stationarity() < options.stationarity_tolerance;
      record.stage_end = stationary || t + 1 == options.iterations_per_stage;
      if (!monitor.Observe(record)) {
        running = false;
        break;
      }
      if (stationary) {
        if (stage + 1 == options.num_stages) {
          monitor.Finish(TerminationType::kConverged,
                         absl::StrCat("stationarity tolerance ", options.stationarity_tolerance,
                                      " met in the final stage at iteration ", iteration));
          running = false;
        }
        break;
      }
    }
    lambda *= options.lambda_growth;
  }
  if (running) {
    monitor.Finish(TerminationType::kIterationLimit,
                   absl::StrCat("all ", options.num_stages, " stages ran"));
  }
  summary->x = DetachedClone(it.x());
  summary->y = DetachedClone(it.y());
  return absl::OkStatus();
}

}  // namespace bilevel
