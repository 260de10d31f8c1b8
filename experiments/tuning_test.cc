#include "experiments/tuning.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "experiments/common.h"
#include "experiments/small_task_for_tests.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

TEST(RecentredGrid, ShiftsTheGridAndKeepsTheValuesItShares) {
  const std::vector<RateGrid> grid = GridAround({{"a", 0.1}, {"b", 30}});
  // At the top of a and the bottom of b: a's grid moves up one step, b's down one.
  const std::vector<RateGrid> next = RecentredGrid(grid, {0.3, 10});
  ASSERT_EQ(next.size(), 2u);
  EXPECT_EQ(next[0].name, "a");
  // Shared values are the very same doubles (their runs are reused by name).
  EXPECT_EQ(next[0].values[0], grid[0].values[1]);
  EXPECT_EQ(next[0].values[1], grid[0].values[2]);
  EXPECT_NEAR(next[0].values[2], 0.9, 1e-12);
  EXPECT_NEAR(next[1].values[0], 10.0 / 3, 1e-12);
  EXPECT_EQ(next[1].values[1], grid[1].values[0]);
  EXPECT_EQ(next[1].values[2], grid[1].values[1]);
  // Centred on its own middle, a grid stays as it is.
  const std::vector<RateGrid> same = RecentredGrid(grid, {0.1, 30});
  EXPECT_EQ(same[0].values, grid[0].values);
  EXPECT_EQ(same[1].values, grid[1].values);
}

TEST(AtAnEnd, IsTrueWhenAnyRateIsAtTheFirstOrLastValue) {
  const std::vector<RateGrid> grid = GridAround({{"a", 1}, {"b", 1}});
  EXPECT_FALSE(AtAnEnd(grid, {1, 1}));
  EXPECT_TRUE(AtAnEnd(grid, {3, 1}));
  EXPECT_TRUE(AtAnEnd(grid, {1, 1.0 / 3}));
  EXPECT_TRUE(AtAnEnd(grid, {3, 3}));
}

// MinimaxOPT named `name`, `stages` x `iterations`, tuned around x rate `x_rate` and y, z rate 0.3.
TunableMethod TunableMinimax(const std::string& name, double x_rate, int stages, int iterations) {
  return Tunable(name, {{"x_optimizer.learning_rate", x_rate}, {"y,z learning_rate", 0.3}},
                 [name, stages, iterations](const std::vector<double>& r) {
                   bilevel::MinimaxOptOptions o;
                   o.num_stages = stages;
                   o.iterations_per_stage = iterations;
                   o.x_optimizer.learning_rate = r[0];
                   o.y_optimizer.learning_rate = o.z_optimizer.learning_rate = r[1];
                   return MinimaxMethod(name, o);
                 });
}

// MinimaxOPT on a small logistic problem with an outer rate far too small to move x: the first
// grid's best point is at its top, so a second round re-centres there; every point runs once.
TEST(Tune, ReCentresAGridWhoseChoiceIsAtAnEnd) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "tune_rounds";
  fs::remove_all(root);
  Experiment e;
  e.figure = "tuning_test";
  e.preset = "ci";
  e.output_dir = root.string();
  e.yardstick = Yardstick::kExactInner;
  e.exact_inner.gradient_tolerance = 1e-6;
  e.exact_inner.max_iterations = 300;
  e.checkpoint_every_seconds = 0;
  std::vector<TunableMethod> methods = {
      TunableMinimax("MinimaxOPT", /*x_rate=*/1e-4, /*stages=*/2, /*iterations=*/20),
      // exp(x) overflows within a few steps at every point: nothing to re-centre on.
      TunableMinimax("Diverging", /*x_rate=*/1e6, /*stages=*/1, /*iterations=*/40)};
  absl::StatusOr<std::string> file = Tune(e, methods, SmallTask, 1000);
  ASSERT_TRUE(file.ok()) << file.status();

  // Two rounds, the second grid centred at the first choice, whose x rate was the top one.
  const size_t rounds = file->find("\"rounds\": [");
  ASSERT_NE(rounds, std::string::npos) << *file;
  EXPECT_NE(file->find("{\"grid\": [[3.33333e-05, 0.0001, 0.0003], ", rounds), std::string::npos)
      << *file;
  EXPECT_NE(file->find("{\"grid\": [[0.0001, 0.0003, 0.0009], ", rounds), std::string::npos)
      << *file;
  // The last round's choice is a point of its grid with the best score of all; the top of the
  // second grid is still best here (x barely moves), so the method is marked unsettled.
  EXPECT_NE(file->find("\"grid\": [[0.0001, 0.0003, 0.0009], "), std::string::npos);
  EXPECT_NE(file->find("\"chosen\": [0.0009, "), std::string::npos) << *file;
  EXPECT_NE(file->find("\"settled\": false"), std::string::npos) << *file;
  EXPECT_NE(file->find("up to 2 rounds"), std::string::npos);

  // A method whose every point failed keeps its hand-set rates, unsettled, after one round.
  const size_t diverging = file->find("{\"name\": \"Diverging\"");
  ASSERT_NE(diverging, std::string::npos);
  EXPECT_NE(file->find("\"chosen\": [1e+06, 0.3], \"chosen_score\": null, \"settled\": false, "
                       "\"every_point_failed\": true",
                       diverging),
            std::string::npos)
      << file->substr(diverging);
  EXPECT_EQ(file->find("]]}, {\"grid\"", diverging), std::string::npos) << "a second round";

  // MinimaxOPT: 9 points, then 9 more of which 3 or more are shared: each point ran exactly once.
  int runs = 0, diverging_runs = 0;
  for (const auto& entry : fs::directory_iterator(root / "tuning_runs" / "runs")) {
    if (entry.path().extension() != ".json") continue;
    (absl::StartsWith(entry.path().filename().string(), "Diverging@") ? diverging_runs : runs)++;
  }
  EXPECT_EQ(diverging_runs, 9);
  EXPECT_GE(runs, 12);
  EXPECT_LE(runs, 15);
  EXPECT_TRUE(fs::exists(root / "tuning_runs" / "runs" / "MinimaxOPT@0.0009_0.3__seed1000.json"));

  // The figure reads the choice back.
  const std::string path = (root / "tuning_test_ci.json").string();
  ASSERT_TRUE(WriteFileAtomically(path, *file).ok());
  Experiment figure = e;
  ASSERT_TRUE(ApplyTuning(path, methods, &figure).ok());
  ASSERT_EQ(figure.methods.size(), 2u);
  EXPECT_TRUE(absl::StrContains(figure.methods[0].settings, "x sgd lr 0.0009"))
      << figure.methods[0].settings;

  // One method's settings change: the figure refuses the file, naming that method only...
  methods[1] = TunableMinimax("Diverging", /*x_rate=*/1e6, /*stages=*/1, /*iterations=*/30);
  const absl::Status stale = ApplyTuning(path, methods, &figure);
  EXPECT_EQ(stale.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(absl::StrContains(stale.message(), "settings of Diverging than")) << stale;
  EXPECT_FALSE(absl::StrContains(stale.message(), "MinimaxOPT")) << stale;
  // ...and re-tuning keeps MinimaxOPT's entry as it was, without running it again.
  fs::remove_all(root / "tuning_runs");
  std::vector<std::string> reused;
  absl::StatusOr<std::string> retuned = Tune(e, methods, SmallTask, 1000, *file, &reused);
  ASSERT_TRUE(retuned.ok()) << retuned.status();
  EXPECT_EQ(reused, std::vector<std::string>{"MinimaxOPT"});
  const size_t line = file->find("    {\"name\": \"MinimaxOPT\"");
  ASSERT_NE(line, std::string::npos);
  EXPECT_NE(retuned->find(file->substr(line, file->find('\n', line) - line - 1)), std::string::npos)
      << *retuned;
  int rerun = 0;
  for (const auto& entry : fs::directory_iterator(root / "tuning_runs" / "runs")) {
    if (entry.path().extension() != ".json") continue;
    EXPECT_TRUE(absl::StartsWith(entry.path().filename().string(), "Diverging@")) << entry.path();
    ++rerun;
  }
  EXPECT_EQ(rerun, 9);
  ASSERT_TRUE(WriteFileAtomically(path, *retuned).ok());
  EXPECT_TRUE(ApplyTuning(path, methods, &figure).ok());
  // A changed figure setting (here its budget text) invalidates every entry.
  Experiment other = e;
  other.budget = "another budget";
  reused.clear();
  fs::remove_all(root / "tuning_runs");
  ASSERT_TRUE(Tune(other, {methods[1]}, SmallTask, 1000, *retuned, &reused).ok());
  EXPECT_TRUE(reused.empty());
  EXPECT_EQ(ApplyTuning(path, methods, &other).code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace experiments
