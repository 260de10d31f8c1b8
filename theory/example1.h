// Example 1 (the paper's Appendix A.2, whose numbers were lost; rebuilt here in its spirit): a
// one-dimensional least-squares bilevel problem whose minimax reformulation has exactly the
// bilevel solution once λ passes a threshold.
//
//   inner  g(x, y) = ½ (y − x)²                        (fit y to x by least squares)
//   outer  f(x, y) = ½ (x − 1)² + ½ (y − 1)² − (c/2)(y − x)²,   c > ½
//
// Bilevel: y*(x) = x, F(x) = (x − 1)², so x* = y* = 1.
// Minimax: max_z −λ g(x, z) is attained at z = x with value 0, so
//   min_{x,y} max_z L_λ = min_{x,y} ½(x − 1)² + ½(y − 1)² + ((λ − c)/2)(y − x)².
// This quadratic has Hessian [[1 + (λ − c), −(λ − c)], [−(λ − c), 1 + (λ − c)]] with eigenvalues
// 1 (along (1, 1)) and 1 + 2(λ − c) (along (1, −1)). Hence, with the threshold λ* = c − ½:
//   λ > λ*: the unique minimax solution is (x, y, z) = (1, 1, 1), the bilevel solution, exactly
//           (∇_y f(1, 1) = 0, so the O(1/λ) bias of Theorem 1 vanishes);
//   λ = λ*: a line of minimisers (1 + t, 1 − t, 1 + t);
//   λ < λ*: L_λ is unbounded below along (1, −1): the minimax problem has no solution.
// For comparison, the scalar bias problem of solvers/testing (∇_y f(x*, y*) ≠ 0) has
// x_λ − x* = (a − b)/(2(1 + 2λ)) ≠ 0 for every λ.
#ifndef THEORY_EXAMPLE1_H_
#define THEORY_EXAMPLE1_H_

#include <optional>
#include <utility>

namespace theory {

class Example1 {
 public:
  explicit Example1(double c) : c_(c) {}

  double c() const { return c_; }
  double Threshold() const { return c_ - 0.5; }  // λ*
  std::pair<double, double> BilevelSolution() const { return {1.0, 1.0}; }
  // (x, y) of the minimax solution, or nullopt when λ ≤ λ* (none, or not unique).
  std::optional<std::pair<double, double>> MinimaxSolution(double lambda) const;
  // Eigenvalues of the (x, y) Hessian of max_z L_λ: {1, 1 + 2(λ − c)}.
  std::pair<double, double> MinimaxHessianEigenvalues(double lambda) const;
  // max_z L_λ(x, y, z) = ½(x − 1)² + ½(y − 1)² + ((λ − c)/2)(y − x)².
  double ReducedObjective(double x, double y, double lambda) const;

 private:
  double c_;
};

}  // namespace theory

#endif  // THEORY_EXAMPLE1_H_
