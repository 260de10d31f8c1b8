// Test helpers (testonly): ranks as threads of one process, each with its own store client and
// Gloo process group on 127.0.0.1 — the code path of separate processes, in one test binary.
#ifndef SOLVERS_DISTRIBUTED_THREAD_RANKS_H_
#define SOLVERS_DISTRIBUTED_THREAD_RANKS_H_

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <thread>
#include <vector>

#include "solvers/distributed/communicator.h"

namespace bilevel {

// Rank `rank` of `world_size` on 127.0.0.1:`port`.
inline DistributedOptions LocalRank(int rank, int world_size, int port,
                                    double timeout_seconds = 20) {
  DistributedOptions o;
  o.rank = rank;
  o.world_size = world_size;
  o.master_port = port;
  o.timeout_seconds = timeout_seconds;
  return o;
}

// A free port for one test's rendezvous (a test failure if there is none).
inline int TestPort() {
  absl::StatusOr<int> port = FreeLocalPort();
  EXPECT_TRUE(port.ok()) << port.status();
  return port.ok() ? *port : 29500;
}

// Runs rank_main(r) for r = 0..world_size-1 on threads and waits for all of them.
inline void RunRanks(int world_size, const std::function<void(int)>& rank_main) {
  std::vector<std::thread> threads;
  for (int r = 0; r < world_size; ++r) threads.emplace_back(rank_main, r);
  for (std::thread& t : threads) t.join();
}

inline double SecondsSince(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace bilevel

#endif  // SOLVERS_DISTRIBUTED_THREAD_RANKS_H_
