#include "solvers/core/solver_loop.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "solvers/testing/exact_problems.h"

namespace bilevel {
namespace {

using testing::ScalarBiasProblem;

// ---- The pure decisions ----

TEST(NonFiniteValue, NamesTheFirstRecordedValueThatIsNotFinite) {
  IterationRecord r;
  EXPECT_EQ(NonFiniteValue(r), "");
  r.value_gap = std::numeric_limits<double>::infinity();
  EXPECT_EQ(NonFiniteValue(r), "the value gap g(x, y) - g(x, z)");
  r.grad_norm_y = std::nan("");
  EXPECT_EQ(NonFiniteValue(r), "the y-gradient's norm");
  r.outer_objective = -std::numeric_limits<double>::infinity();
  EXPECT_EQ(NonFiniteValue(r), "f(x, y)");
}

TEST(BudgetStop, GradientCallsEquivalentsAndTime) {
  SolverOptionsBase options;
  OracleCounts counts;
  counts.f_gradients = 5;
  counts.g_gradients = 5;
  counts.hessian_vector_products = 3;
  EXPECT_FALSE(BudgetStop(options, counts, 1e9).has_value());  // no budget, no limit
  options.max_gradient_calls = 11;
  EXPECT_FALSE(BudgetStop(options, counts, 0).has_value());
  options.max_gradient_calls = 10;
  std::optional<Stop> stop = BudgetStop(options, counts, 0);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->type, TerminationType::kOracleBudget);
  EXPECT_NE(stop->message.find("10 gradient calls"), std::string::npos) << stop->message;
  options.max_gradient_calls = 0;
  options.max_gradient_call_equivalents = 16;  // 10 + 2·3 = 16
  stop = BudgetStop(options, counts, 0);
  ASSERT_TRUE(stop.has_value());
  EXPECT_NE(stop->message.find("16 gradient-call equivalents"), std::string::npos);
  options.max_gradient_call_equivalents = 0;
  options.max_wall_time_seconds = 2;
  EXPECT_FALSE(BudgetStop(options, counts, 1.9).has_value());
  stop = BudgetStop(options, counts, 2);
  ASSERT_TRUE(stop.has_value());
  EXPECT_EQ(stop->type, TerminationType::kTimeLimit);
}

TEST(CheckpointDue, EveryNIterationsOrSecondsAndNeverWithoutAPath) {
  CheckpointOptions c;
  c.every_iterations = 3;
  EXPECT_FALSE(CheckpointDue(c, 3, 0));  // no path: never
  c.path = "run.ckpt";
  EXPECT_FALSE(CheckpointDue(c, 2, 0));
  EXPECT_TRUE(CheckpointDue(c, 3, 0));
  EXPECT_TRUE(CheckpointDue(c, 6, 0));
  c.every_iterations = 0;
  c.every_seconds = 10;
  EXPECT_FALSE(CheckpointDue(c, 3, 9.9));
  EXPECT_TRUE(CheckpointDue(c, 4, 10));
}

TEST(KeepRecord, EveryNthAndEveryStageEnd) {
  IterationRecord r;
  r.iteration = 8;
  EXPECT_TRUE(KeepRecord(r, 4));
  r.iteration = 9;
  EXPECT_FALSE(KeepRecord(r, 4));
  r.stage_end = true;
  EXPECT_TRUE(KeepRecord(r, 4));
}

// ---- The loop, with a solver that only counts ----

// x ← x + 1 each iteration; stages of `stage_length` iterations, `num_stages` of them; EndStage
// doubles `weight`. At iteration `nan_at` its record's f is NaN.
struct CountingOptions : SolverOptionsBase {
  int64_t stage_length = 3;
  int num_stages = 2;
  int64_t nan_at = -1;
};

class CountingSolver : public IterativeSolver {
 public:
  CountingSolver(const CountingOptions& options, BilevelProblem* problem, int* end_stages)
      : options_(options),
        x_(DetachedClone(problem->InitialOuter())),
        y_(DetachedClone(problem->InitialInner())),
        end_stages_(end_stages) {}

  void DeclareState(SolverStateSpec* spec) override {
    spec->Iterate("x", &x_);
    spec->Iterate("y", &y_);
    spec->Double("weight", &weight_);
    spec->Int("steps", &steps_);
    spec->Tensors("history", &history_, &x_);
  }
  std::string LimitReached(int64_t, int stage) const override {
    return stage < options_.num_stages ? "" : "all stages ran";
  }
  StepResult Step(const StepContext& context, IterationRecord* record) override {
    record->lambda = weight_;
    record->outer_objective =
        context.iteration == options_.nan_at ? std::nan("") : x_[0].item<double>();
    context.counts->AddF(1);
    history_ = DetachedClone(x_);
    x_[0] += 1.0;
    ++steps_;
    StepResult result;
    result.stage_end = context.stage_iteration + 1 == options_.stage_length;
    return result;
  }
  void EndStage() override {
    weight_ *= 2;
    ++*end_stages_;
  }
  IterateView View() const override { return IterateView{x_, y_, y_}; }
  std::string NonFiniteRemedy() const override { return "count more slowly"; }

  double weight() const { return weight_; }
  int64_t steps() const { return steps_; }

 private:
  CountingOptions options_;
  TensorList x_, y_, history_;
  double weight_ = 1;
  int64_t steps_ = 0;
  int* end_stages_;
};

absl::Status SolveCounting(const CountingOptions& options, BilevelProblem* problem,
                           SolverSummary* summary, int* end_stages) {
  return RunSolver(
      "Counting", absl::OkStatus(), options, problem,
      [&] { return std::make_unique<CountingSolver>(options, problem, end_stages); }, summary);
}

TEST(SolverLoop, CountsStagesMarksTheirEndsAndStopsAtTheSolversLimit) {
  ScalarBiasProblem problem(1.0, 2.0);
  CountingOptions options;
  SolverSummary summary;
  int end_stages = 0;
  ASSERT_TRUE(SolveCounting(options, &problem, &summary, &end_stages).ok());
  EXPECT_EQ(summary.termination, TerminationType::kIterationLimit);
  EXPECT_EQ(summary.message, "all stages ran");
  EXPECT_EQ(summary.num_iterations, 6);
  EXPECT_EQ(summary.num_stages, 2);
  EXPECT_EQ(end_stages, 2);
  ASSERT_EQ(summary.iterations.size(), 6u);
  std::vector<int> stages;
  std::vector<bool> ends;
  for (const IterationRecord& r : summary.iterations) {
    stages.push_back(r.stage);
    ends.push_back(r.stage_end);
    EXPECT_EQ(r.oracle_calls.f_gradients, r.iteration + 1);  // stamped by the loop, cumulative
  }
  EXPECT_EQ(stages, (std::vector<int>{0, 0, 0, 1, 1, 1}));
  EXPECT_EQ(ends, (std::vector<bool>{false, false, true, false, false, true}));
  EXPECT_DOUBLE_EQ(summary.final_lambda.value_or(-1), 2.0);  // stage 1's weight
  EXPECT_DOUBLE_EQ(summary.x[0].item<double>(), 6.0);
}

TEST(SolverLoop, ANonFiniteValueRollsBackToTheLastIterateWhoseValuesWereFinite) {
  ScalarBiasProblem problem(1.0, 2.0);
  CountingOptions options;
  options.nan_at = 4;
  SolverSummary summary;
  int end_stages = 0;
  ASSERT_TRUE(SolveCounting(options, &problem, &summary, &end_stages).ok());
  EXPECT_EQ(summary.termination, TerminationType::kNonFinite);
  EXPECT_NE(summary.message.find("f(x, y) is not finite at iteration 4"), std::string::npos)
      << summary.message;
  EXPECT_NE(summary.message.find("count more slowly"), std::string::npos) << summary.message;
  EXPECT_EQ(summary.num_iterations, 4);
  // Iteration 3 started at x = 3 and recorded finite values; iteration 4's start was never
  // shown finite.
  EXPECT_DOUBLE_EQ(summary.x[0].item<double>(), 3.0);
  EXPECT_DOUBLE_EQ(summary.iterations.back().outer_objective, 3.0);
}

TEST(SolverLoop, ANonFiniteFirstIterationReturnsTheStart) {
  ScalarBiasProblem problem(1.0, 2.0, /*x0=*/0.5);
  CountingOptions options;
  options.nan_at = 0;
  SolverSummary summary;
  int end_stages = 0;
  ASSERT_TRUE(SolveCounting(options, &problem, &summary, &end_stages).ok());
  EXPECT_EQ(summary.termination, TerminationType::kNonFinite);
  EXPECT_DOUBLE_EQ(summary.x[0].item<double>(), 0.5);
  EXPECT_TRUE(summary.IsSolutionUsable());
}

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return (std::filesystem::path(dir != nullptr ? dir : "/tmp") / name).string();
}

TEST(SolverLoop, TheDeclaredStateAloneResumesASolve) {
  auto run = [](CountingOptions options, int64_t stop_after, SolverSummary* summary) {
    ScalarBiasProblem problem(1.0, 2.0);
    if (stop_after > 0) {
      options.callbacks.push_back([stop_after](const IterationRecord& r) {
        return r.iteration + 1 == stop_after ? CallbackResult::kStop : CallbackResult::kContinue;
      });
    }
    int end_stages = 0;
    return SolveCounting(options, &problem, summary, &end_stages);
  };
  CountingOptions options;
  options.num_stages = 3;
  SolverSummary reference;
  ASSERT_TRUE(run(options, 0, &reference).ok());

  options.checkpoint.path = TempPath("counting.ckpt");
  std::remove(options.checkpoint.path.c_str());
  options.checkpoint.every_iterations = 2;
  SolverSummary first, resumed;
  ASSERT_TRUE(run(options, 7, &first).ok());  // checkpoints after 2, 4, 6; stopped after 7
  ASSERT_EQ(first.termination, TerminationType::kUserStop);
  ASSERT_TRUE(run(options, 0, &resumed).ok()) << resumed.message;
  EXPECT_EQ(resumed.resumed_iterations, 6);
  EXPECT_EQ(resumed.termination, TerminationType::kIterationLimit);
  EXPECT_EQ(resumed.num_iterations, reference.num_iterations);
  EXPECT_EQ(resumed.num_stages, reference.num_stages);
  EXPECT_EQ(resumed.oracle_calls.f_gradients, reference.oracle_calls.f_gradients);
  EXPECT_EQ(resumed.final_lambda, reference.final_lambda);  // 4: restored with the stage
  EXPECT_DOUBLE_EQ(resumed.x[0].item<double>(), reference.x[0].item<double>());
  ASSERT_EQ(resumed.iterations.size(), 3u);
  EXPECT_EQ(resumed.iterations.front().iteration, 6);
  EXPECT_EQ(resumed.iterations.front().stage, 2);
  EXPECT_EQ(resumed.iterations.front().lambda, 4.0);
}

TEST(SolverStateSpec, AKeyDeclaredTwiceIsAProgrammingError) {
  SolverStateSpec spec;
  TensorList x = {at::zeros({1})};
  double d = 0;
  spec.Iterate("x", &x);
  EXPECT_THROW(spec.Double("x", &d), c10::Error);
}

TEST(SolverStateSpec, AnEmptyListRoundTripsAndAFullOneTakesItsShape) {
  TensorList like = {at::zeros({2, 3})};
  TensorList v;
  SolverStateSpec spec;
  spec.Tensors("v", &v, &like);
  SolverState state;
  spec.Save(&state);
  v = {at::ones({2, 3})};
  ASSERT_TRUE(spec.Restore(state).ok());
  EXPECT_TRUE(v.empty());
  v = {at::full({2, 3}, 7.0)};
  spec.Save(&state);
  v.clear();
  ASSERT_TRUE(spec.Restore(state).ok());
  ASSERT_EQ(v.size(), 1u);
  EXPECT_TRUE(at::equal(v[0], at::full({2, 3}, 7.0)));
}

}  // namespace
}  // namespace bilevel
