// Task 3 of the paper (Figure 3, Table 1): one weight decay per layer of a ResNet-18 whose
// widths are configurable (the paper uses 16 planes in the first stage instead of 64), learned on
// a validation split:
//
//   inner  g(x, y) = CE(ResNet_y on a training batch) + ½ Σ_l exp(x_l) ‖W_l‖²
//   outer  f(y)    = CE(ResNet_y on a validation batch)
//
// W_l are the 21 convolution and fully connected weight tensors (stem, 16 block convolutions,
// 3 shortcut convolutions, classifier); batch-norm parameters and biases are not decayed. The
// training images are split 0.9/0.1 into train/validation by the seed. CIFAR-10 when the user
// supplies it; Fashion-MNIST otherwise (28×28 grey images, which this ResNet accepts unchanged
// since it ends with global average pooling) — the task's DataDescription() says which.
//
// In the objectives, batch normalisation uses the statistics of the batch it sees (they stay pure
// functions of (x, y), which MinimaxOPT evaluates at y and z alike). Evaluate() runs it in
// evaluation mode, with population statistics: the mean and variance of every layer over
// `bn_statistics_examples` training images at the y being evaluated ("precise BN"), so that a
// test image's prediction does not depend on the other images of its batch.
#ifndef TASKS_RESNET_WEIGHT_DECAY_H_
#define TASKS_RESNET_WEIGHT_DECAY_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tasks/data/image_datasets.h"
#include "tasks/task.h"

namespace tasks {

struct ResnetSpec {
  int64_t width = 16;  // planes of the first stage (64 in the original ResNet-18)
  double validation_fraction = 0.1;
  int64_t max_train = 0;            // 0 = all; caps the training images (before the split)
  int64_t max_test = 0;             // 0 = all
  double initial_log_decay = -9.2;  // exp(−9.2) ≈ 1e-4
  int64_t eval_batch = 500;
  int64_t bn_statistics_examples = 2000;  // training images for Evaluate's population statistics
  bool train_on_validation = false;       // reference line: train on the validation images too
  uint64_t seed = 1;              // split and initialisation
  bool double_precision = false;  // float64 data and parameters (tests, numerical checks)
};

class ResnetWeightDecayTask : public Task {
 public:
  static absl::StatusOr<std::unique_ptr<ResnetWeightDecayTask>> Create(const ImageDataset& images,
                                                                       const ResnetSpec& spec,
                                                                       c10::Device device);

  std::string Name() const override;
  std::string DataDescription() const override { return description_; }
  bilevel::TensorList InitialOuter() override;  // 21 log decays
  bilevel::TensorList InitialInner() override;  // 62 tensors
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  int64_t NumOuterExamples() const override { return val_y_.size(0); }
  int64_t NumInnerExamples() const override { return train_y_.size(0); }
  TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override;

  // Batch-norm statistics for evaluation mode: one running mean and variance per layer.
  struct BnStatistics {
    std::vector<at::Tensor> mean, var;
    bool collecting = false;  // true: update them from each batch (momentum); false: use them
    double momentum = 1.0;
    size_t next = 0;  // the next layer in a forward pass
  };
  // The network's logits for `images` with parameters `y`: batch-statistics batch norm, or, with
  // `stats`, collecting or using population statistics.
  at::Tensor Forward(const bilevel::TensorList& y, const at::Tensor& images,
                     BnStatistics* stats = nullptr) const;
  // The population statistics at y (see the header comment).
  BnStatistics PopulationStatistics(const bilevel::TensorList& y) const;
  // Indices into y of the decayed weight tensors, in the order of x.
  const std::vector<size_t>& decayed() const { return decayed_; }

 private:
  ResnetWeightDecayTask() = default;
  double MeanLoss(const bilevel::TensorList& y, const at::Tensor& images, const at::Tensor& labels,
                  double* accuracy, BnStatistics* stats) const;

  ResnetSpec spec_;
  c10::Device device_ = c10::Device(c10::kCPU);
  std::string description_, source_;
  at::Tensor train_x_, train_y_, val_x_, val_y_, test_x_, test_y_;
  bilevel::TensorList initial_;
  std::vector<size_t> decayed_;
};

}  // namespace tasks

#endif  // TASKS_RESNET_WEIGHT_DECAY_H_
