#include "paper/summary.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

namespace paper {
namespace {

// Two methods, two seeds each; hand-computed expectations below.
constexpr char kCsv[] =
    "method,seed,iteration,gradient_calls,wall_time_seconds,validation_loss,test_accuracy\n"
    "MinimaxOPT,1,-1,0,0,1.0,0.5\n"
    "MinimaxOPT,1,33,100,1,0.5,0.8\n"
    "MinimaxOPT,1,66,200,2,0.2,0.95\n"
    "CG,1,-1,0,0,1.0,0.5\n"
    "CG,1,4,150,10,0.6,0.9\n"
    "MinimaxOPT,2,-1,0,0,1.0,0.5\n"
    "MinimaxOPT,2,33,100,1.5,0.7,0.7\n"
    "MinimaxOPT,2,66,200,3,0.4,0.85\n"
    "CG,2,-1,0,0,1.0,0.5\n"
    "CG,2,4,150,12,0.4,0.91\n";

Curves Parsed() {
  absl::StatusOr<Curves> curves = ParseCurves(kCsv);
  EXPECT_TRUE(curves.ok()) << curves.status();
  return curves.ok() ? *curves : Curves{};
}

TEST(SummaryTest, GroupsRowsByMethodAndSeed) {
  const Curves curves = Parsed();
  ASSERT_EQ(curves.size(), 2u);
  ASSERT_EQ(curves.at("MinimaxOPT").size(), 2u);
  EXPECT_EQ(curves.at("MinimaxOPT")[1].size(), 3u);
  EXPECT_EQ(curves.at("CG")[1][1].Get("validation_loss"), 0.4);
  EXPECT_TRUE(std::isnan(curves.at("CG")[0][0].Get("no_such_column")));
}

TEST(SummaryTest, AveragesOverSeeds) {
  const Curves curves = Parsed();
  const Curve mean = MeanCurve(curves.at("MinimaxOPT"));
  ASSERT_EQ(mean.size(), 3u);
  EXPECT_DOUBLE_EQ(mean[1].Get("validation_loss"), 0.6);
  EXPECT_DOUBLE_EQ(mean[2].Get("wall_time_seconds"), 2.5);
  const Stat s =
      Over(curves.at("MinimaxOPT"), [](const Curve& r) { return Last(r, "validation_loss"); });
  EXPECT_EQ(s.n, 2);
  EXPECT_DOUBLE_EQ(s.mean, 0.3);
  EXPECT_NEAR(s.sd, std::sqrt(0.02), 1e-12);
  EXPECT_EQ(PlusMinus(s, "%.4f"), "0.3000 $\\pm$ 0.1414");
  EXPECT_EQ(PlusMinus(Stat{0.25, 0, 1}, "%.2f", 100), "25.00");
  EXPECT_EQ(PlusMinus(Stat{}, "%.2f"), "--");
}

TEST(SummaryTest, ReadsValuesAtABudgetAndTheBest) {
  const Curves curves = Parsed();
  const Curve& run = curves.at("MinimaxOPT")[0];
  EXPECT_EQ(AtBudget(run, "test_accuracy", 150), 0.8);
  EXPECT_TRUE(std::isnan(AtBudget(run, "test_accuracy", -1)));
  EXPECT_EQ(Best(run, "test_accuracy"), 0.95);
  const Row* row = FirstReaching(run, "validation_loss", 0.5, /*higher_is_better=*/false);
  ASSERT_NE(row, nullptr);
  EXPECT_EQ(row->Get("gradient_calls"), 100);
  EXPECT_EQ(FirstReaching(run, "test_accuracy", 0.99, true), nullptr);
}

TEST(SummaryTest, StatesWhoWinsAndByHowMuch) {
  EXPECT_EQ(
      RankingFinding(Parsed(), "validation_loss", false, "%.4f", 1),
      "By final validation loss (mean over 2 seeds): MinimaxOPT 0.3000, CG 0.5000. On the "
      "seed-averaged curves MinimaxOPT reaches the final validation loss of the best baseline "
      "(CG: 0.5000 after 150 gradient calls and 11.0 s) after 200 gradient calls and 2.5 s.");
  // By accuracy CG wins (0.905 against 0.9), and MinimaxOPT's mean curve (0.5, 0.75, 0.9) never
  // reaches 0.905.
  EXPECT_EQ(RankingFinding(Parsed(), "test_accuracy", true, "%.2f", 100),
            "By final test accuracy (mean over 2 seeds): CG 90.50, MinimaxOPT 90.00. On the "
            "seed-averaged curves MinimaxOPT does not reach the final test accuracy of the best "
            "baseline (CG: 90.50 after 150 gradient calls and 11.0 s) within its 200 gradient "
            "calls.");
}

TEST(SummaryTest, SecondsToATargetAccuracy) {
  const Curves curves = Parsed();
  EXPECT_EQ(SecondsTo(curves.at("CG"), 0.9), "11.0 $\\pm$ 1.4");
  EXPECT_EQ(SecondsTo(curves.at("MinimaxOPT"), 0.9), "2.0 (1 of 2 seeds)");
  EXPECT_EQ(SecondsTo(curves.at("MinimaxOPT"), 0.99), "never");
  EXPECT_EQ(FirstToFinding(curves, 0.9),
            "First to 90\\%: MinimaxOPT (2.0 s, 1 of 2 seeds), CG (11.0 s).");
  EXPECT_EQ(FirstToFinding(curves, 0.93),
            "First to 93\\%: MinimaxOPT (2.0 s, 1 of 2 seeds); never: CG.");
}

TEST(SummaryTest, SeparatesTheYardsticksSeriesAndJudgesAgainstReferences) {
  absl::StatusOr<Curves> curves = ParseCurves(
      "method,seed,evaluated_at,gradient_calls,test_accuracy\n"
      "MinimaxOPT,1,inner_iterate,0,0.5\n"
      "MinimaxOPT,1,minimax_y,0,0.6\n"
      "MinimaxOPT,1,inner_iterate,90,0.80\n"
      "MinimaxOPT,1,minimax_y,90,0.95\n"
      "MinimaxOPT,1,retrained,90,0.85\n"
      "CG,1,inner_iterate,0,0.5\n"
      "CG,1,inner_iterate,90,0.70\n"
      "CG,1,retrained,90,0.72\n"
      "CG,1,retrained_kept,90,0.91\n"
      "validation only,1,reference,0,0.90\n"
      "uniform weights,1,reference,0,0.80\n");
  ASSERT_TRUE(curves.ok()) << curves.status();
  // 2 methods, MinimaxOPT [y], 2 retrains, CG's kept-examples retrain, 2 references
  EXPECT_EQ(curves->size(), 8u);
  EXPECT_TRUE(IsMethod("MinimaxOPT"));
  EXPECT_FALSE(IsMethod("MinimaxOPT [y]"));
  EXPECT_FALSE(IsMethod("MinimaxOPT [retrained]"));
  EXPECT_FALSE(IsMethod("CG [kept]"));
  EXPECT_EQ(Last(curves->at("CG [kept]")[0], "test_accuracy"), 0.91);
  EXPECT_TRUE(IsReference("ref: validation only"));
  EXPECT_EQ(Last(curves->at("MinimaxOPT")[0], "test_accuracy"), 0.80);
  EXPECT_EQ(Last(curves->at("MinimaxOPT [y]")[0], "test_accuracy"), 0.95);
  // The headline is the retrain, not y's 0.95 (trained on the validation set).
  EXPECT_EQ(Headline(*curves, "MinimaxOPT", "test_accuracy").mean, 0.85);
  const std::string finding = ReferenceFinding(*curves, "test_accuracy", true, "%.1f", 100);
  EXPECT_NE(finding.find("uniform weights 80.0, validation only 90.0"), std::string::npos)
      << finding;
  EXPECT_NE(finding.find("MinimaxOPT (retrained, 85.0) beats uniform weights, not validation only"),
            std::string::npos)
      << finding;
  EXPECT_NE(finding.find("CG (retrained, 72.0) beats none"), std::string::npos) << finding;
  // The kept-examples retrains rank on their own; a method is placed against the first.
  const auto kept = RankBy(*curves, kKeptSuffix, "test_accuracy");
  ASSERT_EQ(kept.size(), 1u);  // only CG has one
  EXPECT_EQ(kept[0].first, "CG");
  EXPECT_EQ(PlaceFinding(kept, "CG", "x"), "By x CG places first of 1: it outperforms the others here.");
  EXPECT_EQ(PlaceFinding({{"A", 0.9}, {"B", 0.85}}, "B", "y"),
            "By y B places 2 of 2, 5.00 points below A: it does not outperform the others here.");
  EXPECT_NE(PlaceFinding(kept, "Penalty", "x").find("cannot be placed"), std::string::npos);
  // Rankings see the methods' own curves only.
  const std::string ranking = RankingFinding(*curves, "test_accuracy", true, "%.1f", 100);
  EXPECT_EQ(ranking.find("[y]"), std::string::npos) << ranking;
  EXPECT_EQ(ranking.find("ref:"), std::string::npos) << ranking;
}

TEST(SummaryTest, RejectsMalformedCurves) {
  EXPECT_FALSE(ParseCurves("").ok());
  EXPECT_FALSE(ParseCurves("method,gradient_calls\nCG,1\n").ok());  // no seed column
  absl::StatusOr<Curves> short_line = ParseCurves("method,seed,gradient_calls\nCG,1\n");
  ASSERT_FALSE(short_line.ok());
  EXPECT_NE(short_line.status().message().find("line 2"), std::string::npos);
  EXPECT_FALSE(ReadCurves("/nonexistent/curves.csv").ok());
}

}  // namespace
}  // namespace paper
