#include "experiments/ranks.h"

#include <cstdlib>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

#ifndef HFB_NO_DISTRIBUTED
#include "solvers/distributed/communicator.h"
#include "solvers/distributed/launch.h"
#endif

namespace experiments {

#ifndef HFB_NO_DISTRIBUTED

absl::StatusOr<int> LaunchLocalRanks(const Settings& s, const std::vector<std::string>& args) {
  std::vector<std::string> self = args;
  if (!self.empty()) self[0] = "/proc/self/exe";  // this binary, wherever argv[0] points
  // --threads for BLAS too: N ranks, each with a BLAS pool the size of the machine, would
  // oversubscribe its cores (solvers/README.md measured it), and one BLAS thread also makes each
  // rank's numbers the same from run to run. A value already in the environment stays.
  std::vector<std::pair<std::string, std::string>> env;
  for (const char* name : {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"}) {
    if (std::getenv(name) == nullptr) env.emplace_back(name, std::to_string(s.threads));
  }
  return bilevel::LaunchLocalRanks(s.world_size, self, env);
}

absl::StatusOr<std::unique_ptr<bilevel::GradientReducer>> ConnectRanks(const Settings& s) {
  bilevel::DistributedOptions o;
  o.rank = s.rank;
  o.world_size = s.world_size;
  o.master_addr = s.master_addr;
  o.master_port = s.master_port;
  o.timeout_seconds = s.distributed_timeout_seconds;
  absl::StatusOr<std::unique_ptr<bilevel::Communicator>> c = bilevel::Communicator::Connect(o);
  if (!c.ok()) return c.status();
  return std::unique_ptr<bilevel::GradientReducer>(*std::move(c));
}

#else  // a CMake build that found no Gloo headers

namespace {
absl::Status Unavailable() {
  return absl::UnimplementedError(
      "--world_size > 1 needs solvers/distributed, which this build left out (CMake found no "
      "Gloo headers: install libgloo-dev and configure again)");
}
}  // namespace

absl::StatusOr<int> LaunchLocalRanks(const Settings&, const std::vector<std::string>&) {
  return Unavailable();
}

absl::StatusOr<std::unique_ptr<bilevel::GradientReducer>> ConnectRanks(const Settings&) {
  return Unavailable();
}

#endif

}  // namespace experiments
