// Runs every theory check and writes, under --output_dir (default: theory/output in the
// workspace when run with `bazel run`, else ./theory/output):
//   theory_checks.csv  one row per check: claim, instance, point, λ, measured, bound, tightness
//   theory_table.tex   the paper's table: claim, instances, checks, violations, worst tightness,
//                      fitted log–log slope in λ
// prints the table, and last a JSON summary {"checks": N, "violations": M, "slopes": {...}}.
//
//   bazel run //theory:report
//   bazel run //theory:report -- --output_dir=/tmp/theory
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "theory/checks.h"
#include "theory/example1.h"
#include "theory/example1_problem.h"
#include "theory/instances_for_checks.h"
#include "solvers/core/runtime.h"

ABSL_FLAG(std::string, output_dir, "",
          "where to write theory_checks.csv and theory_table.tex (default: theory/output under "
          "the workspace)");

namespace theory {
namespace {

struct ClaimSummary {
  std::vector<std::string> instances;
  int checks = 0;
  int violations = 0;
  double worst_tightness = 0;
  std::vector<double> slopes;  // one per (instance, point), theorem claims only
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Writes `contents` to `path` atomically: a temporary file beside it, then a rename.
bool WriteAtomically(const std::filesystem::path& path, const std::string& contents) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << contents) || !out.flush()) {
      std::cerr << "report: cannot write " << tmp << "\n";
      return false;
    }
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::cerr << "report: cannot rename " << tmp << " to " << path << ": " << ec.message() << "\n";
    return false;
  }
  return true;
}

std::string TexEscape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '_' || ch == '&' || ch == '%' || ch == '#') out += '\\';
    out += ch;
  }
  return out;
}

int Run() {
  std::filesystem::path dir = absl::GetFlag(FLAGS_output_dir);
  if (dir.empty()) {
    const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
    dir = std::filesystem::path(workspace ? workspace : ".") / "theory" / "output";
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::cerr << "report: cannot create --output_dir " << dir << ": " << ec.message() << "\n";
    return 1;
  }

  std::vector<CheckRecord> records;
  std::vector<std::string> order;  // claims in first-seen order
  std::map<std::string, ClaimSummary> claims;
  auto add = [&](const CheckRecord& r) {
    records.push_back(r);
    if (!claims.count(r.claim)) order.push_back(r.claim);
    ClaimSummary& s = claims[r.claim];
    if (std::find(s.instances.begin(), s.instances.end(), r.instance) == s.instances.end()) {
      s.instances.push_back(r.instance);
    }
    ++s.checks;
    s.violations += r.violated;
    s.worst_tightness = std::max(s.worst_tightness, r.tightness);
  };

  int index = 0;
  for (const std::unique_ptr<Instance>& inst : CheckedInstances()) {
    std::mt19937_64 rng(100 + index++);
    std::cerr << "checking " << inst->Name() << "\n";
    const std::vector<double> lambdas = LambdaSweep(inst->Bounds(), kLambdaCount);
    for (int point = 0; point < kPointsPerInstance; ++point) {
      const Vec x = inst->SampleX(rng);
      std::map<std::string, std::vector<double>> errors;
      for (double lambda : lambdas) {
        for (const CheckRecord& r : CheckLemma1(*inst, x, point, lambda, 3, rng)) add(r);
        for (const CheckRecord& r : CheckTheorems(*inst, x, point, lambda)) {
          add(r);
          errors[r.claim].push_back(r.measured);
        }
      }
      const std::vector<double> upper(lambdas.begin() + kLambdaCount / 2, lambdas.end());
      for (const auto& [claim, e] : errors) {
        claims[claim].slopes.push_back(
            LogLogSlope(upper, std::vector<double>(e.begin() + kLambdaCount / 2, e.end())));
      }
    }
  }

  // Example 1: Algorithm 1 lands on the closed-form solution (1, 1) above the threshold.
  for (double c : {1.0, 2.0, 4.0}) {
    Example1 example(c);
    const auto [x, y] = RunAlgorithm1OnExample1(c, -1.0, 2.5);
    const double error = std::max(std::abs(x - 1.0), std::abs(y - 1.0));
    CheckRecord r;
    r.claim = "Example 1: Algorithm 1 reaches the bilevel solution";
    r.instance = absl::StrFormat("example1(c=%g, threshold=%g)", c, example.Threshold());
    r.lambda = c;
    r.measured = error;
    r.bound = 1e-8;
    r.tightness = error / r.bound;
    r.violated = error > r.bound;
    add(r);
  }

  std::string csv = "claim,instance,point,lambda,measured,bound,bound_type,tightness,violated\n";
  for (const CheckRecord& r : records) {
    absl::StrAppendFormat(&csv, "\"%s\",\"%s\",%d,%.17g,%.17g,%.17g,%s,%.17g,%d\n", r.claim,
                          r.instance, r.point, r.lambda, r.measured, r.bound,
                          r.lower_bound ? "lower" : "upper", r.tightness, r.violated ? 1 : 0);
  }

  std::string tex =
      "% Generated by //theory:report; do not edit.\n"
      "\\begin{tabular}{lrrrrr}\n\\hline\n"
      "Claim & Instances & Checks & Violations & Worst tightness & Slope in $\\lambda$ \\\\\n"
      "\\hline\n";
  std::string text = absl::StrFormat("%-52s %9s %7s %10s %15s %9s\n", "claim", "instances",
                                     "checks", "violations", "worst tightness", "slope");
  int total_checks = 0, total_violations = 0;
  std::vector<std::string> json_slopes;
  for (const std::string& claim : order) {
    const ClaimSummary& s = claims[claim];
    total_checks += s.checks;
    total_violations += s.violations;
    const bool has_slope = !s.slopes.empty();
    const std::string slope = has_slope ? absl::StrFormat("%.3f", Median(s.slopes)) : "--";
    absl::StrAppendFormat(&text, "%-52s %9d %7d %10d %15.3g %9s\n", claim, s.instances.size(),
                          s.checks, s.violations, s.worst_tightness, slope);
    absl::StrAppendFormat(&tex, "%s & %d & %d & %d & %.3g & %s \\\\\n", TexEscape(claim),
                          s.instances.size(), s.checks, s.violations, s.worst_tightness,
                          has_slope ? "$" + slope + "$" : "--");
    if (has_slope) json_slopes.push_back(absl::StrFormat("\"%s\": %.4f", claim, Median(s.slopes)));
  }
  tex += "\\hline\n\\end{tabular}\n";

  if (!WriteAtomically(dir / "theory_checks.csv", csv) ||
      !WriteAtomically(dir / "theory_table.tex", tex)) {
    return 1;
  }
  std::cout << text;
  std::cout << "wrote " << (dir / "theory_checks.csv").string() << " and "
            << (dir / "theory_table.tex").string() << "\n";
  std::cout << absl::StrFormat("{\"checks\": %d, \"violations\": %d, \"slopes\": {%s}}\n",
                               total_checks, total_violations, absl::StrJoin(json_slopes, ", "));
  return 0;
}

}  // namespace
}  // namespace theory

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  absl::SetProgramUsageMessage("Checks the minimax reformulation's theory and writes its table.");
  absl::ParseCommandLine(argc, argv);
  return theory::Run();
}

int main(int argc, char** argv) {
  return bilevel::RunMain("theory_report", [&] { return UnguardedMain(argc, argv); });
}
