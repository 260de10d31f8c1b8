#include "solvers/lagrangian.h"

#include <ATen/ATen.h>

#include <cmath>
#include <initializer_list>

namespace bilevel {
namespace {

TensorList Slice(const TensorList& v, size_t begin, size_t end) {
  return TensorList(v.begin() + begin, v.begin() + end);
}

TensorList Concat(std::initializer_list<const TensorList*> lists) {
  TensorList out;
  for (const TensorList* l : lists) out.insert(out.end(), l->begin(), l->end());
  return out;
}

}  // namespace

LagrangianEval EvaluateLagrangian(BilevelProblem* problem, const TensorList& x, const TensorList& y,
                                  const TensorList& z, double lambda, const Batch& outer,
                                  const Batch& inner, int64_t outer_examples,
                                  int64_t inner_examples, OracleCounts* counts,
                                  bool common_random_numbers, GradientReducer* reducer) {
  TensorList xs = GradLeaves(x), ys = GradLeaves(y), zs = GradLeaves(z);
  at::Tensor f = problem->OuterObjective(xs, ys, outer);
  at::Tensor g_y = problem->InnerObjective(xs, ys, inner);
  Batch inner_z = inner;
  if (!common_random_numbers && inner.noise_key != 0) {
    inner_z.noise_key = MixKey(inner.noise_key, 0x7a);
  }
  at::Tensor g_z = problem->InnerObjective(xs, zs, inner_z);
  counts->AddF(outer_examples);
  counts->AddG(inner_examples);  // g(x, y)
  counts->AddG(inner_examples);  // g(x, z)
  LagrangianEval e;
  f = ShareOfMean(f, outer);
  g_y = ShareOfMean(g_y, inner);
  g_z = ShareOfMean(g_z, inner);
  // One backward pass through L_λ gives all three gradients (eq. 6).
  TensorList all = Gradients(f + lambda * (g_y - g_z), Concat({&xs, &ys, &zs}));
  if (reducer != nullptr) {
    // The values travel with the gradients, in the first gradient's dtype: one bucket.
    const at::ScalarType type = all.front().scalar_type();
    TensorList values = {f.detach().to(type), g_y.detach().to(type), g_z.detach().to(type)};
    e.communication_failure =
        MeanOverRanks(reducer, {&all, &values}, PerExampleOuterRows(*problem, inner, &all));
    if (!e.communication_failure.empty()) return e;
    f = values[0];
    g_y = values[1];
    g_z = values[2];
  }
  e.grad_x = Slice(all, 0, xs.size());
  e.grad_y = Slice(all, xs.size(), xs.size() + ys.size());
  e.grad_z = Slice(all, xs.size() + ys.size(), all.size());
  // One host synchronisation for all the scalars the record and the checks need.
  const at::ScalarType type = f.scalar_type();
  at::Tensor scalars =
      at::stack({f.detach(), g_y.detach().to(type), g_z.detach().to(type),
                 SquaredNormTensor(e.grad_x).to(type), SquaredNormTensor(e.grad_y).to(type),
                 SquaredNormTensor(e.grad_z).to(type)})
          .to(at::kCPU, at::kDouble);
  const double* s = scalars.data_ptr<double>();
  e.f = s[0];
  e.g_y = s[1];
  e.g_z = s[2];
  e.norm_x = std::sqrt(s[3]);
  e.norm_y = std::sqrt(s[4]);
  e.norm_z = std::sqrt(s[5]);
  static const char* const kNames[] = {"f(x, y)",
                                       "g(x, y)",
                                       "g(x, z)",
                                       "the x-gradient of L",
                                       "the y-gradient of L",
                                       "the z-gradient of L"};
  for (int i = 0; i < 6; ++i) {
    if (!std::isfinite(s[i])) {
      e.non_finite = kNames[i];
      break;
    }
  }
  return e;
}

LagrangianSolver::LagrangianSolver(BilevelProblem* problem, bool z_starts_at_y,
                                   const OptimizerOptions& x, const OptimizerOptions& y,
                                   const OptimizerOptions& z, double initial_lambda)
    : problem_(problem),
      x_(DetachedClone(problem->InitialOuter())),
      y_(DetachedClone(problem->InitialInner())),
      z_(z_starts_at_y ? DetachedClone(y_) : DetachedClone(problem->InitialInner())),
      x_opt_(x, x_),
      y_opt_(y, y_),
      z_opt_(z, z_),
      lambda_(initial_lambda) {}

void LagrangianSolver::DeclareState(SolverStateSpec* spec) {
  spec->Iterate("x", &x_);
  spec->Iterate("y", &y_);
  spec->Iterate("z", &z_);
  spec->Optimizer("x_opt", &x_opt_);
  spec->Optimizer("y_opt", &y_opt_);
  spec->Optimizer("z_opt", &z_opt_);
  spec->Double("lambda", &lambda_);
}

void RecordLagrangian(const LagrangianEval& e, double lambda, IterationRecord* record) {
  record->lambda = lambda;
  record->outer_objective = e.f;
  record->inner_objective = e.g_y;
  record->value_gap = e.g_y - e.g_z;
  record->grad_norm_x = e.norm_x;
  record->grad_norm_y = e.norm_y;
  record->grad_norm_z = e.norm_z;
}

}  // namespace bilevel
