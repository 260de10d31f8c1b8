// What //paper:summarize computes from the experiments' curves.csv: runs grouped by method and
// seed, curves averaged over seeds, mean ± standard deviation of final values, and the findings
// the paper states in words (who wins, by how much, in gradient calls and seconds). Kept apart
// from the binary so that the numbers the paper prints are tested.
#ifndef PAPER_SUMMARY_H_
#define PAPER_SUMMARY_H_

#include <functional>
#include <map>
#include <utility>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace paper {

// One evaluation point of a run: the numeric columns of curves.csv.
struct Row {
  std::map<std::string, double> values;
  // NaN when the column is missing or not a number.
  double Get(const std::string& column) const;
};
using Curve = std::vector<Row>;  // one run (method, seed), in file order

// method → its runs, one per seed in order of first appearance.
using Curves = std::map<std::string, std::vector<Curve>>;

// Groups in Curves besides a method's own curve (from curves.csv's evaluated_at column):
// "<method> [y]" MinimaxOPT's y, "<method> [retrained]" the retrain at the end of each run,
// "<method> [kept]" the retrain on the examples the final weights keep (denoising), and
// "ref: <name>" a reference line (one row per seed).
inline constexpr char kYSuffix[] = " [y]";
inline constexpr char kRetrainedSuffix[] = " [retrained]";
inline constexpr char kKeptSuffix[] = " [kept]";
inline constexpr char kReferencePrefix[] = "ref: ";
bool IsReference(const std::string& group);
// A reference group's name without kReferencePrefix (e.g. "ref: clean" -> "clean").
std::string ReferenceName(const std::string& group);
// A method's own curve (not a reference, not a [y] or [retrained] group).
bool IsMethod(const std::string& group);

// Parses curves.csv (header first; "method" and "seed" columns required).
absl::StatusOr<Curves> ParseCurves(const std::string& csv);
absl::StatusOr<Curves> ReadCurves(const std::string& path);

// The point-wise mean over the runs of every column, for as many points as the shortest run has
// (the runs of a method share their gradient-call grid: call counts do not depend on the seed).
Curve MeanCurve(const std::vector<Curve>& runs);

// Mean and sample standard deviation of `value` over the runs where it is finite.
struct Stat {
  double mean = 0;
  double sd = 0;
  int n = 0;  // runs with a finite value
};
Stat Over(const std::vector<Curve>& runs, const std::function<double(const Curve&)>& value);

// Last finite value of a column; NaN when none.
double Last(const Curve& run, const std::string& column);
// Last(·, column) as a function of the run, for Over().
std::function<double(const Curve&)> LastOf(const std::string& column);
// Largest finite value of a column; NaN when none.
double Best(const Curve& run, const std::string& column);
// `column` at the last point whose gradient_calls <= budget; NaN when none.
double AtBudget(const Curve& run, const std::string& column, double budget);
// The first point where `column` <= target (or >= target when `higher_is_better`); nullptr if
// none.
const Row* FirstReaching(const Curve& run, const std::string& column, double target,
                         bool higher_is_better);

// "m ± sd" (TeX) with `format` for both, scaled by `scale`; "m" for one run; "--" for none.
std::string PlusMinus(const Stat& s, const char* format, double scale = 1);

// Escapes text for LaTeX's default (OT1) fonts.
std::string Tex(const std::string& s);

// A sentence on a figure whose methods (IsMethod) are compared by the final value of `column` (validation
// loss, lower is better; test accuracy, higher is better): the methods in order with their means,
// then how many gradient calls and seconds MinimaxOPT (method "MinimaxOPT") needs to reach the
// best baseline's final value, on the curves averaged over seeds. `scale` multiplies the printed
// values (100 for accuracies in percent).
std::string RankingFinding(const Curves& curves, const std::string& column, bool higher_is_better,
                           const char* format, double scale);

// A method's headline value of `column` over seeds: its retrain when it has one, else the last
// point of its curve.
Stat Headline(const Curves& curves, const std::string& method, const std::string& column);
// A sentence: the references' values, then for every method (its headline value) which
// references it beats. Empty without references.
std::string ReferenceFinding(const Curves& curves, const std::string& column,
                             bool higher_is_better, const char* format, double scale);

// The methods ranked by the mean over seeds of the last value of `column` in their `suffix` group
// (e.g. kKeptSuffix), highest first; methods without that group are left out.
std::vector<std::pair<std::string, double>> RankBy(const Curves& curves, const std::string& suffix,
                                                   const std::string& column);
// A sentence on whether `method` outperforms the others in `ranked` (RankBy's order): first, or
// its place and how many points (×100) it is below the first. `evaluation` names the ranking.
std::string PlaceFinding(const std::vector<std::pair<std::string, double>>& ranked,
                         const std::string& method, const std::string& evaluation);

// Seconds to reach `target` test accuracy in each run of a method: "m ± sd" when every seed got
// there, "m (k of n seeds)" when some did, "never" when none did.
std::string SecondsTo(const std::vector<Curve>& runs, double target);
// A sentence: the methods in the order they reach `target` test accuracy (mean seconds over the
// seeds that reach it), then those that never do.
std::string FirstToFinding(const Curves& curves, double target);

}  // namespace paper

#endif  // PAPER_SUMMARY_H_
