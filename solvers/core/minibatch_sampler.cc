#include "solvers/core/minibatch_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace bilevel {

MinibatchSampler::MinibatchSampler(int64_t num_examples, int64_t batch_size, uint64_t seed,
                                   c10::Device device)
    : num_examples_(num_examples),
      batch_size_(batch_size),
      device_(device),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)),
      seed_(seed) {
  TORCH_CHECK(num_examples >= 0 && batch_size >= 0, "MinibatchSampler: negative size");
  TORCH_CHECK(num_examples == 0 || batch_size <= num_examples, "MinibatchSampler: batch_size ",
              batch_size, " exceeds num_examples ", num_examples);
}

void MinibatchSampler::Shard(int rank, int world_size) {
  TORCH_CHECK(0 <= rank && rank < world_size, "MinibatchSampler: rank ", rank,
              " outside [0, world_size = ", world_size, ")");
  TORCH_CHECK(num_examples_ == 0 || world_size <= BatchSize(), "MinibatchSampler: ", world_size,
              " ranks cannot share batches of ", BatchSize(), " examples");
  rank_ = rank;
  world_size_ = world_size;
}

Batch MinibatchSampler::Next() {
  Batch batch = NextGlobal();
  if (world_size_ == 1 || num_examples_ == 0) return batch;
  const int64_t size = BatchSize();
  const int64_t begin = size * rank_ / world_size_, end = size * (rank_ + 1) / world_size_;
  batch.global_indices = batch.indices;  // undefined for a full batch: every row
  batch.indices = batch.IsFull()
                      ? at::arange(begin, end, at::TensorOptions().dtype(at::kLong).device(device_))
                      : batch.indices.slice(0, begin, end);
  batch.shard_weight = static_cast<double>((end - begin) * world_size_) / size;
  batch.shard_begin = begin;
  batch.global_size = size;
  return batch;
}

Batch MinibatchSampler::NextGlobal() {
  const uint64_t key = MixKey(seed_, static_cast<uint64_t>(draws_++));
  if (IsFullBatch()) return Batch{at::Tensor(), key};
  // A batch never straddles two epochs: the tail of a permutation shorter than a batch is
  // dropped, as PyTorch's DataLoader(drop_last=True) does, so every batch has the same size.
  if (!permutation_.defined() || position_ + batch_size_ > num_examples_) {
    if (permutation_.defined()) ++epoch_;
    permutation_ = at::randperm(num_examples_, generator_, at::TensorOptions().dtype(at::kLong));
    position_ = 0;
  }
  at::Tensor indices = permutation_.slice(0, position_, position_ + batch_size_);
  position_ += batch_size_;
  return Batch{indices.to(device_), key};
}

void MinibatchSampler::SaveState(const std::string& prefix, SolverState* state) const {
  TensorList tensors = {generator_.get_state()};
  if (permutation_.defined()) tensors.push_back(permutation_);
  state->PutTensors(prefix + "_sampler", tensors);
  state->PutInt(prefix + "_position", position_);
  state->PutInt(prefix + "_epoch", epoch_);
  state->PutInt(prefix + "_draws", draws_);
}

absl::Status MinibatchSampler::RestoreState(const std::string& prefix, const SolverState& state) {
  absl::StatusOr<int64_t> position = state.GetInt(prefix + "_position");
  if (!position.ok()) return position.status();
  absl::StatusOr<int64_t> epoch = state.GetInt(prefix + "_epoch");
  if (!epoch.ok()) return epoch.status();
  absl::StatusOr<int64_t> draws = state.GetInt(prefix + "_draws");
  if (!draws.ok()) return draws.status();
  // The permutation exists once the first batch was drawn (position > 0).
  TensorList tensors = {generator_.get_state()};
  if (*position > 0 || *epoch > 0) tensors.push_back(at::empty({num_examples_}, at::kLong));
  absl::Status status = state.RestoreTensors(prefix + "_sampler", &tensors);
  if (!status.ok()) return status;
  generator_.set_state(tensors[0]);
  permutation_ = tensors.size() > 1 ? tensors[1] : at::Tensor();
  position_ = *position;
  epoch_ = *epoch;
  draws_ = *draws;
  return absl::OkStatus();
}

}  // namespace bilevel
