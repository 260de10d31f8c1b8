#include "theory/checks.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_format.h"
#include "theory/numerics.h"

namespace theory {

std::string CheckRecord::Describe() const {
  return absl::StrFormat(
      "%s on %s (point %d, lambda %.6g): measured %.10g %s bound %.10g, "
      "tightness %.6g%s",
      claim, instance, point, lambda, measured, lower_bound ? ">=" : "<=", bound, tightness,
      violated ? "  VIOLATED" : "");
}

CheckRecord MakeRecord(std::string claim, const Instance& inst, int point, double lambda,
                       double measured, double bound, bool lower_bound) {
  CheckRecord r;
  r.claim = std::move(claim);
  r.instance = inst.Name();
  r.point = point;
  r.lambda = lambda;
  r.measured = measured;
  r.bound = bound;
  r.lower_bound = lower_bound;
  const double slack = 1e-9 * std::abs(bound) + 1e-12;
  if (lower_bound) {
    r.violated = measured < bound - slack;
    r.tightness = measured > 0 ? bound / measured : std::numeric_limits<double>::infinity();
  } else {
    r.violated = measured > bound + slack;
    r.tightness = bound > 0 ? measured / bound : (measured > 0 ? 1e300 : 0.0);
  }
  return r;
}

std::vector<double> LambdaSweep(const Constants& c, int count) {
  std::vector<double> lambdas;
  double lambda = std::max(1.0, 2.0 * c.L_f / c.mu);
  for (int i = 0; i < count; ++i, lambda *= 2) lambdas.push_back(lambda);
  return lambdas;
}

std::vector<CheckRecord> CheckLemma1(const Instance& inst, const Vec& x, int point, double lambda,
                                     int random_points, std::mt19937_64& rng) {
  const int p = inst.dim_x(), q = inst.dim_y();
  const Constants c = inst.Bounds();
  std::vector<std::pair<Vec, Vec>> points = {
      {PenalizedSolution(inst, x, lambda), InnerSolution(inst, x)}};
  std::normal_distribution<double> normal(0.0, 1.0);
  for (int i = 0; i < random_points; ++i) {
    Vec y = points[0].first, z = points[0].second;
    for (int j = 0; j < q; ++j) {
      y(j) += normal(rng);
      z(j) += normal(rng);
    }
    points.emplace_back(y, z);
  }
  double smooth = 0, convex = std::numeric_limits<double>::infinity(), concave = convex;
  for (const auto& [y, z] : points) {
    const Mat h = LagrangianHessian(inst, x, y, z, lambda);
    smooth = std::max(smooth, SpectralNorm(h));
    convex = std::min(convex, MinEigenvalue(h.block(p, p, q, q)));
    concave = std::min(concave, MinEigenvalue(-h.block(p + q, p + q, q, q)));
  }
  return {
      MakeRecord("Lemma 1: smoothness", inst, point, lambda, smooth, c.L_f + 2 * lambda * c.L_g,
                 false),
      MakeRecord("Lemma 1: strong convexity in y", inst, point, lambda, convex,
                 lambda * c.mu - c.L_f, true),
      MakeRecord("Lemma 1: strong concavity in z", inst, point, lambda, concave, lambda * c.mu,
                 true),
  };
}

std::vector<CheckRecord> CheckTheorems(const Instance& inst, const Vec& x, int point,
                                       double lambda) {
  const int q = inst.dim_y();
  const Constants c = inst.Bounds();
  const Vec y_star = InnerSolution(inst, x);
  const Vec y_lambda = PenalizedSolution(inst, x, lambda);
  double C_f = c.C_f;
  if (!std::isfinite(C_f)) {
    C_f = std::max(inst.GradF(x, y_star).tail(q).norm(), inst.GradF(x, y_lambda).tail(q).norm());
  }
  const double distance = (y_lambda - y_star).norm();
  const double value_gap = std::abs(Hyperobjective(inst, x) - MinimaxValue(inst, x, lambda));
  const double gradient_gap = (MinimaxGradient(inst, x, lambda) - Hypergradient(inst, x)).norm();
  const double kappa = 1.0 + c.L_g / c.mu;
  return {
      MakeRecord("Theorem 1: distance", inst, point, lambda, distance, 2 * C_f / (c.mu * lambda),
                 false),
      MakeRecord("Theorem 1: value gap", inst, point, lambda, value_gap,
                 2 * C_f * C_f / (c.mu * lambda), false),
      MakeRecord(
          "Theorem 2: gradient gap", inst, point, lambda, gradient_gap,
          kappa * (2 * c.L_f * C_f / c.mu + 2 * c.rho_g * C_f * C_f / (c.mu * c.mu)) / lambda,
          false),
  };
}

double LogLogSlope(const std::vector<double>& lambdas, const std::vector<double>& errors) {
  const int n = static_cast<int>(lambdas.size());
  double sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (int i = 0; i < n; ++i) {
    const double lx = std::log(lambdas[i]), ly = std::log(errors[i]);
    sx += lx;
    sy += ly;
    sxx += lx * lx;
    sxy += lx * ly;
  }
  return (n * sxy - sx * sy) / (n * sxx - sx * sx);
}

}  // namespace theory
