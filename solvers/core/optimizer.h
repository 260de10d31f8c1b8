// First-order optimizers for one group of variables (x, y or z), with the learning-rate rules the
// multi-stage solvers need.
//
// Each variable group of a solver gets its own optimizer, so that for example y uses SGD with
// momentum while x uses Adam. The solver decides the learning rate of every step (schedule, and
// for MinimaxOPT the scaling with λ); the optimizer only keeps its state (momentum, Adam moments):
//
//   GroupOptimizer opt(OptimizerOptions{OptimizerType::kAdam, /*learning_rate=*/1e-3}, y);
//   opt.Step(&y, grads, /*learning_rate=*/1e-3 * ScheduleFactor(Schedule::kCosine, t, total, 0.0));
#ifndef SOLVERS_CORE_OPTIMIZER_H_
#define SOLVERS_CORE_OPTIMIZER_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "solvers/core/checkpoint.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

enum class OptimizerType {
  kSgd,       // p ← p − η g
  kMomentum,  // heavy ball as in torch.optim.SGD: m ← β m + g;  p ← p − η m  (Nesterov optional)
  kAdam,  // Kingma & Ba, with bias correction, as in torch.optim.Adam
};
std::string ToString(OptimizerType type);

// How a group's learning rate depends on the multiplier λ of the current stage.
enum class LambdaScaling {
  // η_k = η.
  kNone,
  // η_k = η / λ_k. For a group whose gradient is λ-scaled (MinimaxOPT's y and z: ∇_y L =
  // ∇_y f + λ ∇_y g, ∇_z L = −λ ∇_z g) this keeps the effective step on g equal to η whatever λ
  // is, so η is chosen like a plain training step size. It is not ScaleBiO's rule: the authors'
  // later code (ScaleBiO) multiplies *every* learning rate, x's included, by τ^{-k} = λ_0 / λ_k;
  // here x keeps its rate (x_optimizer has kNone). With Adam the gradient scale cancels anyway:
  // Validate rejects Adam with kInverseLambda.
  kInverseLambda,
};
std::string ToString(LambdaScaling scaling);

enum class Schedule {
  kConstant,  // factor 1
  kCosine,  // Loshchilov & Hutter: factor = m + (1 − m)(1 + cos(π t / T)) / 2 over the whole run
};
std::string ToString(Schedule schedule);

struct OptimizerOptions {
  OptimizerType type = OptimizerType::kSgd;
  // η, the base step size (before schedule and λ scaling). > 0.
  double learning_rate = 0.1;
  // β of kMomentum, in [0, 1).
  double momentum = 0.9;
  // Nesterov momentum for kMomentum.
  bool nesterov = false;
  // Adam's β1, β2 in [0, 1) and ε > 0.
  double beta1 = 0.9;
  double beta2 = 0.999;
  double epsilon = 1e-8;
  // How the step size follows λ (MinimaxOPT); other solvers ignore it.
  LambdaScaling lambda_scaling = LambdaScaling::kNone;
};

// Checks the fields; `name` prefixes the field in the message (e.g. "y_optimizer").
absl::Status ValidateOptimizerOptions(const OptimizerOptions& options, absl::string_view name);

// The factor the schedule applies at step t of `total` steps (t in [0, total)).
// `min_factor` is the floor m of the cosine schedule.
double ScheduleFactor(Schedule schedule, int64_t t, int64_t total, double min_factor);

// The λ-dependent factor of a group's learning rate (1 or 1/λ).
double LambdaFactor(LambdaScaling scaling, double lambda);

class GroupOptimizer {
 public:
  // `params` fixes the shapes, dtypes and device of the state.
  GroupOptimizer(const OptimizerOptions& options, const TensorList& params);

  // One descent step p ← p − η · direction(grads), in place, without autograd history. A negative
  // η gives the ascent step along `grads` (each optimizer's direction is odd in the gradient).
  void Step(TensorList* params, const TensorList& grads, double learning_rate);

  const OptimizerOptions& options() const { return options_; }
  int64_t steps() const { return steps_; }

  // Checkpoints: the moments and the step count under keys starting with `prefix`.
  void SaveState(const std::string& prefix, SolverState* state) const;
  absl::Status RestoreState(const std::string& prefix, const SolverState& state);

 private:
  OptimizerOptions options_;
  TensorList buffer_;  // momentum, or Adam's first moment
  TensorList second_;  // Adam's second moment
  int64_t steps_ = 0;
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_OPTIMIZER_H_
