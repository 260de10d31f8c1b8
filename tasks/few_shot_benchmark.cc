// What the few-shot experiment's default preset spends its time on, on synthetic 28x28 drawings
// (no data files needed): one gradient call — f on a meta-batch of 4 episodes' queries, its
// gradient in the extractor x and the heads y, as the solvers evaluate it — and one run of the
// test protocol (Evaluate: 600 test and 200 validation episodes, a fresh head fitted by 100 Adam
// steps on each). The extractor is the default preset's, 4 x [conv3x3-16, batch norm, ReLU,
// max-pool 2]; the settings are the 5-way 1-shot and 20-way 5-shot, 15 queries per class.
//
//   bazel run //tasks:few_shot_benchmark
//
// The timings in the top-level README.md's few-shot paragraph come from this binary.
#include <ATen/ATen.h>
#include <benchmark/benchmark.h>
#include <torch/csrc/autograd/autograd.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "solvers/core/runtime.h"
#include "solvers/tools/benchmark_main.h"
#include "tasks/few_shot.h"
#include "tasks/testing/synthetic_omniglot.h"

namespace tasks {
namespace {

constexpr int64_t kMetaBatch = 4;

// 28x28 drawings (tasks/testing/synthetic_omniglot.h): only the sizes matter to the timings.
OmniglotSplit Synthetic(int64_t characters, int64_t drawers, uint64_t seed) {
  return SyntheticOmniglot(characters, drawers, /*side=*/28, /*ink=*/0.2, seed);
}

// The default preset's task for state.range(0)-way state.range(1)-shot.
std::unique_ptr<FewShotTask> DefaultTask(const benchmark::State& state) {
  FewShotSpec spec;
  spec.ways = state.range(0);
  spec.shots = state.range(1);
  spec.queries = 15;
  spec.channels = 16;
  spec.num_episodes = 100;
  spec.eval_episodes = 600;
  spec.validation_episodes = 200;
  // 200 background classes (40 held out for validation: enough for 20 ways), 100 evaluation.
  absl::StatusOr<std::unique_ptr<FewShotTask>> task = FewShotTask::Create(
      Synthetic(200, 20, 1), Synthetic(100, 20, 2), "synthetic", spec, c10::Device(c10::kCPU));
  if (!task.ok()) {
    std::cerr << task.status() << "\n";
    std::abort();
  }
  return *std::move(task);
}

void BM_GradientCall(benchmark::State& state) {
  std::unique_ptr<FewShotTask> task = DefaultTask(state);
  bilevel::TensorList x = task->InitialOuter(), y = task->InitialInner();
  for (at::Tensor& t : x) t.requires_grad_(true);
  for (at::Tensor& t : y) t.requires_grad_(true);
  bilevel::Batch batch;
  batch.indices = at::arange(kMetaBatch, at::kLong);
  std::vector<at::Tensor> inputs(x.begin(), x.end());
  inputs.insert(inputs.end(), y.begin(), y.end());
  // One call outside the clock: the first one pays for oneDNN's primitive creation.
  torch::autograd::grad({task->OuterObjective(x, y, batch)}, inputs);
  for (auto _ : state) {
    const at::Tensor f = task->OuterObjective(x, y, batch);
    benchmark::DoNotOptimize(torch::autograd::grad({f}, inputs));
  }
  state.counters["images"] = static_cast<double>(kMetaBatch * state.range(0) * 15);
}

void BM_Protocol(benchmark::State& state) {
  std::unique_ptr<FewShotTask> task = DefaultTask(state);
  const bilevel::TensorList x = task->InitialOuter(), y = task->InitialInner();
  for (auto _ : state) benchmark::DoNotOptimize(task->Evaluate(x, y));
}

BENCHMARK(BM_GradientCall)
    ->ArgNames({"ways", "shots"})
    ->Args({5, 1})
    ->Args({20, 5})
    ->MinTime(3.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Protocol)
    ->ArgNames({"ways", "shots"})
    ->Args({5, 1})
    ->Args({20, 5})
    ->Unit(benchmark::kSecond)
    ->Iterations(1);

}  // namespace
}  // namespace tasks

int main(int argc, char** argv) {
  bilevel::ConfigureCpuRuntime(/*threads=*/1);
  return bilevel::RunRegisteredBenchmarks(argc, argv);
}
