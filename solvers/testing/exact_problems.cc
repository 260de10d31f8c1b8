#include "solvers/testing/exact_problems.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>

namespace bilevel::testing {
namespace {

at::TensorOptions Double() { return at::TensorOptions().dtype(at::kDouble); }

// A symmetric positive definite matrix Q diag(λ) Qᵀ with eigenvalues log-spaced in [lo, hi] and a
// Haar-like random orthogonal Q.
at::Tensor RandomSpd(int64_t n, double lo, double hi, at::Generator& gen) {
  at::Tensor q = std::get<0>(at::linalg_qr(at::randn({n, n}, gen, Double())));
  at::Tensor eig = at::logspace(std::log10(lo), std::log10(hi), n, 10.0, Double());
  at::Tensor m = q.matmul(at::diag(eig)).matmul(q.t());
  return 0.5 * (m + m.t());
}

}  // namespace

double ExactProblem::HyperObjective(const at::Tensor& x) {
  return OuterObjective({x}, {InnerSolution(x)}, Batch{}).item<double>();
}

// ---------------------------------------------------------------------------------------------
QuadraticProblem::QuadraticProblem(const QuadraticSpec& spec) : spec_(spec) {
  TORCH_CHECK(spec.dim_x > 0 && spec.dim_y > 0, "QuadraticProblem: dimensions must be positive");
  TORCH_CHECK(spec.inner_mu > 0 && spec.inner_condition >= 1 && spec.outer_condition >= 1,
              "QuadraticProblem: need inner_mu > 0 and condition numbers >= 1");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  const int64_t p = spec.dim_x, q = spec.dim_y;
  A_ = RandomSpd(q, spec.inner_mu, spec.inner_mu * spec.inner_condition, gen);
  B_ = at::eye(p, Double());
  C_ = at::randn({p, q}, gen, Double()) * (spec.coupling / std::sqrt(static_cast<double>(q)));
  a_ = at::randn({q}, gen, Double());
  b_ = at::randn({p}, gen, Double());
  M_ = RandomSpd(p + q, 1.0, spec.outer_condition, gen);
  m_ = at::randn({p + q}, gen, Double());

  // x* from the normal equations of the quadratic F(x) = f(x, Jx + y0).
  at::Tensor J = -at::linalg_solve(A_, C_.t());  // q × p
  at::Tensor P = at::cat({at::eye(p, Double()), J}, 0);
  at::Tensor r = at::cat({at::zeros({p}, Double()), -at::linalg_solve(A_, a_)});
  at::Tensor H = P.t().matmul(M_).matmul(P);
  x_star_ = at::linalg_solve(H, -P.t().mv(M_.mv(r) + m_));

  for (at::Tensor* t : {&A_, &B_, &C_, &a_, &b_, &M_, &m_, &x_star_}) *t = t->to(spec.device);
}

TensorList QuadraticProblem::InitialOuter() {
  return {at::zeros({spec_.dim_x}, Double().device(spec_.device))};
}
TensorList QuadraticProblem::InitialInner() {
  return {at::zeros({spec_.dim_y}, Double().device(spec_.device))};
}

at::Tensor QuadraticProblem::OuterObjective(const TensorList& x, const TensorList& y,
                                            const Batch&) {
  at::Tensor z = at::cat({x[0], y[0]});
  return 0.5 * z.dot(M_.mv(z)) + m_.dot(z);
}

at::Tensor QuadraticProblem::InnerObjective(const TensorList& x, const TensorList& y,
                                            const Batch&) {
  const at::Tensor& xv = x[0];
  const at::Tensor& yv = y[0];
  return 0.5 * yv.dot(A_.mv(yv)) + 0.5 * xv.dot(B_.mv(xv)) + xv.dot(C_.mv(yv)) + a_.dot(yv) +
         b_.dot(xv);
}

at::Tensor QuadraticProblem::InnerSolution(const at::Tensor& x) const {
  return -at::linalg_solve(A_, a_ + C_.t().mv(x));
}

at::Tensor QuadraticProblem::Hypergradient(const at::Tensor& x) const {
  PartialGradients d = AnalyticGradients(x, InnerSolution(x));
  return d.fx - C_.mv(at::linalg_solve(A_, d.fy));
}

PartialGradients QuadraticProblem::AnalyticGradients(const at::Tensor& x,
                                                     const at::Tensor& y) const {
  const int64_t p = spec_.dim_x;
  at::Tensor grad_f = M_.mv(at::cat({x, y})) + m_;
  return PartialGradients{grad_f.slice(0, 0, p), grad_f.slice(0, p), B_.mv(x) + C_.mv(y) + b_,
                          A_.mv(y) + C_.t().mv(x) + a_};
}

// ---------------------------------------------------------------------------------------------
RidgeProblem::RidgeProblem(const RidgeSpec& spec) : spec_(spec) {
  TORCH_CHECK(spec.num_features > 0 && spec.num_train > 0 && spec.num_validation > 0,
              "RidgeProblem: sizes must be positive");
  TORCH_CHECK(spec.log_decay_min < spec.log_decay_max, "RidgeProblem: empty box");
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  const int64_t d = spec.num_features;
  // Half of the features carry signal; the others are noise that a large weight decay removes.
  at::Tensor w_true =
      at::randn({d}, gen, Double()) * (at::arange(d, Double()).remainder(2) == 0).to(at::kDouble);
  X_train_ = at::randn({spec.num_train, d}, gen, Double());
  y_train_ = X_train_.mv(w_true) + spec.noise * at::randn({spec.num_train}, gen, Double());
  X_val_ = at::randn({spec.num_validation, d}, gen, Double());
  y_val_ = X_val_.mv(w_true) + spec.noise * at::randn({spec.num_validation}, gen, Double());
  for (at::Tensor* t : {&X_train_, &y_train_, &X_val_, &y_val_}) *t = t->to(spec.device);
}

TensorList RidgeProblem::InitialOuter() {
  return {at::zeros({spec_.num_features}, Double().device(spec_.device))};
}
TensorList RidgeProblem::InitialInner() {
  return {at::zeros({spec_.num_features}, Double().device(spec_.device))};
}

at::Tensor RidgeProblem::OuterObjective(const TensorList& x, const TensorList& y,
                                        const Batch& batch) {
  at::Tensor r = batch.Rows(X_val_).mv(y[0]) - batch.Rows(y_val_);
  return 0.5 * r.pow(2).mean();
}

at::Tensor RidgeProblem::InnerObjective(const TensorList& x, const TensorList& y,
                                        const Batch& batch) {
  at::Tensor r = batch.Rows(X_train_).mv(y[0]) - batch.Rows(y_train_);
  return 0.5 * r.pow(2).mean() + 0.5 * (x[0].exp() * y[0].pow(2)).sum();
}

void RidgeProblem::ProjectOuter(TensorList* x) const {
  c10::NoGradGuard no_grad;
  (*x)[0].clamp_(spec_.log_decay_min, spec_.log_decay_max);
}

at::Tensor RidgeProblem::InnerSolution(const at::Tensor& x) const {
  const double n = static_cast<double>(spec_.num_train);
  at::Tensor H = X_train_.t().matmul(X_train_) / n + at::diag(x.exp());
  return at::linalg_solve(H, X_train_.t().mv(y_train_) / n);
}

at::Tensor RidgeProblem::Hypergradient(const at::Tensor& x) const {
  const double n = static_cast<double>(spec_.num_train);
  at::Tensor w = InnerSolution(x);
  at::Tensor H = X_train_.t().matmul(X_train_) / n + at::diag(x.exp());
  PartialGradients d = AnalyticGradients(x, w);
  // ∇²_xw g = diag(e^x ⊙ w); ∇_x f = 0.
  return d.fx - x.exp() * w * at::linalg_solve(H, d.fy);
}

PartialGradients RidgeProblem::AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const {
  const double n = static_cast<double>(spec_.num_train);
  const double m = static_cast<double>(spec_.num_validation);
  return PartialGradients{at::zeros_like(x), X_val_.t().mv(X_val_.mv(y) - y_val_) / m,
                          0.5 * x.exp() * y.pow(2),
                          X_train_.t().mv(X_train_.mv(y) - y_train_) / n + x.exp() * y};
}

at::Tensor RidgeProblem::ReferenceSolution(double tolerance, int max_iterations,
                                           double* projected_gradient_norm) {
  at::Tensor x = InitialOuter()[0];
  double step = 1.0;
  double value = HyperObjective(x);
  auto project = [&](at::Tensor v) { return v.clamp(spec_.log_decay_min, spec_.log_decay_max); };
  double norm = 0;
  for (int it = 0; it < max_iterations; ++it) {
    at::Tensor grad = Hypergradient(x);
    norm = (x - project(x - grad)).norm().item<double>();
    if (norm < tolerance) break;
    // Armijo backtracking along the projection arc; the step grows back after a success.
    step = std::min(1e6, step * 2.0);
    for (int k = 0; k < 60; ++k) {
      at::Tensor candidate = project(x - step * grad);
      const double candidate_value = HyperObjective(candidate);
      if (candidate_value <= value - 1e-4 * grad.dot(x - candidate).item<double>()) {
        x = candidate;
        value = candidate_value;
        break;
      }
      step *= 0.5;
    }
  }
  if (projected_gradient_norm != nullptr) *projected_gradient_norm = norm;
  return x;
}

// ---------------------------------------------------------------------------------------------
ScalarBiasProblem::ScalarBiasProblem(double a, double b, double x0, double y0)
    : a_(a), b_(b), x0_(x0), y0_(y0) {}

TensorList ScalarBiasProblem::InitialOuter() { return {at::full({1}, x0_, Double())}; }
TensorList ScalarBiasProblem::InitialInner() { return {at::full({1}, y0_, Double())}; }

at::Tensor ScalarBiasProblem::OuterObjective(const TensorList& x, const TensorList& y,
                                             const Batch&) {
  return (0.5 * (x[0] - a_).pow(2) + 0.5 * (y[0] - b_).pow(2)).sum();
}

at::Tensor ScalarBiasProblem::InnerObjective(const TensorList& x, const TensorList& y,
                                             const Batch&) {
  return (0.5 * (y[0] - x[0]).pow(2)).sum();
}

at::Tensor ScalarBiasProblem::InnerSolution(const at::Tensor& x) const { return x.clone(); }

at::Tensor ScalarBiasProblem::Hypergradient(const at::Tensor& x) const {
  return (x - a_) + (x - b_);
}

PartialGradients ScalarBiasProblem::AnalyticGradients(const at::Tensor& x,
                                                      const at::Tensor& y) const {
  return PartialGradients{x - a_, y - b_, x - y, y - x};
}

double ScalarBiasProblem::MinimaxSolution(double lambda) const {
  return (a_ + lambda * (a_ + b_)) / (1.0 + 2.0 * lambda);
}

// ---------------------------------------------------------------------------------------------
SmdProblem::SmdProblem(int64_t dim, double u0, double v0) : dim_(dim), u0_(u0), v0_(v0) {
  TORCH_CHECK(dim > 0, "SmdProblem: dimension must be positive");
}

TensorList SmdProblem::InitialOuter() { return {at::full({dim_}, u0_, Double())}; }
TensorList SmdProblem::InitialInner() { return {at::full({dim_}, v0_, Double())}; }

at::Tensor SmdProblem::OuterObjective(const TensorList& x, const TensorList& y, const Batch&) {
  return x[0].pow(2).sum() + y[0].pow(2).sum() - 1.0;
}

at::Tensor SmdProblem::InnerObjective(const TensorList& x, const TensorList& y, const Batch&) {
  return (1.0 - x[0] - y[0]).pow(2).sum();
}

at::Tensor SmdProblem::InnerSolution(const at::Tensor& x) const { return 1.0 - x; }

at::Tensor SmdProblem::Hypergradient(const at::Tensor& x) const { return 4.0 * x - 2.0; }

PartialGradients SmdProblem::AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const {
  at::Tensor r = -2.0 * (1.0 - x - y);
  return PartialGradients{2.0 * x, 2.0 * y, r, r};
}

at::Tensor SmdProblem::Solution() const { return at::full({dim_}, 0.5, Double()); }

}  // namespace bilevel::testing
