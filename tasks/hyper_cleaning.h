// Task 4 of the paper (Figure 4, Tables 2 and 4): data hyper-cleaning. A 2-layer MLP with dropout
// trains on examples whose labels were corrupted at a chosen ratio; one outer variable per
// training example weighs its loss by sigmoid(x_i), and the weights are learned on a clean
// validation set:
//
//   inner  g(x, y) = (1/|B|) Σ_{i∈B} σ(x_i) CE(MLP_y(a_i) with dropout, label_i) + (wd/2)‖W‖²
//   outer  f(y)    = CE(MLP_y on the clean validation set)
//
// MNIST as in the paper: 20,000 training examples (corrupted), 5,000 clean validation, 10,000
// test. Labels are corrupted as in benchopt's bilevel benchmark by default (Corruption).
//
//   absl::StatusOr<tasks::ImageDataset> mnist = tasks::LoadMnistLike(kMnist, dir);
//   absl::StatusOr<tasks::CleaningData> data = tasks::MakeCleaningData(*mnist, spec);
//   tasks::HyperCleaningTask task(*data, spec, c10::Device(c10::kCPU));
#ifndef TASKS_HYPER_CLEANING_H_
#define TASKS_HYPER_CLEANING_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "tasks/data/image_datasets.h"
#include "tasks/task.h"

namespace tasks {

// How training labels are corrupted at a noise ratio p.
enum class Corruption {
  // benchopt's bilevel benchmark: each label, with probability p, is replaced by a class drawn
  // uniformly from all of them, so about p/classes of the drawn labels keep their class and the
  // fraction actually wrong is about p (1 − 1/classes).
  kBenchopt,
  // Exactly round(p · n) labels, chosen by the seed, move to one of the other classes, uniformly:
  // the fraction wrong is p.
  kExactOther,
};
std::string ToString(Corruption corruption);  // "benchopt", "exact_other"

// How the outer variable x weighs the training examples in g.
enum class ExampleWeighting {
  // Figure 4: w_i = σ(x_i), g = (1/|B|) Σ_{i∈B} w_i CE_i.
  kSigmoidMean,
  // The penalty method's denoising (Mehra & Hamm): w_i = ½(tanh x_i + 1), g = Σ_{i∈B} w_i CE_i /
  // Σ_{i∈B} w_i — the weights' scale drops out, only their proportions count.
  kTanhNormalized,
};
std::string ToString(ExampleWeighting weighting);  // "sigmoid_mean", "tanh_normalized"
// The example weights w(x) of `weighting`, elementwise.
at::Tensor ExampleWeights(ExampleWeighting weighting, const at::Tensor& x);

// The penalty method's large denoising model (Mehra & Hamm's code): conv 5×5 with `conv1` channels,
// ReLU, max-pool 2, conv 5×5 with `conv2`, ReLU, max-pool 2, then dense layers of `fc1` and `fc2`
// units with ReLU, and the output layer. {64, 128, 512, 256} is theirs: about 1.4 M parameters on
// 28×28 images.
struct CleaningCnn {
  int64_t conv1 = 64, conv2 = 128, fc1 = 512, fc2 = 256;
};
std::string ToString(const CleaningCnn& cnn);  // "cnn(conv5-64, conv5-128, fc512, fc256)"

struct HyperCleaningSpec {
  int64_t num_train = 20000;
  int64_t num_val = 5000;
  int64_t num_test = 10000;
  double noise_ratio = 0.5;  // benchopt's bilevel benchmark uses 0.5, 0.7, 0.9
  Corruption corruption = Corruption::kBenchopt;
  // Units of the hidden layer; 0 = benchopt's linear model (multinomial logistic regression
  // without bias, W0 = 0, no dropout). The ridge is (weight_decay/2)‖W‖²: benchopt's reg·‖W‖²
  // with reg = 0.2 is weight_decay = 0.4.
  int64_t hidden = 256;
  // When set, this CNN in place of the MLP (`hidden` unused): dropout on its last hidden layer, the
  // ridge on every weight tensor (not the biases). The images must be at least 16×16.
  std::optional<CleaningCnn> cnn;
  // Every pixel centred and scaled by the training examples' mean and standard deviation, also
  // for validation and test (benchopt's StandardScaler; a constant pixel keeps scale 1).
  bool standardize = false;
  double dropout = 0.2;        // on the hidden layer, in g only
  double weight_decay = 1e-4;  // fixed, on both weight matrices
  // The linear model (hidden = 0) with a bias (the penalty method's denoising: a Keras Dense
  // layer); benchopt's has none.
  bool linear_bias = false;
  ExampleWeighting weighting = ExampleWeighting::kSigmoidMean;
  // An example counts as kept (judged clean) when its weight is at least this, flagged as
  // corrupted below it: figure 4 flags weights below ½; the penalty method's denoising keeps
  // weights above 0.9 (KeptData).
  double keep_threshold = 0.5;
  uint64_t seed = 1;  // label corruption, initialisation and dropout masks
};

// Corrupts `labels` at `ratio` (see Corruption), with the draws fixed by `seed`. `corrupted`
// (bool [n]) marks the labels that are now wrong; `drawn` (optional, bool [n]) the labels that
// were redrawn (kBenchopt: a superset of the wrong ones; kExactOther: the same).
void CorruptLabels(const at::Tensor& labels, double ratio, int64_t classes, uint64_t seed,
                   Corruption corruption, at::Tensor* noisy, at::Tensor* corrupted,
                   at::Tensor* drawn = nullptr);

struct CleaningData {
  at::Tensor train_x, train_y, corrupted;  // float [n, features]; noisy int64 labels; bool mask
  at::Tensor clean_train_y;                // the labels before corruption (oracle references)
  double corrupted_fraction = 0;           // of the training labels, the fraction now wrong
  at::Tensor val_x, val_y, test_x, test_y;
  int64_t classes = 10;
  std::vector<int64_t> image_shape;  // {channels, height, width} of a row of train_x
  std::string description;
};

// Training and validation examples from the first num_train + num_val training images, test
// examples from the first num_test test images (flattened); corrupts the training labels.
absl::StatusOr<CleaningData> MakeCleaningData(const ImageDataset& images,
                                              const HyperCleaningSpec& spec);

// The training sets of figure 4's reference lines; each keeps the validation and test sets.
enum class CleaningReference {
  kValidationOnly,          // train on the clean validation examples alone
  kTrainingPlusValidation,  // the corrupted training examples and the validation examples
  kOracle,                  // the training examples whose labels are still right, plus validation
};
std::string ToString(CleaningReference reference);  // "validation only", ...
// `data` with the training set of `reference` (no example of it is marked corrupted, except the
// corrupted training examples kept by kTrainingPlusValidation).
CleaningData ReferenceData(const CleaningData& data, CleaningReference reference);
// The penalty method's evaluation of a denoising run: `data` with the training set replaced by
// the training examples whose weight ExampleWeights(spec.weighting, x) is at least
// spec.keep_threshold, plus the validation set (uniform weights). `x`: one outer value per
// training example, on any device.
CleaningData KeptData(const CleaningData& data, const HyperCleaningSpec& spec, const at::Tensor& x);

class HyperCleaningTask : public Task {
 public:
  HyperCleaningTask(CleaningData data, const HyperCleaningSpec& spec, c10::Device device);

  std::string Name() const override;
  std::string DataDescription() const override { return data_.description; }
  bilevel::TensorList InitialOuter() override;  // x = 0: every weight ½
  // Seeded uniform(±1/√fan_in), like torch.nn.Linear; the linear model starts at 0.
  bilevel::TensorList InitialInner() override;
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  int64_t NumOuterExamples() const override { return data_.val_y.size(0); }
  int64_t NumInnerExamples() const override { return data_.train_y.size(0); }
  std::string WhyNotDataParallel() const override;
  // x is one weight per training example, read by g at its batch's rows only (not by f).
  std::vector<bool> OuterRowsPerInnerExample() const override { return {true}; }
  TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override;
  // The dropout generator's state, so that a checkpointed solve resumes with the same masks.
  bilevel::TensorList RandomState() const override { return {generator_.get_state()}; }
  void SetRandomState(const bilevel::TensorList& state) override {
    generator_.set_state(state.at(0));
  }

 private:
  // With dropout when `dropout` (the batch whose rows `input` holds) is given: masks from the
  // batch's noise key when it has one (Batch::noise_key; a data-parallel shard cuts its rows from
  // the global batch's masks), else from generator_.
  at::Tensor Logits(const at::Tensor& input, const bilevel::TensorList& y,
                    const bilevel::Batch* dropout);
  CleaningData data_;
  HyperCleaningSpec spec_;
  c10::Device device_;
  // Dropout masks of batches without a noise key (own CPU generator; the device's default
  // elsewhere). The solvers' batches all have keys.
  at::Generator generator_;
  bilevel::TensorList initial_;
};

}  // namespace tasks

#endif  // TASKS_HYPER_CLEANING_H_
