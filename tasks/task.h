// A task: one of the paper's bilevel problems on real data, with the metrics the experiments
// report. Every task is a bilevel::BilevelProblem, so any solver in //solvers runs on it.
//
//   std::unique_ptr<tasks::Task> task = ...;             // e.g. tasks::MakeHyperCleaningTask(...)
//   bilevel::SolverSummary summary;
//   bilevel::Solve(options, task.get(), &summary);
//   tasks::TaskMetrics m = task->Evaluate(summary.x, summary.y);
//   std::cout << m.validation_loss << " " << m.test_accuracy << "\n";
#ifndef TASKS_TASK_H_
#define TASKS_TASK_H_

#include <cmath>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"

namespace tasks {

struct TaskMetrics {
  double validation_loss = NAN;  // f(x, y) on the whole validation set
  double test_loss = NAN;
  double test_accuracy = NAN;  // in [0, 1]
  // Hyper-cleaning: of the training examples the weights push below ½ (flagged as corrupted),
  // the fraction truly corrupted (precision) and the fraction of corrupted ones flagged (recall).
  std::optional<double> cleaning_precision;
  std::optional<double> cleaning_recall;
  // Targeted poisoning s→t: of the test examples of class s, the fraction predicted t.
  std::optional<double> target_success;
  // Few-shot: the 95 % confidence half-width of test_accuracy over the test episodes.
  std::optional<double> test_accuracy_ci95;

  // (name, value) pairs in a fixed order, for CSV rows.
  std::vector<std::pair<std::string, double>> Named() const;
};

class Task : public bilevel::BilevelProblem {
 public:
  virtual std::string Name() const = 0;
  // What data the task runs on, and what stood in for data that could not be had here.
  virtual std::string DataDescription() const = 0;
  // Metrics at (x, y) on the full validation and test sets, without dropout.
  virtual TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) = 0;
};

// An error when the training or the validation labels hold fewer than two classes: a classifier
// fitted to one class learns nothing, and every accuracy it reports is that class's share. The
// message names the split as `prefix` + "training labels" / "validation labels" (e.g. "MNIST
// training labels") and gives the numbers (examples, the one class).
absl::Status CheckTwoOrMoreClasses(const std::string& prefix, const at::Tensor& training_labels,
                                   const at::Tensor& validation_labels);

}  // namespace tasks

#endif  // TASKS_TASK_H_
