#include "solvers/minibatch_sampler.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

namespace bilevel {

MinibatchSampler::MinibatchSampler(int64_t num_examples, int64_t batch_size, uint64_t seed,
                                   c10::Device device)
    : num_examples_(num_examples),
      batch_size_(batch_size),
      device_(device),
      generator_(at::make_generator<at::CPUGeneratorImpl>(seed)) {
  TORCH_CHECK(num_examples >= 0 && batch_size >= 0, "MinibatchSampler: negative size");
  TORCH_CHECK(num_examples == 0 || batch_size <= num_examples, "MinibatchSampler: batch_size ",
              batch_size, " exceeds num_examples ", num_examples);
}

Batch MinibatchSampler::Next() {
  if (IsFullBatch()) return Batch{};
  // A batch never straddles two epochs: the tail of a permutation shorter than a batch is
  // dropped, as PyTorch's DataLoader(drop_last=True) does, so every batch has the same size.
  if (!permutation_.defined() || position_ + batch_size_ > num_examples_) {
    if (permutation_.defined()) ++epoch_;
    permutation_ = at::randperm(num_examples_, generator_, at::TensorOptions().dtype(at::kLong));
    position_ = 0;
  }
  at::Tensor indices = permutation_.slice(0, position_, position_ + batch_size_);
  position_ += batch_size_;
  return Batch{indices.to(device_)};
}

}  // namespace bilevel
