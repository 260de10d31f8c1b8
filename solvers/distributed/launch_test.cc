// LaunchLocalRanks re-runs this test binary as ranks: with HFB_LAUNCH_TEST set, main() is a rank
// (it all-reduces rank + 1 and writes the mean and its LOCAL_RANK to a file) instead of the test
// suite.
#include "solvers/distributed/launch.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>

#include "solvers/distributed/communicator.h"
#include "solvers/distributed/thread_ranks.h"

namespace bilevel {
namespace {

namespace fs = std::filesystem;

int RankMain() {
  absl::StatusOr<DistributedOptions> o = DistributedOptionsFromEnvironment({});
  if (!o.ok()) return 2;
  const std::string mode = std::getenv("HFB_LAUNCH_TEST");
  if (mode == "fail_rank_1" && o->rank == 1) return 3;
  if (mode == "hang_rank_1" && o->rank == 1) {
    std::this_thread::sleep_for(std::chrono::seconds(600));
    return 0;
  }
  // Generous where every rank should succeed (ranks start slowly on a loaded machine); short where
  // a rank is meant to be missing, so that the failure comes quickly.
  o->timeout_seconds = mode == "ok" ? 60 : 5;
  absl::StatusOr<std::unique_ptr<Communicator>> c = Communicator::Connect(*o);
  if (!c.ok()) return 4;
  TensorList v = {at::full({1}, o->rank + 1.0, at::kDouble)};
  if (!(*c)->AllReduceMean({&v}).ok()) return 5;
  const char* local_rank = std::getenv("LOCAL_RANK");
  std::ofstream(fs::path(std::getenv("HFB_LAUNCH_OUT")) / ("rank" + std::to_string(o->rank)))
      << o->world_size << " " << v[0].item<double>() << " local "
      << (local_rank != nullptr ? local_rank : "unset") << "\n";
  return 0;
}

std::string Read(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

fs::path Out(const std::string& name) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

TEST(LaunchLocalRanksTest, StartsEveryRankWithTheRendezvousInItsEnvironment) {
  const fs::path out = Out("ok");
  absl::StatusOr<int> code = LaunchLocalRanks(
      3, {"/proc/self/exe"}, {{"HFB_LAUNCH_TEST", "ok"}, {"HFB_LAUNCH_OUT", out.string()}});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 0);
  for (int r = 0; r < 3; ++r) {
    EXPECT_EQ(Read(out / ("rank" + std::to_string(r))), "3 2 local " + std::to_string(r));
  }
}

TEST(LaunchLocalRanksTest, AFailingRankFailsTheLaunchAndStopsTheOthers) {
  const fs::path out = Out("fail");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int> code =
      LaunchLocalRanks(2, {"/proc/self/exe"},
                       {{"HFB_LAUNCH_TEST", "fail_rank_1"}, {"HFB_LAUNCH_OUT", out.string()}});
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 3);
  EXPECT_FALSE(fs::exists(out / "rank0"));  // rank 0's rendezvous timed out on its own
  EXPECT_LT(SecondsSince(start), 60);
}

TEST(LaunchLocalRanksTest, ARankThatHangsIsKilledAfterTheGracePeriod) {
  const fs::path out = Out("hang");
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<int> code = LaunchLocalRanks(
      2, {"/proc/self/exe"}, {{"HFB_LAUNCH_TEST", "hang_rank_1"}, {"HFB_LAUNCH_OUT", out.string()}},
      /*grace_seconds=*/1);
  ASSERT_TRUE(code.ok()) << code.status();
  EXPECT_EQ(*code, 4);  // rank 0 could not complete the rendezvous; rank 1 was then killed
  EXPECT_LT(SecondsSince(start), 60);
}

TEST(LaunchLocalRanksTest, BadArgumentsAreErrors) {
  EXPECT_FALSE(LaunchLocalRanks(0, {"/proc/self/exe"}).ok());
  EXPECT_FALSE(LaunchLocalRanks(2, {}).ok());
  absl::StatusOr<int> code = LaunchLocalRanks(1, {"/nonexistent/program"});
  ASSERT_TRUE(code.ok());
  EXPECT_EQ(*code, 127);
}

}  // namespace
}  // namespace bilevel

int main(int argc, char** argv) {
  if (std::getenv("HFB_LAUNCH_TEST") != nullptr) return bilevel::RankMain();
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
