// The paper's Section 3 claims as checks on an Instance at a point x and multiplier λ
// (../shared/docs/ALGORITHMS.md, "Theory to check"; theory/README.md has the derivations):
//
//   Lemma 1     ‖∇²L_λ‖ ≤ L_f + 2λL_g;  λ_min(∇²_yy L_λ) ≥ λμ − L_f;  λ_min(−∇²_zz L_λ) ≥ λμ
//   Theorem 1   ‖y_λ(x) − y*(x)‖ ≤ 2C_f/(μλ);  0 ≤ F(x) − Φ_λ(x) ≤ 2C_f²/(μλ)
//   Theorem 2   ‖∇Φ_λ(x) − ∇F(x)‖ ≤ (1 + L_g/μ)(2L_f C_f/μ + 2ρ_g C_f²/μ²)/λ
//
// Each check yields a record with the measured value, the bound and the tightness
// (measured/bound for upper bounds, bound/measured for lower bounds: ≤ 1 when the claim holds).
#ifndef THEORY_CHECKS_H_
#define THEORY_CHECKS_H_

#include <string>
#include <vector>

#include "theory/instances.h"

namespace theory {

struct CheckRecord {
  std::string claim;     // e.g. "Lemma 1: smoothness"
  std::string instance;  // Instance::Name()
  int point = 0;         // index of the x (and sample point) it was checked at
  double lambda = 0;
  double measured = 0;
  double bound = 0;
  bool lower_bound = false;  // the claim is measured >= bound
  double tightness = 0;
  bool violated = false;
  std::string Describe() const;  // one line with every number, for failure messages
};

// Relative slack for round-off: an upper bound holds when measured <= bound (1 + 1e-9) + 1e-12.
CheckRecord MakeRecord(std::string claim, const Instance& inst, int point, double lambda,
                       double measured, double bound, bool lower_bound);

// λ values for the sweep: λ_0 = max(1, 2L_f/μ) (Lemma 1's regime), doubling, `count` values.
std::vector<double> LambdaSweep(const Constants& c, int count);

// Lemma 1 at (x, y_λ(x), y*(x)) and at `random_points` random (y, z) near them.
std::vector<CheckRecord> CheckLemma1(const Instance& inst, const Vec& x, int point, double lambda,
                                     int random_points, std::mt19937_64& rng);

// Theorems 1 and 2 at x. When C_f is infinite (∇_y f affine in y), it is replaced by its value
// on the segment [y_λ, y*] (the maximum of a convex function sits at an end point), which is all
// the proofs use. Claims: "Theorem 1: distance", "Theorem 1: value gap", "Theorem 2: gradient gap".
std::vector<CheckRecord> CheckTheorems(const Instance& inst, const Vec& x, int point,
                                       double lambda);

// Least-squares slope of log(errors) against log(lambdas).
double LogLogSlope(const std::vector<double>& lambdas, const std::vector<double>& errors);

}  // namespace theory

#endif  // THEORY_CHECKS_H_
