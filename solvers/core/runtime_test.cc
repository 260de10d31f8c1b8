#include "solvers/core/runtime.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <new>
#include <stdexcept>
#include <string>

#include "c10/util/Exception.h"

namespace bilevel {
namespace {

TEST(RunMainTest, ReturnsTheBodysExitCode) {
  EXPECT_EQ(RunMain("prog", [] { return 0; }), 0);
  EXPECT_EQ(RunMain("prog", [] { return 2; }), 2);
}

// An escaping exception is one line naming the program and what happened, and exit code 1 —
// LibTorch's C++ backtrace left out.
TEST(RunMainTest, AnEscapingExceptionIsAMessageAndExitCodeOne) {
  testing::internal::CaptureStderr();
  EXPECT_EQ(RunMain("prog", []() -> int { TORCH_CHECK(false, "tensor a is empty"); }), 1);
  std::string err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("prog: error: tensor a is empty (", 0), 0u) << err;
  EXPECT_EQ(err.find("Exception raised from"), std::string::npos) << err;
  EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunMain("prog", []() -> int { throw std::bad_alloc(); }), 1);
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("prog: error: out of memory", 0), 0u) << err;

  testing::internal::CaptureStderr();
  EXPECT_EQ(RunMain("prog", []() -> int { throw std::runtime_error("no such thing"); }), 1);
  err = testing::internal::GetCapturedStderr();
  EXPECT_EQ(err.rfind("prog: error: no such thing (", 0), 0u) << err;
}

}  // namespace
}  // namespace bilevel
