// Bilevel problems whose answers are known in closed form, for tests (testonly).
//
// Each problem has one outer tensor x (1-D) and one inner tensor y (1-D) in double precision and
// exposes, besides the BilevelProblem interface, its inner solution y*(x), the hyperobjective
// F(x) = f(x, y*(x)), the hypergradient ∇F(x) from the implicit function theorem, and the
// analytic partial gradients of f and g, all in closed form (../shared/docs/ALGORITHMS.md,
// "Problems with exact answers"):
//
//   QuadraticProblem  g = ½yᵀAy + ½xᵀBx + xᵀCy + aᵀy + bᵀx,  f = ½[x;y]ᵀM[x;y] + mᵀ[x;y]
//                     y*(x) = −A⁻¹(a + Cᵀx);  x* solves (PᵀMP) x = −Pᵀ(M r + m), P = [I; −A⁻¹Cᵀ],
//                     r = [0; −A⁻¹a]. A's condition number is a parameter.
//   RidgeProblem      g = (1/2n)‖X_tr w − y_tr‖² + ½ Σ_j e^{x_j} w_j²,  f = (1/2m)‖X_val w −
//   y_val‖²
//                     w*(x) = (X_trᵀX_tr/n + diag(e^x))⁻¹ X_trᵀ y_tr/n; x in a box X.
//   ScalarBiasProblem f = ½(x − a)² + ½(y − b)²,  g = ½(y − x)²;  x* = (a + b)/2 and, for the
//                     minimax problem at fixed λ, x_λ = (a + λ(a + b))/(1 + 2λ).
//   SmdProblem        f = ‖u‖² + ‖v‖² − 1,  g = ‖1 − u − v‖²;  u* = v* = 0.5 (x = u, y = v).
#ifndef SOLVERS_TESTING_EXACT_PROBLEMS_H_
#define SOLVERS_TESTING_EXACT_PROBLEMS_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

#include "solvers/core/bilevel_problem.h"

namespace bilevel::testing {

// ∇_x f, ∇_y f, ∇_x g, ∇_y g at one point.
struct PartialGradients {
  at::Tensor fx, fy, gx, gy;
};

class ExactProblem : public BilevelProblem {
 public:
  // Closed forms at outer point x (1-D double tensor).
  virtual at::Tensor InnerSolution(const at::Tensor& x) const = 0;  // y*(x)
  virtual at::Tensor Hypergradient(const at::Tensor& x) const = 0;  // ∇F(x)
  virtual PartialGradients AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const = 0;
  // F(x) = f(x, y*(x)) on the full data.
  double HyperObjective(const at::Tensor& x);
};

struct QuadraticSpec {
  int64_t dim_x = 100;
  int64_t dim_y = 100;
  // Eigenvalues of A = ∇²_yy g are log-spaced in [inner_mu, inner_mu * inner_condition].
  double inner_mu = 1.0;
  double inner_condition = 10.0;
  // Eigenvalues of the joint Hessian M of f are log-spaced in [1, outer_condition].
  double outer_condition = 10.0;
  // Entries of C = ∇²_xy g are N(0, coupling² / dim_y).
  double coupling = 1.0;
  uint64_t seed = 0;
  c10::Device device = c10::Device(c10::kCPU);
};

class QuadraticProblem : public ExactProblem {
 public:
  explicit QuadraticProblem(const QuadraticSpec& spec);

  TensorList InitialOuter() override;
  TensorList InitialInner() override;
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override;

  at::Tensor InnerSolution(const at::Tensor& x) const override;
  at::Tensor Hypergradient(const at::Tensor& x) const override;
  PartialGradients AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const override;
  // The bilevel solution x*.
  at::Tensor Solution() const { return x_star_; }

  const at::Tensor& A() const { return A_; }
  const at::Tensor& C() const { return C_; }

 private:
  QuadraticSpec spec_;
  at::Tensor A_, B_, C_, a_, b_, M_, m_, x_star_;
};

struct RidgeSpec {
  int64_t num_features = 10;
  int64_t num_train = 100;
  int64_t num_validation = 100;
  double noise = 0.5;  // standard deviation of the label noise
  // The box X = [log_decay_min, log_decay_max]^d for x = log weight decay.
  double log_decay_min = -8.0;
  double log_decay_max = 4.0;
  uint64_t seed = 0;
  c10::Device device = c10::Device(c10::kCPU);
};

class RidgeProblem : public ExactProblem {
 public:
  explicit RidgeProblem(const RidgeSpec& spec);

  TensorList InitialOuter() override;  // x = 0 (unit weight decay)
  TensorList InitialInner() override;  // w = 0
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch& batch) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch& batch) override;
  int64_t NumOuterExamples() const override { return spec_.num_validation; }
  int64_t NumInnerExamples() const override { return spec_.num_train; }
  void ProjectOuter(TensorList* x) const override;  // clamp to the box

  at::Tensor InnerSolution(const at::Tensor& x) const override;
  at::Tensor Hypergradient(const at::Tensor& x) const override;
  PartialGradients AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const override;

  // A local minimiser of F over the box, by projected gradient descent on the closed-form
  // hypergradient with Armijo backtracking, run until the projected gradient's norm is below
  // `tolerance` (or `max_iterations`); `projected_gradient_norm` receives the final norm.
  at::Tensor ReferenceSolution(double tolerance, int max_iterations,
                               double* projected_gradient_norm);

 private:
  RidgeSpec spec_;
  at::Tensor X_train_, y_train_, X_val_, y_val_;
};

class ScalarBiasProblem : public ExactProblem {
 public:
  ScalarBiasProblem(double a, double b, double x0 = 0.0, double y0 = 0.0);

  TensorList InitialOuter() override;
  TensorList InitialInner() override;
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override;

  at::Tensor InnerSolution(const at::Tensor& x) const override;
  at::Tensor Hypergradient(const at::Tensor& x) const override;
  PartialGradients AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const override;
  double Solution() const { return 0.5 * (a_ + b_); }
  // The x-component of the minimax solution at fixed λ: (a + λ(a + b)) / (1 + 2λ).
  double MinimaxSolution(double lambda) const;

 private:
  double a_, b_, x0_, y0_;
};

class SmdProblem : public ExactProblem {
 public:
  explicit SmdProblem(int64_t dim, double u0 = 1.0, double v0 = 1.0);

  TensorList InitialOuter() override;
  TensorList InitialInner() override;
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override;

  at::Tensor InnerSolution(const at::Tensor& x) const override;
  at::Tensor Hypergradient(const at::Tensor& x) const override;
  PartialGradients AnalyticGradients(const at::Tensor& x, const at::Tensor& y) const override;
  at::Tensor Solution() const;  // 0.5 everywhere

 private:
  int64_t dim_;
  double u0_, v0_;
};

}  // namespace bilevel::testing

#endif  // SOLVERS_TESTING_EXACT_PROBLEMS_H_
