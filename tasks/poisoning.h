// The penalty method's second application (Mehra & Hamm): training-data poisoning. The attacker
// adds P poison images with fixed labels to the training set; the outer variable is their pixels,
// constrained to the box [0, 1] (ProjectOuter clamps), and the learner trains softmax regression
// without bias on the poisoned set:
//
//   inner  g(x, W) = CE(W; training examples ∪ poisons x) + (wd/2)‖W‖²     (mean over examples)
//   outer  untargeted: f(W) = −CE(W; validation set)          (spoil the model everywhere)
//          targeted s→t: f(W) = CE(W; validation examples of class s, labelled t)
//
// A model retrained from scratch on the poisoned set is y*(x) (g is strongly convex), so the
// experiments score every point at the exactly re-solved y*(x_k). Metrics: test accuracy (lower
// is a stronger untargeted attack) and, when targeted, the fraction of test examples of class s
// predicted t (TaskMetrics::target_success).
//
//   absl::StatusOr<tasks::PoisoningData> data = tasks::MakePoisoningData(*mnist, spec);
//   tasks::PoisoningTask task(*data, spec, c10::Device(c10::kCPU));
#ifndef TASKS_POISONING_H_
#define TASKS_POISONING_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "tasks/data/image_datasets.h"
#include "tasks/task.h"

namespace tasks {

struct PoisoningSpec {
  int64_t num_train = 1000;  // the first training images
  int64_t num_val = 1000;    // the next ones
  int64_t num_test = 8000;   // the first test images
  int64_t num_poisons = 60;  // 0: the clean training set (a reference)
  double weight_decay = 0.005;
  // Targeted when source >= 0: the poisons start as copies of training examples of class
  // `source` labelled `target`. Untargeted: copies of random training examples with a random
  // other label.
  int64_t source = -1;
  int64_t target = -1;
  uint64_t seed = 1;  // which training examples are copied, and their labels
  bool Targeted() const { return source >= 0; }
};

struct PoisoningData {
  at::Tensor train_x, train_y;    // float [n, 784] in [0, 1]; int64 [n]
  at::Tensor poison_x, poison_y;  // the initial poisons: float [P, 784]; int64 [P]
  at::Tensor poison_origin;       // int64 [P]: the training example each poison copies
  at::Tensor val_x, val_y, test_x, test_y;
  int64_t classes = 10;
  std::string description;
};

// Splits `images` (flattened) and draws the initial poisons. InvalidArgument for sizes out of
// range, a bad source/target pair, or a targeted attack whose source class has no training or
// validation example.
absl::StatusOr<PoisoningData> MakePoisoningData(const ImageDataset& images,
                                                const PoisoningSpec& spec);

class PoisoningTask : public Task {
 public:
  PoisoningTask(PoisoningData data, const PoisoningSpec& spec, c10::Device device);

  std::string Name() const override;
  std::string DataDescription() const override { return data_.description; }
  bilevel::TensorList InitialOuter() override;  // {the initial poisons [P, 784]}
  bilevel::TensorList InitialInner() override;  // {W = 0 [784, classes]}
  // Averages over the validation examples (targeted: those of class `source`).
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  // Averages over training examples and poisons: index i < n is training example i, n + j
  // poison j.
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  int64_t NumOuterExamples() const override { return outer_y_.size(0); }
  int64_t NumInnerExamples() const override {
    return data_.train_y.size(0) + data_.poison_y.size(0);
  }
  void ProjectOuter(bilevel::TensorList* x) const override;  // clamp to [0, 1]
  // validation_loss is f on the whole validation set; target_success when targeted.
  TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override;

 private:
  PoisoningData data_;
  PoisoningSpec spec_;
  c10::Device device_;
  at::Tensor outer_x_, outer_y_;  // f's examples and the labels f scores them against
};

}  // namespace tasks

#endif  // TASKS_POISONING_H_
