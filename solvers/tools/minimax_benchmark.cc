// Times one MinimaxOPT iteration against one plain gradient step on g for the same problem:
// the paper's claim is that MinimaxOPT costs about as much as plain training (3 gradient
// evaluations per iteration, so at most ~3× a plain step; the target is 3.3×).
//
//   bazel run -c opt //solvers/tools:minimax_benchmark
//   bazel run -c opt //solvers/tools:minimax_benchmark -- --threads=2 --benchmark_min_time=2
//   build-cmake/minimax_benchmark --device=cuda   # CMake with -DHFB_BUILD_BENCHMARKS=ON
//
// On CUDA every iteration ends with a device synchronisation, so that a time is that of the work
// done, not of queueing it (the solver's own checks synchronise too).
//
// Problems: the 100-dimensional quadratic of the tests, and a 2-layer MLP (784–1250–10, about
// 1.0M parameters) on synthetic MNIST-shaped data with one weight decay per layer as x, batch 256
// for both f and g. The data are random (this measures cost, not learning).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>
#include <torch/cuda.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <string>

#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/runtime.h"
#include "solvers/minimax_opt.h"
#include "solvers/testing/benchmark_problems.h"
#include "solvers/testing/exact_problems.h"
#include "solvers/tools/benchmark_main.h"

namespace bilevel {
namespace {

// --device (ours): where the problems and the minibatch indices live.
c10::Device g_device(c10::kCPU);

std::unique_ptr<BilevelProblem> MakeProblem(int which) {
  if (which == 0) {
    testing::QuadraticSpec spec;
    spec.device = g_device;
    return std::make_unique<testing::QuadraticProblem>(spec);
  }
  return std::make_unique<testing::MlpProblem>(/*hidden=*/1250, /*examples=*/4096, g_device);
}

// Waits for the device's queued work (a no-op on the CPU).
void Synchronize() {
  if (g_device.is_cuda()) torch::cuda::synchronize();
}

int64_t BatchSize(int which) { return which == 0 ? 0 : 256; }
const char* Name(int which) { return which == 0 ? "quadratic100" : "mlp1M"; }

// One plain training step: y ← y − η ∇_y g(x, y) on one training minibatch.
void BM_PlainGradientStep(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  std::unique_ptr<BilevelProblem> problem = MakeProblem(which);
  TensorList x = problem->InitialOuter();
  TensorList y = DetachedClone(problem->InitialInner());
  MinibatchSampler sampler(problem->NumInnerExamples(), BatchSize(which), 0, g_device);
  GroupOptimizer opt(OptimizerOptions{}, y);
  for (auto _ : state) {
    TensorList ys = GradLeaves(y);
    at::Tensor g = problem->InnerObjective(x, ys, sampler.Next());
    opt.Step(&y, Gradients(g, ys), 1e-3);
    Synchronize();
  }
  state.SetLabel(Name(which));
}

// The floor of a MinimaxOPT iteration: ∇f(x, y), ∇g(x, y) and ∇g(x, z) by three separate
// backward passes, with no updates or bookkeeping. On the quadratic, f (a 200×200 form) costs
// more than g, so three evaluations cost more than three plain steps.
void BM_ThreeGradientEvaluations(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  std::unique_ptr<BilevelProblem> problem = MakeProblem(which);
  TensorList x = problem->InitialOuter();
  TensorList y = DetachedClone(problem->InitialInner()), z = DetachedClone(y);
  MinibatchSampler outer(problem->NumOuterExamples(), BatchSize(which), 0, g_device);
  MinibatchSampler inner(problem->NumInnerExamples(), BatchSize(which), 1, g_device);
  for (auto _ : state) {
    TensorList xs = GradLeaves(x), ys = GradLeaves(y), zs = GradLeaves(z);
    const Batch bo = outer.Next(), bi = inner.Next();
    TensorList xy = xs, xz = xs;
    xy.insert(xy.end(), ys.begin(), ys.end());
    xz.insert(xz.end(), zs.begin(), zs.end());
    benchmark::DoNotOptimize(Gradients(problem->OuterObjective(xs, ys, bo), xy));
    benchmark::DoNotOptimize(Gradients(problem->InnerObjective(xs, ys, bi), xy));
    benchmark::DoNotOptimize(Gradients(problem->InnerObjective(xs, zs, bi), xz));
    Synchronize();
  }
  state.SetLabel(Name(which));
}

// One MinimaxOPT iteration (Algorithm 2): ∇f(x, y), ∇g(x, y), ∇g(x, z) and three updates.
void BM_MinimaxOptIteration(benchmark::State& state) {
  const int which = static_cast<int>(state.range(0));
  std::unique_ptr<BilevelProblem> problem = MakeProblem(which);
  MinimaxOptOptions options;
  options.outer_batch_size = options.inner_batch_size = BatchSize(which);
  options.x_optimizer.learning_rate = options.y_optimizer.learning_rate =
      options.z_optimizer.learning_rate = 1e-3;
  auto stepper = SingleStepper::Create(Validate(options), options, problem.get(), [&] {
    return std::make_unique<MinimaxOptSolver>(options, problem.get());
  });
  if (!stepper.ok()) {
    state.SkipWithError(std::string(stepper.status().message()).c_str());
    return;
  }
  for (auto _ : state) {
    const StepResult result = (*stepper)->Step();
    if (!result.non_finite.empty()) {
      state.SkipWithError(result.non_finite.c_str());
      return;
    }
    Synchronize();
  }
  state.counters["gradient_calls_per_iteration"] =
      static_cast<double>((*stepper)->counts().GradientCalls()) /
      static_cast<double>(state.iterations());
  state.SetLabel(Name(which));
}

BENCHMARK(BM_PlainGradientStep)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_ThreeGradientEvaluations)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);
BENCHMARK(BM_MinimaxOptIteration)->Arg(0)->Arg(1)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace bilevel

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  // --threads=N (ours) sets LibTorch's intra-op threads; default 1, the fastest here next to
  // OpenBLAS's own pool (see runtime.h). --device=cpu|cuda (ours) places the problems.
  int threads = 1;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) == 0) {
      threads = std::stoi(arg.substr(10));
    } else if (arg == "--device=cuda" || arg == "--device=cpu") {
      if (arg == "--device=cuda" && !torch::cuda::is_available()) {
        std::cerr << "minimax_benchmark: --device=cuda, but this LibTorch sees no CUDA device\n";
        return 2;
      }
      bilevel::g_device = c10::Device(arg == "--device=cuda" ? c10::kCUDA : c10::kCPU);
    } else if (arg.rfind("--device=", 0) == 0) {
      std::cerr << "minimax_benchmark: --device must be cpu or cuda, got '" << arg.substr(9)
                << "'\n";
      return 2;
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  if (threads < 1) {
    std::cerr << "minimax_benchmark: --threads must be >= 1\n";
    return 2;
  }
  bilevel::ConfigureCpuRuntime(threads);
  benchmark::AddCustomContext(
      "mlp_parameters", std::to_string(bilevel::testing::MlpProblem(1250, 1).NumParameters()));
  benchmark::AddCustomContext("device", bilevel::g_device.str());
  return bilevel::RunRegisteredBenchmarks(argc, argv);
}

int main(int argc, char** argv) {
  return bilevel::RunMain("minimax_benchmark", [&] { return UnguardedMain(argc, argv); });
}
