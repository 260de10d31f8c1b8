#include "experiments/runner.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "solvers/runtime.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

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

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << contents) || !out.flush()) {
      return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
    }
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

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
  std::vector<std::string> run_files, run_summaries;
  std::string data_description;
  for (uint64_t seed : e.seeds) {
    absl::StatusOr<std::unique_ptr<tasks::Task>> task = make_task(seed);
    if (!task.ok()) return task.status();
    data_description = (*task)->DataDescription();
    for (const Method& method : e.methods) {
      const std::string stem = absl::StrCat(method.name, "__seed", seed);
      const std::string run_csv = (dir / "runs" / (stem + ".csv")).string();
      const std::string run_json = (dir / "runs" / (stem + ".json")).string();
      run_files.push_back(run_csv);
      if (fs::exists(run_csv) && fs::exists(run_json)) {
        std::cerr << e.figure << ": " << stem << " already done, skipping (resume)\n";
        run_summaries.push_back(ReadAll(run_json));
        continue;
      }
      std::string rows;
      double evaluation_seconds = 0;
      int64_t next_eval = e.eval_every_gradient_calls, last_evaluated = -1;
      auto evaluate = [&](int64_t iteration, const bilevel::OracleCounts& calls,
                          double solver_clock, const bilevel::TensorList& x,
                          const bilevel::TensorList& y, const bilevel::IterationRecord* record) {
        const auto t0 = std::chrono::steady_clock::now();
        const tasks::TaskMetrics m = (*task)->Evaluate(x, y);
        const double wall = solver_clock - evaluation_seconds;
        evaluation_seconds +=
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::vector<std::string> cells = {method.name,
                                          absl::StrCat(seed),
                                          absl::StrCat(iteration),
                                          absl::StrCat(calls.GradientCalls()),
                                          absl::StrCat(calls.hessian_vector_products),
                                          absl::StrCat(calls.jacobian_vector_products),
                                          Number(wall)};
        std::vector<std::string> names = {"method",
                                          "seed",
                                          "iteration",
                                          "gradient_calls",
                                          "hessian_vector_products",
                                          "jacobian_vector_products",
                                          "wall_time_seconds"};
        for (const auto& [name, value] : m.Named()) {
          names.push_back(name);
          cells.push_back(Number(value));
        }
        header = absl::StrJoin(names, ",");
        absl::StrAppend(&rows, absl::StrJoin(cells, ","), "\n");
        // Progress: the solver clock (it survives resumes and includes evaluation) and, when the
        // method's length is known, the time left at the pace so far.
        std::string where = iteration < 0 ? "start" : absl::StrCat("iter ", iteration);
        if (iteration >= 0 && method.total_iterations > 0) {
          absl::StrAppend(&where, "/", method.total_iterations);
        }
        if (record != nullptr && record->lambda > 0) {  // staged solvers: MinimaxOPT
          where =
              absl::StrFormat("stage %d, lambda %.4g, %s", record->stage, record->lambda, where);
        }
        std::string left;
        if (method.total_iterations > 0 && iteration >= 0) {
          const double pace = solver_clock / static_cast<double>(iteration + 1);
          left =
              absl::StrFormat(", ~%.0f s left",
                              pace * static_cast<double>(method.total_iterations - iteration - 1));
        }
        std::cerr << absl::StrFormat(
            "%s [%s seed %d] %s, gradient calls %d, validation loss %.5g, test accuracy %.4f, "
            "%.1f s%s\n",
            e.figure, method.name, seed, where, calls.GradientCalls(), m.validation_loss,
            m.test_accuracy, solver_clock, left);
        last_evaluated = iteration;
      };
      // The runner's part of a checkpoint: its counters, then the header and the rows so far.
      bilevel::CheckpointOptions checkpoint;
      const std::string run_checkpoint = (dir / "runs" / (stem + ".ckpt")).string();
      if (e.checkpoint_every_seconds > 0) {
        checkpoint.path = run_checkpoint;
        checkpoint.every_iterations = 0;
        checkpoint.every_seconds = e.checkpoint_every_seconds;
        checkpoint.fingerprint = absl::StrCat(e.figure, " ", e.preset, " ", method.settings);
        checkpoint.save_user_state = [&] {
          return absl::StrFormat("%d %d %.17g\n%s\n%s", next_eval, last_evaluated,
                                 evaluation_seconds, header, rows);
        };
        checkpoint.restore_user_state = [&](const std::string& saved) {
          std::istringstream in(saved);
          std::string counters, saved_header;
          if (!std::getline(in, counters) || !std::getline(in, saved_header) ||
              !(std::istringstream(counters) >> next_eval >> last_evaluated >>
                evaluation_seconds)) {
            return absl::DataLossError("the runner's part of the checkpoint is malformed");
          }
          header = saved_header;
          rows = std::string(std::istreambuf_iterator<char>(in), {});
          std::cerr << e.figure << ": " << stem << " resumes from " << run_checkpoint << " ("
                    << std::count(rows.begin(), rows.end(), '\n') << " curve points so far)\n";
          return absl::OkStatus();
        };
      }
      if (checkpoint.path.empty() || !fs::exists(run_checkpoint)) {  // a fresh start
        evaluate(-1, bilevel::OracleCounts{}, 0.0, (*task)->InitialOuter(), (*task)->InitialInner(),
                 nullptr);
      }
      bilevel::IterateCallback observer = [&](const bilevel::IterationRecord& r,
                                              const bilevel::IterateView& it) {
        const int64_t calls = r.oracle_calls.GradientCalls();
        if (calls >= next_eval) {
          evaluate(r.iteration, r.oracle_calls, r.wall_time_seconds, it.x, it.y, &r);
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
      if (summary.IsSolutionUsable() && summary.num_iterations - 1 != last_evaluated) {
        evaluate(summary.num_iterations - 1, summary.oracle_calls, summary.total_time_seconds,
                 summary.x, summary.y, nullptr);
      }
      const std::string json = absl::StrFormat(
          "{\"method\": %s, \"seed\": %d, \"termination\": %s, \"message\": %s, "
          "\"iterations\": %d, \"resumed_iterations\": %d, \"gradient_calls\": %d, "
          "\"solver_seconds\": %.3f, "
          "\"evaluation_seconds\": %.3f, \"settings\": %s}",
          JsonString(method.name), seed, JsonString(bilevel::ToString(summary.termination)),
          JsonString(summary.message), summary.num_iterations, summary.resumed_iterations,
          summary.oracle_calls.GradientCalls(), summary.total_time_seconds - evaluation_seconds,
          evaluation_seconds, JsonString(method.settings));
      absl::Status written = WriteFileAtomically(run_csv, header + "\n" + rows);
      if (written.ok()) written = WriteFileAtomically(run_json, json);
      if (!written.ok()) return written;
      fs::remove(run_checkpoint, ec);  // the run's files now hold everything it had
      run_summaries.push_back(json);
    }
  }

  // curves.csv: every run, in order, under one header.
  std::string curves;
  for (const std::string& path : run_files) {
    std::istringstream in(ReadAll(path));
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
  const double total =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::string manifest = absl::StrFormat(
      "{\n  \"figure\": %s,\n  \"preset\": %s,\n  \"device\": %s,\n  \"seeds\": [%s],\n"
      "  \"data\": %s,\n  \"data_checksums\": [%s],\n  \"notes\": %s,\n  \"commit\": %s,\n  "
      "\"machine\": {\"host\": %s, "
      "\"cores\": %d, \"runtime\": %s},\n  \"wall_time_seconds\": %.1f,\n"
      "  \"eval_every_gradient_calls\": %d,\n  \"runs\": [\n    %s\n  ]\n}\n",
      JsonString(e.figure), JsonString(e.preset), JsonString(e.device), absl::StrJoin(seeds, ", "),
      JsonString(data_description), absl::StrJoin(checksums, ", "), JsonString(e.notes),
      JsonString(BuildCommit()), JsonString(Hostname()), std::thread::hardware_concurrency(),
      JsonString(bilevel::DescribeCpuRuntime()), total, e.eval_every_gradient_calls,
      absl::StrJoin(run_summaries, ",\n    "));
  return WriteFileAtomically((dir / "manifest.json").string(), manifest);
}

}  // namespace experiments
