#include "solvers/hypergradient.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "solvers/core/memory_tracker.h"
#include "solvers/f2sa.h"
#include "solvers/testing/exact_problems.h"
#include "solvers/testing/quadratic_settings.h"
#include "solvers/testing/solver_checks.h"

namespace bilevel {
namespace {

using testing::QuadraticProblem;
using testing::QuadraticSpec;

double RelativeError(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).norm().item<double>() / b.norm().item<double>();
}

QuadraticSpec SmallQuadratic() {
  QuadraticSpec spec;  // L_g = 10, μ = 1
  spec.dim_x = 12;
  spec.dim_y = 20;
  spec.seed = 4;
  return spec;
}

// A fixed outer point away from the solution.
at::Tensor SomeX(int64_t dim) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(21);
  return at::randn({dim}, gen, at::kDouble);
}

// The AID estimate at (x, y*(x)) with `iterations` of the linear solver.
at::Tensor AidEstimate(QuadraticProblem* problem, HypergradientMethod method, int iterations,
                       OracleCounts* counts) {
  HypergradientOptions options;
  options.method = method;
  options.linear_solver_iterations = iterations;
  options.linear_solver_step = 0.1;     // 1/L_g
  options.linear_solver_tolerance = 0;  // run every iteration: the error curve is the point
  const at::Tensor x = SomeX(problem->InitialOuter()[0].numel());
  EstimateContext context;
  context.counts = counts;
  return ImplicitHypergradient(problem, {x}, {problem->InnerSolution(x)}, options, context, nullptr)
      .hypergradient[0];
}

// Checks that the error curve falls (up to round-off at its floor) and ends below `target`, and
// records it in the test's XML output.
void ExpectConverges(const std::string& name, const std::vector<int>& knobs,
                     const std::vector<double>& errors, double target) {
  std::vector<std::string> curve;
  for (size_t i = 0; i < knobs.size(); ++i) curve.push_back(absl::StrCat(knobs[i], ":", errors[i]));
  ::testing::Test::RecordProperty(name, absl::StrJoin(curve, " "));
  std::cout << name << " error curve " << absl::StrJoin(curve, "  ") << "\n";
  for (size_t i = 1; i < errors.size(); ++i) {
    EXPECT_LE(errors[i], std::max(errors[i - 1], 1e-12)) << name << " at " << knobs[i];
  }
  EXPECT_LT(errors.back(), target) << name;
}

TEST(ImplicitHypergradient, EachLinearSolverConvergesToTheClosedForm) {
  QuadraticProblem problem(SmallQuadratic());
  const at::Tensor x = SomeX(12);
  const at::Tensor exact = problem.Hypergradient(x);
  struct Case {
    HypergradientMethod method;
    std::vector<int> iterations;
  };
  // Documented settings for 1e-6: 40 CG iterations (at most dim_y = 20 in exact arithmetic),
  // 300 fixed-point iterations or Neumann terms with β = 1/L_g (error ~ (1 − μ/L_g)^K = 0.9^K).
  for (const Case& c : {Case{HypergradientMethod::kConjugateGradient, {1, 2, 5, 10, 20, 40}},
                        Case{HypergradientMethod::kFixedPoint, {10, 50, 100, 200, 300}},
                        Case{HypergradientMethod::kNeumann, {10, 50, 100, 200, 300}},
                        Case{HypergradientMethod::kStocBiO, {10, 50, 100, 200, 300}}}) {
    std::vector<double> errors;
    for (int k : c.iterations) {
      OracleCounts counts;
      errors.push_back(RelativeError(AidEstimate(&problem, c.method, k, &counts), exact));
      if (c.method != HypergradientMethod::kConjugateGradient) {
        EXPECT_EQ(counts.hessian_vector_products, k);
      }
      EXPECT_EQ(counts.jacobian_vector_products, 1);
    }
    ExpectConverges(ToString(c.method), c.iterations, errors, 1e-6);
  }
}

TEST(ImplicitHypergradient, T1T2IsExactOnlyForAnIdentityInnerHessian) {
  QuadraticSpec spec = SmallQuadratic();
  spec.inner_condition = 1.0;  // A = I
  QuadraticProblem identity(spec);
  OracleCounts counts;
  EXPECT_LT(RelativeError(AidEstimate(&identity, HypergradientMethod::kT1T2, 0, &counts),
                          identity.Hypergradient(SomeX(12))),
            1e-12);
  EXPECT_EQ(counts.hessian_vector_products, 0);
  QuadraticProblem conditioned(SmallQuadratic());
  EXPECT_GT(RelativeError(AidEstimate(&conditioned, HypergradientMethod::kT1T2, 0, &counts),
                          conditioned.Hypergradient(SomeX(12))),
            0.05);
}

HypergradientEstimate Reverse(QuadraticProblem* problem, const at::Tensor& x, const at::Tensor& y0,
                              int T, int K, OracleCounts* counts) {
  HypergradientOptions options;
  options.method = HypergradientMethod::kReverse;
  options.inner_steps = T;
  options.truncation = K;
  options.inner_optimizer.learning_rate = 0.1;
  EstimateContext context;
  context.counts = counts;
  return ReverseHypergradient(problem, {x}, {y0}, options, context, 1.0);
}

TEST(ReverseHypergradient, FullUnrollConvergesAsTGrows) {
  QuadraticProblem problem(SmallQuadratic());
  const at::Tensor x = SomeX(12);
  const at::Tensor exact = problem.Hypergradient(x);
  const at::Tensor y0 = at::zeros({20}, at::kDouble);
  // Documented setting for 1e-6: T = 300 from y0 = 0 (error ~ 0.9^T).
  const std::vector<int> steps = {10, 50, 100, 200, 300};
  std::vector<double> errors;
  for (int T : steps) {
    OracleCounts counts;
    errors.push_back(
        RelativeError(Reverse(&problem, x, y0, T, 0, &counts).hypergradient[0], exact));
    EXPECT_EQ(counts.g_gradients, T);
    EXPECT_EQ(counts.hessian_vector_products, T);
  }
  ExpectConverges("reverse_T", steps, errors, 1e-6);
}

TEST(ReverseHypergradient, TruncatedConvergesAsKGrows) {
  QuadraticProblem problem(SmallQuadratic());
  const at::Tensor x = SomeX(12);
  const at::Tensor exact = problem.Hypergradient(x);
  const at::Tensor y0 = at::zeros({20}, at::kDouble);
  // T = 600 puts y_T at y*(x); then the truncation K alone sets the error (documented: K = 300).
  const std::vector<int> truncations = {10, 50, 100, 200, 300};
  std::vector<double> errors;
  for (int K : truncations) {
    OracleCounts counts;
    errors.push_back(
        RelativeError(Reverse(&problem, x, y0, 600, K, &counts).hypergradient[0], exact));
    EXPECT_EQ(counts.hessian_vector_products, K);
  }
  ExpectConverges("reverse_K", truncations, errors, 1e-6);
}

TEST(ReverseHypergradient, FullUnrollIsTheExactGradientOfTheUnrolledMap) {
  QuadraticSpec spec;
  spec.dim_x = 4;
  spec.dim_y = 3;
  spec.seed = 8;
  QuadraticProblem problem(spec);
  const at::Tensor y0 = at::full({3}, 0.3, at::kDouble);
  const int T = 7;
  // φ(x) = f(x, y_T(x)), y_{t+1} = y_t − α∇_y g(x, y_t), by plain arithmetic.
  auto phi = [&](const at::Tensor& x) {
    at::Tensor y = y0.clone();
    for (int t = 0; t < T; ++t) y = y - 0.1 * problem.AnalyticGradients(x, y).gy;
    return problem.OuterObjective({x}, {y}, Batch{}).item<double>();
  };
  const at::Tensor x = SomeX(4);
  OracleCounts counts;
  const at::Tensor reverse = Reverse(&problem, x, y0, T, 0, &counts).hypergradient[0];
  for (int64_t i = 0; i < 4; ++i) {
    at::Tensor plus = x.clone(), minus = x.clone();
    plus[i] += 1e-6;
    minus[i] -= 1e-6;
    EXPECT_NEAR(reverse[i].item<double>(), (phi(plus) - phi(minus)) / 2e-6, 1e-7) << i;
  }
}

TEST(ReverseHypergradient, MemoryGrowsWithTruncationNotWithSteps) {
  // Ridge: the backward pass through a step needs that step's w (e^x ⊙ w), so the unrolled graph
  // keeps per-step tensors. (A quadratic's steps are affine in y and keep none, so its memory
  // does not grow with K at all.)
  testing::RidgeSpec spec;
  spec.num_features = 400;
  spec.num_train = 500;
  testing::RidgeProblem problem(spec);
  const TensorList x = problem.InitialOuter(), y0 = problem.InitialInner();
  auto peak = [&](int T, int K) {
    HypergradientOptions options;
    options.method = HypergradientMethod::kReverse;
    options.inner_steps = T;
    options.truncation = K;
    options.inner_optimizer.learning_rate = 0.01;
    OracleCounts counts;
    EstimateContext context;
    context.counts = &counts;
    CpuMemoryTracker tracker;
    ReverseHypergradient(&problem, x, y0, options, context, 1.0);
    return tracker.PeakBytes();
  };
  const int64_t short_run = peak(50, 5), long_run = peak(200, 5), deep = peak(200, 50);
  std::cout << "peak bytes: T=50,K=5 " << short_run << "  T=200,K=5 " << long_run << "  T=200,K=50 "
            << deep << "\n";
  EXPECT_LT(long_run, 1.2 * short_run);  // 4× the steps, same truncation: same memory
  EXPECT_GT(deep, 5 * long_run);         // 10× the truncation: several times the memory
}

TEST(CpuMemoryTracker, CountsLiveAndPeakBytes) {
  CpuMemoryTracker tracker;
  {
    at::Tensor a = at::empty({1000}, at::kDouble);  // 8000 bytes
    EXPECT_EQ(tracker.CurrentBytes(), 8000);
  }
  EXPECT_EQ(tracker.CurrentBytes(), 0);
  EXPECT_EQ(tracker.PeakBytes(), 8000);
}

// Every baseline reaches the documented accuracy on the 100-dimensional quadratic.
class BaselineQuadraticTest : public ::testing::TestWithParam<HypergradientMethod> {};

TEST_P(BaselineQuadraticTest, ReachesTheSolution) {
  QuadraticProblem problem(QuadraticSpec{});
  SolverSummary summary;
  ASSERT_TRUE(Solve(testing::BaselineQuadraticOptions(GetParam(), 10.0), &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kIterationLimit);
  EXPECT_LT(RelativeError(summary.x[0], problem.Solution()), 1e-3) << summary.BriefReport();
}

INSTANTIATE_TEST_SUITE_P(AidAndItd, BaselineQuadraticTest,
                         ::testing::Values(HypergradientMethod::kReverse,
                                           HypergradientMethod::kFixedPoint,
                                           HypergradientMethod::kConjugateGradient,
                                           HypergradientMethod::kNeumann,
                                           HypergradientMethod::kStocBiO),
                         [](const auto& info) { return ToString(info.param); });

TEST(T1T2, ReachesTheSolutionWhenTheInnerHessianIsTheIdentity) {
  QuadraticSpec spec;
  spec.inner_condition = 1.0;
  QuadraticProblem problem(spec);
  SolverSummary summary;
  ASSERT_TRUE(
      Solve(testing::BaselineQuadraticOptions(HypergradientMethod::kT1T2, 1.0), &problem, &summary)
          .ok());
  EXPECT_LT(RelativeError(summary.x[0], problem.Solution()), 1e-3) << summary.BriefReport();
}

TEST(F2sa, ReachesTheSolution) {
  QuadraticProblem problem(QuadraticSpec{});
  SolverSummary summary;
  ASSERT_TRUE(Solve(testing::F2saQuadraticOptions(10.0), &problem, &summary).ok());
  EXPECT_LT(RelativeError(summary.x[0], problem.Solution()), 1e-3) << summary.BriefReport();
  EXPECT_EQ(summary.oracle_calls.hessian_vector_products, 0);
  EXPECT_EQ(summary.oracle_calls.GradientCalls(), 500 * (3 * 10 + 3));
  EXPECT_DOUBLE_EQ(summary.final_lambda.value_or(-1), 1.0 + 20.0 * 499);
}

TEST(StocBiO, FreshBatchesAreDeterministicGivenTheSeed) {
  auto run = [](uint64_t seed) {
    testing::RidgeProblem problem(testing::RidgeSpec{});
    HypergradientOptions options;
    options.method = HypergradientMethod::kStocBiO;
    options.max_iterations = 20;
    options.inner_steps = 5;
    options.inner_batch_size = 16;
    options.outer_batch_size = 32;
    options.seed = seed;
    SolverSummary summary;
    EXPECT_TRUE(Solve(options, &problem, &summary).ok());
    return summary;
  };
  SolverSummary a = run(1), b = run(1), c = run(2);
  EXPECT_TRUE(at::equal(a.x[0], b.x[0]));
  EXPECT_FALSE(at::equal(a.x[0], c.x[0]));
  // Each Neumann term draws its own batch: 10 extra ∇g per outer iteration.
  EXPECT_EQ(a.oracle_calls.g_gradients, 20 * (5 + 1 + 10));
}

TEST(HypergradientSolve, DivergingOuterStepsStopWithNonFinite) {
  QuadraticProblem problem(SmallQuadratic());
  HypergradientOptions options;
  options.max_iterations = 100000;
  options.outer_optimizer.learning_rate = 100.0;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kNonFinite) << summary.message;
  EXPECT_NE(summary.message.find("outer_optimizer.learning_rate"), std::string::npos)
      << summary.message;
  // The last iterate whose values were finite, x included (not the step that overflowed).
  EXPECT_TRUE(at::isfinite(summary.x[0]).all().item<bool>());
  EXPECT_TRUE(at::isfinite(summary.y[0]).all().item<bool>());
  EXPECT_TRUE(std::isfinite(problem.OuterObjective(summary.x, summary.y, Batch{}).item<double>()));
}

// g = ½ yᵀ diag(1, −2) y − xᵀy (indefinite in y), f = ½‖y − 1‖²: no inner minimiser, and CG on
// H v = ∇_y f meets negative curvature at once.
class IndefiniteProblem : public BilevelProblem {
 public:
  TensorList InitialOuter() override { return {at::zeros({2}, at::kDouble)}; }
  TensorList InitialInner() override { return {at::ones({2}, at::kDouble)}; }
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    return 0.5 * (y[0] - 1).pow(2).sum();
  }
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch&) override {
    const at::Tensor d = at::tensor({1.0, -2.0}, at::kDouble);
    return 0.5 * (d * y[0].pow(2)).sum() - (x[0] * y[0]).sum();
  }
};

HypergradientEstimate EstimateAt(BilevelProblem* problem, const HypergradientOptions& options,
                                 const TensorList& y, OracleCounts* counts) {
  EstimateContext context;
  context.counts = counts;
  return ImplicitHypergradient(problem, problem->InitialOuter(), y, options, context, nullptr);
}

TEST(ImplicitHypergradient, CgOnAnIndefiniteHessianReportsABreakdown) {
  IndefiniteProblem problem;
  HypergradientOptions options;
  options.method = HypergradientMethod::kConjugateGradient;
  OracleCounts counts;
  // ∇_y f = (0, 1) at y = (1, 2): an eigenvector of curvature −2.
  const TensorList y = {at::tensor({1.0, 2.0}, at::kDouble)};
  EXPECT_EQ(EstimateAt(&problem, options, y, &counts).linear_solve, LinearSolveOutcome::kBreakdown);
  // The remedy: damping δ = 3 makes H + δI = diag(4, 1) positive definite; CG converges, to
  // v = (H + δI)⁻¹ ∇_y f = (0, 1).
  options.linear_solver_damping = 3;
  const HypergradientEstimate damped = EstimateAt(&problem, options, y, &counts);
  EXPECT_EQ(damped.linear_solve, LinearSolveOutcome::kConverged);
  EXPECT_NEAR(damped.v[0][1].item<double>(), 1.0, 1e-12);

  // A whole solve counts the breakdowns in its summary.
  options.linear_solver_damping = 0;
  options.max_iterations = 5;
  options.inner_steps = 1;
  options.inner_optimizer.learning_rate = 1e-3;
  SolverSummary summary;
  ASSERT_TRUE(Solve(options, &problem, &summary).ok());
  EXPECT_EQ(summary.linear_solver.solves, 5);
  EXPECT_GT(summary.linear_solver.breakdowns, 0) << summary.BriefReport();
  EXPECT_NE(summary.BriefReport().find("breakdowns"), std::string::npos);
}

TEST(ImplicitHypergradient, NeumannAndFixedPointAboveTwoOverLReportDivergence) {
  QuadraticProblem problem(SmallQuadratic());  // L_g = 10: β must be < 0.2
  const at::Tensor x = SomeX(12);
  for (HypergradientMethod method :
       {HypergradientMethod::kNeumann, HypergradientMethod::kFixedPoint,
        HypergradientMethod::kStocBiO}) {
    HypergradientOptions options;
    options.method = method;
    options.linear_solver_iterations = 50;
    OracleCounts counts;
    EstimateContext context;
    context.counts = &counts;
    for (double beta : {0.1, 0.3}) {
      options.linear_solver_step = beta;
      const HypergradientEstimate e = ImplicitHypergradient(
          &problem, {x}, {problem.InnerSolution(x)}, options, context, nullptr);
      if (beta < 0.2) {
        EXPECT_NE(e.linear_solve, LinearSolveOutcome::kDiverged) << ToString(method);
      } else {
        EXPECT_EQ(e.linear_solve, LinearSolveOutcome::kDiverged) << ToString(method);
        // What comes back is bounded (the terms or iterates before the growth), not 1e11.
        EXPECT_LT(Norm(e.v), 100 * Norm(e.hypergradient) + 100) << ToString(method);
      }
    }
  }
}

using InvalidCase = testing::InvalidOption<HypergradientOptions>;

class InvalidHypergradientOptionsTest : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(InvalidHypergradientOptionsTest, StatusNamesTheField) {
  QuadraticProblem problem(SmallQuadratic());
  testing::ExpectRefusedByName(GetParam(), &problem);
}

INSTANTIATE_TEST_SUITE_P(
    EveryField, InvalidHypergradientOptionsTest,
    ::testing::Values(
        InvalidCase{"max_iterations", [](auto* o) { o->max_iterations = 0; }},
        InvalidCase{"inner_steps", [](auto* o) { o->inner_steps = 0; }},
        InvalidCase{"truncation", [](auto* o) { o->truncation = 101; }},
        InvalidCase{"linear_solver_iterations", [](auto* o) { o->linear_solver_iterations = -1; }},
        InvalidCase{"linear_solver_step", [](auto* o) { o->linear_solver_step = 0; }},
        InvalidCase{"linear_solver_tolerance", [](auto* o) { o->linear_solver_tolerance = NAN; }},
        InvalidCase{"linear_solver_damping", [](auto* o) { o->linear_solver_damping = -1; }},
        InvalidCase{"inner_optimizer.learning_rate",
                    [](auto* o) { o->inner_optimizer.learning_rate = -1; }},
        InvalidCase{"outer_optimizer.beta1", [](auto* o) { o->outer_optimizer.beta1 = 2; }},
        InvalidCase{"inner_optimizer.type",
                    [](auto* o) {
                      o->method = HypergradientMethod::kReverse;
                      o->inner_optimizer.type = OptimizerType::kAdam;
                    }},
        InvalidCase{"schedule_min_factor", [](auto* o) { o->schedule_min_factor = -1; }}));

TEST(F2saOptions, InvalidFieldsAreNamed) {
  QuadraticProblem problem(SmallQuadratic());
  SolverSummary summary;
  for (const auto& [field, mutate] :
       std::vector<std::pair<std::string, std::function<void(F2saOptions*)>>>{
           {"max_iterations", [](auto* o) { o->max_iterations = 0; }},
           {"inner_steps", [](auto* o) { o->inner_steps = 0; }},
           {"initial_lambda", [](auto* o) { o->initial_lambda = -1; }},
           {"lambda_increment", [](auto* o) { o->lambda_increment = -1; }},
           {"max_lambda", [](auto* o) { o->max_lambda = -1; }},
           {"z_optimizer.learning_rate", [](auto* o) { o->z_optimizer.learning_rate = 0; }}}) {
    F2saOptions options;
    mutate(&options);
    absl::Status status = Solve(options, &problem, &summary);
    EXPECT_NE(status.message().find(field), std::string::npos) << status.message();
  }
}

}  // namespace
}  // namespace bilevel
