#include "solvers/testing/exact_problems.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "solvers/core/tensor_list.h"

namespace bilevel::testing {
namespace {

// Central finite differences of a scalar function of a 1-D double tensor.
at::Tensor FiniteDifference(const std::function<double(const at::Tensor&)>& fn,
                            const at::Tensor& at_point, double h = 1e-6) {
  at::Tensor grad = at::zeros_like(at_point);
  for (int64_t i = 0; i < at_point.numel(); ++i) {
    at::Tensor plus = at_point.clone(), minus = at_point.clone();
    plus[i] += h;
    minus[i] -= h;
    grad[i] = (fn(plus) - fn(minus)) / (2 * h);
  }
  return grad;
}

double RelativeError(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / std::max(1e-12, b.norm().item<double>());
}

struct Case {
  std::string name;
  std::function<std::unique_ptr<ExactProblem>()> make;
};

class ExactProblemTest : public ::testing::TestWithParam<Case> {
 protected:
  void SetUp() override {
    problem_ = GetParam().make();
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(7);
    x_ = problem_->InitialOuter()[0] +
         0.3 * at::randn(problem_->InitialOuter()[0].sizes(), gen, at::kDouble);
    y_ = problem_->InitialInner()[0] +
         0.3 * at::randn(problem_->InitialInner()[0].sizes(), gen, at::kDouble);
  }
  double F(const at::Tensor& x, const at::Tensor& y) {
    return problem_->OuterObjective({x}, {y}, Batch{}).item<double>();
  }
  double G(const at::Tensor& x, const at::Tensor& y) {
    return problem_->InnerObjective({x}, {y}, Batch{}).item<double>();
  }
  std::unique_ptr<ExactProblem> problem_;
  at::Tensor x_, y_;
};

TEST_P(ExactProblemTest, AnalyticGradientsMatchFiniteDifferences) {
  PartialGradients d = problem_->AnalyticGradients(x_, y_);
  EXPECT_LT(RelativeError(d.fx, FiniteDifference([&](auto x) { return F(x, y_); }, x_)), 1e-6);
  EXPECT_LT(RelativeError(d.fy, FiniteDifference([&](auto y) { return F(x_, y); }, y_)), 1e-6);
  EXPECT_LT(RelativeError(d.gx, FiniteDifference([&](auto x) { return G(x, y_); }, x_)), 1e-6);
  EXPECT_LT(RelativeError(d.gy, FiniteDifference([&](auto y) { return G(x_, y); }, y_)), 1e-6);
}

TEST_P(ExactProblemTest, AutogradMatchesAnalyticGradients) {
  PartialGradients d = problem_->AnalyticGradients(x_, y_);
  TensorList xs = GradLeaves({x_}), ys = GradLeaves({y_});
  TensorList fgrad = Gradients(problem_->OuterObjective(xs, ys, Batch{}), {xs[0], ys[0]});
  TensorList ggrad = Gradients(problem_->InnerObjective(xs, ys, Batch{}), {xs[0], ys[0]});
  EXPECT_LT((fgrad[0] - d.fx).abs().max().item<double>(), 1e-10);
  EXPECT_LT((fgrad[1] - d.fy).abs().max().item<double>(), 1e-10);
  EXPECT_LT((ggrad[0] - d.gx).abs().max().item<double>(), 1e-10);
  EXPECT_LT((ggrad[1] - d.gy).abs().max().item<double>(), 1e-10);
}

TEST_P(ExactProblemTest, InnerSolutionIsStationary) {
  at::Tensor y_star = problem_->InnerSolution(x_);
  at::Tensor gy = problem_->AnalyticGradients(x_, y_star).gy;
  EXPECT_LT(gy.abs().max().item<double>(), 1e-9);
}

TEST_P(ExactProblemTest, HypergradientMatchesFiniteDifferencesOfF) {
  at::Tensor fd = FiniteDifference([&](auto x) { return problem_->HyperObjective(x); }, x_);
  EXPECT_LT(RelativeError(problem_->Hypergradient(x_), fd), 1e-6)
      << "closed form " << problem_->Hypergradient(x_) << "\nfinite differences " << fd;
}

INSTANTIATE_TEST_SUITE_P(
    AllProblems, ExactProblemTest,
    ::testing::Values(
        Case{"Quadratic",
             [] {
               QuadraticSpec spec;
               spec.dim_x = 8;
               spec.dim_y = 6;
               spec.seed = 3;
               return std::unique_ptr<ExactProblem>(new QuadraticProblem(spec));
             }},
        Case{"Ridge", [] { return std::unique_ptr<ExactProblem>(new RidgeProblem(RidgeSpec{})); }},
        Case{"ScalarBias",
             [] { return std::unique_ptr<ExactProblem>(new ScalarBiasProblem(1.0, -2.0)); }},
        Case{"Smd", [] { return std::unique_ptr<ExactProblem>(new SmdProblem(5)); }}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(QuadraticProblem, SolutionZeroesTheHypergradient) {
  QuadraticProblem problem(QuadraticSpec{});  // 100 × 100, condition number 10
  EXPECT_LT(problem.Hypergradient(problem.Solution()).norm().item<double>(), 1e-10);
  EXPECT_GT(problem.Solution().norm().item<double>(), 0.1);  // a non-trivial target
}

TEST(QuadraticProblem, InnerHessianHasTheRequestedConditioning) {
  QuadraticSpec spec;
  spec.dim_y = 20;
  spec.inner_mu = 0.5;
  spec.inner_condition = 100;
  QuadraticProblem problem(spec);
  at::Tensor eig = at::linalg_eigvalsh(problem.A(), "L");
  EXPECT_NEAR(eig.min().item<double>(), 0.5, 1e-9);
  EXPECT_NEAR(eig.max().item<double>(), 50.0, 1e-9);
}

TEST(ScalarBiasProblem, MinimaxSolutionSatisfiesTheClosedFormGap) {
  ScalarBiasProblem problem(3.0, -1.0);
  EXPECT_DOUBLE_EQ(problem.Solution(), 1.0);
  for (double lambda : {0.1, 1.0, 10.0, 1000.0}) {
    const double gap = problem.MinimaxSolution(lambda) - problem.Solution();
    EXPECT_NEAR(gap, (3.0 - -1.0) / (2 * (1 + 2 * lambda)), 1e-14) << "lambda " << lambda;
  }
}

TEST(SmdProblem, SolutionZeroesTheHypergradient) {
  SmdProblem problem(4);
  EXPECT_LT(problem.Hypergradient(problem.Solution()).abs().max().item<double>(), 1e-15);
}

TEST(RidgeProblem, ReferenceSolutionIsStationaryAndBetterThanTheStart) {
  RidgeProblem problem(RidgeSpec{});
  double pg_norm = 1;
  at::Tensor x_ref = problem.ReferenceSolution(1e-6, 5000, &pg_norm);
  EXPECT_LT(pg_norm, 1e-6);
  EXPECT_LT(problem.HyperObjective(x_ref), problem.HyperObjective(problem.InitialOuter()[0]));
}

TEST(RidgeProblem, MinibatchObjectivesAverageTheirRows) {
  RidgeProblem problem(RidgeSpec{});
  TensorList x = problem.InitialOuter(), y = {at::ones({10}, at::kDouble)};
  // The mean over a batch holding every row once equals the full-batch value.
  Batch all{at::arange(100, at::kLong)};
  EXPECT_NEAR(problem.OuterObjective(x, y, all).item<double>(),
              problem.OuterObjective(x, y, Batch{}).item<double>(), 1e-12);
  Batch two{at::tensor({0, 1}, at::kLong)};
  Batch first{at::tensor({0}, at::kLong)}, second{at::tensor({1}, at::kLong)};
  EXPECT_NEAR(problem.InnerObjective(x, y, two).item<double>(),
              0.5 * (problem.InnerObjective(x, y, first).item<double>() +
                     problem.InnerObjective(x, y, second).item<double>()),
              1e-12);
}

}  // namespace
}  // namespace bilevel::testing
