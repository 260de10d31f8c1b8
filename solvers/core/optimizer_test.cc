#include "solvers/core/optimizer.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace bilevel {
namespace {

at::Tensor Scalar(double v) { return at::full({1}, v, at::kDouble); }

TEST(GroupOptimizer, SgdStepsAgainstTheGradient) {
  TensorList p = {Scalar(1.0)};
  GroupOptimizer opt(OptimizerOptions{}, p);
  opt.Step(&p, {Scalar(2.0)}, 0.25);
  EXPECT_DOUBLE_EQ(p[0].item<double>(), 0.5);
}

TEST(GroupOptimizer, MomentumAccumulatesLikeTorchSgd) {
  OptimizerOptions options;
  options.type = OptimizerType::kMomentum;
  options.momentum = 0.5;
  TensorList p = {Scalar(0.0)};
  GroupOptimizer opt(options, p);
  opt.Step(&p, {Scalar(1.0)}, 1.0);  // m = 1,   p = −1
  opt.Step(&p, {Scalar(1.0)}, 1.0);  // m = 1.5, p = −2.5
  EXPECT_DOUBLE_EQ(p[0].item<double>(), -2.5);
  options.nesterov = true;
  TensorList q = {Scalar(0.0)};
  GroupOptimizer nesterov(options, q);
  nesterov.Step(&q, {Scalar(1.0)}, 1.0);  // m = 1, step g + βm = 1.5
  EXPECT_DOUBLE_EQ(q[0].item<double>(), -1.5);
}

TEST(GroupOptimizer, AdamFirstStepHasTheLearningRateMagnitude) {
  OptimizerOptions options;
  options.type = OptimizerType::kAdam;
  options.epsilon = 1e-12;
  TensorList p = {at::tensor({0.0, 0.0}, at::kDouble)};
  GroupOptimizer opt(options, p);
  // With bias correction the first step is lr · g/|g| whatever the gradient's scale.
  opt.Step(&p, {at::tensor({1e-3, -50.0}, at::kDouble)}, 0.1);
  EXPECT_NEAR(p[0][0].item<double>(), -0.1, 1e-9);
  EXPECT_NEAR(p[0][1].item<double>(), 0.1, 1e-9);
  // Second step, by hand: m = β1 m + (1 − β1) g, v likewise, p −= lr m̂/(√v̂ + ε).
  opt.Step(&p, {at::tensor({2e-3, -50.0}, at::kDouble)}, 0.1);
  const double m = 0.9 * 0.1 * 1e-3 + 0.1 * 2e-3;
  const double v = 0.999 * 0.001 * 1e-6 + 0.001 * 4e-6;
  const double expected = -0.1 - 0.1 * (m / (1 - 0.81)) / std::sqrt(v / (1 - 0.999 * 0.999));
  EXPECT_NEAR(p[0][0].item<double>(), expected, 1e-9);
}

TEST(ScheduleFactor, CosineGoesFromOneToTheFloor) {
  EXPECT_DOUBLE_EQ(ScheduleFactor(Schedule::kConstant, 7, 10, 0.0), 1.0);
  EXPECT_DOUBLE_EQ(ScheduleFactor(Schedule::kCosine, 0, 100, 0.1), 1.0);
  EXPECT_NEAR(ScheduleFactor(Schedule::kCosine, 50, 100, 0.0), 0.5, 1e-12);
  EXPECT_NEAR(ScheduleFactor(Schedule::kCosine, 100, 100, 0.1), 0.1, 1e-12);
}

TEST(LambdaFactor, InverseLambdaDividesByLambda) {
  EXPECT_DOUBLE_EQ(LambdaFactor(LambdaScaling::kNone, 8.0), 1.0);
  EXPECT_DOUBLE_EQ(LambdaFactor(LambdaScaling::kInverseLambda, 8.0), 0.125);
}

TEST(ValidateOptimizerOptions, NamesTheGroupAndField) {
  OptimizerOptions options;
  options.learning_rate = INFINITY;
  absl::Status status = ValidateOptimizerOptions(options, "y_optimizer");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find("y_optimizer.learning_rate"), std::string::npos);
  EXPECT_TRUE(ValidateOptimizerOptions(OptimizerOptions{}, "x").ok());
}

TEST(ToString, EveryEnumeratorHasAName) {
  EXPECT_EQ(ToString(OptimizerType::kSgd), "sgd");
  EXPECT_EQ(ToString(OptimizerType::kMomentum), "momentum");
  EXPECT_EQ(ToString(OptimizerType::kAdam), "adam");
  EXPECT_EQ(ToString(LambdaScaling::kInverseLambda), "inverse_lambda");
  EXPECT_EQ(ToString(Schedule::kCosine), "cosine");
}

}  // namespace
}  // namespace bilevel

namespace bilevel {
namespace {

// MinimaxOPT's ascent in z relies on this: a negative learning rate on g equals descent on −g.
TEST(GroupOptimizer, NegativeLearningRateEqualsDescentOnTheNegatedGradient) {
  for (OptimizerType type : {OptimizerType::kSgd, OptimizerType::kMomentum, OptimizerType::kAdam}) {
    OptimizerOptions options;
    options.type = type;
    options.nesterov = true;
    TensorList a = {at::tensor({0.5, -1.0}, at::kDouble)}, b = {a[0].clone()};
    GroupOptimizer ascent(options, a), descent(options, b);
    for (double g : {1.0, -3.0, 0.25}) {
      at::Tensor grad = at::tensor({g, 2 * g}, at::kDouble);
      ascent.Step(&a, {grad}, -0.1);
      descent.Step(&b, {-grad}, 0.1);
    }
    EXPECT_TRUE(at::allclose(a[0], b[0], 0, 1e-15)) << ToString(type);
  }
}

}  // namespace
}  // namespace bilevel
