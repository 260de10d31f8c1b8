#include "solvers/solver_types.h"

#include <ATen/core/Tensor.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace bilevel {

std::string ToString(TerminationType type) {
  switch (type) {
    case TerminationType::kConverged:
      return "CONVERGED";
    case TerminationType::kIterationLimit:
      return "ITERATION_LIMIT";
    case TerminationType::kOracleBudget:
      return "ORACLE_BUDGET";
    case TerminationType::kTimeLimit:
      return "TIME_LIMIT";
    case TerminationType::kUserStop:
      return "USER_STOP";
    case TerminationType::kNonFinite:
      return "NON_FINITE";
    case TerminationType::kInvalidOptions:
      return "INVALID_OPTIONS";
  }
  return "UNKNOWN";
}

absl::Status ValidateBaseOptions(const SolverOptionsBase& options) {
  if (options.max_gradient_calls < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "max_gradient_calls must be >= 0 (0 = no budget), got ", options.max_gradient_calls));
  }
  if (!(options.max_wall_time_seconds >= 0) || std::isinf(options.max_wall_time_seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_wall_time_seconds must be finite and >= 0 (0 = no limit), got ",
                     options.max_wall_time_seconds));
  }
  if (options.record_every < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("record_every must be >= 1, got ", options.record_every));
  }
  if (options.outer_batch_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "outer_batch_size must be >= 0 (0 = full batch), got ", options.outer_batch_size));
  }
  if (options.inner_batch_size < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "inner_batch_size must be >= 0 (0 = full batch), got ", options.inner_batch_size));
  }
  for (size_t i = 0; i < options.callbacks.size(); ++i) {
    if (!options.callbacks[i]) {
      return absl::InvalidArgumentError(absl::StrCat("callbacks[", i, "] is empty"));
    }
  }
  for (size_t i = 0; i < options.iterate_callbacks.size(); ++i) {
    if (!options.iterate_callbacks[i]) {
      return absl::InvalidArgumentError(absl::StrCat("iterate_callbacks[", i, "] is empty"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBatchSizes(const SolverOptionsBase& options, int64_t num_outer_examples,
                                int64_t num_inner_examples) {
  if (options.outer_batch_size > 0 && options.outer_batch_size > num_outer_examples) {
    return absl::InvalidArgumentError(
        absl::StrCat("outer_batch_size (", options.outer_batch_size, ") exceeds the problem's ",
                     num_outer_examples, " outer (validation) examples",
                     num_outer_examples == 0 ? "; this problem has no data to sample: use 0" : ""));
  }
  if (options.inner_batch_size > 0 && options.inner_batch_size > num_inner_examples) {
    return absl::InvalidArgumentError(
        absl::StrCat("inner_batch_size (", options.inner_batch_size, ") exceeds the problem's ",
                     num_inner_examples, " inner (training) examples",
                     num_inner_examples == 0 ? "; this problem has no data to sample: use 0" : ""));
  }
  return absl::OkStatus();
}

namespace {
absl::Status ValidateVariableList(const TensorList& v, const char* name) {
  if (v.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("the problem's ", name, " is an empty list"));
  }
  for (size_t i = 0; i < v.size(); ++i) {
    if (!v[i].defined()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the problem's ", name, "[", i, "] is an undefined tensor"));
    }
    if (!v[i].is_floating_point()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the problem's ", name, "[", i, "] is not a floating-point tensor"));
    }
  }
  return absl::OkStatus();
}
}  // namespace

absl::Status ValidateInitialPoint(const TensorList& x0, const TensorList& y0) {
  absl::Status status = ValidateVariableList(x0, "InitialOuter()");
  if (!status.ok()) return status;
  return ValidateVariableList(y0, "InitialInner()");
}

absl::Status BeginSolve(const std::string& solver, const absl::Status& options_status,
                        const SolverOptionsBase& options, BilevelProblem* problem,
                        SolverSummary* summary, TensorList* x, TensorList* y) {
  *summary = SolverSummary{};
  summary->solver = solver;
  absl::Status status = options_status;
  if (problem == nullptr) status = absl::InvalidArgumentError("problem is null");
  if (status.ok()) {
    status = ValidateBatchSizes(options, problem->NumOuterExamples(), problem->NumInnerExamples());
  }
  if (status.ok()) {
    *x = DetachedClone(problem->InitialOuter());
    *y = DetachedClone(problem->InitialInner());
    status = ValidateInitialPoint(*x, *y);
  }
  if (!status.ok()) {
    summary->termination = TerminationType::kInvalidOptions;
    summary->message = std::string(status.message());
  }
  return status;
}

bool SolverSummary::IsSolutionUsable() const {
  return termination != TerminationType::kInvalidOptions && !x.empty();
}

std::string SolverSummary::BriefReport() const {
  std::string last_f = iterations.empty()
                           ? std::string("n/a")
                           : absl::StrFormat("%.6g", iterations.back().outer_objective);
  return absl::StrFormat(
      "%s: %s after %d iterations in %d stages, f = %s, lambda = %.4g, gradient calls = %d "
      "(f %d, g %d), Hessian-vector %d, Jacobian-vector %d, %.3f s",
      solver, ToString(termination), num_iterations, num_stages, last_f, final_lambda,
      oracle_calls.GradientCalls(), oracle_calls.f_gradients, oracle_calls.g_gradients,
      oracle_calls.hessian_vector_products, oracle_calls.jacobian_vector_products,
      total_time_seconds);
}

std::string SolverSummary::FullReport() const {
  std::string out = absl::StrCat(BriefReport(), "\n", message, "\n");
  for (const IterationRecord& r : iterations) {
    if (!r.stage_end) continue;
    absl::StrAppendFormat(&out,
                          "  stage %3d  iter %8d  lambda %-10.4g f %-12.6g g %-12.6g |gx| %-10.3g "
                          "calls %d\n",
                          r.stage, r.iteration, r.lambda, r.outer_objective, r.inner_objective,
                          r.grad_norm_x, r.oracle_calls.GradientCalls());
  }
  return out;
}

IterationMonitor::IterationMonitor(const SolverOptionsBase& options, SolverSummary* summary)
    : options_(options), summary_(summary), start_(std::chrono::steady_clock::now()) {}

double IterationMonitor::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void IterationMonitor::StopNonFinite(const std::string& what, int64_t iteration) {
  Finish(TerminationType::kNonFinite,
         absl::StrCat(what, " is not finite at iteration ", iteration,
                      "; the solve stopped and kept the last finite iterate. Reduce the learning "
                      "rates (or the initial multiplier) and check the objectives."));
}

bool IterationMonitor::Observe(IterationRecord record, const TensorList& x, const TensorList& y) {
  record.wall_time_seconds = ElapsedSeconds();
  record.oracle_calls = summary_->oracle_calls;
  summary_->num_iterations = record.iteration + 1;
  summary_->final_lambda = record.lambda;
  summary_->total_time_seconds = record.wall_time_seconds;
  if (record.stage_end || record.iteration % options_.record_every == 0) {
    summary_->iterations.push_back(record);
  }
  for (const IterationCallback& callback : options_.callbacks) {
    if (callback(record) == CallbackResult::kStop) {
      Finish(TerminationType::kUserStop,
             absl::StrCat("a callback stopped the solve at iteration ", record.iteration));
      return false;
    }
  }
  for (const IterateCallback& callback : options_.iterate_callbacks) {
    if (callback(record, x, y) == CallbackResult::kStop) {
      Finish(TerminationType::kUserStop,
             absl::StrCat("a callback stopped the solve at iteration ", record.iteration));
      return false;
    }
  }
  if (options_.max_gradient_calls > 0 &&
      summary_->oracle_calls.GradientCalls() >= options_.max_gradient_calls) {
    Finish(TerminationType::kOracleBudget,
           absl::StrCat("the budget of ", options_.max_gradient_calls, " gradient calls is spent (",
                        summary_->oracle_calls.GradientCalls(), " used)"));
    return false;
  }
  if (options_.max_wall_time_seconds > 0 &&
      record.wall_time_seconds >= options_.max_wall_time_seconds) {
    Finish(TerminationType::kTimeLimit,
           absl::StrCat("the time limit of ", options_.max_wall_time_seconds, " s is reached"));
    return false;
  }
  return true;
}

void IterationMonitor::Finish(TerminationType type, std::string message) {
  summary_->termination = type;
  summary_->message = std::move(message);
  summary_->total_time_seconds = ElapsedSeconds();
}

}  // namespace bilevel
