#include "theory/example1.h"

#include <gtest/gtest.h>

#include "theory/example1_problem.h"

namespace theory {
namespace {

TEST(Example1, MinimaxSolutionIsTheBilevelSolutionAboveTheThreshold) {
  Example1 example(2.0);
  EXPECT_DOUBLE_EQ(example.Threshold(), 1.5);
  for (double lambda : {1.6, 2.0, 5.0, 100.0}) {
    ASSERT_TRUE(example.MinimaxSolution(lambda).has_value()) << lambda;
    EXPECT_EQ(*example.MinimaxSolution(lambda), example.BilevelSolution());
    // (1, 1) is the minimiser: the reduced objective is a PD quadratic with value 0 there.
    const auto [e1, e2] = example.MinimaxHessianEigenvalues(lambda);
    EXPECT_GT(std::min(e1, e2), 0.0) << lambda;
    EXPECT_DOUBLE_EQ(example.ReducedObjective(1, 1, lambda), 0.0);
    EXPECT_GT(example.ReducedObjective(1.1, 0.95, lambda), 0.0);
  }
}

TEST(Example1, BelowTheThresholdTheMinimaxProblemIsUnbounded) {
  Example1 example(2.0);
  for (double lambda : {0.5, 1.0, 1.4}) {
    EXPECT_FALSE(example.MinimaxSolution(lambda).has_value());
    EXPECT_LT(example.MinimaxHessianEigenvalues(lambda).second, 0.0);
    // Along (1, −1) the objective decreases without bound.
    EXPECT_LT(example.ReducedObjective(1 + 1e3, 1 - 1e3, lambda), -1e3);
  }
  // At the threshold the minimisers form a line.
  EXPECT_NEAR(example.ReducedObjective(1 + 7, 1 - 7, 1.5), 0.0, 1e-12);
}

TEST(Example1, Algorithm1LandsOnTheClosedForm) {
  for (double c : {1.0, 2.0, 4.0}) {
    const auto [x, y] = RunAlgorithm1OnExample1(c, /*x0=*/-1.0, /*y0=*/2.5);
    EXPECT_NEAR(x, 1.0, 1e-8) << "c = " << c;
    EXPECT_NEAR(y, 1.0, 1e-8) << "c = " << c;
  }
}

}  // namespace
}  // namespace theory
