#include "solvers/core/solver_types.h"

#include <ATen/core/Tensor.h>

#include <cmath>
#include <tuple>
#include <utility>
#include <vector>

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
    case TerminationType::kCheckpointFailed:
      return "CHECKPOINT_FAILED";
    case TerminationType::kCommunicationFailed:
      return "COMMUNICATION_FAILED";
    case TerminationType::kInvalidOptions:
      return "INVALID_OPTIONS";
  }
  return "UNKNOWN";
}

int WorldSize(const SolverOptionsBase& options) {
  return options.data_parallel != nullptr ? options.data_parallel->world_size() : 1;
}

absl::Status ValidateBaseOptions(const SolverOptionsBase& options) {
  const CheckpointOptions& c = options.checkpoint;
  if (!c.path.empty()) {
    if (c.every_iterations < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint.every_iterations must be >= 0 (0 = off), got ", c.every_iterations));
    }
    if (!(c.every_seconds >= 0) || std::isinf(c.every_seconds)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "checkpoint.every_seconds must be finite and >= 0 (0 = off), got ", c.every_seconds));
    }
    if (c.every_iterations == 0 && c.every_seconds == 0) {
      return absl::InvalidArgumentError(
          "checkpoint.path is set but checkpoint.every_iterations and checkpoint.every_seconds are "
          "both 0: set one of them");
    }
  }
  if (static_cast<bool>(options.checkpoint.save_user_state) !=
      static_cast<bool>(options.checkpoint.restore_user_state)) {
    return absl::InvalidArgumentError(
        "checkpoint.save_user_state and checkpoint.restore_user_state must be set together");
  }
  if (options.max_gradient_call_equivalents < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_gradient_call_equivalents must be >= 0 (0 = no budget), got ",
                     options.max_gradient_call_equivalents));
  }
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

absl::Status RequireAtLeast(int64_t value, int64_t min, const std::string& field) {
  if (value >= min) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be >= ", min, ", got ", value));
}

absl::Status RequireFinitePositive(double value, const std::string& field) {
  if (value > 0 && std::isfinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be finite and > 0, got ", value));
}

absl::Status RequireFiniteNonNegative(double value, const std::string& field,
                                      const std::string& note) {
  if (value >= 0 && std::isfinite(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(field, " must be finite and >= 0",
                                                 note.empty() ? "" : " ", note, ", got ", value));
}

absl::Status RequireInRange(double value, double lo, double hi, const std::string& field) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be in [", lo, ", ", hi, "], got ", value));
}

absl::Status FirstError(std::initializer_list<absl::Status> checks) {
  for (const absl::Status& status : checks) {
    if (!status.ok()) return status;
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
  if (const int world = WorldSize(options); world > 1) {
    for (auto [size, examples, name] :
         {std::tuple<int64_t, int64_t, const char*>{options.outer_batch_size, num_outer_examples,
                                                    "outer_batch_size"},
          {options.inner_batch_size, num_inner_examples, "inner_batch_size"}}) {
      const int64_t global = size > 0 ? size : examples;
      if (examples > 0 && global < world) {
        return absl::InvalidArgumentError(absl::StrCat(
            name, " (", global, size > 0 ? "" : ", the full data", ") is smaller than the ", world,
            " data-parallel ranks that share it: use at least one example per rank"));
      }
    }
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

bool SolverSummary::IsSolutionUsable() const {
  return termination != TerminationType::kInvalidOptions && !x.empty();
}

std::string StageWeight(const IterationRecord& record) {
  if (record.lambda) return absl::StrFormat("lambda %.4g", *record.lambda);
  if (record.penalty_rho) return absl::StrFormat("rho %.4g", *record.penalty_rho);
  return "";
}

std::string SolverSummary::BriefReport() const {
  std::string last_f = iterations.empty()
                           ? std::string("n/a")
                           : absl::StrFormat("%.6g", iterations.back().outer_objective);
  std::string weight;
  if (final_lambda) weight = absl::StrFormat(", lambda = %.4g", *final_lambda);
  if (final_penalty_rho) weight = absl::StrFormat(", rho = %.4g", *final_penalty_rho);
  return absl::StrFormat(
             "%s: %s after %d iterations in %d stages, f = %s%s, gradient calls = %d "
             "(f %d, g %d), Hessian-vector %d, Jacobian-vector %d, %.3f s",
             solver, ToString(termination), num_iterations, num_stages, last_f, weight,
             oracle_calls.GradientCalls(), oracle_calls.f_gradients, oracle_calls.g_gradients,
             oracle_calls.hessian_vector_products, oracle_calls.jacobian_vector_products,
             total_time_seconds) +
         (linear_solver.solves == 0
              ? std::string()
              : absl::StrFormat(", linear solves %d (converged %d, breakdowns %d, divergences %d, "
                                "unconverged %d)",
                                linear_solver.solves, linear_solver.converged,
                                linear_solver.breakdowns, linear_solver.divergences,
                                linear_solver.unconverged));
}

std::string SolverSummary::FullReport() const {
  std::string out = absl::StrCat(BriefReport(), "\n", message, "\n");
  for (const IterationRecord& r : iterations) {
    if (!r.stage_end) continue;
    absl::StrAppendFormat(&out,
                          "  stage %3d  iter %8d  %-17s f %-12.6g g %-12.6g |gx| %-10.3g "
                          "calls %d\n",
                          r.stage, r.iteration, StageWeight(r), r.outer_objective,
                          r.inner_objective, r.grad_norm_x, r.oracle_calls.GradientCalls());
  }
  return out;
}

}  // namespace bilevel
