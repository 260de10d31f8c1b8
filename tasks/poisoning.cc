#include "tasks/poisoning.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <utility>

#include "absl/strings/str_cat.h"

namespace tasks {

absl::StatusOr<PoisoningData> MakePoisoningData(const ImageDataset& images,
                                                const PoisoningSpec& spec) {
  const int64_t available = images.train_images.size(0);
  if (spec.num_train < 1 || spec.num_val < 1 || spec.num_train + spec.num_val > available) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_train + num_val (", spec.num_train, " + ", spec.num_val,
        ") must be positive and at most the ", available, " training images of ",
        ToString(images.source)));
  }
  if (spec.num_test < 1 || spec.num_test > images.test_images.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_test must be in [1, ", images.test_images.size(0), "], got ", spec.num_test));
  }
  if (spec.num_poisons < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_poisons must be 0 or more, got ", spec.num_poisons));
  }
  if (!(spec.weight_decay > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "weight_decay must be positive (it makes the inner problem strongly convex), got ",
        spec.weight_decay));
  }
  PoisoningData data;
  data.classes = 10;
  if (spec.Targeted() && (spec.source >= data.classes || spec.target < 0 ||
                          spec.target >= data.classes || spec.target == spec.source)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "a targeted attack needs two different classes in [0, ", data.classes,
        "), got source ", spec.source, " and target ", spec.target));
  }
  const at::Tensor flat = images.train_images.flatten(1);
  data.train_x = flat.slice(0, 0, spec.num_train);
  data.train_y = images.train_labels.slice(0, 0, spec.num_train).to(at::kLong);
  data.val_x = flat.slice(0, spec.num_train, spec.num_train + spec.num_val);
  data.val_y =
      images.train_labels.slice(0, spec.num_train, spec.num_train + spec.num_val).to(at::kLong);
  data.test_x = images.test_images.flatten(1).slice(0, 0, spec.num_test);
  data.test_y = images.test_labels.slice(0, 0, spec.num_test).to(at::kLong);
  absl::Status varied = CheckTwoOrMoreClasses(absl::StrCat(ToString(images.source), " "),
                                              data.train_y, data.val_y);
  if (!varied.ok()) return varied;

  // The initial poisons: copies of training examples (drawn with replacement) with wrong labels.
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  at::Tensor candidates = at::arange(spec.num_train, at::kLong);
  if (spec.Targeted()) {
    candidates = data.train_y.eq(spec.source).nonzero().flatten();
    const int64_t in_val = data.val_y.eq(spec.source).sum().item<int64_t>();
    if (candidates.numel() == 0 || in_val == 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "a targeted attack on class ", spec.source, " needs examples of it in the training set (",
          candidates.numel(), ") and the validation set (", in_val,
          "): enlarge num_train or num_val"));
    }
  }
  const at::Tensor pick = at::randint(0, candidates.numel(), {spec.num_poisons}, gen, at::kLong);
  data.poison_origin = candidates.index_select(0, pick);
  data.poison_x = data.train_x.index_select(0, data.poison_origin).clone();
  if (spec.Targeted()) {
    data.poison_y = at::full({spec.num_poisons}, spec.target, at::kLong);
  } else {  // label + s mod classes, s uniform in {1, ..., classes − 1}: a uniform other class
    const at::Tensor shift = at::randint(1, data.classes, {spec.num_poisons}, gen, at::kLong);
    data.poison_y = (data.train_y.index_select(0, data.poison_origin) + shift)
                        .remainder(data.classes);
  }
  data.description = absl::StrCat(
      ToString(images.source), ": ", spec.num_train, " training examples, ", spec.num_val,
      " validation, ", spec.num_test, " test; ", spec.num_poisons, " poison points (",
      spec.Targeted()
          ? absl::StrCat("targeted ", spec.source, " -> ", spec.target, ": copies of training ",
                         spec.source, "s labelled ", spec.target)
          : std::string("untargeted: copies of training examples with a random other label"),
      ", seed ", spec.seed, ") in the box [0, 1]");
  return data;
}

PoisoningTask::PoisoningTask(PoisoningData data, const PoisoningSpec& spec, c10::Device device)
    : data_(std::move(data)), spec_(spec), device_(device) {
  for (at::Tensor* t : {&data_.train_x, &data_.train_y, &data_.poison_x, &data_.poison_y,
                        &data_.val_x, &data_.val_y, &data_.test_x, &data_.test_y}) {
    *t = t->to(device_);
  }
  if (spec_.Targeted()) {
    const at::Tensor rows = data_.val_y.eq(spec_.source).nonzero().flatten();
    outer_x_ = data_.val_x.index_select(0, rows);
    outer_y_ = at::full({rows.numel()}, spec_.target, data_.val_y.options());
  } else {
    outer_x_ = data_.val_x;
    outer_y_ = data_.val_y;
  }
}

std::string PoisoningTask::Name() const {
  return absl::StrCat("poisoning(",
                      spec_.Targeted() ? absl::StrCat(spec_.source, "->", spec_.target)
                                       : std::string("untargeted"),
                      ", ", spec_.num_poisons, " poisons)");
}

bilevel::TensorList PoisoningTask::InitialOuter() { return {data_.poison_x.clone()}; }

bilevel::TensorList PoisoningTask::InitialInner() {
  return {at::zeros({data_.train_x.size(1), data_.classes}, data_.train_x.options())};
}

at::Tensor PoisoningTask::OuterObjective(const bilevel::TensorList& x,
                                         const bilevel::TensorList& y,
                                         const bilevel::Batch& batch) {
  const at::Tensor loss =
      at::cross_entropy_loss(at::mm(batch.Rows(outer_x_), y[0]), batch.Rows(outer_y_));
  return spec_.Targeted() ? loss : -loss;
}

at::Tensor PoisoningTask::InnerObjective(const bilevel::TensorList& x,
                                         const bilevel::TensorList& y,
                                         const bilevel::Batch& batch) {
  const at::Tensor inputs = at::cat({data_.train_x, x[0]}, 0);
  const at::Tensor labels = at::cat({data_.train_y, data_.poison_y}, 0);
  const at::Tensor loss =
      at::cross_entropy_loss(at::mm(batch.Rows(inputs), y[0]), batch.Rows(labels));
  return loss + 0.5 * spec_.weight_decay * y[0].pow(2).sum();
}

void PoisoningTask::ProjectOuter(bilevel::TensorList* x) const {
  c10::NoGradGuard no_grad;
  (*x)[0].clamp_(0, 1);
}

TaskMetrics PoisoningTask::Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) {
  c10::NoGradGuard no_grad;
  TaskMetrics m;
  m.validation_loss = OuterObjective(x, y, bilevel::Batch{}).item<double>();
  const at::Tensor logits = at::mm(data_.test_x, y[0]);
  const at::Tensor predicted = logits.argmax(1);
  m.test_loss = at::cross_entropy_loss(logits, data_.test_y).item<double>();
  m.test_accuracy = predicted.eq(data_.test_y).to(at::kDouble).mean().item<double>();
  if (spec_.Targeted()) {
    const at::Tensor of_source = data_.test_y.eq(spec_.source);
    const int64_t count = of_source.sum().item<int64_t>();
    m.target_success = count == 0 ? NAN
                                  : predicted.eq(spec_.target)
                                        .logical_and(of_source)
                                        .sum()
                                        .item<double>() /
                                        static_cast<double>(count);
  }
  return m;
}

}  // namespace tasks
