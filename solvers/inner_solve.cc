#include "solvers/inner_solve.h"

#include <ATen/ATen.h>

#include <cmath>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/optimizer.h"

namespace bilevel {
namespace {

// g(x, y) on the full data and its y-gradient, without a graph.
std::pair<double, TensorList> InnerValueAndGradient(BilevelProblem* problem, const TensorList& x,
                                                    const TensorList& y) {
  TensorList ys = GradLeaves(y);
  at::Tensor g = problem->InnerObjective(x, ys, Batch{});
  TensorList grad = Gradients(g, ys);
  return {g.item<double>(), grad};
}

}  // namespace

std::string ToString(const ExactInnerOptions& o) {
  return absl::StrFormat("L-BFGS (history %d, Armijo backtracking) on the full-batch g(x, .) to "
                         "|grad_y g| <= %g, at most %d iterations",
                         o.history, o.gradient_tolerance, o.max_iterations);
}

std::string ToString(const RetrainOptions& o) {
  return absl::StrFormat("%s lr %g, %d steps, batch %s, seed %d, from the task's initial model",
                         o.momentum > 0 ? absl::StrFormat("SGD momentum %g", o.momentum) : "SGD",
                         o.learning_rate, o.steps,
                         o.batch_size > 0 ? absl::StrCat(o.batch_size) : "full", o.seed);
}

absl::StatusOr<InnerSolveResult> SolveInnerExactly(BilevelProblem* problem, const TensorList& x,
                                                   const TensorList& y_start,
                                                   const ExactInnerOptions& options) {
  if (!(options.gradient_tolerance > 0) || options.max_iterations < 1 || options.history < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ExactInnerOptions: gradient_tolerance must be > 0 and max_iterations, "
                     "history >= 1; got ",
                     options.gradient_tolerance, ", ", options.max_iterations, ", ",
                     options.history));
  }
  const TensorList xs = DetachedClone(x);
  InnerSolveResult out;
  out.y = DetachedClone(y_start);
  auto [value, grad] = InnerValueAndGradient(problem, xs, out.y);
  std::deque<std::pair<TensorList, TensorList>> pairs;  // (s, t) = (Δy, Δ∇g), newest last
  for (; out.iterations < options.max_iterations; ++out.iterations) {
    out.gradient_norm = std::sqrt(Dot(grad, grad));
    if (!std::isfinite(value) || !std::isfinite(out.gradient_norm)) break;
    if (out.gradient_norm <= options.gradient_tolerance) {
      out.converged = true;
      break;
    }
    // Two-loop recursion: d = −H_k ∇g.
    TensorList q = DetachedClone(grad);
    std::vector<double> alphas(pairs.size()), rhos(pairs.size());
    for (size_t i = pairs.size(); i-- > 0;) {
      rhos[i] = 1.0 / Dot(pairs[i].second, pairs[i].first);
      alphas[i] = rhos[i] * Dot(pairs[i].first, q);
      q = Combination(q, -alphas[i], pairs[i].second);
    }
    double gamma = 1.0;
    if (!pairs.empty()) {
      gamma = Dot(pairs.back().first, pairs.back().second) /
              Dot(pairs.back().second, pairs.back().second);
    } else {
      gamma = 1.0 / std::max(out.gradient_norm, 1.0);  // a cautious first step
    }
    TensorList d;
    for (const at::Tensor& t : q) d.push_back(t * gamma);
    for (size_t i = 0; i < pairs.size(); ++i) {
      const double beta = rhos[i] * Dot(pairs[i].second, d);
      d = Combination(d, alphas[i] - beta, pairs[i].first);
    }
    for (at::Tensor& t : d) t = -t;
    double slope = Dot(grad, d);
    if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
      pairs.clear();
      d.clear();
      for (const at::Tensor& t : grad) d.push_back(-t / std::max(out.gradient_norm, 1.0));
      slope = Dot(grad, d);
    }
    // Armijo backtracking from the unit step.
    double step = 1.0;
    TensorList y_new;
    double value_new = 0;
    TensorList grad_new;
    bool accepted = false;
    for (int backtrack = 0; backtrack < 40; ++backtrack, step *= 0.5) {
      y_new = Combination(out.y, step, d);
      std::tie(value_new, grad_new) = InnerValueAndGradient(problem, xs, y_new);
      if (!std::isfinite(value_new)) continue;
      // Armijo's sufficient decrease; or, once the decrease is below the round-off of g itself
      // (near y*, where ‖∇g‖² / L is under 1e-16 |g|), the approximate-Wolfe test of Hager and
      // Zhang: g no larger up to round-off and a smaller gradient.
      const bool armijo = value_new <= value + 1e-4 * step * slope;
      const bool approximate =
          value_new <= value + 1e-12 * std::max(1.0, std::abs(value)) &&
          Dot(grad_new, grad_new) < out.gradient_norm * out.gradient_norm;
      if (armijo || approximate) {
        accepted = true;
        break;
      }
    }
    if (!accepted) break;  // no decrease along d at machine precision: as far as it goes
    TensorList s = Combination(y_new, -1.0, out.y), t = Combination(grad_new, -1.0, grad);
    if (Dot(s, t) > 1e-12 * std::sqrt(Dot(s, s) * Dot(t, t))) {
      pairs.emplace_back(std::move(s), std::move(t));
      if (static_cast<int>(pairs.size()) > options.history) pairs.pop_front();
    }
    out.y = std::move(y_new);
    value = value_new;
    grad = std::move(grad_new);
  }
  out.gradient_norm = std::sqrt(Dot(grad, grad));
  out.converged = out.converged || out.gradient_norm <= options.gradient_tolerance;
  return out;
}

absl::StatusOr<InnerSolveResult> Retrain(BilevelProblem* problem, const TensorList& x,
                                         const RetrainOptions& options) {
  if (options.steps < 1 || options.batch_size < 0 || !(options.learning_rate > 0) ||
      !(options.momentum >= 0 && options.momentum < 1)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "RetrainOptions: steps must be >= 1, batch_size >= 0, learning_rate > 0 and momentum in "
        "[0, 1); got ",
        ToString(options)));
  }
  if (options.batch_size > problem->NumInnerExamples() && problem->NumInnerExamples() > 0) {
    return absl::InvalidArgumentError(absl::StrCat("RetrainOptions: batch_size ",
                                                   options.batch_size, " exceeds the ",
                                                   problem->NumInnerExamples(),
                                                   " training examples"));
  }
  const TensorList xs = DetachedClone(x);
  InnerSolveResult out;
  out.y = DetachedClone(problem->InitialInner());
  OptimizerOptions sgd;
  sgd.type = options.momentum > 0 ? OptimizerType::kMomentum : OptimizerType::kSgd;
  sgd.learning_rate = options.learning_rate;
  if (options.momentum > 0) sgd.momentum = options.momentum;
  GroupOptimizer optimizer(sgd, out.y);
  MinibatchSampler sampler(problem->NumInnerExamples(), options.batch_size,
                           MixKey(options.seed, 0x7e7a1), out.y.front().device());
  for (; out.iterations < options.steps; ++out.iterations) {
    TensorList ys = GradLeaves(out.y);
    at::Tensor g = problem->InnerObjective(xs, ys, sampler.Next());
    TensorList grad = Gradients(g, ys);
    out.gradient_norm = Norm(grad);
    if (!std::isfinite(g.item<double>()) || !std::isfinite(out.gradient_norm)) {
      out.finite = false;
      break;
    }
    optimizer.Step(&out.y, grad, options.learning_rate);
  }
  return out;
}

}  // namespace bilevel
