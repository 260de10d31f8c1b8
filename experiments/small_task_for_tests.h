// A weight-decay logistic task small enough for unit tests of the runner and the tuning
// procedure (10 features, 200 examples): a TaskFactory.
#ifndef EXPERIMENTS_SMALL_TASK_FOR_TESTS_H_
#define EXPERIMENTS_SMALL_TASK_FOR_TESTS_H_

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "tasks/weight_decay_logistic.h"

namespace experiments {

inline absl::StatusOr<std::unique_ptr<tasks::Task>> SmallTask(uint64_t seed) {
  tasks::SyntheticLogisticSpec spec;
  spec.num_features = 10;
  spec.num_examples = 200;
  spec.num_test = 100;
  spec.seed = seed;
  return std::unique_ptr<tasks::Task>(new tasks::WeightDecayLogisticTask(
      "small", tasks::MakeSyntheticLogisticData(spec), c10::Device(c10::kCPU)));
}

}  // namespace experiments

#endif  // EXPERIMENTS_SMALL_TASK_FOR_TESTS_H_
