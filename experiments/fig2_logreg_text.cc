// Figure 2 and the timing of Table 3: per-feature weight decay for multinomial logistic
// regression on tf-idf features of a real text corpus. 20newsgroups is not reachable here: Debian's
// fortunes corpus (36 categories with at least 50 records) stands in for it, and every output says
// so. The paper: 50 outer steps of 500 inner gradient steps, learning rate 100, for reverse mode,
// fixed point and CG; on this corpus 100 diverged, so every method's hand-set rate (the centre of
// its tuning grid) is 10.
//
//   bazel run //experiments:fig2_logreg_text -- --preset=ci
#include <memory>

#include "experiments/common.h"
#include "experiments/figure_flags.h"
#include "tasks/data/text_data.h"
#include "tasks/weight_decay_logistic.h"

namespace experiments {
namespace {

absl::Status Fig2(const Settings& s) {
  const bool ci = s.preset == Preset::kCi, paper = s.preset == Preset::kPaper;
  absl::StatusOr<tasks::TextCorpus> corpus = tasks::LoadFortunes(s.data_dir);
  if (!corpus.ok()) return corpus.status();
  if (ci) {  // a tenth of the documents keeps the ci preset under a minute
    tasks::TextCorpus small;
    small.categories = corpus->categories;
    for (size_t i = 0; i < corpus->documents.size(); i += 10) {
      small.documents.push_back(corpus->documents[i]);
      small.labels.push_back(corpus->labels[i]);
    }
    corpus = small;
  }
  const int inner = ci ? 20 : (paper ? 500 : 100);

  Experiment e = NewExperiment(s);
  absl::Status checksums = AddDataChecksums(s.data_dir, "fortunes", &e);
  if (!checksums.ok()) return checksums;
  e.eval_every_gradient_calls = ci ? 40 : 400;
  e.notes =
      "20newsgroups is not available on this machine: the Debian fortunes corpus stands in "
      "for it (short texts in topic categories); tf-idf fitted on the training and validation "
      "documents; full-batch gradients; every method's hand-set learning rate (the centre of its "
      "tuning grid) is 10, not the paper's 100, which diverged on this corpus; decays are capped "
      "at exp(-2) (x <= -2), without which "
      "MinimaxOPT's decays grew until step 10 diverged.";

  LogisticComparison c;
  c.learning_rate = 10.0;
  c.budget = ci ? 300 : (paper ? 25000 : 3600);
  c.inner_steps = inner;
  c.num_stages = ci ? 3 : 6;
  // 556k weights at the default preset: each L-BFGS iteration of the yardstick costs ~20 ms, so
  // it stops at 1e-4 or 100 iterations (misses are counted in the manifest), and points are 400
  // calls apart.
  c.exact_tolerance = ci ? 1e-5 : 1e-4;
  c.exact_max_iterations = ci ? 300 : 100;
  LogisticTaskSpec task;
  task.name = "logreg-text";
  task.initial_log_decay = -6.0;
  task.max_log_decay = -2.0;
  const tasks::TextCorpus& documents = *corpus;
  return RunLogisticFigure(s, e, c, task, [&documents](uint64_t seed) {
    return tasks::MakeTextLogisticData(documents, tasks::TfidfOptions{}, 0.2, seed,
                                       "Debian fortunes corpus standing in for 20newsgroups");
  });
}

}  // namespace
}  // namespace experiments

EXPERIMENTS_FIGURE_FLAGS();

int main(int argc, char** argv) {
  return experiments::Main("fig2_logreg_text", argc, argv, ReadFigureFlags, experiments::Fig2);
}
