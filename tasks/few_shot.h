// Few-shot learning, the penalty method's third application (Mehra & Hamm), as a bilevel problem:
//
//   x = a shared feature extractor, `blocks` × [conv3×3-`channels`, batch norm, ReLU, max-pool 2]
//       (4 × 64 on 28×28 Omniglot gives a 64-d feature);
//   y = one cosine-classifier head per meta-training episode, W_e [ways, d] (rows started at
//       norm ~1, N(0, 1/d)), with
//       logits = scale · ⟨φ(image), W_c⟩ / (‖φ(image)‖ ‖W_c‖);
//   g(x, y) = mean over a meta-batch of episodes of the support cross-entropy of each head;
//   f(x, y) = the same on the episodes' query examples.
//
// A Batch's indices pick episodes from a fixed pool of `num_episodes` meta-training episodes (the
// examples the solvers sample are episodes). Each head belongs to its episode and persists from one
// visit to the next rather than being reset: the single-loop methods (MinimaxOPT, the penalty
// method) carry y from step to step, so a per-visit reset would not be the same problem for them.
// Batch norm uses each episode's own statistics (support and queries apart), in training and at
// test alike, with no running averages: the extractor is a function of x alone.
//
// Evaluate() is the test protocol, outside any solver: the extractor frozen, a fresh head per
// episode (N(0, 0.01²)) trained with Adam (`head_lr`, `head_steps` steps) on the support set, then
// scored on `queries` queries per class; test_accuracy is the mean over `eval_episodes` episodes of
// the evaluation alphabets (test_accuracy_ci95 the 95 % half-width), and validation_loss the query
// cross-entropy of the same protocol on `validation_episodes` episodes of characters held out of the
// background alphabets (never trained on), so that tuning never sees the test alphabets.
#ifndef TASKS_FEW_SHOT_H_
#define TASKS_FEW_SHOT_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "tasks/data/omniglot.h"
#include "tasks/task.h"

namespace tasks {

struct FewShotSpec {
  int64_t ways = 5;
  int64_t shots = 1;
  int64_t queries = 15;        // per class, in training and test episodes
  int64_t num_episodes = 200;  // the meta-training pool, one head each
  int64_t channels = 64;
  int64_t blocks = 4;
  double scale = 10;            // the cosine classifier's temperature
  int64_t eval_episodes = 600;        // test episodes
  int64_t validation_episodes = 600;  // episodes of the held-out background characters
  int64_t head_steps = 100;
  double head_lr = 1e-3;
  // Of the background characters (all four rotations together), the fraction held out as the
  // validation classes the tuning scores on.
  double validation_fraction = 0.2;
  // > 0: the reference "pretrained": InitialOuter() is the extractor after this many Adam steps
  // (rate pretrain_lr) of plain classification — a cosine head over every meta-training class —
  // on minibatches of pretrain_batch drawings. 0: the Kaiming initialisation.
  int64_t pretrain_steps = 0;
  int64_t pretrain_batch = 64;
  double pretrain_lr = 1e-3;
  uint64_t seed = 0;
};

// Episodes drawn from a set of classes: image indices into a flat [classes * drawers] image list.
struct Episodes {
  at::Tensor support;  // int64 [E, ways * shots], class-major: class k's shots at k*shots...
  at::Tensor query;    // int64 [E, ways * queries], class-major
};

// E episodes over `classes` (indices into the split's classes), each `ways` distinct classes and
// shots + queries distinct drawings of each, from a seeded generator. Deterministic.
Episodes SampleEpisodes(const std::vector<int64_t>& classes, int64_t drawers, int64_t count,
                        int64_t ways, int64_t shots, int64_t queries, uint64_t seed);

class FewShotTask : public Task {
 public:
  // `background` and `evaluation`: the two Omniglot splits; `description` says what they are
  // (OmniglotDescription). InvalidArgument for a spec the data cannot serve (more ways than
  // classes, more shots + queries than drawings, non-positive sizes).
  static absl::StatusOr<std::unique_ptr<FewShotTask>> Create(const OmniglotSplit& background,
                                                             const OmniglotSplit& evaluation,
                                                             const std::string& description,
                                                             const FewShotSpec& spec,
                                                             c10::Device device);

  std::string Name() const override;
  std::string DataDescription() const override { return description_; }
  bilevel::TensorList InitialOuter() override;  // the extractor, Kaiming-initialised
  bilevel::TensorList InitialInner() override;  // {heads [num_episodes, ways, d]}
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  int64_t NumOuterExamples() const override { return spec_.num_episodes; }
  int64_t NumInnerExamples() const override { return spec_.num_episodes; }
  // The test protocol (see the file comment); y is not used: every head is fitted afresh.
  TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override;

  // φ(images) for images [E, n, 1, s, s]: features [E, n, d], batch norm per episode.
  at::Tensor Features(const bilevel::TensorList& x, const at::Tensor& images) const;
  int64_t FeatureDim() const;
  // The meta-training episodes (image indices into TrainingImages(), [classes * drawers, 1, s, s]).
  const Episodes& TrainingEpisodes() const { return train_; }
  const at::Tensor& TrainingImages() const { return train_images_; }
  // The pretraining's mean loss over its first and its last tenth of steps (NaN without one).
  std::pair<double, double> PretrainingLosses() const { return pretrain_losses_; }

 private:
  FewShotTask() = default;
  // Mean cross-entropy of heads [E, ways, d] on features [E, n, d] with class-major labels.
  at::Tensor EpisodeLoss(const at::Tensor& heads, const at::Tensor& features,
                         int64_t per_class) const;
  at::Tensor Logits(const at::Tensor& heads, const at::Tensor& features) const;
  at::Tensor Objective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                       const bilevel::Batch& batch, const at::Tensor& indices,
                       int64_t per_class) const;
  // The protocol on `episodes` of `images`: (mean query cross-entropy, per-episode accuracy).
  std::pair<double, at::Tensor> Protocol(const bilevel::TensorList& x, const at::Tensor& images,
                                         const Episodes& episodes, uint64_t seed) const;

  // The extractor after plain classification over `classes` (FewShotSpec::pretrain_steps).
  bilevel::TensorList Pretrain(const std::vector<int64_t>& classes, int64_t drawers);
  bilevel::TensorList KaimingExtractor() const;

  FewShotSpec spec_;
  bilevel::TensorList pretrained_;  // empty unless pretrain_steps > 0
  std::pair<double, double> pretrain_losses_ = {NAN, NAN};
  std::string description_;
  c10::Device device_ = c10::Device(c10::kCPU);
  at::Tensor train_images_, test_images_;  // flat [classes * drawers, 1, s, s] on device_
  Episodes train_, validation_, test_;
};

}  // namespace tasks

#endif  // TASKS_FEW_SHOT_H_
