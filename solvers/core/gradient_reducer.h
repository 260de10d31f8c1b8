// How a data-parallel solve combines what each rank computed on its shard of a minibatch.
//
// Every rank runs the same solve from the same seed; the solver loop hands each rank its shard of
// every global minibatch (MinibatchSampler::Shard), the step evaluates its objectives there,
// scaled by Batch::shard_weight so that the mean over ranks is the global batch's mean, and
// averages its gradients (and the values it records) with one AllReduceMean call. Every rank then
// holds the same numbers and applies the same update. solvers/distributed implements this on
// c10d; SolverOptionsBase::data_parallel null (the default) is one process.
#ifndef SOLVERS_CORE_GRADIENT_REDUCER_H_
#define SOLVERS_CORE_GRADIENT_REDUCER_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

class GradientReducer {
 public:
  virtual ~GradientReducer() = default;
  virtual int rank() const = 0;
  virtual int world_size() const = 0;
  // Replaces every defined tensor of every group by its mean over the ranks, in as few
  // collective calls as the implementation can (tensors must match in shape and dtype across
  // ranks). A non-OK status means the ranks lost each other: the solve stops.
  virtual absl::Status AllReduceMean(const std::vector<TensorList*>& groups) = 0;
  // OK on every rank when every rank passed the same `fingerprint`; otherwise the same error on
  // every rank, naming `what` and the first difference.
  virtual absl::Status CheckSame(const std::string& what, const std::string& fingerprint) = 0;
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_GRADIENT_REDUCER_H_
