// Data-parallel communication for the minibatch solvers, on c10d — the engine LibTorch users
// already have: a TCPStore rendezvous (rank 0 hosts it at master_addr:master_port) and Gloo's
// process group, which reduces host memory (tensors on a GPU travel through a CPU copy of each
// bucket: ranks that share one GPU work too). No transport of our own; NCCL is not wired (it
// needs one GPU per rank, which no machine this project has been lent offers to test it on).
//
// Every rank runs the same solve on its shard of each global minibatch; a step averages the
// gradient groups it needs over the ranks with AllReduceMean, which flattens all of them into
// buckets (one per dtype, split at bucket_bytes) and issues one all-reduce per bucket — one call
// per iteration for every problem in this repository. Failures are statuses, never hangs: a
// rendezvous that does not complete, a rank that dies or stalls, each ends within
// timeout_seconds with a message that names the address or the collective.
#ifndef SOLVERS_DISTRIBUTED_COMMUNICATOR_H_
#define SOLVERS_DISTRIBUTED_COMMUNICATOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

struct DistributedOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";  // where rank 0 hosts the rendezvous store
  int master_port = 29500;
  double timeout_seconds = 60;      // the rendezvous and every collective
  int64_t bucket_bytes = 64 << 20;  // the largest all-reduce payload
};

absl::Status Validate(const DistributedOptions& options);

// `defaults` with RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT from the environment where they
// are set (torchrun's names); a set variable that does not parse is an error naming it.
absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment(DistributedOptions defaults);

// A TCP port on 127.0.0.1 that nothing listened on a moment ago (the kernel's choice).
absl::StatusOr<int> FreeLocalPort();

// Which tensors share an all-reduce: tensors of one dtype, in order, packed into buckets of at
// most `bucket_bytes` (a tensor larger than that gets a bucket of its own). `bytes[i]` and
// `dtype_ids[i]` describe tensor i; each bucket lists tensor indices.
std::vector<std::vector<size_t>> PlanBuckets(const std::vector<int64_t>& bytes,
                                             const std::vector<int>& dtype_ids,
                                             int64_t bucket_bytes);

// What the collectives cost so far on this rank.
struct CommunicationStats {
  int64_t all_reduce_calls = 0;   // c10d all-reduce calls (one per bucket)
  int64_t all_reduce_bytes = 0;   // payload bytes handed to them
  double all_reduce_seconds = 0;  // wall time inside them, flattening and unflattening included
};

class Communicator : public GradientReducer {
 public:
  // Rendezvous, then a Gloo process group over `options.world_size` ranks. world_size 1 needs no
  // network and makes every collective a no-op.
  static absl::StatusOr<std::unique_ptr<Communicator>> Connect(const DistributedOptions& options);
  ~Communicator() override;

  int rank() const override { return options_.rank; }
  int world_size() const override { return options_.world_size; }
  const DistributedOptions& options() const { return options_; }
  const CommunicationStats& stats() const { return stats_; }

  // Replaces every tensor of every group by its mean over the ranks, in place (tensors must have
  // the same shapes and dtypes on every rank and lie on one device, CPU or GPU; undefined tensors
  // are skipped).
  absl::Status AllReduceMean(const std::vector<TensorList*>& groups) override;

  // OK on every rank when all ranks passed the same `fingerprint`; otherwise the same error on
  // every rank, naming `what` and the first rank whose fingerprint differs from rank 0's.
  absl::Status CheckSame(const std::string& what, const std::string& fingerprint) override;

  // Waits until every rank reached it (a barrier), within the timeout.
  absl::Status Barrier();

 private:
  struct Group;  // the c10d store and process group (none at world_size 1)
  Communicator(const DistributedOptions& options, std::unique_ptr<Group> group);
  // One c10d all-reduce of `tensor` in place (sum, or max when `max`).
  absl::Status AllReduce(at::Tensor* tensor, bool max, const std::string& what);

  DistributedOptions options_;
  std::unique_ptr<Group> group_;
  CommunicationStats stats_;
  int64_t checks_ = 0;
};

}  // namespace bilevel

#endif  // SOLVERS_DISTRIBUTED_COMMUNICATOR_H_
