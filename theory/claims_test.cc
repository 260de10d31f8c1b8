// Lemma 1 and Theorems 1–2 on every checked instance: each failure names the instance, the
// point, λ, the measured value and the bound.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <string>
#include <vector>

#include "theory/checks.h"
#include "theory/instances_for_checks.h"

namespace theory {
namespace {

class ClaimsTest : public ::testing::TestWithParam<int> {
 protected:
  void SetUp() override { instance_ = std::move(CheckedInstances()[GetParam()]); }
  std::unique_ptr<Instance> instance_;
};

TEST_P(ClaimsTest, Lemma1Holds) {
  std::mt19937_64 rng(10 + GetParam());
  for (int point = 0; point < kPointsPerInstance; ++point) {
    const Vec x = instance_->SampleX(rng);
    for (double lambda : LambdaSweep(instance_->Bounds(), kLambdaCount)) {
      for (const CheckRecord& r : CheckLemma1(*instance_, x, point, lambda, 3, rng)) {
        EXPECT_FALSE(r.violated) << r.Describe();
      }
    }
  }
}

TEST_P(ClaimsTest, Theorems1And2HoldWithSlopeMinusOne) {
  std::mt19937_64 rng(20 + GetParam());
  for (int point = 0; point < kPointsPerInstance; ++point) {
    const Vec x = instance_->SampleX(rng);
    const std::vector<double> lambdas = LambdaSweep(instance_->Bounds(), kLambdaCount);
    std::map<std::string, std::vector<double>> errors;
    for (double lambda : lambdas) {
      for (const CheckRecord& r : CheckTheorems(*instance_, x, point, lambda)) {
        EXPECT_FALSE(r.violated) << r.Describe();
        errors[r.claim].push_back(r.measured);
      }
    }
    // The O(1/λ) rate: the fitted slope over the upper half of the sweep is −1.
    const std::vector<double> upper(lambdas.begin() + kLambdaCount / 2, lambdas.end());
    for (const auto& [claim, e] : errors) {
      const std::vector<double> tail(e.begin() + kLambdaCount / 2, e.end());
      const double slope = LogLogSlope(upper, tail);
      EXPECT_NEAR(slope, -1.0, 0.05)
          << claim << " on " << instance_->Name() << " at point " << point << ": errors from "
          << tail.front() << " to " << tail.back();
    }
  }
}

INSTANTIATE_TEST_SUITE_P(CheckedInstances, ClaimsTest, ::testing::Range(0, 5));

TEST(LogLogSlope, RecoversAPowerLaw) {
  EXPECT_NEAR(LogLogSlope({1, 2, 4, 8}, {3, 1.5, 0.75, 0.375}), -1.0, 1e-12);
  EXPECT_NEAR(LogLogSlope({1, 10, 100}, {1, 100, 10000}), 2.0, 1e-12);
}

TEST(MakeRecord, FlagsViolationsBothWays) {
  QuadraticInstance q(1, 1, 1.0, 0);
  EXPECT_TRUE(MakeRecord("upper", q, 0, 1, 2.0, 1.0, false).violated);
  EXPECT_FALSE(MakeRecord("upper", q, 0, 1, 0.5, 1.0, false).violated);
  EXPECT_DOUBLE_EQ(MakeRecord("upper", q, 0, 1, 0.5, 1.0, false).tightness, 0.5);
  EXPECT_TRUE(MakeRecord("lower", q, 0, 1, 0.5, 1.0, true).violated);
  EXPECT_DOUBLE_EQ(MakeRecord("lower", q, 0, 1, 4.0, 1.0, true).tightness, 0.25);
}

}  // namespace
}  // namespace theory
