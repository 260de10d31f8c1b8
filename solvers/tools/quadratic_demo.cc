// Solves a 100-dimensional quadratic bilevel problem (closed-form answer) with every solver in
// the library, printing one line per stage, and last a JSON object mapping each solver's name to
// its final relative error ‖x − x*‖/‖x*‖ and gradient calls.
//
//   bazel run //solvers/tools:quadratic_demo
//   bazel run //solvers/tools:quadratic_demo -- --seed=3 --inner_condition=100 --threads=2
#include <ATen/ATen.h>
#include <unistd.h>

#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "solvers/core/runtime.h"
#include "solvers/solvers.h"
#include "solvers/testing/exact_problems.h"
#include "solvers/testing/quadratic_settings.h"

ABSL_FLAG(int, dim, 100, "dimension of x and of y");
ABSL_FLAG(double, inner_condition, 10.0, "condition number of the inner Hessian A");
ABSL_FLAG(uint64_t, seed, 0, "seed of the problem instance");
ABSL_FLAG(int, threads, 1,
          "intra-op threads for LibTorch (BLAS keeps its own pool; see solvers/core/runtime.h)");

namespace {

using bilevel::SolverSummary;

// Prints one line at the end of every stage.
bilevel::IterationCallback StageLogger(const std::string& solver,
                                       bilevel::testing::QuadraticProblem* problem) {
  return [solver, problem](const bilevel::IterationRecord& r) {
    if (r.stage_end) {
      std::cout << absl::StrFormat(
                       "%-10s stage %3d  iter %6d  %-16s f %-12.6g |grad_x| %-10.3g "
                       "gradient calls %d",
                       solver, r.stage, r.iteration, bilevel::StageWeight(r), r.outer_objective,
                       r.grad_norm_x, r.oracle_calls.GradientCalls())
                << std::endl;
    }
    return bilevel::CallbackResult::kContinue;
  };
}

double RelativeError(const SolverSummary& summary, const at::Tensor& x_star) {
  return (summary.x[0] - x_star).norm().item<double>() / x_star.norm().item<double>();
}

}  // namespace

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Solves a quadratic bilevel problem with every solver and prints a JSON summary.");
  absl::ParseCommandLine(argc, argv);
  const double condition = absl::GetFlag(FLAGS_inner_condition);
  // !(x >= 1) also catches NaN; a condition number must be finite.
  if (!(condition >= 1) || !std::isfinite(condition)) {
    std::cerr << "quadratic_demo: --inner_condition must be a finite number >= 1, got " << condition
              << "\n";
    return 2;
  }
  if (absl::GetFlag(FLAGS_dim) < 1 || absl::GetFlag(FLAGS_threads) < 1) {
    std::cerr << "quadratic_demo: --dim and --threads must be >= 1\n";
    return 2;
  }
  // The problem holds dense matrices of dim², dim², dim·dim and (2·dim)² doubles. Refused up front
  // when they cannot fit: an allocation failure depends on the machine's overcommit policy (with
  // overcommit on, the process is killed later instead of failing here).
  const double dim = absl::GetFlag(FLAGS_dim);
  const double needed = 8.0 * 7.0 * dim * dim;
  const double memory = static_cast<double>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGE_SIZE);
  if (needed > memory) {
    std::cerr << absl::StrFormat(
        "quadratic_demo: --dim=%d needs %.3g GB for the problem's dense matrices, more than this "
        "machine's %.3g GB of memory\n",
        absl::GetFlag(FLAGS_dim), needed / 1e9, memory / 1e9);
    return 2;
  }
  bilevel::ConfigureCpuRuntime(absl::GetFlag(FLAGS_threads));
  std::cout << bilevel::DescribeCpuRuntime() << std::endl;

  bilevel::testing::QuadraticSpec spec;
  spec.dim_x = spec.dim_y = absl::GetFlag(FLAGS_dim);
  spec.inner_condition = absl::GetFlag(FLAGS_inner_condition);
  spec.seed = absl::GetFlag(FLAGS_seed);
  bilevel::testing::QuadraticProblem problem(spec);
  const double L_g = spec.inner_mu * spec.inner_condition;

  std::vector<std::string> json;
  auto report = [&](const std::string& name, const SolverSummary& summary) {
    std::cout << summary.BriefReport() << std::endl;
    json.push_back(absl::StrFormat(
        "\"%s\": {\"relative_error\": %.6e, \"gradient_calls\": %d, "
        "\"hessian_vector_products\": %d, \"jacobian_vector_products\": %d, "
        "\"termination\": \"%s\"}",
        name, RelativeError(summary, problem.Solution()), summary.oracle_calls.GradientCalls(),
        summary.oracle_calls.hessian_vector_products, summary.oracle_calls.jacobian_vector_products,
        bilevel::ToString(summary.termination)));
  };

  {
    bilevel::MinimaxOptOptions options = bilevel::testing::MinimaxQuadraticOptions(L_g);
    SolverSummary summary;
    absl::Status status = bilevel::Solve(options, &problem, &summary);
    if (!status.ok()) {
      std::cerr << "MinimaxOPT: " << status << "\n";
      return 1;
    }
    report("MinimaxOPT", summary);
  }
  {
    bilevel::PenaltyOptions options = bilevel::testing::PenaltyQuadraticOptions(L_g);
    SolverSummary summary;
    absl::Status status = bilevel::Solve(options, &problem, &summary);
    if (!status.ok()) {
      std::cerr << "Penalty: " << status << "\n";
      return 1;
    }
    report("Penalty", summary);
  }
  {
    bilevel::F2saOptions options = bilevel::testing::F2saQuadraticOptions(L_g);
    SolverSummary summary;
    absl::Status status = bilevel::Solve(options, &problem, &summary);
    if (!status.ok()) {
      std::cerr << "F2SA: " << status << "\n";
      return 1;
    }
    report("F2SA", summary);
  }
  for (bilevel::HypergradientMethod method :
       {bilevel::HypergradientMethod::kReverse, bilevel::HypergradientMethod::kFixedPoint,
        bilevel::HypergradientMethod::kConjugateGradient, bilevel::HypergradientMethod::kNeumann,
        bilevel::HypergradientMethod::kStocBiO, bilevel::HypergradientMethod::kT1T2}) {
    const std::string name = bilevel::ToString(method);
    bilevel::HypergradientOptions options = bilevel::testing::BaselineQuadraticOptions(method, L_g);
    options.callbacks.push_back(StageLogger(name, &problem));
    SolverSummary summary;
    absl::Status status = bilevel::Solve(options, &problem, &summary);
    if (!status.ok()) {
      std::cerr << name << ": " << status << "\n";
      return 1;
    }
    report(name, summary);
  }
  std::cout << "{" << absl::StrJoin(json, ", ") << "}" << std::endl;
  return 0;
}

int main(int argc, char** argv) {
  return bilevel::RunMain("quadratic_demo", [&] { return UnguardedMain(argc, argv); });
}
