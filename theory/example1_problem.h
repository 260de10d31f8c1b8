// Example 1 (example1.h) as a bilevel::BilevelProblem, so that Algorithm 1 from //solvers can be
// run on it.
#ifndef THEORY_EXAMPLE1_PROBLEM_H_
#define THEORY_EXAMPLE1_PROBLEM_H_

#include "solvers/core/bilevel_problem.h"

namespace theory {

class Example1Problem : public bilevel::BilevelProblem {
 public:
  Example1Problem(double c, double x0, double y0) : c_(c), x0_(x0), y0_(y0) {}
  bilevel::TensorList InitialOuter() override;
  bilevel::TensorList InitialInner() override;
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch&) override;
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch&) override;

 private:
  double c_, x0_, y0_;
};

// Runs Algorithm 1 (MinimaxOPT, 4 stages from λ_0 = λ* + ½, τ = 2, 5000 iterations each) from
// (x0, y0) and returns the final (x, y).
std::pair<double, double> RunAlgorithm1OnExample1(double c, double x0, double y0);

}  // namespace theory

#endif  // THEORY_EXAMPLE1_PROBLEM_H_
