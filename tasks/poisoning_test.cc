// The poisoning task on tiny generated images: the initial poisons, the objectives against
// their formulas, the gradient with respect to the poison pixels against finite differences, the
// box projection, the targeted metric, and projected solvers that stay in the box and make the
// attack stronger at the re-solved y*(x).
#include "tasks/poisoning.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>

#include <vector>

#include "solvers/core/tensor_list.h"
#include "solvers/inner_solve.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"
#include "tasks/testing/tiny_images.h"

namespace tasks {
namespace {

using bilevel::Batch;
using bilevel::TensorList;

// Enough images that every class is in the validation set.
ImageDataset Images() {
  TinyImagesSpec spec;
  spec.num_train = 300;
  return TinyImages(spec);
}

PoisoningSpec TinySpec() {
  PoisoningSpec spec;
  spec.num_train = 60;
  spec.num_val = 100;
  spec.num_test = 40;
  spec.num_poisons = 6;
  spec.weight_decay = 0.01;
  return spec;
}

TEST(Poisoning, InitialPoisonsAreRelabelledCopiesOfTrainingExamples) {
  const PoisoningData data = *MakePoisoningData(Images(), TinySpec());
  ASSERT_EQ(data.poison_x.sizes(), (std::vector<int64_t>{6, 16}));
  EXPECT_TRUE(at::equal(data.poison_x, data.train_x.index_select(0, data.poison_origin)));
  // Untargeted: every label differs from the copied example's.
  EXPECT_FALSE(data.poison_y.eq(data.train_y.index_select(0, data.poison_origin)).any().item<bool>());
  EXPECT_TRUE(data.poison_y.ge(0).logical_and(data.poison_y.lt(10)).all().item<bool>());
  // Deterministic in the seed; another seed copies other examples.
  EXPECT_TRUE(at::equal(MakePoisoningData(Images(), TinySpec())->poison_origin,
                        data.poison_origin));
  PoisoningSpec other = TinySpec();
  other.seed = 2;
  EXPECT_FALSE(at::equal(MakePoisoningData(Images(), other)->poison_origin,
                         data.poison_origin));

  PoisoningSpec targeted = TinySpec();
  targeted.source = 8;
  targeted.target = 3;
  const PoisoningData t = *MakePoisoningData(Images(), targeted);
  EXPECT_TRUE(t.train_y.index_select(0, t.poison_origin).eq(8).all().item<bool>());
  EXPECT_TRUE(t.poison_y.eq(3).all().item<bool>());
}

TEST(Poisoning, BadSpecsAreClearErrors) {
  PoisoningSpec spec = TinySpec();
  spec.num_train = 250;  // 250 + 100 > the 300 tiny training images
  EXPECT_NE(std::string(MakePoisoningData(Images(), spec).status().message())
                .find("at most the 300 training images"),
            std::string::npos);
  spec = TinySpec();
  spec.source = 8;
  spec.target = 8;
  EXPECT_EQ(MakePoisoningData(Images(), spec).status().code(),
            absl::StatusCode::kInvalidArgument);
  spec = TinySpec();
  spec.num_poisons = -1;
  EXPECT_FALSE(MakePoisoningData(Images(), spec).ok());
  spec = TinySpec();
  spec.weight_decay = 0;
  EXPECT_FALSE(MakePoisoningData(Images(), spec).ok());
}

TEST(Poisoning, ObjectivesMatchTheirFormulas) {
  const PoisoningSpec spec = TinySpec();
  const PoisoningData data = *MakePoisoningData(Images(), spec);
  PoisoningTask task(data, spec, c10::Device(c10::kCPU));
  EXPECT_EQ(task.Name(), "poisoning(untargeted, 6 poisons)");
  EXPECT_EQ(task.NumInnerExamples(), 66);
  EXPECT_EQ(task.NumOuterExamples(), 100);
  const at::Tensor w = at::randn({16, 10}) * 0.3;
  const at::Tensor x = at::rand({6, 16});
  const double ridge = 0.5 * 0.01 * w.pow(2).sum().item<double>();
  const at::Tensor all_x = at::cat({data.train_x, x}), all_y = at::cat({data.train_y, data.poison_y});
  EXPECT_NEAR(task.InnerObjective({x}, {w}, Batch{}).item<double>(),
              at::cross_entropy_loss(at::mm(all_x, w), all_y).item<double>() + ridge, 1e-5);
  // Index n + j is poison j.
  const at::Tensor rows = at::tensor({3, 61, 65}, at::kLong);
  EXPECT_NEAR(task.InnerObjective({x}, {w}, Batch{rows, 0}).item<double>(),
              at::cross_entropy_loss(at::mm(all_x.index_select(0, rows), w),
                                     all_y.index_select(0, rows))
                      .item<double>() +
                  ridge,
              1e-5);
  // Untargeted: the negative validation cross-entropy.
  EXPECT_NEAR(task.OuterObjective({x}, {w}, Batch{}).item<double>(),
              -at::cross_entropy_loss(at::mm(data.val_x, w), data.val_y).item<double>(), 1e-5);

  PoisoningSpec targeted = spec;
  targeted.source = 8;
  targeted.target = 3;
  PoisoningTask t(*MakePoisoningData(Images(), targeted), targeted, c10::Device(c10::kCPU));
  const at::Tensor eights = data.val_x.index_select(0, data.val_y.eq(8).nonzero().flatten());
  ASSERT_GT(eights.size(0), 0);
  EXPECT_EQ(t.NumOuterExamples(), eights.size(0));
  EXPECT_NEAR(t.OuterObjective({x}, {w}, Batch{}).item<double>(),
              at::cross_entropy_loss(at::mm(eights, w),
                                     at::full({eights.size(0)}, 3, at::kLong))
                  .item<double>(),
              1e-5);
}

TEST(Poisoning, PixelGradientMatchesFiniteDifferences) {
  const PoisoningSpec spec = TinySpec();
  PoisoningTask task(*MakePoisoningData(Images(), spec), spec, c10::Device(c10::kCPU));
  const at::Tensor w = (at::randn({16, 10}, at::kDouble) * 0.5).to(at::kFloat);
  at::Tensor x = task.InitialOuter()[0].clone().requires_grad_(true);
  const at::Tensor grad = bilevel::Gradients(task.InnerObjective({x}, {w}, Batch{}), {x})[0];
  c10::NoGradGuard no_grad;
  x = x.detach();
  for (int64_t index : {0, 17, 40, 95}) {
    at::Tensor flat = x.view({-1});
    const double saved = flat[index].item<double>(), h = 1e-2;
    flat[index] = saved + h;
    const double plus = task.InnerObjective({x}, {w}, Batch{}).item<double>();
    flat[index] = saved - h;
    const double minus = task.InnerObjective({x}, {w}, Batch{}).item<double>();
    flat[index] = saved;
    EXPECT_NEAR(grad.view({-1})[index].item<double>(), (plus - minus) / (2 * h), 2e-4)
        << "pixel " << index;
  }
}

TEST(Poisoning, ProjectionClampsToTheBoxAndTargetSuccessCounts) {
  PoisoningSpec spec = TinySpec();
  spec.source = 8;
  spec.target = 3;
  PoisoningTask task(*MakePoisoningData(Images(), spec), spec, c10::Device(c10::kCPU));
  TensorList x = {at::linspace(-1, 2, 96).view({6, 16})};
  task.ProjectOuter(&x);
  EXPECT_EQ(x[0].min().item<float>(), 0);
  EXPECT_EQ(x[0].max().item<float>(), 1);
  EXPECT_FLOAT_EQ(x[0].view({-1})[48].item<float>(), at::linspace(-1, 2, 96)[48].item<float>());
  // W whose class-3 column dominates: every test example is predicted 3.
  at::Tensor w = at::zeros({16, 10});
  w.select(1, 3).fill_(1);
  TaskMetrics m = task.Evaluate(x, {w});
  EXPECT_DOUBLE_EQ(*m.target_success, 1.0);
  EXPECT_FALSE(PoisoningTask(*MakePoisoningData(Images(), TinySpec()), TinySpec(),
                             c10::Device(c10::kCPU))
                   .Evaluate(x, {w})
                   .target_success.has_value());
  // No poisons: the clean training set; the inner problem still solves.
  PoisoningSpec clean = TinySpec();
  clean.num_poisons = 0;
  PoisoningTask none(*MakePoisoningData(Images(), clean), clean, c10::Device(c10::kCPU));
  EXPECT_EQ(none.InitialOuter()[0].size(0), 0);
  absl::StatusOr<bilevel::InnerSolveResult> solved = bilevel::SolveInnerExactly(
      &none, none.InitialOuter(), none.InitialInner(), bilevel::ExactInnerOptions{1e-4, 500});
  ASSERT_TRUE(solved.ok()) << solved.status();
  EXPECT_TRUE(solved->converged);
}

// The validation cross-entropy at the re-solved y*(x): what the untargeted attack raises.
double AttackedValidationLoss(PoisoningTask* task, const TensorList& x) {
  absl::StatusOr<bilevel::InnerSolveResult> solved = bilevel::SolveInnerExactly(
      task, x, task->InitialInner(), bilevel::ExactInnerOptions{1e-4, 1000});
  EXPECT_TRUE(solved.ok() && solved->converged) << (solved.ok() ? solved->gradient_norm : -1);
  return -task->Evaluate(x, solved->y).validation_loss;
}

// Projected steps: the poisons stay in the box and the attack beats its initial label flips.
TEST(Poisoning, ProjectedSolversStayInTheBoxAndStrengthenTheAttack) {
  PoisoningSpec spec = TinySpec();
  spec.num_poisons = 12;
  PoisoningTask task(*MakePoisoningData(Images(), spec), spec, c10::Device(c10::kCPU));
  const double initial = AttackedValidationLoss(&task, task.InitialOuter());

  bilevel::MinimaxOptOptions minimax;
  minimax.num_stages = 3;
  minimax.iterations_per_stage = 150;
  minimax.x_optimizer.type = bilevel::OptimizerType::kAdam;
  minimax.x_optimizer.learning_rate = 0.05;
  bilevel::PenaltyOptions penalty;
  penalty.max_iterations = 150;
  penalty.inner_steps = 10;
  penalty.x_optimizer.learning_rate = 0.05;
  for (int which = 0; which < 2; ++which) {
    bilevel::SolverSummary summary;
    ASSERT_TRUE((which == 0 ? bilevel::Solve(minimax, &task, &summary)
                            : bilevel::Solve(penalty, &task, &summary))
                    .ok());
    ASSERT_TRUE(summary.IsSolutionUsable()) << summary.message;
    EXPECT_GE(summary.x[0].min().item<float>(), 0.0f);
    EXPECT_LE(summary.x[0].max().item<float>(), 1.0f);
    EXPECT_GT(AttackedValidationLoss(&task, summary.x), initial + 0.01)
        << (which == 0 ? "MinimaxOPT" : "Penalty") << ": " << summary.BriefReport();
  }
}

}  // namespace
}  // namespace tasks
