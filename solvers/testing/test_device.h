// The device the device-taking tests run on: HFB_TEST_DEVICE (`cuda` in tools/gpu/run.sh's
// device steps), `cpu` where it is unset (Bazel and CMake on this machine).
#ifndef SOLVERS_TESTING_TEST_DEVICE_H_
#define SOLVERS_TESTING_TEST_DEVICE_H_

#include <c10/core/Device.h>

#include <cstdlib>

namespace bilevel {
namespace testing {

inline c10::Device TestDevice() {
  const char* name = std::getenv("HFB_TEST_DEVICE");
  return c10::Device(name != nullptr ? name : "cpu");
}

}  // namespace testing
}  // namespace bilevel

#endif  // SOLVERS_TESTING_TEST_DEVICE_H_
