#include "experiments/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "c10/util/Exception.h"
#include "solvers/core/checkpoint.h"
#include "solvers/core/runtime.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;


std::string Number(double v) {
  return std::isfinite(v) ? absl::StrFormat("%.10g", v)
                          : std::string(std::isnan(v) ? "nan" : "inf");
}

std::string Hostname() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

}  // namespace

std::string BuildCommit() {
  if (const char* commit = std::getenv("BILEVEL_COMMIT"); commit != nullptr && *commit) {
    return commit;
  }
  if (const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY"); ws != nullptr) {
    const std::string command = absl::StrCat("git -C '", ws, "' rev-parse HEAD 2>/dev/null");
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char buf[64] = {0};
      const bool got = fgets(buf, sizeof(buf), pipe) != nullptr;
      pclose(pipe);
      if (got) {
        std::string s = buf;
        while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
        if (!s.empty()) return s;
      }
    }
  }
  return "unknown (not run from a git checkout; set BILEVEL_COMMIT)";
}

std::string DescribeYardstick(const Experiment& e) {
  return absl::StrCat(ToString(e.yardstick), " | ",
                      e.yardstick == Yardstick::kExactInner ? bilevel::ToString(e.exact_inner)
                                                            : bilevel::ToString(e.retrain));
}

std::string ToString(Yardstick yardstick) {
  switch (yardstick) {
    case Yardstick::kExactInner:
      return "exact_inner";
    case Yardstick::kInnerIterate:
      return "inner_iterate";
  }
  return "unknown";
}

namespace {

const std::vector<std::string>& CounterColumns() {
  static const std::vector<std::string> names = {"method",
                                                 "seed",
                                                 "evaluated_at",
                                                 "iteration",
                                                 "gradient_calls",
                                                 "hessian_vector_products",
                                                 "jacobian_vector_products",
                                                 "gradient_call_equivalents",
                                                 "wall_time_seconds"};
  return names;
}

// One curves.csv row (and its header, which depends on the task's metrics).
std::pair<std::string, std::string> CsvRow(const std::string& method, uint64_t seed,
                                           const std::string& evaluated_at, int64_t iteration,
                                           const bilevel::OracleCounts& calls, double wall,
                                           const tasks::TaskMetrics& m) {
  const int64_t second_order = calls.hessian_vector_products + calls.jacobian_vector_products;
  std::vector<std::string> names = CounterColumns();
  std::vector<std::string> cells = {method,
                                    absl::StrCat(seed),
                                    evaluated_at,
                                    absl::StrCat(iteration),
                                    absl::StrCat(calls.GradientCalls()),
                                    absl::StrCat(calls.hessian_vector_products),
                                    absl::StrCat(calls.jacobian_vector_products),
                                    absl::StrCat(calls.GradientCalls() + 2 * second_order),
                                    Number(wall)};
  for (const auto& [name, value] : m.Named()) {
    names.push_back(name);
    cells.push_back(Number(value));
  }
  return {absl::StrJoin(names, ","), absl::StrJoin(cells, ",")};
}

std::string MetricsJson(const tasks::TaskMetrics& m) {
  std::vector<std::string> fields;
  for (const auto& [name, value] : m.Named()) {
    fields.push_back(absl::StrCat(JsonString(name), ": ",
                                  std::isfinite(value) ? Number(value) : std::string("null")));
  }
  return absl::StrCat("{", absl::StrJoin(fields, ", "), "}");
}

std::string JsonNumber(double v) { return std::isfinite(v) ? Number(v) : std::string("null"); }

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
  bilevel::RetrainOptions recipe = e.retrain;
  recipe.seed = seed;
  absl::StatusOr<bilevel::InnerSolveResult> trained = bilevel::Retrain(&task, x, recipe);
  if (!trained.ok()) return trained.status();
  *how = trained->finite ? "retrained" : "retrain diverged";
  return task.Evaluate(x, trained->y);
}

// What a finished run's numbers depend on besides its seed: the figure, preset, device, data,
// yardstick (and its solve or retrain recipe), evaluation spacing and the method's options —
// written in this order, " | " between them (the yardstick's kind and recipe are two parts).
std::string RunFingerprint(const Experiment& e, const std::string& data_description,
                           const std::string& settings) {
  return absl::StrCat(e.figure, " | ", e.preset, " | ", e.device, " | ", data_description, " | ",
                      DescribeYardstick(e), " | eval every ", e.eval_every_gradient_calls, " | ",
                      settings);
}

// Why a recorded fingerprint is not this run's, in words: the first part that differs.
std::string FingerprintDifference(const std::string& recorded, const std::string& expected) {
  static const char* const kParts[] = {"figure",    "preset",           "device",
                                       "data",      "yardstick",        "yardstick's recipe",
                                       "evaluation spacing", "options"};
  constexpr size_t kNumParts = sizeof(kParts) / sizeof(kParts[0]);
  const std::vector<std::string> there =
      absl::StrSplit(recorded, absl::MaxSplits(" | ", kNumParts - 1));
  const std::vector<std::string> here =
      absl::StrSplit(expected, absl::MaxSplits(" | ", kNumParts - 1));
  if (there.size() == kNumParts && here.size() == kNumParts) {
    for (size_t i = 0; i < kNumParts; ++i) {
      if (there[i] == here[i]) continue;
      // Long parts (settings, data) are lists "a, b, c": name only the items that differ.
      std::vector<std::string> a = absl::StrSplit(there[i], ", "), b = absl::StrSplit(here[i], ", ");
      if (a.size() != b.size()) a = {there[i]}, b = {here[i]};
      std::vector<std::string> was, is;
      for (size_t k = 0; k < a.size(); ++k) {
        if (a[k] != b[k]) was.push_back(a[k]), is.push_back(b[k]);
      }
      return absl::StrCat("its ", kParts[i], " differ", i + 1 == kNumParts ? "" : "s", ": '",
                          absl::StrJoin(was, ", "), "' there, '", absl::StrJoin(is, ", "),
                          "' here");
    }
  }
  return absl::StrCat("its fingerprint differs: '", recorded, "' there, '", expected, "' here");
}

// Why a finished run's (or reference's) files cannot be reused, or "" when they can: both must
// parse (a JSON object; a CSV of a header and at least one row, every line as wide as the header)
// and the JSON must record this run's fingerprint.
std::string WhyNotReusable(const std::string& json, const std::string& csv,
                           const std::string& fingerprint) {
  if (json.empty() || json.front() != '{' || json.back() != '}') {
    return "its JSON is empty or truncated";
  }
  if (csv.empty() || csv.back() != '\n') return "its CSV is empty or truncated";
  const std::vector<std::string> lines =
      absl::StrSplit(absl::string_view(csv).substr(0, csv.size() - 1), '\n');
  if (lines.size() < 2) return "its CSV has no row";
  const auto width = std::count(lines[0].begin(), lines[0].end(), ',');
  for (const std::string& line : lines) {
    if (std::count(line.begin(), line.end(), ',') != width) return "its CSV is malformed";
  }
  const std::optional<std::string> recorded = JsonStringField(json, "fingerprint");
  if (!recorded) return "its JSON records no fingerprint";
  if (*recorded != fingerprint) return FingerprintDifference(*recorded, fingerprint);
  return "";
}

// Moves each existing file of `paths` to `<path><suffix>` (".stale", ".damaged"; replacing an
// older one): files that are not used are kept for inspection, never merged, never deleted.
absl::Status SetAside(const std::vector<std::string>& paths, const std::string& suffix) {
  for (const std::string& path : paths) {
    if (!fs::exists(path)) continue;
    std::error_code ec;
    fs::rename(path, path + suffix, ec);
    if (ec) {
      return absl::PermissionDeniedError(absl::StrCat("cannot move ", path, " aside to ", path,
                                                      suffix, ": ", ec.message(),
                                                      "; move or delete it and rerun"));
    }
  }
  return absl::OkStatus();
}

// A finished run's (or reference's) JSON when its files can be reused (it was written by this
// experiment and both files parse); nullopt when it must be computed — none there, or files that
// are set aside with one line saying why.
absl::StatusOr<std::optional<std::string>> ReuseFinished(const std::string& json_path,
                                                         const std::string& csv_path,
                                                         const std::string& fingerprint,
                                                         const std::string& who) {
  if (!fs::exists(json_path) || !fs::exists(csv_path)) return std::nullopt;
  std::string json = ReadFileToString(json_path);
  const std::string why = WhyNotReusable(json, ReadFileToString(csv_path), fingerprint);
  if (why.empty()) return std::optional<std::string>(std::move(json));
  absl::Status moved = SetAside({json_path, csv_path}, ".stale");
  if (!moved.ok()) return moved;
  std::cerr << who << ": not reusing " << json_path << " (" << why
            << "); moved it and its .csv to *.stale, computing it again\n";
  return std::nullopt;
}

// A checkpoint that cannot be read back whole (truncated, overwritten, not one of ours, or
// lacking a part every solver writes) is moved aside to `<path>.damaged` with a warning, and the
// run starts over: the damaged bytes are kept for inspection and nobody must delete a file by
// hand. A whole checkpoint of another run (its fingerprint differs) is moved to `<path>.stale`
// with one line saying why, and the run starts over too.
absl::Status SetAsideIfUnusable(const std::string& path, const std::string& fingerprint,
                                const std::string& who) {
  if (!fs::exists(path)) return absl::OkStatus();
  absl::StatusOr<bilevel::SolverState> state = bilevel::SolverState::Load(path);
  std::string problem;
  if (!state.ok()) {
    problem = absl::StrReplaceAll(state.status().message(), {{"; delete it to start over", ""}});
  } else {
    for (const char* key : {"solver", "fingerprint", "user_state"}) {
      if (problem.empty() && !state->GetString(key).ok()) problem = absl::StrCat("no '", key, "'");
    }
    if (problem.empty() && !state->GetInt("seed").ok()) problem = "no 'seed'";
  }
  if (problem.empty()) {
    const std::string recorded = *state->GetString("fingerprint");
    if (recorded == fingerprint) return absl::OkStatus();
    absl::Status moved = SetAside({path}, ".stale");
    if (!moved.ok()) return moved;
    std::cerr << who << ": not resuming " << path << " ("
              << FingerprintDifference(recorded, fingerprint) << "); moved it to " << path
              << ".stale, the run starts over\n";
    return absl::OkStatus();
  }
  absl::Status moved = SetAside({path}, ".damaged");
  if (!moved.ok()) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint ", path, " is damaged (", problem, ") and ", moved.message()));
  }
  std::cerr << who << ": WARNING: the checkpoint " << path << " is damaged (" << problem
            << "); moved it to " << path << ".damaged, the run starts over\n";
  return absl::OkStatus();
}

}  // namespace

absl::Status Run(const Experiment& e, const TaskFactory& make_task) {
  const auto start = std::chrono::steady_clock::now();
  const fs::path dir = e.output_dir;
  std::error_code ec;
  fs::create_directories(dir / "runs", ec);
  if (ec) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create output folder ", (dir / "runs").string(), ": ", ec.message()));
  }
  std::string header;
  std::vector<std::string> run_files, run_summaries, reference_rows;
  std::map<std::string, std::vector<std::string>> reference_results;  // name → per-seed JSON
  std::string data_description;
  for (uint64_t seed : e.seeds) {
    absl::StatusOr<std::unique_ptr<tasks::Task>> task = make_task(seed);
    if (!task.ok()) return task.status();
    data_description = (*task)->DataDescription();

    // The reference lines of this seed (computed once; a rerun reads them back).
    for (const Reference& reference : e.references) {
      const std::string path =
          (dir / "runs" / absl::StrCat("reference_", reference.name, "__seed", seed, ".json"))
              .string();
      const std::string csv_path =
          (dir / "runs" / absl::StrCat("reference_", reference.name, "__seed", seed, ".csv"))
              .string();
      const std::string reference_fingerprint = RunFingerprint(
          e, data_description, absl::StrCat("reference ", reference.name, ": ",
                                            reference.description));
      absl::StatusOr<std::optional<std::string>> finished =
          ReuseFinished(path, csv_path, reference_fingerprint, e.figure);
      if (!finished.ok()) return finished.status();
      std::string result = finished->value_or("");  // the reference's JSON
      if (!finished->has_value()) {
        const auto t0 = std::chrono::steady_clock::now();
        std::string how;
        absl::StatusOr<tasks::TaskMetrics> m = ScoreReference(e, reference, seed, &how);
        if (!m.ok()) {
          return absl::Status(m.status().code(), absl::StrCat(e.figure, " reference '",
                                                              reference.name, "': ",
                                                              m.status().message()));
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << absl::StrFormat("%s [reference %s seed %d] %s: test accuracy %.4f (%.1f s)\n",
                                     e.figure, reference.name, seed, how, m->test_accuracy,
                                     seconds);
        const auto [row_header, row] =
            CsvRow(reference.name, seed, "reference", -1, bilevel::OracleCounts{}, 0.0, *m);
        result = absl::StrFormat(
            "{\"seed\": %d, \"how\": %s, \"seconds\": %.3f, \"metrics\": %s, \"fingerprint\": %s}",
            seed, JsonString(how), seconds, MetricsJson(*m), JsonString(reference_fingerprint));
        absl::Status written = WriteFileAtomically(csv_path, row_header + "\n" + row + "\n");
        if (written.ok()) written = WriteFileAtomically(path, result);
        if (!written.ok()) return written;
      }
      reference_rows.push_back(csv_path);
      reference_results[reference.name].push_back(std::move(result));
    }

    // Every method starts from the task's random state as made (dropout masks of batches without
    // a noise key): a method's numbers then depend on (seed, method) alone, not on which methods
    // ran before it in this process — a rerun that skips finished runs gives the same curves.
    bilevel::TensorList initial_random_state;
    for (const at::Tensor& t : (*task)->RandomState()) initial_random_state.push_back(t.clone());

    for (const Method& method : e.methods) {
      (*task)->SetRandomState(initial_random_state);
      const std::string stem = absl::StrCat(method.name, "__seed", seed);
      const std::string run_csv = (dir / "runs" / (stem + ".csv")).string();
      const std::string run_json = (dir / "runs" / (stem + ".json")).string();
      run_files.push_back(run_csv);
      const std::string fingerprint = RunFingerprint(
          e, data_description, method.options.empty() ? method.settings : method.options);
      absl::StatusOr<std::optional<std::string>> finished =
          ReuseFinished(run_json, run_csv, fingerprint, e.figure);
      if (!finished.ok()) return finished.status();
      if (finished->has_value()) {
        std::cerr << e.figure << ": " << stem << " already done, skipping (resume)\n";
        run_summaries.push_back(**std::move(finished));
        continue;
      }
      std::string rows;
      double evaluation_seconds = 0;
      int64_t next_eval = e.eval_every_gradient_calls, last_evaluated = -1;
      int64_t exact_unconverged = 0;  // exact inner solves that missed their tolerance
      // Scores (x, inner) by the figure's yardstick and appends the row(s). `record` is set for
      // the evaluations made from the solver's callback (on its clock).
      auto evaluate = [&](int64_t iteration, const bilevel::OracleCounts& calls,
                          double solver_clock, const bilevel::TensorList& x,
                          const bilevel::TensorList& y, const bilevel::TensorList& inner,
                          const bilevel::IterationRecord* record) {
        const auto t0 = std::chrono::steady_clock::now();
        const double wall = solver_clock - evaluation_seconds;
        tasks::TaskMetrics m;
        std::string at;
        if (e.yardstick == Yardstick::kExactInner) {
          absl::StatusOr<bilevel::InnerSolveResult> solved =
              bilevel::SolveInnerExactly(task->get(), x, inner, e.exact_inner);
          TORCH_CHECK(solved.ok(), solved.status().ToString());  // options checked by the figure
          if (!solved->converged) {
            ++exact_unconverged;
            std::cerr << absl::StrFormat(
                "%s [%s seed %d] the exact inner solve stopped at |grad_y g| = %.3g after %d "
                "iterations (tolerance %g)\n",
                e.figure, method.name, seed, solved->gradient_norm, solved->iterations,
                e.exact_inner.gradient_tolerance);
          }
          m = (*task)->Evaluate(x, solved->y);
          at = "exact_inner";
        } else {
          m = (*task)->Evaluate(x, inner);
          at = "inner_iterate";
        }
        auto [row_header, row] = CsvRow(method.name, seed, at, iteration, calls, wall, m);
        header = row_header;
        absl::StrAppend(&rows, row, "\n");
        if (method.also_score_y && e.yardstick == Yardstick::kInnerIterate) {
          const tasks::TaskMetrics my = (*task)->Evaluate(x, y);
          absl::StrAppend(&rows,
                          CsvRow(method.name, seed, "minimax_y", iteration, calls, wall, my).second,
                          "\n");
        }
        // Only evaluations from inside the solve ran on the solver's clock (the first, before
        // the solve, and the last, after it, did not): those are taken out of its wall time.
        if (record != nullptr) {
          evaluation_seconds +=
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        }
        // Progress: the solver clock (it survives resumes and includes evaluation) and, when the
        // method's length is known, the time left at the pace so far.
        std::string where = iteration < 0 ? "start" : absl::StrCat("iter ", iteration);
        if (iteration >= 0 && method.total_iterations > 0) {
          absl::StrAppend(&where, "/", method.total_iterations);
        }
        if (const std::string weight = record != nullptr ? bilevel::StageWeight(*record) : "";
            !weight.empty()) {  // staged solvers
          where = absl::StrFormat("stage %d, %s, %s", record->stage, weight, where);
        }
        std::string left;
        if (method.total_iterations > 0 && iteration >= 0) {
          const double pace = solver_clock / static_cast<double>(iteration + 1);
          left =
              absl::StrFormat(", ~%.0f s left",
                              pace * static_cast<double>(method.total_iterations - iteration - 1));
        }
        std::cerr << absl::StrFormat(
            "%s [%s seed %d] %s, gradient calls %d, validation loss %.5g, test accuracy %.4f "
            "(%s), %.1f s%s\n",
            e.figure, method.name, seed, where, calls.GradientCalls(), m.validation_loss,
            m.test_accuracy, at, solver_clock, left);
        last_evaluated = iteration;
      };
      // The runner's part of a checkpoint: its counters, then the header and the rows so far.
      bilevel::CheckpointOptions checkpoint;
      const std::string run_checkpoint = (dir / "runs" / (stem + ".ckpt")).string();
      if (e.checkpoint_every_seconds > 0) {
        checkpoint.path = run_checkpoint;
        checkpoint.every_iterations = 0;
        checkpoint.every_seconds = e.checkpoint_every_seconds;
        checkpoint.fingerprint = fingerprint;
        checkpoint.save_user_state = [&] {
          return absl::StrFormat("%d %d %.17g %d\n%s\n%s", next_eval, last_evaluated,
                                 evaluation_seconds, exact_unconverged, header, rows);
        };
        checkpoint.restore_user_state = [&](const std::string& saved) {
          std::istringstream in(saved);
          std::string counters, saved_header;
          if (!std::getline(in, counters) || !std::getline(in, saved_header) ||
              !(std::istringstream(counters) >> next_eval >> last_evaluated >> evaluation_seconds >>
                exact_unconverged)) {
            return absl::DataLossError("the runner's part of the checkpoint is malformed");
          }
          header = saved_header;
          rows = std::string(std::istreambuf_iterator<char>(in), {});
          std::cerr << e.figure << ": " << stem << " resumes from " << run_checkpoint << " ("
                    << std::count(rows.begin(), rows.end(), '\n') << " curve points so far)\n";
          return absl::OkStatus();
        };
      }
      if (!checkpoint.path.empty()) {
        absl::Status usable = SetAsideIfUnusable(run_checkpoint, fingerprint, e.figure);
        if (!usable.ok()) return usable;
      }
      if (checkpoint.path.empty() || !fs::exists(run_checkpoint)) {  // a fresh start
        const bilevel::TensorList y0 = (*task)->InitialInner();
        evaluate(-1, bilevel::OracleCounts{}, 0.0, (*task)->InitialOuter(), y0, y0, nullptr);
      }
      bilevel::IterateCallback observer = [&](const bilevel::IterationRecord& r,
                                              const bilevel::IterateView& it) {
        const int64_t calls = r.oracle_calls.GradientCalls();
        if (calls >= next_eval) {
          evaluate(r.iteration, r.oracle_calls, r.wall_time_seconds, it.x, it.y, it.inner, &r);
          next_eval = (calls / e.eval_every_gradient_calls + 1) * e.eval_every_gradient_calls;
        }
        return bilevel::CallbackResult::kContinue;
      };
      bilevel::SolverSummary summary;
      absl::Status status = method.run(task->get(), seed, observer, checkpoint, &summary);
      if (!status.ok()) {
        return absl::Status(status.code(),
                            absl::StrCat(e.figure, " ", method.name, ": ", status.message()));
      }
      if (summary.termination == bilevel::TerminationType::kCheckpointFailed) {
        return absl::UnavailableError(absl::StrCat(
            e.figure, " ", method.name, ": ", summary.message,
            "; free disk space or fix the permissions of ", (dir / "runs").string(), " and rerun"));
      }
      const bool usable = summary.IsSolutionUsable();
      const bilevel::TensorList& final_inner = summary.inner.empty() ? summary.y : summary.inner;
      if (usable && summary.num_iterations - 1 != last_evaluated) {
        evaluate(summary.num_iterations - 1, summary.oracle_calls, summary.total_time_seconds,
                 summary.x, summary.y, final_inner, nullptr);
      }
      if (summary.termination == bilevel::TerminationType::kNonFinite) {
        std::cerr << e.figure << " [" << method.name << " seed " << seed
                  << "] FAILED: " << summary.message << "\n";
      }
      // The retrain: a fresh model on g(x_final, ·) with the figure's one recipe.
      std::string retrained = "null";
      if (e.yardstick == Yardstick::kInnerIterate && usable) {
        const auto t0 = std::chrono::steady_clock::now();
        bilevel::RetrainOptions recipe = e.retrain;
        recipe.seed = seed;
        absl::StatusOr<bilevel::InnerSolveResult> trained =
            bilevel::Retrain(task->get(), summary.x, recipe);
        if (!trained.ok()) {
          return absl::Status(trained.status().code(), absl::StrCat(e.figure, " ", method.name,
                                                                    " retrain: ",
                                                                    trained.status().message()));
        }
        const tasks::TaskMetrics m = (*task)->Evaluate(summary.x, trained->y);
        absl::StrAppend(&rows,
                        CsvRow(method.name, seed, "retrained", summary.num_iterations - 1,
                               summary.oracle_calls,
                               summary.total_time_seconds - evaluation_seconds, m)
                            .second,
                        "\n");
        retrained = JsonNumber(trained->finite ? m.test_accuracy : NAN);
        std::cerr << absl::StrFormat(
            "%s [%s seed %d] retrained on g(x_final, .): test accuracy %.4f%s (%.1f s)\n",
            e.figure, method.name, seed, m.test_accuracy,
            trained->finite ? "" : " (the retrain diverged)",
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
      }
      const bilevel::LinearSolverCounts& ls = summary.linear_solver;
      const std::string json = absl::StrFormat(
          "{\"method\": %s, \"seed\": %d, \"termination\": %s, \"failed\": %s, \"message\": %s, "
          "\"iterations\": %d, \"resumed_iterations\": %d, \"gradient_calls\": %d, "
          "\"gradient_call_equivalents\": %d, \"solver_seconds\": %.3f, "
          "\"evaluation_seconds\": %.3f, \"retrained_test_accuracy\": %s, "
          "\"linear_solver_solves\": %d, \"linear_solver_breakdowns\": %d, "
          "\"linear_solver_divergences\": %d, \"linear_solver_unconverged\": %d, "
          "\"exact_inner_unconverged\": %d, \"settings\": %s, \"fingerprint\": %s}",
          JsonString(method.name), seed, JsonString(bilevel::ToString(summary.termination)),
          summary.termination == bilevel::TerminationType::kNonFinite ? "true" : "false",
          JsonString(summary.message), summary.num_iterations, summary.resumed_iterations,
          summary.oracle_calls.GradientCalls(),
          summary.oracle_calls.GradientCalls() +
              2 * (summary.oracle_calls.hessian_vector_products +
                   summary.oracle_calls.jacobian_vector_products),
          summary.total_time_seconds - evaluation_seconds, evaluation_seconds, retrained,
          ls.solves, ls.breakdowns, ls.divergences, ls.unconverged, exact_unconverged,
          JsonString(method.settings), JsonString(fingerprint));
      absl::Status written = WriteFileAtomically(run_csv, header + "\n" + rows);
      if (written.ok()) written = WriteFileAtomically(run_json, json);
      if (!written.ok()) return written;
      fs::remove(run_checkpoint, ec);  // the run's files now hold everything it had
      run_summaries.push_back(json);
    }
  }

  // curves.csv: every run, in order, then the references, under one header.
  std::string curves;
  run_files.insert(run_files.end(), reference_rows.begin(), reference_rows.end());
  for (const std::string& path : run_files) {
    std::istringstream in(ReadFileToString(path));
    std::string line;
    bool first = true;
    while (std::getline(in, line)) {
      if (first) {
        if (curves.empty()) curves = line + "\n";
        first = false;
        continue;
      }
      curves += line + "\n";
    }
  }
  absl::Status written = WriteFileAtomically((dir / "curves.csv").string(), curves);
  if (!written.ok()) return written;

  std::vector<std::string> seeds;
  for (uint64_t s : e.seeds) seeds.push_back(absl::StrCat(s));
  std::vector<std::string> checksums;
  for (const std::string& line : e.data_checksums) checksums.push_back(JsonString(line));
  // References: per seed, and the mean test accuracy over seeds.
  std::vector<std::string> references;
  for (const Reference& reference : e.references) {
    const std::vector<std::string>& per_seed = reference_results[reference.name];
    double sum = 0;
    int n = 0;
    for (const std::string& json : per_seed) {
      const size_t at = json.find("\"test_accuracy\": ");
      if (at == std::string::npos) continue;
      const double v = std::strtod(json.c_str() + at + 17, nullptr);
      if (std::isfinite(v)) {
        sum += v;
        ++n;
      }
    }
    references.push_back(absl::StrFormat(
        "{\"name\": %s, \"description\": %s, \"test_accuracy\": %s, \"per_seed\": [%s]}",
        JsonString(reference.name), JsonString(reference.description),
        JsonNumber(n > 0 ? sum / n : NAN), absl::StrJoin(per_seed, ", ")));
  }
  std::string yardstick = absl::StrCat("\"", ToString(e.yardstick), "\": ");
  if (e.yardstick == Yardstick::kExactInner) {
    absl::StrAppend(&yardstick, JsonString(bilevel::ToString(e.exact_inner)));
  } else {
    absl::StrAppend(&yardstick, JsonString(absl::StrCat(
                                    "each point at the method's g-only inner iterate; retrain: ",
                                    bilevel::ToString(e.retrain))));
  }
  std::string extra;
  for (const auto& [key, value] : e.manifest_fields) {
    absl::StrAppend(&extra, "  ", JsonString(key), ": ", value, ",\n");
  }
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string manifest = absl::StrFormat(
      "{\n  \"figure\": %s,\n  \"preset\": %s,\n  \"device\": %s,\n  \"seeds\": [%s],\n"
      "  \"data\": %s,\n  \"data_checksums\": [%s],\n  \"notes\": %s,\n  \"commit\": %s,\n  "
      "\"machine\": {\"host\": %s, "
      "\"cores\": %d, \"runtime\": %s},\n  \"wall_time_seconds\": %.1f,\n"
      "  \"eval_every_gradient_calls\": %d,\n  \"yardstick\": {%s},\n  \"budget\": %s,\n"
      "  \"tuning\": %s,\n%s  \"references\": [\n    %s\n  ],\n  \"runs\": [\n    %s\n  ]\n}\n",
      JsonString(e.figure), JsonString(e.preset), JsonString(e.device), absl::StrJoin(seeds, ", "),
      JsonString(data_description), absl::StrJoin(checksums, ", "), JsonString(e.notes),
      JsonString(BuildCommit()), JsonString(Hostname()), std::thread::hardware_concurrency(),
      JsonString(bilevel::DescribeCpuRuntime()), total, e.eval_every_gradient_calls, yardstick,
      JsonString(e.budget), e.tuning.empty() ? std::string("{}") : e.tuning, extra,
      absl::StrJoin(references, ",\n    "), absl::StrJoin(run_summaries, ",\n    "));
  return WriteFileAtomically((dir / "manifest.json").string(), manifest);
}

}  // namespace experiments
