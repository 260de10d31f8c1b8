#include "solvers/distributed/communicator.h"

#include <ATen/ATen.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <stdlib.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "solvers/distributed/thread_ranks.h"

namespace bilevel {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Ranks are threads (thread_ranks.h), bounded by short timeouts.

TEST(PlanBucketsTest, GroupsByDtypeInOrderAndSplitsAtTheCap) {
  // One dtype under the cap: one bucket.
  EXPECT_THAT(PlanBuckets({8, 8, 8}, {0, 0, 0}, 100), ElementsAre(ElementsAre(0, 1, 2)));
  // Two dtypes interleaved: one bucket each, order kept within a dtype.
  EXPECT_THAT(PlanBuckets({8, 4, 8, 4}, {1, 2, 1, 2}, 100),
              ElementsAre(ElementsAre(0, 2), ElementsAre(1, 3)));
  // The cap splits; a tensor larger than the cap gets a bucket of its own.
  EXPECT_THAT(PlanBuckets({60, 60, 200, 10}, {0, 0, 0, 0}, 100),
              ElementsAre(ElementsAre(0), ElementsAre(1), ElementsAre(2), ElementsAre(3)));
  EXPECT_THAT(PlanBuckets({40, 50, 20}, {0, 0, 0}, 100),
              ElementsAre(ElementsAre(0, 1), ElementsAre(2)));
  EXPECT_TRUE(PlanBuckets({}, {}, 100).empty());
}

TEST(DistributedOptionsTest, ValidateNamesTheBadField) {
  DistributedOptions o = LocalRank(2, 2, 29500);
  EXPECT_THAT(std::string(Validate(o).message()), HasSubstr("rank must be in [0, world_size = 2)"));
  o = LocalRank(0, 0, 29500);
  EXPECT_THAT(std::string(Validate(o).message()), HasSubstr("world_size must be at least 1"));
  o = LocalRank(0, 1, 70000);
  EXPECT_THAT(std::string(Validate(o).message()), HasSubstr("master_port"));
  o = LocalRank(0, 1, 29500, -1);
  EXPECT_THAT(std::string(Validate(o).message()), HasSubstr("timeout_seconds"));
  EXPECT_TRUE(Validate(LocalRank(1, 2, 29500)).ok());
}

TEST(DistributedOptionsTest, ReadsTorchrunsEnvironment) {
  setenv("RANK", "3", 1);
  setenv("WORLD_SIZE", "8", 1);
  setenv("MASTER_ADDR", "10.0.0.7", 1);
  setenv("MASTER_PORT", "1234", 1);
  absl::StatusOr<DistributedOptions> o = DistributedOptionsFromEnvironment({});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->rank, 3);
  EXPECT_EQ(o->world_size, 8);
  EXPECT_EQ(o->master_addr, "10.0.0.7");
  EXPECT_EQ(o->master_port, 1234);
  setenv("WORLD_SIZE", "eight", 1);
  o = DistributedOptionsFromEnvironment({});
  ASSERT_FALSE(o.ok());
  EXPECT_THAT(std::string(o.status().message()), HasSubstr("WORLD_SIZE=\"eight\""));
  for (const char* v : {"RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT"}) unsetenv(v);
  o = DistributedOptionsFromEnvironment({});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->world_size, 1);
}

TEST(CommunicatorTest, OneRankNeedsNoNetworkAndChangesNothing) {
  absl::StatusOr<std::unique_ptr<Communicator>> c = Communicator::Connect(LocalRank(0, 1, 1));
  ASSERT_TRUE(c.ok()) << c.status();
  TensorList g = {at::arange(3, at::kDouble)};
  ASSERT_TRUE((*c)->AllReduceMean({&g}).ok());
  EXPECT_TRUE(g[0].equal(at::arange(3, at::kDouble)));
  EXPECT_EQ((*c)->stats().all_reduce_calls, 0);
  EXPECT_TRUE((*c)->CheckSame("options", "anything").ok());
}

TEST(CommunicatorTest, AllReduceMeanAveragesEveryGroupInOneCallPerDtype) {
  const int port = TestPort();
  std::vector<TensorList> x(3), y(3);
  std::vector<CommunicationStats> stats(3);
  RunRanks(3, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c = Communicator::Connect(LocalRank(r, 3, port));
    ASSERT_TRUE(c.ok()) << c.status();
    // Rank r holds r + 1 everywhere; x has two doubles, y a double and a float.
    x[r] = {at::full({2, 3}, r + 1.0, at::kDouble), at::full({4}, 10.0 * (r + 1), at::kDouble)};
    y[r] = {at::full({5}, r + 1.0, at::kDouble), at::full({2}, r + 1.0, at::kFloat)};
    ASSERT_TRUE((*c)->AllReduceMean({&x[r], &y[r]}).ok());
    stats[r] = (*c)->stats();
  });
  for (int r = 0; r < 3; ++r) {
    EXPECT_TRUE(x[r][0].equal(at::full({2, 3}, 2.0, at::kDouble))) << x[r][0];
    EXPECT_TRUE(x[r][1].equal(at::full({4}, 20.0, at::kDouble))) << x[r][1];
    EXPECT_TRUE(y[r][0].equal(at::full({5}, 2.0, at::kDouble))) << y[r][0];
    EXPECT_TRUE(y[r][1].equal(at::full({2}, 2.0f, at::kFloat))) << y[r][1];
    EXPECT_EQ(stats[r].all_reduce_calls, 2);  // one double bucket, one float bucket
    EXPECT_EQ(stats[r].all_reduce_bytes, (6 + 4 + 5) * 8 + 2 * 4);
  }
}

TEST(CommunicatorTest, SmallBucketsSplitTheReduction) {
  const int port = TestPort();
  std::vector<int64_t> calls(2);
  std::vector<TensorList> g(2);
  RunRanks(2, [&](int r) {
    DistributedOptions o = LocalRank(r, 2, port);
    o.bucket_bytes = 16;  // two doubles per bucket
    absl::StatusOr<std::unique_ptr<Communicator>> c = Communicator::Connect(o);
    ASSERT_TRUE(c.ok()) << c.status();
    g[r] = {at::full({2}, 1.0 * r, at::kDouble), at::full({2}, 2.0 * r, at::kDouble),
            at::full({1}, 4.0 * r, at::kDouble)};
    ASSERT_TRUE((*c)->AllReduceMean({&g[r]}).ok());
    calls[r] = (*c)->stats().all_reduce_calls;
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_EQ(calls[r], 3);
    EXPECT_TRUE(g[r][0].equal(at::full({2}, 0.5, at::kDouble)));
    EXPECT_TRUE(g[r][1].equal(at::full({2}, 1.0, at::kDouble)));
    EXPECT_TRUE(g[r][2].equal(at::full({1}, 2.0, at::kDouble)));
  }
}

TEST(CommunicatorTest, CheckSameFailsOnEveryRankAndNamesTheField) {
  const int port = TestPort();
  std::vector<absl::Status> same(2), differ(2);
  RunRanks(2, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c = Communicator::Connect(LocalRank(r, 2, port));
    ASSERT_TRUE(c.ok()) << c.status();
    same[r] = (*c)->CheckSame("options", "MinimaxOPT: seed=1, lr=0.1");
    differ[r] = (*c)->CheckSame(
        "options", r == 0 ? "MinimaxOPT: seed=1, lr=0.1" : "MinimaxOPT: seed=1, lr=0.2");
  });
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(same[r].ok()) << same[r];
    ASSERT_FALSE(differ[r].ok());
    EXPECT_THAT(std::string(differ[r].message()),
                HasSubstr("rank 1 differs from rank 0 at \"lr=0.2\" against \"lr=0.1\""));
  }
}

TEST(CommunicatorTest, RendezvousThatNeverCompletesTimesOutNamingTheAddress) {
  const int port = TestPort();
  // Rank 1 of 2 with no rank 0 anywhere; rank 0 of 2 with no rank 1.
  for (int rank : {1, 0}) {
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<std::unique_ptr<Communicator>> c =
        Communicator::Connect(LocalRank(rank, 2, port, /*timeout_seconds=*/1.5));
    ASSERT_FALSE(c.ok()) << "rank " << rank;
    EXPECT_THAT(std::string(c.status().message()),
                HasSubstr("rendezvous at 127.0.0.1:" + std::to_string(port)));
    EXPECT_LT(SecondsSince(start), 30) << "rank " << rank;
  }
}

TEST(CommunicatorTest, ARankThatDiesStopsTheOthersWithAnError) {
  const int port = TestPort();
  absl::Status survivor;
  double seconds = 0;
  RunRanks(2, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c =
        Communicator::Connect(LocalRank(r, 2, port, /*timeout_seconds=*/5));
    ASSERT_TRUE(c.ok()) << c.status();
    TensorList g = {at::ones({3}, at::kDouble)};
    ASSERT_TRUE((*c)->AllReduceMean({&g}).ok());
    if (r == 1) return;  // dies: its process group and sockets go away
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    const auto start = std::chrono::steady_clock::now();
    survivor = (*c)->AllReduceMean({&g});
    seconds = SecondsSince(start);
  });
  ASSERT_FALSE(survivor.ok());
  EXPECT_THAT(std::string(survivor.message()), HasSubstr("rank 0 of 2: the all-reduce"));
  EXPECT_LT(seconds, 30);
}

TEST(CommunicatorTest, ARankThatStallsMakesTheOthersTimeOut) {
  const int port = TestPort();
  absl::Status waiting;
  double seconds = 0;
  RunRanks(2, [&](int r) {
    absl::StatusOr<std::unique_ptr<Communicator>> c =
        Communicator::Connect(LocalRank(r, 2, port, /*timeout_seconds=*/4));
    ASSERT_TRUE(c.ok()) << c.status();
    if (r == 1) {  // alive but never calls the collective until rank 0 gave up
      std::this_thread::sleep_for(std::chrono::seconds(6));
      return;
    }
    TensorList g = {at::ones({3}, at::kDouble)};
    const auto start = std::chrono::steady_clock::now();
    waiting = (*c)->AllReduceMean({&g});
    seconds = SecondsSince(start);
  });
  ASSERT_FALSE(waiting.ok());
  EXPECT_THAT(std::string(waiting.message()), HasSubstr("4 s timeout"));
  EXPECT_GE(seconds, 3.0);
  EXPECT_LT(seconds, 30);
}

}  // namespace
}  // namespace bilevel
