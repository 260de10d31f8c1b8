// Exact (to round-off) bilevel and minimax quantities of an Instance, by Newton's method:
//
//   y*(x)   = argmin_y g(x, y)                   F(x)  = f(x, y*(x))
//   y_λ(x)  = argmin_y f(x, y) + λ g(x, y)       Φ_λ(x) = min_y max_z L_λ = f(x, y_λ) + λ[g(x, y_λ)
//   − g(x, y*)] ∇F(x)   = ∇_x f − ∇²_xy g [∇²_yy g]⁻¹ ∇_y f at (x, y*(x)) ∇Φ_λ(x) = ∇_x f(x, y_λ) +
//   λ[∇_x g(x, y_λ) − ∇_x g(x, y*)]   (envelope theorem)
//
// and the Hessian of L_λ(x, y, z) = f(x, y) + λ[g(x, y) − g(x, z)] in (x, y, z).
#ifndef THEORY_NUMERICS_H_
#define THEORY_NUMERICS_H_

#include "theory/instances.h"

namespace theory {

// argmin_y of h(y) = f_weight · f(x, y) + g_weight · g(x, y): Newton's method with
// backtracking from y = 0, to ‖∇h‖ ≤ 1e-13 (1 + |h|).
// Requires h strongly convex in y.
Vec MinimizeInY(const Instance& inst, const Vec& x, double f_weight, double g_weight);

Vec InnerSolution(const Instance& inst, const Vec& x);                     // y*(x)
Vec PenalizedSolution(const Instance& inst, const Vec& x, double lambda);  // y_λ(x)
double Hyperobjective(const Instance& inst, const Vec& x);                 // F(x)
Vec Hypergradient(const Instance& inst, const Vec& x);                     // ∇F(x)
double MinimaxValue(const Instance& inst, const Vec& x, double lambda);    // Φ_λ(x)
Vec MinimaxGradient(const Instance& inst, const Vec& x, double lambda);    // ∇Φ_λ(x)

// ∇²L_λ at (x, y, z), in the variable order [x; y; z] ((p + 2q) × (p + 2q)).
Mat LagrangianHessian(const Instance& inst, const Vec& x, const Vec& y, const Vec& z,
                      double lambda);

// Smallest and largest eigenvalues, and the spectral norm, of a symmetric matrix.
double MinEigenvalue(const Mat& symmetric);
double SpectralNorm(const Mat& symmetric);

}  // namespace theory

#endif  // THEORY_NUMERICS_H_
