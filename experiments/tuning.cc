#include "experiments/tuning.h"

#include <algorithm>
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

// All points of a grid: the Cartesian product of its rates' values, first rate slowest.
std::vector<std::vector<double>> Points(const std::vector<RateGrid>& grid) {
  std::vector<std::vector<double>> points = {{}};
  for (const RateGrid& rate : grid) {
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

// The values with 6 significant digits, separated by `separator`.
std::string Joined(const std::vector<double>& v, absl::string_view separator) {
  return absl::StrJoin(v, separator,
                       [](std::string* out, double x) { absl::StrAppendFormat(out, "%.6g", x); });
}

std::string Numbers(const std::vector<double>& v) { return absl::StrCat("[", Joined(v, ", "), "]"); }

// The yardstick's score of a finished tuning run: the validation loss of its last headline row
// (retrained, at the exact inner solution, or by the task's protocol); +inf for a failed or
// missing run.
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

// A tuning run's name: the method and its rates, e.g. "CG@333.333_0.1".
std::string RunName(const std::string& method, const std::vector<double>& rates) {
  return absl::StrCat(method, "@", Joined(rates, "_"));
}

// The start of a method's line in a tuning file: its name and fingerprint.
std::string MethodLineStart(const TunableMethod& m) {
  return absl::StrCat("{\"name\": ", JsonString(m.name),
                      ", \"fingerprint\": ", JsonString(MethodTuningFingerprint(m)), ", ");
}

// A method's line in a tuning file whose name and fingerprint match `m` (no trailing comma), or
// "" when the file has none.
std::string MethodLine(const std::string& file, const TunableMethod& m) {
  const size_t at = file.find(absl::StrCat("\n    ", MethodLineStart(m)));
  if (at == std::string::npos) return "";
  const size_t end = file.find('\n', at + 1);
  if (end == std::string::npos) return "";
  std::string line = file.substr(at + 1, end - at - 1);
  if (!line.empty() && line.back() == ',') line.pop_back();
  return line;
}

// The file-level fingerprint line of a tuning file.
std::string FingerprintLine(const Experiment& e) {
  return absl::StrCat("\"fingerprint\": ", JsonString(TuningFingerprint(e)), ",\n");
}

}  // namespace

std::vector<RateGrid> GridAround(const std::vector<std::pair<std::string, double>>& base) {
  std::vector<RateGrid> grid;
  for (const auto& [name, v] : base) grid.push_back({name, {v / 3, v, 3 * v}});
  return grid;
}

std::vector<RateGrid> RecentredGrid(const std::vector<RateGrid>& grid,
                                    const std::vector<double>& at) {
  std::vector<RateGrid> out = grid;
  for (size_t r = 0; r < out.size() && r < at.size(); ++r) {
    const double middle = grid[r].values[grid[r].values.size() / 2];
    for (double& v : out[r].values) {
      v *= at[r] / middle;
      // A value the old grid had is that value exactly (its run is reused).
      for (double old : grid[r].values) {
        if (std::abs(v - old) <= 1e-9 * std::abs(old)) v = old;
      }
    }
  }
  return out;
}

bool AtAnEnd(const std::vector<RateGrid>& grid, const std::vector<double>& point) {
  for (size_t r = 0; r < grid.size() && r < point.size(); ++r) {
    if (point[r] == grid[r].values.front() || point[r] == grid[r].values.back()) return true;
  }
  return false;
}

std::string TuningFingerprint(const Experiment& e) {
  return absl::StrCat("up to ", kTuningRounds, " rounds | ", e.figure, " | ", e.preset, " | ",
                      e.budget, " | ", DescribeYardstick(e), " | ", e.notes);
}

std::string MethodTuningFingerprint(const TunableMethod& m) {
  std::vector<std::string> grid;
  for (const RateGrid& r : m.rates) grid.push_back(absl::StrCat(r.name, " ", Numbers(r.values)));
  std::vector<double> first;
  for (const RateGrid& r : m.rates) first.push_back(r.values.front());
  return absl::StrCat(absl::StrJoin(grid, "; "), ": ", m.make(first).settings);
}

std::string TuningPath(const std::string& dir, const Experiment& e) {
  return absl::StrCat(dir, "/", e.figure, "_", e.preset, ".json");
}

absl::StatusOr<std::string> Tune(Experiment e, const std::vector<TunableMethod>& methods,
                                 const TaskFactory& make_task, uint64_t tuning_seed,
                                 const std::string& previous, std::vector<std::string>* reused) {
  const std::string fingerprint = TuningFingerprint(e);
  // The previous file's line of each method whose entry is still valid ("" when none).
  const bool previous_valid =
      previous.find(FingerprintLine(e)) != std::string::npos &&
      previous.find(absl::StrCat("\"tuning_seed\": ", tuning_seed, ",\n")) != std::string::npos;
  std::vector<std::string> kept(methods.size());
  for (size_t i = 0; i < methods.size() && previous_valid; ++i) {
    kept[i] = MethodLine(previous, methods[i]);
    if (!kept[i].empty() && reused != nullptr) reused->push_back(methods[i].name);
  }
  size_t size = 0;
  for (const TunableMethod& m : methods) {
    const size_t points = Points(m.rates).size();
    if (size != 0 && points != size) {
      return absl::InvalidArgumentError(absl::StrCat(
          "every method needs a grid of the same size (equal terms); ", m.name, " has ", points,
          ", the first method ", size));
    }
    size = points;
    for (const RateGrid& r : m.rates) {
      if (r.values.size() % 2 != 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            m.name, "'s grid for ", r.name, " needs an odd number of values (a middle one)"));
      }
    }
  }
  e.seeds = {tuning_seed};
  e.references.clear();
  // Only the score at the end of the budget counts: no curve points in between (the exact inner
  // solves of figures 1-2 and the evaluations of 3-4 would cost a quarter of the tuning time).
  e.eval_every_gradient_calls = std::numeric_limits<int64_t>::max() / 2;
  e.output_dir = (fs::path(e.output_dir) / "tuning_runs").string();
  const std::string at = e.yardstick == Yardstick::kInnerIterate ? "retrained" : ToString(e.yardstick);

  // Every point of every round, run once: a run is named by its rates, so a point that two rounds
  // share runs once (the runner skips finished runs).
  struct Round {
    std::vector<RateGrid> grid;
    std::vector<std::pair<std::vector<double>, double>> scored;  // (rates, score)
  };
  std::vector<std::vector<Round>> rounds(methods.size());
  // done: no further round (settled inside its grid, or every point failed).
  std::vector<bool> done(methods.size(), false), all_failed(methods.size(), false);
  for (size_t i = 0; i < methods.size(); ++i) done[i] = !kept[i].empty();
  std::vector<std::vector<double>> chosen(methods.size());
  std::vector<double> chosen_score(methods.size(), INFINITY);
  e.methods.clear();
  for (int round = 0; round < kTuningRounds; ++round) {
    bool any = false;
    for (size_t i = 0; i < methods.size(); ++i) {
      if (done[i]) continue;
      any = true;
      std::vector<RateGrid> grid = methods[i].rates;
      if (round > 0) grid = RecentredGrid(rounds[i].back().grid, chosen[i]);
      rounds[i].push_back({grid, {}});
      for (const std::vector<double>& point : Points(grid)) {
        Method run = methods[i].make(point);
        run.name = RunName(methods[i].name, point);
        run.also_score_y = false;  // the score is the yardstick's; MinimaxOPT's y is not it
        const bool known = std::any_of(e.methods.begin(), e.methods.end(),
                                       [&](const Method& m) { return m.name == run.name; });
        if (!known) e.methods.push_back(std::move(run));
      }
    }
    if (!any) break;
    absl::Status status = Run(e, make_task);
    if (!status.ok()) return status;
    for (size_t i = 0; i < methods.size(); ++i) {
      if (done[i]) continue;
      Round& last = rounds[i].back();
      for (const std::vector<double>& point : Points(last.grid)) {
        const fs::path stem = fs::path(e.output_dir) / "runs" /
                              absl::StrCat(RunName(methods[i].name, point), "__seed", tuning_seed);
        const double score = Score(stem.string() + ".csv", stem.string() + ".json", at);
        last.scored.push_back({point, score});
        // Ties keep the earlier point; a later round's grid holds the earlier choice, so the
        // choice never gets worse.
        if (score < chosen_score[i]) {
          chosen_score[i] = score;
          chosen[i] = point;
        }
      }
      if (chosen[i].empty()) {
        // Every point failed: nothing to re-centre on. The method runs at its hand-set rates
        // (the middle of its first grid) and the file says so; it is not settled.
        all_failed[i] = done[i] = true;
        for (const RateGrid& r : methods[i].rates) {
          chosen[i].push_back(r.values[r.values.size() / 2]);
        }
        continue;
      }
      // Settled when the choice is inside every rate's grid (re-centring would give this grid).
      done[i] = !AtAnEnd(last.grid, chosen[i]);
    }
  }

  auto grid_json = [](const std::vector<RateGrid>& grid) {
    std::vector<std::string> lists;
    for (const RateGrid& r : grid) lists.push_back(Numbers(r.values));
    return absl::StrCat("[", absl::StrJoin(lists, ", "), "]");
  };
  auto score_json = [](double score) {
    return std::isfinite(score) ? absl::StrFormat("%.6g", score) : std::string("null");
  };
  std::vector<std::string> lines;
  for (size_t i = 0; i < methods.size(); ++i) {
    if (!kept[i].empty()) {
      lines.push_back(kept[i]);
      continue;
    }
    std::vector<std::string> rate_names, round_json;
    for (const RateGrid& r : methods[i].rates) rate_names.push_back(JsonString(r.name));
    for (const Round& round : rounds[i]) {
      std::vector<std::string> scored;
      for (const auto& [point, score] : round.scored) {
        scored.push_back(absl::StrFormat("{\"values\": %s, \"score\": %s}", Numbers(point),
                                         score_json(score)));
      }
      round_json.push_back(absl::StrFormat("{\"grid\": %s, \"points\": [%s]}",
                                           grid_json(round.grid), absl::StrJoin(scored, ", ")));
    }
    // One line per method, its last round's grid first (paper/summarize marks choices at its
    // ends), every round after the choice.
    lines.push_back(absl::StrFormat(
        "    %s\"rates\": [%s], \"grid\": %s, \"chosen\": %s, \"chosen_score\": %s, "
        "\"settled\": %s, %s\"rounds\": [%s]}",
        MethodLineStart(methods[i]), absl::StrJoin(rate_names, ", "),
        grid_json(rounds[i].back().grid), Numbers(chosen[i]), score_json(chosen_score[i]),
        done[i] && !all_failed[i] ? "true" : "false",  // settled
        all_failed[i] ? "\"every_point_failed\": true, \"chosen_is\": \"the hand-set rates\", " : "",
        absl::StrJoin(round_json, ", ")));
  }
  return absl::StrFormat(
      "{\n  \"procedure\": %s,\n  \"tuning_seed\": %d,\n  \"fingerprint\": %s,\n"
      "  \"methods\": [\n%s\n  ]\n}\n",
      JsonString(absl::StrCat(
          "a grid of ", size, " points per method (every rate at 1/3, 1 and 3 times its hand-set "
          "value), each run once at the tuning seed to the figure's budget; chosen: the lowest "
          "validation loss ",
          at == "retrained" ? "of the model retrained on g(x_final, .)" : "at y*(x_final)",
          " (never the test set); a choice at an end of a rate's grid re-centres the grid on it "
          "and runs it again, at most ",
          kTuningRounds, " rounds in all (\"settled\": false when the last round still chose an "
          "end); a method whose every point failed keeps its hand-set rates "
          "(\"every_point_failed\"); a method whose settings and grid (its \"fingerprint\") did "
          "not change since the last tuning keeps its entry, since its runs would repeat")),
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
  const std::string retune = absl::StrCat("; rerun the tuning (bazel run //experiments:",
                                          e->figure, " -- --tune --preset=", e->preset,
                                          ") and commit the new file");
  if (file.find(FingerprintLine(tuned)) == std::string::npos) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " was tuned for another budget, yardstick or figure settings than this code has",
        retune));
  }
  std::vector<std::string> lines, changed;
  for (const TunableMethod& m : methods) {
    lines.push_back(MethodLine(file, m));
    if (lines.back().empty()) changed.push_back(m.name);
  }
  if (!changed.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, " was tuned for other grids or settings of ", absl::StrJoin(changed, ", "),
        " than this code has (or has no entry for them)", retune,
        "; only those methods are tuned again"));
  }
  for (size_t i = 0; i < methods.size(); ++i) {
    const TunableMethod& m = methods[i];
    const size_t chosen = lines[i].find("\"chosen\": [");
    if (chosen == std::string::npos) {
      return absl::DataLossError(absl::StrCat(path, " has no chosen values for ", m.name,
                                              "; rerun the tuning"));
    }
    std::vector<double> values;
    const char* p = lines[i].c_str() + chosen + 11;
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
