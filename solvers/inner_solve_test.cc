#include "solvers/inner_solve.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "solvers/testing/exact_problems.h"

namespace bilevel {
namespace {

using testing::QuadraticProblem;
using testing::QuadraticSpec;
using testing::RidgeProblem;
using testing::RidgeSpec;

TEST(SolveInnerExactly, ReachesTheClosedFormToTheTolerance) {
  QuadraticSpec spec;
  spec.dim_x = 8;
  spec.dim_y = 30;
  spec.inner_condition = 100;
  QuadraticProblem problem(spec);
  const at::Tensor x = at::randn({8}, at::kDouble);
  ExactInnerOptions options;
  options.gradient_tolerance = 1e-9;
  absl::StatusOr<InnerSolveResult> r =
      SolveInnerExactly(&problem, {x}, problem.InitialInner(), options);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->converged);
  EXPECT_LE(r->gradient_norm, 1e-9);
  // μ = 1: ‖y − y*‖ <= ‖∇g‖ / μ.
  EXPECT_LT((r->y[0] - problem.InnerSolution(x)).norm().item<double>(), 1e-9);
  EXPECT_LT(r->iterations, 200) << r->gradient_norm;  // L-BFGS, not gradient descent
}

TEST(SolveInnerExactly, SaysWhenItStopsShortAndRejectsBadOptions) {
  QuadraticProblem problem(QuadraticSpec{});
  ExactInnerOptions options;
  options.max_iterations = 2;
  options.gradient_tolerance = 1e-12;
  absl::StatusOr<InnerSolveResult> r =
      SolveInnerExactly(&problem, problem.InitialOuter(), problem.InitialInner(), options);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->converged);
  EXPECT_GT(r->gradient_norm, 1e-12);
  options.gradient_tolerance = 0;
  EXPECT_EQ(SolveInnerExactly(&problem, problem.InitialOuter(), problem.InitialInner(), options)
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Retrain, MinibatchSgdApproachesTheInnerSolutionDeterministically) {
  RidgeSpec spec;
  spec.num_train = 200;
  RidgeProblem problem(spec);
  const TensorList x = problem.InitialOuter();
  RetrainOptions recipe;
  recipe.steps = 3000;
  recipe.batch_size = 20;
  recipe.learning_rate = 0.05;
  recipe.momentum = 0.5;
  recipe.seed = 3;
  absl::StatusOr<InnerSolveResult> a = Retrain(&problem, x, recipe);
  absl::StatusOr<InnerSolveResult> b = Retrain(&problem, x, recipe);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(a->finite);
  EXPECT_TRUE(at::equal(a->y[0], b->y[0]));  // same recipe, same model
  const at::Tensor exact = problem.InnerSolution(x[0]);
  // Constant-step SGD ends in a noise ball around y*(x), well inside its distance from y0 = 0.
  EXPECT_LT((a->y[0] - exact).norm().item<double>(), 0.1 * exact.norm().item<double>());
  recipe.learning_rate = 0;
  EXPECT_EQ(Retrain(&problem, x, recipe).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Retrain, ReportsADivergingRecipe) {
  RidgeProblem problem(RidgeSpec{});
  RetrainOptions recipe;
  recipe.steps = 5000;
  recipe.learning_rate = 1e3;
  absl::StatusOr<InnerSolveResult> r = Retrain(&problem, problem.InitialOuter(), recipe);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->finite);
  EXPECT_LT(r->iterations, 5000);
}

}  // namespace
}  // namespace bilevel
