#include "experiments/tuning.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

// All grid points of a method: the Cartesian product of its rates' values, first rate slowest.
std::vector<std::vector<double>> Points(const TunableMethod& m) {
  std::vector<std::vector<double>> points = {{}};
  for (const RateGrid& rate : m.rates) {
    std::vector<std::vector<double>> next;
    for (const std::vector<double>& p : points) {
      for (double v : rate.values) {
        next.push_back(p);
        next.back().push_back(v);
      }
    }
    points = std::move(next);
  }
  return points;
}

std::string Numbers(const std::vector<double>& v) {
  std::vector<std::string> parts;
  for (double x : v) parts.push_back(absl::StrFormat("%.6g", x));
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

// The yardstick's score of a finished tuning run: the validation loss of its last headline row
// (retrained, or at the exact inner solution); +inf for a failed or missing run.
double Score(const std::string& csv_path, const std::string& json_path, const std::string& at) {
  if (ReadFileToString(json_path).find("\"failed\": true") != std::string::npos) return INFINITY;
  std::istringstream in(ReadFileToString(csv_path));
  std::string line;
  if (!std::getline(in, line)) return INFINITY;
  std::vector<std::string> header;
  std::stringstream h(line);
  for (std::string cell; std::getline(h, cell, ',');) header.push_back(cell);
  size_t at_column = header.size(), loss_column = header.size();
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == "evaluated_at") at_column = i;
    if (header[i] == "validation_loss") loss_column = i;
  }
  double score = INFINITY;
  while (std::getline(in, line)) {
    std::vector<std::string> cells;
    std::stringstream r(line);
    for (std::string cell; std::getline(r, cell, ',');) cells.push_back(cell);
    if (cells.size() != header.size() || cells[at_column] != at) continue;
    const double v = std::strtod(cells[loss_column].c_str(), nullptr);
    score = std::isfinite(v) ? v : INFINITY;
  }
  return score;
}

}  // namespace

std::vector<RateGrid> GridAround(const std::vector<std::pair<std::string, double>>& base) {
  std::vector<RateGrid> grid;
  for (const auto& [name, v] : base) grid.push_back({name, {v / 3, v, 3 * v}});
  return grid;
}

std::string TuningFingerprint(const Experiment& e, const std::vector<TunableMethod>& methods) {
  std::string out = absl::StrCat(e.figure, " | ", e.preset, " | ", e.budget, " | ",
                                 ToString(e.yardstick), " | ",
                                 e.yardstick == Yardstick::kExactInner
                                     ? bilevel::ToString(e.exact_inner)
                                     : bilevel::ToString(e.retrain),
                                 " | ", e.notes);
  for (const TunableMethod& m : methods) {
    std::vector<std::string> grid;
    for (const RateGrid& r : m.rates) grid.push_back(absl::StrCat(r.name, " ", Numbers(r.values)));
    std::vector<double> first;
    for (const RateGrid& r : m.rates) first.push_back(r.values.front());
    absl::StrAppend(&out, " || ", m.name, ": ", absl::StrJoin(grid, "; "), ": ",
                    m.make(first).settings);
  }
  return out;
}

std::string TuningPath(const std::string& dir, const Experiment& e) {
  return absl::StrCat(dir, "/", e.figure, "_", e.preset, ".json");
}

absl::StatusOr<std::string> Tune(Experiment e, const std::vector<TunableMethod>& methods,
                                 const TaskFactory& make_task, uint64_t tuning_seed) {
  const std::string fingerprint = TuningFingerprint(e, methods);
  size_t size = 0;
  e.methods.clear();
  for (const TunableMethod& m : methods) {
    const std::vector<std::vector<double>> points = Points(m);
    if (size != 0 && points.size() != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "every method needs a grid of the same size (equal terms); ", m.name, " has ",
          points.size(), ", the first method ", size));
    }
    size = points.size();
    for (size_t k = 0; k < points.size(); ++k) {
      Method run = m.make(points[k]);
      run.name = absl::StrCat(m.name, "#", k);
      run.also_score_y = false;  // the score is the yardstick's; MinimaxOPT's y is not it
      e.methods.push_back(std::move(run));
    }
  }
  e.seeds = {tuning_seed};
  e.references.clear();
  // Only the score at the end of the budget counts: no curve points in between (the exact inner
  // solves of figures 1-2 and the evaluations of 3-4 would cost a quarter of the tuning time).
  e.eval_every_gradient_calls = std::numeric_limits<int64_t>::max() / 2;
  e.output_dir = (fs::path(e.output_dir) / "tuning_runs").string();
  absl::Status status = Run(e, make_task);
  if (!status.ok()) return status;

  const std::string at = e.yardstick == Yardstick::kExactInner ? "exact_inner" : "retrained";
  std::vector<std::string> lines;
  for (const TunableMethod& m : methods) {
    const std::vector<std::vector<double>> points = Points(m);
    std::vector<std::string> scored;
    size_t best = 0;
    double best_score = INFINITY;
    for (size_t k = 0; k < points.size(); ++k) {
      const fs::path stem =
          fs::path(e.output_dir) / "runs" / absl::StrCat(m.name, "#", k, "__seed", tuning_seed);
      const double score = Score(stem.string() + ".csv", stem.string() + ".json", at);
      scored.push_back(absl::StrFormat("{\"values\": %s, \"score\": %s}", Numbers(points[k]),
                                       std::isfinite(score) ? absl::StrFormat("%.6g", score)
                                                            : std::string("null")));
      if (score < best_score) {
        best_score = score;
        best = k;
      }
    }
    std::vector<std::string> rate_names, grids;
    for (const RateGrid& r : m.rates) {
      rate_names.push_back(JsonString(r.name));
      grids.push_back(Numbers(r.values));
    }
    lines.push_back(absl::StrFormat(
        "    {\"name\": %s, \"rates\": [%s], \"grid\": [%s], \"points\": [%s], \"chosen\": %s, "
        "\"chosen_score\": %s}",
        JsonString(m.name), absl::StrJoin(rate_names, ", "), absl::StrJoin(grids, ", "),
        absl::StrJoin(scored, ", "), Numbers(points[best]),
        std::isfinite(best_score) ? absl::StrFormat("%.6g", best_score) : std::string("null")));
  }
  return absl::StrFormat(
      "{\n  \"procedure\": %s,\n  \"tuning_seed\": %d,\n  \"fingerprint\": %s,\n"
      "  \"methods\": [\n%s\n  ]\n}\n",
      JsonString(absl::StrCat(
          "a grid of ", size, " points per method (every rate at 1/3, 1 and 3 times its hand-set "
          "value), each run once at the tuning seed to the figure's budget; chosen: the lowest "
          "validation loss ",
          at == "retrained" ? "of the model retrained on g(x_final, .)" : "at y*(x_final)",
          " (never the test set)")),
      tuning_seed, JsonString(fingerprint), absl::StrJoin(lines, ",\n"));
}

absl::Status ApplyTuning(const std::string& path, const std::vector<TunableMethod>& methods,
                         Experiment* e, const Experiment* tuned_on) {
  e->methods.clear();
  if (!fs::exists(path)) {
    std::vector<std::string> hand;
    for (const TunableMethod& m : methods) {
      e->methods.push_back(m.make(m.defaults));
      hand.push_back(absl::StrCat(m.name, " ", Numbers(m.defaults)));
    }
    e->tuning = absl::StrFormat(
        "{\"procedure\": %s}",
        JsonString(absl::StrCat("not tuned (no ", path, "): hand-set rates, ",
                                absl::StrJoin(hand, "; "),
                                "; run the figure with --tune to tune them")));
    return absl::OkStatus();
  }
  const std::string file = ReadFileToString(path);
  const Experiment& tuned = tuned_on != nullptr ? *tuned_on : *e;
  const std::string expected =
      absl::StrCat("\"fingerprint\": ", JsonString(TuningFingerprint(tuned, methods)), ",\n");
  if (file.find(expected) == std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " was tuned for other settings, grids or budget than this code has; rerun the "
              "tuning (bazel run //experiments:",
        e->figure, " -- --tune --preset=", e->preset, ") and commit the new file"));
  }
  for (const TunableMethod& m : methods) {
    const size_t at = file.find(absl::StrCat("{\"name\": ", JsonString(m.name), ", "));
    const size_t chosen = at == std::string::npos ? at : file.find("\"chosen\": [", at);
    if (chosen == std::string::npos) {
      return absl::DataLossError(absl::StrCat(path, " has no chosen values for ", m.name,
                                              "; rerun the tuning"));
    }
    std::vector<double> values;
    const char* p = file.c_str() + chosen + 11;
    while (*p != ']' && *p != '\0') {
      char* end = nullptr;
      const double v = std::strtod(p, &end);
      if (end == p) break;
      values.push_back(v);
      p = end;
      while (*p == ',' || *p == ' ') ++p;
    }
    if (values.size() != m.rates.size() || *p != ']') {
      return absl::DataLossError(
          absl::StrCat(path, ": the chosen values of ", m.name, " are malformed; rerun the tuning"));
    }
    e->methods.push_back(m.make(values));
  }
  e->tuning = file;
  while (!e->tuning.empty() && e->tuning.back() == '\n') e->tuning.pop_back();
  return absl::OkStatus();
}

}  // namespace experiments
