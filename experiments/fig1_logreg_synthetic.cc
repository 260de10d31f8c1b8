// Figure 1: per-feature weight decay for logistic regression on synthetic data, deterministic
// (full-batch) gradients for every method. MinimaxOPT against truncated reverse mode, AID with
// fixed point and AID with conjugate gradient (the paper: 100 inner steps, inner and outer
// learning rate 1).
//
//   bazel run //experiments:fig1_logreg_synthetic -- --preset=ci
#include <memory>

#include "experiments/common.h"
#include "experiments/figure_flags.h"
#include "tasks/weight_decay_logistic.h"

namespace experiments {
namespace {

absl::Status Fig1(const Settings& s) {
  const bool ci = s.preset == Preset::kCi;
  tasks::SyntheticLogisticSpec data;
  data.num_features = ci ? 20 : 100;
  data.num_examples = ci ? 200 : 1000;
  data.num_test = ci ? 200 : 1000;
  const int inner = ci ? 20 : 100;  // the paper's 100 inner steps

  Experiment e = NewExperiment(s);
  e.eval_every_gradient_calls = ci ? 50 : 200;
  e.notes =
      "Synthetic data generated from the seed (the paper's generator and sizes were lost); "
      "full-batch gradients; one gradient call = one pass over the training or "
      "validation data.";

  LogisticComparison c;
  c.learning_rate = 1.0;  // one learning rate for all, as in the paper
  c.budget = ci ? 600 : (s.preset == Preset::kPaper ? 10000 : 6000);
  c.inner_steps = inner;
  c.num_stages = ci ? 4 : 8;
  LogisticTaskSpec task;
  task.name = "logreg-synthetic";
  return RunLogisticFigure(s, e, c, task, [data](uint64_t seed) {
    tasks::SyntheticLogisticSpec spec = data;
    spec.seed = seed;
    return absl::StatusOr<tasks::LogisticData>(tasks::MakeSyntheticLogisticData(spec));
  });
}

}  // namespace
}  // namespace experiments

EXPERIMENTS_FIGURE_FLAGS();

int main(int argc, char** argv) {
  return experiments::Main("fig1_logreg_synthetic", argc, argv, ReadFigureFlags, experiments::Fig1);
}
