#include "experiments/common.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace experiments {
namespace {

namespace fs = std::filesystem;

// A data folder with CHECKSUMS.md5 listing two files under corpus/ and one elsewhere.
fs::path DataFolder(const std::string& name) {
  const fs::path dir = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(dir);
  fs::create_directories(dir / "corpus");
  std::ofstream(dir / "corpus" / "a") << "abc";
  std::ofstream(dir / "corpus" / "b") << "";
  std::ofstream(dir / "CHECKSUMS.md5")
      << "900150983cd24fb0d6963f7d28e17f72  corpus/a\n"   // md5("abc")
      << "d41d8cd98f00b204e9800998ecf8427e  corpus/b\n"   // md5("")
      << "00000000000000000000000000000000  other/c\n";  // not under corpus/: not read
  return dir;
}

TEST(AddDataChecksums, ListsTheSumsOfTheFilesOnDisk) {
  const fs::path dir = DataFolder("checksums_ok");
  Experiment e;
  ASSERT_TRUE(AddDataChecksums(dir.string(), "corpus", &e).ok());
  ASSERT_EQ(e.data_checksums.size(), 2u);
  EXPECT_EQ(e.data_checksums[0], "900150983cd24fb0d6963f7d28e17f72  corpus/a");
  EXPECT_EQ(e.data_checksums[1], "d41d8cd98f00b204e9800998ecf8427e  corpus/b");
  EXPECT_EQ(AddDataChecksums(dir.string(), "nothing", &e).code(), absl::StatusCode::kNotFound);
}

TEST(AddDataChecksums, ADeletedLinkedOrChangedFileIsAnErrorNamingIt) {
  const fs::path dir = DataFolder("checksums_bad");
  Experiment e;
  fs::remove(dir / "corpus" / "b");
  fs::create_symlink(dir / "corpus" / "gone", dir / "corpus" / "b");  // dangling
  absl::Status status = AddDataChecksums(dir.string(), "corpus", &e);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find("corpus/b is listed in"), std::string::npos) << status;
  EXPECT_NE(status.message().find("tools/setup.sh"), std::string::npos) << status;

  fs::remove(dir / "corpus" / "b");
  std::ofstream(dir / "corpus" / "b") << "";
  std::ofstream(dir / "corpus" / "a") << "abd";  // replaced
  status = AddDataChecksums(dir.string(), "corpus", &e);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("corpus/a has md5"), std::string::npos) << status;
}

// The presets are an enum; the flag's words map onto it both ways, and nothing else does.
TEST(ParseSettings, FillsThePresetsDefaultsAndNamesABadFlag) {
  FigureFlags f;
  f.preset = "ci";
  f.output_dir = "/tmp/out";
  f.data_dir = "/tmp/data";
  absl::StatusOr<Settings> s = ParseSettings("fig9", f);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->figure, "fig9");
  EXPECT_EQ(s->preset, Preset::kCi);
  EXPECT_EQ(s->seeds, (std::vector<uint64_t>{1}));
  EXPECT_EQ(s->output_dir, "/tmp/out");
  f.preset = "default";
  f.output_dir = "";
  s = ParseSettings("fig9", f, [] { return std::string("cifar10"); });
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->seeds, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_TRUE(absl::EndsWith(s->output_dir, "/experiments/output/fig9/default_cifar10"))
      << s->output_dir;
  struct Case {
    std::function<void(FigureFlags*)> change;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {[](FigureFlags* g) { g->preset = "fast"; }, "--preset must be ci, default or paper"},
           {[](FigureFlags* g) { g->seeds = "1,1"; }, "--seeds lists seed 1 more than once"},
           {[](FigureFlags* g) { g->seeds = "1,x"; }, "--seeds must be comma-separated"},
           {[](FigureFlags* g) { g->device = "tpu"; }, "--device must be cpu or cuda"},
           {[](FigureFlags* g) { g->threads = 0; }, "--threads must be >= 1"},
           {[](FigureFlags* g) { g->checkpoint_seconds = -1; }, "--checkpoint_seconds"},
           {[](FigureFlags* g) { g->tune = g->check_tuning = true; }, "exclude each other"}}) {
    FigureFlags bad = f;
    c.change(&bad);
    absl::StatusOr<Settings> parsed = ParseSettings("fig9", bad);
    ASSERT_FALSE(parsed.ok()) << c.message;
    EXPECT_NE(parsed.status().message().find(c.message), std::string::npos) << parsed.status();
  }
}

// --device=cuda at N local ranks: one GPU each where there are enough, round-robin otherwise.
TEST(RankDeviceIndex, GivesEachLocalRankItsOwnGpuAndSharesWhenThereAreFewer) {
  EXPECT_EQ(RankDeviceIndex(0, 8), 0);
  EXPECT_EQ(RankDeviceIndex(5, 8), 5);
  EXPECT_EQ(RankDeviceIndex(1, 1), 0);  // two ranks on the one GPU of a machine
  EXPECT_EQ(RankDeviceIndex(3, 2), 1);
  EXPECT_EQ(RankDeviceIndex(2, 0), 0);  // no count known: device 0, whose absence is reported
}

TEST(Preset, TheFlagsWordsRoundTripAndOthersAreRefused) {
  for (Preset p : {Preset::kCi, Preset::kDefault, Preset::kPaper}) {
    EXPECT_EQ(ParsePreset(ToString(p)), p);
  }
  EXPECT_EQ(ToString(Preset::kCi), "ci");
  EXPECT_FALSE(ParsePreset("CI").has_value());
  EXPECT_FALSE(ParsePreset("").has_value());
  EXPECT_FALSE(ParsePreset("fast").has_value());
}

}  // namespace
}  // namespace experiments
