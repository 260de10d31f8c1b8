#include "paper/summary.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"

namespace paper {
namespace {

// `format` is one of this file's printf formats for a double ("%.4f", ...).
std::string Number(double v, const char* format) {
  if (!std::isfinite(v)) return "--";
  char buffer[64];
  std::snprintf(buffer, sizeof(buffer), format, v);
  return buffer;
}

// Seconds with two significant digits below 10 s (runs of a fraction of a second), one decimal
// above.
std::string Seconds(double v) { return Number(v, std::fabs(v) < 10 ? "%.2g" : "%.1f"); }

bool IsBaseline(const std::string& method) { return method.rfind("MinimaxOPT", 0) != 0; }

// A run's rows by what they evaluate (curves.csv's evaluated_at): the method's own curve keeps
// its name; MinimaxOPT's y, the retrains and the references become groups of their own.
std::string GroupName(const std::string& method, const std::string& evaluated_at) {
  if (evaluated_at == "minimax_y") return method + kYSuffix;
  if (evaluated_at == "retrained") return method + kRetrainedSuffix;
  if (evaluated_at == "retrained_kept") return method + kKeptSuffix;
  if (evaluated_at == "reference") return kReferencePrefix + method;
  return method;
}

}  // namespace

bool IsReference(const std::string& group) { return group.rfind(kReferencePrefix, 0) == 0; }

std::string ReferenceName(const std::string& group) {
  return group.substr(std::string(kReferencePrefix).size());
}

bool IsMethod(const std::string& group) {
  return !IsReference(group) && group.find(" [") == std::string::npos;
}

double Row::Get(const std::string& column) const {
  auto it = values.find(column);
  return it == values.end() ? NAN : it->second;
}

absl::StatusOr<Curves> ParseCurves(const std::string& csv) {
  std::istringstream in(csv);
  std::string line;
  if (!std::getline(in, line)) return absl::InvalidArgumentError("empty curves file");
  const std::vector<std::string> header = absl::StrSplit(line, ',');
  const auto method_at = std::find(header.begin(), header.end(), "method");
  const auto seed_at = std::find(header.begin(), header.end(), "seed");
  const auto evaluated_at = std::find(header.begin(), header.end(), "evaluated_at");
  if (method_at == header.end() || seed_at == header.end()) {
    return absl::InvalidArgumentError("the header lacks a method or seed column: " + line);
  }
  Curves curves;
  std::map<std::string, std::vector<std::string>> seeds;  // method → seeds in order
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const std::vector<std::string> cells = absl::StrSplit(line, ',');
    if (cells.size() != header.size()) {
      return absl::InvalidArgumentError(absl::StrCat("line ", line_number, " has ", cells.size(),
                                                     " cells, the header ", header.size()));
    }
    const std::string method = GroupName(
        cells[method_at - header.begin()],
        evaluated_at == header.end() ? std::string() : cells[evaluated_at - header.begin()]);
    const std::string seed = cells[seed_at - header.begin()];
    std::vector<std::string>& order = seeds[method];
    auto found = std::find(order.begin(), order.end(), seed);
    const size_t index = found - order.begin();
    if (found == order.end()) {
      order.push_back(seed);
      curves[method].emplace_back();
    }
    Row row;
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == "method") continue;
      char* end = nullptr;
      const double v = std::strtod(cells[i].c_str(), &end);
      row.values[header[i]] = end != cells[i].c_str() ? v : NAN;
    }
    curves[method][index].push_back(std::move(row));
  }
  return curves;
}

absl::StatusOr<Curves> ReadCurves(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  absl::StatusOr<Curves> curves = ParseCurves(std::string(std::istreambuf_iterator<char>(in), {}));
  if (!curves.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", curves.status().message()));
  }
  return curves;
}

Curve MeanCurve(const std::vector<Curve>& runs) {
  Curve mean;
  if (runs.empty()) return mean;
  size_t length = runs.front().size();
  for (const Curve& r : runs) length = std::min(length, r.size());
  for (size_t i = 0; i < length; ++i) {
    Row row;
    for (const auto& [column, unused] : runs.front()[i].values) {
      double sum = 0;
      for (const Curve& r : runs) sum += r[i].Get(column);
      row.values[column] = sum / static_cast<double>(runs.size());
    }
    mean.push_back(std::move(row));
  }
  return mean;
}

Stat Over(const std::vector<Curve>& runs, const std::function<double(const Curve&)>& value) {
  std::vector<double> v;
  for (const Curve& r : runs) {
    const double x = value(r);
    if (std::isfinite(x)) v.push_back(x);
  }
  Stat s;
  s.n = static_cast<int>(v.size());
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= s.n;
  if (s.n > 1) {
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = std::sqrt(s.sd / (s.n - 1));
  }
  return s;
}

std::function<double(const Curve&)> LastOf(const std::string& column) {
  return [column](const Curve& r) { return Last(r, column); };
}

double Last(const Curve& run, const std::string& column) {
  for (auto it = run.rbegin(); it != run.rend(); ++it) {
    if (std::isfinite(it->Get(column))) return it->Get(column);
  }
  return NAN;
}

double Best(const Curve& run, const std::string& column) {
  double best = NAN;
  for (const Row& r : run) {
    const double v = r.Get(column);
    if (std::isfinite(v) && !(v <= best)) best = v;
  }
  return best;
}

double AtBudget(const Curve& run, const std::string& column, double budget) {
  double value = NAN;
  for (const Row& r : run) {
    if (!(r.Get("gradient_calls") <= budget)) break;
    if (std::isfinite(r.Get(column))) value = r.Get(column);
  }
  return value;
}

const Row* FirstReaching(const Curve& run, const std::string& column, double target,
                         bool higher_is_better) {
  for (const Row& r : run) {
    const double v = r.Get(column);
    if (higher_is_better ? v >= target : v <= target) return &r;
  }
  return nullptr;
}

std::string PlusMinus(const Stat& s, const char* format, double scale) {
  if (s.n == 0) return "--";
  const std::string mean = Number(s.mean * scale, format);
  return s.n == 1 ? mean : absl::StrCat(mean, " $\\pm$ ", Number(s.sd * scale, format));
}

std::string Tex(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') {
      out += '\\';
      out += c;
    } else if (c == '<' || c == '>') {
      out += c == '<' ? "$<$" : "$>$";  // the default OT1 text font has no < or > glyphs
    } else if (c == '~' || c == '^' || c == '\\') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

std::string RankingFinding(const Curves& curves, const std::string& column, bool higher_is_better,
                           const char* format, double scale) {
  struct Entry {
    std::string method;
    Stat stat;
  };
  std::vector<Entry> entries;
  int seeds = 0;
  for (const auto& [method, runs] : curves) {
    if (!IsMethod(method)) continue;
    Entry e{method, Over(runs, LastOf(column))};
    if (e.stat.n > 0) entries.push_back(e);
    seeds = std::max(seeds, static_cast<int>(runs.size()));
  }
  if (entries.empty()) return "No method has a final value.";
  std::stable_sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    return higher_is_better ? a.stat.mean > b.stat.mean : a.stat.mean < b.stat.mean;
  });
  const std::string what = absl::StrReplaceAll(column, {{"_", " "}});
  std::vector<std::string> ranked;
  for (const Entry& e : entries) {
    ranked.push_back(absl::StrCat(Tex(e.method), " ", Number(e.stat.mean * scale, format)));
  }
  std::string out =
      absl::StrCat("By final ", what, " (mean over ", seeds, seeds == 1 ? " seed" : " seeds",
                   "): ", absl::StrJoin(ranked, ", "), ".");
  const Entry* best_baseline = nullptr;
  for (const Entry& e : entries) {
    if (IsBaseline(e.method)) {
      best_baseline = &e;
      break;
    }
  }
  auto minimax = curves.find("MinimaxOPT");
  if (best_baseline == nullptr || minimax == curves.end()) return out;
  const Curve baseline = MeanCurve(curves.at(best_baseline->method));
  const Curve ours = MeanCurve(minimax->second);
  const std::string target = absl::StrFormat(
      "the final %s of the best baseline (%s: %s after %s gradient calls and %s s)", what,
      Tex(best_baseline->method), Number(best_baseline->stat.mean * scale, format),
      Number(Last(baseline, "gradient_calls"), "%.0f"),
      Seconds(Last(baseline, "wall_time_seconds")));
  const Row* reached = FirstReaching(ours, column, best_baseline->stat.mean, higher_is_better);
  if (reached != nullptr) {
    absl::StrAppend(&out, " On the seed-averaged curves MinimaxOPT reaches ", target, " after ",
                    Number(reached->Get("gradient_calls"), "%.0f"), " gradient calls and ",
                    Seconds(reached->Get("wall_time_seconds")), " s.");
  } else {
    absl::StrAppend(&out, " On the seed-averaged curves MinimaxOPT does not reach ", target,
                    " within its ", Number(Last(ours, "gradient_calls"), "%.0f"),
                    " gradient calls.");
  }
  return out;
}

namespace {

// Seconds to `target` test accuracy over the runs that reach it.
Stat SecondsToStat(const std::vector<Curve>& runs, double target) {
  return Over(runs, [&](const Curve& r) {
    const Row* row = FirstReaching(r, "test_accuracy", target, /*higher_is_better=*/true);
    return row != nullptr ? row->Get("wall_time_seconds") : NAN;
  });
}

}  // namespace

std::string SecondsTo(const std::vector<Curve>& runs, double target) {
  const Stat s = SecondsToStat(runs, target);
  if (s.n == 0) return "never";
  if (s.n == static_cast<int>(runs.size())) return PlusMinus(s, "%.1f");
  return absl::StrCat(Number(s.mean, "%.1f"), " (", s.n, " of ", runs.size(), " seeds)");
}

std::string FirstToFinding(const Curves& curves, double target) {
  std::vector<std::pair<double, std::string>> reached;
  std::vector<std::string> never;
  for (const auto& [method, runs] : curves) {
    if (!IsMethod(method)) continue;
    const Stat s = SecondsToStat(runs, target);
    if (s.n == 0) {
      never.push_back(Tex(method));
    } else {
      const std::string partial = s.n < static_cast<int>(runs.size())
                                      ? absl::StrCat(", ", s.n, " of ", runs.size(), " seeds")
                                      : "";
      reached.emplace_back(
          s.mean, absl::StrCat(Tex(method), " (", Number(s.mean, "%.1f"), " s", partial, ")"));
    }
  }
  std::stable_sort(reached.begin(), reached.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> order;
  for (const auto& [seconds, text] : reached) order.push_back(text);
  std::string out = order.empty() ? absl::StrFormat("No method reaches %.0f\\%%", 100 * target)
                                  : absl::StrFormat("First to %.0f\\%%: %s", 100 * target,
                                                    absl::StrJoin(order, ", "));
  if (!never.empty()) absl::StrAppend(&out, "; never: ", absl::StrJoin(never, ", "));
  return out + ".";
}

Stat Headline(const Curves& curves, const std::string& method, const std::string& column) {
  auto retrained = curves.find(method + kRetrainedSuffix);
  const std::vector<Curve>& runs =
      retrained != curves.end() ? retrained->second : curves.at(method);
  return Over(runs, LastOf(column));
}

std::string ReferenceFinding(const Curves& curves, const std::string& column,
                             bool higher_is_better, const char* format, double scale) {
  std::vector<std::pair<std::string, double>> references;
  std::vector<std::string> described;
  for (const auto& [group, runs] : curves) {
    if (!IsReference(group)) continue;
    const Stat s = Over(runs, LastOf(column));
    if (s.n == 0) continue;
    const std::string name = ReferenceName(group);
    references.emplace_back(name, s.mean);
    described.push_back(absl::StrCat(Tex(name), " ", Number(s.mean * scale, format)));
  }
  if (references.empty()) return "";
  const std::string what = absl::StrReplaceAll(column, {{"_", " "}});
  std::string out = absl::StrCat("Against the references (", what, ": ",
                                 absl::StrJoin(described, ", "), "): ");
  std::vector<std::string> verdicts;
  for (const auto& [method, runs] : curves) {
    if (!IsMethod(method)) continue;
    const Stat s = Headline(curves, method, column);
    if (s.n == 0) continue;
    std::vector<std::string> beaten, not_beaten;
    for (const auto& [name, value] : references) {
      const bool beats = higher_is_better ? s.mean > value : s.mean < value;
      (beats ? beaten : not_beaten).push_back(Tex(name));
    }
    const bool retrained = curves.count(method + kRetrainedSuffix) > 0;
    verdicts.push_back(absl::StrCat(
        Tex(method), retrained ? " (retrained, " : " (", Number(s.mean * scale, format), ") ",
        beaten.empty() ? std::string("beats none")
        : beaten.size() == references.size()
            ? std::string("beats all")
            // "beats A and B, not C": a reference named "... only" reads well too.
            : absl::StrCat("beats ", absl::StrJoin(beaten, " and "), ", not ",
                           absl::StrJoin(not_beaten, " or "))));
  }
  return out + absl::StrJoin(verdicts, "; ") + ".";
}

std::vector<std::pair<std::string, double>> RankBy(const Curves& curves, const std::string& suffix,
                                                   const std::string& column) {
  std::vector<std::pair<std::string, double>> ranked;
  for (const auto& [method, runs] : curves) {
    if (!IsMethod(method)) continue;
    auto group = curves.find(method + suffix);
    if (group == curves.end()) continue;
    const Stat s = Over(group->second, LastOf(column));
    if (s.n > 0) ranked.push_back({method, s.mean});
  }
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.second > b.second; });
  return ranked;
}

std::string PlaceFinding(const std::vector<std::pair<std::string, double>>& ranked,
                         const std::string& method, const std::string& evaluation) {
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (ranked[i].first != method) continue;
    if (i == 0) {
      return absl::StrFormat("By %s %s places first of %d: it outperforms the others here.",
                             evaluation, Tex(method), static_cast<int>(ranked.size()));
    }
    return absl::StrFormat(
        "By %s %s places %d of %d, %.2f points below %s: it does not outperform the others here.",
        evaluation, Tex(method), static_cast<int>(i) + 1, static_cast<int>(ranked.size()),
        100 * (ranked[0].second - ranked[i].second), Tex(ranked[0].first));
  }
  return absl::StrCat("By ", evaluation, " ", Tex(method), " cannot be placed: it has no value.");
}

}  // namespace paper
