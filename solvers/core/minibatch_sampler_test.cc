#include "solvers/core/minibatch_sampler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>
#include <vector>

namespace bilevel {
namespace {

TEST(MinibatchSampler, EachEpochVisitsEveryExampleOnce) {
  MinibatchSampler sampler(12, 4, /*seed=*/3, c10::Device(c10::kCPU));
  for (int epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> seen;
    for (int b = 0; b < 3; ++b) {
      Batch batch = sampler.Next();
      ASSERT_EQ(batch.indices.numel(), 4);
      for (int64_t i = 0; i < 4; ++i) seen.insert(batch.indices[i].item<int64_t>());
    }
    EXPECT_EQ(seen.size(), 12u);
  }
}

TEST(MinibatchSampler, DropsTheIncompleteTailAndCountsEpochs) {
  MinibatchSampler sampler(10, 4, 0, c10::Device(c10::kCPU));
  sampler.Next();
  sampler.Next();
  EXPECT_EQ(sampler.epoch(), 0);
  EXPECT_EQ(sampler.Next().indices.numel(), 4);  // a fresh permutation, not the 2-example tail
  EXPECT_EQ(sampler.epoch(), 1);
}

TEST(MinibatchSampler, SameSeedSameBatches) {
  MinibatchSampler a(100, 10, 42, c10::Device(c10::kCPU));
  MinibatchSampler b(100, 10, 42, c10::Device(c10::kCPU));
  MinibatchSampler c(100, 10, 43, c10::Device(c10::kCPU));
  bool differs = false;
  for (int i = 0; i < 25; ++i) {
    at::Tensor ia = a.Next().indices, ib = b.Next().indices, ic = c.Next().indices;
    EXPECT_TRUE(at::equal(ia, ib));
    differs = differs || !at::equal(ia, ic);
  }
  EXPECT_TRUE(differs);
}

TEST(MinibatchSampler, ShardsSplitEachGlobalBatchInOrder) {
  // 3 ranks over batches of 10: shares of 3, 3 and 4 examples, contiguous, in rank order, with
  // the global batch's key, their place in it and the weights n*W/B whose mean over ranks is 1.
  for (const int64_t batch_size : {int64_t{10}, int64_t{0}}) {  // minibatches, then full batches
    MinibatchSampler whole(10 * (batch_size ? 5 : 1), batch_size, 7, c10::Device(c10::kCPU));
    std::vector<MinibatchSampler> ranks;
    for (int r = 0; r < 3; ++r) {
      ranks.emplace_back(10 * (batch_size ? 5 : 1), batch_size, 7, c10::Device(c10::kCPU));
      ranks.back().Shard(r, 3);
    }
    for (int b = 0; b < 4; ++b) {
      const Batch global = whole.Next();
      const int64_t size = global.Size(whole.num_examples());
      std::vector<at::Tensor> parts;
      double weights = 0;
      int64_t next_begin = 0;
      for (MinibatchSampler& rank : ranks) {
        const Batch shard = rank.Next();
        EXPECT_EQ(shard.noise_key, global.noise_key);
        EXPECT_EQ(shard.global_size, size);
        EXPECT_EQ(shard.shard_begin, next_begin);
        next_begin += shard.indices.numel();
        EXPECT_DOUBLE_EQ(shard.shard_weight, shard.indices.numel() * 3.0 / size);
        // Every shard of a minibatch knows the whole batch (a full batch: every row).
        if (global.IsFull()) {
          EXPECT_FALSE(shard.global_indices.defined());
        } else {
          EXPECT_TRUE(at::equal(shard.global_indices, global.indices)) << "batch " << b;
        }
        weights += shard.shard_weight / 3;
        parts.push_back(shard.indices);
      }
      EXPECT_EQ(next_begin, size);
      EXPECT_DOUBLE_EQ(weights, 1.0);
      const at::Tensor expected = global.IsFull() ? at::arange(size, at::kLong) : global.indices;
      EXPECT_TRUE(at::equal(at::cat(parts), expected)) << "batch " << b;
    }
  }
}

TEST(MinibatchSampler, ZeroBatchSizeMeansFullBatch) {
  MinibatchSampler sampler(50, 0, 0, c10::Device(c10::kCPU));
  EXPECT_TRUE(sampler.IsFullBatch());
  EXPECT_TRUE(sampler.Next().IsFull());
  EXPECT_EQ(sampler.BatchSize(), 50);
  MinibatchSampler no_data(0, 0, 0, c10::Device(c10::kCPU));
  EXPECT_TRUE(no_data.Next().IsFull());
}

}  // namespace
}  // namespace bilevel
