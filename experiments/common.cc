#include "experiments/common.h"

#include <ATen/Context.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "solvers/runtime.h"
#include "tasks/data/data_files.h"

ABSL_FLAG(std::string, preset, "default",
          "ci (each binary under a minute on 2 cores), default (faithful in kind, minutes on a "
          "2-core CPU) or paper (the paper's scale, for a GPU)");
ABSL_FLAG(std::string, output_dir, "",
          "where the CSV curves and manifest go (default: experiments/output/<figure>/<preset> "
          "in the workspace)");
ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");
ABSL_FLAG(std::string, seeds, "", "comma-separated seeds (default: the preset's)");
ABSL_FLAG(std::string, data_dir, "",
          "the data cache tools/setup.sh fills (default: $BILEVEL_DATA_DIR or "
          "~/.cache/hessian-free-bilevel)");
ABSL_FLAG(int, threads, 1, "LibTorch intra-op threads (BLAS keeps its own pool)");
ABSL_FLAG(double, checkpoint_seconds, 60,
          "checkpoint each run after this much solver time, so that an interrupted experiment "
          "continues where it stopped when rerun with the same flags (0: off)");

namespace experiments {

int Main(const std::string& figure, int argc, char** argv,
         const std::function<absl::Status(const Settings&)>& body) {
  absl::SetProgramUsageMessage(absl::StrCat("Runs the experiment behind ", figure,
                                            " of the paper and writes its CSV curves and "
                                            "manifest.\n  bazel run //experiments:",
                                            figure, " -- --preset=ci"));
  absl::ParseCommandLine(argc, argv);
  Settings s;
  s.figure = figure;
  s.preset = absl::GetFlag(FLAGS_preset);
  if (s.preset != "ci" && s.preset != "default" && s.preset != "paper") {
    std::cerr << figure << ": --preset must be ci, default or paper, got '" << s.preset << "'\n";
    return 2;
  }
  const std::string device = absl::GetFlag(FLAGS_device);
  if (device == "cuda") {
    if (!at::hasCUDA()) {
      std::cerr << figure << ": --device=cuda, but this LibTorch has no CUDA device available "
                << "(build with --repo_env=LIBTORCH_HOME=<a CUDA LibTorch> on a GPU machine)\n";
      return 2;
    }
    s.device = c10::Device(c10::kCUDA);
  } else if (device != "cpu") {
    std::cerr << figure << ": --device must be cpu or cuda, got '" << device << "'\n";
    return 2;
  }
  for (absl::string_view part :
       absl::StrSplit(absl::GetFlag(FLAGS_seeds), ',', absl::SkipWhitespace())) {
    uint64_t seed;
    if (!absl::SimpleAtoi(part, &seed)) {
      std::cerr << figure << ": --seeds must be comma-separated non-negative integers, got '"
                << absl::GetFlag(FLAGS_seeds) << "'\n";
      return 2;
    }
    s.seeds.push_back(seed);
  }
  if (s.seeds.empty()) {
    s.seeds = s.preset == "ci"        ? std::vector<uint64_t>{1}
              : s.preset == "default" ? std::vector<uint64_t>{1, 2, 3}
                                      : std::vector<uint64_t>{1, 2, 3, 4, 5};
  }
  s.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);
  if (!(s.checkpoint_seconds >= 0) || std::isinf(s.checkpoint_seconds)) {
    std::cerr << figure << ": --checkpoint_seconds must be finite and >= 0 (0 = off)\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_threads) < 1) {
    std::cerr << figure << ": --threads must be >= 1\n";
    return 2;
  }
  s.output_dir = absl::GetFlag(FLAGS_output_dir);
  if (s.output_dir.empty()) {
    const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    s.output_dir =
        absl::StrCat(ws != nullptr ? ws : ".", "/experiments/output/", figure, "/", s.preset);
  }
  s.data_dir = absl::GetFlag(FLAGS_data_dir);
  if (s.data_dir.empty()) s.data_dir = tasks::DefaultDataDir();
  bilevel::ConfigureCpuRuntime(absl::GetFlag(FLAGS_threads));
  std::cerr << figure << ": preset " << s.preset << ", device " << device << ", output "
            << s.output_dir << ", " << bilevel::DescribeCpuRuntime() << "\n";
  const absl::Status status = body(s);
  if (!status.ok()) {
    std::cerr << figure << ": " << status.message() << "\n";
    return 1;
  }
  std::cerr << figure << ": wrote " << s.output_dir << "\n";
  return 0;
}

absl::Status AddDataChecksums(const std::string& data_dir, const std::string& folder,
                              Experiment* experiment) {
  const std::string path = absl::StrCat(data_dir, "/CHECKSUMS.md5");
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, "; run tools/setup.sh to fetch the data sets"));
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const size_t file = line.find("  ");
    if (file != std::string::npos && absl::StartsWith(line.substr(file + 2), folder + "/")) {
      lines.push_back(line);
    }
  }
  if (lines.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, " lists no file under ", folder, "/; run tools/setup.sh to fetch it"));
  }
  experiment->data_checksums = std::move(lines);
  return absl::OkStatus();
}

Experiment NewExperiment(const Settings& s) {
  Experiment e;
  e.figure = s.figure;
  e.preset = s.preset;
  e.output_dir = s.output_dir;
  e.device = s.device.str();
  e.seeds = s.seeds;
  e.checkpoint_every_seconds = s.checkpoint_seconds;
  return e;
}

namespace {

template <typename Options>
Method MakeMethod(std::string name, Options options, std::string settings,
                  int64_t total_iterations) {
  Method m;
  m.name = std::move(name);
  m.settings = std::move(settings);
  m.total_iterations = total_iterations;
  m.run = [options](tasks::Task* task, uint64_t seed, const bilevel::IterateCallback& observer,
                    const bilevel::CheckpointOptions& checkpoint, bilevel::SolverSummary* summary) {
    Options o = options;
    o.seed = seed;
    o.iterate_callbacks.push_back(observer);
    o.checkpoint = checkpoint;
    return bilevel::Solve(o, task, summary);
  };
  return m;
}

std::string Describe(const bilevel::OptimizerOptions& o) {
  return absl::StrFormat(
      "%s lr %g%s", bilevel::ToString(o.type), o.learning_rate,
      o.lambda_scaling == bilevel::LambdaScaling::kInverseLambda ? "/lambda" : "");
}

std::string Batches(const bilevel::SolverOptionsBase& o) {
  return absl::StrFormat("batches f %s, g %s",
                         o.outer_batch_size ? absl::StrCat(o.outer_batch_size) : "full",
                         o.inner_batch_size ? absl::StrCat(o.inner_batch_size) : "full");
}

}  // namespace

Method MinimaxMethod(std::string name, bilevel::MinimaxOptOptions o) {
  std::string settings = absl::StrFormat(
      "MinimaxOPT: %d stages x %d iterations, lambda0 %g, tau %g, x %s, y %s, z %s, schedule %s, "
      "%s",
      o.num_stages, o.iterations_per_stage, o.initial_lambda, o.lambda_growth,
      Describe(o.x_optimizer), Describe(o.y_optimizer), Describe(o.z_optimizer),
      bilevel::ToString(o.schedule), Batches(o));
  const int64_t total = o.num_stages * o.iterations_per_stage;
  return MakeMethod(std::move(name), std::move(o), std::move(settings), total);
}

Method HypergradientMethod(std::string name, bilevel::HypergradientOptions o) {
  std::string settings = absl::StrFormat(
      "%s: %d outer x %d inner steps, truncation %d, %d solver iterations (beta %g), inner %s, "
      "outer %s, schedule %s, %s",
      bilevel::ToString(o.method), o.max_iterations, o.inner_steps, o.truncation,
      o.linear_solver_iterations, o.linear_solver_step, Describe(o.inner_optimizer),
      Describe(o.outer_optimizer), bilevel::ToString(o.schedule), Batches(o));
  const int64_t total = o.max_iterations;
  return MakeMethod(std::move(name), std::move(o), std::move(settings), total);
}

Method F2saMethod(std::string name, bilevel::F2saOptions o) {
  std::string settings = absl::StrFormat(
      "F2SA: %d outer x %d inner steps, lambda0 %g + %g per step, x %s, y %s, z %s, %s",
      o.max_iterations, o.inner_steps, o.initial_lambda, o.lambda_increment,
      Describe(o.x_optimizer), Describe(o.y_optimizer), Describe(o.z_optimizer), Batches(o));
  const int64_t total = o.max_iterations;
  return MakeMethod(std::move(name), std::move(o), std::move(settings), total);
}

Method PenaltyMethod(std::string name, bilevel::PenaltyOptions o) {
  std::string settings =
      absl::StrFormat("Penalty: %d iterations x %d inner steps, rho0 %g, x %s, y %s, %s",
                      o.max_iterations, o.inner_steps, o.initial_penalty, Describe(o.x_optimizer),
                      Describe(o.y_optimizer), Batches(o));
  const int64_t total = o.max_iterations;
  return MakeMethod(std::move(name), std::move(o), std::move(settings), total);
}

std::vector<Method> LogisticComparisonMethods(const LogisticComparison& c) {
  bilevel::HypergradientOptions base;
  base.max_iterations = c.outer_iterations;
  base.inner_steps = c.inner_steps;
  base.inner_optimizer.learning_rate = c.learning_rate;
  base.outer_optimizer.learning_rate = c.learning_rate;
  base.linear_solver_iterations = 10;
  base.linear_solver_step = 1.0;
  bilevel::HypergradientOptions reverse = base, fixed_point = base, cg = base;
  reverse.method = bilevel::HypergradientMethod::kReverse;
  reverse.truncation = 10;
  fixed_point.method = bilevel::HypergradientMethod::kFixedPoint;
  cg.method = bilevel::HypergradientMethod::kConjugateGradient;

  bilevel::MinimaxOptOptions minimax;
  minimax.initial_lambda = 1.0;
  minimax.lambda_growth = 2.0;
  minimax.num_stages = c.num_stages;
  minimax.iterations_per_stage = c.iterations_per_stage;
  minimax.x_optimizer.learning_rate = c.learning_rate;
  minimax.y_optimizer.learning_rate = c.learning_rate;
  minimax.z_optimizer.learning_rate = c.learning_rate;

  return {MinimaxMethod("MinimaxOPT", minimax), HypergradientMethod("Reverse", reverse),
          HypergradientMethod("FixedPoint", fixed_point), HypergradientMethod("CG", cg)};
}

}  // namespace experiments
