// Deterministic minibatch sampling without replacement within an epoch.
//
//   MinibatchSampler sampler(/*num_examples=*/50000, /*batch_size=*/256, /*seed=*/1, device);
//   Batch b = sampler.Next();   // 256 indices; a fresh permutation every epoch
//
// Batch size 0 (or a problem without data) gives full batches. The sequence of batches depends
// only on (num_examples, batch_size, seed): the same seed gives the same batches on every run.
// Every batch, full ones included, carries a nonzero Batch::noise_key, a function of the seed and
// of how many batches were drawn before it, for the random numbers the objectives draw on it.
#ifndef SOLVERS_CORE_MINIBATCH_SAMPLER_H_
#define SOLVERS_CORE_MINIBATCH_SAMPLER_H_

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <cstdint>

#include "absl/status/status.h"
#include "solvers/core/bilevel_problem.h"
#include "solvers/core/checkpoint.h"

namespace bilevel {

class MinibatchSampler {
 public:
  // Requires 0 <= batch_size <= num_examples when num_examples > 0 (solvers validate this).
  MinibatchSampler(int64_t num_examples, int64_t batch_size, uint64_t seed, c10::Device device);

  Batch Next();

  // Data parallelism: from now on Next() returns rank `rank`'s contiguous share of the global
  // batch (of all num_examples examples for a full batch; shares differ by at most one example),
  // with Batch::shard_weight, shard_begin, global_size and (for minibatches) global_indices set.
  // The global sequence of batches is unchanged. A problem without data (num_examples 0) is not
  // split: every rank evaluates the same objective. Requires 0 <= rank < world_size <= BatchSize()
  // when num_examples > 0.
  void Shard(int rank, int world_size);

  bool IsFullBatch() const { return batch_size_ == 0 || num_examples_ == 0; }
  int64_t num_examples() const { return num_examples_; }
  // Examples in each global batch (num_examples for full batches), whichever share of it Next()
  // returns.
  int64_t BatchSize() const { return IsFullBatch() ? num_examples_ : batch_size_; }
  // Completed passes over the data, counted in batches drawn.
  int64_t epoch() const { return epoch_; }

  // Checkpoints: the generator, the current permutation and the position in it, under keys
  // starting with `prefix`.
  void SaveState(const std::string& prefix, SolverState* state) const;
  absl::Status RestoreState(const std::string& prefix, const SolverState& state);

 private:
  Batch NextGlobal();  // the whole batch

  int64_t num_examples_;
  int64_t batch_size_;
  c10::Device device_;
  at::Generator generator_;
  at::Tensor permutation_;  // CPU int64
  int64_t position_ = 0;
  int64_t epoch_ = 0;
  uint64_t seed_;
  int64_t draws_ = 0;  // batches drawn so far
  int rank_ = 0, world_size_ = 1;
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_MINIBATCH_SAMPLER_H_
