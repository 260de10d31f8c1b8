// CPU runtime settings that decide how fast LibTorch runs here, in one place for every binary.
//
//   bilevel::ConfigureCpuRuntime(/*threads=*/1);        // LibTorch intra-op threads
//   std::cerr << bilevel::DescribeCpuRuntime() << "\n";  // "torch threads 2, BLAS ..."
//   int main(int argc, char** argv) { return bilevel::RunMain("demo", [&] { return Demo(); }); }
//
// Two facts measured on the 2-core development machines (../shared/docs/ENVIRONMENT.md and
// solvers/README.md):
//   - LibTorch starts with 1 intra-op thread there, whatever the core count: set it explicitly.
//     With Debian's OpenBLAS (pthread build, its own pool of one thread per core) 1 intra-op
//     thread was fastest: 2 LibTorch threads next to OpenBLAS's 2 made a 1M-parameter MLP step
//     ~3x slower (both pools spin on 2 cores). OPENBLAS_NUM_THREADS sets the BLAS pool.
//   - glibc hands large freed buffers (above its mmap threshold) back to the kernel, so each
//     training step page-faults its multi-megabyte temporaries back in; on a 1M-parameter MLP that
//     tripled the cost of a step. Keeping freed memory in the heap (as PyTorch users get from
//     jemalloc or tcmalloc) removes it.
#ifndef SOLVERS_CORE_RUNTIME_H_
#define SOLVERS_CORE_RUNTIME_H_

#include <functional>
#include <string>

namespace bilevel {

// Sets LibTorch's intra-op threads (threads <= 0: hardware concurrency) and, unless
// `keep_freed_memory` is false, tells glibc's malloc to keep freed blocks for reuse.
void ConfigureCpuRuntime(int threads, bool keep_freed_memory = true);

// The BLAS library libblas.so.3 resolves to (Debian alternatives), or "unknown".
std::string BlasLibrary();

// "torch threads N, BLAS <path> (OPENBLAS_NUM_THREADS=...), malloc keeps freed memory: yes|no".
std::string DescribeCpuRuntime();

// Runs a program's body and returns its exit code. An exception that escapes it (a LibTorch
// check, an allocation that fails, anything else) becomes one line on stderr —
// "<program>: error: <what happened> (...what to do)" — and exit code 1, instead of
// std::terminate's abort and a stack trace. Every `main` of this repository goes through it.
int RunMain(const std::string& program, const std::function<int()>& body);

}  // namespace bilevel

#endif  // SOLVERS_CORE_RUNTIME_H_
