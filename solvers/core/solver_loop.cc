#include "solvers/core/solver_loop.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"

namespace bilevel {

// ---- SolverStateSpec ----

void SolverStateSpec::Claim(const std::string& key) {
  TORCH_CHECK(std::find(keys_.begin(), keys_.end(), key) == keys_.end(),
              "SolverStateSpec: the key '", key, "' is declared twice");
  keys_.push_back(key);
}

void SolverStateSpec::Iterate(const std::string& key, TensorList* v) {
  Claim(key);
  iterate_.emplace_back(key, v);
}

void SolverStateSpec::Tensors(const std::string& key, TensorList* v, const TensorList* like) {
  Claim(key);
  tensors_.push_back({key, v, like});
}

void SolverStateSpec::Optimizer(const std::string& key, GroupOptimizer* optimizer) {
  Claim(key);
  optimizers_.emplace_back(key, optimizer);
}

void SolverStateSpec::Double(const std::string& key, double* v) {
  Claim(key);
  doubles_.emplace_back(key, v);
}

void SolverStateSpec::Int(const std::string& key, int64_t* v) {
  Claim(key);
  ints_.emplace_back(key, v);
}

namespace {
std::string Key(const std::string& key) { return "solver_" + key; }
}  // namespace

void SolverStateSpec::Save(SolverState* state) const {
  for (const auto& [key, v] : iterate_) state->PutTensors(Key(key), *v);
  for (const Optional& t : tensors_) {
    state->PutInt(Key(t.key + "_count"), static_cast<int64_t>(t.v->size()));
    state->PutTensors(Key(t.key), *t.v);
  }
  for (const auto& [key, o] : optimizers_) o->SaveState(Key(key), state);
  for (const auto& [key, v] : doubles_) state->PutDouble(Key(key), *v);
  for (const auto& [key, v] : ints_) state->PutInt(Key(key), *v);
}

absl::Status SolverStateSpec::Restore(const SolverState& state) const {
  for (const auto& [key, v] : iterate_) {
    absl::Status status = state.RestoreTensors(Key(key), v);
    if (!status.ok()) return status;
  }
  for (const Optional& t : tensors_) {
    absl::StatusOr<int64_t> count = state.GetInt(Key(t.key + "_count"));
    if (!count.ok()) return count.status();
    TensorList restored = *count == 0 ? TensorList{} : DetachedClone(*t.like);
    absl::Status status = state.RestoreTensors(Key(t.key), &restored);
    if (!status.ok()) return status;
    *t.v = std::move(restored);
  }
  for (const auto& [key, o] : optimizers_) {
    absl::Status status = o->RestoreState(Key(key), state);
    if (!status.ok()) return status;
  }
  for (const auto& [key, v] : doubles_) {
    absl::StatusOr<double> value = state.GetDouble(Key(key));
    if (!value.ok()) return value.status();
    *v = *value;
  }
  for (const auto& [key, v] : ints_) {
    absl::StatusOr<int64_t> value = state.GetInt(Key(key));
    if (!value.ok()) return value.status();
    *v = *value;
  }
  return absl::OkStatus();
}

void SolverStateSpec::Snapshot() {
  previous_ = std::move(current_);
  current_.clear();
  for (const auto& [key, v] : iterate_) current_.push_back(DetachedClone(*v));
}

void SolverStateSpec::RollBack() {
  const std::vector<TensorList>& to = previous_.empty() ? current_ : previous_;
  for (size_t i = 0; i < to.size() && i < iterate_.size(); ++i) *iterate_[i].second = to[i];
}

// ---- Pure decisions ----

std::string NonFiniteValue(const IterationRecord& r) {
  const std::pair<const char*, std::optional<double>> values[] = {
      {"f(x, y)", r.outer_objective},
      {"g(x, y)", r.inner_objective},
      {"the x-gradient's norm", r.grad_norm_x},
      {"the y-gradient's norm", r.grad_norm_y},
      {"the z-gradient's norm", r.grad_norm_z},
      {"the value gap g(x, y) - g(x, z)", r.value_gap},
      {"the inner stationarity ||grad_y g||", r.inner_stationarity},
  };
  for (const auto& [name, value] : values) {
    if (value && !std::isfinite(*value)) return name;
  }
  return "";
}

std::optional<Stop> BudgetStop(const SolverOptionsBase& options, const OracleCounts& counts,
                               double seconds) {
  if (options.max_gradient_calls > 0 && counts.GradientCalls() >= options.max_gradient_calls) {
    return Stop{TerminationType::kOracleBudget,
                absl::StrCat("the budget of ", options.max_gradient_calls,
                             " gradient calls is spent (", counts.GradientCalls(), " used)")};
  }
  if (options.max_gradient_call_equivalents > 0 &&
      counts.GradientCallEquivalents() >= options.max_gradient_call_equivalents) {
    return Stop{TerminationType::kOracleBudget,
                absl::StrCat("the budget of ", options.max_gradient_call_equivalents,
                             " gradient-call equivalents is spent (",
                             counts.GradientCallEquivalents(), " used)")};
  }
  if (options.max_wall_time_seconds > 0 && seconds >= options.max_wall_time_seconds) {
    return Stop{TerminationType::kTimeLimit,
                absl::StrCat("the time limit of ", options.max_wall_time_seconds, " s is reached")};
  }
  return std::nullopt;
}

bool CheckpointDue(const CheckpointOptions& c, int64_t observed, double seconds_since_last) {
  if (c.path.empty()) return false;
  return (c.every_iterations > 0 && observed % c.every_iterations == 0) ||
         (c.every_seconds > 0 && seconds_since_last >= c.every_seconds);
}

bool KeepRecord(const IterationRecord& record, int record_every) {
  return record.stage_end || record.iteration % record_every == 0;
}

NonzeroRows PerExampleOuterRows(const BilevelProblem& problem, const std::vector<Batch>& inner,
                                TensorList* group, size_t first_x) {
  NonzeroRows sparse;
  std::vector<at::Tensor> rows;
  for (const Batch& batch : inner) {
    if (!batch.global_indices.defined()) return sparse;
    rows.push_back(batch.global_indices);
  }
  if (rows.empty()) return sparse;
  const std::vector<bool> per_example = problem.OuterRowsPerInnerExample();
  for (size_t i = 0; i < per_example.size(); ++i) {
    if (per_example[i]) sparse.tensors.push_back(first_x + i);
  }
  if (sparse.tensors.empty()) return sparse;
  sparse.group = group;
  // One batch's rows never repeat (a batch is a slice of a permutation); several batches' may.
  sparse.rows = rows.size() == 1 ? rows[0] : std::get<0>(at::_unique(at::cat(rows)));
  return sparse;
}

std::string MeanOverRanks(GradientReducer* reducer, const std::vector<TensorList*>& groups,
                          const NonzeroRows& sparse) {
  if (reducer == nullptr) return "";
  // Swap the sparse tensors for their nonzero rows; after the reduction, scatter the rows' means
  // into zeros (every other row's mean is 0: each rank's is).
  std::vector<at::Tensor> whole;
  if (sparse.group != nullptr) {
    for (size_t i : sparse.tensors) {
      at::Tensor& t = (*sparse.group)[i];
      whole.push_back(t);
      if (t.defined()) t = t.index_select(0, sparse.rows);
    }
  }
  const absl::Status reduced = reducer->AllReduceMean(groups);
  if (!reduced.ok()) return std::string(reduced.message());
  for (size_t k = 0; k < whole.size(); ++k) {
    at::Tensor& t = (*sparse.group)[sparse.tensors[k]];
    if (t.defined()) t = at::zeros_like(whole[k]).index_copy_(0, sparse.rows, t);
  }
  return "";
}

StepResult CommunicationFailed(std::string message) {
  StepResult result;
  result.communication_failure = std::move(message);
  return result;
}

// ---- The loop ----

MinibatchStreams::MinibatchStreams(const SolverOptionsBase& options, BilevelProblem* problem)
    : MinibatchStreams(options, problem, problem->InitialOuter().front().device()) {}

MinibatchStreams::MinibatchStreams(const SolverOptionsBase& options, BilevelProblem* problem,
                                   c10::Device device)
    : outer(problem->NumOuterExamples(), options.outer_batch_size, 2 * options.seed, device),
      inner(problem->NumInnerExamples(), options.inner_batch_size, 2 * options.seed + 1, device) {
  if (WorldSize(options) > 1) {
    outer.Shard(options.data_parallel->rank(), WorldSize(options));
    inner.Shard(options.data_parallel->rank(), WorldSize(options));
  }
}

namespace {

// One iteration as the loop runs it: the snapshot the rollback returns to, the step, and the
// non-finite check of its record (a value the step named itself comes first).
StepResult CheckedStep(SolverStateSpec* spec, IterativeSolver* solver, const StepContext& context,
                       IterationRecord* record) {
  spec->Snapshot();
  StepResult result = solver->Step(context, record);
  if (!result.communication_failure.empty()) return result;  // the record is incomplete
  if (result.non_finite.empty()) result.non_finite = NonFiniteValue(*record);
  return result;
}

// The oracle counters in a checkpoint, in this order.
std::vector<std::pair<const char*, int64_t OracleCounts::*>> CounterFields() {
  return {{"f_gradients", &OracleCounts::f_gradients},
          {"g_gradients", &OracleCounts::g_gradients},
          {"hessian_vector_products", &OracleCounts::hessian_vector_products},
          {"jacobian_vector_products", &OracleCounts::jacobian_vector_products},
          {"f_examples", &OracleCounts::f_examples},
          {"g_examples", &OracleCounts::g_examples}};
}

absl::Status CheckSolve(const absl::Status& options_status, const SolverOptionsBase& options,
                        BilevelProblem* problem) {
  if (!options_status.ok()) return options_status;
  if (problem == nullptr) return absl::InvalidArgumentError("problem is null");
  if (WorldSize(options) > 1 && options.max_wall_time_seconds > 0) {
    return absl::InvalidArgumentError(
        "max_wall_time_seconds cannot end a data-parallel solve: each rank's clock would stop it "
        "at a different iteration; use max_gradient_calls or max_gradient_call_equivalents");
  }
  if (const std::string why = WorldSize(options) > 1 ? problem->WhyNotDataParallel() : "";
      !why.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("this problem cannot be solved data-parallel: ", why,
                     "; solve it in one process (data_parallel null, or --world_size=1)"));
  }
  absl::Status status =
      ValidateBatchSizes(options, problem->NumOuterExamples(), problem->NumInnerExamples());
  if (!status.ok()) return status;
  const TensorList x0 = problem->InitialOuter();
  const std::vector<bool> per_example = problem->OuterRowsPerInnerExample();
  for (size_t i = 0; i < per_example.size(); ++i) {
    if (!per_example[i]) continue;
    if (i >= x0.size() || x0[i].dim() == 0 || x0[i].size(0) != problem->NumInnerExamples()) {
      return absl::InvalidArgumentError(
          absl::StrCat("the problem declares x's tensor ", i,
                       " per inner example (OuterRowsPerInnerExample), but x has ", x0.size(),
                       " tensors and that one needs dimension 0 of size NumInnerExamples() = ",
                       problem->NumInnerExamples(), "; fix the declaration"));
    }
  }
  return ValidateInitialPoint(x0, problem->InitialInner());
}

// A data-parallel solve needs a solver whose Step reduces its gradients.
absl::Status CheckDataParallel(const std::string& solver, const SolverOptionsBase& options,
                               const IterativeSolver& built) {
  if (WorldSize(options) == 1 || built.SupportsDataParallel()) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      solver, " does not run data-parallel (data_parallel over ", WorldSize(options),
      " ranks); MinimaxOPT, F2SA, the penalty method and the AID hypergradient methods do "
      "(not reverse mode)"));
}

class Loop {
 public:
  Loop(const SolverOptionsBase& options, BilevelProblem* problem, IterativeSolver* solver,
       SolverSummary* summary)
      : options_(options),
        problem_(problem),
        solver_(solver),
        summary_(summary),
        streams_(options, problem),
        start_(std::chrono::steady_clock::now()) {}

  absl::Status Run() {
    solver_->DeclareState(&spec_);
    absl::Status status = Resume();
    if (!status.ok()) {
      summary_->termination = TerminationType::kInvalidOptions;
      summary_->message = std::string(status.message());
      return status;
    }
    while (Iterate()) {
    }
    solver_->Summarize(summary_);
    const IterateView view = solver_->View();
    summary_->x = DetachedClone(view.x);
    summary_->y = DetachedClone(view.y);
    summary_->inner = DetachedClone(view.inner);
    return absl::OkStatus();
  }

 private:
  int Rank() const { return options_.data_parallel ? options_.data_parallel->rank() : 0; }

  double ElapsedSeconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

  void Finish(TerminationType type, std::string message) {
    summary_->termination = type;
    summary_->message = std::move(message);
    summary_->total_time_seconds = ElapsedSeconds();
  }

  // One iteration; false when the solve has ended (the termination is set).
  bool Iterate() {
    const std::string limit = solver_->LimitReached(iteration_, stage_);
    if (!limit.empty()) {
      Finish(TerminationType::kIterationLimit, limit);
      return false;
    }
    summary_->num_stages = stage_ + 1;
    IterationRecord record;
    record.iteration = iteration_;
    record.stage = stage_;
    const StepContext context{problem_,
                              iteration_,
                              stage_,
                              iteration_ - stage_start_,
                              &streams_.outer,
                              &streams_.inner,
                              &summary_->oracle_calls,
                              options_.data_parallel};
    const StepResult result = CheckedStep(&spec_, solver_, context, &record);
    if (!result.communication_failure.empty()) {
      spec_.RollBack();
      Finish(TerminationType::kCommunicationFailed,
             absl::StrCat(result.communication_failure, "; the solve stopped at iteration ",
                          iteration_, " and returned the iterate before it"));
      return false;
    }
    if (!result.non_finite.empty()) {
      spec_.RollBack();
      Finish(TerminationType::kNonFinite,
             absl::StrCat(result.non_finite, " is not finite at iteration ", iteration_,
                          "; the solve stopped and returned the last iterate whose objectives "
                          "were finite. To fix it: ",
                          solver_->NonFiniteRemedy(), "."));
      return false;
    }
    const bool stage_end = result.stage_end || result.converged;
    record.stage_end =
        stage_end ||
        !solver_->LimitReached(iteration_ + 1, stage_end ? stage_ + 1 : stage_).empty();
    if (!Observe(record)) return false;
    ++iteration_;
    if (result.converged) {
      Finish(TerminationType::kConverged, result.converged_message);
      return false;
    }
    if (stage_end) {
      solver_->EndStage();
      ++stage_;
      stage_start_ = iteration_;
    }
    return MaybeCheckpoint();
  }

  // Records the iteration, runs the callbacks and checks budgets; false when the solve must stop.
  bool Observe(IterationRecord record) {
    ++observed_;
    record.wall_time_seconds = ElapsedSeconds();
    record.oracle_calls = summary_->oracle_calls;
    summary_->num_iterations = record.iteration + 1;
    summary_->final_lambda = record.lambda;
    summary_->final_penalty_rho = record.penalty_rho;
    summary_->total_time_seconds = record.wall_time_seconds;
    if (KeepRecord(record, options_.record_every)) summary_->iterations.push_back(record);
    const std::string stopped =
        absl::StrCat("a callback stopped the solve at iteration ", record.iteration);
    for (const IterationCallback& callback : options_.callbacks) {
      if (callback(record) == CallbackResult::kStop) {
        Finish(TerminationType::kUserStop, stopped);
        return false;
      }
    }
    if (!options_.iterate_callbacks.empty()) {
      const IterateView view = solver_->View();
      for (const IterateCallback& callback : options_.iterate_callbacks) {
        if (callback(record, view) == CallbackResult::kStop) {
          Finish(TerminationType::kUserStop, stopped);
          return false;
        }
      }
    }
    if (std::optional<Stop> stop =
            BudgetStop(options_, summary_->oracle_calls, record.wall_time_seconds)) {
      Finish(stop->type, std::move(stop->message));
      return false;
    }
    return true;
  }

  // Loads options.checkpoint if its file exists: checks that it belongs to this solve (solver,
  // seed, fingerprint) and restores the solver's declared state, the loop's position, the
  // samplers, the counts, the clock, the problem's random state and the caller's state.
  absl::Status Resume() {
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
    // Checkpoints from before data parallelism have no world size: one process wrote them.
    const absl::StatusOr<int64_t> world = state.GetInt("world_size");
    if ((world.ok() ? *world : 1) != WorldSize(options_)) {
      return mismatch(absl::StrCat("written by ", world.ok() ? *world : 1,
                                   " data-parallel ranks, this solve has ", WorldSize(options_),
                                   " (resume at the same world size)"));
    }
    absl::Status status = spec_.Restore(state);
    if (status.ok()) status = streams_.outer.RestoreState("outer", state);
    if (status.ok()) status = streams_.inner.RestoreState("inner", state);
    auto get_int = [&](const std::string& key) -> int64_t {
      absl::StatusOr<int64_t> v = state.GetInt(key);
      if (!v.ok() && status.ok()) status = v.status();
      return v.ok() ? *v : 0;
    };
    for (const auto& [name, field] : CounterFields()) summary_->oracle_calls.*field = get_int(name);
    observed_ = get_int("observed");
    summary_->num_iterations = get_int("num_iterations");
    summary_->num_stages = static_cast<int>(get_int("num_stages"));
    iteration_ = get_int("next_iteration");
    stage_ = static_cast<int>(get_int("stage"));
    stage_start_ = get_int("stage_start");
    absl::StatusOr<double> elapsed = state.GetDouble("elapsed_seconds");
    if (status.ok() && !elapsed.ok()) status = elapsed.status();
    TensorList random = problem_->RandomState();
    if (status.ok()) status = state.RestoreTensors("problem_random_state", &random);
    if (status.ok()) problem_->SetRandomState(random);
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

  // Writes the checkpoint when one is due; its time is left out of the solver clock. False
  // (termination kCheckpointFailed) when the file cannot be written.
  bool MaybeCheckpoint() {
    const CheckpointOptions& c = options_.checkpoint;
    if (Rank() != 0 || !c.write) return true;  // data parallel: rank 0 writes for every rank
    const double now = ElapsedSeconds();
    if (!CheckpointDue(c, observed_, now - last_checkpoint_seconds_)) return true;
    last_checkpoint_seconds_ = now;
    const auto t0 = std::chrono::steady_clock::now();
    SolverState state;
    state.PutString("solver", summary_->solver);
    state.PutInt("seed", static_cast<int64_t>(options_.seed));
    state.PutString("fingerprint", c.fingerprint);
    state.PutInt("world_size", WorldSize(options_));
    for (const auto& [name, field] : CounterFields()) {
      state.PutInt(name, summary_->oracle_calls.*field);
    }
    state.PutInt("observed", observed_);
    state.PutInt("num_iterations", summary_->num_iterations);
    state.PutInt("num_stages", summary_->num_stages);
    state.PutInt("next_iteration", iteration_);
    state.PutInt("stage", stage_);
    state.PutInt("stage_start", stage_start_);
    if (summary_->final_lambda) state.PutDouble("final_lambda", *summary_->final_lambda);
    if (summary_->final_penalty_rho) {
      state.PutDouble("final_penalty_rho", *summary_->final_penalty_rho);
    }
    state.PutDouble("elapsed_seconds", now);
    state.PutTensors("problem_random_state", problem_->RandomState());
    if (c.save_user_state) state.PutString("user_state", c.save_user_state());
    streams_.outer.SaveState("outer", &state);
    streams_.inner.SaveState("inner", &state);
    spec_.Save(&state);
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

  const SolverOptionsBase& options_;
  BilevelProblem* problem_;
  IterativeSolver* solver_;
  SolverSummary* summary_;
  SolverStateSpec spec_;
  MinibatchStreams streams_;
  std::chrono::steady_clock::time_point start_;
  int64_t iteration_ = 0;    // the next iteration
  int stage_ = 0;            // the next iteration's stage
  int64_t stage_start_ = 0;  // the first iteration of stage_
  int64_t observed_ = 0;     // iterations accepted, including those restored from a checkpoint
  double last_checkpoint_seconds_ = 0;  // solver clock at the last checkpoint (or the resume)
};

}  // namespace

absl::Status RunSolver(const std::string& solver, const absl::Status& options_status,
                       const SolverOptionsBase& options, BilevelProblem* problem,
                       const SolverFactory& make, SolverSummary* summary) {
  *summary = SolverSummary{};
  summary->solver = solver;
  std::unique_ptr<IterativeSolver> built;
  absl::Status status = CheckSolve(options_status, options, problem);
  if (status.ok()) {
    built = make();
    status = CheckDataParallel(solver, options, *built);
  }
  if (!status.ok()) {
    summary->termination = TerminationType::kInvalidOptions;
    summary->message = std::string(status.message());
    return status;
  }
  return Loop(options, problem, built.get(), summary).Run();
}

absl::StatusOr<std::unique_ptr<SingleStepper>> SingleStepper::Create(
    const absl::Status& options_status, const SolverOptionsBase& options, BilevelProblem* problem,
    const SolverFactory& make) {
  absl::Status status = CheckSolve(options_status, options, problem);
  if (!status.ok()) return status;
  std::unique_ptr<IterativeSolver> built = make();
  status = CheckDataParallel("this solver", options, *built);
  if (!status.ok()) return status;
  return std::unique_ptr<SingleStepper>(new SingleStepper(options, problem, std::move(built)));
}

SingleStepper::SingleStepper(const SolverOptionsBase& options, BilevelProblem* problem,
                             std::unique_ptr<IterativeSolver> solver)
    : problem_(problem),
      reducer_(options.data_parallel),
      solver_(std::move(solver)),
      streams_(options, problem) {
  solver_->DeclareState(&spec_);
}

StepResult SingleStepper::Step() {
  IterationRecord record;
  const StepContext context{problem_,        iteration_,      0,        iteration_,
                            &streams_.outer, &streams_.inner, &counts_, reducer_};
  ++iteration_;
  return CheckedStep(&spec_, solver_.get(), context, &record);
}

}  // namespace bilevel
