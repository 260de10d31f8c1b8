#include "solvers/core/runtime.h"

#include <ATen/Parallel.h>
#include <malloc.h>
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <new>
#include <thread>

#include "c10/util/Exception.h"

#include "absl/strings/str_cat.h"

namespace bilevel {
namespace {
bool keeps_freed_memory = false;
}  // namespace

void ConfigureCpuRuntime(int threads, bool keep_freed_memory) {
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  if (threads <= 0) threads = 1;
  at::set_num_threads(threads);
  if (keep_freed_memory) {
    // Serve every allocation from the heap (no per-buffer mmap) and never trim it.
    keeps_freed_memory = mallopt(M_MMAP_THRESHOLD, 1 << 30) == 1 &&
                         mallopt(M_TRIM_THRESHOLD, 1 << 30) == 1 &&
                         mallopt(M_TOP_PAD, 64 << 20) == 1;
  }
}

std::string BlasLibrary() {
  char buf[1024];
  const ssize_t n =
      readlink("/etc/alternatives/libblas.so.3-x86_64-linux-gnu", buf, sizeof(buf) - 1);
  if (n <= 0) return "unknown";
  buf[n] = '\0';
  return buf;
}

std::string DescribeCpuRuntime() {
  const char* blas_threads = std::getenv("OPENBLAS_NUM_THREADS");
  return absl::StrCat("torch threads ", at::get_num_threads(), ", BLAS ", BlasLibrary(),
                      " (OPENBLAS_NUM_THREADS=", blas_threads ? blas_threads : "unset", ")",
                      ", malloc keeps freed memory: ", keeps_freed_memory ? "yes" : "no");
}

int RunMain(const std::string& program, const std::function<int()>& body) {
  try {
    return body();
  } catch (const c10::Error& e) {  // without LibTorch's C++ backtrace
    std::cerr << program << ": error: " << e.what_without_backtrace()
              << " (a LibTorch error this program did not expect; if a flag or file caused it, "
                 "change it, else report it with the command line)\n";
  } catch (const std::bad_alloc&) {
    std::cerr << program << ": error: out of memory; try a smaller preset, problem or batch\n";
  } catch (const std::exception& e) {
    std::cerr << program << ": error: " << e.what()
              << " (an error this program did not expect; report it with the command line)\n";
  }
  return 1;
}

}  // namespace bilevel
