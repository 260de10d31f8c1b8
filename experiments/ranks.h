// Data-parallel experiments: torchrun's local launch and c10d's rendezvous for the experiment
// binaries (experiments::Main calls these; a figure's code never does).
//
//   bazel run //experiments:fig4_hyper_cleaning -- --preset=ci --world_size=2     # 2 local ranks
//   # across machines, one process per rank (or RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT):
//   fig4_hyper_cleaning --world_size=2 --rank=0 --master_addr=10.0.0.1 --master_port=29500 ...
//   fig4_hyper_cleaning --world_size=2 --rank=1 --master_addr=10.0.0.1 --master_port=29500 ...
#ifndef EXPERIMENTS_RANKS_H_
#define EXPERIMENTS_RANKS_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "experiments/common.h"
#include "solvers/core/gradient_reducer.h"

namespace experiments {

// Runs this binary again as s.world_size local ranks (RANK, WORLD_SIZE, MASTER_ADDR=127.0.0.1 and
// a free MASTER_PORT in each one's environment, and OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and
// MKL_NUM_THREADS = s.threads unless already set) with the same arguments, and waits for them:
// the exit code of the first rank that failed, 0 when all succeeded.
absl::StatusOr<int> LaunchLocalRanks(const Settings& s, const std::vector<std::string>& args);

// Joins the ranks of s.world_size > 1 (rank 0 hosts the rendezvous at master_addr:master_port):
// the communicator the experiment's data-parallel methods average their gradients with.
absl::StatusOr<std::unique_ptr<bilevel::GradientReducer>> ConnectRanks(const Settings& s);

}  // namespace experiments

#endif  // EXPERIMENTS_RANKS_H_
