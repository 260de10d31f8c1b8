#include "theory/instances_for_checks.h"

namespace theory {

std::vector<std::unique_ptr<Instance>> CheckedInstances() {
  std::vector<std::unique_ptr<Instance>> out;
  out.push_back(std::make_unique<QuadraticInstance>(4, 6, 1.0, 1));
  out.push_back(std::make_unique<QuadraticInstance>(4, 6, 10.0, 2));
  out.push_back(std::make_unique<QuadraticInstance>(5, 8, 100.0, 3));
  out.push_back(
      std::make_unique<LogisticInstance>(3, 6, 60, 60, LogisticInstance::Outer::kQuadratic, 4));
  out.push_back(
      std::make_unique<LogisticInstance>(3, 6, 60, 60, LogisticInstance::Outer::kLogistic, 5));
  return out;
}

}  // namespace theory
