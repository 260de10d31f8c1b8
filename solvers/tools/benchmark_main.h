// The tail both benchmark binaries share: the CPU runtime's description in the report's context,
// then Google Benchmark's own flags and the registered benchmarks.
#ifndef SOLVERS_TOOLS_BENCHMARK_MAIN_H_
#define SOLVERS_TOOLS_BENCHMARK_MAIN_H_

namespace bilevel {

// Call after ConfigureCpuRuntime; returns the process exit code (1 on an unknown flag).
int RunRegisteredBenchmarks(int argc, char** argv);

}  // namespace bilevel

#endif  // SOLVERS_TOOLS_BENCHMARK_MAIN_H_
