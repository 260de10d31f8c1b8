// Time and peak memory of one outer iteration of every solver, against one plain SGD step of the
// same model, on logistic regression with per-feature weight decay (500 features, 2,000 training
// and 2,000 validation examples, full batches, as in the paper's Figure 1) and on a 2-layer MLP
// with about 1M parameters (batch 256).
//
//   bazel run //solvers/tools:baselines_benchmark -- --benchmark_min_time=2
//
// One outer iteration: MinimaxOPT, one iteration (3 gradient calls); F2SA, T = 10 steps on y and
// z plus the x-step; the penalty method, T = 10 steps on y plus the x-step; the hypergradient
// methods, T = 10 inner SGD steps plus the estimate (reverse: through all 10 steps, or the last
// 3; 10 fixed-point or CG iterations or Neumann terms) plus the x-step. Iterations other than
// MinimaxOPT's run through Solve with max_iterations = 1, so they include its setup (copying x0
// and y0). The counter peak_MB is the most memory the iteration held at once beyond what existed
// before it, measured at LibTorch's CPU allocator.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>

#include <functional>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/runtime.h"
#include "solvers/solvers.h"
#include "solvers/testing/benchmark_problems.h"
#include "solvers/tools/benchmark_main.h"

namespace bilevel {
namespace {

constexpr int kInnerSteps = 10;

enum Method : int {
  kPlainStep,
  kMinimax,
  kF2sa,
  kPenalty,
  kReverseFull,
  kReverseTruncated,
  kFixedPoint,
  kCg,
  kNeumann,
  kT1T2,
  kStocBiO,
  kNumMethods,
};

const char* MethodName(int method) {
  static const char* const kNames[] = {"plain_sgd_step", "minimaxopt", "f2sa",        "penalty",
                                       "reverse_K10",    "reverse_K3", "fixed_point", "cg",
                                       "neumann",        "t1t2",       "stocbio"};
  return kNames[method];
}

std::unique_ptr<BilevelProblem> MakeProblem(int which) {
  if (which == 0) return std::make_unique<testing::LogisticProblem>(500, 2000);
  return std::make_unique<testing::MlpProblem>(1250, 4096);
}
const char* ProblemName(int which) { return which == 0 ? "logreg" : "mlp1M"; }
int64_t BatchSize(int which) { return which == 0 ? 0 : 256; }
double LearningRate(int which) { return which == 0 ? 0.1 : 1e-3; }

// Returns a function that runs one outer iteration of `method` on `problem`.
std::function<void()> OuterIteration(int method, int which, BilevelProblem* problem) {
  const int64_t batch = BatchSize(which);
  const double lr = LearningRate(which);
  auto fail = [](const absl::Status& status) {
    if (!status.ok()) {
      std::cerr << "baselines_benchmark: " << status << "\n";
      std::abort();
    }
  };
  switch (method) {
    case kPlainStep: {
      auto y = std::make_shared<TensorList>(DetachedClone(problem->InitialInner()));
      auto x = std::make_shared<TensorList>(problem->InitialOuter());
      auto sampler = std::make_shared<MinibatchSampler>(problem->NumInnerExamples(), batch, 0,
                                                        c10::Device(c10::kCPU));
      auto opt = std::make_shared<GroupOptimizer>(OptimizerOptions{}, *y);
      return [=] {
        TensorList ys = GradLeaves(*y);
        opt->Step(y.get(), Gradients(problem->InnerObjective(*x, ys, sampler->Next()), ys), lr);
      };
    }
    case kMinimax: {
      MinimaxOptOptions options;
      options.outer_batch_size = options.inner_batch_size = batch;
      options.x_optimizer.learning_rate = options.y_optimizer.learning_rate =
          options.z_optimizer.learning_rate = lr;
      auto created = SingleStepper::Create(Validate(options), options, problem, [&] {
        return std::make_unique<MinimaxOptSolver>(options, problem);
      });
      fail(created.status());
      std::shared_ptr<SingleStepper> stepper = std::move(*created);
      return [stepper] { stepper->Step(); };
    }
    case kF2sa: {
      F2saOptions options;
      options.max_iterations = 1;
      options.inner_steps = kInnerSteps;
      options.outer_batch_size = options.inner_batch_size = batch;
      options.x_optimizer.learning_rate = options.y_optimizer.learning_rate =
          options.z_optimizer.learning_rate = lr;
      return [=] {
        SolverSummary summary;
        fail(Solve(options, problem, &summary));
      };
    }
    case kPenalty: {
      PenaltyOptions options;
      options.max_iterations = 1;
      options.inner_steps = kInnerSteps;
      options.outer_batch_size = options.inner_batch_size = batch;
      return [=] {
        SolverSummary summary;
        fail(Solve(options, problem, &summary));
      };
    }
    default: {
      static const HypergradientMethod kMethods[] = {
          HypergradientMethod::kReverse,    HypergradientMethod::kReverse,
          HypergradientMethod::kFixedPoint, HypergradientMethod::kConjugateGradient,
          HypergradientMethod::kNeumann,    HypergradientMethod::kT1T2,
          HypergradientMethod::kStocBiO};
      HypergradientOptions options;
      options.method = kMethods[method - kReverseFull];
      options.truncation = method == kReverseTruncated ? 3 : 0;
      options.max_iterations = 1;
      options.inner_steps = kInnerSteps;
      options.linear_solver_iterations = 10;
      options.linear_solver_step = lr;
      options.inner_optimizer.learning_rate = options.outer_optimizer.learning_rate = lr;
      options.outer_batch_size = options.inner_batch_size = batch;
      return [=] {
        SolverSummary summary;
        fail(Solve(options, problem, &summary));
      };
    }
  }
}

void BM_OuterIteration(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  const int method = static_cast<int>(state.range(1));
  std::unique_ptr<BilevelProblem> problem = MakeProblem(which);
  std::function<void()> iteration = OuterIteration(method, which, problem.get());
  {
    CpuMemoryTracker tracker;
    iteration();
    state.counters["peak_MB"] = static_cast<double>(tracker.PeakBytes()) / (1 << 20);
  }
  for (auto _ : state) iteration();
  state.SetLabel(std::string(ProblemName(which)) + "/" + MethodName(method));
}

void AllMethods(benchmark::internal::Benchmark* b) {
  for (int which : {0, 1}) {
    for (int method = 0; method < kNumMethods; ++method) b->Args({which, method});
  }
}

BENCHMARK(BM_OuterIteration)->Apply(AllMethods)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace bilevel

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  bilevel::ConfigureCpuRuntime(/*threads=*/1);
  return bilevel::RunRegisteredBenchmarks(argc, argv);
}

int main(int argc, char** argv) {
  return bilevel::RunMain("baselines_benchmark", [&] { return UnguardedMain(argc, argv); });
}
