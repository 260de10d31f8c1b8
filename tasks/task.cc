#include "tasks/task.h"

#include <ATen/ATen.h>

#include "absl/strings/str_cat.h"

namespace tasks {

std::vector<std::pair<std::string, double>> TaskMetrics::Named() const {
  std::vector<std::pair<std::string, double>> out = {{"validation_loss", validation_loss},
                                                     {"test_loss", test_loss},
                                                     {"test_accuracy", test_accuracy}};
  if (cleaning_precision) out.emplace_back("cleaning_precision", *cleaning_precision);
  if (cleaning_recall) out.emplace_back("cleaning_recall", *cleaning_recall);
  if (target_success) out.emplace_back("target_success", *target_success);
  if (test_accuracy_ci95) out.emplace_back("test_accuracy_ci95", *test_accuracy_ci95);
  return out;
}

absl::Status CheckTwoOrMoreClasses(const std::string& prefix, const at::Tensor& training_labels,
                                   const at::Tensor& validation_labels) {
  for (const auto& [split, labels] : {std::pair<const char*, const at::Tensor&>{
                                          "training", training_labels},
                                      {"validation", validation_labels}}) {
    const std::string what = absl::StrCat(prefix, split, " labels");
    const int64_t n = labels.numel();
    if (n == 0) return absl::FailedPreconditionError(absl::StrCat(what, ": no examples"));
    const at::Tensor flat = labels.reshape({-1});
    if (flat.eq(flat[0]).all().item<bool>()) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, ": all ", n, " examples have label ", flat[0].item<int64_t>(),
          "; a classifier of one class learns nothing: check the data files or enlarge the "
          "split"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tasks
