#include "theory/example1_problem.h"

#include <ATen/ATen.h>

#include <stdexcept>
#include <string>

#include "solvers/minimax_opt.h"

namespace theory {

bilevel::TensorList Example1Problem::InitialOuter() { return {at::full({1}, x0_, at::kDouble)}; }
bilevel::TensorList Example1Problem::InitialInner() { return {at::full({1}, y0_, at::kDouble)}; }

at::Tensor Example1Problem::OuterObjective(const bilevel::TensorList& x,
                                           const bilevel::TensorList& y, const bilevel::Batch&) {
  return (0.5 * (x[0] - 1).pow(2) + 0.5 * (y[0] - 1).pow(2) - 0.5 * c_ * (y[0] - x[0]).pow(2))
      .sum();
}

at::Tensor Example1Problem::InnerObjective(const bilevel::TensorList& x,
                                           const bilevel::TensorList& y, const bilevel::Batch&) {
  return (0.5 * (y[0] - x[0]).pow(2)).sum();
}

std::pair<double, double> RunAlgorithm1OnExample1(double c, double x0, double y0) {
  Example1Problem problem(c, x0, y0);
  bilevel::MinimaxOptOptions options;
  options.initial_lambda = c;  // above the threshold c − ½
  options.lambda_growth = 2.0;
  options.num_stages = 4;
  options.iterations_per_stage = 5000;
  options.x_optimizer.learning_rate = 0.05;
  options.y_optimizer.learning_rate = 0.2;
  options.z_optimizer.learning_rate = 0.2;
  bilevel::SolverSummary summary;
  const absl::Status status = bilevel::Solve(options, &problem, &summary);
  if (!status.ok() || summary.termination == bilevel::TerminationType::kNonFinite) {
    throw std::runtime_error("Algorithm 1 on Example 1 failed: " + summary.message);
  }
  return {summary.x[0].item<double>(), summary.y[0].item<double>()};
}

}  // namespace theory
