// Checks that every solver's tests make, written once (testonly): an invalid option is refused
// by name before any work, and the same seed gives the same iterates.
//
//   using InvalidCase = testing::InvalidOption<BomeOptions>;
//   TEST_P(BomeInvalidOptionsTest, StatusNamesTheField) {
//     ScalarBiasProblem problem(1.0, 2.0);
//     testing::ExpectRefusedByName(GetParam(), &problem);
//   }
#ifndef SOLVERS_TESTING_SOLVER_CHECKS_H_
#define SOLVERS_TESTING_SOLVER_CHECKS_H_

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/solver_types.h"

namespace bilevel::testing {

// One invalid value of one option: `mutate` makes default options invalid in `field`, which
// the status must name.
template <typename Options>
struct InvalidOption {
  std::string field;
  std::function<void(Options*)> mutate;
};

// Solve with default options changed by `c.mutate` fails before any work: InvalidArgument naming
// `c.field`, termination kInvalidOptions, no usable solution.
template <typename Options>
void ExpectRefusedByName(const InvalidOption<Options>& c, BilevelProblem* problem) {
  Options options;
  c.mutate(&options);
  SolverSummary summary;
  const absl::Status status = Solve(options, problem, &summary);
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(status.message().find(c.field), std::string::npos) << status.message();
  EXPECT_EQ(summary.termination, TerminationType::kInvalidOptions);
  EXPECT_FALSE(summary.IsSolutionUsable());
}

// `solve(seed)` twice gives bitwise the same x and y; `solve(other)` another x (the seed orders
// the minibatches).
inline void ExpectSameSeedSameIterates(const std::function<SolverSummary(uint64_t)>& solve,
                                       uint64_t seed, uint64_t other) {
  const SolverSummary a = solve(seed), b = solve(seed), c = solve(other);
  EXPECT_TRUE(at::equal(a.x[0], b.x[0]));
  EXPECT_TRUE(at::equal(a.y[0], b.y[0]));
  EXPECT_FALSE(at::equal(a.x[0], c.x[0]));
}

}  // namespace bilevel::testing

#endif  // SOLVERS_TESTING_SOLVER_CHECKS_H_
