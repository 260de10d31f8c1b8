#include "tasks/few_shot.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "solvers/core/optimizer.h"

namespace tasks {
namespace {

constexpr double kBatchNormEpsilon = 1e-5;
constexpr double kNormEpsilon = 1e-8;  // keeps the cosine defined at a zero vector

// v / ‖v‖ along the last dimension.
at::Tensor Normalize(const at::Tensor& v) {
  return v / (v.pow(2).sum(-1, /*keepdim=*/true) + kNormEpsilon).sqrt();
}

// Class-major labels 0..ways-1, `per_class` each, for E episodes: int64 [E * ways * per_class].
at::Tensor Labels(int64_t episodes, int64_t ways, int64_t per_class, c10::Device device) {
  return at::arange(ways, at::TensorOptions().dtype(at::kLong).device(device))
      .repeat_interleave(per_class)
      .repeat({episodes});
}

// The flat image list of a split: [classes * drawers, 1, s, s].
at::Tensor Flat(const OmniglotSplit& split) {
  return split.images.reshape({-1, 1, split.images.size(3), split.images.size(4)});
}

// The drawings `rows` [E, n] (indices into `images`, [N, 1, s, s]) as [E, n, 1, s, s].
at::Tensor Gather(const at::Tensor& images, const at::Tensor& rows) {
  return images.index_select(0, rows.reshape({-1}))
      .reshape({rows.size(0), rows.size(1), 1, images.size(2), images.size(3)});
}

// Adam with torch.optim.Adam's defaults (β 0.9, 0.999, ε 1e-8) at `learning_rate`.
bilevel::OptimizerOptions Adam(double learning_rate) {
  bilevel::OptimizerOptions adam;
  adam.type = bilevel::OptimizerType::kAdam;
  adam.learning_rate = learning_rate;
  return adam;
}

}  // namespace

Episodes SampleEpisodes(const std::vector<int64_t>& classes, int64_t drawers, int64_t count,
                        int64_t ways, int64_t shots, int64_t queries, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> support, query;
  std::vector<int64_t> pool = classes, drawings(drawers);
  for (int64_t e = 0; e < count; ++e) {
    // The first `ways` of a partial Fisher–Yates shuffle: distinct classes, then drawings.
    for (int64_t k = 0; k < ways; ++k) {
      std::uniform_int_distribution<int64_t> pick(k, static_cast<int64_t>(pool.size()) - 1);
      std::swap(pool[k], pool[pick(rng)]);
    }
    std::vector<int64_t> s, q;
    for (int64_t k = 0; k < ways; ++k) {
      std::iota(drawings.begin(), drawings.end(), 0);
      for (int64_t j = 0; j < shots + queries; ++j) {
        std::uniform_int_distribution<int64_t> pick(j, drawers - 1);
        std::swap(drawings[j], drawings[pick(rng)]);
        (j < shots ? support : query).push_back(pool[k] * drawers + drawings[j]);
      }
    }
  }
  Episodes out;
  out.support = at::tensor(support, at::kLong).reshape({count, ways * shots});
  out.query = at::tensor(query, at::kLong).reshape({count, ways * queries});
  return out;
}

absl::StatusOr<std::unique_ptr<FewShotTask>> FewShotTask::Create(const OmniglotSplit& background,
                                                                 const OmniglotSplit& evaluation,
                                                                 const std::string& description,
                                                                 const FewShotSpec& spec,
                                                                 c10::Device device) {
  const FewShotSpec& p = spec;
  if (p.ways < 2 || p.shots < 1 || p.queries < 1 || p.num_episodes < 1 || p.channels < 1 ||
      p.blocks < 1 || p.eval_episodes < 1 || p.validation_episodes < 1 || p.head_steps < 0 ||
      !(p.head_lr > 0) || !(p.scale > 0) ||
      !(p.validation_fraction > 0 && p.validation_fraction < 1) || p.pretrain_steps < 0 ||
      p.pretrain_batch < 1 || !(p.pretrain_lr > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "few-shot spec: need ways >= 2, shots, queries, num_episodes, channels, blocks, "
        "eval_episodes, validation_episodes >= 1, head_steps >= 0, head_lr and scale > 0, a "
        "validation fraction in "
        "(0, 1), pretrain_steps >= 0, pretrain_batch >= 1 and pretrain_lr > 0; got ways ",
        p.ways, ", shots ", p.shots, ", queries ", p.queries, ", num_episodes ", p.num_episodes,
        ", channels ", p.channels, ", blocks ", p.blocks, ", eval_episodes ", p.eval_episodes,
        ", validation_episodes ", p.validation_episodes, ", head_steps ", p.head_steps,
        ", head_lr ", p.head_lr, ", scale ", p.scale, ", validation_fraction ",
        p.validation_fraction, ", pretrain_steps ", p.pretrain_steps, ", pretrain_batch ",
        p.pretrain_batch, ", pretrain_lr ", p.pretrain_lr));
  }
  const int64_t drawers = background.images.size(1);
  if (p.shots + p.queries > drawers || p.shots + p.queries > evaluation.images.size(1)) {
    return absl::InvalidArgumentError(absl::StrCat("few-shot spec: ", p.shots, " shots + ",
                                                   p.queries, " queries per class exceed the ",
                                                   drawers, " drawings of each character"));
  }
  const int64_t size = background.images.size(3);
  if (size >> p.blocks < 1) {
    return absl::InvalidArgumentError(absl::StrCat("few-shot spec: ", p.blocks,
                                                   " max-pooling blocks shrink ", size, "x", size,
                                                   " images to nothing"));
  }
  // Hold out whole characters (with their rotations) of the background alphabets for validation.
  const int64_t characters = background.num_characters;
  const int64_t copies = static_cast<int64_t>(background.class_names.size()) / characters;
  std::vector<int64_t> order(characters);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), std::mt19937_64(p.seed ^ 0x5eedULL));
  const int64_t held_out = std::llround(p.validation_fraction * characters);
  std::vector<int64_t> train_classes, validation_classes, test_classes;
  for (int64_t i = 0; i < characters; ++i) {
    for (int64_t r = 0; r < copies; ++r) {
      (i < held_out ? validation_classes : train_classes).push_back(order[i] + r * characters);
    }
  }
  for (int64_t c = 0; c < static_cast<int64_t>(evaluation.class_names.size()); ++c) {
    test_classes.push_back(c);
  }
  for (const auto& [what, classes] :
       {std::pair<const char*, const std::vector<int64_t>&>{"meta-training", train_classes},
        {"validation", validation_classes},
        {"test", test_classes}}) {
    if (static_cast<int64_t>(classes.size()) < p.ways) {
      return absl::InvalidArgumentError(absl::StrCat("few-shot: ", classes.size(), " ", what,
                                                     " classes cannot make ", p.ways,
                                                     "-way episodes; load more alphabets"));
    }
  }
  std::unique_ptr<FewShotTask> task(new FewShotTask());
  task->spec_ = spec;
  task->description_ = description;
  task->device_ = device;
  task->train_images_ = Flat(background).to(device);
  task->test_images_ = Flat(evaluation).to(device);
  auto to_device = [&](Episodes e) {
    e.support = e.support.to(device);
    e.query = e.query.to(device);
    return e;
  };
  task->train_ = to_device(SampleEpisodes(train_classes, drawers, p.num_episodes, p.ways, p.shots,
                                          p.queries, p.seed * 3 + 1));
  task->validation_ = to_device(SampleEpisodes(validation_classes, drawers, p.validation_episodes,
                                               p.ways, p.shots, p.queries, p.seed * 3 + 2));
  // The test episodes depend on the data only, not on the seed: every seed is scored on the
  // same 600 tasks, so the spread over seeds is the methods' own.
  task->test_ = to_device(SampleEpisodes(test_classes, evaluation.images.size(1), p.eval_episodes,
                                         p.ways, p.shots, p.queries, 0x7e57ULL));
  if (p.pretrain_steps > 0) task->pretrained_ = task->Pretrain(train_classes, drawers);
  return task;
}

bilevel::TensorList FewShotTask::Pretrain(const std::vector<int64_t>& classes, int64_t drawers) {
  at::AutoGradMode grad_mode(true);
  const int64_t n = static_cast<int64_t>(classes.size());
  std::vector<at::Tensor> params = KaimingExtractor();
  at::Generator gen = at::detail::createCPUGenerator(spec_.seed * 7 + 11);
  params.push_back(
      (at::randn({n, FeatureDim()}, gen) / std::sqrt(static_cast<double>(FeatureDim())))
          .to(device_));
  for (at::Tensor& t : params) t.requires_grad_(true);
  std::mt19937_64 rng(spec_.seed * 7 + 13);
  std::uniform_int_distribution<int64_t> pick_class(0, n - 1), pick_drawing(0, drawers - 1);
  bilevel::GroupOptimizer adam(Adam(spec_.pretrain_lr), params);
  const int64_t tenth = std::max<int64_t>(1, spec_.pretrain_steps / 10);
  double first = 0, last = 0;
  for (int64_t step = 0; step < spec_.pretrain_steps; ++step) {
    std::vector<int64_t> rows, labels;
    for (int64_t i = 0; i < spec_.pretrain_batch; ++i) {
      labels.push_back(pick_class(rng));
      rows.push_back(classes[labels.back()] * drawers + pick_drawing(rng));
    }
    const at::Tensor images =
        Gather(train_images_, at::tensor(rows, at::kLong).to(device_).unsqueeze(0));
    const bilevel::TensorList x(params.begin(), params.end() - 1);
    const at::Tensor logits =
        Logits(params.back().unsqueeze(0), Features(x, images)).reshape({-1, n});
    const at::Tensor loss =
        at::cross_entropy_loss(logits, at::tensor(labels, at::kLong).to(device_));
    const std::vector<at::Tensor> grads = torch::autograd::grad({loss}, params);
    if (step < tenth) first += loss.item<double>() / tenth;
    if (step >= spec_.pretrain_steps - tenth) last += loss.item<double>() / tenth;
    adam.Step(&params, grads, spec_.pretrain_lr);
  }
  pretrain_losses_ = {first, last};
  params.pop_back();
  for (at::Tensor& t : params) t = t.detach();
  return params;
}

std::string FewShotTask::Name() const {
  return absl::StrCat("few_shot_", spec_.ways, "way_", spec_.shots, "shot");
}

int64_t FewShotTask::FeatureDim() const {
  int64_t s = train_images_.size(2);
  for (int64_t b = 0; b < spec_.blocks; ++b) s /= 2;
  return spec_.channels * s * s;
}

bilevel::TensorList FewShotTask::InitialOuter() {
  return pretrained_.empty() ? KaimingExtractor() : pretrained_;
}

bilevel::TensorList FewShotTask::KaimingExtractor() const {
  at::Generator gen = at::detail::createCPUGenerator(spec_.seed * 7 + 3);
  bilevel::TensorList x;
  int64_t in = 1;
  for (int64_t b = 0; b < spec_.blocks; ++b) {
    const double std = std::sqrt(2.0 / (in * 9));  // Kaiming (fan-in, ReLU)
    x.push_back((at::randn({spec_.channels, in, 3, 3}, gen) * std).to(device_));
    x.push_back(at::zeros({spec_.channels}).to(device_));  // conv bias
    x.push_back(at::ones({spec_.channels}).to(device_));   // batch-norm scale
    x.push_back(at::zeros({spec_.channels}).to(device_));  // batch-norm shift
    in = spec_.channels;
  }
  return x;
}

bilevel::TensorList FewShotTask::InitialInner() {
  at::Generator gen = at::detail::createCPUGenerator(spec_.seed * 7 + 5);
  // Rows of norm about 1: the cosine head's gradient scales as 1/‖W_c‖, so the tiny start of the
  // test protocol's Adam-fitted heads would make the solvers' plain gradient steps explode.
  return {(at::randn({spec_.num_episodes, spec_.ways, FeatureDim()}, gen) /
           std::sqrt(static_cast<double>(FeatureDim())))
              .to(device_)};
}

at::Tensor FewShotTask::Features(const bilevel::TensorList& x, const at::Tensor& images) const {
  const int64_t episodes = images.size(0), n = images.size(1);
  at::Tensor h = images.reshape({episodes * n, images.size(2), images.size(3), images.size(4)});
  for (int64_t b = 0; b < spec_.blocks; ++b) {
    h = at::conv2d(h, x[4 * b], x[4 * b + 1], /*stride=*/1, /*padding=*/1);
    // Batch norm with each episode's own statistics (over its images and all positions): the
    // episodes' channels side by side as the channels of one fused batch norm, [n, E·C, H, W].
    const int64_t c = h.size(1), height = h.size(2), width = h.size(3);
    const at::Tensor side_by_side = h.reshape({episodes, n, c, height, width})
                                        .transpose(0, 1)
                                        .reshape({n, episodes * c, height, width});
    const at::Tensor normalised = at::batch_norm(
        side_by_side, x[4 * b + 2].repeat({episodes}), x[4 * b + 3].repeat({episodes}),
        /*running_mean=*/{}, /*running_var=*/{}, /*training=*/true, /*momentum=*/0.0,
        kBatchNormEpsilon, /*cudnn_enabled=*/false);
    h = normalised.reshape({n, episodes, c, height, width})
            .transpose(0, 1)
            .reshape({episodes * n, c, height, width});
    h = at::max_pool2d(at::relu(h), {2, 2});
  }
  return h.reshape({episodes, n, -1});
}

at::Tensor FewShotTask::Logits(const at::Tensor& heads, const at::Tensor& features) const {
  return spec_.scale * at::bmm(Normalize(features), Normalize(heads).transpose(1, 2));
}

at::Tensor FewShotTask::EpisodeLoss(const at::Tensor& heads, const at::Tensor& features,
                                    int64_t per_class) const {
  const at::Tensor logits = Logits(heads, features);  // [E, n, ways]
  return at::cross_entropy_loss(logits.reshape({-1, spec_.ways}),
                                Labels(heads.size(0), spec_.ways, per_class, device_));
}

at::Tensor FewShotTask::Objective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                                  const bilevel::Batch& batch, const at::Tensor& indices,
                                  int64_t per_class) const {
  const at::Tensor images = Gather(train_images_, batch.Rows(indices));
  return EpisodeLoss(batch.Rows(y[0]), Features(x, images), per_class);
}

at::Tensor FewShotTask::InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                                       const bilevel::Batch& batch) {
  return Objective(x, y, batch, train_.support, spec_.shots);
}

at::Tensor FewShotTask::OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                                       const bilevel::Batch& batch) {
  return Objective(x, y, batch, train_.query, spec_.queries);
}

std::pair<double, at::Tensor> FewShotTask::Protocol(const bilevel::TensorList& x,
                                                    const at::Tensor& images,
                                                    const Episodes& episodes, uint64_t seed) const {
  const int64_t count = episodes.support.size(0);
  at::Tensor support, query;
  {
    at::NoGradGuard no_grad;
    bilevel::TensorList frozen;
    for (const at::Tensor& t : x) frozen.push_back(t.detach());
    // In chunks of about 256 images: one forward over every test episode's queries would hold
    // ~1 GB of activations, and on the CPU a convolution over a few thousand images at once runs
    // several times slower per image than over a few hundred (measured: its buffers leave the
    // cache and are page-faulted in afresh).
    std::vector<at::Tensor> s_parts, q_parts;
    const at::Tensor all_support = Gather(images, episodes.support);
    const at::Tensor all_query = Gather(images, episodes.query);
    const int64_t per_chunk = std::max<int64_t>(1, 256 / (spec_.ways * spec_.queries));
    for (int64_t start = 0; start < count; start += per_chunk) {
      const int64_t len = std::min<int64_t>(per_chunk, count - start);
      s_parts.push_back(Features(frozen, all_support.narrow(0, start, len)));
      q_parts.push_back(Features(frozen, all_query.narrow(0, start, len)));
    }
    support = at::cat(s_parts);
    query = at::cat(q_parts);
  }
  // Fresh heads, fitted by Adam on each episode's support set. The loss is the sum over episodes
  // of each one's mean (count × EpisodeLoss), so each head's gradient is its own episode's, and
  // Adam is per coordinate: one batched run is `count` independent ones.
  at::AutoGradMode grad_mode(true);
  at::Generator gen = at::detail::createCPUGenerator(seed);
  bilevel::TensorList head = {
      (at::randn({count, spec_.ways, FeatureDim()}, gen) * 0.01).to(device_).requires_grad_(true)};
  bilevel::GroupOptimizer adam(Adam(spec_.head_lr), head);
  for (int64_t step = 0; step < spec_.head_steps; ++step) {
    const at::Tensor loss = EpisodeLoss(head[0], support, spec_.shots) * static_cast<double>(count);
    adam.Step(&head, torch::autograd::grad({loss}, head), spec_.head_lr);
  }
  at::NoGradGuard no_grad;
  const at::Tensor heads = head[0].detach();
  const at::Tensor logits = Logits(heads, query);  // [E, ways * queries, ways]
  const at::Tensor labels = Labels(count, spec_.ways, spec_.queries, device_);
  const double loss =
      at::cross_entropy_loss(logits.reshape({-1, spec_.ways}), labels).item<double>();
  const at::Tensor accuracy =
      logits.argmax(-1).reshape({-1}).eq(labels).to(at::kDouble).reshape({count, -1}).mean(1);
  return {loss, accuracy.cpu()};
}

TaskMetrics FewShotTask::Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) {
  TaskMetrics metrics;
  metrics.validation_loss = Protocol(x, train_images_, validation_, spec_.seed * 11 + 1).first;
  const auto [test_loss, accuracy] = Protocol(x, test_images_, test_, spec_.seed * 11 + 2);
  metrics.test_loss = test_loss;
  metrics.test_accuracy = accuracy.mean().item<double>();
  const double sd = accuracy.numel() > 1 ? accuracy.std().item<double>() : 0.0;
  metrics.test_accuracy_ci95 = 1.96 * sd / std::sqrt(static_cast<double>(accuracy.numel()));
  return metrics;
}

}  // namespace tasks
