#include "solvers/tools/benchmark_main.h"

#include <benchmark/benchmark.h>

#include "solvers/core/runtime.h"

namespace bilevel {

int RunRegisteredBenchmarks(int argc, char** argv) {
  benchmark::AddCustomContext("runtime", DescribeCpuRuntime());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

}  // namespace bilevel
