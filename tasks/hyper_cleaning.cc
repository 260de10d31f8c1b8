#include "tasks/hyper_cleaning.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tasks {
std::string ToString(Corruption corruption) {
  switch (corruption) {
    case Corruption::kBenchopt:
      return "benchopt";
    case Corruption::kExactOther:
      return "exact_other";
  }
  return "unknown";
}

std::string ToString(ExampleWeighting weighting) {
  switch (weighting) {
    case ExampleWeighting::kSigmoidMean:
      return "sigmoid_mean";
    case ExampleWeighting::kTanhNormalized:
      return "tanh_normalized";
  }
  return "unknown";
}

std::string ToString(const CleaningCnn& cnn) {
  return absl::StrCat("cnn(conv5-", cnn.conv1, ", conv5-", cnn.conv2, ", fc", cnn.fc1, ", fc",
                      cnn.fc2, ")");
}

at::Tensor ExampleWeights(ExampleWeighting weighting, const at::Tensor& x) {
  return weighting == ExampleWeighting::kSigmoidMean ? at::sigmoid(x) : 0.5 * (at::tanh(x) + 1);
}

void CorruptLabels(const at::Tensor& labels, double ratio, int64_t classes, uint64_t seed,
                   Corruption corruption, at::Tensor* noisy, at::Tensor* corrupted,
                   at::Tensor* drawn) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const int64_t n = labels.size(0);
  const at::Tensor clean = labels.to(at::kLong);
  at::Tensor redrawn;
  if (corruption == Corruption::kBenchopt) {
    // Each label with probability `ratio`, replaced by randint(0, classes).
    redrawn = at::rand({n}, gen, at::kDouble) < ratio;
    const at::Tensor draws = at::randint(0, classes, {n}, gen, at::kLong);
    *noisy = at::where(redrawn, draws, clean);
  } else {
    const int64_t count = static_cast<int64_t>(std::llround(ratio * static_cast<double>(n)));
    const at::Tensor chosen = at::randperm(n, gen, at::kLong).slice(0, 0, count);
    // label + s mod classes with s uniform in {1, ..., classes − 1}: uniform over the others.
    const at::Tensor shift = at::randint(1, classes, {count}, gen, at::kLong);
    *noisy = clean.clone();
    noisy->index_put_({chosen}, (noisy->index_select(0, chosen) + shift).remainder(classes));
    redrawn = at::zeros({n}, at::kBool);
    redrawn.index_fill_(0, chosen, true);
  }
  *corrupted = noisy->ne(clean);
  if (drawn != nullptr) *drawn = redrawn;
}

absl::StatusOr<CleaningData> MakeCleaningData(const ImageDataset& images,
                                              const HyperCleaningSpec& spec) {
  const int64_t available = images.train_images.size(0);
  if (spec.num_train < 1 || spec.num_val < 1 || spec.num_train + spec.num_val > available) {
    return absl::InvalidArgumentError(
        absl::StrCat("num_train + num_val (", spec.num_train, " + ", spec.num_val,
                     ") must be positive and at "
                     "most the ",
                     available, " training images of ", ToString(images.source)));
  }
  if (spec.num_test < 1 || spec.num_test > images.test_images.size(0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "num_test must be in [1, ", images.test_images.size(0), "], got ", spec.num_test));
  }
  if (!(spec.noise_ratio >= 0 && spec.noise_ratio <= 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("noise_ratio must be in [0, 1], got ", spec.noise_ratio));
  }
  const std::vector<int64_t> shape(images.train_images.sizes().begin() + 1,
                                   images.train_images.sizes().end());
  if (spec.cnn.has_value()) {
    const CleaningCnn& cnn = *spec.cnn;
    if (shape.size() != 3 || shape[1] < 16 || shape[2] < 16) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the CNN model needs images of at least 16x16 pixels (two 5x5 convolutions and two 2x2 "
          "poolings); ",
          ToString(images.source), " has ", images.train_images.sizes()[1], "x...: use the MLP"));
    }
    if (cnn.conv1 < 1 || cnn.conv2 < 1 || cnn.fc1 < 1 || cnn.fc2 < 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("every CNN width must be positive, got ", ToString(cnn)));
    }
  }
  const at::Tensor flat = images.train_images.flatten(1);
  CleaningData data;
  data.image_shape = shape;
  data.train_x = flat.slice(0, 0, spec.num_train);
  data.val_x = flat.slice(0, spec.num_train, spec.num_train + spec.num_val);
  data.val_y = images.train_labels.slice(0, spec.num_train, spec.num_train + spec.num_val);
  data.test_x = images.test_images.flatten(1).slice(0, 0, spec.num_test);
  data.test_y = images.test_labels.slice(0, 0, spec.num_test);
  if (spec.standardize) {
    const at::Tensor mean = data.train_x.mean(0, /*keepdim=*/true);
    const at::Tensor deviation = data.train_x.std(0, /*unbiased=*/false, /*keepdim=*/true);
    const at::Tensor scale = at::where(deviation > 0, deviation, at::ones_like(deviation));
    data.train_x = (data.train_x - mean) / scale;
    data.val_x = (data.val_x - mean) / scale;
    data.test_x = (data.test_x - mean) / scale;
  }
  data.classes = 10;
  data.clean_train_y = images.train_labels.slice(0, 0, spec.num_train).to(at::kLong);
  CorruptLabels(data.clean_train_y, spec.noise_ratio, data.classes, spec.seed, spec.corruption,
                &data.train_y, &data.corrupted);
  data.corrupted_fraction = data.corrupted.to(at::kDouble).mean().item<double>();
  absl::Status varied = CheckTwoOrMoreClasses(absl::StrCat(ToString(images.source), " "),
                                              data.clean_train_y, data.val_y);
  if (!varied.ok()) return varied;
  data.description =
      absl::StrCat(ToString(images.source), ": ", spec.num_train,
                   " training examples, labels corrupted at ratio ", spec.noise_ratio, " (",
                   ToString(spec.corruption), " corruption, seed ", spec.seed, ": ",
                   absl::StrFormat("%.1f", 100 * data.corrupted_fraction), "% wrong), ",
                   spec.num_val, " clean validation, ", spec.num_test, " test");
  return data;
}

std::string ToString(CleaningReference reference) {
  switch (reference) {
    case CleaningReference::kValidationOnly:
      return "validation only";
    case CleaningReference::kTrainingPlusValidation:
      return "training+validation";
    case CleaningReference::kOracle:
      return "oracle";
  }
  return "unknown";
}

namespace {

// `data` with the training set replaced by its rows `keep` (int64 indices) followed by the
// validation set, marked clean: what every reference and the kept-examples retrain train on.
CleaningData RowsPlusValidation(const CleaningData& data, const at::Tensor& keep) {
  const at::Tensor val_y = data.val_y.to(at::kLong);
  CleaningData out = data;
  out.train_x = at::cat({data.train_x.index_select(0, keep), data.val_x}, 0);
  out.train_y = at::cat({data.train_y.index_select(0, keep), val_y}, 0);
  out.clean_train_y = at::cat({data.clean_train_y.index_select(0, keep), val_y}, 0);
  out.corrupted = at::cat({data.corrupted.index_select(0, keep),
                           at::zeros({data.val_y.size(0)}, data.corrupted.options())},
                          0);
  out.corrupted_fraction = out.corrupted.to(at::kDouble).mean().item<double>();
  return out;
}

}  // namespace

CleaningData KeptData(const CleaningData& data, const HyperCleaningSpec& spec,
                      const at::Tensor& x) {
  const at::Tensor kept_mask =
      ExampleWeights(spec.weighting, x.detach().to(at::kCPU)) >= spec.keep_threshold;
  const at::Tensor keep = at::nonzero(kept_mask).flatten().to(data.train_x.device());
  CleaningData out = RowsPlusValidation(data, keep);
  out.description = absl::StrCat(data.description, "; the ", keep.size(0),
                                 " training examples with weight >= ", spec.keep_threshold,
                                 " plus the validation set");
  return out;
}

CleaningData ReferenceData(const CleaningData& data, CleaningReference reference) {
  const at::TensorOptions indices = at::TensorOptions(at::kLong).device(data.train_x.device());
  at::Tensor keep;
  switch (reference) {
    case CleaningReference::kValidationOnly:
      keep = at::empty({0}, indices);
      break;
    case CleaningReference::kTrainingPlusValidation:
      keep = at::arange(data.train_y.size(0), indices);
      break;
    case CleaningReference::kOracle:
      keep = at::nonzero(~data.corrupted).flatten();
      break;
  }
  CleaningData out = RowsPlusValidation(data, keep);
  out.description = absl::StrCat(data.description, "; reference '", ToString(reference),
                                 "': ", out.train_y.size(0), " training examples");
  return out;
}

HyperCleaningTask::HyperCleaningTask(CleaningData data, const HyperCleaningSpec& spec,
                                     c10::Device device)
    : data_(std::move(data)),
      spec_(spec),
      device_(device),
      generator_(device.is_cpu() ? at::make_generator<at::CPUGeneratorImpl>(spec.seed + 1)
                                 : at::globalContext().defaultGenerator(device)) {
  if (!device.is_cpu()) generator_.set_current_seed(spec.seed + 1);
  for (at::Tensor* t : {&data_.train_x, &data_.train_y, &data_.corrupted, &data_.val_x,
                        &data_.val_y, &data_.test_x, &data_.test_y}) {
    *t = t->to(device);
  }
  at::Generator init = at::make_generator<at::CPUGeneratorImpl>(spec.seed + 2);
  const int64_t in = data_.train_x.size(1), hidden = spec.hidden, out = data_.classes;
  auto uniform = [&](std::vector<int64_t> shape, int64_t fan_in) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
    return (at::rand(shape, init) * 2 * bound - bound).to(device);
  };
  if (spec.cnn.has_value()) {
    const CleaningCnn& c = *spec.cnn;
    const int64_t channels = data_.image_shape.at(0);
    // Two 5×5 valid convolutions, each followed by a 2×2 max-pool.
    const int64_t height = ((data_.image_shape.at(1) - 4) / 2 - 4) / 2;
    const int64_t width = ((data_.image_shape.at(2) - 4) / 2 - 4) / 2;
    const int64_t flat = c.conv2 * height * width;
    initial_ = {uniform({c.conv1, channels, 5, 5}, channels * 25),
                uniform({c.conv1}, channels * 25),
                uniform({c.conv2, c.conv1, 5, 5}, c.conv1 * 25),
                uniform({c.conv2}, c.conv1 * 25),
                uniform({c.fc1, flat}, flat),
                uniform({c.fc1}, flat),
                uniform({c.fc2, c.fc1}, c.fc1),
                uniform({c.fc2}, c.fc1),
                uniform({out, c.fc2}, c.fc2),
                uniform({out}, c.fc2)};
  } else if (hidden == 0) {  // the linear model: W = 0 (and b = 0), as benchopt's
    initial_ = {at::zeros({out, in}, at::TensorOptions().device(device))};
    if (spec.linear_bias) initial_.push_back(at::zeros({out}, at::TensorOptions().device(device)));
  } else {
    initial_ = {uniform({hidden, in}, in), uniform({hidden}, in), uniform({out, hidden}, hidden),
                uniform({out}, hidden)};
  }
}

std::string HyperCleaningTask::Name() const {
  return absl::StrCat(
      spec_.weighting == ExampleWeighting::kSigmoidMean ? "hyper-cleaning" : "denoising",
      "(noise=", spec_.noise_ratio, ")");
}

bilevel::TensorList HyperCleaningTask::InitialOuter() {
  return {at::zeros({data_.train_y.size(0)}, at::TensorOptions().device(device_))};
}

bilevel::TensorList HyperCleaningTask::InitialInner() { return initial_; }

at::Tensor HyperCleaningTask::Logits(const at::Tensor& input, const bilevel::TensorList& y,
                                     const bilevel::Batch* dropout) {
  if (!spec_.cnn.has_value() && spec_.hidden == 0) {  // linear: no hidden layer, no dropout
    return spec_.linear_bias ? at::linear(input, y[0], y[1]) : at::linear(input, y[0]);
  }
  at::Tensor h;
  if (spec_.cnn.has_value()) {
    std::vector<int64_t> shape = {input.size(0)};
    shape.insert(shape.end(), data_.image_shape.begin(), data_.image_shape.end());
    h = at::max_pool2d(at::relu(at::conv2d(input.reshape(shape), y[0], y[1])), {2, 2});
    h = at::max_pool2d(at::relu(at::conv2d(h, y[2], y[3])), {2, 2});
    h = at::relu(at::linear(h.flatten(1), y[4], y[5]));
    h = at::relu(at::linear(h, y[6], y[7]));
  } else {
    h = at::relu(at::linear(input, y[0], y[1]));
  }
  if (dropout != nullptr && spec_.dropout > 0) {
    const double keep = 1.0 - spec_.dropout;
    at::Tensor mask;
    if (dropout->noise_key != 0) {
      // The batch's own masks: a function of (task seed, batch key) alone, drawn on the CPU so
      // that they are the same on every device, and for the global batch's rows on a shard.
      at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(
          bilevel::MixKey(spec_.seed + 1, dropout->noise_key));
      std::vector<int64_t> shape = h.sizes().vec();
      shape[0] = dropout->NoiseRows(shape[0]);
      mask =
          dropout->ShardRows(at::empty(shape, h.options().device(at::kCPU)).bernoulli_(keep, gen))
              .to(h.device());
    } else {
      mask = at::empty_like(h).bernoulli_(keep, generator_);
    }
    h = h * mask / keep;
  }
  return spec_.cnn.has_value() ? at::linear(h, y[8], y[9]) : at::linear(h, y[2], y[3]);
}

at::Tensor HyperCleaningTask::OuterObjective(const bilevel::TensorList& x,
                                             const bilevel::TensorList& y,
                                             const bilevel::Batch& batch) {
  return at::cross_entropy_loss(Logits(batch.Rows(data_.val_x), y, nullptr),
                                batch.Rows(data_.val_y));
}

std::string HyperCleaningTask::WhyNotDataParallel() const {
  return spec_.weighting == ExampleWeighting::kSigmoidMean
             ? ""
             : "its g divides the batch's weighted losses by the batch's sum of weights "
               "(tanh_normalized weighting), which is not a mean over the batch's examples";
}

at::Tensor HyperCleaningTask::InnerObjective(const bilevel::TensorList& x,
                                             const bilevel::TensorList& y,
                                             const bilevel::Batch& batch) {
  const at::Tensor losses =
      at::cross_entropy_loss(Logits(batch.Rows(data_.train_x), y, &batch),
                             batch.Rows(data_.train_y), {}, at::Reduction::None);
  const at::Tensor weights = ExampleWeights(spec_.weighting, batch.Rows(x[0]));
  const at::Tensor data_term = spec_.weighting == ExampleWeighting::kSigmoidMean
                                   ? (weights * losses).mean()
                                   : (weights * losses).sum() / weights.sum().clamp_min(1e-12);
  if (spec_.weight_decay == 0) return data_term;
  // The weights are y's even entries in every model (the biases odd), and the linear model
  // without a bias has one.
  at::Tensor ridge = y[0].pow(2).sum();
  const size_t ridged = spec_.hidden == 0 && !spec_.cnn.has_value() ? 1 : y.size();
  for (size_t i = 2; i < ridged; i += 2) ridge = ridge + y[i].pow(2).sum();
  return data_term + 0.5 * spec_.weight_decay * ridge;
}

TaskMetrics HyperCleaningTask::Evaluate(const bilevel::TensorList& x,
                                        const bilevel::TensorList& y) {
  c10::NoGradGuard no_grad;
  TaskMetrics m;
  m.validation_loss = OuterObjective(x, y, bilevel::Batch{}).item<double>();
  const at::Tensor logits = Logits(data_.test_x, y, nullptr);
  m.test_loss = at::cross_entropy_loss(logits, data_.test_y).item<double>();
  m.test_accuracy = logits.argmax(1).eq(data_.test_y).to(at::kDouble).mean().item<double>();
  const at::Tensor flagged = ExampleWeights(spec_.weighting, x[0]) < spec_.keep_threshold;
  const double hits = (flagged & data_.corrupted).sum().item<double>();
  const double n_flagged = flagged.sum().item<double>();
  const double n_corrupted = data_.corrupted.sum().item<double>();
  m.cleaning_precision = n_flagged > 0 ? hits / n_flagged : 0.0;
  m.cleaning_recall = n_corrupted > 0 ? hits / n_corrupted : 0.0;
  return m;
}

}  // namespace tasks
