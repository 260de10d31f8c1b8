// What data parallelism costs a MinimaxOPT iteration: time per iteration, the share spent in the
// all-reduce, and the bytes it carries, at 1 and N ranks with the same global batch (strong
// scaling), one LibTorch thread per rank. solvers/README.md ("Data-parallel solves") has the
// numbers from this machine and the cost model fitted to them.
//
//   OPENBLAS_NUM_THREADS=1 bazel run //solvers/distributed:data_parallel_benchmark   # 1 rank
//   OPENBLAS_NUM_THREADS=1 bazel run //solvers/distributed:data_parallel_benchmark --
//       --world_size=2   (one command line)
//
// OPENBLAS_NUM_THREADS=1: OpenBLAS keeps its own pool of one thread per core in every process,
// so N ranks on N cores would otherwise oversubscribe them.
//
// Models: the 2-layer MLP 784-hidden-10 of solvers/testing/benchmark_problems.h at hidden 256
// (figure 4's MLP: 203,530 parameters) and hidden 1250 (993,760 parameters), random MNIST-shaped
// data (cost, not learning), global batches of 256 for f and g. Per iteration MinimaxOPT
// all-reduces the gradients of x (2 numbers), y and z (the model twice) and 3 values.
// --per_example_weights makes x one weight per training example (hyper-cleaning's shape) of which
// only the global batch's rows are all-reduced (--all_weight_rows sends all of them, to compare);
// --hidden=0 is figure 4's linear model, where those weights outnumber the model:
//
//   OPENBLAS_NUM_THREADS=1 bazel run //solvers/distributed:data_parallel_benchmark --
//       --world_size=2 --per_example_weights --num_examples=20000 --hidden=0,256
#include <ATen/ATen.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_cat.h"
#include "solvers/core/runtime.h"
#include "solvers/core/solver_loop.h"
#include "solvers/distributed/communicator.h"
#include "solvers/distributed/launch.h"
#include "solvers/minimax_opt.h"
#include "solvers/testing/benchmark_problems.h"

ABSL_FLAG(int, world_size, 1, "local ranks to start (one LibTorch thread each)");
ABSL_FLAG(int, iterations, 60, "timed MinimaxOPT iterations per model");
ABSL_FLAG(int, warmup, 5, "untimed iterations first");
ABSL_FLAG(int, batch, 256, "global minibatch size for f and g");
ABSL_FLAG(std::vector<std::string>, hidden, std::vector<std::string>({"256", "1250"}),
          "hidden widths of the MLPs to time (0: the linear model 784-10)");
ABSL_FLAG(bool, per_example_weights, false,
          "x = one weight per training example (hyper-cleaning's shape; only the global batch's "
          "rows of its gradient are all-reduced) instead of two log weight decays");
ABSL_FLAG(bool, all_weight_rows, false,
          "with --per_example_weights: all-reduce all N rows of the weights' gradient, as without "
          "the declaration (what the rows-only reduction saves)");
ABSL_FLAG(int64_t, num_examples, 4096, "training (and validation) examples");

namespace bilevel {
namespace {
// The per-example problem without its declaration: every row of x's gradient travels.
class UndeclaredMlp : public testing::MlpProblem {
 public:
  using MlpProblem::MlpProblem;
  std::vector<bool> OuterRowsPerInnerExample() const override { return {}; }
};

int Run(int argc, char** argv) {
  ConfigureCpuRuntime(/*threads=*/1);
  const int world = absl::GetFlag(FLAGS_world_size);
  if (world > 1 && std::getenv("RANK") == nullptr) {
    absl::StatusOr<int> code = LaunchLocalRanks(world, std::vector<std::string>(argv, argv + argc));
    if (!code.ok()) std::cerr << code.status() << "\n";
    return code.ok() ? *code : 1;
  }
  DistributedOptions defaults;
  defaults.world_size = 1;
  absl::StatusOr<DistributedOptions> options = DistributedOptionsFromEnvironment(defaults);
  if (!options.ok()) {
    std::cerr << options.status() << "\n";
    return 2;
  }
  absl::StatusOr<std::unique_ptr<Communicator>> comm = Communicator::Connect(*options);
  if (!comm.ok()) {
    std::cerr << comm.status() << "\n";
    return 3;
  }
  Communicator& c = **comm;
  for (const std::string& width : absl::GetFlag(FLAGS_hidden)) {
    const int64_t hidden = std::stoll(width);
    const bool per_example = absl::GetFlag(FLAGS_per_example_weights);
    const bool all_rows = per_example && absl::GetFlag(FLAGS_all_weight_rows);
    const int64_t examples = absl::GetFlag(FLAGS_num_examples);
    const c10::Device cpu(c10::kCPU);
    std::unique_ptr<testing::MlpProblem> owned =
        all_rows ? std::make_unique<UndeclaredMlp>(hidden, examples, cpu, per_example)
                 : std::make_unique<testing::MlpProblem>(hidden, examples, cpu, per_example);
    testing::MlpProblem& problem = *owned;
    int64_t parameters = 0;
    for (const at::Tensor& t : problem.InitialInner()) parameters += t.numel();
    MinimaxOptOptions o;
    o.outer_batch_size = o.inner_batch_size = absl::GetFlag(FLAGS_batch);
    o.num_stages = 1;
    o.iterations_per_stage = 1'000'000;
    o.x_optimizer.learning_rate = 1e-3;
    o.data_parallel = c.world_size() > 1 ? &c : nullptr;
    absl::StatusOr<std::unique_ptr<SingleStepper>> stepper = SingleStepper::Create(
        Validate(o), o, &problem, [&] { return std::make_unique<MinimaxOptSolver>(o, &problem); });
    if (!stepper.ok()) {
      std::cerr << stepper.status() << "\n";
      return 4;
    }
    auto step = [&] {
      const StepResult r = (*stepper)->Step();
      if (!r.communication_failure.empty() || !r.non_finite.empty()) {
        std::cerr << "rank " << c.rank() << ": " << r.communication_failure << r.non_finite << "\n";
        std::exit(5);
      }
    };
    for (int i = 0; i < absl::GetFlag(FLAGS_warmup); ++i) step();
    if (!c.Barrier().ok()) return 6;
    const CommunicationStats before = c.stats();
    const int n = absl::GetFlag(FLAGS_iterations);
    const auto start = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) step();
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const CommunicationStats& after = c.stats();
    const double reduce_ms = 1e3 * (after.all_reduce_seconds - before.all_reduce_seconds) / n;
    const double bytes = static_cast<double>(after.all_reduce_bytes - before.all_reduce_bytes) / n;
    const double calls = static_cast<double>(after.all_reduce_calls - before.all_reduce_calls) / n;
    if (c.rank() == 0) {
      std::printf(
          "world_size %d | mlp hidden %lld (%lld parameters) | x %s | batch %d | "
          "%.2f ms/iteration | all-reduce %.2f ms/iteration (%.1f %%), %.2f calls, %.0f payload "
          "bytes/iteration\n",
          c.world_size(), static_cast<long long>(hidden), static_cast<long long>(parameters),
          per_example ? absl::StrCat(problem.NumInnerExamples(), " example weights",
                                     all_rows ? " (all rows sent)" : "")
                            .c_str()
                      : "2 log decays",
          absl::GetFlag(FLAGS_batch), 1e3 * seconds / n, reduce_ms,
          100 * reduce_ms / (1e3 * seconds / n), calls, bytes);
      std::fflush(stdout);
    }
  }
  return 0;
}

}  // namespace
}  // namespace bilevel

int main(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  return bilevel::Run(argc, argv);
}
