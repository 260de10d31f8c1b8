#include "experiments/runner.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "c10/util/Exception.h"
#include "experiments/results.h"
#include "experiments/run_output.h"
#include "experiments/run_store.h"

namespace experiments {

namespace fs = std::filesystem;

int WorldSize(const Experiment& e) {
  return e.data_parallel != nullptr ? e.data_parallel->world_size() : 1;
}

std::string DescribeYardstick(const Experiment& e) {
  return absl::StrCat(
      ToString(e.yardstick), " | ",
      e.yardstick == Yardstick::kExactInner ? bilevel::ToString(e.exact_inner)
      : e.yardstick == Yardstick::kProtocol ? "the task's own evaluation recipe of x (see notes)"
                                            : bilevel::ToString(e.retrain),
      e.kept_retrain ? absl::StrCat(" | also retrained on ", e.kept_retrain->description) : "");
}

std::string ToString(Yardstick yardstick) {
  switch (yardstick) {
    case Yardstick::kExactInner:
      return "exact_inner";
    case Yardstick::kInnerIterate:
      return "inner_iterate";
    case Yardstick::kProtocol:
      return "protocol";
  }
  return "unknown";
}

namespace {

double SecondsSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Whether this process writes the outputs: rank 0 of a data-parallel experiment, or the only one.
bool Writes(const Experiment& e) {
  return e.data_parallel == nullptr || e.data_parallel->rank() == 0;
}

// The ranks of a data-parallel experiment take each run's road together (reuse its finished
// files, resume its checkpoint, or start): rank 0 settles the run's files first (sets aside what
// cannot be used), the other ranks read them after that, and every rank checks that all took the
// same road — a rank that sees another folder fails on every rank instead of diverging. One
// process passes straight through.
class RunGate {
 public:
  RunGate(const Experiment& e, std::string run) : e_(e), run_(std::move(run)) {}

  // Before reading the run's files: the ranks after 0 wait until rank 0 has settled them.
  absl::Status BeforeReading() const {
    return WorldSize(e_) > 1 && !Writes(e_) ? Settled() : absl::OkStatus();
  }
  // After settling (rank 0) or reading (the others) them.
  absl::Status AfterDeciding(const std::string& road) const {
    if (WorldSize(e_) == 1) return absl::OkStatus();
    if (Writes(e_)) {
      if (absl::Status s = Settled(); !s.ok()) return s;
    }
    return e_.data_parallel->CheckSame(absl::StrCat("road for ", run_), road);
  }

 private:
  absl::Status Settled() const {
    return e_.data_parallel->CheckSame(absl::StrCat("files of ", run_), "settled");
  }
  const Experiment& e_;
  const std::string run_;
};

// A reference's metrics at one seed: the same yardstick at the reference task's initial x.
absl::StatusOr<tasks::TaskMetrics> ScoreReference(const Experiment& e, const Reference& reference,
                                                  uint64_t seed, std::string* how) {
  absl::StatusOr<std::unique_ptr<tasks::Task>> made = reference.make_task(seed);
  if (!made.ok()) return made.status();
  tasks::Task& task = **made;
  const bilevel::TensorList x = task.InitialOuter();
  if (e.yardstick == Yardstick::kExactInner) {
    absl::StatusOr<bilevel::InnerSolveResult> solved =
        bilevel::SolveInnerExactly(&task, x, task.InitialInner(), e.exact_inner);
    if (!solved.ok()) return solved.status();
    *how = solved->converged ? "exact inner solve" : "exact inner solve (tolerance not met)";
    return task.Evaluate(x, solved->y);
  }
  if (e.yardstick == Yardstick::kProtocol) {
    *how = "test protocol";
    return task.Evaluate(x, task.InitialInner());
  }
  bilevel::RetrainOptions recipe = e.retrain;
  recipe.seed = seed;
  absl::StatusOr<bilevel::InnerSolveResult> trained = bilevel::Retrain(&task, x, recipe);
  if (!trained.ok()) return trained.status();
  *how = trained->finite ? "retrained" : "retrain diverged";
  return task.Evaluate(x, trained->y);
}

// One reference line at one seed: read back when its files are reusable, computed and written
// otherwise. Returns its JSON; `csv_path` is its curves rows.
absl::StatusOr<std::string> ReferenceRun(const Experiment& e, const Reference& reference,
                                         uint64_t seed, const std::string& data_description,
                                         const std::string& json_path,
                                         const std::string& csv_path) {
  const std::string fingerprint = RunFingerprint(
      e, data_description, absl::StrCat("reference ", reference.name, ": ", reference.description));
  const RunGate gate(e, absl::StrCat("reference ", reference.name, " seed ", seed));
  if (absl::Status s = gate.BeforeReading(); !s.ok()) return s;
  absl::StatusOr<std::optional<std::string>> finished =
      ReuseFinished(json_path, csv_path, fingerprint, e.figure, Writes(e));
  if (!finished.ok()) return finished.status();
  if (absl::Status s = gate.AfterDeciding(finished->has_value() ? "reuse" : "compute"); !s.ok()) {
    return s;
  }
  if (finished->has_value()) return **std::move(finished);
  const auto t0 = std::chrono::steady_clock::now();
  std::string how;
  absl::StatusOr<tasks::TaskMetrics> m = ScoreReference(e, reference, seed, &how);
  if (!m.ok()) {
    return absl::Status(m.status().code(), absl::StrCat(e.figure, " reference '", reference.name,
                                                        "': ", m.status().message()));
  }
  const double seconds = SecondsSince(t0);
  std::cerr << absl::StrFormat("%s [reference %s seed %d] %s: test accuracy %.4f (%.1f s)\n",
                               e.figure, reference.name, seed, how, m->test_accuracy, seconds);
  const auto [row_header, row] =
      CsvRow(reference.name, seed, "reference", -1, bilevel::OracleCounts{}, 0.0, *m);
  std::string result = absl::StrFormat(
      "{\"seed\": %d, \"how\": %s, \"seconds\": %.3f, \"metrics\": %s, \"fingerprint\": %s}", seed,
      JsonString(how), seconds, MetricsJson(*m), JsonString(fingerprint));
  if (!Writes(e)) return result;
  absl::Status written = WriteFileAtomically(csv_path, row_header + "\n" + row + "\n");
  if (written.ok()) written = WriteFileAtomically(json_path, result);
  if (!written.ok()) return written;
  return result;
}

// One method at one seed: the solve, its curve points by the figure's yardstick (outside the
// solver's clock), its checkpoint (the solver's state and these counters and rows), the retrain,
// and its files.
class MethodRun {
 public:
  MethodRun(const Experiment& e, const Method& method, uint64_t seed, tasks::Task* task,
            const fs::path& runs_dir, std::string fingerprint)
      : e_(e),
        method_(method),
        seed_(seed),
        task_(task),
        stem_(absl::StrCat(method.name, "__seed", seed)),
        csv_path_((runs_dir / (stem_ + ".csv")).string()),
        json_path_((runs_dir / (stem_ + ".json")).string()),
        checkpoint_path_((runs_dir / (stem_ + ".ckpt")).string()),
        runs_dir_(runs_dir.string()),
        fingerprint_(std::move(fingerprint)),
        next_eval_(e.eval_every_gradient_calls) {}

  const std::string& csv_path() const { return csv_path_; }

  // The run's JSON summary: read back when a finished run's files are reusable, computed
  // otherwise.
  absl::StatusOr<std::string> FinishedOrRun() {
    const RunGate gate(e_, stem_);
    if (absl::Status s = gate.BeforeReading(); !s.ok()) return s;
    absl::StatusOr<std::optional<std::string>> finished =
        ReuseFinished(json_path_, csv_path_, fingerprint_, e_.figure, Writes(e_));
    if (!finished.ok()) return finished.status();
    const bool checkpoints = e_.checkpoint_every_seconds > 0;
    if (!finished->has_value() && checkpoints && Writes(e_)) {
      absl::Status usable = SetAsideIfUnusable(checkpoint_path_, fingerprint_, e_.figure);
      if (!usable.ok()) return usable;
    }
    std::string road = "start";
    if (finished->has_value()) {
      road = "reuse";
    } else if (checkpoints && fs::exists(checkpoint_path_)) {
      road = "resume";
    }
    absl::Status same = gate.AfterDeciding(road);
    if (!same.ok()) return same;
    if (finished->has_value()) {
      std::cerr << e_.figure << ": " << stem_ << " already done, skipping (resume)\n";
      return **std::move(finished);
    }
    return Compute();
  }

 private:
  absl::StatusOr<std::string> Compute() {
    const bilevel::CheckpointOptions checkpoint = Checkpoint();
    if (checkpoint.path.empty() || !fs::exists(checkpoint_path_)) {  // a fresh start
      const bilevel::TensorList y0 = task_->InitialInner();
      Evaluate(-1, bilevel::OracleCounts{}, 0.0, task_->InitialOuter(), y0, y0, nullptr);
    }
    bilevel::IterateCallback observer = [&](const bilevel::IterationRecord& r,
                                            const bilevel::IterateView& it) {
      const int64_t calls = r.oracle_calls.GradientCalls();
      if (calls >= next_eval_) {
        Evaluate(r.iteration, r.oracle_calls, r.wall_time_seconds, it.x, it.y, it.inner, &r);
        next_eval_ = (calls / e_.eval_every_gradient_calls + 1) * e_.eval_every_gradient_calls;
      }
      return bilevel::CallbackResult::kContinue;
    };
    bilevel::SolverSummary summary;
    absl::Status status = method_.run(task_, seed_, observer, checkpoint,
                                      method_.data_parallel ? e_.data_parallel : nullptr, &summary);
    if (!status.ok()) {
      return absl::Status(status.code(),
                          absl::StrCat(e_.figure, " ", method_.name, ": ", status.message()));
    }
    if (summary.termination == bilevel::TerminationType::kCommunicationFailed) {
      // Not the method's result: the ranks lost each other. Nothing is written but the last
      // checkpoint, which a rerun resumes.
      return absl::UnavailableError(absl::StrCat(
          e_.figure, " ", method_.name, " seed ", seed_, ": ", summary.message,
          "; rerun the experiment with the same flags to continue from its last checkpoint"));
    }
    if (summary.termination == bilevel::TerminationType::kCheckpointFailed) {
      return absl::UnavailableError(
          absl::StrCat(e_.figure, " ", method_.name, ": ", summary.message,
                       "; free disk space or fix the permissions of ", runs_dir_, " and rerun"));
    }
    const bool usable = summary.IsSolutionUsable();
    const bilevel::TensorList& final_inner = summary.inner.empty() ? summary.y : summary.inner;
    if (usable && summary.num_iterations - 1 != last_evaluated_) {
      Evaluate(summary.num_iterations - 1, summary.oracle_calls, summary.total_time_seconds,
               summary.x, summary.y, final_inner, nullptr);
    }
    if (summary.termination == bilevel::TerminationType::kNonFinite) {
      std::cerr << e_.figure << " [" << method_.name << " seed " << seed_
                << "] FAILED: " << summary.message << "\n";
    }
    RunRecord record;
    record.method = method_.name;
    record.seed = seed_;
    record.summary = &summary;
    record.exact_inner_unconverged = exact_unconverged_;
    record.settings = method_.settings;
    record.fingerprint = fingerprint_;
    if (e_.yardstick == Yardstick::kInnerIterate && usable) {
      absl::StatusOr<std::string> retrained = Retrain(summary, *task_, "retrained");
      if (!retrained.ok()) return retrained.status();
      record.retrained_test_accuracy = *retrained;
      if (e_.kept_retrain) {
        absl::StatusOr<std::unique_ptr<tasks::Task>> kept =
            e_.kept_retrain->make_task(summary.x, seed_);
        if (!kept.ok()) return kept.status();
        retrained = Retrain(summary, **kept, "retrained_kept");
        if (!retrained.ok()) return retrained.status();
        record.kept_retrain_test_accuracy = *retrained;
      }
    }
    record.evaluation_seconds = evaluation_seconds_;
    const std::string json = RunJson(record);
    if (!Writes(e_)) return json;
    absl::Status written = WriteFileAtomically(csv_path_, header_ + "\n" + rows_);
    if (written.ok()) written = WriteFileAtomically(json_path_, json);
    if (!written.ok()) return written;
    std::error_code ec;
    fs::remove(checkpoint_path_, ec);  // the run's files now hold everything it had
    return json;
  }

  // The retrain: a fresh model with the figure's one recipe on g(x_final, ·) (`on` the run's task,
  // "retrained") or on the kept examples (`on` Experiment::kept_retrain's task at its initial x,
  // "retrained_kept"), scored by the run's task at x_final. Appends its row and returns its test
  // accuracy as a JSON number (null when the retrain diverged).
  absl::StatusOr<std::string> Retrain(const bilevel::SolverSummary& summary, tasks::Task& on,
                                      const std::string& evaluated_at) {
    const auto t0 = std::chrono::steady_clock::now();
    bilevel::RetrainOptions recipe = e_.retrain;
    recipe.seed = seed_;
    absl::StatusOr<bilevel::InnerSolveResult> trained =
        bilevel::Retrain(&on, &on == task_ ? summary.x : on.InitialOuter(), recipe);
    if (!trained.ok()) {
      return absl::Status(
          trained.status().code(),
          absl::StrCat(e_.figure, " ", method_.name, " retrain: ", trained.status().message()));
    }
    const tasks::TaskMetrics m = task_->Evaluate(summary.x, trained->y);
    absl::StrAppend(
        &rows_,
        CsvRow(method_.name, seed_, evaluated_at, summary.num_iterations - 1, summary.oracle_calls,
               summary.total_time_seconds - evaluation_seconds_, m)
            .second,
        "\n");
    std::cerr << absl::StrFormat(
        "%s [%s seed %d] retrained on %s: test accuracy %.4f%s (%.1f s)\n", e_.figure, method_.name,
        seed_, &on == task_ ? "g(x_final, .)" : e_.kept_retrain->description, m.test_accuracy,
        trained->finite ? "" : " (the retrain diverged)", SecondsSince(t0));
    return JsonNumber(trained->finite ? m.test_accuracy : NAN);
  }

  // The runner's part of a checkpoint: its counters, then the header and the rows so far.
  bilevel::CheckpointOptions Checkpoint() {
    bilevel::CheckpointOptions checkpoint;
    if (e_.checkpoint_every_seconds <= 0) return checkpoint;
    checkpoint.path = checkpoint_path_;
    checkpoint.every_iterations = 0;
    checkpoint.every_seconds = e_.checkpoint_every_seconds;
    checkpoint.fingerprint = fingerprint_;
    checkpoint.write = Writes(e_);  // a data-parallel solve writes from rank 0 in any case
    checkpoint.save_user_state = [this] {
      return absl::StrFormat("%d %d %.17g %d\n%s\n%s", next_eval_, last_evaluated_,
                             evaluation_seconds_, exact_unconverged_, header_, rows_);
    };
    checkpoint.restore_user_state = [this](const std::string& saved) {
      std::istringstream in(saved);
      std::string counters, saved_header;
      if (!std::getline(in, counters) || !std::getline(in, saved_header) ||
          !(std::istringstream(counters) >> next_eval_ >> last_evaluated_ >> evaluation_seconds_ >>
            exact_unconverged_)) {
        return absl::DataLossError("the runner's part of the checkpoint is malformed");
      }
      header_ = saved_header;
      rows_ = std::string(std::istreambuf_iterator<char>(in), {});
      std::cerr << e_.figure << ": " << stem_ << " resumes from " << checkpoint_path_ << " ("
                << std::count(rows_.begin(), rows_.end(), '\n') << " curve points so far)\n";
      return absl::OkStatus();
    };
    return checkpoint;
  }

  // Scores (x, inner) by the figure's yardstick and appends the row(s). `record` is set for the
  // evaluations made from the solver's callback (on its clock).
  void Evaluate(int64_t iteration, const bilevel::OracleCounts& calls, double solver_clock,
                const bilevel::TensorList& x, const bilevel::TensorList& y,
                const bilevel::TensorList& inner, const bilevel::IterationRecord* record) {
    const auto t0 = std::chrono::steady_clock::now();
    const double wall = solver_clock - evaluation_seconds_;
    tasks::TaskMetrics m;
    std::string at;
    if (e_.yardstick == Yardstick::kExactInner) {
      absl::StatusOr<bilevel::InnerSolveResult> solved =
          bilevel::SolveInnerExactly(task_, x, inner, e_.exact_inner);
      TORCH_CHECK(solved.ok(), solved.status().ToString());  // options checked by the figure
      if (!solved->converged) {
        ++exact_unconverged_;
        std::cerr << absl::StrFormat(
            "%s [%s seed %d] the exact inner solve stopped at |grad_y g| = %.3g after %d "
            "iterations (tolerance %g)\n",
            e_.figure, method_.name, seed_, solved->gradient_norm, solved->iterations,
            e_.exact_inner.gradient_tolerance);
      }
      m = task_->Evaluate(x, solved->y);
      at = "exact_inner";
    } else {  // the inner iterate, or the task's protocol (which uses x alone)
      m = task_->Evaluate(x, inner);
      at = ToString(e_.yardstick);
    }
    auto [row_header, row] = CsvRow(method_.name, seed_, at, iteration, calls, wall, m);
    header_ = row_header;
    absl::StrAppend(&rows_, row, "\n");
    if (method_.also_score_y && e_.yardstick == Yardstick::kInnerIterate) {
      const tasks::TaskMetrics my = task_->Evaluate(x, y);
      absl::StrAppend(&rows_,
                      CsvRow(method_.name, seed_, "minimax_y", iteration, calls, wall, my).second,
                      "\n");
    }
    // Only evaluations from inside the solve ran on the solver's clock (the first, before the
    // solve, and the last, after it, did not): those are taken out of its wall time.
    if (record != nullptr) evaluation_seconds_ += SecondsSince(t0);
    Progress(iteration, calls, solver_clock, m, at, record);
    last_evaluated_ = iteration;
  }

  // Progress: the solver clock (it survives resumes and includes evaluation) and, when the
  // method's length is known, the time left at the pace so far.
  void Progress(int64_t iteration, const bilevel::OracleCounts& calls, double solver_clock,
                const tasks::TaskMetrics& m, const std::string& at,
                const bilevel::IterationRecord* record) const {
    const int64_t total = method_.total_iterations;
    std::string where = iteration < 0 ? "start" : absl::StrCat("iter ", iteration);
    if (iteration >= 0 && total > 0) absl::StrAppend(&where, "/", total);
    if (const std::string weight = record != nullptr ? bilevel::StageWeight(*record) : "";
        !weight.empty()) {  // staged solvers
      where = absl::StrFormat("stage %d, %s, %s", record->stage, weight, where);
    }
    std::string left;
    if (total > 0 && iteration >= 0) {
      const double pace = solver_clock / static_cast<double>(iteration + 1);
      left = absl::StrFormat(", ~%.0f s left", pace * static_cast<double>(total - iteration - 1));
    }
    std::cerr << absl::StrFormat(
        "%s [%s seed %d] %s, gradient calls %d, validation loss %.5g, test accuracy %.4f "
        "(%s), %.1f s%s\n",
        e_.figure, method_.name, seed_, where, calls.GradientCalls(), m.validation_loss,
        m.test_accuracy, at, solver_clock, left);
  }

  const Experiment& e_;
  const Method& method_;
  const uint64_t seed_;
  tasks::Task* task_;
  const std::string stem_, csv_path_, json_path_, checkpoint_path_, runs_dir_, fingerprint_;
  std::string header_, rows_;
  double evaluation_seconds_ = 0;
  int64_t next_eval_, last_evaluated_ = -1;
  int64_t exact_unconverged_ = 0;  // exact inner solves that missed their tolerance
};

}  // namespace

absl::Status Run(const Experiment& e, const TaskFactory& make_task) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = e.output_dir;
  const fs::path runs = dir / "runs";
  std::error_code ec;
  fs::create_directories(runs, ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output folder ", runs.string(), ": ", ec.message()));
  }
  std::vector<std::string> run_files, run_summaries, reference_rows;
  std::vector<std::vector<std::string>> reference_results(e.references.size());  // per seed
  std::string data_description;
  for (uint64_t seed : e.seeds) {
    absl::StatusOr<std::unique_ptr<tasks::Task>> task = make_task(seed);
    if (!task.ok()) return task.status();
    data_description = (*task)->DataDescription();

    // The reference lines of this seed (computed once; a rerun reads them back).
    for (size_t i = 0; i < e.references.size(); ++i) {
      const std::string stem = absl::StrCat("reference_", e.references[i].name, "__seed", seed);
      const std::string csv_path = (runs / (stem + ".csv")).string();
      absl::StatusOr<std::string> result = ReferenceRun(
          e, e.references[i], seed, data_description, (runs / (stem + ".json")).string(), csv_path);
      if (!result.ok()) return result.status();
      reference_rows.push_back(csv_path);
      reference_results[i].push_back(*std::move(result));
    }

    // Every method starts from the task's random state as made (dropout masks of batches without
    // a noise key): a method's numbers then depend on (seed, method) alone, not on which methods
    // ran before it in this process — a rerun that skips finished runs gives the same curves.
    bilevel::TensorList initial_random_state;
    for (const at::Tensor& t : (*task)->RandomState()) initial_random_state.push_back(t.clone());

    for (const Method& method : e.methods) {
      (*task)->SetRandomState(initial_random_state);
      // A data-parallel solve sums in another order: its last digits depend on the world size.
      std::string options = method.options.empty() ? method.settings : method.options;
      if (method.data_parallel && WorldSize(e) > 1) {
        absl::StrAppend(&options, ", world_size=", WorldSize(e));
      }
      MethodRun run(e, method, seed, task->get(), runs,
                    RunFingerprint(e, data_description, options));
      run_files.push_back(run.csv_path());
      absl::StatusOr<std::string> json = run.FinishedOrRun();
      if (!json.ok()) return json.status();
      run_summaries.push_back(*std::move(json));
    }
  }

  if (!Writes(e)) return absl::OkStatus();
  // curves.csv: every run, in order, then the references, under one header.
  run_files.insert(run_files.end(), reference_rows.begin(), reference_rows.end());
  absl::Status written = WriteFileAtomically((dir / "curves.csv").string(), MergeCurves(run_files));
  if (!written.ok()) return written;
  return WriteFileAtomically(
      (dir / "manifest.json").string(),
      ManifestJson(e, data_description, reference_results, run_summaries, SecondsSince(start)));
}

}  // namespace experiments
