#include "solvers/linear/linear_solvers.h"

#include <ATen/ATen.h>

#include <cmath>

namespace bilevel {
namespace {

TensorList Scaled(const TensorList& v, double alpha) {
  TensorList out;
  out.reserve(v.size());
  for (const at::Tensor& t : v) out.push_back(t * alpha);
  return out;
}

}  // namespace

std::string ToString(LinearSolveOutcome outcome) {
  switch (outcome) {
    case LinearSolveOutcome::kNone:
      return "none";
    case LinearSolveOutcome::kConverged:
      return "converged";
    case LinearSolveOutcome::kIterationLimit:
      return "iteration_limit";
    case LinearSolveOutcome::kBreakdown:
      return "breakdown";
    case LinearSolveOutcome::kDiverged:
      return "diverged";
  }
  return "unknown";
}

LinearSolveResult ConjugateGradient(const LinearOperator& A, const TensorList& b,
                                    const TensorList* start, int max_iterations,
                                    double tolerance) {
  LinearSolveResult out;
  auto apply = [&](const TensorList& v) {
    ++out.products;
    return A(v);
  };
  TensorList v = start != nullptr ? DetachedClone(*start) : Scaled(b, 0.0);
  TensorList r = start != nullptr ? Combination(b, -1.0, apply(v)) : DetachedClone(b);
  TensorList p = DetachedClone(r);
  double rs = Dot(r, r);
  out.outcome = LinearSolveOutcome::kIterationLimit;
  for (int k = 0; k < max_iterations; ++k) {
    if (std::sqrt(rs) <= tolerance) break;
    const TensorList ap = apply(p);
    const double curvature = Dot(p, ap);
    if (!(curvature > 0)) {  // A is not positive definite along p
      out.outcome = LinearSolveOutcome::kBreakdown;
      break;
    }
    const double alpha = rs / curvature;
    v = Combination(v, alpha, p);
    r = Combination(r, -alpha, ap);
    const double rs_new = Dot(r, r);
    p = Combination(r, rs_new / rs, p);
    rs = rs_new;
  }
  if (out.outcome != LinearSolveOutcome::kBreakdown && std::sqrt(rs) <= tolerance) {
    out.outcome = LinearSolveOutcome::kConverged;
  }
  out.solution = DetachedClone(v);
  return out;
}

LinearSolveResult FixedPointIteration(const LinearOperator& A, const TensorList& b,
                                      const TensorList* start, int max_iterations, double step,
                                      double tolerance) {
  // v ← v + β r with r = b − A v; the residual contracts by ‖I − βA‖.
  LinearSolveResult out;
  TensorList v = start != nullptr ? DetachedClone(*start) : Scaled(b, 0.0);
  out.outcome = LinearSolveOutcome::kIterationLimit;
  TensorList best = DetachedClone(v);
  double initial = -1, smallest = INFINITY;
  for (int k = 0; k < max_iterations; ++k) {
    ++out.products;
    const TensorList r = Combination(b, -1.0, A(v));
    const double norm = std::sqrt(Dot(r, r));
    if (initial < 0) initial = norm;
    if (!(norm <= 2 * initial)) {  // growing (or NaN): the iteration diverges
      out.outcome = LinearSolveOutcome::kDiverged;
      v = best;
      break;
    }
    if (norm < smallest) {
      smallest = norm;
      best = v;
    }
    if (norm <= tolerance) {
      out.outcome = LinearSolveOutcome::kConverged;
      break;
    }
    v = Combination(v, step, r);
  }
  out.solution = DetachedClone(v);
  return out;
}

LinearSolveResult NeumannSeries(const LinearOperator& A, const TensorList& b, int terms,
                                double step) {
  LinearSolveResult out;
  const double b_norm = std::sqrt(Dot(b, b));
  TensorList term = DetachedClone(b);
  TensorList sum = DetachedClone(b);
  out.outcome = LinearSolveOutcome::kIterationLimit;
  for (int k = 0; k < terms; ++k) {
    ++out.products;
    term = Combination(term, -step, A(term));
    if (!(std::sqrt(Dot(term, term)) <= 2 * b_norm)) {  // the series diverges
      out.outcome = LinearSolveOutcome::kDiverged;
      break;
    }
    for (size_t i = 0; i < sum.size(); ++i) sum[i] = sum[i] + term[i];
  }
  out.solution = DetachedClone(Scaled(sum, step));
  return out;
}

}  // namespace bilevel
