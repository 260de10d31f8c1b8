// Links //solvers the way a user does and solves a problem the library has never seen: learning
// one shared L2 penalty for a tiny least-squares model (inner) against held-out data (outer).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include "solvers/solvers.h"

namespace {

using bilevel::Batch;
using bilevel::TensorList;

class SharedDecayProblem : public bilevel::BilevelProblem {
 public:
  SharedDecayProblem() {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(11);
    at::Tensor w = at::randn({5}, gen, at::kDouble);
    a_train_ = at::randn({20, 5}, gen, at::kDouble);
    b_train_ = a_train_.mv(w) + 2.0 * at::randn({20}, gen, at::kDouble);  // noisy training set
    a_val_ = at::randn({200, 5}, gen, at::kDouble);
    b_val_ = a_val_.mv(w);
  }
  TensorList InitialOuter() override { return {at::zeros({1}, at::kDouble)}; }
  TensorList InitialInner() override { return {at::zeros({5}, at::kDouble)}; }
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    return 0.5 * (a_val_.mv(y[0]) - b_val_).pow(2).mean();
  }
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    return 0.5 * (a_train_.mv(y[0]) - b_train_).pow(2).mean() +
           0.5 * x[0].exp().sum() * y[0].pow(2).sum();
  }
  // F(x) exactly, for the check.
  double ValidationLossAt(double log_decay) {
    at::Tensor h =
        a_train_.t().matmul(a_train_) / 20.0 + std::exp(log_decay) * at::eye(5, at::kDouble);
    at::Tensor y = at::linalg_solve(h, a_train_.t().mv(b_train_) / 20.0);
    return OuterObjective({}, {y}, Batch{}).item<double>();
  }

 private:
  at::Tensor a_train_, b_train_, a_val_, b_val_;
};

TEST(SolversUser, MinimaxOptAndPenaltyImproveTheHeldOutLoss) {
  SharedDecayProblem problem;
  const double start = problem.ValidationLossAt(0.0);
  double best = start;
  for (double t = -8; t <= 4; t += 0.01) best = std::min(best, problem.ValidationLossAt(t));
  ASSERT_LT(best, start);

  bilevel::MinimaxOptOptions minimax;
  minimax.num_stages = 10;
  minimax.iterations_per_stage = 300;
  bilevel::SolverSummary summary;
  ASSERT_TRUE(bilevel::Solve(minimax, &problem, &summary).ok());
  EXPECT_LT(problem.ValidationLossAt(summary.x[0].item<double>()), start - 0.5 * (start - best))
      << summary.FullReport();

  bilevel::PenaltyOptions penalty;
  penalty.max_iterations = 500;
  penalty.x_optimizer.learning_rate = 0.05;
  penalty.y_optimizer.learning_rate = 0.05;
  ASSERT_TRUE(bilevel::Solve(penalty, &problem, &summary).ok());
  EXPECT_LT(problem.ValidationLossAt(summary.x[0].item<double>()), start - 0.5 * (start - best))
      << summary.FullReport();
}

}  // namespace
