// Data-parallel MinimaxOPT, F2SA, the penalty method and the AID hypergradient methods against
// the one-process solve with the same global batches.
//
// The tolerance. Both runs draw the same global batches (the samplers are seeded alike; each rank
// keeps its contiguous share) and apply the same update, so they differ only in how the batch mean
// is summed: one process sums B per-example terms in one order; W ranks sum their shares, scale by
// n_r·W/B and average. In double precision each way is within about log2(B)·ε ≈ 5·2.2e-16 ≈ 1e-15
// of the exact mean, relative to the sum of the terms' magnitudes. The ridge problem's steps are
// contractions here (small rates), so the per-step differences do not grow: after N = 60
// iterations they add up to at most N·1e-15·(size of an iterate), i.e. 6e-14 relative. We assert
// 1e-11 relative, two orders above that estimate and far below any step (≥ 1e-4 here).
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "solvers/bome.h"
#include "solvers/core/solver_types.h"
#include "solvers/distributed/communicator.h"
#include "solvers/distributed/thread_ranks.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/options_fingerprint.h"
#include "solvers/penalty_method.h"
#include "solvers/testing/exact_problems.h"
#include "solvers/testing/test_device.h"

namespace bilevel {
namespace {

using ::testing::HasSubstr;
using RidgeProblem = ::bilevel::testing::RidgeProblem;
using RidgeSpec = ::bilevel::testing::RidgeSpec;

constexpr double kRelativeTolerance = 1e-11;

RidgeSpec Spec() {
  RidgeSpec spec;
  spec.num_train = 93;  // full batches split 46 / 47 over 2 ranks, 31 each over 3
  spec.num_validation = 60;
  spec.seed = 5;
  return spec;
}

MinimaxOptOptions Options(int64_t outer_batch, int64_t inner_batch) {
  MinimaxOptOptions o;
  o.num_stages = 3;
  o.iterations_per_stage = 20;
  o.outer_batch_size = outer_batch;
  o.inner_batch_size = inner_batch;
  o.seed = 11;
  o.x_optimizer.learning_rate = 0.5;
  return o;
}

double RelativeDifference(const TensorList& a, const TensorList& b) {
  double diff = 0, size = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const at::Tensor u = a[i].cpu(), v = b[i].cpu();  // ranks on a GPU against one CPU process
    diff = std::max(diff, (u - v).abs().max().item<double>());
    size = std::max(size, u.abs().max().item<double>());
  }
  return diff / std::max(size, 1e-300);
}

struct RankResult {
  SolverSummary summary;
  CommunicationStats stats;
};

using ProblemFactory = std::function<std::unique_ptr<BilevelProblem>()>;

std::unique_ptr<BilevelProblem> Ridge() { return std::make_unique<RidgeProblem>(Spec()); }

template <typename Options>
std::vector<RankResult> SolveOnRanks(int world_size, const Options& options,
                                     double timeout_seconds = 30, int stop_rank_early = -1,
                                     const ProblemFactory& make_problem = Ridge) {
  const int port = TestPort();
  std::vector<RankResult> results(world_size);
  RunRanks(world_size, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c =
        Communicator::Connect(LocalRank(r, world_size, port, timeout_seconds));
    ASSERT_TRUE(c.ok()) << c.status();
    std::unique_ptr<BilevelProblem> problem = make_problem();
    Options o = options;
    o.data_parallel = c->get();
    if constexpr (std::is_same_v<Options, MinimaxOptOptions>) {
      if (r == stop_rank_early) o.num_stages = 1;  // leaves after 20 iterations
    }
    absl::Status status = Solve(o, problem.get(), &results[r].summary);
    EXPECT_TRUE(status.ok()) << status;
    results[r].stats = (*c)->stats();
  });
  return results;
}

// `calls_per_iteration`: the all-reduce calls one iteration makes (all tensors are double here,
// so each call is one bucket). The ranks' problems lie on `device`, the one process's on the CPU:
// off the CPU each bucket travels through host memory (Communicator::AllReduceMean) and the
// device's own reductions (cuBLAS against OpenBLAS) add their order's rounding to the shard
// split's, so solvers/device_test's bound of 1e-9 relative applies there instead of 1e-11.
template <typename Options>
void ExpectMatchesOneProcess(int world_size, const Options& options,
                             int64_t calls_per_iteration = 1,
                             c10::Device device = c10::Device(c10::kCPU)) {
  const double tolerance = device.is_cpu() ? kRelativeTolerance : 1e-9;
  RidgeProblem problem(Spec());
  SolverSummary one;
  ASSERT_TRUE(Solve(options, &problem, &one).ok());
  ASSERT_EQ(one.termination, TerminationType::kIterationLimit) << one.message;
  // The solve moved x: a match is not two copies of x0.
  ASSERT_GT(RelativeDifference(one.x, problem.InitialOuter()), 1e-3);
  const std::vector<RankResult> ranks = SolveOnRanks(world_size, options, 30, -1, [device] {
    RidgeSpec spec = Spec();
    spec.device = device;
    return std::unique_ptr<BilevelProblem>(new RidgeProblem(spec));
  });
  for (int r = 0; r < world_size; ++r) {
    const SolverSummary& s = ranks[r].summary;
    EXPECT_EQ(s.termination, TerminationType::kIterationLimit) << s.message;
    ASSERT_EQ(s.x[0].device(), device) << "rank " << r;
    EXPECT_EQ(s.num_iterations, one.num_iterations);
    EXPECT_LE(RelativeDifference(s.x, one.x), tolerance) << device << ", rank " << r;
    EXPECT_LE(RelativeDifference(s.y, one.y), tolerance) << device << ", rank " << r;
    // The recorded values are the global batch's, as in one process.
    EXPECT_NEAR(s.iterations.back().outer_objective, one.iterations.back().outer_objective,
                tolerance * std::abs(one.iterations.back().outer_objective));
    // The oracle counts are global: the budget means the same at every world size.
    EXPECT_EQ(s.oracle_calls.GradientCalls(), one.oracle_calls.GradientCalls());
    // MinimaxOPT: one all-reduce per iteration (x, y, z gradients and the three values).
    if (calls_per_iteration > 0) {
      EXPECT_EQ(ranks[r].stats.all_reduce_calls, calls_per_iteration * one.num_iterations)
          << "rank " << r;
    }
  }
}

TEST(DataParallelMinimaxOptTest, TwoRanksMatchOneProcessOnMinibatches) {
  ExpectMatchesOneProcess(2, Options(/*outer_batch=*/20, /*inner_batch=*/31));  // 15 / 16 split
}

TEST(DataParallelMinimaxOptTest, ThreeRanksMatchOneProcessOnFullBatches) {
  ExpectMatchesOneProcess(3, Options(0, 0));
}

TEST(DataParallelF2saTest, TwoRanksMatchOneProcess) {
  F2saOptions o;
  o.max_iterations = 30;
  o.inner_steps = 3;
  o.outer_batch_size = 20;
  o.inner_batch_size = 31;
  o.seed = 11;
  o.x_optimizer.learning_rate = 0.5;
  // One call per inner step (∇_z g with ∇_y(f + λg)) and one for the outer step.
  ExpectMatchesOneProcess(2, o, /*calls_per_iteration=*/4);
}

PenaltyOptions Penalty() {
  PenaltyOptions o;
  o.max_iterations = 30;
  o.max_iterations_per_stage = 10;  // 3 stages: ρ grows and ν takes the batch's ∇_y g twice
  o.inner_steps = 3;
  o.outer_batch_size = 20;
  o.inner_batch_size = 31;
  o.seed = 11;
  o.x_optimizer.learning_rate = o.y_optimizer.learning_rate = 0.05;
  return o;
}

TEST(DataParallelPenaltyTest, TwoRanksMatchOneProcess) {
  // Two per evaluation of h (the batch's ∇_y g, then the gradients with f and g), T + 1
  // evaluations per iteration.
  ExpectMatchesOneProcess(2, Penalty(), /*calls_per_iteration=*/2 * (3 + 1));
}

HypergradientOptions Aid(HypergradientMethod method) {
  HypergradientOptions o;
  o.method = method;
  o.max_iterations = 20;
  o.inner_steps = 4;
  o.linear_solver_iterations = 5;
  o.linear_solver_step = 0.5;
  o.outer_batch_size = 20;
  o.inner_batch_size = 31;
  o.seed = 11;
  o.outer_optimizer.learning_rate = 0.5;
  o.inner_optimizer.learning_rate = 0.5;
  return o;
}

TEST(DataParallelHypergradientTest, StocBioOnTwoRanksMatchesOneProcess) {
  // T inner gradients, ∇f with ∇_y g, K products on fresh batches, one Jacobian product.
  ExpectMatchesOneProcess(2, Aid(HypergradientMethod::kStocBiO), /*calls_per_iteration=*/4 + 5 + 2);
}

TEST(DataParallelHypergradientTest, ConjugateGradientOnThreeRanksMatchesOneProcess) {
  // CG stops at its tolerance, after as many products as the global residual says: every rank
  // takes the same number (its dot products are of reduced vectors), so the counts are not
  // fixed; the iterates are checked.
  HypergradientOptions o = Aid(HypergradientMethod::kConjugateGradient);
  o.linear_solver_tolerance = 1e-6;
  ExpectMatchesOneProcess(3, o, /*calls_per_iteration=*/0);
}

TEST(DataParallelHypergradientTest, ReverseModeOnTwoRanksMatchesOneProcess) {
  // Its backward pass runs step by step on the ranks (one process backpropagates through the
  // whole graph): T inner gradients, ∇f with ∇_y g's values, one Hessian product per recorded
  // step, the last with the x-adjoint. Truncated to K = 3 of T = 4 steps, then untruncated.
  HypergradientOptions o = Aid(HypergradientMethod::kReverse);
  o.truncation = 3;
  ExpectMatchesOneProcess(2, o, /*calls_per_iteration=*/4 + 1 + 3);
  o.truncation = 0;
  o.outer_batch_size = o.inner_batch_size = 0;  // full batches, split 46 / 47
  ExpectMatchesOneProcess(2, o, /*calls_per_iteration=*/4 + 1 + 4);
}

// Two ranks on the device HFB_TEST_DEVICE names (`cpu` unless set; `cuda` in tools/gpu/run.sh's
// data_parallel_device step, both ranks sharing the one GPU) against one process on the CPU.
TEST(DataParallelDeviceTest, MinimaxOptOnTwoRanksOnTheTestDeviceMatchesOneCpuProcess) {
  ExpectMatchesOneProcess(2, Options(/*outer_batch=*/20, /*inner_batch=*/31),
                          /*calls_per_iteration=*/1, testing::TestDevice());
}

TEST(DataParallelDeviceTest, ConjugateGradientOnTwoRanksOnTheTestDeviceMatchesOneCpuProcess) {
  HypergradientOptions o = Aid(HypergradientMethod::kConjugateGradient);
  o.linear_solver_tolerance = 1e-6;
  ExpectMatchesOneProcess(2, o, /*calls_per_iteration=*/0, testing::TestDevice());
}

TEST(DataParallelMinimaxOptTest, ARankThatLeavesEndsTheOthersSolveWithCommunicationFailed) {
  const std::vector<RankResult> ranks =
      SolveOnRanks(2, Options(20, 31), /*timeout_seconds=*/5, /*stop_rank_early=*/1);
  EXPECT_EQ(ranks[1].summary.termination, TerminationType::kIterationLimit);
  const SolverSummary& s = ranks[0].summary;
  EXPECT_EQ(s.termination, TerminationType::kCommunicationFailed) << s.message;
  EXPECT_THAT(s.message, HasSubstr("rank 0 of 2: the all-reduce"));
  EXPECT_EQ(s.num_iterations, 20);  // the iterations both ranks completed
}

TEST(DataParallelMinimaxOptTest, RankZeroCheckpointsAndTheSolveResumesAtTheSameWorldSizeOnly) {
  MinimaxOptOptions o = Options(20, 31);
  o.checkpoint.path = std::string(std::getenv("TEST_TMPDIR")) + "/data_parallel.ckpt";
  o.checkpoint.every_iterations = 25;  // written after iterations 25 and 50 of 60
  o.checkpoint.fingerprint = "ridge";
  std::remove(o.checkpoint.path.c_str());
  const std::vector<RankResult> first = SolveOnRanks(2, o);
  // One process cannot take over a two-rank checkpoint.
  RidgeProblem problem(Spec());
  SolverSummary one;
  const absl::Status refused = Solve(o, &problem, &one);
  EXPECT_THAT(std::string(refused.message()),
              HasSubstr("written by 2 data-parallel ranks, this solve has 1"));
  // Two ranks resume from iteration 50 and end where the uninterrupted solve ended.
  const std::vector<RankResult> resumed = SolveOnRanks(2, o);
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(resumed[r].summary.resumed_iterations, 50) << "rank " << r;
    EXPECT_EQ(RelativeDifference(resumed[r].summary.x, first[r].summary.x), 0) << "rank " << r;
  }
  std::remove(o.checkpoint.path.c_str());
}

TEST(DataParallelMinimaxOptTest, RanksWithDifferentOptionsOrSeedsAllFailNamingTheField) {
  const int port = TestPort();
  std::vector<absl::Status> same(2), rate(2), seed(2);
  RunRanks(2, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c =
        Communicator::Connect(LocalRank(r, 2, port, /*timeout_seconds=*/20));
    ASSERT_TRUE(c.ok()) << c.status();
    MinimaxOptOptions o = Options(20, 31);
    o.data_parallel = c->get();
    same[r] = CheckSameOnEveryRank(o);
    MinimaxOptOptions other_rate = o;
    if (r == 1) other_rate.x_optimizer.learning_rate = 0.25;
    rate[r] = CheckSameOnEveryRank(other_rate);
    MinimaxOptOptions other_seed = o;
    if (r == 1) other_seed.seed = 12;
    seed[r] = CheckSameOnEveryRank(other_seed);
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(same[r].ok()) << same[r];
    EXPECT_THAT(std::string(rate[r].message()), HasSubstr("x_optimizer.learning_rate=0.25"))
        << "rank " << r;
    EXPECT_THAT(std::string(seed[r].message()), HasSubstr("seed=12")) << "rank " << r;
  }
  // One process has nobody to differ from.
  EXPECT_TRUE(CheckSameOnEveryRank(Options(20, 31)).ok());
}

// Ridge regression whose training examples carry weights σ(u_i), with x = (u, log decay): u has
// one row per inner example, as hyper-cleaning's weights. `declare` says so
// (OuterRowsPerInnerExample); without it a data-parallel step all-reduces all of u's gradient.
class WeightedRidgeProblem : public BilevelProblem {
 public:
  static constexpr int64_t kTrain = 93, kValidation = 60, kFeatures = 10;
  explicit WeightedRidgeProblem(bool declare) : declare_(declare) {
    at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(5);
    const at::TensorOptions d = at::TensorOptions().dtype(at::kDouble);
    const at::Tensor w = at::randn({kFeatures}, gen, d);
    train_x_ = at::randn({kTrain, kFeatures}, gen, d);
    // Every third training label is corrupted: there is something to learn about the weights.
    train_y_ = train_x_.mv(w) + 3.0 * (at::arange(kTrain, d).remainder(3) == 0).to(at::kDouble);
    val_x_ = at::randn({kValidation, kFeatures}, gen, d);
    val_y_ = val_x_.mv(w) + 0.1 * at::randn({kValidation}, gen, d);
  }
  TensorList InitialOuter() override {
    return {at::zeros({kTrain}, at::kDouble), at::zeros({1}, at::kDouble)};
  }
  TensorList InitialInner() override { return {at::zeros({kFeatures}, at::kDouble)}; }
  at::Tensor OuterObjective(const TensorList&, const TensorList& y, const Batch& b) override {
    return 0.5 * (b.Rows(val_x_).mv(y[0]) - b.Rows(val_y_)).pow(2).mean();
  }
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) override {
    const at::Tensor r = b.Rows(train_x_).mv(y[0]) - b.Rows(train_y_);
    return 0.5 * (at::sigmoid(b.Rows(x[0])) * r.pow(2)).mean() +
           0.5 * (x[1].exp() * y[0].pow(2)).sum();
  }
  int64_t NumOuterExamples() const override { return kValidation; }
  int64_t NumInnerExamples() const override { return kTrain; }
  std::vector<bool> OuterRowsPerInnerExample() const override {
    return declare_ ? std::vector<bool>{true, false} : std::vector<bool>{};
  }

 private:
  bool declare_;
  at::Tensor train_x_, train_y_, val_x_, val_y_;
};

// Per-example outer variables: with the declaration a data-parallel solve sends the global
// batch's B rows (or `rows`) of u's gradient instead of all N in each reduction that carries x's
// gradient, `x_reductions` per iteration. The rows it sends have the same means as the dense
// reduction's (the other rows are zero on every rank: adding zeros is exact), and the iterates
// match one process as the ridge runs do.
template <typename Options>
void ExpectPerExampleRowsOnly(int world_size, const Options& options, int64_t x_reductions,
                              int64_t rows = 0) {
  if (rows == 0) rows = options.inner_batch_size;
  auto make = [](bool declare) {
    return [declare] { return std::make_unique<WeightedRidgeProblem>(declare); };
  };
  WeightedRidgeProblem problem(/*declare=*/true);
  SolverSummary one;
  ASSERT_TRUE(Solve(options, &problem, &one).ok());
  ASSERT_EQ(one.termination, TerminationType::kIterationLimit) << one.message;
  ASSERT_GT(RelativeDifference(one.x, problem.InitialOuter()), 1e-3);
  const std::vector<RankResult> sparse = SolveOnRanks(world_size, options, 30, -1, make(true));
  const std::vector<RankResult> dense = SolveOnRanks(world_size, options, 30, -1, make(false));
  const int64_t saved_bytes =
      x_reductions * one.num_iterations * (WeightedRidgeProblem::kTrain - rows) * 8;
  for (int r = 0; r < world_size; ++r) {
    const SolverSummary& s = sparse[r].summary;
    ASSERT_EQ(s.termination, TerminationType::kIterationLimit) << s.message;
    // Two ranks: the same numbers (a + b is b + a). More: Gloo's ring sums each chunk of a
    // bucket starting at another rank, and the shorter bucket moves the chunks' borders, so the
    // other tensors' means may round differently.
    const double same = world_size == 2 ? 0.0 : kRelativeTolerance;
    EXPECT_LE(RelativeDifference(s.x, dense[r].summary.x), same) << "rank " << r;
    EXPECT_LE(RelativeDifference(s.y, dense[r].summary.y), same) << "rank " << r;
    EXPECT_LE(RelativeDifference(s.x, one.x), kRelativeTolerance) << "rank " << r;
    EXPECT_LE(RelativeDifference(s.y, one.y), kRelativeTolerance) << "rank " << r;
    EXPECT_EQ(sparse[r].stats.all_reduce_calls, dense[r].stats.all_reduce_calls);
    EXPECT_EQ(dense[r].stats.all_reduce_bytes - sparse[r].stats.all_reduce_bytes, saved_bytes)
        << "rank " << r;
  }
}

TEST(DataParallelPerExampleOuterTest, MinimaxOptSendsTheBatchRowsOfTheWeightsOnly) {
  ExpectPerExampleRowsOnly(2, Options(/*outer_batch=*/20, /*inner_batch=*/31), 1);
}

TEST(DataParallelPerExampleOuterTest, PenaltyAndConjugateGradientToo) {
  ExpectPerExampleRowsOnly(2, Penalty(), 1);  // h_up's gradient; h_low's has no x
  // ∇f with ∇_y g, and the Jacobian product; split 10 / 10 / 11 over three ranks.
  ExpectPerExampleRowsOnly(3, Aid(HypergradientMethod::kConjugateGradient), 2);
}

TEST(DataParallelPerExampleOuterTest, ReverseModeSendsTheRecordedBatchesRows) {
  // The x-adjoint sums K = 2 recorded steps' Jacobian products: the rows of their two batches
  // (93 examples, batches of 31 without replacement within an epoch: 62 distinct rows).
  HypergradientOptions o = Aid(HypergradientMethod::kReverse);
  o.inner_steps = 3;  // one epoch per iteration: its last two batches are recorded
  o.truncation = 2;
  o.max_iterations = 12;
  ExpectPerExampleRowsOnly(2, o, 1, /*rows=*/62);
}

TEST(DataParallelPerExampleOuterTest, AWrongDeclarationIsAnError) {
  class Wrong : public RidgeProblem {  // x is the log decay per feature, not per example
   public:
    Wrong() : RidgeProblem(Spec()) {}
    std::vector<bool> OuterRowsPerInnerExample() const override { return {true}; }
  } wrong;
  SolverSummary summary;
  const absl::Status status = Solve(Options(20, 31), &wrong, &summary);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("declares x's tensor 0 per inner example (OuterRowsPerInnerExample)"));
}

// A reducer over two ranks that never communicates: enough for the checks before a solve.
class TwoRanksOffline : public GradientReducer {
 public:
  int rank() const override { return 0; }
  int world_size() const override { return 2; }
  absl::Status AllReduceMean(const std::vector<TensorList*>&) override {
    return absl::InternalError("not reached");
  }
  absl::Status CheckSame(const std::string&, const std::string&) override {
    return absl::OkStatus();
  }
};

TEST(DataParallelMinimaxOptTest, WhatCannotRunDataParallelIsAnError) {
  TwoRanksOffline two;
  RidgeProblem problem(Spec());
  SolverSummary summary;
  BomeOptions bome;  // BOME's steps reduce nothing
  bome.data_parallel = &two;
  absl::Status status = Solve(bome, &problem, &summary);
  EXPECT_THAT(std::string(status.message()), HasSubstr("does not run data-parallel"));
  MinimaxOptOptions o = Options(1, 0);  // one validation example cannot feed two ranks
  o.data_parallel = &two;
  status = Solve(o, &problem, &summary);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("outer_batch_size (1) is smaller than the 2 data-parallel ranks"));
  o = Options(20, 31);
  o.data_parallel = &two;
  o.max_wall_time_seconds = 10;
  status = Solve(o, &problem, &summary);
  EXPECT_THAT(std::string(status.message()), HasSubstr("max_wall_time_seconds cannot end"));
  // A problem whose objective is not a mean over the batch says so, and is refused.
  class RatioProblem : public RidgeProblem {
   public:
    RatioProblem() : RidgeProblem(Spec()) {}
    std::string WhyNotDataParallel() const override { return "g is a ratio of batch sums"; }
  } ratio;
  o.max_wall_time_seconds = 0;
  status = Solve(o, &ratio, &summary);
  EXPECT_THAT(std::string(status.message()),
              HasSubstr("cannot be solved data-parallel: g is a ratio of batch sums"));
  EXPECT_EQ(summary.termination, TerminationType::kInvalidOptions);
}

}  // namespace
}  // namespace bilevel
