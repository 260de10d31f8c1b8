// The penalty method's third application (Mehra & Hamm,
// ../shared/papers/penalty-method-abstract.txt): few-shot learning on Omniglot's layout
// (tasks/few_shot.h). The outer variable is a shared feature extractor (blocks of conv3x3, batch
// norm, ReLU, max-pool), the inner one a cosine head per meta-training episode; f and g are the
// query and support cross-entropies of a meta-batch of episodes. Every point is scored outside the
// solvers by the test protocol (Yardstick::kProtocol): the extractor frozen, a fresh head
// per test episode fitted by Adam on its support set, mean accuracy over the test episodes of the
// evaluation alphabets with its 95 % confidence half-width (test_accuracy_ci95); tuning reads the
// protocol's query cross-entropy on background characters held out of meta-training (never the test
// alphabets).
//
//   5way_1shot/, 20way_5shot/   each tuned on its own
//
// Methods Penalty, CG (damped, for ApproxGrad), Reverse and MinimaxOPT at one budget, every one
// stepping the extractor with Adam. References: the protocol on the randomly initialised extractor
// ("random extractor") and on one pretrained by plain classification over every meta-training
// class ("pretrained").
//
// Data: --omniglot_dir (default <data_dir>/omniglot-standin, the stand-in tools/setup.sh draws
// from Debian's Noto fonts because Omniglot cannot be fetched here; every manifest says which).
//
//   bazel run //experiments:few_shot -- --preset=ci
#include "tasks/few_shot.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/strings/str_cat.h"
#include "experiments/common.h"
#include "experiments/figure_flags.h"
#include "tasks/data/omniglot.h"

ABSL_FLAG(std::string, omniglot_dir, "",
          "folder holding Omniglot's images_background and images_evaluation (default: "
          "<data_dir>/omniglot-standin, the font-drawn stand-in of tools/setup.sh)");

namespace experiments {
namespace {

struct Setting {
  std::string name;
  int64_t ways = 5, shots = 1;
};

absl::Status FewShot(const Settings& s) {
  const bool ci = s.preset == Preset::kCi, paper = s.preset == Preset::kPaper;
  std::string dir = absl::GetFlag(FLAGS_omniglot_dir);
  if (dir.empty()) dir = absl::StrCat(s.data_dir, "/omniglot-standin");
  tasks::OmniglotOptions background_options, evaluation_options;
  if (ci) {  // a smoke test: 4 + 3 alphabets of at most 8 characters
    background_options.max_alphabets = 4;
    evaluation_options.max_alphabets = 3;
    background_options.max_characters_per_alphabet =
        evaluation_options.max_characters_per_alphabet = 8;
  }
  absl::StatusOr<tasks::OmniglotSplit> background =
      tasks::LoadOmniglotSplit(dir, "images_background", background_options);
  if (!background.ok()) return background.status();
  absl::StatusOr<tasks::OmniglotSplit> evaluation =
      tasks::LoadOmniglotSplit(dir, "images_evaluation", evaluation_options);
  if (!evaluation.ok()) return evaluation.status();
  const std::string data = absl::StrCat(
      tasks::OmniglotDescription(dir), ": ", background->num_alphabets, " background alphabets (",
      background->num_characters, " characters), ", evaluation->num_alphabets,
      " evaluation alphabets (", evaluation->num_characters,
      " characters), 28x28, each character also rotated by 90/180/270 degrees as 3 more classes");

  // The default preset is sized to fit the default-preset paper on 2 cores (a few minutes for both
  // settings and 3 seeds): 16 channels, a pool of 100 episodes, 600 gradient-call equivalents,
  // the protocol at the start and the end only, on 200 validation episodes. The test protocol
  // keeps the 600 episodes at every preset but ci.
  tasks::FewShotSpec base;
  base.channels = ci ? 8 : (paper ? 64 : 16);
  base.queries = ci ? 5 : 15;
  base.num_episodes = ci ? 16 : (paper ? 2000 : 100);
  base.eval_episodes = ci ? 40 : 600;
  base.validation_episodes = ci ? 40 : (paper ? 600 : 200);
  base.pretrain_steps = ci ? 100 : (paper ? 5000 : 500);
  const int64_t meta_batch = ci ? 2 : 4;
  // Gradient-call equivalents per method (a Hessian- or Jacobian-vector product counts as two);
  // a call is one evaluation of f or g on a meta-batch of episodes.
  const int64_t budget = ci ? 240 : (paper ? 30000 : 600);

  for (const Setting& setting : {Setting{"5way_1shot", 5, 1}, Setting{"20way_5shot", 20, 5}}) {
    Experiment e = NewExperiment(s);
    e.figure = absl::StrCat(s.figure, "_", setting.name);  // each setting tuned on its own
    e.output_dir = absl::StrCat(s.output_dir, "/", setting.name);
    tasks::FewShotSpec spec = base;
    spec.ways = setting.ways;
    spec.shots = setting.shots;
    e.notes = absl::StrCat(
        data, ". ", setting.ways, "-way ", setting.shots, "-shot, ", spec.queries,
        " queries per class; extractor ", spec.blocks, " x [conv3x3-", spec.channels,
        ", batch norm (each episode's own statistics), ReLU, max-pool 2]; one cosine head "
        "(scale ",
        spec.scale, ") per episode of a pool of ", spec.num_episodes,
        " meta-training episodes, meta-batches of ", meta_batch,
        " episodes. Test protocol: extractor frozen, a fresh head (N(0, 0.01^2)) per episode "
        "fitted "
        "by Adam (",
        spec.head_lr, ", ", spec.head_steps, " steps) on its support set; ", spec.eval_episodes,
        " test episodes of the evaluation alphabets (the same for every seed), and ",
        spec.validation_episodes, " validation episodes of the ", spec.validation_fraction * 100,
        "% of background characters held out of meta-training, whose query cross-entropy is the "
        "tuning score. Differences from the authors' code: the heads persist with their episode "
        "instead of being reset every episode (the single-loop methods carry y from step to "
        "step), the pool of episodes is fixed, the extractor has ",
        spec.channels, " channels", ci || !paper ? " (64 at the paper preset)" : "",
        ", the budget is ours, and CG (damped) stands in for ApproxGrad.");
    e.yardstick = Yardstick::kProtocol;
    e.eval_every_gradient_calls = ci ? 120 : (paper ? budget / 5 : budget);
    e.budget = BudgetInWords(budget, absl::StrCat("meta-batches of ", meta_batch, " episodes"));
    e.manifest_fields.push_back({"ways", absl::StrCat(setting.ways)});
    e.manifest_fields.push_back({"shots", absl::StrCat(setting.shots)});
    e.manifest_fields.push_back({"stand_in", tasks::IsOmniglotStandIn(dir) ? "true" : "false"});

    auto tasks_with = [&, spec](int64_t pretrain_steps) -> TaskFactory {
      return
          [&, spec, pretrain_steps](uint64_t seed) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
            tasks::FewShotSpec seeded = spec;
            seeded.seed = seed;
            seeded.pretrain_steps = pretrain_steps;
            absl::StatusOr<std::unique_ptr<tasks::FewShotTask>> task =
                tasks::FewShotTask::Create(*background, *evaluation, data, seeded, s.device);
            if (!task.ok()) return task.status();
            return std::unique_ptr<tasks::Task>(std::move(*task));
          };
    };
    e.references = {
        {"random extractor", "the test protocol on the Kaiming-initialised extractor",
         tasks_with(0)},
        {"pretrained",
         absl::StrCat("the test protocol on an extractor trained by plain classification over "
                      "every meta-training class (",
                      spec.pretrain_steps, " Adam steps, rate ", spec.pretrain_lr, ", batches of ",
                      spec.pretrain_batch, ")"),
         tasks_with(spec.pretrain_steps)}};

    PenaltyApplication a;
    a.budget = budget;
    a.batch = meta_batch;
    // Two rates per method, tuned on a grid around these hand-set values: the extractor's Adam
    // rate (0.01: the ci tuning, around the usual 1e-3, chose its top, 9e-3, for every method)
    // and the heads' (SGD 0.1: the cosine head's gradient is O(scale) at unit-norm rows; the
    // penalty method's Adam 0.01). The penalty method keeps its own defaults otherwise.
    a.penalty_rates = {{"x_optimizer.learning_rate", 1e-2}, {"y_optimizer.learning_rate", 1e-2}};
    a.baseline_rates = {{"outer_optimizer.learning_rate", 1e-2},
                        {"inner_optimizer.learning_rate", 0.1}};
    a.minimax_rates = {{"x_optimizer.learning_rate", 1e-2}, {"y,z learning_rate", 0.1}};
    a.cg_damping = 1e-3;  // the authors' σ; the cosine head's Hessian is singular
    a.outer_type = bilevel::OptimizerType::kAdam;
    const std::vector<TunableMethod> tunable = PenaltyApplicationMethods(a);
    absl::Status status = RunTuned(s, e, tunable, tasks_with(0));
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace
}  // namespace experiments

EXPERIMENTS_FIGURE_FLAGS();

int main(int argc, char** argv) {
  // A real Omniglot's runs get a folder of their own: they never meet the stand-in's.
  return experiments::Main("few_shot", argc, argv, ReadFigureFlags, experiments::FewShot, [] {
    return absl::GetFlag(FLAGS_omniglot_dir).empty() ? "" : "omniglot";
  });
}
