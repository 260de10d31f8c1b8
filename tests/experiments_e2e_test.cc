// End to end: every experiment at --preset=ci (figures 1-4, the penalty method's denoising (small
// and large), poisoning and few-shot learning) (run by the //experiments:*_ci build actions this
// test depends on) wrote curves with the documented columns, every method appears scored by the
// figure's one yardstick (figures 1-2 at the exact inner solution, 3-4 at the g-only inner
// iterate with a retrain), the references are there, the manifests carry their fields, and
// MinimaxOPT lowered the validation loss in every run.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "experiments/noise_ratios.h"

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
  std::string yardstick;    // the evaluated_at of every method's curve
  std::set<std::string> references;
  bool kept_retrain = false;  // a second retrain on the examples the final x keeps (denoising)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.dir; }

class ExperimentOutputsTest : public ::testing::TestWithParam<Case> {};

TEST_P(ExperimentOutputsTest, CurvesAndManifestFollowTheSchema) {
  const Case& c = GetParam();
  const std::string dir = "experiments/" + c.dir;
  std::istringstream curves(Read(dir + "/curves.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(curves, line));
  const std::vector<std::string> header = absl::StrSplit(line, ',');
  const std::vector<std::string> required = {"method",
                                             "seed",
                                             "evaluated_at",
                                             "iteration",
                                             "gradient_calls",
                                             "hessian_vector_products",
                                             "jacobian_vector_products",
                                             "gradient_call_equivalents",
                                             "wall_time_seconds",
                                             "validation_loss",
                                             "test_loss",
                                             "test_accuracy"};
  for (size_t i = 0; i < required.size(); ++i) {
    ASSERT_LT(i, header.size());
    EXPECT_EQ(header[i], required[i]);
  }
  // method → its curve's validation losses in order, by what was evaluated.
  std::map<std::string, std::map<std::string, std::vector<double>>> losses;
  std::map<std::string, double> last_calls;
  std::set<std::string> references;
  while (std::getline(curves, line)) {
    const std::vector<std::string> cells = absl::StrSplit(line, ',');
    ASSERT_EQ(cells.size(), header.size()) << line;
    const std::string& method = cells[0];
    const std::string& at = cells[2];
    if (at == "reference") {
      references.insert(method);
    } else {
      losses[method][at].push_back(std::stod(cells[9]));
      const double calls = std::stod(cells[4]);
      EXPECT_GE(calls, last_calls.count(method) ? last_calls[method] : 0.0) << line;
      last_calls[method] = calls;
    }
    const double accuracy = std::stod(cells[11]);
    EXPECT_TRUE(accuracy >= 0 && accuracy <= 1) << line;
  }
  std::set<std::string> seen;
  for (const auto& [method, by_yardstick] : losses) {
    seen.insert(method);
    // One yardstick for every method of the figure: the same evaluated_at for every method.
    EXPECT_TRUE(by_yardstick.count(c.yardstick)) << method << " in " << dir;
    for (const auto& [at, values] : by_yardstick) {
      const bool allowed = at == c.yardstick ||
                           (at == "minimax_y" && method.rfind("MinimaxOPT", 0) == 0) ||
                           (at == "retrained" && c.yardstick == "inner_iterate") ||
                           (at == "retrained_kept" && c.kept_retrain);
      EXPECT_TRUE(allowed) << method << " evaluated at " << at << " in " << dir;
    }
    if (c.yardstick == "inner_iterate") {
      EXPECT_EQ(by_yardstick.count("retrained"), 1u) << method << " has no retrain in " << dir;
    }
    if (c.kept_retrain) {
      EXPECT_EQ(by_yardstick.count("retrained_kept"), 1u)
          << method << " has no retrain on its kept examples in " << dir;
    }
  }
  EXPECT_EQ(seen, c.methods);
  EXPECT_EQ(references, c.references);
  ASSERT_TRUE(losses.count("MinimaxOPT"));
  const std::vector<double>& ours = losses["MinimaxOPT"][c.yardstick];
  EXPECT_LT(ours.back(), ours.front()) << dir;

  const std::string manifest = Read(dir + "/manifest.json");
  for (const char* key :
       {"\"figure\"", "\"preset\": \"ci\"", "\"seeds\"", "\"data\"", "\"notes\"", "\"commit\"",
        "\"machine\"", "\"wall_time_seconds\"", "\"runs\"", "\"termination\"", "\"settings\"",
        "\"budget\"", "\"tuning\"", "\"references\"", "\"yardstick\"",
        "\"linear_solver_breakdowns\"", "\"retrained_test_accuracy\""}) {
    EXPECT_NE(manifest.find(key), std::string::npos) << key << " missing in " << dir;
  }
  for (const std::string& reference : c.references) {
    EXPECT_NE(manifest.find(absl::StrCat("{\"name\": \"", reference, "\"")), std::string::npos)
        << reference << " missing in " << dir;
  }
  if (c.kept_retrain) {
    EXPECT_NE(manifest.find("\"kept_retrain_test_accuracy\": "), std::string::npos) << dir;
  }
  if (c.dir.find("fig4") != std::string::npos) {
    EXPECT_NE(manifest.find("\"corrupted_fraction\": ["), std::string::npos) << dir;
  }
  if (c.dir.find("few_shot") != std::string::npos) {
    // What stood in for Omniglot is said in the data line and the manifest; the protocol's
    // confidence half-width is a column.
    EXPECT_NE(manifest.find("A stand-in for Omniglot, not Omniglot"), std::string::npos) << dir;
    EXPECT_NE(manifest.find("\"stand_in\": true"), std::string::npos) << dir;
    EXPECT_EQ(header.back(), "test_accuracy_ci95") << dir;
  }
  if (c.dir.find("poisoning") != std::string::npos) {
    EXPECT_NE(manifest.find("\"num_poisons\": "), std::string::npos) << dir;
    // The targeted attack's metric is a column of its curves.
    const bool targeted = c.dir.find("targeted_") != std::string::npos &&
                          c.dir.find("untargeted") == std::string::npos;
    EXPECT_EQ(header.back() == "target_success", targeted) << dir;
  }
  // Real data is named with its checksum; the synthetic figure has none to give.
  if (!c.data_folder.empty()) {
    EXPECT_NE(manifest.find(absl::StrCat("  ", c.data_folder, "/")), std::string::npos)
        << "no checksum of " << c.data_folder << " files in " << dir;
  }
  // The experiment genrules record the commit they ran at (tools/workspace_status.sh).
  EXPECT_EQ(manifest.find("\"commit\": \"unknown"), std::string::npos) << dir;
}

const std::set<std::string> kLogistic = {"MinimaxOPT", "Reverse", "FixedPoint",
                                         "CG",         "F2SA",    "Penalty"};
const std::set<std::string> kLogisticReferences = {"no tuning", "train+validation"};
const std::set<std::string> kCleaning = {
    "MinimaxOPT", "MinimaxOPT-momentum-cosine", "stocBiO", "Reverse", "CG", "F2SA", "Penalty"};
const std::set<std::string> kCleaningReferences = {"validation only", "uniform weights",
                                                   "training+validation", "oracle"};

// Every figure, figure 4's two models at every noise ratio (experiments/noise_ratios.h).
std::vector<Case> CiCases() {
  std::vector<Case> cases = {
      Case{"fig1_logreg_synthetic_ci", kLogistic, "", "exact_inner", kLogisticReferences},
      Case{"fig2_logreg_text_ci", kLogistic, "fortunes", "exact_inner", kLogisticReferences},
      Case{"fig3_resnet_weight_decay_ci",
           {"MinimaxOPT", "T1-T2", "Reverse", "Neumann", "CG", "F2SA", "Penalty"},
           "fashion-mnist",
           "inner_iterate",
           {"no tuning", "train+validation"}}};
  for (const auto& [noise, value] : experiments::kNoiseRatios) {
    cases.push_back(Case{absl::StrCat("fig4_hyper_cleaning_ci/noise_", noise), kCleaning, "mnist",
                         "inner_iterate", kCleaningReferences});
    cases.push_back(Case{absl::StrCat("fig4_linear_ci/noise_", noise), kCleaning, "mnist",
                         "exact_inner", kCleaningReferences});
  }
  for (const char* setting : {"small", "large"}) {
    cases.push_back(Case{absl::StrCat("denoising_ci/", setting),
                         {"Penalty", "CG", "Reverse", "MinimaxOPT"},
                         "mnist",
                         "inner_iterate",
                         {"validation only", "uniform weights", "oracle"},
                         /*kept_retrain=*/true});
  }
  for (const char* setting : {"untargeted_1pct", "untargeted_2pct", "untargeted_4pct",
                              "untargeted_6pct", "targeted_8to3"}) {
    cases.push_back(Case{absl::StrCat("poisoning_ci/", setting),
                         {"Penalty", "CG", "Reverse", "MinimaxOPT"},
                         "mnist",
                         "exact_inner",
                         {"clean", "initial poisons"}});
  }
  for (const char* setting : {"5way_1shot", "20way_5shot"}) {
    cases.push_back(Case{absl::StrCat("few_shot_ci/", setting),
                         {"Penalty", "CG", "Reverse", "MinimaxOPT"},
                         "",  // the Omniglot stand-in has its own CHECKSUMS.md5, named in the notes
                         "protocol",
                         {"random extractor", "pretrained"}});
  }
  return cases;
}

INSTANTIATE_TEST_SUITE_P(CiPreset, ExperimentOutputsTest, ::testing::ValuesIn(CiCases()));

// The tuning files chosen values reach the runs: every ci manifest embeds its tuning file (a
// fingerprinted grid with every point's score), none says "not tuned".
TEST(Tuning, EveryCiFigureRunsWithItsTunedRates) {
  for (const std::string& dir :
       {std::string("fig1_logreg_synthetic_ci"), std::string("fig2_logreg_text_ci"),
        std::string("fig3_resnet_weight_decay_ci"),
        absl::StrCat("fig4_hyper_cleaning_ci/noise_", experiments::kNoiseRatios[0].name),
        absl::StrCat("fig4_linear_ci/noise_", experiments::kTuningNoiseRatio.name),
        std::string("denoising_ci/small"), std::string("denoising_ci/large"),
        std::string("poisoning_ci/untargeted_6pct"), std::string("poisoning_ci/targeted_8to3"),
        std::string("few_shot_ci/5way_1shot"), std::string("few_shot_ci/20way_5shot")}) {
    const std::string manifest = Read(absl::StrCat("experiments/", dir, "/manifest.json"));
    EXPECT_NE(manifest.find("\"fingerprint\": "), std::string::npos) << dir;
    EXPECT_NE(manifest.find("\"chosen\": ["), std::string::npos) << dir;
    EXPECT_EQ(manifest.find("not tuned"), std::string::npos) << dir;
  }
}

TEST(Paper, CiPdfWasBuilt) {
  const std::string pdf = Read("paper/paper_ci.pdf");
  EXPECT_EQ(pdf.substr(0, 5), "%PDF-");
  EXPECT_GT(pdf.size(), 10000u);
}

}  // namespace
