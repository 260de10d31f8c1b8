// What an experiment writes: curves.csv rows, a run's JSON summary, the merged curves and the
// manifest, with the build's commit and the machine. Part of //experiments:runner.
#ifndef EXPERIMENTS_RUN_OUTPUT_H_
#define EXPERIMENTS_RUN_OUTPUT_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "experiments/runner.h"
#include "solvers/core/solver_types.h"
#include "tasks/task.h"

namespace experiments {

// %.10g, or "nan"/"inf".
std::string Number(double v);
// A JSON number, or null when not finite.
std::string JsonNumber(double v);

// One curves.csv row and its header (which depends on the task's metrics).
std::pair<std::string, std::string> CsvRow(const std::string& method, uint64_t seed,
                                           const std::string& evaluated_at, int64_t iteration,
                                           const bilevel::OracleCounts& calls, double wall,
                                           const tasks::TaskMetrics& m);

// The task's metrics as a JSON object (non-finite values as null).
std::string MetricsJson(const tasks::TaskMetrics& m);

// A finished run's JSON summary (runs/<method>__seed<k>.json and the manifest's "runs").
struct RunRecord {
  std::string method;
  uint64_t seed = 0;
  const bilevel::SolverSummary* summary = nullptr;
  double evaluation_seconds = 0;
  std::string retrained_test_accuracy = "null";  // a JSON number or null
  // Experiment::kept_retrain's: a JSON number or null; empty (no field) without one.
  std::string kept_retrain_test_accuracy;
  int64_t exact_inner_unconverged = 0;
  std::string settings, fingerprint;
};
std::string RunJson(const RunRecord& run);

// curves.csv: the rows of every file of `csv_paths` in order, under the first file's header.
std::string MergeCurves(const std::vector<std::string>& csv_paths);

// manifest.json. `references` are the per-seed JSON results of each of e.references, in order.
std::string ManifestJson(const Experiment& e, const std::string& data_description,
                         const std::vector<std::vector<std::string>>& references,
                         const std::vector<std::string>& run_summaries, double wall_seconds);

}  // namespace experiments

#endif  // EXPERIMENTS_RUN_OUTPUT_H_
