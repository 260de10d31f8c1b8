#include "solvers/core/solver_types.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace bilevel {
namespace {

TEST(TerminationType, EveryValueHasAName) {
  EXPECT_EQ(ToString(TerminationType::kConverged), "CONVERGED");
  EXPECT_EQ(ToString(TerminationType::kIterationLimit), "ITERATION_LIMIT");
  EXPECT_EQ(ToString(TerminationType::kOracleBudget), "ORACLE_BUDGET");
  EXPECT_EQ(ToString(TerminationType::kTimeLimit), "TIME_LIMIT");
  EXPECT_EQ(ToString(TerminationType::kUserStop), "USER_STOP");
  EXPECT_EQ(ToString(TerminationType::kNonFinite), "NON_FINITE");
  EXPECT_EQ(ToString(TerminationType::kInvalidOptions), "INVALID_OPTIONS");
}

TEST(OracleCounts, GradientCallsAddFAndG) {
  OracleCounts c;
  c.f_gradients = 3;
  c.g_gradients = 6;
  c.hessian_vector_products = 2;
  c.jacobian_vector_products = 1;
  EXPECT_EQ(c.GradientCalls(), 9);
  EXPECT_EQ(c.TotalOracleCalls(), 12);
}

TEST(SolverSummary, BriefReportNamesSolverTerminationAndCalls) {
  SolverSummary s;
  s.solver = "MinimaxOPT";
  s.termination = TerminationType::kConverged;
  s.num_iterations = 12;
  s.oracle_calls.f_gradients = 12;
  s.oracle_calls.g_gradients = 24;
  IterationRecord r;
  r.outer_objective = 0.25;
  s.iterations.push_back(r);
  const std::string report = s.BriefReport();
  EXPECT_NE(report.find("MinimaxOPT: CONVERGED after 12 iterations"), std::string::npos) << report;
  EXPECT_NE(report.find("gradient calls = 36"), std::string::npos) << report;
  EXPECT_NE(report.find("f = 0.25"), std::string::npos) << report;
}

TEST(ValidateInitialPoint, RejectsEmptyAndIntegerVariables) {
  EXPECT_FALSE(ValidateInitialPoint({}, {at::zeros({2})}).ok());
  absl::Status status = ValidateInitialPoint({at::zeros({2})}, {at::zeros({2}, at::kLong)});
  EXPECT_NE(status.message().find("InitialInner()[0]"), std::string::npos) << status.message();
  EXPECT_TRUE(ValidateInitialPoint({at::zeros({2})}, {at::zeros({3})}).ok());
}

TEST(FieldChecks, NameTheFieldAndTheValue) {
  EXPECT_TRUE(RequireAtLeast(1, 1, "inner_steps (T)").ok());
  EXPECT_EQ(RequireAtLeast(0, 1, "inner_steps (T)").message(),
            "inner_steps (T) must be >= 1, got 0");
  EXPECT_TRUE(RequireFinitePositive(0.5, "eta").ok());
  for (double bad : {0.0, -1.0, std::nan(""), static_cast<double>(INFINITY)}) {
    EXPECT_EQ(RequireFinitePositive(bad, "eta").code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(RequireFiniteNonNegative(0.0, "max_lambda").ok());
  EXPECT_EQ(RequireFiniteNonNegative(-2, "max_lambda", "(0 = no cap)").message(),
            "max_lambda must be finite and >= 0 (0 = no cap), got -2");
  EXPECT_EQ(RequireFiniteNonNegative(INFINITY, "max_lambda").message(),
            "max_lambda must be finite and >= 0, got inf");
  EXPECT_TRUE(RequireInRange(1.0, 0, 1, "schedule_min_factor").ok());
  EXPECT_EQ(RequireInRange(2.0, 0, 1, "schedule_min_factor").message(),
            "schedule_min_factor must be in [0, 1], got 2");
  EXPECT_FALSE(RequireInRange(std::nan(""), 0, 1, "schedule_min_factor").ok());
  EXPECT_TRUE(FirstError({}).ok());
  EXPECT_EQ(FirstError({absl::OkStatus(), RequireAtLeast(0, 1, "a"), RequireAtLeast(0, 1, "b")})
                .message(),
            "a must be >= 1, got 0");
}

}  // namespace
}  // namespace bilevel
