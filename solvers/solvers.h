// Hessian-free bilevel optimization: the solver library.
//
//   #include "solvers/solvers.h"       // deps = ["//solvers"]
//
// Implement bilevel::BilevelProblem (bilevel_problem.h) and call a solver:
//   - MinimaxOPT, the multi-stage gradient descent–ascent on the minimax reformulation
//     (minimax_opt.h): first-order oracles only.
//   - The penalty method (penalty_method.h): Hessian-vector products only.
// Both fill a bilevel::SolverSummary (solver_types.h) with the termination reason, per-iteration
// records and the oracle calls used.
#ifndef SOLVERS_SOLVERS_H_
#define SOLVERS_SOLVERS_H_

#include "solvers/core/bilevel_problem.h"
#include "solvers/bome.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/inner_solve.h"
#include "solvers/linear/linear_solvers.h"
#include "solvers/core/memory_tracker.h"
#include "solvers/minimax_opt.h"
#include "solvers/options_fingerprint.h"
#include "solvers/penalty_method.h"
#include "solvers/core/runtime.h"
#include "solvers/core/solver_loop.h"
#include "solvers/core/solver_types.h"

#endif  // SOLVERS_SOLVERS_H_
