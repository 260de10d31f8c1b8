#include "solvers/minimax_opt.h"

#include <ATen/ATen.h>

#include <cmath>
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
  absl::Status status = ValidateBaseOptions(options);
  if (!status.ok()) return status;
  if (!(options.initial_lambda > 0) || std::isinf(options.initial_lambda)) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial_lambda (λ_0) must be finite and > 0, got ", options.initial_lambda));
  }
  if (!(options.lambda_growth >= 1) || std::isinf(options.lambda_growth)) {
    return absl::InvalidArgumentError(
        absl::StrCat("lambda_growth (τ) must be finite and >= 1, got ", options.lambda_growth));
  }
  if (options.num_stages < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_stages (K) must be >= 1, got ", options.num_stages));
  }
  if (options.iterations_per_stage < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("iterations_per_stage (T) must be >= 1, got ", options.iterations_per_stage));
  }
  const double last_lambda =
      options.initial_lambda * std::pow(options.lambda_growth, options.num_stages - 1);
  if (!std::isfinite(last_lambda)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_stages (K = ", options.num_stages, ") with lambda_growth (τ = ", options.lambda_growth,
        ") makes the last stage's λ overflow"));
  }
  if (!(options.stationarity_tolerance >= 0) || std::isinf(options.stationarity_tolerance)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "stationarity_tolerance must be finite and >= 0, got ", options.stationarity_tolerance));
  }
  for (const auto& [opt, name] : {std::pair{&options.x_optimizer, "x_optimizer"},
                                  std::pair{&options.y_optimizer, "y_optimizer"},
                                  std::pair{&options.z_optimizer, "z_optimizer"}}) {
    status = ValidateOptimizerOptions(*opt, name);
    if (!status.ok()) return status;
  }
  if (!(options.schedule_min_factor >= 0 && options.schedule_min_factor <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("schedule_min_factor must be in [0, 1], got ", options.schedule_min_factor));
  }
  return absl::OkStatus();
}

namespace {

// The device the problem's variables live on (the solvers put batch indices there).
c10::Device DeviceOf(const TensorList& v) { return v.front().device(); }

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
  auto evaluate = [&] {
    return EvaluateLagrangian(problem_, x_, y_, z_, lambda, outer, inner,
                              outer_sampler_.BatchSize(), inner_sampler_.BatchSize(), counts,
                              options_.common_random_numbers);
  };
  auto rate = [&](const OptimizerOptions& o) {
    return o.learning_rate * LambdaFactor(o.lambda_scaling, lambda) * schedule_factor;
  };

  // A non-finite value at this iterate ends the solve at the last iterate whose values were
  // finite: the one this function saved before its previous update.
  auto roll_back = [&](const char* what) {
    *non_finite = what;
    if (!finite_x_.empty()) {
      x_ = finite_x_;
      y_ = finite_y_;
      z_ = finite_z_;
    }
    return false;
  };
  LagrangianEval e = evaluate();
  if (e.non_finite != nullptr) return roll_back(e.non_finite);
  finite_x_ = DetachedClone(x_);
  finite_y_ = DetachedClone(y_);
  finite_z_ = DetachedClone(z_);
  record->lambda = lambda;
  record->outer_objective = e.f;
  record->inner_objective = e.g_y;
  record->value_gap = e.g_y - e.g_z;
  record->grad_norm_y = e.norm_y;
  record->grad_norm_z = e.norm_z;
  record->learning_rate_x = rate(options_.x_optimizer);

  // Descent in y, ascent in z (Algorithm 1, lines 4–5). Ascent along ∇_z L is a descent step with
  // a negated learning rate: every optimizer here is odd in the gradient (SGD, momentum and Adam
  // all map −g to minus the step for g), so this equals descending −∇_z L without negating it.
  z_opt_.Step(&z_, e.grad_z, -rate(options_.z_optimizer));
  y_opt_.Step(&y_, e.grad_y, rate(options_.y_optimizer));
  if (options_.update_order == UpdateOrder::kAlternating) {
    LagrangianEval after = evaluate();  // at the updated (y, z)
    if (after.non_finite != nullptr) return roll_back(after.non_finite);
    e.grad_x = after.grad_x;
    e.norm_x = after.norm_x;
  }
  record->grad_norm_x = e.norm_x;

  if (options_.stationarity_tolerance > 0) {
    // max(‖x − Proj_X(x − ∇_x L)‖, ‖∇_y L‖/λ, ‖∇_z L‖/λ): the projected gradient mapping of x
    // (‖∇_x L‖ when X is the whole space) and the λ-normalised inner gradients.
    TensorList mapped = DetachedClone(x_);
    AddScaledInPlace(&mapped, -1.0, e.grad_x);
    problem_->ProjectOuter(&mapped);
    AddScaledInPlace(&mapped, -1.0, x_);
    last_stationarity_ = std::max({Norm(mapped), e.norm_y / lambda, e.norm_z / lambda});
  }
  // Descent in x, then the projection onto X (Algorithm 1, line 6).
  x_opt_.Step(&x_, e.grad_x, record->learning_rate_x);
  problem_->ProjectOuter(&x_);
  return true;
}

void MinimaxOptIterator::SaveState(SolverState* state) const {
  state->PutTensors("x", x_);
  state->PutTensors("y", y_);
  state->PutTensors("z", z_);
  x_opt_.SaveState("x_opt", state);
  y_opt_.SaveState("y_opt", state);
  z_opt_.SaveState("z_opt", state);
  outer_sampler_.SaveState("outer", state);
  inner_sampler_.SaveState("inner", state);
  state->PutDouble("last_stationarity", last_stationarity_);
}

absl::Status MinimaxOptIterator::RestoreState(const SolverState& state) {
  absl::Status status = state.RestoreTensors("x", &x_);
  if (status.ok()) status = state.RestoreTensors("y", &y_);
  if (status.ok()) status = state.RestoreTensors("z", &z_);
  if (status.ok()) status = x_opt_.RestoreState("x_opt", state);
  if (status.ok()) status = y_opt_.RestoreState("y_opt", state);
  if (status.ok()) status = z_opt_.RestoreState("z_opt", state);
  if (status.ok()) status = outer_sampler_.RestoreState("outer", state);
  if (status.ok()) status = inner_sampler_.RestoreState("inner", state);
  if (!status.ok()) return status;
  absl::StatusOr<double> stationarity = state.GetDouble("last_stationarity");
  if (!stationarity.ok()) return stationarity.status();
  last_stationarity_ = *stationarity;
  return absl::OkStatus();
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
  // Where the loop starts: (0, 0), or where the checkpoint left off.
  int first_stage = 0;
  int64_t first_t = 0;
  absl::Status status = monitor.Resume(problem, [&](const SolverState& state) {
    absl::Status restored = it.RestoreState(state);
    absl::StatusOr<int64_t> stage = state.GetInt("next_stage"), t = state.GetInt("next_t");
    absl::StatusOr<double> next_lambda = state.GetDouble("next_lambda");
    if (restored.ok()) restored = !stage.ok() ? stage.status() : t.status();
    if (restored.ok()) restored = next_lambda.status();
    if (restored.ok()) {
      first_stage = static_cast<int>(*stage);
      first_t = *t;
      lambda = *next_lambda;
    }
    return restored;
  });
  if (!status.ok()) return status;
  bool running = true;
  for (int stage = first_stage; stage < options.num_stages && running; ++stage) {
    summary->num_stages = stage + 1;
    for (int64_t t = stage == first_stage ? first_t : 0; t < options.iterations_per_stage; ++t) {
      const int64_t iteration = stage * options.iterations_per_stage + t;
      IterationRecord record;
      record.iteration = iteration;
      record.stage = stage;
      const double factor =
          ScheduleFactor(options.schedule, iteration, total, options.schedule_min_factor);
      std::string non_finite;
      if (!it.Iterate(lambda, factor, &record, &summary->oracle_calls, &non_finite)) {
        monitor.StopNonFinite(non_finite, iteration,
                              "reduce x_optimizer.learning_rate, y_optimizer.learning_rate or "
                              "z_optimizer.learning_rate (or initial_lambda if y and z are not "
                              "lambda-scaled)");
        running = false;
        break;
      }
      const bool stationary = options.stationarity_tolerance > 0 &&
                              it.last_stationarity() < options.stationarity_tolerance;
      record.stage_end = stationary || t + 1 == options.iterations_per_stage;
      if (!monitor.Observe(record, it.x(), it.y(), it.z())) {
        running = false;
        break;
      }
      const bool final_convergence = stationary && stage + 1 == options.num_stages;
      if (!final_convergence && !monitor.MaybeCheckpoint(problem, [&](SolverState* state) {
            it.SaveState(state);
            // The next iteration's position: the next stage once this one has ended.
            state->PutInt("next_stage", record.stage_end ? stage + 1 : stage);
            state->PutInt("next_t", record.stage_end ? 0 : t + 1);
            state->PutDouble("next_lambda",
                             record.stage_end ? lambda * options.lambda_growth : lambda);
          })) {
        running = false;
        break;
      }
      if (stationary) {
        if (final_convergence) {
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
  summary->inner = DetachedClone(it.z());
  return absl::OkStatus();
}

}  // namespace bilevel
