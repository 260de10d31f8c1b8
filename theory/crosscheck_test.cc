// Cross-check: the theory's quantities computed through the solver library's LibTorch autograd
// path (double precision) agree with the Eigen closed forms to 1e-8.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <memory>
#include <random>

#include "solvers/hypergradient.h"
#include "solvers/core/tensor_list.h"
#include "theory/instances.h"
#include "theory/numerics.h"

namespace theory {
namespace {

using bilevel::Batch;
using bilevel::TensorList;

at::Tensor ToTorch(const Mat& m) {
  Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor> row_major = m;
  return at::from_blob(row_major.data(), {m.rows(), m.cols()}, at::kDouble).clone();
}
at::Tensor ToTorch(const Vec& v) {
  Vec copy = v;
  return at::from_blob(copy.data(), {v.size()}, at::kDouble).clone();
}
Vec ToEigen(const at::Tensor& t) {
  at::Tensor c = t.contiguous().to(at::kDouble);
  return Eigen::Map<const Vec>(c.data_ptr<double>(), c.numel());
}

// The same f and g written as LibTorch expressions, from the instance's data.
class TorchMirror : public bilevel::BilevelProblem {
 public:
  explicit TorchMirror(const Instance& inst) : inst_(inst) {
    if (auto* q = dynamic_cast<const QuadraticInstance*>(&inst)) {
      A_ = ToTorch(q->A()), B_ = ToTorch(q->B()), C_ = ToTorch(q->C()), a_ = ToTorch(q->a());
      b_ = ToTorch(q->b()), M_ = ToTorch(q->M()), m_ = ToTorch(q->m());
    } else {
      logistic_ = dynamic_cast<const LogisticInstance*>(&inst);
      R_ = ToTorch(logistic_->train()), E_ = ToTorch(logistic_->val());
      K_ = ToTorch(logistic_->K()), target_ = ToTorch(logistic_->y_target());
    }
  }
  TensorList InitialOuter() override { return {at::zeros({inst_.dim_x()}, at::kDouble)}; }
  TensorList InitialInner() override { return {at::zeros({inst_.dim_y()}, at::kDouble)}; }
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    if (logistic_ == nullptr) {
      at::Tensor w = at::cat({x[0], y[0]});
      return 0.5 * w.dot(M_.mv(w)) + m_.dot(w);
    }
    at::Tensor outer = logistic_->outer() == LogisticInstance::Outer::kQuadratic
                           ? 0.5 * (y[0] - target_).pow(2).sum()
                           : at::softplus(-E_.mv(y[0])).mean();
    return outer + 0.5 * logistic_->c() * x[0].pow(2).sum();
  }
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    if (logistic_ == nullptr) {
      return 0.5 * y[0].dot(A_.mv(y[0])) + 0.5 * x[0].dot(B_.mv(x[0])) + x[0].dot(C_.mv(y[0])) +
             a_.dot(y[0]) + b_.dot(x[0]);
    }
    return at::softplus(-R_.mv(y[0])).mean() + 0.5 * logistic_->reg() * y[0].pow(2).sum() +
           x[0].dot(K_.mv(y[0]));
  }

 private:
  const Instance& inst_;
  const LogisticInstance* logistic_ = nullptr;
  at::Tensor A_, B_, C_, a_, b_, M_, m_, R_, E_, K_, target_;
};

double RelativeError(const Vec& a, const Vec& b) {
  return (a - b).norm() / std::max(1e-300, b.norm());
}

class CrossCheckTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override {
    if (GetParam() == 0) {
      inst_ = std::make_unique<QuadraticInstance>(4, 6, 10.0, 2);
    } else if (GetParam() == 1) {
      inst_ =
          std::make_unique<LogisticInstance>(3, 6, 60, 60, LogisticInstance::Outer::kQuadratic, 4);
    } else {
      inst_ =
          std::make_unique<LogisticInstance>(3, 6, 60, 60, LogisticInstance::Outer::kLogistic, 5);
    }
    mirror_ = std::make_unique<TorchMirror>(*inst_);
    std::mt19937_64 rng(3);
    x_ = inst_->SampleX(rng);
  }
  std::unique_ptr<Instance> inst_;
  std::unique_ptr<TorchMirror> mirror_;
  Vec x_;
};

TEST_P(CrossCheckTest, MinimaxGradientByAutogradMatchesEigen) {
  for (double lambda : {10.0, 100.0, 1000.0}) {
    const Vec y_lambda = PenalizedSolution(*inst_, x_, lambda);
    const Vec y_star = InnerSolution(*inst_, x_);
    TensorList xs = bilevel::GradLeaves({ToTorch(x_)});
    at::Tensor lagrangian = mirror_->OuterObjective(xs, {ToTorch(y_lambda)}, Batch{}) +
                            lambda * (mirror_->InnerObjective(xs, {ToTorch(y_lambda)}, Batch{}) -
                                      mirror_->InnerObjective(xs, {ToTorch(y_star)}, Batch{}));
    const Vec autograd = ToEigen(bilevel::Gradients(lagrangian, xs)[0]);
    EXPECT_LT(RelativeError(autograd, MinimaxGradient(*inst_, x_, lambda)), 1e-8)
        << inst_->Name() << " lambda " << lambda;
  }
}

TEST_P(CrossCheckTest, HypergradientBySolverLibraryMatchesEigen) {
  bilevel::HypergradientOptions options;
  options.method = bilevel::HypergradientMethod::kConjugateGradient;
  options.linear_solver_iterations = 100;
  bilevel::OracleCounts counts;
  bilevel::EstimateContext context;
  context.counts = &counts;
  const at::Tensor estimate = bilevel::ImplicitHypergradient(mirror_.get(), {ToTorch(x_)},
                                                             {ToTorch(InnerSolution(*inst_, x_))},
                                                             options, context, nullptr)
                                  .hypergradient[0];
  EXPECT_LT(RelativeError(ToEigen(estimate), Hypergradient(*inst_, x_)), 1e-8) << inst_->Name();
}

TEST_P(CrossCheckTest, LagrangianHessianByAutogradMatchesEigen) {
  const double lambda = 50.0;
  const int p = inst_->dim_x(), q = inst_->dim_y();
  const Vec y = PenalizedSolution(*inst_, x_, lambda), z = InnerSolution(*inst_, x_);
  TensorList vars = bilevel::GradLeaves({ToTorch(x_), ToTorch(y), ToTorch(z)});
  at::Tensor lagrangian = mirror_->OuterObjective({vars[0]}, {vars[1]}, Batch{}) +
                          lambda * (mirror_->InnerObjective({vars[0]}, {vars[1]}, Batch{}) -
                                    mirror_->InnerObjective({vars[0]}, {vars[2]}, Batch{}));
  const TensorList grad = bilevel::Gradients(lagrangian, vars, /*create_graph=*/true);
  const at::Tensor flat = at::cat(grad);
  Mat autograd(p + 2 * q, p + 2 * q);
  for (int i = 0; i < p + 2 * q; ++i) {  // one Hessian-vector product per unit vector
    const TensorList row =
        bilevel::VectorJacobianProducts({flat[i]}, vars, {at::ones({}, at::kDouble)},
                                        /*retain_graph=*/true);
    autograd.row(i) = ToEigen(at::cat(row));
  }
  const Mat eigen = LagrangianHessian(*inst_, x_, y, z, lambda);
  EXPECT_LT((autograd - eigen).norm() / eigen.norm(), 1e-8) << inst_->Name();
  EXPECT_NEAR(MinEigenvalue(autograd.block(p, p, q, q)), MinEigenvalue(eigen.block(p, p, q, q)),
              1e-8 * lambda);
}

INSTANTIATE_TEST_SUITE_P(Instances, CrossCheckTest, ::testing::Range(0, 3));

// The Newton-based closed forms against finite differences (independent of autograd).
TEST(Numerics, GradientsMatchFiniteDifferences) {
  LogisticInstance inst(3, 6, 60, 60, LogisticInstance::Outer::kLogistic, 5);
  std::mt19937_64 rng(1);
  const Vec x = inst.SampleX(rng);
  Vec fd_f(3), fd_phi(3);
  for (int i = 0; i < 3; ++i) {
    Vec plus = x, minus = x;
    plus(i) += 1e-5;
    minus(i) -= 1e-5;
    fd_f(i) = (Hyperobjective(inst, plus) - Hyperobjective(inst, minus)) / 2e-5;
    fd_phi(i) = (MinimaxValue(inst, plus, 30.0) - MinimaxValue(inst, minus, 30.0)) / 2e-5;
  }
  EXPECT_LT(RelativeError(Hypergradient(inst, x), fd_f), 1e-7);
  EXPECT_LT(RelativeError(MinimaxGradient(inst, x, 30.0), fd_phi), 1e-7);
}

}  // namespace
}  // namespace theory
