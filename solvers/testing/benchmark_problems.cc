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

MlpProblem::MlpProblem(int64_t hidden, int64_t num_examples, c10::Device device) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(1);
  train_x_ = at::randn({num_examples, 784}, gen);
  val_x_ = at::randn({num_examples, 784}, gen);
  train_y_ = at::randint(10, {num_examples}, gen, at::kLong);
  val_y_ = at::randint(10, {num_examples}, gen, at::kLong);
  y0_ = {at::randn({hidden, 784}, gen) * 0.03, at::zeros({hidden}),
         at::randn({10, hidden}, gen) * 0.03, at::zeros({10})};
  for (at::Tensor* t : {&train_x_, &val_x_, &train_y_, &val_y_}) *t = t->to(device);
  for (at::Tensor& t : y0_) t = t.to(device);
  device_ = device;
}

TensorList MlpProblem::InitialOuter() {
  return {at::full({}, -6.0, at::TensorOptions().device(device_)),
          at::full({}, -6.0, at::TensorOptions().device(device_))};
}

namespace {
at::Tensor MlpLoss(const TensorList& y, const at::Tensor& in, const at::Tensor& labels) {
  at::Tensor h = at::relu(at::linear(in, y[0], y[1]));
  return at::cross_entropy_loss(at::linear(h, y[2], y[3]), labels);
}
}  // namespace

at::Tensor MlpProblem::OuterObjective(const TensorList& x, const TensorList& y, const Batch& b) {
  return MlpLoss(y, b.Rows(val_x_), b.Rows(val_y_));
}

at::Tensor MlpProblem::InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) {
  return MlpLoss(y, b.Rows(train_x_), b.Rows(train_y_)) + x[0].exp() * y[0].pow(2).sum() +
         x[1].exp() * y[2].pow(2).sum();
}

}  // namespace bilevel::testing
