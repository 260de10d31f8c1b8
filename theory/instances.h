// Bilevel instances for checking the minimax reformulation's theory in double precision (Eigen),
// with every quantity the theory needs available exactly: values, gradients and full Hessians of
// f and g, and the assumption constants of ../shared/docs/ALGORITHMS.md ("Theory to check").
//
//   theory::QuadraticInstance q(/*dim_x=*/5, /*dim_y=*/8, /*condition=*/10, /*seed=*/1);
//   Eigen::MatrixXd H = q.HessG(x, y);        // (p+q) × (p+q), blocks [xx xy; yx yy]
//   theory::Constants c = q.Bounds();         // L_f, L_g, μ, ρ_g, C_f
//
// Variables are stacked as w = [x; y] (p + q entries) in every gradient and Hessian.
#ifndef THEORY_INSTANCES_H_
#define THEORY_INSTANCES_H_

#include <Eigen/Dense>
#include <cstdint>
#include <limits>
#include <random>
#include <string>

namespace theory {

using Vec = Eigen::VectorXd;
using Mat = Eigen::MatrixXd;

// The assumption constants. Where a constant is global (holds for all x, y) it is exact or an
// analytic upper bound; C_f is +inf when ∇_y f is unbounded (quadratic f), and then checks use
// its local value on the segment [y_λ(x), y*(x)], which is all the proof of Theorem 1 uses.
struct Constants {
  double L_f = 0;    // ∇f is L_f-Lipschitz in (x, y)
  double L_g = 0;    // ∇g is L_g-Lipschitz in (x, y)
  double mu = 0;     // g(x, ·) is μ-strongly convex
  double rho_g = 0;  // ∇²g is ρ_g-Lipschitz (0 for quadratic g)
  double C_f = std::numeric_limits<double>::infinity();  // sup ‖∇_y f‖
};

class Instance {
 public:
  virtual ~Instance() = default;
  virtual std::string Name() const = 0;
  virtual int dim_x() const = 0;
  virtual int dim_y() const = 0;
  virtual double F(const Vec& x, const Vec& y) const = 0;   // f(x, y)
  virtual double G(const Vec& x, const Vec& y) const = 0;   // g(x, y)
  virtual Vec GradF(const Vec& x, const Vec& y) const = 0;  // [∇_x f; ∇_y f]
  virtual Vec GradG(const Vec& x, const Vec& y) const = 0;
  virtual Mat HessF(const Vec& x, const Vec& y) const = 0;  // (p+q) × (p+q)
  virtual Mat HessG(const Vec& x, const Vec& y) const = 0;
  // The constants, as global bounds (see Constants).
  virtual Constants Bounds() const = 0;
  // A point x at which to check the claims, drawn from `rng`.
  Vec SampleX(std::mt19937_64& rng) const;
};

// g = ½yᵀAy + ½xᵀBx + xᵀCy + aᵀy + bᵀx,  f = ½wᵀMw + mᵀw (w = [x; y]); A has eigenvalues
// log-spaced in [1, condition], M in [1, 4]. All constants are exact eigenvalues; ρ_g = 0.
class QuadraticInstance : public Instance {
 public:
  QuadraticInstance(int dim_x, int dim_y, double condition, uint64_t seed);
  std::string Name() const override { return name_; }
  int dim_x() const override { return p_; }
  int dim_y() const override { return q_; }
  double F(const Vec& x, const Vec& y) const override;
  double G(const Vec& x, const Vec& y) const override;
  Vec GradF(const Vec& x, const Vec& y) const override;
  Vec GradG(const Vec& x, const Vec& y) const override;
  Mat HessF(const Vec&, const Vec&) const override { return M_; }
  Mat HessG(const Vec&, const Vec&) const override { return H_g_; }
  Constants Bounds() const override;

  const Mat& A() const { return A_; }
  const Mat& B() const { return B_; }
  const Mat& C() const { return C_; }
  const Vec& a() const { return a_; }
  const Vec& b() const { return b_; }
  const Mat& M() const { return M_; }
  const Vec& m() const { return m_; }

 private:
  int p_, q_;
  std::string name_;
  Mat A_, B_, C_, M_, H_g_;
  Vec a_, b_, m_;
};

// Inner: L2-regularized logistic regression tilted by x,
//   g(x, y) = (1/n) Σ_i log(1 + exp(−s_i a_iᵀy)) + (reg/2)‖y‖² + xᵀK y,
// so ∇²_xy g = K exactly (a linear, poisoning-like perturbation of the training objective).
// Outer: kQuadratic f = ½‖y − y_target‖² + (c/2)‖x‖², or kLogistic
//   f = (1/m) Σ_j log(1 + exp(−t_j e_jᵀy)) + (c/2)‖x‖² (validation loss).
// Constants: μ = reg; L_g ≤ ‖[0 K; Kᵀ reg·I + AᵀA/(4n)]‖; ρ_g ≤ max_i‖a_i‖³/(6√3);
// L_f = max(c, 1) or max(c, ‖E‖²/(4m)); C_f = max_j‖e_j‖ for the logistic outer, +inf otherwise.
class LogisticInstance : public Instance {
 public:
  enum class Outer { kQuadratic, kLogistic };
  LogisticInstance(int dim_x, int dim_y, int num_train, int num_val, Outer outer, uint64_t seed);
  std::string Name() const override { return name_; }
  int dim_x() const override { return p_; }
  int dim_y() const override { return q_; }
  double F(const Vec& x, const Vec& y) const override;
  double G(const Vec& x, const Vec& y) const override;
  Vec GradF(const Vec& x, const Vec& y) const override;
  Vec GradG(const Vec& x, const Vec& y) const override;
  Mat HessF(const Vec& x, const Vec& y) const override;
  Mat HessG(const Vec& x, const Vec& y) const override;
  Constants Bounds() const override;

  Outer outer() const { return outer_; }
  const Mat& train() const { return train_; }  // rows s_i a_iᵀ (labels folded in)
  const Mat& val() const { return val_; }      // rows t_j e_jᵀ
  const Mat& K() const { return K_; }
  const Vec& y_target() const { return y_target_; }
  double reg() const { return reg_; }
  double c() const { return c_; }

 private:
  int p_, q_;
  Outer outer_;
  std::string name_;
  Mat train_, val_, K_;
  Vec y_target_;
  double reg_ = 0.5, c_ = 0.1;
};

}  // namespace theory

#endif  // THEORY_INSTANCES_H_
