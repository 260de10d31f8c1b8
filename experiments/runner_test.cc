#include "experiments/runner.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiments/common.h"
#include "experiments/small_task_for_tests.h"
#include "solvers/core/checkpoint.h"
#include "tasks/hyper_cleaning.h"
#include "tasks/testing/tiny_images.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// curves.csv without the wall-time column (the only one that may differ between two runs).
std::vector<std::string> CurvesWithoutTime(const fs::path& dir) {
  std::vector<std::string> lines = absl::StrSplit(ReadAll(dir / "curves.csv"), '\n');
  const std::vector<std::string> header = absl::StrSplit(lines.at(0), ',');
  const size_t wall = std::find(header.begin(), header.end(), "wall_time_seconds") - header.begin();
  EXPECT_LT(wall, header.size());
  std::vector<std::string> out;
  for (const std::string& line : lines) {
    std::vector<std::string> cells = absl::StrSplit(line, ',');
    if (cells.size() > wall) cells.erase(cells.begin() + wall);
    out.push_back(absl::StrJoin(cells, ","));
  }
  return out;
}

// `method` as a killed process would leave it: at `seed`, the run stops after iteration `last`
// (its checkpoints written) and the experiment fails; other seeds run normally.
Method InterruptedAt(const Method& method, uint64_t seed, int64_t last) {
  Method m = method;
  m.run = [method, seed, last](
              tasks::Task* task, uint64_t s, const bilevel::IterateCallback& observer,
              const bilevel::CheckpointOptions& checkpoint, bilevel::GradientReducer* data_parallel,
              bilevel::SolverSummary* summary) -> absl::Status {
    if (s != seed) return method.run(task, s, observer, checkpoint, data_parallel, summary);
    bilevel::IterateCallback stopping = [&observer, last](const bilevel::IterationRecord& r,
                                                          const bilevel::IterateView& it) {
      observer(r, it);
      return r.iteration == last ? bilevel::CallbackResult::kStop
                                 : bilevel::CallbackResult::kContinue;
    };
    method.run(task, s, stopping, checkpoint, data_parallel, summary).IgnoreError();
    return absl::AbortedError("simulated interruption");
  };
  return m;
}

Experiment SmallExperiment(const fs::path& dir) {
  Experiment e;
  e.figure = "runner_test";
  e.preset = "ci";
  e.output_dir = dir.string();
  e.seeds = {1, 2};
  e.eval_every_gradient_calls = 10;
  bilevel::MinimaxOptOptions o;
  o.num_stages = 2;
  o.iterations_per_stage = 30;
  o.outer_batch_size = o.inner_batch_size = 20;  // the minibatch order is part of the state
  o.y_optimizer.type = o.z_optimizer.type = bilevel::OptimizerType::kMomentum;
  e.methods = {MinimaxMethod("MinimaxOPT", o)};
  // Every point at the re-solved y*(x): the resumed curve must match to the last digit too.
  e.yardstick = Yardstick::kExactInner;
  e.references = {{"no tuning", "x0", SmallTask}};
  e.exact_inner.gradient_tolerance = 1e-5;
  e.exact_inner.max_iterations = 300;
  return e;
}

// SmallExperiment in an empty folder, seed 1 only, without checkpoints.
Experiment OneSeedFromScratch(const fs::path& dir) {
  fs::remove_all(dir);
  Experiment e = SmallExperiment(dir);
  e.seeds = {1};
  e.checkpoint_every_seconds = 0;
  return e;
}

TEST(RunnerTest, AnInterruptedRunResumesWithTheSameCurve) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_resume";
  fs::remove_all(root);

  Experiment reference = SmallExperiment(root / "reference");
  reference.checkpoint_every_seconds = 0;
  ASSERT_TRUE(experiments::Run(reference, SmallTask).ok());

  // The interrupted experiment checkpoints after every iteration; its first attempt at seed 2
  // stops after 26 iterations and fails, as a killed process would leave it.
  Experiment resumed = SmallExperiment(root / "resumed");
  resumed.checkpoint_every_seconds = 1e-9;
  Experiment interrupted = resumed;
  interrupted.methods[0] = InterruptedAt(resumed.methods[0], /*seed=*/2, /*last=*/25);
  EXPECT_EQ(experiments::Run(interrupted, SmallTask).code(), absl::StatusCode::kAborted);
  const fs::path runs = root / "resumed" / "runs";
  EXPECT_TRUE(fs::exists(runs / "MinimaxOPT__seed1.csv"));
  EXPECT_FALSE(fs::exists(runs / "MinimaxOPT__seed2.csv"));
  ASSERT_TRUE(fs::exists(runs / "MinimaxOPT__seed2.ckpt"));

  ASSERT_TRUE(experiments::Run(resumed, SmallTask).ok());
  EXPECT_FALSE(fs::exists(runs / "MinimaxOPT__seed2.ckpt"));
  EXPECT_NE(ReadAll(runs / "MinimaxOPT__seed2.json").find("\"resumed_iterations\": 25"),
            std::string::npos)
      << ReadAll(runs / "MinimaxOPT__seed2.json");
  const std::vector<std::string> expected = CurvesWithoutTime(root / "reference");
  EXPECT_GT(expected.size(), 10u);
  EXPECT_EQ(CurvesWithoutTime(root / "resumed"), expected);
}

// A checkpoint written with other solver settings is never mixed in: it is moved to `.stale` and
// the run starts over, giving the curve of a fresh run with the new settings.
TEST(RunnerTest, ACheckpointOfOtherSettingsIsSetAsideAndTheRunStartsOver) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_mismatch";
  fs::remove_all(root);
  Experiment e = SmallExperiment(root / "interrupted");
  e.seeds = {1};
  e.checkpoint_every_seconds = 1e-9;
  Experiment interrupted = e;
  interrupted.methods[0] = InterruptedAt(e.methods[0], /*seed=*/1, /*last=*/5);
  ASSERT_EQ(experiments::Run(interrupted, SmallTask).code(), absl::StatusCode::kAborted);
  const fs::path checkpoint = root / "interrupted" / "runs" / "MinimaxOPT__seed1.ckpt";
  ASSERT_TRUE(fs::exists(checkpoint));
  const std::string old_checkpoint = ReadAll(checkpoint);

  bilevel::MinimaxOptOptions other;
  other.num_stages = 3;
  other.outer_batch_size = other.inner_batch_size = 20;
  Experiment fresh = OneSeedFromScratch(root / "fresh");
  fresh.methods = {MinimaxMethod("MinimaxOPT", other)};
  ASSERT_TRUE(experiments::Run(fresh, SmallTask).ok());

  e.methods = fresh.methods;
  const absl::Status status = experiments::Run(e, SmallTask);
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(ReadAll(checkpoint.string() + ".stale"), old_checkpoint);
  EXPECT_NE(ReadAll(root / "interrupted" / "runs" / "MinimaxOPT__seed1.json")
                .find("\"resumed_iterations\": 0"),
            std::string::npos);
  EXPECT_EQ(CurvesWithoutTime(root / "interrupted"), CurvesWithoutTime(root / "fresh"));
}

// A checkpoint that cannot be read back (truncated, overwritten with other bytes, or lacking the
// runner's part) is moved aside to `.damaged` and the run starts over: the rerun succeeds, keeps
// the damaged bytes, and gives the uninterrupted curve.
TEST(RunnerTest, ADamagedCheckpointIsMovedAsideAndTheRunStartsOver) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_damaged";
  fs::remove_all(root);
  ASSERT_TRUE(experiments::Run(OneSeedFromScratch(root / "reference"), SmallTask).ok());
  const std::vector<std::string> expected = CurvesWithoutTime(root / "reference");

  bilevel::SolverState incomplete;  // a readable checkpoint of this library without its keys
  incomplete.PutInt("observed", 3);
  const std::vector<std::pair<std::string, std::function<void(const fs::path&)>>> damages = {
      {"truncated", [](const fs::path& p) { fs::resize_file(p, fs::file_size(p) / 2); }},
      {"overwritten", [](const fs::path& p) { std::ofstream(p) << "not a checkpoint"; }},
      {"incomplete", [&](const fs::path& p) { ASSERT_TRUE(incomplete.Save(p.string()).ok()); }}};
  for (const auto& [name, damage] : damages) {
    SCOPED_TRACE(name);
    Experiment e = SmallExperiment(root / name);
    e.seeds = {1};
    e.checkpoint_every_seconds = 1e-9;
    Experiment interrupted = e;
    interrupted.methods[0] = InterruptedAt(e.methods[0], /*seed=*/1, /*last=*/5);
    ASSERT_EQ(experiments::Run(interrupted, SmallTask).code(), absl::StatusCode::kAborted);
    const fs::path checkpoint = root / name / "runs" / "MinimaxOPT__seed1.ckpt";
    ASSERT_TRUE(fs::exists(checkpoint));
    damage(checkpoint);
    const std::string damaged = ReadAll(checkpoint);

    const absl::Status status = experiments::Run(e, SmallTask);
    ASSERT_TRUE(status.ok()) << status;
    EXPECT_FALSE(fs::exists(checkpoint));
    EXPECT_EQ(ReadAll(checkpoint.string() + ".damaged"), damaged);
    EXPECT_NE(
        ReadAll(root / name / "runs" / "MinimaxOPT__seed1.json").find("\"resumed_iterations\": 0"),
        std::string::npos);
    EXPECT_EQ(CurvesWithoutTime(root / name), expected);
  }
}

TEST(RunnerTest, WithCheckpointsOffARerunStartsTheRunOver) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_off";
  fs::remove_all(root);
  ASSERT_TRUE(experiments::Run(OneSeedFromScratch(root / "reference"), SmallTask).ok());

  Experiment e = SmallExperiment(root / "rerun");
  e.seeds = {1};
  e.checkpoint_every_seconds = 1e-9;
  Experiment interrupted = e;
  interrupted.methods[0] = InterruptedAt(e.methods[0], /*seed=*/1, /*last=*/5);
  ASSERT_EQ(experiments::Run(interrupted, SmallTask).code(), absl::StatusCode::kAborted);
  // The leftover checkpoint is ignored, the run starts over (its first point included) and the
  // stale file is removed with the finished run.
  e.checkpoint_every_seconds = 0;
  ASSERT_TRUE(experiments::Run(e, SmallTask).ok());
  EXPECT_EQ(CurvesWithoutTime(root / "rerun"), CurvesWithoutTime(root / "reference"));
  EXPECT_FALSE(fs::exists(root / "rerun" / "runs" / "MinimaxOPT__seed1.ckpt"));
}

// A finished run is reused only by an experiment with its settings, preset and data, and only
// when its files parse: anything else is moved to `.stale` and computed again, giving the numbers
// of a run in an empty folder.
TEST(RunnerTest, FinishedRunsOfOtherSettingsOrDamagedAreComputedAgain) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_reuse";
  const fs::path runs = root / "runs";
  Experiment e = OneSeedFromScratch(root);
  ASSERT_TRUE(experiments::Run(e, SmallTask).ok());
  const std::string first_json = ReadAll(runs / "MinimaxOPT__seed1.json");
  ASSERT_TRUE(experiments::Run(e, SmallTask).ok());  // the same experiment: every run reused
  EXPECT_EQ(ReadAll(runs / "MinimaxOPT__seed1.json"), first_json);  // not recomputed (its time)
  EXPECT_FALSE(fs::exists(runs / "MinimaxOPT__seed1.json.stale"));

  Experiment other_preset = e;
  other_preset.preset = "default";
  ASSERT_TRUE(experiments::Run(other_preset, SmallTask).ok());
  EXPECT_EQ(ReadAll(runs / "MinimaxOPT__seed1.json.stale"), first_json);
  EXPECT_TRUE(fs::exists(runs / "MinimaxOPT__seed1.csv.stale"));
  EXPECT_TRUE(fs::exists(runs / "reference_no tuning__seed1.json.stale"));
  EXPECT_NE(ReadAll(runs / "MinimaxOPT__seed1.json").find("| default |"), std::string::npos);
  EXPECT_NE(ReadAll(root / "manifest.json").find("\"preset\": \"default\""), std::string::npos);

  Experiment other_settings = e;
  bilevel::MinimaxOptOptions o;
  o.num_stages = 3;
  o.iterations_per_stage = 30;
  other_settings.methods = {MinimaxMethod("MinimaxOPT", o)};
  ASSERT_TRUE(experiments::Run(other_settings, SmallTask).ok());
  Experiment fresh = OneSeedFromScratch(root.string() + "_fresh");
  fresh.methods = other_settings.methods;
  ASSERT_TRUE(experiments::Run(fresh, SmallTask).ok());
  EXPECT_EQ(CurvesWithoutTime(root), CurvesWithoutTime(root.string() + "_fresh"));

  // Damaged files of this very experiment: an emptied JSON, a truncated CSV.
  const std::vector<std::string> expected = CurvesWithoutTime(root);
  std::ofstream(runs / "MinimaxOPT__seed1.json").close();
  ASSERT_TRUE(experiments::Run(other_settings, SmallTask).ok());
  EXPECT_EQ(ReadAll(runs / "MinimaxOPT__seed1.json.stale"), "");
  EXPECT_EQ(CurvesWithoutTime(root), expected);
  const std::string csv = ReadAll(runs / "MinimaxOPT__seed1.csv");
  std::ofstream(runs / "MinimaxOPT__seed1.csv") << csv.substr(0, csv.size() / 2);
  ASSERT_TRUE(experiments::Run(other_settings, SmallTask).ok());
  EXPECT_EQ(CurvesWithoutTime(root), expected);

  // An option the settings in words leave out (y's momentum β) counts as much.
  o.y_optimizer.momentum = 0.5;
  Experiment other_beta = e;
  other_beta.methods = {MinimaxMethod("MinimaxOPT", o)};
  EXPECT_EQ(other_beta.methods[0].settings, other_settings.methods[0].settings);
  ASSERT_TRUE(experiments::Run(other_beta, SmallTask).ok());
  EXPECT_NE(ReadAll(runs / "MinimaxOPT__seed1.json").find("y_optimizer.momentum=0.5"),
            std::string::npos);
  EXPECT_NE(ReadAll(runs / "MinimaxOPT__seed1.json.stale").find("y_optimizer.momentum=0.9"),
            std::string::npos);
}

// A hyper-cleaning task with dropout on tiny generated images (class-dependent means).
absl::StatusOr<std::unique_ptr<tasks::Task>> TinyCleaningTask(uint64_t seed) {
  const tasks::ImageDataset images = tasks::TinyImages();  // 120 train / 40 test, 4x4 pixels
  tasks::HyperCleaningSpec spec;
  spec.num_train = 80;
  spec.num_val = 40;
  spec.num_test = 40;
  spec.hidden = 8;
  spec.dropout = 0.2;
  spec.seed = seed;
  absl::StatusOr<tasks::CleaningData> data = tasks::MakeCleaningData(images, spec);
  if (!data.ok()) return data.status();
  return std::unique_ptr<tasks::Task>(
      new tasks::HyperCleaningTask(*std::move(data), spec, c10::Device(c10::kCPU)));
}

// The tiny cleaning task with the batches' noise keys removed: every dropout mask comes from the
// task's own generator, as for a solver or task that does not key its batches.
class UnkeyedDropoutTask : public tasks::Task {
 public:
  explicit UnkeyedDropoutTask(std::unique_ptr<tasks::Task> task) : task_(std::move(task)) {}
  std::string Name() const override { return task_->Name(); }
  std::string DataDescription() const override { return task_->DataDescription(); }
  tasks::TaskMetrics Evaluate(const bilevel::TensorList& x, const bilevel::TensorList& y) override {
    return task_->Evaluate(x, y);
  }
  bilevel::TensorList InitialOuter() override { return task_->InitialOuter(); }
  bilevel::TensorList InitialInner() override { return task_->InitialInner(); }
  at::Tensor OuterObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override {
    return task_->OuterObjective(x, y, Unkeyed(batch));
  }
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch& batch) override {
    return task_->InnerObjective(x, y, Unkeyed(batch));
  }
  int64_t NumOuterExamples() const override { return task_->NumOuterExamples(); }
  int64_t NumInnerExamples() const override { return task_->NumInnerExamples(); }
  bilevel::TensorList RandomState() const override { return task_->RandomState(); }
  void SetRandomState(const bilevel::TensorList& s) override { task_->SetRandomState(s); }

 private:
  static bilevel::Batch Unkeyed(bilevel::Batch batch) {
    batch.noise_key = 0;
    return batch;
  }
  std::unique_ptr<tasks::Task> task_;
};

absl::StatusOr<std::unique_ptr<tasks::Task>> UnkeyedCleaningTask(uint64_t seed) {
  absl::StatusOr<std::unique_ptr<tasks::Task>> task = TinyCleaningTask(seed);
  if (!task.ok()) return task.status();
  return std::unique_ptr<tasks::Task>(new UnkeyedDropoutTask(*std::move(task)));
}

// Several methods on a task with dropout, killed between runs and inside one: the rerun, which
// skips the finished runs, gives every curve of the uninterrupted run (each method starts from
// the task's random state as made, whatever ran before it in the process).
TEST(RunnerTest, ARerunAfterAKillGivesEveryCurveOfTheUninterruptedRun) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_dropout";
  fs::remove_all(root);
  Experiment e;
  e.figure = "runner_test";
  e.preset = "ci";
  e.seeds = {1};
  e.eval_every_gradient_calls = 20;
  e.yardstick = Yardstick::kInnerIterate;
  e.retrain.steps = 20;
  e.retrain.batch_size = 16;
  e.checkpoint_every_seconds = 1e-9;
  for (const auto& [name, method] :
       {std::make_pair("Reverse", bilevel::HypergradientMethod::kReverse),
        std::make_pair("CG", bilevel::HypergradientMethod::kConjugateGradient),
        std::make_pair("FixedPoint", bilevel::HypergradientMethod::kFixedPoint)}) {
    bilevel::HypergradientOptions o;
    o.method = method;
    o.max_iterations = 6;
    o.inner_steps = 5;
    o.outer_batch_size = o.inner_batch_size = 16;
    e.methods.push_back(HypergradientMethod(name, o));
  }
  // Keyed masks (as every solver's sampler gives) and masks from the task's generator.
  for (const auto& [label, make_task] :
       {std::make_pair(std::string("keyed"), TaskFactory(TinyCleaningTask)),
        std::make_pair(std::string("unkeyed"), TaskFactory(UnkeyedCleaningTask))}) {
    SCOPED_TRACE(label);
    Experiment reference = e;
    reference.output_dir = (root / label / "uninterrupted").string();
    ASSERT_TRUE(experiments::Run(reference, make_task).ok());

    Experiment killed = e;
    killed.output_dir = (root / label / "killed").string();
    Experiment first = killed;  // killed after the first method finished
    first.methods.resize(1);
    ASSERT_TRUE(experiments::Run(first, make_task).ok());
    Experiment inside = killed;  // then killed inside the third
    inside.methods[2] = InterruptedAt(killed.methods[2], /*seed=*/1, /*last=*/2);
    ASSERT_EQ(experiments::Run(inside, make_task).code(), absl::StatusCode::kAborted);
    ASSERT_TRUE(experiments::Run(killed, make_task).ok());
    EXPECT_EQ(CurvesWithoutTime(root / label / "killed"),
              CurvesWithoutTime(root / label / "uninterrupted"));
  }
}

// The penalty method's denoising evaluation: a second retrain on the examples the final x keeps,
// a row of its own and a field in the run's JSON, named in the yardstick's words.
TEST(RunnerTest, AKeptRetrainAddsItsRowAndAccuracy) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_kept";
  fs::remove_all(root);
  Experiment e;
  e.figure = "runner_test";
  e.preset = "ci";
  e.output_dir = root.string();
  e.seeds = {1};
  e.eval_every_gradient_calls = 20;
  e.yardstick = Yardstick::kInnerIterate;
  e.retrain.steps = 20;
  e.retrain.batch_size = 16;
  e.checkpoint_every_seconds = 0;
  bilevel::HypergradientOptions o;
  o.max_iterations = 3;
  o.inner_steps = 5;
  o.outer_batch_size = o.inner_batch_size = 16;
  e.methods.push_back(HypergradientMethod("Reverse", o));
  int64_t kept_examples = -1;
  e.kept_retrain = Experiment::KeptRetrain{
      "the heavy examples",
      [&](const bilevel::TensorList& x,
          uint64_t seed) -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
        EXPECT_EQ(x.at(0).numel(), 80);  // the run's final x reaches the selection
        absl::StatusOr<std::unique_ptr<tasks::Task>> task = TinyCleaningTask(seed);
        if (task.ok()) kept_examples = (*task)->NumInnerExamples();
        return task;
      }};
  ASSERT_TRUE(experiments::Run(e, TinyCleaningTask).ok());
  EXPECT_EQ(kept_examples, 80);
  const std::string curves = ReadAll(root / "curves.csv");
  EXPECT_NE(curves.find("Reverse,1,retrained,"), std::string::npos) << curves;
  EXPECT_NE(curves.find("Reverse,1,retrained_kept,"), std::string::npos) << curves;
  const std::string manifest = ReadAll(root / "manifest.json");
  const size_t at = manifest.find("\"kept_retrain_test_accuracy\": ");
  ASSERT_NE(at, std::string::npos) << manifest;
  EXPECT_NE(manifest.substr(at + 30, 4), "null") << manifest;
  EXPECT_NE(DescribeYardstick(e).find("also retrained on the heavy examples"), std::string::npos);
}

TEST(RunnerTest, ManifestCarriesYardstickReferencesAndFailures) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / "runner_manifest";
  Experiment e = OneSeedFromScratch(root);
  bilevel::MinimaxOptOptions diverging;
  diverging.num_stages = 1;
  diverging.iterations_per_stage = 500;
  diverging.x_optimizer.learning_rate = 1e6;  // exp(x) overflows within a few steps
  e.methods.push_back(MinimaxMethod("Diverging", diverging));
  ASSERT_TRUE(experiments::Run(e, SmallTask).ok());
  const std::string manifest = ReadAll(root / "manifest.json");
  EXPECT_NE(manifest.find("\"exact_inner\": \"L-BFGS"), std::string::npos) << manifest;
  EXPECT_NE(manifest.find("\"references\": [\n    {\"name\": \"no tuning\""), std::string::npos)
      << manifest;
  // The diverging run is a result, marked as a failure with the option to change.
  EXPECT_NE(manifest.find("\"termination\": \"NON_FINITE\", \"failed\": true"), std::string::npos)
      << manifest;
  EXPECT_NE(manifest.find("x_optimizer.learning_rate"), std::string::npos);
  EXPECT_NE(manifest.find("\"linear_solver_breakdowns\": 0"), std::string::npos);
  // Every curve point of a method is scored at the exact inner solution; the reference comes last.
  const std::string curves = ReadAll(root / "curves.csv");
  EXPECT_EQ(curves.find(",inner_iterate,"), std::string::npos);
  EXPECT_NE(curves.find("MinimaxOPT,1,exact_inner,"), std::string::npos);
  EXPECT_NE(curves.find("no tuning,1,reference,"), std::string::npos);
}

}  // namespace
}  // namespace experiments
