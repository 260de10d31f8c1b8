// Tasks 1 and 2 of the paper (Figures 1 and 2): multinomial logistic regression with one weight
// decay per feature, learned on a validation set.
//
//   inner  g(x, W, b) = CE(train; W, b) + ½ Σ_j exp(x_j) ‖W_j‖²      (W_j: row j, feature j)
//   outer  f(W, b)    = CE(validation; W, b)
//
// x ∈ R^d is the log weight decay (exp keeps it positive). Features may be dense or sparse COO
// (tf-idf): the products use sparse matrix multiplication. Full batches by default, as in the
// paper; a solver's batch sizes index examples when set.
//
//   tasks::WeightDecayLogisticTask task(
//       "logreg-synthetic", tasks::MakeSyntheticLogisticData(tasks::SyntheticLogisticSpec{}),
//       c10::Device(c10::kCPU));
#ifndef TASKS_WEIGHT_DECAY_LOGISTIC_H_
#define TASKS_WEIGHT_DECAY_LOGISTIC_H_

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cmath>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tasks/data/text_data.h"
#include "tasks/task.h"

namespace tasks {

struct LogisticData {
  at::Tensor train_x, val_x, test_x;  // float [n, d], dense or sparse COO
  at::Tensor train_y, val_y, test_y;  // int64 [n] in [0, classes)
  int64_t classes = 2;
  std::string description;
  // Text data: the corpus indices of the test documents (the split, for provenance and tests).
  at::Tensor test_documents;
};

class WeightDecayLogisticTask : public Task {
 public:
  // Moves the data to `device`. Initial x = `initial_log_decay` everywhere, W = 0, b = 0.
  // X = {x ≤ max_log_decay} (a cap on every decay keeps g's smoothness, and so the stable inner
  // step size, bounded); +inf = no constraint.
  WeightDecayLogisticTask(std::string name, LogisticData data, c10::Device device,
                          double initial_log_decay = 0.0, double max_log_decay = HUGE_VAL);

  std::string Name() const override { return name_; }
  std::string DataDescription() const override { return data_.description; }
  bilevel::TensorList InitialOuter() override;
  bilevel::TensorList InitialInner() override;
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override;
  int64_t NumOuterExamples() const override { return data_.val_y.size(0); }
  int64_t NumInnerExamples() const override { return data_.train_y.size(0); }
  TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override;
  void ProjectOuter(bilevel::TensorList* x) const override;

 private:
  at::Tensor Logits(const at::Tensor& features, const bilevel::TensorList& y) const;
  std::string name_;
  LogisticData data_;
  c10::Device device_;
  double initial_log_decay_;
  double max_log_decay_;
};

// The same data with the validation examples appended to the training set (a reference line:
// what plain training on all labelled data gets); validation and test sets unchanged.
LogisticData WithValidationInTraining(const LogisticData& data);

// Figure 1's data, generated from a seed: features N(0, 1), a random true weight vector, labels
// from the logistic model with `label_noise` of them flipped; the training set is split half for
// training and half for validation, and a test set is drawn separately.
struct SyntheticLogisticSpec {
  int64_t num_features = 100;
  int64_t num_examples = 1000;  // split half train / half validation
  int64_t num_test = 1000;
  double label_noise = 0.1;
  uint64_t seed = 1;
};
LogisticData MakeSyntheticLogisticData(const SyntheticLogisticSpec& spec);

// Figure 2's data from a text corpus: tf-idf features (vocabulary and idf fitted on the training
// and validation documents, never on the test ones), the
// documents shuffled by `seed`, split into train / validation (equal halves of the training part)
// and test (`test_fraction`). `description` says what the corpus is and what it stands in for.
absl::StatusOr<LogisticData> MakeTextLogisticData(const TextCorpus& corpus,
                                                  const TfidfOptions& tfidf, double test_fraction,
                                                  uint64_t seed, const std::string& description);

}  // namespace tasks

#endif  // TASKS_WEIGHT_DECAY_LOGISTIC_H_
