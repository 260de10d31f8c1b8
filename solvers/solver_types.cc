#include "solvers/solver_types.h"

#include <ATen/core/Tensor.h>

#include <cmath>
#include <filesystem>
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
    case TerminationType::kInvalidOptions:
      return "INVALID_OPTIONS";
  }
  return "UNKNOWN";
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

absl::Status RejectCheckpoints(const SolverOptionsBase& options, const std::string& solver) {
  if (options.checkpoint.path.empty()) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("checkpoint.path is set, but ", solver,
                   " does not write checkpoints (MinimaxOPT and the hypergradient solvers do)"));
}

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
                          r.stage, r.iteration, StageWeight(r), r.outer_objective, r.inner_objective,
                          r.grad_norm_x, r.oracle_calls.GradientCalls());
  }
  return out;
}

IterationMonitor::IterationMonitor(const SolverOptionsBase& options, SolverSummary* summary)
    : options_(options), summary_(summary), start_(std::chrono::steady_clock::now()) {}

double IterationMonitor::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void IterationMonitor::StopNonFinite(const std::string& what, int64_t iteration,
                                     const std::string& remedy) {
  Finish(TerminationType::kNonFinite,
         absl::StrCat(what, " is not finite at iteration ", iteration,
                      "; the solve stopped and returned the last iterate whose objectives were "
                      "finite. To fix it: ",
                      remedy, "."));
}

bool IterationMonitor::Observe(IterationRecord record, const TensorList& x, const TensorList& y) {
  return Observe(std::move(record), x, y, y);
}

bool IterationMonitor::Observe(IterationRecord record, const TensorList& x, const TensorList& y,
                               const TensorList& inner) {
  ++observed_;
  record.wall_time_seconds = ElapsedSeconds();
  record.oracle_calls = summary_->oracle_calls;
  summary_->num_iterations = record.iteration + 1;
  summary_->final_lambda = record.lambda;
  summary_->final_penalty_rho = record.penalty_rho;
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
    if (callback(record, IterateView{x, y, inner}) == CallbackResult::kStop) {
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
  if (options_.max_gradient_call_equivalents > 0 &&
      summary_->oracle_calls.GradientCallEquivalents() >= options_.max_gradient_call_equivalents) {
    Finish(TerminationType::kOracleBudget,
           absl::StrCat("the budget of ", options_.max_gradient_call_equivalents,
                        " gradient-call equivalents is spent (",
                        summary_->oracle_calls.GradientCallEquivalents(), " used)"));
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

namespace {

// The oracle counters in a checkpoint, in this order.
std::vector<std::pair<const char*, int64_t OracleCounts::*>> CounterFields() {
  return {{"f_gradients", &OracleCounts::f_gradients},
          {"g_gradients", &OracleCounts::g_gradients},
          {"hessian_vector_products", &OracleCounts::hessian_vector_products},
          {"jacobian_vector_products", &OracleCounts::jacobian_vector_products},
          {"f_examples", &OracleCounts::f_examples},
          {"g_examples", &OracleCounts::g_examples}};
}

}  // namespace

absl::Status IterationMonitor::Resume(
    BilevelProblem* problem, const std::function<absl::Status(const SolverState&)>& restore) {
  absl::Status status = Restore(problem, restore);
  if (!status.ok()) {
    summary_->termination = TerminationType::kInvalidOptions;
    summary_->message = std::string(status.message());
  }
  return status;
}

absl::Status IterationMonitor::Restore(
    BilevelProblem* problem, const std::function<absl::Status(const SolverState&)>& restore) {
  const CheckpointOptions& c = options_.checkpoint;
  if (c.path.empty() || !std::filesystem::exists(c.path)) return absl::OkStatus();
  absl::StatusOr<SolverState> loaded = SolverState::Load(c.path);
  if (!loaded.ok()) return loaded.status();
  const SolverState& state = *loaded;
  auto mismatch = [&](const std::string& what) {
    return absl::FailedPreconditionError(
        absl::StrCat("the checkpoint ", c.path, " belongs to another solve (", what,
                     "); delete it to start over, or point checkpoint.path elsewhere"));
  };
  absl::StatusOr<std::string> solver = state.GetString("solver");
  absl::StatusOr<int64_t> seed = state.GetInt("seed");
  absl::StatusOr<std::string> fingerprint = state.GetString("fingerprint");
  if (!solver.ok() || !seed.ok() || !fingerprint.ok()) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint ", c.path, " is incomplete; delete it to start over"));
  }
  if (*solver != summary_->solver) {
    return mismatch(absl::StrCat("written by ", *solver, ", this is ", summary_->solver));
  }
  if (static_cast<uint64_t>(*seed) != options_.seed) {
    return mismatch(absl::StrCat("seed ", *seed, ", this solve has seed ", options_.seed));
  }
  if (*fingerprint != c.fingerprint) {
    return mismatch(
        absl::StrCat("fingerprint '", *fingerprint, "', this solve has '", c.fingerprint, "'"));
  }
  absl::Status status = restore(state);
  auto get_int = [&](const std::string& key) -> int64_t {
    absl::StatusOr<int64_t> v = state.GetInt(key);
    if (!v.ok() && status.ok()) status = v.status();
    return v.ok() ? *v : 0;
  };
  for (const auto& [name, field] : CounterFields()) summary_->oracle_calls.*field = get_int(name);
  observed_ = get_int("observed");
  summary_->num_iterations = get_int("num_iterations");
  summary_->num_stages = static_cast<int>(get_int("num_stages"));
  absl::StatusOr<double> elapsed = state.GetDouble("elapsed_seconds");
  if (status.ok() && !elapsed.ok()) status = elapsed.status();
  TensorList random = problem->RandomState();
  if (status.ok()) status = state.RestoreTensors("problem_random_state", &random);
  if (status.ok()) problem->SetRandomState(random);
  if (status.ok() && c.restore_user_state) {
    absl::StatusOr<std::string> user = state.GetString("user_state");
    status = user.ok() ? c.restore_user_state(*user) : user.status();
  }
  if (!status.ok()) {
    return absl::DataLossError(absl::StrCat("cannot resume from the checkpoint ", c.path, ": ",
                                            status.message(), "; delete it to start over"));
  }
  // Written only by solvers with a stage weight.
  for (auto [key, weight] : {std::pair{"final_lambda", &summary_->final_lambda},
                             std::pair{"final_penalty_rho", &summary_->final_penalty_rho}}) {
    absl::StatusOr<double> value = state.GetDouble(key);
    *weight = value.ok() ? std::optional<double>(*value) : std::nullopt;
  }
  summary_->resumed_iterations = observed_;
  start_ = std::chrono::steady_clock::now() -
           std::chrono::duration_cast<std::chrono::steady_clock::duration>(
               std::chrono::duration<double>(*elapsed));
  summary_->total_time_seconds = *elapsed;
  last_checkpoint_seconds_ = *elapsed;
  return absl::OkStatus();
}

bool IterationMonitor::MaybeCheckpoint(BilevelProblem* problem,
                                       const std::function<void(SolverState*)>& fill) {
  const CheckpointOptions& c = options_.checkpoint;
  if (c.path.empty()) return true;
  const double now = ElapsedSeconds();
  const bool due = (c.every_iterations > 0 && observed_ % c.every_iterations == 0) ||
                   (c.every_seconds > 0 && now - last_checkpoint_seconds_ >= c.every_seconds);
  if (!due) return true;
  last_checkpoint_seconds_ = now;
  const auto t0 = std::chrono::steady_clock::now();
  SolverState state;
  state.PutString("solver", summary_->solver);
  state.PutInt("seed", static_cast<int64_t>(options_.seed));
  state.PutString("fingerprint", c.fingerprint);
  for (const auto& [name, field] : CounterFields())
    state.PutInt(name, summary_->oracle_calls.*field);
  state.PutInt("observed", observed_);
  state.PutInt("num_iterations", summary_->num_iterations);
  state.PutInt("num_stages", summary_->num_stages);
  if (summary_->final_lambda) state.PutDouble("final_lambda", *summary_->final_lambda);
  if (summary_->final_penalty_rho) {
    state.PutDouble("final_penalty_rho", *summary_->final_penalty_rho);
  }
  state.PutDouble("elapsed_seconds", now);
  state.PutTensors("problem_random_state", problem->RandomState());
  if (c.save_user_state) state.PutString("user_state", c.save_user_state());
  fill(&state);
  const absl::Status saved = state.Save(c.path);
  // The write is not solver work: move the clock's origin forward by its duration.
  start_ += std::chrono::steady_clock::now() - t0;
  if (!saved.ok()) {
    Finish(TerminationType::kCheckpointFailed,
           absl::StrCat(saved.message(), "; the solve stopped at iteration ",
                        summary_->num_iterations - 1, " with a usable iterate"));
    return false;
  }
  return true;
}

}  // namespace bilevel
