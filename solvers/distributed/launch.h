// torchrun's single-machine launch for any binary: a process started with --world_size=N and no
// rank re-executes itself N times, each child with RANK=i, LOCAL_RANK=i (which GPU to take, as
// torchrun's), WORLD_SIZE=N, MASTER_ADDR=127.0.0.1 and MASTER_PORT=<a free port> in its
// environment (DistributedOptionsFromEnvironment reads them), and waits for them. When one child
// fails, the others get `grace_seconds` to stop on their own (their collectives fail within the
// communicator's timeout) and are then killed: no hang.
//
//   if (world_size > 1 && std::getenv("RANK") == nullptr) {
//     return bilevel::LaunchLocalRanks(world_size, std::vector<std::string>(argv, argv + argc))
//         .value_or(1);
//   }
//
// Across machines, start one process per rank yourself with RANK, WORLD_SIZE, MASTER_ADDR and
// MASTER_PORT set (or the matching flags), as with torchrun --nnodes.
#ifndef SOLVERS_DISTRIBUTED_LAUNCH_H_
#define SOLVERS_DISTRIBUTED_LAUNCH_H_

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace bilevel {

// Runs `args` (args[0]: the program; "/proc/self/exe" re-runs this one) as `world_size` local
// ranks with `extra_env` added to each child's environment. Returns the first failing child's
// exit code (128 + signal for a signal), or 0 when every rank succeeded; an error status when the
// children could not be started.
absl::StatusOr<int> LaunchLocalRanks(
    int world_size, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& extra_env = {},
    double grace_seconds = 90);

}  // namespace bilevel

#endif  // SOLVERS_DISTRIBUTED_LAUNCH_H_
