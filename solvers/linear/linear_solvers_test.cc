#include "solvers/linear/linear_solvers.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <vector>

namespace bilevel {
namespace {

// A = Q diag(eigenvalues) Qᵀ in double precision, applied to a list of two blocks (3 + 2 entries),
// as the solvers see parameter lists.
struct Matrix {
  at::Tensor a;
  explicit Matrix(const std::vector<double>& eigenvalues) {
    at::manual_seed(3);
    const at::Tensor q = std::get<0>(at::linalg_qr(at::randn({5, 5}, at::kDouble)));
    a = q.matmul(at::diag(at::tensor(eigenvalues, at::kDouble))).matmul(q.t());
  }
  LinearOperator Operator() const {
    return [a = a](const TensorList& v) {
      const at::Tensor av = a.matmul(at::cat({v[0], v[1]}));
      return TensorList{av.slice(0, 0, 3), av.slice(0, 3, 5)};
    };
  }
  // A⁻¹ b, stacked.
  at::Tensor Solve(const TensorList& b) const {
    return at::linalg_solve(a, at::cat({b[0], b[1]}));
  }
};

TensorList RightHandSide() {
  at::manual_seed(5);
  return {at::randn({3}, at::kDouble), at::randn({2}, at::kDouble)};
}

double Error(const LinearSolveResult& r, const at::Tensor& expected) {
  return (at::cat({r.solution[0], r.solution[1]}) - expected).norm().item<double>();
}

const std::vector<double> kSpd = {1, 2, 4, 7, 10};  // condition number 10

TEST(ConjugateGradientTest, SolvesAnSpdSystemInAtMostNProducts) {
  const Matrix m(kSpd);
  const TensorList b = RightHandSide();
  const LinearSolveResult r = ConjugateGradient(m.Operator(), b, nullptr, 20, 1e-12);
  EXPECT_EQ(r.outcome, LinearSolveOutcome::kConverged);
  EXPECT_LE(r.products, 6);  // 5 in exact arithmetic
  EXPECT_LT(Error(r, m.Solve(b)), 1e-9);
  EXPECT_FALSE(r.solution[0].requires_grad());
}

TEST(ConjugateGradientTest, AStartAtTheSolutionCostsOneProduct) {
  const Matrix m(kSpd);
  const TensorList b = RightHandSide();
  const at::Tensor x = m.Solve(b);
  const TensorList start = {x.slice(0, 0, 3), x.slice(0, 3, 5)};
  const LinearSolveResult r = ConjugateGradient(m.Operator(), b, &start, 20, 1e-9);
  EXPECT_EQ(r.outcome, LinearSolveOutcome::kConverged);
  EXPECT_EQ(r.products, 1);  // the start's residual
}

TEST(ConjugateGradientTest, ReportsABreakdownOnAnIndefiniteSystemAndTheIterationLimit) {
  const Matrix indefinite({-3, 1, 2, 4, 10});
  const LinearSolveResult broken =
      ConjugateGradient(indefinite.Operator(), RightHandSide(), nullptr, 20, 1e-12);
  EXPECT_EQ(broken.outcome, LinearSolveOutcome::kBreakdown);
  EXPECT_TRUE(at::cat({broken.solution[0], broken.solution[1]}).isfinite().all().item<bool>());

  const LinearSolveResult limited =
      ConjugateGradient(Matrix(kSpd).Operator(), RightHandSide(), nullptr, 2, 1e-12);
  EXPECT_EQ(limited.outcome, LinearSolveOutcome::kIterationLimit);
  EXPECT_EQ(limited.products, 2);
}

TEST(FixedPointIterationTest, ConvergesBelowTwoOverLAndReportsADivergenceAbove) {
  const Matrix m(kSpd);
  const TensorList b = RightHandSide();
  const LinearSolveResult r = FixedPointIteration(m.Operator(), b, nullptr, 1000, 0.1, 1e-10);
  EXPECT_EQ(r.outcome, LinearSolveOutcome::kConverged);
  EXPECT_LT(Error(r, m.Solve(b)), 1e-9);
  EXPECT_LT(r.products, 1000);

  // β = 0.25 > 2/L = 0.2: the residual grows; the result is the iterate with the smallest one.
  const LinearSolveResult diverged = FixedPointIteration(m.Operator(), b, nullptr, 1000, 0.25, 1e-10);
  EXPECT_EQ(diverged.outcome, LinearSolveOutcome::kDiverged);
  EXPECT_LT(diverged.products, 100);
  const at::Tensor stacked_b = at::cat({b[0], b[1]});
  const at::Tensor residual =
      stacked_b - m.a.matmul(at::cat({diverged.solution[0], diverged.solution[1]}));
  EXPECT_LE(residual.norm().item<double>(), stacked_b.norm().item<double>() + 1e-12);
}

TEST(NeumannSeriesTest, ApproximatesTheInverseAndReportsADivergence) {
  const Matrix m(kSpd);
  const TensorList b = RightHandSide();
  // β = 1/L: the error contracts by 1 − λ_min/L = 0.9 per term.
  const LinearSolveResult r = NeumannSeries(m.Operator(), b, 300, 0.1);
  EXPECT_EQ(r.outcome, LinearSolveOutcome::kIterationLimit);  // a fixed number of terms
  EXPECT_EQ(r.products, 300);
  EXPECT_LT(Error(r, m.Solve(b)), 1e-10);

  const LinearSolveResult diverged = NeumannSeries(m.Operator(), b, 300, 0.3);
  EXPECT_EQ(diverged.outcome, LinearSolveOutcome::kDiverged);
  EXPECT_LT(diverged.products, 300);
}

TEST(LinearSolveOutcomeTest, NamesEveryOutcome) {
  EXPECT_EQ(ToString(LinearSolveOutcome::kConverged), "converged");
  EXPECT_EQ(ToString(LinearSolveOutcome::kBreakdown), "breakdown");
  EXPECT_EQ(ToString(LinearSolveOutcome::kDiverged), "diverged");
  EXPECT_EQ(ToString(LinearSolveOutcome::kIterationLimit), "iteration_limit");
}

}  // namespace
}  // namespace bilevel
