// The linear solvers of the AID hypergradient methods: A v = b with A = ∇²_yy g + δI and
// b = ∇_y f, given only the product v ↦ A v (a Hessian-vector product), never A itself.
//
//   bilevel::LinearOperator A = [&](const TensorList& v) { return HessianVectorProduct(v); };
//   bilevel::LinearSolveResult r = bilevel::ConjugateGradient(A, b, /*start=*/nullptr,
//                                                            /*max_iterations=*/20, /*tolerance=*/1e-8);
//   if (r.outcome == bilevel::LinearSolveOutcome::kBreakdown) ...  // A not positive definite
//
// Each returns its solution with how the solve ended and the products it made; none throws on a
// failure, and none hides one: a breakdown or a divergence is an outcome the caller counts.
#ifndef SOLVERS_LINEAR_LINEAR_SOLVERS_H_
#define SOLVERS_LINEAR_LINEAR_SOLVERS_H_

#include <functional>
#include <string>

#include "solvers/core/tensor_list.h"

namespace bilevel {

// v ↦ A v. A symmetric (CG needs it positive definite too).
using LinearOperator = std::function<TensorList(const TensorList&)>;

// How a linear solve ended.
enum class LinearSolveOutcome {
  kNone,            // no linear solve (reverse mode, T1–T2)
  kConverged,       // residual norm ‖b − A v‖ at or below the tolerance
  kIterationLimit,  // every iteration ran; CG and fixed point: residual still above the tolerance
  kBreakdown,       // CG: pᵀ A p <= 0; v is the iterate reached before that direction
  kDiverged,        // fixed point: the residual grew past 2× the initial one (v is the iterate
                    // with the smallest residual); Neumann: a term grew past 2× b (v sums the
                    // terms before it). Typically β >= 2/L, or A indefinite.
};
std::string ToString(LinearSolveOutcome outcome);

struct LinearSolveResult {
  TensorList solution;  // detached from any autograd graph
  LinearSolveOutcome outcome = LinearSolveOutcome::kNone;
  int products = 0;  // calls of the operator
};

// Conjugate gradients from `start` (null: 0) for at most `max_iterations` products after the one
// a start needs for its residual; stops when ‖r‖ <= `tolerance` (absolute).
LinearSolveResult ConjugateGradient(const LinearOperator& A, const TensorList& b,
                                    const TensorList* start, int max_iterations, double tolerance);

// The fixed-point (Richardson) iteration v ← v + β (b − A v) from `start` (null: 0): at most
// `max_iterations` products; converges for 0 < β < 2/λ_max(A) when A is positive definite.
LinearSolveResult FixedPointIteration(const LinearOperator& A, const TensorList& b,
                                      const TensorList* start, int max_iterations, double step,
                                      double tolerance);

// The truncated Neumann series v = β Σ_{i=0}^{K} (I − βA)^i b with K = `terms` products: a fixed
// number of terms (no tolerance); never kConverged. Approximates A⁻¹ b for 0 < β <= 1/λ_max(A).
LinearSolveResult NeumannSeries(const LinearOperator& A, const TensorList& b, int terms,
                                double step);

}  // namespace bilevel

#endif  // SOLVERS_LINEAR_LINEAR_SOLVERS_H_
