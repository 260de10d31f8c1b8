// Tunes one ridge penalty exp(x) of a least-squares model y on noisy training data against clean
// held-out data, with MinimaxOPT: a bilevel problem written by a user of the installed library.
#include <ATen/ATen.h>
#include <iostream>

#include "solvers/solvers.h"

struct RidgeDecay : bilevel::BilevelProblem {
  at::Tensor a = at::randn({20, 5}, at::kDouble), w = at::randn({5}, at::kDouble);
  at::Tensor b = a.mv(w) + 2 * at::randn({20}, at::kDouble);  // noisy training labels
  at::Tensor a_val = at::randn({200, 5}, at::kDouble), b_val = a_val.mv(w);
  bilevel::TensorList InitialOuter() override { return {at::zeros({1}, at::kDouble)}; }
  bilevel::TensorList InitialInner() override { return {at::zeros({5}, at::kDouble)}; }
  at::Tensor OuterObjective(const bilevel::TensorList&, const bilevel::TensorList& y,
                            const bilevel::Batch&) override {
    return 0.5 * (a_val.mv(y[0]) - b_val).pow(2).mean();
  }
  at::Tensor InnerObjective(const bilevel::TensorList& x, const bilevel::TensorList& y,
                            const bilevel::Batch&) override {
    return 0.5 * (a.mv(y[0]) - b).pow(2).mean() + 0.5 * x[0].exp().sum() * y[0].pow(2).sum();
  }
};

int main() {
  at::manual_seed(1);
  RidgeDecay problem;
  bilevel::MinimaxOptOptions options;  // the documented defaults; see solvers/minimax_opt.h
  bilevel::SolverSummary summary;
  if (absl::Status s = bilevel::Solve(options, &problem, &summary); !s.ok()) {
    std::cerr << s << "\n";
    return 1;
  }
  std::cout << summary.BriefReport() << "\nlog ridge penalty: " << summary.x[0].item<double>()
            << "\n";
  return summary.IsSolutionUsable() ? 0 : 1;
}
