// Measures what common random numbers buy MinimaxOPT on a task with dropout: the variance of the
// minibatch x-gradient ∇_x L_λ = λ(∇_x g(x, y) − ∇_x g(x, z)) (f does not depend on x) when
// g(x, y) and g(x, z)
// share their dropout masks (MinimaxOptOptions::common_random_numbers, the default) and when they
// draw them apart. Hyper-cleaning on MNIST (figure 4's task, noise 0.5): MinimaxOPT runs for a
// while so that y and z differ, then the x-gradient is sampled on `--batches` fresh minibatches
// at the final (x, y, z, λ), with and without shared masks.
//
//   bazel run //experiments:crn_variance -- --iterations=600 --batches=200
#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <iostream>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/str_format.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/minimax_opt.h"
#include "solvers/core/runtime.h"
#include "solvers/core/tensor_list.h"
#include "tasks/data/data_files.h"
#include "tasks/data/image_datasets.h"
#include "tasks/hyper_cleaning.h"

ABSL_FLAG(int, iterations, 600, "MinimaxOPT iterations before the measurement (3 stages)");
ABSL_FLAG(int, batches, 200, "minibatches the x-gradient is sampled on");
ABSL_FLAG(int, batch_size, 256, "training and validation minibatch size");
ABSL_FLAG(std::string, data_dir, "", "the data cache (default: $BILEVEL_DATA_DIR or ~/.cache/...)");

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  bilevel::ConfigureCpuRuntime(1);
  std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) dir = tasks::DefaultDataDir();
  absl::StatusOr<tasks::ImageDataset> mnist = tasks::LoadMnistLike(tasks::ImageSource::kMnist, dir);
  if (!mnist.ok()) {
    std::cerr << "crn_variance: " << mnist.status().message() << "\n";
    return 1;
  }
  tasks::HyperCleaningSpec spec;
  absl::StatusOr<tasks::CleaningData> data = tasks::MakeCleaningData(*mnist, spec);
  if (!data.ok()) {
    std::cerr << "crn_variance: " << data.status().message() << "\n";
    return 1;
  }
  tasks::HyperCleaningTask task(std::move(*data), spec, c10::Device(c10::kCPU));

  const int64_t batch = absl::GetFlag(FLAGS_batch_size);
  bilevel::MinimaxOptOptions options;
  options.num_stages = 3;
  options.iterations_per_stage = std::max(1, absl::GetFlag(FLAGS_iterations) / 3);
  options.outer_batch_size = options.inner_batch_size = batch;
  options.x_optimizer.learning_rate = 100;
  options.y_optimizer.learning_rate = options.z_optimizer.learning_rate = 0.1;
  bilevel::SolverSummary summary;
  absl::Status status = bilevel::Solve(options, &task, &summary);
  if (!status.ok() || !summary.IsSolutionUsable()) {
    std::cerr << "crn_variance: " << status.message() << summary.message << "\n";
    return 1;
  }
  const double lambda = summary.final_lambda.value();  // MinimaxOPT records its λ
  std::cout << summary.BriefReport() << "\n";

  // Hyper-cleaning's f does not depend on x, so ∇_x L_λ = λ(∇_x g(x, y) − ∇_x g(x, z)).
  for (bool common : {true, false}) {
    bilevel::MinibatchSampler inner(task.NumInnerExamples(), batch, 7, c10::Device(c10::kCPU));
    at::Tensor sum, sum_squares;
    const int n = absl::GetFlag(FLAGS_batches);
    for (int b = 0; b < n; ++b) {
      bilevel::TensorList xs = bilevel::GradLeaves(summary.x);
      const bilevel::Batch in = inner.Next();
      bilevel::Batch in_z = in;
      if (!common) in_z.noise_key = bilevel::MixKey(in.noise_key, 0x7a);
      const at::Tensor gap = task.InnerObjective(xs, summary.y, in) -
                             task.InnerObjective(xs, summary.inner, in_z);
      const at::Tensor grad = bilevel::Gradients(lambda * gap, xs)[0].detach();
      if (b == 0) {
        sum = at::zeros_like(grad);
        sum_squares = at::zeros_like(grad);
      }
      sum += grad;
      sum_squares += grad * grad;
    }
    const at::Tensor mean = sum / n;
    const double variance = ((sum_squares / n - mean * mean) * n / (n - 1)).sum().item<double>();
    std::cout << absl::StrFormat(
        "common random numbers %-3s: lambda %g, trace Var[grad_x L] = %.6g, |E grad_x L|^2 = "
        "%.6g (%d batches of %d)\n",
        common ? "on" : "off", lambda, variance, mean.pow(2).sum().item<double>(), n, batch);
  }
  return 0;
}

int main(int argc, char** argv) {
  return bilevel::RunMain("crn_variance", [&] { return UnguardedMain(argc, argv); });
}
