// Shared by the fuzz targets in this folder: a scratch file for readers that take a path, and a
// check that aborts (a crash libFuzzer reports, with the input) when a reader's output breaks its
// contract.
#ifndef TESTS_FUZZ_FUZZ_SUPPORT_H_
#define TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace fuzz {

// `bytes` written to a file of this process under $TEST_TMPDIR (or /tmp); its path.
inline std::string ScratchFile(const std::string& bytes, const std::string& suffix) {
  const char* dir = std::getenv("TEST_TMPDIR");
  const std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/fuzz_input_" +
                           std::to_string(::getpid()) + suffix;
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  return path;
}

// A broken contract: the message, then abort() so that libFuzzer saves the input.
#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

}  // namespace fuzz

#endif  // TESTS_FUZZ_FUZZ_SUPPORT_H_
