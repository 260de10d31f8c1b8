#include "theory/numerics.h"

#include <Eigen/Eigenvalues>
#include <algorithm>
#include <cmath>

namespace theory {

double MinEigenvalue(const Mat& symmetric) {
  Eigen::SelfAdjointEigenSolver<Mat> es(symmetric, Eigen::EigenvaluesOnly);
  return es.eigenvalues().minCoeff();
}

double SpectralNorm(const Mat& symmetric) {
  Eigen::SelfAdjointEigenSolver<Mat> es(symmetric, Eigen::EigenvaluesOnly);
  return std::max(std::abs(es.eigenvalues().minCoeff()), std::abs(es.eigenvalues().maxCoeff()));
}

Vec MinimizeInY(const Instance& inst, const Vec& x, double f_weight, double g_weight) {
  const int q = inst.dim_y();
  auto value = [&](const Vec& y) { return f_weight * inst.F(x, y) + g_weight * inst.G(x, y); };
  auto grad = [&](const Vec& y) -> Vec {
    return (f_weight * inst.GradF(x, y) + g_weight * inst.GradG(x, y)).tail(q);
  };
  Vec y = Vec::Zero(q);
  double h = value(y);
  for (int it = 0; it < 200; ++it) {
    const Vec gr = grad(y);
    if (gr.norm() <= 1e-13 * (1.0 + std::abs(h))) return y;
    const Mat hess =
        (f_weight * inst.HessF(x, y) + g_weight * inst.HessG(x, y)).bottomRightCorner(q, q);
    const Vec step = hess.ldlt().solve(gr);
    double t = 1.0;
    // Backtracking; near the solution the full step is accepted and convergence is quadratic.
    while (t > 1e-12) {
      const Vec candidate = y - t * step;
      const double hc = value(candidate);
      if (hc <= h - 1e-4 * t * gr.dot(step) || t * step.norm() < 1e-15 * (1 + y.norm())) {
        y = candidate;
        h = hc;
        break;
      }
      t *= 0.5;
    }
    if (t <= 1e-12) break;  // no decrease possible at double precision: y is the minimiser
  }
  return y;
}

Vec InnerSolution(const Instance& inst, const Vec& x) { return MinimizeInY(inst, x, 0.0, 1.0); }

Vec PenalizedSolution(const Instance& inst, const Vec& x, double lambda) {
  return MinimizeInY(inst, x, 1.0, lambda);
}

double Hyperobjective(const Instance& inst, const Vec& x) {
  return inst.F(x, InnerSolution(inst, x));
}

Vec Hypergradient(const Instance& inst, const Vec& x) {
  const int p = inst.dim_x(), q = inst.dim_y();
  const Vec y = InnerSolution(inst, x);
  const Vec grad_f = inst.GradF(x, y);
  const Mat hess_g = inst.HessG(x, y);
  const Vec v = hess_g.bottomRightCorner(q, q).ldlt().solve(grad_f.tail(q));
  return grad_f.head(p) - hess_g.topRightCorner(p, q) * v;
}

double MinimaxValue(const Instance& inst, const Vec& x, double lambda) {
  const Vec y_star = InnerSolution(inst, x);
  const Vec y_lambda = PenalizedSolution(inst, x, lambda);
  return inst.F(x, y_lambda) + lambda * (inst.G(x, y_lambda) - inst.G(x, y_star));
}

Vec MinimaxGradient(const Instance& inst, const Vec& x, double lambda) {
  const int p = inst.dim_x();
  const Vec y_star = InnerSolution(inst, x);
  const Vec y_lambda = PenalizedSolution(inst, x, lambda);
  return inst.GradF(x, y_lambda).head(p) +
         lambda * (inst.GradG(x, y_lambda).head(p) - inst.GradG(x, y_star).head(p));
}

Mat LagrangianHessian(const Instance& inst, const Vec& x, const Vec& y, const Vec& z,
                      double lambda) {
  const int p = inst.dim_x(), q = inst.dim_y();
  Mat h = Mat::Zero(p + 2 * q, p + 2 * q);
  // f(x, y) + λ g(x, y) lives on the [x; y] block, −λ g(x, z) on the [x; z] block.
  const Mat xy = inst.HessF(x, y) + lambda * inst.HessG(x, y);
  h.topLeftCorner(p + q, p + q) += xy;
  const Mat xz = -lambda * inst.HessG(x, z);
  h.topLeftCorner(p, p) += xz.topLeftCorner(p, p);
  h.block(0, p + q, p, q) += xz.topRightCorner(p, q);
  h.block(p + q, 0, q, p) += xz.bottomLeftCorner(q, p);
  h.bottomRightCorner(q, q) += xz.bottomRightCorner(q, q);
  return h;
}

}  // namespace theory
