#include "solvers/minimax_opt.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "solvers/testing/exact_problems.h"
#include "solvers/testing/quadratic_settings.h"
#include "solvers/testing/solver_checks.h"

namespace bilevel {
namespace {

using testing::QuadraticProblem;
using testing::QuadraticSpec;
using testing::RidgeProblem;
using testing::RidgeSpec;
using testing::ScalarBiasProblem;

double RelativeError(const at::Tensor& x, const at::Tensor& x_star) {
  return (x - x_star).norm().item<double>() / x_star.norm().item<double>();
}

TEST(MinimaxOpt, Solves100DimensionalQuadraticWithinBudget) {
  QuadraticProblem problem(QuadraticSpec{});  // x, y ∈ R^100, cond(A) = 10
  MinimaxOptOptions options = testing::MinimaxQuadraticOptions(10.0);
  // Documented budget: 3 gradient calls × 14 stages × 400 iterations = 16,800.
  options.max_gradient_calls = 16800;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_LE(summary.oracle_calls.GradientCalls(), 16800);
  EXPECT_EQ(summary.oracle_calls.hessian_vector_products, 0);  // first order only
  const double error = RelativeError(summary.x[0], problem.Solution());
  EXPECT_LT(error, 1e-3) << summary.FullReport();
}

TEST(MinimaxOpt, RelativeErrorShrinksAsLambdaGrows) {
  // Theorem 1: ‖x_λ − x*‖ = O(1/λ). Compare the error after stages ending at λ = 64 and 4096.
  QuadraticProblem problem(QuadraticSpec{});
  std::vector<double> errors;
  for (int stages : {7, 13}) {
    MinimaxOptOptions options = testing::MinimaxQuadraticOptions(10.0);
    options.num_stages = stages;
    SolverSummary summary;
    ASSERT_TRUE(Solve(options, &problem, &summary).ok());
    errors.push_back(RelativeError(summary.x[0], problem.Solution()));
  }
  // 64× larger λ: the error must drop by well over an order of magnitude.
  EXPECT_LT(errors[1], errors[0] / 20) << errors[0] << " " << errors[1];
}

class FixedLambdaTest : public ::testing::TestWithParam<double> {};

TEST_P(FixedLambdaTest, OneStageGdaConvergesToTheMinimaxSolution) {
  const double lambda = GetParam();
  ScalarBiasProblem problem(/*a=*/2.0, /*b=*/-1.0, /*x0=*/0.0, /*y0=*/0.5);
  MinimaxOptOptions options;
  options.initial_lambda = lambda;
  options.lambda_growth = 1.0;  // fixed λ
  options.num_stages = 1;
  options.iterations_per_stage = 20000;
  options.stationarity_tolerance = 1e-12;
  options.x_optimizer.learning_rate = 0.05;
  // The y-step is η/λ on ∇_y L = ∇_y f + λ∇_y g, i.e. η/λ on f: for λ < 1 η must shrink.
  options.y_optimizer.learning_rate = 0.5 * std::min(1.0, lambda);
  options.z_optimizer.learning_rate = 0.5;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kConverged) << summary.message;
  EXPECT_NEAR(summary.x[0].item<double>(), problem.MinimaxSolution(lambda), 1e-6);
  // And it is not the bilevel solution: the gap is (a − b)/(2(1 + 2λ)).
  EXPECT_NEAR(summary.x[0].item<double>() - problem.Solution(), 3.0 / (2 * (1 + 2 * lambda)), 1e-6);
}

INSTANTIATE_TEST_SUITE_P(SeveralLambdas, FixedLambdaTest,
                         ::testing::Values(0.1, 0.5, 2.0, 10.0, 100.0));

TEST(MinimaxOpt, RidgeValidationLossWithinOnePercentOfTheBilevelOptimum) {
  RidgeProblem problem(RidgeSpec{});
  double pg_norm = 0;
  const at::Tensor x_ref = problem.ReferenceSolution(1e-6, 5000, &pg_norm);
  ASSERT_LT(pg_norm, 1e-6);
  const double f_ref = problem.HyperObjective(x_ref);

  MinimaxOptOptions options;
  options.initial_lambda = 1.0;
  options.lambda_growth = 2.0;
  options.num_stages = 12;
  options.iterations_per_stage = 500;
  // F is flat along the noise features' decays, so x takes large steps (η_x = 1 stalls 1.3%
  // above the optimum within this budget; 5 and 20 reach 0.8%).
  options.x_optimizer.learning_rate = 20.0;
  options.y_optimizer.learning_rate = 0.5;
  options.z_optimizer.learning_rate = 0.5;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  const double f_initial = problem.HyperObjective(problem.InitialOuter()[0]);
  const double f_model = problem.OuterObjective(summary.x, summary.y, Batch{}).item<double>();
  const double f_exact = problem.HyperObjective(summary.x[0]);
  EXPECT_LT(f_ref, f_initial);
  EXPECT_LE(f_model, 1.01 * f_ref) << "initial " << f_initial << " reference " << f_ref;
  EXPECT_LE(f_exact, 1.01 * f_ref) << "initial " << f_initial << " reference " << f_ref;
  // The projection onto the box X held.
  EXPECT_GE(summary.x[0].min().item<double>(), RidgeSpec{}.log_decay_min);
  EXPECT_LE(summary.x[0].max().item<double>(), RidgeSpec{}.log_decay_max);
}

TEST(MinimaxOpt, CountsThreeGradientCallsPerIterationAndSixWhenAlternating) {
  for (UpdateOrder order : {UpdateOrder::kSimultaneous, UpdateOrder::kAlternating}) {
    RidgeProblem problem(RidgeSpec{});
    MinimaxOptOptions options;
    options.num_stages = 2;
    options.iterations_per_stage = 5;
    options.update_order = order;
    options.outer_batch_size = 10;
    options.inner_batch_size = 20;
    SolverSummary summary;
    ASSERT_TRUE(Solve(options, &problem, &summary).ok());
    const int64_t evaluations = order == UpdateOrder::kSimultaneous ? 1 : 2;
    const int64_t g_per_iteration = 2 * evaluations;
    EXPECT_EQ(summary.oracle_calls.f_gradients, 10 * evaluations);
    EXPECT_EQ(summary.oracle_calls.g_gradients, 10 * g_per_iteration);
    EXPECT_EQ(summary.oracle_calls.f_examples, 10 * evaluations * 10);
    EXPECT_EQ(summary.oracle_calls.g_examples, 10 * g_per_iteration * 20);
    EXPECT_EQ(summary.num_iterations, 10);
    EXPECT_EQ(summary.num_stages, 2);
    EXPECT_DOUBLE_EQ(summary.final_lambda.value_or(-1), 2.0);
    EXPECT_FALSE(summary.final_penalty_rho.has_value());
    EXPECT_EQ(summary.iterations.size(), 10u);
    EXPECT_EQ(summary.iterations.back().oracle_calls.GradientCalls(),
              summary.oracle_calls.GradientCalls());
  }
}

TEST(MinimaxOpt, AlternatingOrderAlsoSolvesTheQuadratic) {
  QuadraticProblem problem(QuadraticSpec{});
  MinimaxOptOptions options = testing::MinimaxQuadraticOptions(10.0);
  options.update_order = UpdateOrder::kAlternating;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_LT(RelativeError(summary.x[0], problem.Solution()), 1e-3);
}

TEST(MinimaxOpt, SameSeedGivesBitwiseIdenticalIterates) {
  auto run = [](uint64_t seed) {
    RidgeProblem problem(RidgeSpec{});
    MinimaxOptOptions options;
    options.num_stages = 3;
    options.iterations_per_stage = 50;
    options.outer_batch_size = 16;
    options.inner_batch_size = 32;
    options.seed = seed;
    options.x_optimizer.type = OptimizerType::kAdam;
    options.x_optimizer.learning_rate = 0.01;
    options.y_optimizer.type = OptimizerType::kMomentum;
    options.schedule = Schedule::kCosine;
    SolverSummary summary;
    EXPECT_TRUE(Solve(options, &problem, &summary).ok());
    return summary;
  };
  testing::ExpectSameSeedSameIterates(run, 5, 6);
}

TEST(MinimaxOpt, DivergingRunStopsWithNonFiniteAndKeepsAFiniteIterate) {
  ScalarBiasProblem problem(1.0, 2.0, 0.0, 1.0);
  MinimaxOptOptions options;
  options.num_stages = 1;
  options.iterations_per_stage = 100000;
  options.y_optimizer.learning_rate = 50.0;  // |1 − 50| > 1: y oscillates with growing amplitude
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kNonFinite);
  EXPECT_LT(summary.num_iterations, 100000);
  EXPECT_NE(summary.message.find("not finite"), std::string::npos) << summary.message;
  EXPECT_TRUE(std::isfinite(summary.x[0].item<double>()));
  EXPECT_TRUE(std::isfinite(summary.y[0].item<double>()));
  for (const IterationRecord& r : summary.iterations) {
    EXPECT_TRUE(std::isfinite(r.outer_objective));
  }
}

TEST(MinimaxOpt, CallbackCanStopTheSolve) {
  ScalarBiasProblem problem(1.0, 2.0);
  MinimaxOptOptions options;
  std::vector<int64_t> seen;
  options.callbacks.push_back([&](const IterationRecord& r) {
    seen.push_back(r.iteration);
    return r.iteration == 5 ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kUserStop);
  EXPECT_EQ(summary.num_iterations, 6);
  EXPECT_EQ(seen.size(), 6u);
}

TEST(MinimaxOpt, IterateCallbacksSeeTheUpdatedIterate) {
  ScalarBiasProblem problem(1.0, 2.0);
  MinimaxOptOptions options;
  options.num_stages = 1;
  options.iterations_per_stage = 10;
  std::vector<double> xs, zs;
  options.iterate_callbacks.push_back([&](const IterationRecord& r, const IterateView& it) {
    xs.push_back(it.x[0].item<double>());
    zs.push_back(it.inner[0].item<double>());
    return r.iteration == 3 ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kUserStop);
  ASSERT_EQ(xs.size(), 4u);
  EXPECT_EQ(xs.back(), summary.x[0].item<double>());  // the iterate after iteration 3's update
  // The g-only iterate of MinimaxOPT is z, not y (y also descends f).
  EXPECT_EQ(zs.back(), summary.inner[0].item<double>());
  EXPECT_NE(summary.inner[0].item<double>(), summary.y[0].item<double>());
}

TEST(MinimaxOpt, NonFiniteStepReturnsTheLastFiniteIterate) {
  ScalarBiasProblem problem(1.0, 2.0);
  MinimaxOptOptions options;
  options.num_stages = 1;
  options.iterations_per_stage = 2000;
  options.x_optimizer.learning_rate = 50.0;  // |1 − 50·c| > 1: x blows up to inf, then NaN
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  ASSERT_EQ(summary.termination, TerminationType::kNonFinite) << summary.FullReport();
  EXPECT_NE(summary.message.find("x_optimizer.learning_rate"), std::string::npos)
      << summary.message;
  for (const TensorList* v : {&summary.x, &summary.y, &summary.inner}) {
    EXPECT_TRUE(at::isfinite((*v)[0]).all().item<bool>()) << summary.message;
  }
  EXPECT_TRUE(std::isfinite(problem.OuterObjective(summary.x, summary.y, Batch{}).item<double>()));
}

TEST(MinimaxOpt, GradientBudgetStopsTheSolve) {
  ScalarBiasProblem problem(1.0, 2.0);
  MinimaxOptOptions options;
  options.max_gradient_calls = 30;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kOracleBudget);
  EXPECT_EQ(summary.oracle_calls.GradientCalls(), 30);
}

TEST(MinimaxOpt, RecordsEveryNthIterationAndEveryStageEnd) {
  ScalarBiasProblem problem(1.0, 2.0);
  MinimaxOptOptions options;
  options.num_stages = 3;
  options.iterations_per_stage = 10;
  options.record_every = 4;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  std::vector<int64_t> recorded;
  for (const IterationRecord& r : summary.iterations) recorded.push_back(r.iteration);
  EXPECT_EQ(recorded, (std::vector<int64_t>{0, 4, 8, 9, 12, 16, 19, 20, 24, 28, 29}));
  EXPECT_TRUE(summary.iterations.back().stage_end);
  EXPECT_TRUE(summary.iterations.back().value_gap.has_value());
}

using InvalidCase = testing::InvalidOption<MinimaxOptOptions>;

class InvalidOptionsTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidOptionsTest, StatusNamesTheField) {
  ScalarBiasProblem problem(1.0, 2.0);
  testing::ExpectRefusedByName(GetParam(), &problem);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, InvalidOptionsTest,
    ::testing::Values(
        InvalidCase{"initial_lambda", [](auto* o) { o->initial_lambda = 0; }},
        InvalidCase{"initial_lambda", [](auto* o) { o->initial_lambda = NAN; }},
        InvalidCase{"lambda_growth", [](auto* o) { o->lambda_growth = 0.5; }},
        InvalidCase{"num_stages", [](auto* o) { o->num_stages = 0; }},
        InvalidCase{"num_stages", [](auto* o) { o->num_stages = 5000; }},  // λ overflows
        InvalidCase{"iterations_per_stage", [](auto* o) { o->iterations_per_stage = 0; }},
        InvalidCase{"stationarity_tolerance", [](auto* o) { o->stationarity_tolerance = -1; }},
        InvalidCase{"x_optimizer.learning_rate",
                    [](auto* o) { o->x_optimizer.learning_rate = -0.1; }},
        InvalidCase{"y_optimizer.momentum", [](auto* o) { o->y_optimizer.momentum = 1.0; }},
        InvalidCase{"z_optimizer.beta2", [](auto* o) { o->z_optimizer.beta2 = -0.1; }},
        InvalidCase{"z_optimizer.beta1", [](auto* o) { o->z_optimizer.beta1 = 1.5; }},
        InvalidCase{"x_optimizer.epsilon", [](auto* o) { o->x_optimizer.epsilon = 0; }},
        InvalidCase{"schedule_min_factor", [](auto* o) { o->schedule_min_factor = 2; }},
        InvalidCase{"max_gradient_calls", [](auto* o) { o->max_gradient_calls = -1; }},
        InvalidCase{"max_wall_time_seconds", [](auto* o) { o->max_wall_time_seconds = -1; }},
        InvalidCase{"record_every", [](auto* o) { o->record_every = 0; }},
        InvalidCase{"outer_batch_size", [](auto* o) { o->outer_batch_size = -2; }},
        InvalidCase{"inner_batch_size", [](auto* o) { o->inner_batch_size = 8; }},  // no data
        InvalidCase{"callbacks[0]", [](auto* o) { o->callbacks.push_back(nullptr); }},
        InvalidCase{"iterate_callbacks[0]",
                    [](auto* o) { o->iterate_callbacks.push_back(nullptr); }}));

TEST(MinimaxOpt, NullProblemIsAnError) {
  SolverSummary summary;
  EXPECT_EQ(Solve(MinimaxOptOptions{}, nullptr, &summary).code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(MinimaxOpt, BatchLargerThanTheDataIsAnError) {
  RidgeProblem problem(RidgeSpec{});
  MinimaxOptOptions options;
  options.outer_batch_size = 101;  // 100 validation examples
  SolverSummary summary;
  absl::Status status = Solve(options, &problem, &summary);
  EXPECT_NE(status.message().find("outer_batch_size"), std::string::npos) << status.message();
}

}  // namespace
}  // namespace bilevel
