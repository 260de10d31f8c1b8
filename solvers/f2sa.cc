#include "solvers/f2sa.h"

#include <ATen/ATen.h>

#include <cmath>

#include "absl/strings/str_cat.h"
#include "solvers/lagrangian.h"
#include "solvers/minibatch_sampler.h"

namespace bilevel {

absl::Status Validate(const F2saOptions& options) {
  absl::Status status = ValidateBaseOptions(options);
  if (status.ok()) status = RejectCheckpoints(options, "F2SA");
  if (!status.ok()) return status;
  if (options.max_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_iterations must be >= 1, got ", options.max_iterations));
  }
  if (options.inner_steps < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner_steps (T) must be >= 1, got ", options.inner_steps));
  }
  if (!(options.initial_lambda > 0) || std::isinf(options.initial_lambda)) {
    return absl::InvalidArgumentError(
        absl::StrCat("initial_lambda (λ_0) must be finite and > 0, got ", options.initial_lambda));
  }
  if (!(options.lambda_increment >= 0) || std::isinf(options.lambda_increment)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "lambda_increment (δ) must be finite and >= 0, got ", options.lambda_increment));
  }
  if (!(options.max_lambda >= 0) || std::isinf(options.max_lambda)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_lambda must be finite and >= 0 (0 = no cap), got ", options.max_lambda));
  }
  for (const auto& [opt, name] : {std::pair{&options.x_optimizer, "x_optimizer"},
                                  std::pair{&options.y_optimizer, "y_optimizer"},
                                  std::pair{&options.z_optimizer, "z_optimizer"}}) {
    status = ValidateOptimizerOptions(*opt, name);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

absl::Status Solve(const F2saOptions& options, BilevelProblem* problem, SolverSummary* summary) {
  TensorList x, y;
  absl::Status status = BeginSolve("F2SA", Validate(options), options, problem, summary, &x, &y);
  if (!status.ok()) return status;
  TensorList z = DetachedClone(y);

  const c10::Device device = x.front().device();
  MinibatchSampler outer_sampler(problem->NumOuterExamples(), options.outer_batch_size,
                                 2 * options.seed, device);
  MinibatchSampler inner_sampler(problem->NumInnerExamples(), options.inner_batch_size,
                                 2 * options.seed + 1, device);
  GroupOptimizer x_opt(options.x_optimizer, x), y_opt(options.y_optimizer, y),
      z_opt(options.z_optimizer, z);
  OracleCounts& counts = summary->oracle_calls;
  const int64_t n_out = outer_sampler.BatchSize(), n_in = inner_sampler.BatchSize();

  IterationMonitor monitor(options, summary);
  summary->num_stages = 1;
  double lambda = options.initial_lambda;
  TensorList x_finite;  // x at the last iteration whose values were finite
  bool running = true;
  for (int64_t iteration = 0; iteration < options.max_iterations && running; ++iteration) {
    const TensorList y_start = DetachedClone(y), z_start = DetachedClone(z);
    const double lr_y = options.y_optimizer.learning_rate *
                        LambdaFactor(options.y_optimizer.lambda_scaling, lambda);
    const double lr_z = options.z_optimizer.learning_rate *
                        LambdaFactor(options.z_optimizer.lambda_scaling, lambda);
    for (int t = 0; t < options.inner_steps; ++t) {
      // z ← z − γ ∇_y g(x, z);  y ← y − α (∇_y f(x, y) + λ ∇_y g(x, y)).
      const Batch inner = inner_sampler.Next();
      TensorList zs = GradLeaves(z);
      TensorList grad_z = Gradients(problem->InnerObjective(x, zs, inner), zs);
      counts.AddG(n_in);
      z_opt.Step(&z, grad_z, lr_z);
      TensorList ys = GradLeaves(y);
      at::Tensor fy = problem->OuterObjective(x, ys, outer_sampler.Next());
      at::Tensor gy = problem->InnerObjective(x, ys, inner);
      counts.AddF(n_out);
      counts.AddG(n_in);
      y_opt.Step(&y, Gradients(fy + lambda * gy, ys), lr_y);
    }
    const LagrangianEval e = EvaluateLagrangian(problem, x, y, z, lambda, outer_sampler.Next(),
                                                inner_sampler.Next(), n_out, n_in, &counts);
    if (e.non_finite != nullptr) {
      // Back to the last iterate whose values were finite: the previous iteration's.
      y = y_start;
      z = z_start;
      if (!x_finite.empty()) x = x_finite;
      monitor.StopNonFinite(e.non_finite, iteration,
                            "reduce x_optimizer.learning_rate, y_optimizer.learning_rate or "
                            "z_optimizer.learning_rate, or lambda_increment");
      break;
    }
    x_finite = DetachedClone(x);
    IterationRecord record;
    record.iteration = iteration;
    record.lambda = lambda;
    record.outer_objective = e.f;
    record.inner_objective = e.g_y;
    record.value_gap = e.g_y - e.g_z;
    record.grad_norm_x = e.norm_x;
    record.grad_norm_y = e.norm_y;
    record.grad_norm_z = e.norm_z;
    record.learning_rate_x = options.x_optimizer.learning_rate *
                             LambdaFactor(options.x_optimizer.lambda_scaling, lambda);
    record.stage_end = iteration + 1 == options.max_iterations;
    x_opt.Step(&x, e.grad_x, record.learning_rate_x);
    problem->ProjectOuter(&x);
    if (!monitor.Observe(record, x, y, z)) running = false;
    lambda += options.lambda_increment;
    if (options.max_lambda > 0) lambda = std::min(lambda, options.max_lambda);
  }
  if (running && summary->termination == TerminationType::kInvalidOptions) {
    monitor.Finish(TerminationType::kIterationLimit,
                   absl::StrCat("all ", options.max_iterations, " outer iterations ran"));
  }
  summary->x = DetachedClone(x);
  summary->y = DetachedClone(y);
  summary->inner = DetachedClone(z);
  return absl::OkStatus();
}

}  // namespace bilevel
