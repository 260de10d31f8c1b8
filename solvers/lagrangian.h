// The minimax Lagrangian L_λ(x, y, z) = f(x, y) + λ[g(x, y) − g(x, z)] and its gradients, shared
// by the first-order solvers built on it (MinimaxOPT, F2SA). Internal to //solvers.
#ifndef SOLVERS_LAGRANGIAN_H_
#define SOLVERS_LAGRANGIAN_H_

#include <cstdint>
#include <string>

#include "solvers/core/bilevel_problem.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_loop.h"
#include "solvers/core/solver_types.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

// This rank's share of a mean over `batch`: scaled by Batch::shard_weight, which is 1 (and the mean
// returned as it is) in one process and for even shares of a data-parallel batch.
inline at::Tensor ShareOfMean(const at::Tensor& mean, const Batch& batch) {
  return batch.shard_weight == 1.0 ? mean : mean.mul(batch.shard_weight);
}

// L_λ's three gradients at one iterate, and the scalars a record needs (on the host).
struct LagrangianEval {
  TensorList grad_x, grad_y, grad_z;  // grad_z = ∇_z L = −λ ∇_z g(x, z)
  double f = 0, g_y = 0, g_z = 0, norm_x = 0, norm_y = 0, norm_z = 0;
  const char* non_finite = nullptr;   // the first non-finite quantity, if any
  std::string communication_failure;  // data parallel: the failed all-reduce, if any
};

// Evaluates f(x, y) on `outer` and both g terms on `inner`, with one backward pass for all
// three gradients (eq. 6), and counts one ∇f and two ∇g. `common_random_numbers` false gives
// g(x, z) other random draws (e.g. dropout masks) than g(x, y) on the same examples; true (the
// default) shares them, so that their difference, which λ multiplies, carries no mask noise.
// With a `reducer` (data parallelism) the batches are this rank's shards: the objectives are
// scaled by their Batch::shard_weight, and the three gradients and three values are averaged over
// the ranks in one AllReduceMean call before any norm is taken.
LagrangianEval EvaluateLagrangian(BilevelProblem* problem, const TensorList& x, const TensorList& y,
                                  const TensorList& z, double lambda, const Batch& outer,
                                  const Batch& inner, int64_t outer_examples,
                                  int64_t inner_examples, OracleCounts* counts,
                                  bool common_random_numbers = true,
                                  GradientReducer* reducer = nullptr);

// The record of an iteration at multiplier `lambda` whose values are `e`'s: λ, f, g, the value
// gap g(x, y) − g(x, z) and the three gradient norms.
void RecordLagrangian(const LagrangianEval& e, double lambda, IterationRecord* record);

// What MinimaxOPT and F2SA share: x, y, a copy z of the inner variable (the iterate that descends
// g alone), one optimizer each and the multiplier λ, declared once for checkpoints and rollback.
class LagrangianSolver : public IterativeSolver {
 public:
  void DeclareState(SolverStateSpec* spec) override;
  IterateView View() const override { return IterateView{x_, y_, z_}; }

 protected:
  // z starts at y0, or at a second call to InitialInner() when `z_starts_at_y` is false.
  LagrangianSolver(BilevelProblem* problem, bool z_starts_at_y, const OptimizerOptions& x,
                   const OptimizerOptions& y, const OptimizerOptions& z, double initial_lambda);

  BilevelProblem* problem_;
  TensorList x_, y_, z_;
  GroupOptimizer x_opt_, y_opt_, z_opt_;
  double lambda_;
};

}  // namespace bilevel

#endif  // SOLVERS_LAGRANGIAN_H_
