#include "experiments/run_output.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "experiments/results.h"
#include "solvers/core/runtime.h"

namespace experiments {
namespace {

std::string Hostname() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0) return "unknown";
  return name;
}

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

}  // namespace

std::string Number(double v) {
  return std::isfinite(v) ? absl::StrFormat("%.10g", v)
                          : std::string(std::isnan(v) ? "nan" : "inf");
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

// One curves.csv row (and its header, which depends on the task's metrics).
std::pair<std::string, std::string> CsvRow(const std::string& method, uint64_t seed,
                                           const std::string& evaluated_at, int64_t iteration,
                                           const bilevel::OracleCounts& calls, double wall,
                                           const tasks::TaskMetrics& m) {
  std::vector<std::string> names = CounterColumns();
  std::vector<std::string> cells = {method,
                                    absl::StrCat(seed),
                                    evaluated_at,
                                    absl::StrCat(iteration),
                                    absl::StrCat(calls.GradientCalls()),
                                    absl::StrCat(calls.hessian_vector_products),
                                    absl::StrCat(calls.jacobian_vector_products),
                                    absl::StrCat(calls.GradientCallEquivalents()),
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

std::string RunJson(const RunRecord& r) {
  const bilevel::SolverSummary& summary = *r.summary;
  const bilevel::LinearSolverCounts& ls = summary.linear_solver;
  return absl::StrFormat(
      "{\"method\": %s, \"seed\": %d, \"termination\": %s, \"failed\": %s, \"message\": %s, "
      "\"iterations\": %d, \"resumed_iterations\": %d, \"gradient_calls\": %d, "
      "\"gradient_call_equivalents\": %d, \"solver_seconds\": %.3f, "
      "\"evaluation_seconds\": %.3f, \"retrained_test_accuracy\": %s, %s"
      "\"linear_solver_solves\": %d, \"linear_solver_breakdowns\": %d, "
      "\"linear_solver_divergences\": %d, \"linear_solver_unconverged\": %d, "
      "\"exact_inner_unconverged\": %d, \"settings\": %s, \"fingerprint\": %s}",
      JsonString(r.method), r.seed, JsonString(bilevel::ToString(summary.termination)),
      summary.termination == bilevel::TerminationType::kNonFinite ? "true" : "false",
      JsonString(summary.message), summary.num_iterations, summary.resumed_iterations,
      summary.oracle_calls.GradientCalls(), summary.oracle_calls.GradientCallEquivalents(),
      summary.total_time_seconds - r.evaluation_seconds, r.evaluation_seconds,
      r.retrained_test_accuracy,
      r.kept_retrain_test_accuracy.empty()
          ? ""
          : absl::StrCat("\"kept_retrain_test_accuracy\": ", r.kept_retrain_test_accuracy, ", "),
      ls.solves, ls.breakdowns, ls.divergences, ls.unconverged, r.exact_inner_unconverged,
      JsonString(r.settings), JsonString(r.fingerprint));
}

std::string MergeCurves(const std::vector<std::string>& csv_paths) {
  std::string curves;
  for (const std::string& path : csv_paths) {
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
  return curves;
}

std::string ManifestJson(const Experiment& e, const std::string& data_description,
                         const std::vector<std::vector<std::string>>& reference_results,
                         const std::vector<std::string>& run_summaries, double wall_seconds) {
  std::vector<std::string> seeds;
  for (uint64_t s : e.seeds) seeds.push_back(absl::StrCat(s));
  std::vector<std::string> checksums;
  for (const std::string& line : e.data_checksums) checksums.push_back(JsonString(line));
  // References: per seed, and the mean test accuracy over seeds.
  std::vector<std::string> references;
  for (size_t i = 0; i < e.references.size(); ++i) {
    const Reference& reference = e.references[i];
    const std::vector<std::string>& per_seed = reference_results[i];
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
  } else if (e.yardstick == Yardstick::kProtocol) {
    absl::StrAppend(&yardstick, JsonString("each point by the task's own evaluation recipe of x "
                                           "(the notes say which); no retrain"));
  } else {
    absl::StrAppend(&yardstick, JsonString(absl::StrCat(
                                    "each point at the method's g-only inner iterate; retrain: ",
                                    bilevel::ToString(e.retrain))));
  }
  std::string extra;
  const int world_size = WorldSize(e);
  if (world_size > 1) {
    std::vector<std::string> split, whole;
    for (const Method& m : e.methods) (m.data_parallel ? split : whole).push_back(m.name);
    absl::StrAppend(
        &extra, "  \"data_parallel\": ",
        JsonString(absl::StrCat(
            split.empty() ? "no method" : absl::StrJoin(split, ", "), " split each minibatch over ",
            world_size, " ranks (c10d, Gloo: their gradients averaged by fused all-reduces); ",
            whole.empty() ? "no method" : absl::StrJoin(whole, ", "),
            " and the references ran whole on every rank; every rank scored the iterates, rank 0 "
            "wrote the outputs")),
        ",\n");
  }
  for (const auto& [key, value] : e.manifest_fields) {
    absl::StrAppend(&extra, "  ", JsonString(key), ": ", value, ",\n");
  }
  return absl::StrFormat(
      "{\n  \"figure\": %s,\n  \"preset\": %s,\n  \"device\": %s,\n  \"world_size\": %d,\n"
      "  \"seeds\": [%s],\n"
      "  \"data\": %s,\n  \"data_checksums\": [%s],\n  \"notes\": %s,\n  \"commit\": %s,\n  "
      "\"machine\": {\"host\": %s, "
      "\"cores\": %d, \"runtime\": %s},\n  \"wall_time_seconds\": %.1f,\n"
      "  \"eval_every_gradient_calls\": %d,\n  \"yardstick\": {%s},\n  \"budget\": %s,\n"
      "  \"tuning\": %s,\n%s  \"references\": [\n    %s\n  ],\n  \"runs\": [\n    %s\n  ]\n}\n",
      JsonString(e.figure), JsonString(e.preset), JsonString(e.device), world_size,
      absl::StrJoin(seeds, ", "), JsonString(data_description), absl::StrJoin(checksums, ", "),
      JsonString(e.notes), JsonString(BuildCommit()), JsonString(Hostname()),
      std::thread::hardware_concurrency(), JsonString(bilevel::DescribeCpuRuntime()), wall_seconds,
      e.eval_every_gradient_calls, yardstick, JsonString(e.budget),
      e.tuning.empty() ? std::string("{}") : e.tuning, extra, absl::StrJoin(references, ",\n    "),
      absl::StrJoin(run_summaries, ",\n    "));
}

}  // namespace experiments
