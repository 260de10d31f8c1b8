// MinimaxOPT: bilevel optimization as a minimax problem, solved by multi-stage gradient
// descent–ascent (Algorithms 1 and 2 of "Bilevel optimization as minimax", see
// ../shared/papers/minimax-reformulation.txt and ../shared/docs/ALGORITHMS.md).
//
// The bilevel problem min_x f(x, y*(x)), y*(x) = argmin_y g(x, y), is rewritten with a copy z of
// the inner variable and a multiplier λ > 0 as (eq. 6)
//
//   min_{x ∈ X, y} max_z  L_λ(x, y, z) = f(x, y) + λ [g(x, y) − g(x, z)],
//
// whose gradients need first derivatives only:
//
//   ∇_x L = ∇_x f(x, y) + λ (∇_x g(x, y) − ∇_x g(x, z))
//   ∇_y L = ∇_y f(x, y) + λ ∇_y g(x, y)
//   ∇_z L = −λ ∇_z g(x, z)
//
// One iteration evaluates ∇f(x, y), ∇g(x, y) and ∇g(x, z): three gradient calls, the cost of plain
// training up to a constant. Stage k runs T iterations at λ_k = λ_0 τ^k (Algorithm 1, line 7).
// In the stochastic setting (Algorithm 2) f uses a validation minibatch and the two g terms share
// one training minibatch drawn independently of it.
//
// Step sizes. ∇_y L and ∇_z L grow with λ, so their steps must shrink: by default y and z use
// LambdaScaling::kInverseLambda, η_k = η / λ_k, which keeps the effective step on g equal to η.
// (The authors' later code, ScaleBiO, scales every rate by τ^{-k}, x's too; here y's and z's rates
// follow 1/λ_k, the same as τ^{-k} up to the constant λ_0, but) x keeps a constant step: at
// equilibrium λ(∇_x g(x, y) − ∇_x g(x, z)) tends to the implicit term −∇²_{xy} g [∇²_{yy} g]^{-1}
// ∇_y f, which stays bounded as λ grows.
//
// Usage:
//   bilevel::MinimaxOptOptions options;
//   options.initial_lambda = 1;  options.lambda_growth = 2;  options.num_stages = 12;
//   options.iterations_per_stage = 500;
//   options.x_optimizer.learning_rate = 0.1;  // y and z: 0.1 / λ_k by default
//   bilevel::SolverSummary summary;
//   absl::Status status = bilevel::Solve(options, &problem, &summary);
#ifndef SOLVERS_MINIMAX_OPT_H_
#define SOLVERS_MINIMAX_OPT_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_loop.h"
#include "solvers/core/solver_types.h"
#include "solvers/lagrangian.h"

namespace bilevel {

enum class UpdateOrder {
  // x, y and z all step from the same iterate: 3 gradient calls per iteration (default).
  kSimultaneous,
  // y and z step first, then x steps against the updated (y, z): the sequential order z, y, x
  // of the authors' later code (z and y do not interact, so z-then-y is one simultaneous step).
  // L_λ's gradients are evaluated twice: 6 gradient calls per iteration. Updating z alone
  // before x (without y) is unstable for large λ: the x-gradient λ(∇_x g(x, y) − ∇_x g(x, z))
  // relies on y and z lagging y*(x) alike, and one extra z step breaks that cancellation.
  kAlternating,
};
std::string ToString(UpdateOrder order);

OptimizerOptions DefaultLambdaScaledOptimizer();

struct MinimaxOptOptions : SolverOptionsBase {
  // λ_0 > 0: the multiplier of the first stage.
  double initial_lambda = 1.0;
  // τ >= 1: λ_{k+1} = τ λ_k after each stage. τ = 1 is the one-stage GDA at fixed λ.
  double lambda_growth = 2.0;
  // K >= 1: the number of stages.
  int num_stages = 10;
  // T >= 1: iterations per stage (the same T_k for every stage).
  int64_t iterations_per_stage = 1000;
  // ε >= 0; 0 disables it. A stage ends early once ‖G_x‖, ‖∇_y L‖/λ and ‖∇_z L‖/λ are all below
  // ε, where G_x = x − Proj_X(x − ∇_x L) is the projected gradient; in the final stage that ends
  // the solve with TerminationType::kConverged.
  double stationarity_tolerance = 0;
  // One optimizer per variable group. Defaults: plain SGD with η = 0.1; y and z scale with 1/λ.
  OptimizerOptions x_optimizer = OptimizerOptions{};
  OptimizerOptions y_optimizer = DefaultLambdaScaledOptimizer();
  OptimizerOptions z_optimizer = DefaultLambdaScaledOptimizer();
  // Learning-rate schedule over all K·T iterations, applied to every group on top of the λ
  // scaling; `schedule_min_factor` in [0, 1] is the cosine floor.
  Schedule schedule = Schedule::kConstant;
  double schedule_min_factor = 0;
  UpdateOrder update_order = UpdateOrder::kSimultaneous;
  // Start z at y0 (true, the paper's choice) or at a second call to InitialInner() (false).
  bool z_starts_at_y = true;
  // g(x, y) and g(x, z) on one minibatch draw the same random numbers (dropout masks): true
  // (default) removes the mask noise from λ(∇_x g(x, y) − ∇_x g(x, z)); false draws them apart.
  bool common_random_numbers = true;
};

// Checks every field; the message names the first invalid one.
absl::Status Validate(const MinimaxOptOptions& options);

// Algorithms 1 and 2 as an IterativeSolver (solver_loop.h): x, y, z, their optimizers and λ.
// Solve() runs it under the loop; it is public so that benchmarks can time single iterations
// (SingleStepper). `options` must be valid (Validate) and `problem` must outlive it.
class MinimaxOptSolver : public LagrangianSolver {
 public:
  MinimaxOptSolver(const MinimaxOptOptions& options, BilevelProblem* problem);

  std::string LimitReached(int64_t iteration, int stage) const override;
  // One iteration at the stage's λ: ∇f(x, y), ∇g(x, y), ∇g(x, z) on one minibatch pair, then
  // descent in y, ascent in z and descent in x (projected onto X).
  StepResult Step(const StepContext& context, IterationRecord* record) override;
  void EndStage() override { lambda_ *= options_.lambda_growth; }
  std::string NonFiniteRemedy() const override;
  bool SupportsDataParallel() const override { return true; }

 private:
  MinimaxOptOptions options_;
};

// Runs MinimaxOPT on `problem`. Returns InvalidArgument (and sets summary->termination to
// kInvalidOptions) when an option is invalid; otherwise OK, with the reason the solve ended in
// summary->termination (kNonFinite included) and the final x, y in summary->x, summary->y.
absl::Status Solve(const MinimaxOptOptions& options, BilevelProblem* problem,
                   SolverSummary* summary);

}  // namespace bilevel

#endif  // SOLVERS_MINIMAX_OPT_H_
