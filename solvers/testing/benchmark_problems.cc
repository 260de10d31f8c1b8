#include "solvers/testing/benchmark_problems.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace bilevel::testing {
LogisticProblem::LogisticProblem(int64_t num_features, int64_t num_examples) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(2);
  const at::Tensor w = at::randn({num_features}, gen);
  train_x_ = at::randn({num_examples, num_features}, gen);
  val_x_ = at::randn({num_examples, num_features}, gen);
  train_y_ = (train_x_.mv(w) > 0).to(at::kFloat);
  val_y_ = (val_x_.mv(w) > 0).to(at::kFloat);
}

TensorList LogisticProblem::InitialOuter() { return {at::zeros({train_x_.size(1)})}; }
TensorList LogisticProblem::InitialInner() { return {at::zeros({train_x_.size(1)})}; }

at::Tensor LogisticProblem::OuterObjective(const TensorList& x, const TensorList& y,
                                           const Batch& b) {
  return at::binary_cross_entropy_with_logits(b.Rows(val_x_).mv(y[0]), b.Rows(val_y_));
}

at::Tensor LogisticProblem::InnerObjective(const TensorList& x, const TensorList& y,
                                           const Batch& b) {
  return at::binary_cross_entropy_with_logits(b.Rows(train_x_).mv(y[0]), b.Rows(train_y_)) +
         0.5 * (x[0].exp() * y[0].pow(2)).sum();
}

MlpProblem::MlpProblem(int64_t hidden, int64_t num_examples, c10::Device device,
                       bool per_example_weights)
    : device_(device), per_example_weights_(per_example_weights) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  train_x_ = at::randn({num_examples, 784}, gen);
  val_x_ = at::randn({num_examples, 784}, gen);
  train_y_ = at::randint(10, {num_examples}, gen, at::kLong);
  val_y_ = at::randint(10, {num_examples}, gen, at::kLong);
  if (hidden == 0) {
    y0_ = {at::randn({10, 784}, gen) * 0.03, at::zeros({10})};
  } else {
    y0_ = {at::randn({hidden, 784}, gen) * 0.03, at::zeros({hidden}),
           at::randn({10, hidden}, gen) * 0.03, at::zeros({10})};
  }
  for (at::Tensor* t : {&train_x_, &val_x_, &train_y_, &val_y_}) *t = t->to(device);
  for (at::Tensor& t : y0_) t = t.to(device);
}

TensorList MlpProblem::InitialOuter() {
  if (per_example_weights_)
    return {at::zeros({train_x_.size(0)}, at::TensorOptions().device(device_))};
  return {at::full({}, -6.0, at::TensorOptions().device(device_)),
          at::full({}, -6.0, at::TensorOptions().device(device_))};
}

namespace {
// Per-example cross-entropies of the MLP (or of the linear model, y = {W, b}).
at::Tensor MlpLosses(const TensorList& y, const at::Tensor& in, const at::Tensor& labels) {
  const at::Tensor logits = y.size() == 2
                                ? at::linear(in, y[0], y[1])
                                : at::linear(at::relu(at::linear(in, y[0], y[1])), y[2], y[3]);
  return at::cross_entropy_loss(logits, labels, {}, at::Reduction::None);
}
}  // namespace

at::Tensor MlpProblem::OuterObjective(const TensorList& x, const TensorList& y, const Batch& b) {
  return MlpLosses(y, b.Rows(val_x_), b.Rows(val_y_)).mean();
}

at::Tensor MlpProblem::InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) {
  const at::Tensor losses = MlpLosses(y, b.Rows(train_x_), b.Rows(train_y_));
  if (per_example_weights_) return (at::sigmoid(b.Rows(x[0])) * losses).mean();
  at::Tensor decay = x[0].exp() * y[0].pow(2).sum();
  if (y.size() == 4) decay = decay + x[1].exp() * y[2].pow(2).sum();
  return losses.mean() + decay;
}

}  // namespace bilevel::testing
