#include "tasks/few_shot.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/csrc/autograd/autograd.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"
#include "tasks/testing/synthetic_omniglot.h"

namespace tasks {
namespace {

using bilevel::TensorList;

// In-memory splits of 8x8 drawings (tasks/testing/synthetic_omniglot.h).
OmniglotSplit Synthetic(int64_t characters, int64_t drawers, uint64_t seed) {
  return SyntheticOmniglot(characters, drawers, /*side=*/8, /*ink=*/0.3, seed);
}

FewShotSpec TinySpec() {
  FewShotSpec spec;
  spec.ways = 3;
  spec.shots = 1;
  spec.queries = 2;
  spec.num_episodes = 8;
  spec.channels = 4;
  spec.blocks = 2;  // 8x8 -> 2x2: 16-d features
  spec.eval_episodes = 20;
  spec.validation_episodes = 12;
  spec.head_steps = 30;
  spec.head_lr = 0.05;
  spec.validation_fraction = 0.25;
  return spec;
}

std::unique_ptr<FewShotTask> TinyTask(const FewShotSpec& spec = TinySpec()) {
  absl::StatusOr<std::unique_ptr<FewShotTask>> task = FewShotTask::Create(
      Synthetic(16, 6, 1), Synthetic(8, 6, 2), "synthetic", spec, c10::Device(c10::kCPU));
  EXPECT_TRUE(task.ok()) << task.status();
  return task.ok() ? *std::move(task) : nullptr;
}

TEST(FewShot, EpisodesHoldDistinctClassesAndDrawings) {
  const std::vector<int64_t> classes = {2, 3, 5, 7, 11};
  const Episodes e = SampleEpisodes(classes, 6, 10, 3, 2, 3, 42);
  ASSERT_EQ(e.support.sizes(), (std::vector<int64_t>{10, 6}));
  ASSERT_EQ(e.query.sizes(), (std::vector<int64_t>{10, 9}));
  for (int64_t i = 0; i < 10; ++i) {
    std::set<int64_t> episode_classes, drawings;
    for (int64_t k = 0; k < 3; ++k) {
      const int64_t c = e.support[i][2 * k].item<int64_t>() / 6;
      EXPECT_TRUE(std::count(classes.begin(), classes.end(), c)) << c;
      episode_classes.insert(c);
      // Class-major: class k's shots and queries all belong to the same character.
      for (int64_t j = 0; j < 2; ++j) {
        EXPECT_EQ(e.support[i][2 * k + j].item<int64_t>() / 6, c);
        drawings.insert(e.support[i][2 * k + j].item<int64_t>());
      }
      for (int64_t j = 0; j < 3; ++j) {
        EXPECT_EQ(e.query[i][3 * k + j].item<int64_t>() / 6, c);
        drawings.insert(e.query[i][3 * k + j].item<int64_t>());
      }
    }
    EXPECT_EQ(episode_classes.size(), 3u);
    EXPECT_EQ(drawings.size(), 15u);  // support and queries never share a drawing
  }
  EXPECT_TRUE(e.support.equal(SampleEpisodes(classes, 6, 10, 3, 2, 3, 42).support));
  EXPECT_FALSE(e.support.equal(SampleEpisodes(classes, 6, 10, 3, 2, 3, 43).support));
}

TEST(FewShot, BadSpecsAreErrors) {
  auto create = [](const FewShotSpec& spec) {
    return FewShotTask::Create(Synthetic(16, 6, 1), Synthetic(8, 6, 2), "synthetic", spec,
                               c10::Device(c10::kCPU))
        .status();
  };
  FewShotSpec spec = TinySpec();
  spec.queries = 6;  // 1 + 6 > 6 drawings
  EXPECT_NE(create(spec).message().find("exceed the 6 drawings"), std::string::npos);
  spec = TinySpec();
  spec.ways = 5;  // 16 characters, a quarter held out: 4 validation classes
  EXPECT_NE(create(spec).message().find("4 validation classes cannot make 5-way"),
            std::string::npos)
      << create(spec);
  spec = TinySpec();
  spec.blocks = 4;  // 8x8 pooled 4 times
  EXPECT_EQ(create(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = TinySpec();
  spec.head_lr = 0;
  EXPECT_EQ(create(spec).code(), absl::StatusCode::kInvalidArgument);
  spec = TinySpec();
  spec.validation_episodes = 0;
  EXPECT_NE(create(spec).message().find("validation_episodes 0"), std::string::npos)
      << create(spec);
}

TEST(FewShot, BatchNormIsPerEpisodeAndObjectivesMatchTheirFormula) {
  std::unique_ptr<FewShotTask> task = TinyTask();
  ASSERT_NE(task, nullptr);
  const TensorList x = task->InitialOuter(), y = task->InitialInner();
  ASSERT_EQ(y[0].sizes(), (std::vector<int64_t>{8, 3, 16}));
  at::Generator gen = at::detail::createCPUGenerator(5);
  const at::Tensor images = at::rand({2, 4, 1, 8, 8}, gen);
  const at::Tensor both = task->Features(x, images);
  ASSERT_EQ(both.sizes(), (std::vector<int64_t>{2, 4, 16}));
  // An episode's features do not depend on the other episodes of the batch.
  EXPECT_TRUE(at::allclose(both[1], task->Features(x, images.narrow(0, 1, 1))[0], 1e-5, 1e-6));

  // g and f on a batch of one episode: the mean cross-entropy of 10·cos(φ(image), W_c) over its
  // support (queries), class-major labels, by hand.
  bilevel::Batch batch;
  batch.indices = at::tensor({5}, at::kLong);
  const at::Tensor w = y[0][5] / y[0][5].norm(2, 1, true);
  for (const bool inner : {true, false}) {
    const at::Tensor rows =
        inner ? task->TrainingEpisodes().support[5] : task->TrainingEpisodes().query[5];
    const at::Tensor features =
        task->Features(x, task->TrainingImages().index_select(0, rows).unsqueeze(0))[0];
    const at::Tensor phi = features / features.norm(2, 1, true);
    const at::Tensor logits = 10 * phi.matmul(w.t());
    const int64_t per_class = rows.size(0) / 3;
    const at::Tensor labels = at::arange(3).repeat_interleave(per_class);
    const double expected = at::cross_entropy_loss(logits, labels).item<double>();
    const double got =
        (inner ? task->InnerObjective(x, y, batch) : task->OuterObjective(x, y, batch))
            .item<double>();
    EXPECT_NEAR(got, expected, 1e-5) << (inner ? "g" : "f");
  }
  // Only episode 5's head enters g on that batch.
  const double g = task->InnerObjective(x, y, batch).item<double>();
  TensorList other = {y[0].clone()};
  other[0][3].mul_(-1);
  EXPECT_DOUBLE_EQ(task->InnerObjective(x, other, batch).item<double>(), g);
}

TEST(FewShot, GradientsMatchFiniteDifferences) {
  // In double precision (images and variables), so that a small step stays clear of the kinks
  // of ReLU and max-pooling.
  OmniglotSplit background = Synthetic(16, 6, 1), evaluation = Synthetic(8, 6, 2);
  background.images = background.images.to(at::kDouble);
  evaluation.images = evaluation.images.to(at::kDouble);
  std::unique_ptr<FewShotTask> task =
      *FewShotTask::Create(background, evaluation, "synthetic", TinySpec(), c10::Device(c10::kCPU));
  TensorList x = task->InitialOuter(), y = task->InitialInner();
  for (at::Tensor& t : x) t = t.to(at::kDouble);
  y[0] = y[0].to(at::kDouble);
  bilevel::Batch batch;
  batch.indices = at::tensor({0, 2}, at::kLong);
  for (at::Tensor& t : x) t.requires_grad_(true);
  const TensorList grads = {torch::autograd::grad({task->OuterObjective(x, y, batch)}, x)};
  // Coordinates of the first convolution (its gradient passes through every batch norm and
  // pooling) and of the last batch-norm shift.
  for (const auto& [tensor, i] : {std::pair<int, int64_t>{0, 0}, {0, 7}, {0, 20}, {7, 1}}) {
    const double h = 1e-6;
    TensorList plus, minus;
    for (const at::Tensor& t : x) {
      plus.push_back(t.detach().clone());
      minus.push_back(t.detach().clone());
    }
    plus[tensor].view({-1})[i] += h;
    minus[tensor].view({-1})[i] -= h;
    const double numeric = (task->OuterObjective(plus, y, batch).item<double>() -
                            task->OuterObjective(minus, y, batch).item<double>()) /
                           (2 * h);
    EXPECT_NEAR(grads[tensor].view({-1})[i].item<double>(), numeric,
                1e-6 + 1e-4 * std::abs(numeric))
        << tensor << "/" << i;
  }
}

TEST(FewShot, ProtocolIsDeterministicAndLearnsTheSyntheticClasses) {
  std::unique_ptr<FewShotTask> task = TinyTask();
  ASSERT_NE(task, nullptr);
  const TensorList x = task->InitialOuter(), y = task->InitialInner();
  const TaskMetrics a = task->Evaluate(x, y), b = task->Evaluate(x, y);
  EXPECT_EQ(a.test_accuracy, b.test_accuracy);
  EXPECT_EQ(a.validation_loss, b.validation_loss);
  ASSERT_TRUE(a.test_accuracy_ci95.has_value());
  EXPECT_GT(*a.test_accuracy_ci95, 0);
  // One shot of a noisy stroke pattern is enough to recognise it well above chance (1/3).
  EXPECT_GT(a.test_accuracy, 0.6);
  // No head steps: the heads stay at their random start, and accuracy falls toward chance.
  FewShotSpec idle = TinySpec();
  idle.head_steps = 0;
  EXPECT_LT(TinyTask(idle)->Evaluate(x, y).test_accuracy, a.test_accuracy);
}

// The reference "pretrained": plain classification over the meta-training classes, whose loss
// falls. (Whether it transfers to held-out classes is what the experiment measures.)
TEST(FewShot, PretrainingIsAReferenceThatLearns) {
  FewShotSpec spec = TinySpec();
  spec.pretrain_steps = 200;
  spec.pretrain_batch = 32;
  spec.pretrain_lr = 0.01;
  std::unique_ptr<FewShotTask> random = TinyTask(), pretrained = TinyTask(spec);
  ASSERT_NE(pretrained, nullptr);
  const TensorList x = pretrained->InitialOuter();
  EXPECT_FALSE(x[0].equal(random->InitialOuter()[0]));
  EXPECT_TRUE(x[0].equal(pretrained->InitialOuter()[0]));  // computed once, in Create
  const std::pair<double, double> losses = pretrained->PretrainingLosses();
  EXPECT_LT(losses.second, 0.5 * losses.first) << losses.first << " -> " << losses.second;
  EXPECT_TRUE(std::isnan(random->PretrainingLosses().first));
}

// Both Hessian-free methods run on minibatches of episodes (the penalty method through double
// backpropagation of batch norm, max-pooling and the cosine head) and lower f on their pool.
TEST(FewShot, SolversRunOnMinibatchesOfEpisodes) {
  std::unique_ptr<FewShotTask> task = TinyTask();
  ASSERT_NE(task, nullptr);
  const double start =
      task->OuterObjective(task->InitialOuter(), task->InitialInner(), bilevel::Batch())
          .item<double>();
  bilevel::MinimaxOptOptions minimax;
  minimax.num_stages = 2;
  minimax.iterations_per_stage = 40;
  minimax.outer_batch_size = minimax.inner_batch_size = 2;
  minimax.x_optimizer.learning_rate = minimax.y_optimizer.learning_rate =
      minimax.z_optimizer.learning_rate = 0.1;
  bilevel::PenaltyOptions penalty;
  penalty.max_iterations = 15;
  penalty.inner_steps = 5;
  penalty.outer_batch_size = penalty.inner_batch_size = 2;
  penalty.x_optimizer.learning_rate = 0.01;
  penalty.y_optimizer.learning_rate = 0.01;
  for (int which = 0; which < 2; ++which) {
    bilevel::SolverSummary summary;
    ASSERT_TRUE((which == 0 ? bilevel::Solve(minimax, task.get(), &summary)
                            : bilevel::Solve(penalty, task.get(), &summary))
                    .ok());
    ASSERT_TRUE(summary.IsSolutionUsable()) << summary.message;
    // Below the start and clearly below ln 3, the loss of uniform guessing among 3 ways (which
    // a collapse of the features or heads to zero would give).
    const double f = task->OuterObjective(summary.x, summary.y, bilevel::Batch()).item<double>();
    EXPECT_LT(f, std::min(start, 0.75 * std::log(3.0)))
        << (which == 0 ? "MinimaxOPT" : "Penalty") << ": " << summary.BriefReport();
  }
}

}  // namespace
}  // namespace tasks
