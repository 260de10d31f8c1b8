#include "solvers/bome.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <string>

#include "solvers/testing/exact_problems.h"
#include "solvers/testing/solver_checks.h"

namespace bilevel {
namespace {

using testing::ScalarBiasProblem;

// BOME's iteration on the scalar problem (f = ½(x − a)² + ½(y − b)², g = ½(y − x)²) written out
// by hand: T steps ŷ ← ŷ − α(ŷ − x) from y, ∇q̂ = (−(y − x) + (ŷ − x), y − x), λ, the joint step.
struct ScalarBome {
  double x = 0, y = 0, lambda = 0;
  void Iterate(const BomeOptions& o, double a, double b) {
    double y_hat = y;
    for (int t = 0; t < o.inner_steps; ++t) y_hat -= o.inner_learning_rate * (y_hat - x);
    const double fx = x - a, fy = y - b;
    const double qx = -(y - x) + (y_hat - x), qy = y - x;
    const double n2 = qx * qx + qy * qy;
    lambda = n2 > 0 ? std::max((o.eta * n2 - (fx * qx + fy * qy)) / n2, 0.0) : 0.0;
    x -= o.x_optimizer.learning_rate * (fx + lambda * qx);
    y -= o.y_optimizer.learning_rate * (fy + lambda * qy);
  }
};

TEST(Bome, FollowsTheAlgorithmStepByStep) {
  BomeOptions options;
  options.max_iterations = 25;
  options.inner_steps = 4;
  options.eta = 0.3;
  options.x_optimizer.learning_rate = 0.2;
  ScalarBiasProblem problem(1.0, 2.0);
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  ScalarBome reference;
  for (int k = 0; k < options.max_iterations; ++k) {
    reference.Iterate(options, 1.0, 2.0);
    EXPECT_NEAR(summary.iterations[k].lambda.value_or(-1), reference.lambda,
                1e-9 * (1 + reference.lambda))
        << "iteration " << k;
  }
  EXPECT_NEAR(summary.x[0].item<double>(), reference.x, 1e-12);
  EXPECT_NEAR(summary.y[0].item<double>(), reference.y, 1e-12);
}

// BOME is biased by the error of ŷ: with T = 10 steps of α = 0.1 (ŷ − y* shrinks by 0.9^10 ≈
// 0.35) x settles 0.106 from x* = 1.5 whatever the iteration count; with T = 200, 1.0e-5
// (measured, 500 to 2000 iterations).
TEST(Bome, SolvesTheScalarProblemWhenTheInnerApproximationIsAccurate) {
  ScalarBiasProblem problem(1.0, 2.0);
  BomeOptions options;
  options.max_iterations = 500;
  options.inner_steps = 200;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kIterationLimit);
  EXPECT_NEAR(summary.x[0].item<double>(), problem.Solution(), 1e-4) << summary.FullReport();
}

TEST(Bome, RidgeValidationLossWithinOnePercentOfTheBilevelOptimum) {
  testing::RidgeProblem problem(testing::RidgeSpec{});
  double pg_norm = 0;
  const double f_ref = problem.HyperObjective(problem.ReferenceSolution(1e-6, 5000, &pg_norm));
  ASSERT_LT(pg_norm, 1e-6);
  // Chosen on a grid of 12: T ∈ {10, 50}, ξ_x ∈ {0.1, 1, 5}, 500 or 2000 iterations (ξ_y = 0.1).
  // f(x_final, y*(x_final)) / f_ref was 1.0074 here, 1.0108 with T = 10, and 1.12–1.55 with
  // ξ_x = 0.1.
  BomeOptions options;
  options.max_iterations = 2000;
  options.inner_steps = 50;
  options.x_optimizer.learning_rate = 5.0;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  const double f_initial = problem.HyperObjective(problem.InitialOuter()[0]);
  EXPECT_LE(problem.HyperObjective(summary.x[0]), 1.01 * f_ref)
      << "initial " << f_initial << " reference " << f_ref;
  EXPECT_GE(summary.x[0].min().item<double>(), testing::RidgeSpec{}.log_decay_min);
  EXPECT_LE(summary.x[0].max().item<double>(), testing::RidgeSpec{}.log_decay_max);
}

TEST(Bome, CountsTPlusThreeGradientCallsPerIteration) {
  testing::RidgeProblem problem(testing::RidgeSpec{});
  BomeOptions options;
  options.max_iterations = 4;
  options.inner_steps = 5;
  options.outer_batch_size = 10;
  options.inner_batch_size = 20;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.oracle_calls.f_gradients, 4);
  EXPECT_EQ(summary.oracle_calls.g_gradients, 4 * (5 + 2));
  EXPECT_EQ(summary.oracle_calls.f_examples, 4 * 10);
  EXPECT_EQ(summary.oracle_calls.g_examples, 4 * 7 * 20);
  EXPECT_EQ(summary.oracle_calls.hessian_vector_products, 0);
  EXPECT_EQ(summary.oracle_calls.jacobian_vector_products, 0);
  ASSERT_EQ(summary.iterations.size(), 4u);
  for (const IterationRecord& r : summary.iterations) {
    EXPECT_TRUE(r.lambda.has_value());
    EXPECT_GE(*r.lambda, 0.0);
    EXPECT_TRUE(r.value_gap.has_value());
  }
}

TEST(Bome, SameSeedGivesBitwiseIdenticalIterates) {
  auto run = [](uint64_t seed) {
    testing::RidgeProblem problem(testing::RidgeSpec{});
    BomeOptions options;
    options.max_iterations = 30;
    options.outer_batch_size = 16;
    options.inner_batch_size = 32;
    options.seed = seed;
    SolverSummary summary;
    EXPECT_TRUE(Solve(options, &problem, &summary).ok());
    return summary;
  };
  testing::ExpectSameSeedSameIterates(run, 3, 4);
}

TEST(Bome, DivergingRunStopsWithNonFiniteAndAFiniteIterate) {
  ScalarBiasProblem problem(1.0, 2.0, 0.0, 1.0);
  BomeOptions options;
  options.max_iterations = 100000;
  options.inner_learning_rate = 50.0;  // |1 − 50| > 1: ŷ oscillates with growing amplitude
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kNonFinite) << summary.message;
  EXPECT_NE(summary.message.find("inner_learning_rate"), std::string::npos) << summary.message;
  EXPECT_TRUE(std::isfinite(summary.x[0].item<double>()));
  EXPECT_TRUE(std::isfinite(summary.y[0].item<double>()));
}

using InvalidCase = testing::InvalidOption<BomeOptions>;

class BomeInvalidOptionsTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(BomeInvalidOptionsTest, StatusNamesTheField) {
  ScalarBiasProblem problem(1.0, 2.0);
  testing::ExpectRefusedByName(GetParam(), &problem);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, BomeInvalidOptionsTest,
    ::testing::Values(
        InvalidCase{"max_iterations", [](auto* o) { o->max_iterations = 0; }},
        InvalidCase{"inner_steps", [](auto* o) { o->inner_steps = 0; }},
        InvalidCase{"inner_learning_rate", [](auto* o) { o->inner_learning_rate = 0; }},
        InvalidCase{"inner_learning_rate", [](auto* o) { o->inner_learning_rate = NAN; }},
        InvalidCase{"eta", [](auto* o) { o->eta = -1; }},
        InvalidCase{"eta", [](auto* o) { o->eta = INFINITY; }},
        InvalidCase{"x_optimizer.learning_rate",
                    [](auto* o) { o->x_optimizer.learning_rate = -0.1; }},
        InvalidCase{"y_optimizer.momentum", [](auto* o) { o->y_optimizer.momentum = 1.0; }},
        InvalidCase{"record_every", [](auto* o) { o->record_every = 0; }}));

}  // namespace
}  // namespace bilevel
