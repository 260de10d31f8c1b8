#include "solvers/core/minibatch_sampler.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <set>

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
