// Figure 4 (data hyper-cleaning on MNIST at three noise ratios) and its linear variant, benchopt's
// bilevel benchmark setting: the shared body of //experiments:fig4_hyper_cleaning and
// //experiments:fig4_linear. Every method runs on minibatches at one budget of gradient-call
// equivalents: MinimaxOPT (plain SGD, and with momentum and a cosine schedule for Table 4),
// stocBiO, reverse mode and CG (the paper ran these two full batch; here they step on the same
// minibatches as everyone, for equal terms), F2SA and the penalty method. The MLP (figure 4) is
// scored at each method's g-only inner iterate (MinimaxOPT's z; its y is a labelled second
// series) and retrained at the end of every run; the linear model at the re-solved y*(x_k). The
// references (validation only, uniform weights, training + validation, oracle) are scored the
// same way. Each noise ratio writes its own folder noise_<ratio>/.
#ifndef EXPERIMENTS_CLEANING_FIGURE_H_
#define EXPERIMENTS_CLEANING_FIGURE_H_

#include <c10/core/Device.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "experiments/common.h"
#include "tasks/hyper_cleaning.h"

namespace experiments {

// The seed's task spec and data of a cleaning experiment.
using CleaningDataFor = std::function<
    std::pair<tasks::HyperCleaningSpec, absl::StatusOr<tasks::CleaningData>>(uint64_t seed)>;
// The tasks of a cleaning experiment on `device`: the data of `data_for`, or with a reference
// its training set (tasks::ReferenceData).
TaskFactory CleaningTasks(CleaningDataFor data_for,
                          std::optional<tasks::CleaningReference> reference, c10::Device device);

// `linear`: benchopt's linear model (multinomial logistic regression, inner ridge 0.2) instead of
// the paper's MLP with dropout.
absl::Status RunCleaningFigure(const Settings& s, bool linear);

}  // namespace experiments

#endif  // EXPERIMENTS_CLEANING_FIGURE_H_
