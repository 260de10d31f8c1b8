#include "tasks/resnet_weight_decay.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tasks {
namespace {

// The parameter layout, built once and shared by initialisation and the forward pass:
// conv weight, then its batch norm's γ and β, for every convolution; then the classifier.
struct Layout {
  struct Conv {
    int64_t in, out, kernel, stride;
    size_t weight;  // index into y; γ = weight + 1, β = weight + 2
  };
  struct Block {
    Conv first, second;
    bool has_shortcut;
    Conv shortcut;
  };
  Conv stem;
  std::vector<Block> blocks;
  size_t fc_weight, fc_bias;
  size_t num_tensors;
};

Layout MakeLayout(int64_t channels, int64_t width, int64_t classes) {
  Layout layout;
  size_t next = 0;
  auto conv = [&](int64_t in, int64_t out, int64_t kernel, int64_t stride) {
    Layout::Conv c{in, out, kernel, stride, next};
    next += 3;
    return c;
  };
  layout.stem = conv(channels, width, 3, 1);
  int64_t in = width;
  for (int stage = 0; stage < 4; ++stage) {
    const int64_t out = width << stage;
    for (int b = 0; b < 2; ++b) {
      const int64_t stride = (stage > 0 && b == 0) ? 2 : 1;
      Layout::Block block;
      block.first = conv(in, out, 3, stride);
      block.second = conv(out, out, 3, 1);
      block.has_shortcut = stride != 1 || in != out;
      if (block.has_shortcut) block.shortcut = conv(in, out, 1, stride);
      layout.blocks.push_back(block);
      in = out;
    }
  }
  layout.fc_weight = next++;
  layout.fc_bias = next++;
  layout.num_tensors = next;
  return layout;
}

at::Tensor ConvBn(const at::Tensor& input, const bilevel::TensorList& y, const Layout::Conv& c,
                  ResnetWeightDecayTask::BnStatistics* stats) {
  at::Tensor h =
      at::conv2d(input, y[c.weight], {}, {c.stride, c.stride}, {c.kernel / 2, c.kernel / 2});
  if (stats == nullptr) {  // the objectives: statistics of the batch itself
    return at::batch_norm(h, y[c.weight + 1], y[c.weight + 2], {}, {}, /*training=*/true,
                          /*momentum=*/0.1, /*eps=*/1e-5, /*cudnn_enabled=*/true);
  }
  const size_t layer = stats->next++;
  if (stats->collecting) {
    if (stats->mean.size() <= layer) {
      stats->mean.push_back(at::zeros({h.size(1)}, h.options()));
      stats->var.push_back(at::ones({h.size(1)}, h.options()));
    }
    // Running averages with momentum 1/(k+1) at batch k: the plain mean over the batches.
    return at::batch_norm(h, y[c.weight + 1], y[c.weight + 2], stats->mean[layer],
                          stats->var[layer], /*training=*/true, stats->momentum, 1e-5, true);
  }
  return at::batch_norm(h, y[c.weight + 1], y[c.weight + 2], stats->mean.at(layer),
                        stats->var.at(layer), /*training=*/false, 0.0, 1e-5, true);
}

int64_t Channels(const at::Tensor& images) { return images.size(1); }

}  // namespace

absl::StatusOr<std::unique_ptr<ResnetWeightDecayTask>> ResnetWeightDecayTask::Create(
    const ImageDataset& images, const ResnetSpec& spec, c10::Device device) {
  if (spec.width < 1) {
    return absl::InvalidArgumentError(absl::StrCat("width must be >= 1, got ", spec.width));
  }
  if (!(spec.validation_fraction > 0 && spec.validation_fraction < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("validation_fraction must be in (0, 1), got ", spec.validation_fraction));
  }
  if (spec.eval_batch < 2) {
    return absl::InvalidArgumentError("eval_batch must be >= 2 (batch norm needs a batch)");
  }
  std::unique_ptr<ResnetWeightDecayTask> task(new ResnetWeightDecayTask());
  task->spec_ = spec;
  task->device_ = device;
  int64_t n = images.train_images.size(0);
  if (spec.max_train > 0) n = std::min(n, spec.max_train);
  int64_t n_test = images.test_images.size(0);
  if (spec.max_test > 0) n_test = std::min(n_test, spec.max_test);
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  const at::Tensor order = at::randperm(n, gen, at::kLong);
  const int64_t n_val = std::max<int64_t>(2, std::llround(spec.validation_fraction * n));
  if (n - n_val < 2) return absl::InvalidArgumentError("too few training images to split");
  const at::Tensor val_idx = order.slice(0, 0, n_val);
  // A reference line: train on the validation images too (the validation set stays as it is).
  const at::Tensor train_idx = spec.train_on_validation ? order : order.slice(0, n_val);
  const at::ScalarType dtype = spec.double_precision ? at::kDouble : at::kFloat;
  task->train_x_ = images.train_images.index_select(0, train_idx).to(device, dtype);
  task->train_y_ = images.train_labels.index_select(0, train_idx).to(device);
  task->val_x_ = images.train_images.index_select(0, val_idx).to(device, dtype);
  task->val_y_ = images.train_labels.index_select(0, val_idx).to(device);
  task->test_x_ = images.test_images.slice(0, 0, n_test).to(device, dtype);
  task->test_y_ = images.test_labels.slice(0, 0, n_test).to(device);
  task->source_ = ToString(images.source);
  absl::Status varied =
      CheckTwoOrMoreClasses(absl::StrCat(task->source_, " "), task->train_y_, task->val_y_);
  if (!varied.ok()) return varied;
  task->description_ = absl::StrCat(
      task->source_,
      images.source == ImageSource::kCifar10
          ? ""
          : " standing in for CIFAR-10 (not available on this machine; pass CIFAR-10's binary "
            "batches to use it)",
      ": ", n - n_val, " train / ", n_val, " validation (split ", 1 - spec.validation_fraction, "/",
      spec.validation_fraction, ", seed ", spec.seed, "), ", n_test, " test; ResNet-18 width ",
      spec.width, spec.train_on_validation ? "; trained on training and validation images" : "");

  // Initialisation as torchvision's ResNet: Kaiming normal (fan_out, ReLU) for convolutions,
  // γ = 1 and β = 0, PyTorch's default uniform for the classifier.
  const Layout layout = MakeLayout(Channels(images.train_images), spec.width, 10);
  task->initial_.resize(layout.num_tensors);
  at::Generator init = at::make_generator<at::CPUGeneratorImpl>(spec.seed + 1);
  auto init_conv = [&](const Layout::Conv& c) {
    const double std = std::sqrt(2.0 / static_cast<double>(c.out * c.kernel * c.kernel));
    task->initial_[c.weight] = at::randn({c.out, c.in, c.kernel, c.kernel}, init) * std;
    task->initial_[c.weight + 1] = at::ones({c.out});
    task->initial_[c.weight + 2] = at::zeros({c.out});
    task->decayed_.push_back(c.weight);
  };
  init_conv(layout.stem);
  for (const Layout::Block& b : layout.blocks) {
    init_conv(b.first);
    init_conv(b.second);
    if (b.has_shortcut) init_conv(b.shortcut);
  }
  const int64_t features = spec.width * 8;
  const double bound = 1.0 / std::sqrt(static_cast<double>(features));
  task->initial_[layout.fc_weight] = at::rand({10, features}, init) * 2 * bound - bound;
  task->initial_[layout.fc_bias] = at::rand({10}, init) * 2 * bound - bound;
  task->decayed_.push_back(layout.fc_weight);
  for (at::Tensor& t : task->initial_) t = t.to(device, dtype);
  return task;
}

std::string ResnetWeightDecayTask::Name() const {
  return absl::StrCat("resnet18-w", spec_.width, "-weight-decay(", source_, ")");
}

bilevel::TensorList ResnetWeightDecayTask::InitialOuter() {
  return {at::full({static_cast<int64_t>(decayed_.size())}, spec_.initial_log_decay,
                   at::TensorOptions().device(device_).dtype(initial_.front().scalar_type()))};
}

bilevel::TensorList ResnetWeightDecayTask::InitialInner() { return initial_; }

at::Tensor ResnetWeightDecayTask::Forward(const bilevel::TensorList& y, const at::Tensor& images,
                                          BnStatistics* stats) const {
  // Rebuilding the layout costs a few dozen small allocations, nothing next to the convolutions.
  const Layout layout = MakeLayout(Channels(images), spec_.width, 10);
  if (stats != nullptr) stats->next = 0;
  at::Tensor h = at::relu(ConvBn(images, y, layout.stem, stats));
  for (const Layout::Block& b : layout.blocks) {
    at::Tensor out = at::relu(ConvBn(h, y, b.first, stats));
    out = ConvBn(out, y, b.second, stats);
    h = at::relu(out + (b.has_shortcut ? ConvBn(h, y, b.shortcut, stats) : h));
  }
  h = at::adaptive_avg_pool2d(h, {1, 1}).flatten(1);
  return at::linear(h, y[layout.fc_weight], y[layout.fc_bias]);
}

at::Tensor ResnetWeightDecayTask::OuterObjective(const bilevel::TensorList& x,
                                                 const bilevel::TensorList& y,
                                                 const bilevel::Batch& batch) {
  return at::cross_entropy_loss(Forward(y, batch.Rows(val_x_)), batch.Rows(val_y_));
}

at::Tensor ResnetWeightDecayTask::InnerObjective(const bilevel::TensorList& x,
                                                 const bilevel::TensorList& y,
                                                 const bilevel::Batch& batch) {
  at::Tensor loss = at::cross_entropy_loss(Forward(y, batch.Rows(train_x_)), batch.Rows(train_y_));
  for (size_t l = 0; l < decayed_.size(); ++l) {
    loss = loss + 0.5 * x[0][static_cast<int64_t>(l)].exp() * y[decayed_[l]].pow(2).sum();
  }
  return loss;
}

ResnetWeightDecayTask::BnStatistics ResnetWeightDecayTask::PopulationStatistics(
    const bilevel::TensorList& y) const {
  c10::NoGradGuard no_grad;
  BnStatistics stats;
  stats.collecting = true;
  const int64_t n = std::min<int64_t>(train_x_.size(0), spec_.bn_statistics_examples);
  int64_t k = 0;
  for (int64_t start = 0; start + 1 < n; ++k) {
    int64_t end = std::min(n, start + spec_.eval_batch);
    if (n - end == 1) end = n;
    stats.momentum = 1.0 / static_cast<double>(k + 1);
    Forward(y, train_x_.slice(0, start, end), &stats);
    start = end;
  }
  stats.collecting = false;
  return stats;
}

double ResnetWeightDecayTask::MeanLoss(const bilevel::TensorList& y, const at::Tensor& images,
                                       const at::Tensor& labels, double* accuracy,
                                       BnStatistics* stats) const {
  c10::NoGradGuard no_grad;
  const int64_t n = images.size(0);
  double loss = 0, correct = 0;
  for (int64_t start = 0; start < n;) {
    // A last batch of one example would break batch norm: merge it into the previous one.
    int64_t end = std::min(n, start + spec_.eval_batch);
    if (n - end == 1) end = n;
    const at::Tensor logits = Forward(y, images.slice(0, start, end), stats);
    const at::Tensor target = labels.slice(0, start, end);
    loss += at::cross_entropy_loss(logits, target, {}, at::Reduction::Sum).item<double>();
    correct += logits.argmax(1).eq(target).sum().item<double>();
    start = end;
  }
  *accuracy = correct / static_cast<double>(n);
  return loss / static_cast<double>(n);
}

TaskMetrics ResnetWeightDecayTask::Evaluate(const bilevel::TensorList& x,
                                            const bilevel::TensorList& y) {
  // Batch norm in evaluation mode, with the population statistics of the training images at y.
  BnStatistics stats = PopulationStatistics(y);
  TaskMetrics m;
  double unused;
  m.validation_loss = MeanLoss(y, val_x_, val_y_, &unused, &stats);
  m.test_loss = MeanLoss(y, test_x_, test_y_, &m.test_accuracy, &stats);
  return m;
}

}  // namespace tasks
