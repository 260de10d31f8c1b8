// Tiny inputs only: shapes, gradients against finite differences, label-noise exactness, metrics,
// and a few MinimaxOPT iterations lowering each task's validation loss.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/tensor_list.h"
#include "solvers/minimax_opt.h"
#include "tasks/hyper_cleaning.h"
#include "tasks/testing/tiny_images.h"
#include "tasks/weight_decay_logistic.h"

namespace tasks {
namespace {

using bilevel::Batch;
using bilevel::TensorList;

// Central finite difference of `fn` along entry `index` of t (float tasks: coarse step).
double FiniteDifference(const std::function<double()>& fn, at::Tensor t, int64_t index,
                        double h = 1e-2) {
  c10::NoGradGuard no_grad;
  at::Tensor flat = t.view({-1});
  const double saved = flat[index].item<double>();
  flat[index] = saved + h;
  const double plus = fn();
  flat[index] = saved - h;
  const double minus = fn();
  flat[index] = saved;
  return (plus - minus) / (2 * h);
}

// Autograd gradients of g and f at a perturbed point agree with finite differences.
void ExpectGradientsMatchFiniteDifferences(Task* task, uint64_t seed, double h = 1e-2) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  TensorList x = bilevel::DetachedClone(task->InitialOuter());
  TensorList y = bilevel::DetachedClone(task->InitialInner());
  for (at::Tensor& t : x) t.add_(0.3 * at::randn(t.sizes(), gen));
  for (at::Tensor& t : y) t.add_(0.1 * at::randn(t.sizes(), gen));
  for (bool inner : {true, false}) {
    auto objective = [&](const TensorList& xs, const TensorList& ys) {
      return inner ? task->InnerObjective(xs, ys, Batch{}) : task->OuterObjective(xs, ys, Batch{});
    };
    TensorList xs = bilevel::GradLeaves(x), ys = bilevel::GradLeaves(y);
    TensorList all = xs;
    all.insert(all.end(), ys.begin(), ys.end());
    const TensorList grads = bilevel::Gradients(objective(xs, ys), all);
    TensorList vars = x;
    vars.insert(vars.end(), y.begin(), y.end());
    for (size_t v = 0; v < vars.size(); ++v) {
      for (int64_t index : {int64_t{0}, vars[v].numel() / 2, vars[v].numel() - 1}) {
        const double fd =
            FiniteDifference([&] { return objective(x, y).item<double>(); }, vars[v], index, h);
        const double ad = grads[v].reshape({-1})[index].item<double>();
        EXPECT_NEAR(ad, fd, 2e-3 + 2e-2 * std::abs(fd))
            << task->Name() << (inner ? " g" : " f") << " variable " << v << " entry " << index;
      }
    }
  }
}

// A few MinimaxOPT iterations lower the validation loss.
void ExpectMinimaxLowersValidationLoss(Task* task, bilevel::MinimaxOptOptions options) {
  const double before = task->Evaluate(task->InitialOuter(), task->InitialInner()).validation_loss;
  bilevel::SolverSummary summary;
  ASSERT_TRUE(bilevel::Solve(options, task, &summary).ok());
  ASSERT_TRUE(summary.IsSolutionUsable()) << summary.message;
  const TaskMetrics after = task->Evaluate(summary.x, summary.y);
  EXPECT_LT(after.validation_loss, before) << task->Name() << ": " << summary.BriefReport();
  EXPECT_GE(after.test_accuracy, 0.0);
  EXPECT_LE(after.test_accuracy, 1.0);
}

SyntheticLogisticSpec TinySynthetic() {
  SyntheticLogisticSpec spec;
  spec.num_features = 6;
  spec.num_examples = 40;
  spec.num_test = 20;
  return spec;
}

TEST(SyntheticLogistic, SplitsHalfTrainHalfValidationDeterministically) {
  const LogisticData a = MakeSyntheticLogisticData(TinySynthetic());
  const LogisticData b = MakeSyntheticLogisticData(TinySynthetic());
  EXPECT_EQ(a.train_x.sizes(), (std::vector<int64_t>{20, 6}));
  EXPECT_EQ(a.val_x.sizes(), (std::vector<int64_t>{20, 6}));
  EXPECT_EQ(a.test_x.sizes(), (std::vector<int64_t>{20, 6}));
  EXPECT_TRUE(at::equal(a.train_x, b.train_x));
  EXPECT_TRUE(at::equal(a.val_y, b.val_y));
  WeightDecayLogisticTask task("synthetic", a, c10::Device(c10::kCPU));
  EXPECT_EQ(task.InitialOuter()[0].sizes(), (std::vector<int64_t>{6}));  // one decay per feature
  EXPECT_EQ(task.InitialInner()[0].sizes(), (std::vector<int64_t>{6, 2}));
}

TEST(SyntheticLogistic, ProjectionCapsTheDecays) {
  WeightDecayLogisticTask capped("synthetic", MakeSyntheticLogisticData(TinySynthetic()),
                                 c10::Device(c10::kCPU), 0.0, /*max_log_decay=*/-1.0);
  TensorList x = {at::tensor({-3.0f, 0.5f, 2.0f})};
  capped.ProjectOuter(&x);
  EXPECT_TRUE(at::equal(x[0], at::tensor({-3.0f, -1.0f, -1.0f})));
}

TEST(SyntheticLogistic, GradientsMatchFiniteDifferences) {
  WeightDecayLogisticTask task("synthetic", MakeSyntheticLogisticData(TinySynthetic()),
                               c10::Device(c10::kCPU));
  ExpectGradientsMatchFiniteDifferences(&task, 1);
}

TEST(SyntheticLogistic, MinimaxOptLowersValidationLoss) {
  WeightDecayLogisticTask task("synthetic", MakeSyntheticLogisticData(TinySynthetic()),
                               c10::Device(c10::kCPU));
  bilevel::MinimaxOptOptions options;
  options.num_stages = 2;
  options.iterations_per_stage = 50;
  ExpectMinimaxLowersValidationLoss(&task, options);
}

TextCorpus TinyCorpus() {
  TextCorpus corpus;
  corpus.categories = {"space", "cooking"};
  const std::vector<std::pair<std::string, int64_t>> docs = {
      {"rocket orbit launch moon", 0}, {"orbit moon station rocket", 0},
      {"launch rocket station", 0},    {"moon orbit launch", 0},
      {"bake bread oven flour", 1},    {"flour oven bake cake", 1},
      {"bread cake oven", 1},          {"bake flour bread", 1},
      {"rocket moon oven", 0},         {"cake bread launch", 1}};
  for (const auto& [text, label] : docs) {
    corpus.documents.push_back(text);
    corpus.labels.push_back(label);
  }
  return corpus;
}

TEST(TextLogistic, SparseTfidfFeaturesAndGradients) {
  absl::StatusOr<LogisticData> data =
      MakeTextLogisticData(TinyCorpus(), TfidfOptions{}, 0.2, 3, "toy corpus");
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_TRUE(data->train_x.is_sparse());
  EXPECT_EQ(data->train_x.size(0) + data->val_x.size(0) + data->test_x.size(0), 10);
  EXPECT_EQ(data->classes, 2);
  WeightDecayLogisticTask task("text", *data, c10::Device(c10::kCPU));
  // The sparse product equals the dense one.
  TensorList y = {at::randn({data->train_x.size(1), 2}), at::randn({2})};
  TensorList x = task.InitialOuter();
  WeightDecayLogisticTask dense(
      "dense",
      [&] {
        LogisticData d = *data;
        d.train_x = d.train_x.to_dense();
        d.val_x = d.val_x.to_dense();
        d.test_x = d.test_x.to_dense();
        return d;
      }(),
      c10::Device(c10::kCPU));
  EXPECT_NEAR(task.InnerObjective(x, y, Batch{}).item<double>(),
              dense.InnerObjective(x, y, Batch{}).item<double>(), 1e-5);
  ExpectGradientsMatchFiniteDifferences(&task, 2);
  EXPECT_FALSE(MakeTextLogisticData(TinyCorpus(), TfidfOptions{}, 1.5, 3, "toy").ok());
}

TEST(TextLogistic, TfidfStatisticsIgnoreTheTestDocuments) {
  const TextCorpus corpus = TinyCorpus();
  absl::StatusOr<LogisticData> a = MakeTextLogisticData(corpus, TfidfOptions{}, 0.2, 3, "toy");
  ASSERT_TRUE(a.ok());
  ASSERT_GT(a->test_documents.numel(), 0);
  // Rewrite the test documents with words of the training documents: fitted on everything, the
  // document frequencies (and so the training features) would change.
  TextCorpus changed = corpus;
  for (int64_t i = 0; i < a->test_documents.numel(); ++i) {
    changed.documents[a->test_documents[i].item<int64_t>()] = "rocket rocket cake launch moon";
  }
  absl::StatusOr<LogisticData> b = MakeTextLogisticData(changed, TfidfOptions{}, 0.2, 3, "toy");
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(at::equal(a->train_x.to_dense(), b->train_x.to_dense()));
  EXPECT_TRUE(at::equal(a->val_x.to_dense(), b->val_x.to_dense()));
  EXPECT_FALSE(at::equal(a->test_x.to_dense(), b->test_x.to_dense()));
}

// A corpus without a usable word (binary junk, one-letter tokens) has no tf-idf feature: an error
// that says so, not a model of nothing whose accuracy is the majority class's.
TEST(TextLogistic, ACorpusWithoutUsableWordsIsAnError) {
  TextCorpus junk = TinyCorpus();
  for (std::string& document : junk.documents) document = "a b c ! ? \x01\x02 ...";
  absl::StatusOr<LogisticData> data = MakeTextLogisticData(junk, TfidfOptions{}, 0.2, 3, "junk");
  EXPECT_EQ(data.status().code(), absl::StatusCode::kFailedPrecondition) << data.status();
  EXPECT_NE(data.status().message().find("junk: no term"), std::string::npos) << data.status();
  EXPECT_NE(data.status().message().find("no tf-idf features"), std::string::npos);
}

TEST(TextLogistic, MinimaxOptLowersValidationLoss) {
  WeightDecayLogisticTask task(
      "text", *MakeTextLogisticData(TinyCorpus(), TfidfOptions{}, 0.2, 3, "toy corpus"),
      c10::Device(c10::kCPU));
  bilevel::MinimaxOptOptions options;
  options.num_stages = 2;
  options.iterations_per_stage = 50;
  options.y_optimizer.learning_rate = options.z_optimizer.learning_rate = 1.0;
  ExpectMinimaxLowersValidationLoss(&task, options);
}

TEST(CorruptLabels, ExactFractionFixedBySeed) {
  const at::Tensor labels = at::arange(1000, at::kLong).remainder(10);
  for (double ratio : {0.0, 0.5, 0.7, 0.9}) {
    at::Tensor noisy, corrupted, noisy2, corrupted2, noisy3, corrupted3;
    CorruptLabels(labels, ratio, 10, 7, Corruption::kExactOther, &noisy, &corrupted);
    CorruptLabels(labels, ratio, 10, 7, Corruption::kExactOther, &noisy2, &corrupted2);
    CorruptLabels(labels, ratio, 10, 8, Corruption::kExactOther, &noisy3, &corrupted3);
    EXPECT_EQ(corrupted.sum().item<int64_t>(), std::llround(ratio * 1000)) << ratio;
    EXPECT_TRUE(at::equal(noisy.ne(labels), corrupted)) << "every corrupted label changed";
    EXPECT_TRUE(at::equal(noisy, noisy2));
    if (ratio > 0) {
      EXPECT_FALSE(at::equal(corrupted, corrupted3));
    }
    EXPECT_LT(noisy.max().item<int64_t>(), 10);
    EXPECT_GE(noisy.min().item<int64_t>(), 0);
  }
}

TEST(CorruptLabels, BenchoptRedrawsFromAllClassesSoAboutATenthKeepTheirLabel) {
  const int64_t n = 20000;
  const at::Tensor labels = at::arange(n, at::kLong).remainder(10);
  for (double ratio : {0.5, 0.9}) {
    at::Tensor noisy, corrupted, drawn;
    CorruptLabels(labels, ratio, 10, 3, Corruption::kBenchopt, &noisy, &corrupted, &drawn);
    const double n_drawn = drawn.sum().item<double>();
    EXPECT_NEAR(n_drawn / n, ratio, 0.02) << ratio;
    // Of the drawn labels, those that drew their own class: about 1/10 (binomial sd ~ 0.003).
    const double kept = (drawn & noisy.eq(labels)).sum().item<double>() / n_drawn;
    EXPECT_NEAR(kept, 0.1, 0.015) << ratio;
    EXPECT_TRUE(at::equal(corrupted, noisy.ne(labels)));
    EXPECT_NEAR(corrupted.to(at::kDouble).mean().item<double>(), 0.9 * ratio, 0.02);
    EXPECT_FALSE((corrupted & ~drawn).any().item<bool>());  // only drawn labels changed
  }
}

HyperCleaningSpec TinyCleaningSpec() {
  HyperCleaningSpec spec;
  spec.num_train = 80;
  spec.num_val = 40;
  spec.num_test = 40;
  spec.hidden = 8;
  spec.noise_ratio = 0.5;
  spec.corruption = Corruption::kExactOther;  // exactly half wrong: the counts below are exact
  return spec;
}

TEST(HyperCleaning, DataShapesAndCorruption) {
  absl::StatusOr<CleaningData> data = MakeCleaningData(TinyImages(), TinyCleaningSpec());
  ASSERT_TRUE(data.ok()) << data.status();
  EXPECT_EQ(data->train_x.sizes(), (std::vector<int64_t>{80, 16}));
  EXPECT_EQ(data->val_x.size(0), 40);
  EXPECT_EQ(data->corrupted.sum().item<int64_t>(), 40);
  HyperCleaningSpec bad = TinyCleaningSpec();
  bad.num_val = 100;
  EXPECT_FALSE(MakeCleaningData(TinyImages(), bad).ok());
  bad = TinyCleaningSpec();
  bad.noise_ratio = 1.5;
  EXPECT_FALSE(MakeCleaningData(TinyImages(), bad).ok());
}

TEST(HyperCleaning, StandardizesWithTheTrainingStatisticsOnly) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  const CleaningData raw = *MakeCleaningData(TinyImages(), spec);
  spec.standardize = true;
  const CleaningData data = *MakeCleaningData(TinyImages(), spec);
  const at::Tensor deviation = raw.train_x.std(0, false);
  const at::Tensor varying = deviation > 0;
  ASSERT_GT(varying.sum().item<int64_t>(), 0);
  EXPECT_LT(data.train_x.mean(0).abs().max().item<double>(), 1e-5);
  EXPECT_TRUE(at::allclose(data.train_x.std(0, false).masked_select(varying),
                           at::ones({varying.sum().item<int64_t>()}), 1e-4, 1e-4));
  // Validation and test move by the training statistics, not their own.
  const at::Tensor mean = raw.train_x.mean(0);
  const at::Tensor scale = at::where(varying, deviation, at::ones_like(deviation));
  EXPECT_TRUE(at::allclose(data.val_x, (raw.val_x - mean) / scale, 1e-5, 1e-5));
  EXPECT_TRUE(at::allclose(data.test_x, (raw.test_x - mean) / scale, 1e-5, 1e-5));
}

TEST(HyperCleaning, GradientsMatchFiniteDifferencesWithoutDropout) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  spec.dropout = 0;  // finite differences need a deterministic objective
  HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
  EXPECT_EQ(task.InitialOuter()[0].numel(), 80);  // one weight per training example
  ExpectGradientsMatchFiniteDifferences(&task, 3);
}

TEST(HyperCleaning, CnnHasTheAuthorsShapesAndExactGradients) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  spec.cnn = CleaningCnn{2, 3, 8, 6};
  spec.dropout = 0;
  spec.weight_decay = 0.1;  // large enough that a missed weight tensor shows in the gradients
  TinyImagesSpec sixteen;
  sixteen.side = 16;  // 16 → conv 12 → pool 6 → conv 2 → pool 1
  HyperCleaningTask task(*MakeCleaningData(TinyImages(sixteen), spec), spec,
                         c10::Device(c10::kCPU));
  const TensorList y = task.InitialInner();
  ASSERT_EQ(y.size(), 10u);
  EXPECT_EQ(y[0].sizes(), (std::vector<int64_t>{2, 1, 5, 5}));
  EXPECT_EQ(y[2].sizes(), (std::vector<int64_t>{3, 2, 5, 5}));
  EXPECT_EQ(y[4].sizes(), (std::vector<int64_t>{8, 3}));
  EXPECT_EQ(y[8].sizes(), (std::vector<int64_t>{10, 6}));
  ExpectGradientsMatchFiniteDifferences(&task, 4, /*h=*/1e-3);  // small: ReLU and max-pool kinks
  // The authors' widths on MNIST's 28×28: about 1.4 M parameters.
  spec.cnn = CleaningCnn{};
  TinyImagesSpec mnist_sized;
  mnist_sized.side = 28;
  mnist_sized.num_train = 130;
  HyperCleaningTask full(*MakeCleaningData(TinyImages(mnist_sized), spec), spec,
                         c10::Device(c10::kCPU));
  int64_t parameters = 0;
  for (const at::Tensor& t : full.InitialInner()) parameters += t.numel();
  EXPECT_EQ(parameters, 1664 + 204928 + (2048 * 512 + 512) + (512 * 256 + 256) + (256 * 10 + 10));
  // Images too small for two convolutions and poolings: an error that says so.
  const absl::StatusOr<CleaningData> small = MakeCleaningData(TinyImages(), spec);
  ASSERT_FALSE(small.ok());
  EXPECT_NE(small.status().message().find("16x16"), std::string::npos) << small.status();
}

TEST(HyperCleaning, DropoutIsSeededAndOnlyInTheInnerObjective) {
  auto value = [](uint64_t seed) {
    HyperCleaningSpec spec = TinyCleaningSpec();
    spec.seed = seed;
    HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
    TensorList x = task.InitialOuter(), y = task.InitialInner();
    const double f1 = task.OuterObjective(x, y, Batch{}).item<double>();
    const double f2 = task.OuterObjective(x, y, Batch{}).item<double>();
    EXPECT_EQ(f1, f2);  // no dropout in f
    const double g1 = task.InnerObjective(x, y, Batch{}).item<double>();
    const double g2 = task.InnerObjective(x, y, Batch{}).item<double>();
    EXPECT_NE(g1, g2);  // a fresh mask per evaluation
    return g1;
  };
  EXPECT_EQ(value(4), value(4));
}

TEST(HyperCleaning, KeyedBatchesShareTheirDropoutMasks) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
  TensorList x = task.InitialOuter(), y = task.InitialInner();
  const at::Tensor rows = at::arange(20, at::kLong);
  auto g = [&](uint64_t key) { return task.InnerObjective(x, y, Batch{rows, key}).item<double>(); };
  // The same key: the same masks (g(x, y) and g(x, z) on one batch, a rerun, a resume).
  EXPECT_EQ(g(11), g(11));
  EXPECT_NE(g(11), g(12));
  // The solvers' samplers key every batch, reproducibly.
  bilevel::MinibatchSampler sampler(80, 20, 5, c10::Device(c10::kCPU));
  const Batch a = sampler.Next(), b = sampler.Next();
  EXPECT_NE(a.noise_key, 0u);
  EXPECT_NE(a.noise_key, b.noise_key);
  bilevel::MinibatchSampler again(80, 20, 5, c10::Device(c10::kCPU));
  EXPECT_EQ(again.Next().noise_key, a.noise_key);
}

TEST(HyperCleaning, ShardsOfABatchDrawTheirRowsOfItsDropoutMasks) {
  // Data parallelism: three ranks split a batch of 20 (6, 7 and 7 examples, as
  // MinibatchSampler::Shard does); each draws the global batch's masks and keeps its rows, so the
  // mean of the shard means, each scaled by n*W/B, is the one-process g with the same masks.
  HyperCleaningSpec spec = TinyCleaningSpec();
  HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
  TensorList x = task.InitialOuter(), y = task.InitialInner();
  const at::Tensor rows = at::arange(20, at::kLong);
  const double whole = task.InnerObjective(x, y, Batch{rows, 11}).item<double>();
  double mean_of_shards = 0;
  for (int rank = 0; rank < 3; ++rank) {
    const int64_t begin = 20 * rank / 3, end = 20 * (rank + 1) / 3;
    Batch shard{rows.slice(0, begin, end), 11};
    shard.shard_weight = static_cast<double>((end - begin) * 3) / 20;
    shard.shard_begin = begin;
    shard.global_size = 20;
    mean_of_shards += shard.shard_weight * task.InnerObjective(x, y, shard).item<double>() / 3;
  }
  EXPECT_NEAR(mean_of_shards, whole, 1e-6 * std::abs(whole));
  // Without the global rows a shard would reuse the first rows' masks: a different objective.
  Batch unsharded_masks{rows.slice(0, 13, 20), 11};
  Batch sharded_masks = unsharded_masks;
  sharded_masks.shard_begin = 13;
  sharded_masks.global_size = 20;
  EXPECT_NE(task.InnerObjective(x, y, unsharded_masks).item<double>(),
            task.InnerObjective(x, y, sharded_masks).item<double>());
}

TEST(HyperCleaning, PrecisionAndRecallOfDownWeightedExamples) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  CleaningData data = *MakeCleaningData(TinyImages(), spec);
  const at::Tensor corrupted = data.corrupted.clone();
  HyperCleaningTask task(data, spec, c10::Device(c10::kCPU));
  // Weights below ½ exactly on the corrupted examples: precision = recall = 1.
  at::Tensor x = at::where(corrupted, at::full({80}, -2.0), at::full({80}, 2.0));
  TaskMetrics m = task.Evaluate({x}, task.InitialInner());
  EXPECT_DOUBLE_EQ(*m.cleaning_precision, 1.0);
  EXPECT_DOUBLE_EQ(*m.cleaning_recall, 1.0);
  // Flag everything: precision is the noise ratio, recall 1.
  m = task.Evaluate({at::full({80}, -1.0)}, task.InitialInner());
  EXPECT_DOUBLE_EQ(*m.cleaning_precision, 0.5);
  EXPECT_DOUBLE_EQ(*m.cleaning_recall, 1.0);
}

// The penalty method's denoising: w = ½(tanh x + 1), g normalised by the batch's total weight,
// a linear model with a bias.
HyperCleaningSpec TinyDenoisingSpec() {
  HyperCleaningSpec spec = TinyCleaningSpec();
  spec.hidden = 0;
  spec.linear_bias = true;
  spec.weight_decay = 0;
  spec.weighting = ExampleWeighting::kTanhNormalized;
  spec.keep_threshold = 0.9;
  return spec;
}

TEST(Denoising, InnerObjectiveIsTheWeightedMeanOfTheLosses) {
  const HyperCleaningSpec spec = TinyDenoisingSpec();
  const CleaningData data = *MakeCleaningData(TinyImages(), spec);
  HyperCleaningTask task(data, spec, c10::Device(c10::kCPU));
  EXPECT_EQ(task.Name(), "denoising(noise=0.5)");
  TensorList y = task.InitialInner();
  ASSERT_EQ(y.size(), 2u);  // W and b
  y[0] = at::randn(y[0].sizes(), at::kFloat) * 0.1;
  y[1] = at::randn(y[1].sizes(), at::kFloat) * 0.1;
  const at::Tensor x = at::linspace(-2, 2, 80);
  const at::Tensor rows = at::arange(10, 30, at::kLong);
  const at::Tensor losses =
      at::cross_entropy_loss(at::linear(data.train_x.index_select(0, rows), y[0], y[1]),
                             data.train_y.index_select(0, rows), {}, at::Reduction::None);
  const at::Tensor w = 0.5 * (at::tanh(x.index_select(0, rows)) + 1);
  EXPECT_NEAR(task.InnerObjective({x}, y, Batch{rows, 0}).item<double>(),
              ((w * losses).sum() / w.sum()).item<double>(), 1e-6);
  // Scaling every weight alike changes nothing: only the proportions count.
  const at::Tensor u = at::full({80}, 0.3);
  EXPECT_NEAR(task.InnerObjective({u}, y, Batch{rows, 0}).item<double>(),
              losses.mean().item<double>(), 1e-6);
  ExpectGradientsMatchFiniteDifferences(&task, 5);
  // A ratio of batch sums is not a mean over the batch: data parallelism would change it.
  EXPECT_NE(task.WhyNotDataParallel().find("tanh_normalized"), std::string::npos);
  HyperCleaningTask cleaning(*MakeCleaningData(TinyImages(), TinyCleaningSpec()),
                             TinyCleaningSpec(), c10::Device(c10::kCPU));
  EXPECT_EQ(cleaning.WhyNotDataParallel(), "");
}

TEST(HyperCleaning, TheWeightsArePerInnerExampleAsDeclared) {
  // OuterRowsPerInnerExample lets a data-parallel step all-reduce only a batch's rows of x's
  // gradient: check that g's x-gradient on a batch is zero outside its rows and f's is zero, for
  // both weightings (with dropout: masks do not touch x).
  for (const HyperCleaningSpec& spec : {TinyCleaningSpec(), TinyDenoisingSpec()}) {
    HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
    ASSERT_EQ(task.OuterRowsPerInnerExample(), std::vector<bool>{true});
    const TensorList x = bilevel::GradLeaves({at::linspace(-1, 1, task.NumInnerExamples())});
    TensorList y = task.InitialInner();
    for (at::Tensor& t : y) t = at::randn(t.sizes(), at::kFloat) * 0.1;  // unequal losses
    y = bilevel::GradLeaves(y);  // f has a graph (through y) that x is not in
    const at::Tensor rows = at::tensor({3, 17, 5, 40}, at::kLong);
    const at::Tensor gx = bilevel::Gradients(task.InnerObjective(x, y, Batch{rows, 11}), x)[0];
    const at::Tensor outside = gx.index_fill(0, rows, 0);
    EXPECT_EQ(outside.count_nonzero().item<int64_t>(), 0) << task.Name();
    EXPECT_GT(gx.index_select(0, rows).abs().min().item<double>(), 0) << task.Name();
    const at::Tensor fx = bilevel::Gradients(task.OuterObjective(x, y, Batch{}), x)[0];
    EXPECT_EQ(fx.count_nonzero().item<int64_t>(), 0) << task.Name();
  }
}

TEST(Denoising, KeptDataIsTheHeavyExamplesPlusValidation) {
  const HyperCleaningSpec spec = TinyDenoisingSpec();
  const CleaningData data = *MakeCleaningData(TinyImages(), spec);
  // Weight above 0.9 (x > atanh(0.8) ≈ 1.10) exactly on the clean examples.
  const at::Tensor x = at::where(data.corrupted, at::full({80}, 0.5), at::full({80}, 1.5));
  const CleaningData kept = KeptData(data, spec, x);
  EXPECT_EQ(kept.train_y.size(0), 40 + 40);  // 40 clean training examples + 40 validation
  EXPECT_EQ(kept.corrupted.sum().item<int64_t>(), 0);
  EXPECT_TRUE(at::equal(kept.train_x.slice(0, 40), data.val_x));
  EXPECT_TRUE(at::equal(kept.train_y.slice(0, 0, 40), data.train_y.masked_select(~data.corrupted)));
  // Precision and recall at the same threshold: flagged = weight below 0.9.
  HyperCleaningTask task(data, spec, c10::Device(c10::kCPU));
  TaskMetrics m = task.Evaluate({x}, task.InitialInner());
  EXPECT_DOUBLE_EQ(*m.cleaning_precision, 1.0);
  EXPECT_DOUBLE_EQ(*m.cleaning_recall, 1.0);
  // Nothing kept: the validation set alone.
  EXPECT_EQ(KeptData(data, spec, at::zeros({80})).train_y.size(0), 40);
}

TEST(HyperCleaning, MinimaxOptLowersValidationLoss) {
  HyperCleaningSpec spec = TinyCleaningSpec();
  HyperCleaningTask task(*MakeCleaningData(TinyImages(), spec), spec, c10::Device(c10::kCPU));
  bilevel::MinimaxOptOptions options;
  options.num_stages = 2;
  options.iterations_per_stage = 100;
  options.inner_batch_size = 32;
  options.x_optimizer.learning_rate = 1.0;
  ExpectMinimaxLowersValidationLoss(&task, options);
}

}  // namespace
}  // namespace tasks

#include "tasks/resnet_weight_decay.h"

namespace tasks {
namespace {

ImageDataset TinyColourImages() {
  TinyImagesSpec spec;
  spec.source = ImageSource::kCifar10;
  spec.channels = 3;
  spec.side = 8;
  spec.num_train = 60;
  spec.num_test = 20;
  spec.spread = 0.3;
  spec.seed = 9;
  return TinyImages(spec);
}

ResnetSpec TinyResnetSpec() {
  ResnetSpec spec;
  spec.width = 2;
  spec.eval_batch = 16;
  return spec;
}

TEST(Resnet, ShapesSplitAndDescription) {
  auto task =
      ResnetWeightDecayTask::Create(TinyColourImages(), TinyResnetSpec(), c10::Device(c10::kCPU));
  ASSERT_TRUE(task.ok()) << task.status();
  EXPECT_EQ((*task)->InitialOuter()[0].numel(), 21);  // one decay per conv / linear weight
  EXPECT_EQ((*task)->InitialInner().size(), 62u);
  EXPECT_EQ((*task)->NumOuterExamples(), 6);  // 0.1 of 60
  EXPECT_EQ((*task)->NumInnerExamples(), 54);
  const at::Tensor logits =
      (*task)->Forward((*task)->InitialInner(), TinyColourImages().test_images.slice(0, 0, 4));
  EXPECT_EQ(logits.sizes(), (std::vector<int64_t>{4, 10}));
  EXPECT_NE((*task)->DataDescription().find("cifar-10"), std::string::npos);
  // Grey 28×28 Fashion-MNIST-shaped input works unchanged, and says what it stands in for.
  ImageDataset grey = TinyImages();
  grey.source = ImageSource::kFashionMnist;
  auto grey_task = ResnetWeightDecayTask::Create(grey, TinyResnetSpec(), c10::Device(c10::kCPU));
  ASSERT_TRUE(grey_task.ok());
  EXPECT_NE((*grey_task)->DataDescription().find("standing in for CIFAR-10"), std::string::npos);
  ResnetSpec bad = TinyResnetSpec();
  bad.validation_fraction = 1.0;
  EXPECT_FALSE(ResnetWeightDecayTask::Create(grey, bad, c10::Device(c10::kCPU)).ok());
}

TEST(Resnet, GradientsMatchFiniteDifferences) {
  // Double precision and a small step: the tiny network's batch norms make it curved enough that
  // float32 differences with a coarse step miss by 10–30%.
  ResnetSpec spec = TinyResnetSpec();
  spec.double_precision = true;
  auto task = ResnetWeightDecayTask::Create(TinyColourImages(), spec, c10::Device(c10::kCPU));
  ASSERT_TRUE(task.ok());
  ExpectGradientsMatchFiniteDifferences(task->get(), 4, 1e-6);
}

TEST(Resnet, MinimaxOptLowersValidationLoss) {
  auto task =
      ResnetWeightDecayTask::Create(TinyColourImages(), TinyResnetSpec(), c10::Device(c10::kCPU));
  ASSERT_TRUE(task.ok());
  bilevel::MinimaxOptOptions options;
  options.num_stages = 2;
  options.iterations_per_stage = 20;
  options.inner_batch_size = 16;
  options.y_optimizer.type = options.z_optimizer.type = bilevel::OptimizerType::kMomentum;
  options.y_optimizer.learning_rate = options.z_optimizer.learning_rate = 0.05;
  ExpectMinimaxLowersValidationLoss(task->get(), options);
}

// Data of one class (a label file of zeros, a split that caught one class) is an error with the
// numbers, for every task that reads real data — not a model whose accuracy is that class's share.
TEST(DegenerateData, OneClassIsAnErrorWithTheNumbers) {
  ImageDataset one_class = TinyImages();
  one_class.train_labels = at::zeros_like(one_class.train_labels);
  absl::StatusOr<CleaningData> cleaning = MakeCleaningData(one_class, TinyCleaningSpec());
  EXPECT_EQ(cleaning.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(cleaning.status().message().find("training labels: all 80 examples have label 0"),
            std::string::npos)
      << cleaning.status();

  auto resnet = ResnetWeightDecayTask::Create(one_class, TinyResnetSpec(), c10::Device(c10::kCPU));
  EXPECT_EQ(resnet.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(resnet.status().message().find("examples have label 0"), std::string::npos)
      << resnet.status();

  TextCorpus one_topic = TinyCorpus();
  std::fill(one_topic.labels.begin(), one_topic.labels.end(), 1);
  absl::StatusOr<LogisticData> text =
      MakeTextLogisticData(one_topic, TfidfOptions{}, 0.2, 3, "one topic");
  EXPECT_EQ(text.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(text.status().message().find("one topic: the training labels: all 4 examples have "
                                         "label 1"),
            std::string::npos)
      << text.status();
}

}  // namespace
}  // namespace tasks
