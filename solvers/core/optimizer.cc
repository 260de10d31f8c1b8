#include "solvers/core/optimizer.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "absl/strings/str_cat.h"

namespace bilevel {

std::string ToString(OptimizerType type) {
  switch (type) {
    case OptimizerType::kSgd:
      return "sgd";
    case OptimizerType::kMomentum:
      return "momentum";
    case OptimizerType::kAdam:
      return "adam";
  }
  return "unknown";
}

std::string ToString(LambdaScaling scaling) {
  switch (scaling) {
    case LambdaScaling::kNone:
      return "none";
    case LambdaScaling::kInverseLambda:
      return "inverse_lambda";
  }
  return "unknown";
}

std::string ToString(Schedule schedule) {
  switch (schedule) {
    case Schedule::kConstant:
      return "constant";
    case Schedule::kCosine:
      return "cosine";
  }
  return "unknown";
}

namespace {
bool InUnitInterval(double v) { return v >= 0 && v < 1; }
}  // namespace

absl::Status ValidateOptimizerOptions(const OptimizerOptions& options, absl::string_view name) {
  if (!(options.learning_rate > 0) || std::isinf(options.learning_rate)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".learning_rate must be finite and > 0, got ", options.learning_rate));
  }
  if (!InUnitInterval(options.momentum)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".momentum must be in [0, 1), got ", options.momentum));
  }
  if (!InUnitInterval(options.beta1)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".beta1 must be in [0, 1), got ", options.beta1));
  }
  if (!InUnitInterval(options.beta2)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".beta2 must be in [0, 1), got ", options.beta2));
  }
  if (!(options.epsilon > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ".epsilon must be > 0, got ", options.epsilon));
  }
  if (options.type == OptimizerType::kAdam &&
      options.lambda_scaling == LambdaScaling::kInverseLambda) {
    // Adam divides the gradient by its own running scale, so a gradient that grows with λ does not
    // grow Adam's step; dividing the rate by λ as well would freeze the variable as λ grows.
    return absl::InvalidArgumentError(absl::StrCat(
        name,
        ": Adam with lambda_scaling = inverse_lambda shrinks the step as 1/lambda although "
        "Adam's step does not grow with the gradient; use lambda_scaling = none with Adam"));
  }
  return absl::OkStatus();
}

double ScheduleFactor(Schedule schedule, int64_t t, int64_t total, double min_factor) {
  if (schedule == Schedule::kConstant || total <= 0) return 1.0;
  const double progress = std::min(1.0, static_cast<double>(t) / static_cast<double>(total));
  return min_factor + (1.0 - min_factor) * 0.5 * (1.0 + std::cos(M_PI * progress));
}

double LambdaFactor(LambdaScaling scaling, double lambda) {
  return scaling == LambdaScaling::kInverseLambda ? 1.0 / lambda : 1.0;
}

GroupOptimizer::GroupOptimizer(const OptimizerOptions& options, const TensorList& params)
    : options_(options) {
  if (options_.type == OptimizerType::kSgd) return;
  for (const at::Tensor& p : params) buffer_.push_back(at::zeros_like(p.detach()));
  if (options_.type == OptimizerType::kAdam) {
    for (const at::Tensor& p : params) second_.push_back(at::zeros_like(p.detach()));
  }
}

void GroupOptimizer::Step(TensorList* params, const TensorList& grads, double learning_rate) {
  c10::NoGradGuard no_grad;
  TORCH_CHECK(params->size() == grads.size(), "GroupOptimizer::Step: ", params->size(),
              " parameters but ", grads.size(), " gradients");
  ++steps_;
  switch (options_.type) {
    case OptimizerType::kSgd:
      for (size_t i = 0; i < grads.size(); ++i) (*params)[i].sub_(grads[i], learning_rate);
      return;
    case OptimizerType::kMomentum:
      for (size_t i = 0; i < grads.size(); ++i) {
        at::Tensor& m = buffer_[i];
        m.mul_(options_.momentum).add_(grads[i]);
        if (options_.nesterov) {
          (*params)[i].sub_(grads[i] + options_.momentum * m, learning_rate);
        } else {
          (*params)[i].sub_(m, learning_rate);
        }
      }
      return;
    case OptimizerType::kAdam: {
      const double bias1 = 1.0 - std::pow(options_.beta1, static_cast<double>(steps_));
      const double bias2 = 1.0 - std::pow(options_.beta2, static_cast<double>(steps_));
      const double step = learning_rate / bias1;
      for (size_t i = 0; i < grads.size(); ++i) {
        buffer_[i].mul_(options_.beta1).add_(grads[i], 1.0 - options_.beta1);
        second_[i].mul_(options_.beta2).addcmul_(grads[i], grads[i], 1.0 - options_.beta2);
        at::Tensor denom = (second_[i] / bias2).sqrt_().add_(options_.epsilon);
        (*params)[i].addcdiv_(buffer_[i], denom, -step);
      }
      return;
    }
  }
}

void GroupOptimizer::SaveState(const std::string& prefix, SolverState* state) const {
  state->PutTensors(prefix + "_buffer", buffer_);
  state->PutTensors(prefix + "_second", second_);
  state->PutInt(prefix + "_steps", steps_);
}

absl::Status GroupOptimizer::RestoreState(const std::string& prefix, const SolverState& state) {
  absl::Status status = state.RestoreTensors(prefix + "_buffer", &buffer_);
  if (status.ok()) status = state.RestoreTensors(prefix + "_second", &second_);
  if (!status.ok()) return status;
  absl::StatusOr<int64_t> steps = state.GetInt(prefix + "_steps");
  if (!steps.ok()) return steps.status();
  steps_ = *steps;
  return absl::OkStatus();
}

}  // namespace bilevel
