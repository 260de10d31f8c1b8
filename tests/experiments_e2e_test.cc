// End to end: every experiment at --preset=ci (run by the //experiments:*_ci build actions this
// test depends on) wrote curves with the documented columns, every method appears, the
// manifests carry their fields, and MinimaxOPT lowered the validation loss in every run.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path);
  EXPECT_TRUE(in.good()) << "missing " << path;
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct Case {
  std::string dir;
  std::set<std::string> methods;
  std::string data_folder;  // the data cache folder the experiment reads; "" for generated data
};

class ExperimentOutputsTest : public ::testing::TestWithParam<Case> {};

TEST_P(ExperimentOutputsTest, CurvesAndManifestFollowTheSchema) {
  const std::string dir = "experiments/" + GetParam().dir;
  std::istringstream curves(Read(dir + "/curves.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(curves, line));
  const std::vector<std::string> header = absl::StrSplit(line, ',');
  const std::vector<std::string> required = {"method",
                                             "seed",
                                             "iteration",
                                             "gradient_calls",
                                             "hessian_vector_products",
                                             "jacobian_vector_products",
                                             "wall_time_seconds",
                                             "validation_loss",
                                             "test_loss",
                                             "test_accuracy"};
  for (size_t i = 0; i < required.size(); ++i) {
    ASSERT_LT(i, header.size());
    EXPECT_EQ(header[i], required[i]);
  }
  std::map<std::string, std::vector<double>> losses;  // method → validation losses in order
  std::map<std::string, double> last_calls;
  while (std::getline(curves, line)) {
    const std::vector<std::string> cells = absl::StrSplit(line, ',');
    ASSERT_EQ(cells.size(), header.size()) << line;
    losses[cells[0]].push_back(std::stod(cells[7]));
    const double calls = std::stod(cells[3]);
    EXPECT_GE(calls, last_calls.count(cells[0]) ? last_calls[cells[0]] : 0.0) << line;
    last_calls[cells[0]] = calls;
    const double accuracy = std::stod(cells[9]);
    EXPECT_TRUE(accuracy >= 0 && accuracy <= 1) << line;
  }
  std::set<std::string> seen;
  for (const auto& [method, l] : losses) seen.insert(method);
  EXPECT_EQ(seen, GetParam().methods);
  ASSERT_TRUE(losses.count("MinimaxOPT"));
  EXPECT_LT(losses["MinimaxOPT"].back(), losses["MinimaxOPT"].front()) << dir;

  const std::string manifest = Read(dir + "/manifest.json");
  for (const char* key :
       {"\"figure\"", "\"preset\": \"ci\"", "\"seeds\"", "\"data\"", "\"notes\"", "\"commit\"",
        "\"machine\"", "\"wall_time_seconds\"", "\"runs\"", "\"termination\"", "\"settings\""}) {
    EXPECT_NE(manifest.find(key), std::string::npos) << key << " missing in " << dir;
  }
  // Real data is named with its checksum; the synthetic figure has none to give.
  if (!GetParam().data_folder.empty()) {
    EXPECT_NE(manifest.find(absl::StrCat("  ", GetParam().data_folder, "/")), std::string::npos)
        << "no checksum of " << GetParam().data_folder << " files in " << dir;
  }
  // The experiment genrules record the commit they ran at (tools/workspace_status.sh).
  EXPECT_EQ(manifest.find("\"commit\": \"unknown"), std::string::npos) << dir;
}

const std::set<std::string> kLogistic = {"MinimaxOPT", "Reverse", "FixedPoint", "CG"};
const std::set<std::string> kCleaning = {"MinimaxOPT", "MinimaxOPT-momentum-cosine", "stocBiO",
                                         "Reverse", "CG"};

INSTANTIATE_TEST_SUITE_P(
    CiPreset, ExperimentOutputsTest,
    ::testing::Values(Case{"fig1_logreg_synthetic_ci", kLogistic, ""},
                      Case{"fig2_logreg_text_ci", kLogistic, "fortunes"},
                      Case{"fig3_resnet_weight_decay_ci",
                           {"MinimaxOPT", "T1-T2", "Reverse", "Neumann", "CG"},
                           "fashion-mnist"},
                      Case{"fig4_hyper_cleaning_ci/noise_0.5", kCleaning, "mnist"},
                      Case{"fig4_hyper_cleaning_ci/noise_0.7", kCleaning, "mnist"},
                      Case{"fig4_hyper_cleaning_ci/noise_0.9", kCleaning, "mnist"}));

TEST(Paper, CiPdfWasBuilt) {
  const std::string pdf = Read("paper/paper_ci.pdf");
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  EXPECT_GT(pdf.size(), 10000u);
}

}  // namespace
