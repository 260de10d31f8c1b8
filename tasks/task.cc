#include "tasks/task.h"

namespace tasks {

std::vector<std::pair<std::string, double>> TaskMetrics::Named() const {
  std::vector<std::pair<std::string, double>> out = {{"validation_loss", validation_loss},
                                                     {"test_loss", test_loss},
                                                     {"test_accuracy", test_accuracy}};
  if (cleaning_precision) out.emplace_back("cleaning_precision", *cleaning_precision);
  if (cleaning_recall) out.emplace_back("cleaning_recall", *cleaning_recall);
  return out;
}

}  // namespace tasks
