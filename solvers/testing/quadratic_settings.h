// The documented solver settings for the 100-dimensional quadratic of exact_problems.h
// (x, y ∈ R^100, cond(∇²_yy g) = 10, L_g = 10), shared by quadratic_demo and the tests so that
// the budgets in solvers/README.md are the ones both run. testonly.
#ifndef SOLVERS_TESTING_QUADRATIC_SETTINGS_H_
#define SOLVERS_TESTING_QUADRATIC_SETTINGS_H_

#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"

namespace bilevel::testing {

// 14 stages × 400 iterations, λ = 1 … 8192, η_x = 0.1, η_y = η_z = 1/L_g: 16,800 gradient calls.
MinimaxOptOptions MinimaxQuadraticOptions(double L_g);

// 3,000 iterations × (5 + 1) evaluations, SGD: 36,000 gradient calls, 18,000 Hessian-vector.
PenaltyOptions PenaltyQuadraticOptions(double L_g);

// 500 outer iterations × 10 inner steps, λ = 1 + 20k: 16,500 gradient calls.
F2saOptions F2saQuadraticOptions(double L_g);

// 300 outer iterations of 10 warm-started inner steps (100 for reverse mode, full unroll),
// α = β = 1/L_g, outer step 0.05; 20 CG or fixed-point iterations, 100 Neumann terms.
HypergradientOptions BaselineQuadraticOptions(HypergradientMethod method, double L_g);

}  // namespace bilevel::testing

#endif  // SOLVERS_TESTING_QUADRATIC_SETTINGS_H_
