#include "tasks/weight_decay_logistic.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tasks/data/data_files.h"

namespace tasks {
WeightDecayLogisticTask::WeightDecayLogisticTask(std::string name, LogisticData data,
                                                 c10::Device device, double initial_log_decay,
                                                 double max_log_decay)
    : name_(std::move(name)),
      data_(std::move(data)),
      device_(device),
      initial_log_decay_(initial_log_decay),
      max_log_decay_(max_log_decay) {
  for (at::Tensor* t :
       {&data_.train_x, &data_.val_x, &data_.test_x, &data_.train_y, &data_.val_y, &data_.test_y}) {
    *t = t->to(device);
  }
}

bilevel::TensorList WeightDecayLogisticTask::InitialOuter() {
  return {at::full({data_.train_x.size(1)}, initial_log_decay_,
                   at::TensorOptions().dtype(at::kFloat).device(device_))};
}

bilevel::TensorList WeightDecayLogisticTask::InitialInner() {
  const auto options = at::TensorOptions().dtype(at::kFloat).device(device_);
  return {at::zeros({data_.train_x.size(1), data_.classes}, options),
          at::zeros({data_.classes}, options)};
}

at::Tensor WeightDecayLogisticTask::Logits(const at::Tensor& features,
                                           const bilevel::TensorList& y) const {
  // at::mm handles a sparse COO left factor (tf-idf) and differentiates through the dense one.
  return at::mm(features, y[0]) + y[1];
}

at::Tensor WeightDecayLogisticTask::OuterObjective(const bilevel::TensorList& x,
                                                   const bilevel::TensorList& y,
                                                   const bilevel::Batch& batch) {
  return at::cross_entropy_loss(Logits(batch.Rows(data_.val_x), y), batch.Rows(data_.val_y));
}

at::Tensor WeightDecayLogisticTask::InnerObjective(const bilevel::TensorList& x,
                                                   const bilevel::TensorList& y,
                                                   const bilevel::Batch& batch) {
  const at::Tensor loss =
      at::cross_entropy_loss(Logits(batch.Rows(data_.train_x), y), batch.Rows(data_.train_y));
  return loss + 0.5 * (x[0].exp() * y[0].pow(2).sum(1)).sum();
}

void WeightDecayLogisticTask::ProjectOuter(bilevel::TensorList* x) const {
  if (std::isinf(max_log_decay_)) return;
  c10::NoGradGuard no_grad;
  (*x)[0].clamp_max_(max_log_decay_);
}

TaskMetrics WeightDecayLogisticTask::Evaluate(const bilevel::TensorList& x,
                                              const bilevel::TensorList& y) {
  c10::NoGradGuard no_grad;
  TaskMetrics m;
  m.validation_loss = OuterObjective(x, y, bilevel::Batch{}).item<double>();
  const at::Tensor logits = Logits(data_.test_x, y);
  m.test_loss = at::cross_entropy_loss(logits, data_.test_y).item<double>();
  m.test_accuracy = logits.argmax(1).eq(data_.test_y).to(at::kDouble).mean().item<double>();
  return m;
}

LogisticData WithValidationInTraining(const LogisticData& data) {
  LogisticData merged = data;
  merged.train_x = at::cat({data.train_x, data.val_x}, 0);
  if (merged.train_x.is_sparse()) merged.train_x = merged.train_x.coalesce();
  merged.train_y = at::cat({data.train_y, data.val_y}, 0);
  merged.description =
      absl::StrCat(data.description, "; trained on training and validation examples together");
  return merged;
}

LogisticData MakeSyntheticLogisticData(const SyntheticLogisticSpec& spec) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  const int64_t n = spec.num_examples + spec.num_test, d = spec.num_features;
  const at::Tensor features = at::randn({n, d}, gen);
  const at::Tensor w = at::randn({d}, gen) * (3.0 / std::sqrt(static_cast<double>(d)));
  at::Tensor labels = (features.mv(w) > 0).to(at::kLong);
  const at::Tensor flip = at::rand({n}, gen) < spec.label_noise;
  labels = at::where(flip, 1 - labels, labels);
  const int64_t half = spec.num_examples / 2;
  LogisticData data;
  data.train_x = features.slice(0, 0, half);
  data.val_x = features.slice(0, half, spec.num_examples);
  data.test_x = features.slice(0, spec.num_examples);
  data.train_y = labels.slice(0, 0, half);
  data.val_y = labels.slice(0, half, spec.num_examples);
  data.test_y = labels.slice(0, spec.num_examples);
  data.classes = 2;
  data.description = absl::StrCat(
      "synthetic logistic regression (seed ", spec.seed, "): ", d, " N(0,1) features, ",
      spec.num_examples, " examples split half train / half validation, ", spec.num_test,
      " test, labels from a random linear model with ", spec.label_noise * 100, "% flipped");
  return data;
}

absl::StatusOr<LogisticData> MakeTextLogisticData(const TextCorpus& corpus,
                                                  const TfidfOptions& tfidf, double test_fraction,
                                                  uint64_t seed, const std::string& description) {
  const int64_t n = static_cast<int64_t>(corpus.documents.size());
  if (n < 4 || !(test_fraction > 0 && test_fraction < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "need at least 4 documents and test_fraction in (0, 1); got ", n, " and ", test_fraction));
  }
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor order = at::randperm(n, gen, at::kLong);
  at::Tensor labels = at::empty({n}, at::kLong);
  std::copy(corpus.labels.begin(), corpus.labels.end(), labels.data_ptr<int64_t>());
  const int64_t n_test = std::max<int64_t>(1, static_cast<int64_t>(test_fraction * n));
  const int64_t n_train = (n - n_test) / 2;
  // Vocabulary and idf from the training and validation documents only (20newsgroups' training
  // split, which the paper divides into the two): the test documents never shape the features.
  std::vector<std::string> training_documents;
  const int64_t* index = order.data_ptr<int64_t>();
  for (int64_t i = 0; i < n - n_test; ++i) training_documents.push_back(corpus.documents[index[i]]);
  const TfidfMatrix fitted = FitTfidf(training_documents, tfidf);
  if (fitted.vocabulary.empty()) {  // every row would be zero: a model of nothing
    return absl::FailedPreconditionError(absl::StrCat(
        description, ": no term of 2 or more letters or digits occurs in ", tfidf.min_df,
        " or more of the ", training_documents.size(),
        " training documents, so there are no tf-idf features; is the corpus text (not binary)? "
        "Fetch it again with ",
        kFetchCommand, " or lower min_df"));
  }
  auto take = [&](int64_t begin, int64_t end, at::Tensor* x, at::Tensor* y) {
    std::vector<std::string> documents;
    for (int64_t i = begin; i < end; ++i) documents.push_back(corpus.documents[index[i]]);
    *x = TransformTfidf(fitted, documents).coalesce();
    *y = labels.index_select(0, order.slice(0, begin, end));
  };
  LogisticData data;
  take(0, n_train, &data.train_x, &data.train_y);
  take(n_train, n - n_test, &data.val_x, &data.val_y);
  take(n - n_test, n, &data.test_x, &data.test_y);
  absl::Status varied =
      CheckTwoOrMoreClasses(absl::StrCat(description, ": the "), data.train_y, data.val_y);
  if (!varied.ok()) return varied;
  data.test_documents = order.slice(0, n - n_test, n).clone();
  data.classes = static_cast<int64_t>(corpus.categories.size());
  data.description = absl::StrCat(description, "; ", n, " documents, ", data.classes, " classes, ",
                                  fitted.vocabulary.size(),
                                  " tf-idf features (min_df ", tfidf.min_df,
                                  ", fitted on the training and validation documents), ", n_train, " train / ", n - n_test - n_train,
                                  " validation / ", n_test, " test (seed ", seed, ")");
  return data;
}

}  // namespace tasks
