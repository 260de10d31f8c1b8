// Turns the experiments' curves and the theory report into the files the manuscript \input's:
// every number and every plotted point in the paper comes from here, never typed by hand.
//
//   summarize --fig1_logreg_synthetic=<dir> ... --denoising=<dir> --out_dir=<dir>
//
// (one flag per experiment of experiments/figures.bzl, named after it: its output folder)
//
// Writes results.tex (macros: data, notes, seeds and the findings in words), the tables
// (mean ± standard deviation over seeds) and fig{1,2,3,4}_plot.tex (pgfplots axes with the
// curves averaged over seeds as coordinates).
#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiments/noise_ratios.h"
#include "experiments/results.h"
#include "paper/summary.h"
#include "solvers/core/runtime.h"

ABSL_FLAG(std::string, fig1_logreg_synthetic, "", "output folder of fig1_logreg_synthetic");
ABSL_FLAG(std::string, fig2_logreg_text, "", "output folder of fig2_logreg_text");
ABSL_FLAG(std::string, fig3_resnet_weight_decay, "", "output folder of fig3_resnet_weight_decay");
ABSL_FLAG(std::string, fig4_hyper_cleaning, "",
          "output folder of fig4_hyper_cleaning (with noise_*/)");
ABSL_FLAG(std::string, fig4_linear, "", "output folder of fig4_linear (with noise_*/)");
ABSL_FLAG(std::string, denoising, "", "output folder of denoising (with small/ and large/)");
ABSL_FLAG(std::string, poisoning, "",
          "output folder of poisoning (with untargeted_*pct/ and targeted_8to3/)");
ABSL_FLAG(std::string, few_shot, "",
          "output folder of few_shot (with 5way_1shot/ and 20way_5shot/); empty where the "
          "preset has no few-shot run yet (experiments/figures.bzl, default_preset)");
ABSL_FLAG(std::string, out_dir, "", "where to write results.tex and fig*_plot.tex");

namespace {

// The poisoning experiment's settings (experiments/figures.bzl): four untargeted poison
// percentages, 6 % last, then the targeted attack.
constexpr const char* kPoisoningFolders[] = {"untargeted_1pct", "untargeted_2pct",
                                             "untargeted_4pct", "untargeted_6pct", "targeted_8to3"};

// The denoising experiment's settings (experiments/figures.bzl): output folder, the stem of its
// generated files and of its macros.
struct DenoisingSetting {
  const char* folder;
  const char* file;
  const char* macro;
};
constexpr DenoisingSetting kDenoisingSettings[] = {{"small", "denoising", "Denoising"},
                                                   {"large", "denoising_large", "DenoisingLarge"}};

// The few-shot experiment's settings (experiments/figures.bzl) and their table headings.
constexpr std::pair<const char*, const char*> kFewShotSettings[] = {
    {"5way_1shot", "5-way 1-shot"}, {"20way_5shot", "20-way 5-shot"}};

using paper::Curve;
using paper::Curves;
using paper::Tex;

// A table's body: row(label, group) for every method of `curves`, a rule, then every reference
// (labelled by its name).
void MethodAndReferenceRows(
    const Curves& curves, std::string* table,
    const std::function<void(const std::string& label, const std::string& group)>& row) {
  for (const auto& [method, runs] : curves) {
    if (paper::IsMethod(method)) row(method, method);
  }
  *table += "\\midrule\n";
  for (const auto& [group, runs] : curves) {
    if (paper::IsReference(group)) row(paper::ReferenceName(group), group);
  }
}

// The value of a top-level string field of a manifest.json (the runner writes one per line).
std::string ManifestField(const std::string& path, const std::string& field) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    if (std::optional<std::string> value = experiments::JsonStringField(line, field)) {
      return *std::move(value);
    }
  }
  return "(not recorded)";
}

// The runs that failed (a non-finite value: rolled back to the last finite iterate, scored there),
// from the manifests' run lines: "CG (seeds 1, 2, 3)", with the folder's label when there are
// several (figure 4's noise ratios). A sentence either way, so a failure never goes unsaid.
std::string FailedRuns(const std::vector<std::pair<std::string, std::string>>& labelled_manifests) {
  std::map<std::string, std::vector<std::string>> failed;  // method -> "seed 2" or "0.9: seed 2"
  for (const auto& [label, path] : labelled_manifests) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("\"failed\": true") == std::string::npos) continue;
      const std::optional<std::string> method = experiments::JsonStringField(line, "method");
      const size_t sd = line.find("\"seed\": ");
      if (!method || sd == std::string::npos) continue;
      const std::string seed = line.substr(sd + 8, line.find_first_of(",}", sd + 8) - sd - 8);
      failed[*method].push_back(label.empty() ? seed : absl::StrCat(seed, " at ", label));
    }
  }
  if (failed.empty()) return "No run failed.";
  std::vector<std::string> parts;
  for (const auto& [method, seeds] : failed) {
    parts.push_back(absl::StrCat(Tex(method), " (seed", seeds.size() == 1 ? " " : "s ",
                                 absl::StrJoin(seeds, ", "), ")"));
  }
  return absl::StrCat(
      "Failed runs (a non-finite value; each is scored at its last finite iterate, "
      "as the manifest records): ",
      absl::StrJoin(parts, "; "), ".");
}

// One pgfplots axis: `y` against `x` on each method's curve averaged over its seeds (and
// MinimaxOPT's y as its own series), with every reference as a dashed horizontal line.
std::string Plot(const Curves& curves, const std::string& x, const std::string& y,
                 const std::string& xlabel, const std::string& ylabel, const std::string& title,
                 bool logy) {
  std::string out = absl::StrFormat(
      "%% Generated by //paper:summarize; do not edit.\n\\begin{tikzpicture}\n\\begin{axis}["
      "width=0.42\\textwidth, height=0.33\\textwidth, xlabel={%s}, ylabel={%s}, title={%s}, "
      "legend style={font=\\tiny}, legend pos=outer north east, %s unbounded coords=jump]\n",
      xlabel, ylabel, Tex(title), logy ? "ymode=log," : "");
  double x_max = 0;
  for (const auto& [method, runs] : curves) {
    if (paper::IsReference(method) || method.find(paper::kRetrainedSuffix) != std::string::npos ||
        method.find(paper::kKeptSuffix) != std::string::npos) {
      continue;
    }
    std::string coords;
    for (const paper::Row& r : paper::MeanCurve(runs)) {
      const double vx = r.Get(x), vy = r.Get(y);
      if (std::isfinite(vx) && std::isfinite(vy) && (!logy || vy > 0)) {
        absl::StrAppendFormat(&coords, "(%.6g,%.6g) ", vx, vy);
        x_max = std::max(x_max, vx);
      }
    }
    absl::StrAppendFormat(&out,
                          "\\addplot+[mark=none, thick] coordinates {%s};\n\\addlegendentry{%s}\n",
                          coords, Tex(method));
  }
  for (const auto& [group, runs] : curves) {
    if (!paper::IsReference(group)) continue;
    const paper::Stat v = paper::Over(runs, [&](const Curve& r) { return paper::Last(r, y); });
    if (v.n == 0 || (logy && !(v.mean > 0))) continue;
    absl::StrAppendFormat(&out,
                          "\\addplot[gray, dashed, mark=none] coordinates {(0,%.6g) (%.6g,%.6g)};\n"
                          "\\addlegendentry{%s}\n",
                          v.mean, x_max, v.mean, Tex(group));
  }
  return out + "\\end{axis}\n\\end{tikzpicture}\n";
}

// The numbers of a JSON list's text ("1, 2.5, 3").
std::vector<double> Numbers(const std::string& text) {
  std::vector<double> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    double v = 0;
    if (absl::SimpleAtod(part, &v)) out.push_back(v);
  }
  return out;
}

// The tuning table's rows for one manifest: every method's tuned rates and chosen values, read
// from the embedded tuning file (one line per method), or one row saying it was not tuned. A
// chosen value at an end of its grid is marked (the grid may have been too narrow for that
// method) and counted in `edges`; every chosen value in `chosen_values`.
std::string TuningRows(const std::string& label, const std::string& manifest_path, int* edges,
                       int* chosen_values) {
  std::ifstream in(manifest_path);
  std::string line, rows;
  auto field = [](const std::string& text, const std::string& key, char open, char close) {
    const size_t at = text.find(key);
    if (at == std::string::npos) return std::string();
    const size_t begin = text.find(open, at + key.size());
    const size_t end = text.find(close, begin + 1);
    return begin == std::string::npos || end == std::string::npos
               ? std::string()
               : text.substr(begin + 1, end - begin - 1);
  };
  while (std::getline(in, line)) {
    if (line.find("{\"name\": ") == std::string::npos ||
        line.find("\"chosen\"") == std::string::npos) {
      continue;
    }
    std::string rates = field(line, "\"rates\": ", '[', ']');
    rates.erase(std::remove(rates.begin(), rates.end(), '"'), rates.end());
    // "grid": [[a, b, c], [d, e, f]]: one list per rate.
    std::vector<std::vector<double>> grid;
    const std::string grid_key = "\"grid\": [[";
    const size_t grid_at = line.find(grid_key);
    const size_t grid_end = grid_at == std::string::npos ? grid_at : line.find("]]", grid_at);
    if (grid_end != std::string::npos) {
      const size_t begin = grid_at + grid_key.size();
      for (absl::string_view list : absl::StrSplit(line.substr(begin, grid_end - begin), "], [")) {
        grid.push_back(Numbers(std::string(list)));
      }
    }
    const std::vector<double> values = Numbers(field(line, "\"chosen\": ", '[', ']'));
    std::vector<std::string> cells;
    for (size_t i = 0; i < values.size(); ++i) {
      const bool edge = i < grid.size() && !grid[i].empty() &&
                        (values[i] == grid[i].front() || values[i] == grid[i].back());
      *edges += edge;
      ++*chosen_values;
      cells.push_back(absl::StrFormat("%.4g%s", values[i], edge ? "$^e$" : ""));
    }
    absl::StrAppendFormat(
        &rows, "%s & %s & %s & %s & %s \\\\\n", Tex(label),
        Tex(field(line, "{\"name\": ", '"', '"')), Tex(rates), absl::StrJoin(cells, ", "),
        [&] {  // the number (or null) after the key
          const std::string key = "\"chosen_score\": ";
          const size_t at = line.find(key);
          if (at == std::string::npos) return std::string();
          const size_t begin = at + key.size();
          const std::string score = line.substr(begin, line.find_first_of(",}", begin) - begin);
          // null: every grid point failed; the hand-set rates ran.
          return score == "null" ? std::string("every point failed") : score;
        }());
  }
  if (rows.empty()) {
    rows = absl::StrFormat(
        "%s & \\multicolumn{4}{l}{not tuned: hand-set rates (see the manifest)} "
        "\\\\\n",
        Tex(label));
  }
  return rows;
}

int NumSeeds(const Curves& curves) {
  size_t n = 0;
  for (const auto& [method, runs] : curves) n = std::max(n, runs.size());
  return static_cast<int>(n);
}

}  // namespace

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  const std::string out_dir = absl::GetFlag(FLAGS_out_dir);
  bool ok = true;
  std::string results = "% Generated by //paper:summarize from the experiments' curves.csv.\n";
  auto write = [&](const std::string& name, const std::string& contents) {
    absl::Status s = experiments::WriteFileAtomically(out_dir + "/" + name, contents);
    if (!s.ok()) {
      std::cerr << "summarize: " << s.message() << "\n";
      ok = false;
    }
  };
  auto read = [&](const std::string& path) {
    absl::StatusOr<Curves> curves = paper::ReadCurves(path);
    if (!curves.ok()) {
      std::cerr << "summarize: " << curves.status().message() << "\n";
      ok = false;
      return Curves{};
    }
    return *curves;
  };
  auto macro = [&](const std::string& name, const std::string& value) {
    absl::StrAppendFormat(&results, "\\newcommand{\\%s}{%s}\n", name, value);
  };
  using paper::Over;
  using paper::PlusMinus;

  // What each figure ran on and what stood in for unavailable data, from the manifests.
  std::vector<std::pair<std::string, std::string>> manifest_dirs = {
      {"FigOne", absl::GetFlag(FLAGS_fig1_logreg_synthetic)},
      {"FigTwo", absl::GetFlag(FLAGS_fig2_logreg_text)},
      {"FigThree", absl::GetFlag(FLAGS_fig3_resnet_weight_decay)},
      {"FigFour", absl::StrCat(absl::GetFlag(FLAGS_fig4_hyper_cleaning), "/noise_",
                               experiments::kNoiseRatios[0].name)},
      {"FigFourLinear", absl::StrCat(absl::GetFlag(FLAGS_fig4_linear), "/noise_",
                                     experiments::kNoiseRatios[0].name)}};
  for (const DenoisingSetting& setting : kDenoisingSettings) {
    manifest_dirs.emplace_back(setting.macro,
                               absl::StrCat(absl::GetFlag(FLAGS_denoising), "/", setting.folder));
  }
  manifest_dirs.emplace_back("Poisoning",
                             absl::GetFlag(FLAGS_poisoning) + "/" + kPoisoningFolders[3]);
  manifest_dirs.emplace_back(
      "FewShot", absl::StrCat(absl::GetFlag(FLAGS_few_shot), "/", kFewShotSettings[0].first));
  for (const auto& [name, dir] : manifest_dirs) {
    if (name == "FewShot" && absl::GetFlag(FLAGS_few_shot).empty()) {
      for (const char* suffix : {"Data", "Notes", "Budget", "Tuning", "Failures"}) {
        const std::string which = suffix;
        macro(name + suffix, which == "Data"
                                 ? "Not run at this preset: measured at about 35 minutes for "
                                   "both settings and 3 seeds on 2 cores, more than this "
                                   "build's 90-minute limit leaves (README, few-shot learning)"
                             : which == "Budget" || which == "Tuning" ? "not run at this preset"
                                                                      : "");
      }
      continue;
    }
    const std::string manifest = dir + "/manifest.json";
    macro(name + "Data", Tex(ManifestField(manifest, "data")));
    std::string notes = ManifestField(manifest, "notes");
    if (!notes.empty() && notes.back() != '.') notes += '.';  // a finding follows in the text
    macro(name + "Notes", Tex(notes));
    macro(name + "Budget", Tex(ManifestField(manifest, "budget")));
    macro(name + "Tuning", Tex(ManifestField(manifest, "procedure")));
    std::vector<std::pair<std::string, std::string>> manifests = {{"", manifest}};
    const std::string first_noise = absl::StrCat("/noise_", experiments::kNoiseRatios[0].name);
    if (absl::EndsWith(dir, first_noise)) {  // figure 4: every noise ratio
      const std::string root = dir.substr(0, dir.size() - first_noise.size());
      manifests.clear();
      for (const auto& [noise, value] : experiments::kNoiseRatios) {
        manifests.push_back({absl::StrCat("noise ", noise),
                             absl::StrCat(root, "/noise_", noise, "/manifest.json")});
      }
    }
    if (name == "Poisoning") {  // every setting
      manifests.clear();
      for (const char* folder : kPoisoningFolders) {
        manifests.push_back(
            {folder, absl::StrCat(absl::GetFlag(FLAGS_poisoning), "/", folder, "/manifest.json")});
      }
    }
    if (name == "FewShot") {  // every setting
      manifests.clear();
      for (const auto& [folder, heading] : kFewShotSettings) {
        manifests.push_back(
            {heading, absl::StrCat(absl::GetFlag(FLAGS_few_shot), "/", folder, "/manifest.json")});
      }
    }
    macro(name + "Failures", FailedRuns(manifests));
  }

  // Figures 1 and 2: validation loss against gradient calls; final values per method.
  struct Fig {
    const char* key;
    std::string dir;
    const char* title;
    const char* macro;
  };
  for (const Fig& f :
       {Fig{"fig1", absl::GetFlag(FLAGS_fig1_logreg_synthetic), "Synthetic data", "FigOne"},
        Fig{"fig2", absl::GetFlag(FLAGS_fig2_logreg_text), "Text (fortunes)", "FigTwo"}}) {
    const Curves curves = read(f.dir + "/curves.csv");
    write(absl::StrCat(f.key, "_plot.tex"),
          Plot(curves, "gradient_calls", "validation_loss", "gradient calls", "validation loss",
               f.title, true));
    std::string table =
        "\\begin{tabular}{lrrrr}\n\\toprule\nMethod & Gradient calls & Seconds "
        "& Validation loss & Test accuracy (\\%) \\\\\n\\midrule\n";
    for (const auto& [method, runs] : curves) {
      if (!paper::IsMethod(method) && !paper::IsReference(method)) continue;
      absl::StrAppendFormat(&table, "%s & %s & %s & %s & %s \\\\\n", Tex(method),
                            PlusMinus(Over(runs, paper::LastOf("gradient_calls")), "%.0f"),
                            PlusMinus(Over(runs, paper::LastOf("wall_time_seconds")), "%.2f"),
                            PlusMinus(Over(runs, paper::LastOf("validation_loss")), "%.4f"),
                            PlusMinus(Over(runs, paper::LastOf("test_accuracy")), "%.2f", 100));
    }
    write(absl::StrCat(f.key, "_table.tex"), table + "\\bottomrule\n\\end{tabular}\n");
    macro(absl::StrCat(f.macro, "Seeds"), absl::StrCat(NumSeeds(curves)));
    macro(absl::StrCat(f.macro, "Finding"),
          paper::RankingFinding(curves, "validation_loss", /*higher_is_better=*/false, "%.4f", 1));
    macro(absl::StrCat(f.macro, "ReferenceFinding"),
          paper::ReferenceFinding(curves, "test_accuracy", /*higher_is_better=*/true, "%.2f", 100));
  }

  // Figure 3 / Table 1: test accuracy against gradient calls; final accuracy, and accuracy at the
  // smallest budget any method used (the paper compares methods at equal gradient calls).
  {
    const Curves curves = read(absl::GetFlag(FLAGS_fig3_resnet_weight_decay) + "/curves.csv");
    write("fig3_plot.tex", Plot(curves, "gradient_calls", "test_accuracy", "gradient calls",
                                "test accuracy", "ResNet-18 weight decay", false));
    double budget = INFINITY;
    for (const auto& [method, runs] : curves) {
      if (!paper::IsMethod(method)) continue;
      budget = std::min(budget, paper::Last(paper::MeanCurve(runs), "gradient_calls"));
    }
    std::string table = absl::StrFormat(
        "\\begin{tabular}{lrrrr}\n\\toprule\nMethod & Retrained (\\%%) & Gradient calls & "
        "Inner iterate (\\%%) & at %.0f calls \\\\\n\\midrule\n",
        budget);
    for (const auto& [method, runs] : curves) {
      if (!paper::IsMethod(method) && !paper::IsReference(method)) continue;
      const std::string retrained =
          paper::IsReference(method)
              ? PlusMinus(
                    Over(runs, [](const Curve& r) { return paper::Last(r, "test_accuracy"); }),
                    "%.2f", 100)
              : PlusMinus(paper::Headline(curves, method, "test_accuracy"), "%.2f", 100);
      absl::StrAppendFormat(
          &table, "%s & %s & %s & %s & %s \\\\\n", Tex(method), retrained,
          PlusMinus(Over(runs, [](const Curve& r) { return paper::Last(r, "gradient_calls"); }),
                    "%.0f"),
          PlusMinus(Over(runs, [](const Curve& r) { return paper::Last(r, "test_accuracy"); }),
                    "%.2f", 100),
          PlusMinus(
              Over(runs,
                   [&](const Curve& r) { return paper::AtBudget(r, "test_accuracy", budget); }),
              "%.2f", 100));
    }
    write("fig3_table.tex", table + "\\bottomrule\n\\end{tabular}\n");
    macro("FigThreeSeeds", absl::StrCat(NumSeeds(curves)));
    macro("FigThreeFewestCalls", absl::StrFormat("%.0f", budget));
    macro("FigThreeFinding",
          paper::RankingFinding(curves, "test_accuracy", /*higher_is_better=*/true, "%.2f", 100));
    macro("FigThreeReferenceFinding",
          paper::ReferenceFinding(curves, "test_accuracy", /*higher_is_better=*/true, "%.2f", 100));
  }

  // Figure 4, Tables 2 and 4: hyper-cleaning at three noise ratios.
  {
    std::map<std::string, std::map<std::string, std::string>> seconds_to_90, best, retrained;
    std::vector<std::string> methods, rows;  // rows: the methods, then the references
    std::string findings, reference_findings;
    int panel = 0, seeds = 0;
    std::string panels;  // fig4_plots.tex: the panels, two per row
    for (const auto& [noise, value] : experiments::kNoiseRatios) {
      const Curves curves = read(
          absl::StrCat(absl::GetFlag(FLAGS_fig4_hyper_cleaning), "/noise_", noise, "/curves.csv"));
      seeds = std::max(seeds, NumSeeds(curves));
      const std::string file = absl::StrCat("fig4_plot_", ++panel, ".tex");
      write(file, Plot(curves, "wall_time_seconds", "test_accuracy", "seconds", "test accuracy",
                       absl::StrCat("noise ", noise), false));
      absl::StrAppend(&panels, panel == 1 ? "" : (panel % 2 == 1 ? "\\\\\n" : "\\quad"),
                      "\\input{generated/", file, "}");
      for (const auto& [method, runs] : curves) {
        if (paper::IsReference(method)) {
          if (std::find(rows.begin(), rows.end(), method) == rows.end()) rows.push_back(method);
          retrained[method][noise] =
              PlusMinus(Over(runs, [](const Curve& r) { return paper::Last(r, "test_accuracy"); }),
                        "%.2f", 100);
          continue;
        }
        if (!paper::IsMethod(method)) continue;
        if (std::find(methods.begin(), methods.end(), method) == methods.end()) {
          methods.push_back(method);
        }
        retrained[method][noise] =
            PlusMinus(paper::Headline(curves, method, "test_accuracy"), "%.2f", 100);
        seconds_to_90[method][noise] = paper::SecondsTo(runs, 0.9);
        best[method][noise] =
            PlusMinus(Over(runs, [](const Curve& r) { return paper::Best(r, "test_accuracy"); }),
                      "%.2f", 100);
      }
      absl::StrAppend(&findings, findings.empty() ? "" : " ", "Noise ", noise, ": ",
                      paper::FirstToFinding(curves, 0.9));
      absl::StrAppend(&reference_findings, reference_findings.empty() ? "" : " ", "Noise ", noise,
                      ". ", paper::ReferenceFinding(curves, "test_accuracy", true, "%.2f", 100));
    }
    write("fig4_plots.tex", panels + "\n");
    // One column per noise ratio; a row is a method's cells in that order.
    std::string header =
        absl::StrCat("\\begin{tabular}{l", std::string(std::size(experiments::kNoiseRatios), 'r'),
                     "}\n\\toprule\nMethod");
    for (const auto& [noise, value] : experiments::kNoiseRatios)
      absl::StrAppend(&header, " & noise ", noise);
    absl::StrAppend(&header, " \\\\\n\\midrule\n");
    auto row = [](const std::string& method,
                  std::map<std::string, std::map<std::string, std::string>>& cells) {
      std::string line = Tex(method);
      for (const auto& [noise, value] : experiments::kNoiseRatios) {
        absl::StrAppend(&line, " & ", cells[method][noise]);
      }
      return line + " \\\\\n";
    };
    std::string t2 = header, t4 = header;
    for (const std::string& m : methods) {
      t2 += row(m, seconds_to_90);
      t4 += row(m, best);
    }
    // Table 5: the headline (each method's retrained accuracy), then the references. (It used to
    // start from Table 2's rows as well, so every method appeared twice, once with its seconds.)
    std::string t5 = header;
    for (const std::vector<std::string>* group : {&methods, &rows}) {
      if (group == &rows && !rows.empty()) t5 += "\\midrule\n";
      for (const std::string& m : *group) t5 += row(m, retrained);
    }
    write("table5.tex", t5 + "\\bottomrule\n\\end{tabular}\n");
    macro("FigFourReferenceFinding", reference_findings);
    write("table2.tex", t2 + "\\bottomrule\n\\end{tabular}\n");
    write("table4.tex", t4 + "\\bottomrule\n\\end{tabular}\n");
    macro("FigFourSeeds", absl::StrCat(seeds));
    macro("FigFourFinding", findings);
  }
  // Figure 4 with benchopt's linear model: solver seconds to test error <= 15, 14, 13, 12.5 %
  // and the best test error, per noise ratio, at the re-solved y*(x_k).
  {
    std::string table =
        "\\begin{tabular}{lrrrrr}\n\\toprule\nMethod & $\\le$15\\% & $\\le$14\\% & "
        "$\\le$13\\% & $\\le$12.5\\% & best error (\\%) \\\\\n";
    std::string findings;
    int seeds = 0;
    for (const auto& [noise, value] : experiments::kNoiseRatios) {
      const Curves curves =
          read(absl::StrCat(absl::GetFlag(FLAGS_fig4_linear), "/noise_", noise, "/curves.csv"));
      seeds = std::max(seeds, NumSeeds(curves));
      absl::StrAppend(&table, "\\midrule\n\\multicolumn{6}{l}{noise ", noise, "} \\\\\n");
      for (const auto& [method, runs] : curves) {
        if (!paper::IsMethod(method) && !paper::IsReference(method)) continue;
        std::vector<std::string> cells = {Tex(method)};
        for (double error : {0.15, 0.14, 0.13, 0.125}) {
          cells.push_back(paper::IsReference(method) ? "" : paper::SecondsTo(runs, 1 - error));
        }
        cells.push_back(PlusMinus(
            Over(runs, [](const Curve& r) { return 1 - paper::Best(r, "test_accuracy"); }), "%.2f",
            100));
        absl::StrAppend(&table, absl::StrJoin(cells, " & "), " \\\\\n");
      }
      absl::StrAppend(&findings, findings.empty() ? "" : " ", "Noise ", noise, ". ",
                      paper::ReferenceFinding(curves, "test_accuracy", true, "%.2f", 100));
    }
    write("table6.tex", table + "\\bottomrule\n\\end{tabular}\n");
    macro("FigFourLinearSeeds", absl::StrCat(seeds));
    macro("FigFourLinearReferenceFinding", findings);
  }
  // The penalty method's data denoising, each setting (small: logistic regression; large: the
  // CNN): test accuracy along the runs, and per method both retrains (g(x_final, .), and the
  // authors' on the examples kept), the cleaning precision and recall at the end, and the
  // references. Files denoising[_large]_{plot,table}.tex, macros Denoising[Large]...
  for (const auto& [setting, file_stem, macro_stem] : kDenoisingSettings) {
    const std::string dir = absl::StrCat(absl::GetFlag(FLAGS_denoising), "/", setting);
    const std::string file = file_stem, macro_name = macro_stem;
    const Curves curves = read(dir + "/curves.csv");
    write(file + "_plot.tex", Plot(curves, "gradient_calls", "test_accuracy", "gradient calls",
                                   "test accuracy", absl::StrCat("Denoising, ", setting), false));
    std::string table =
        "\\begin{tabular}{lrrrrr}\n\\toprule\nMethod & Retrained (\\%) & Kept, retrained "
        "(\\%) & Precision & Recall & Seconds \\\\\n\\midrule\n";
    for (const auto& [method, runs] : curves) {
      if (!paper::IsMethod(method)) continue;
      auto group = curves.find(method + paper::kKeptSuffix);
      const paper::Stat kept_accuracy = group == curves.end()
                                            ? paper::Stat{}
                                            : Over(group->second, paper::LastOf("test_accuracy"));
      absl::StrAppendFormat(
          &table, "%s & %s & %s & %s & %s & %s \\\\\n", Tex(method),
          PlusMinus(paper::Headline(curves, method, "test_accuracy"), "%.2f", 100),
          PlusMinus(kept_accuracy, "%.2f", 100),
          PlusMinus(Over(runs, paper::LastOf("cleaning_precision")), "%.3f"),
          PlusMinus(Over(runs, paper::LastOf("cleaning_recall")), "%.3f"),
          PlusMinus(Over(runs, paper::LastOf("wall_time_seconds")), "%.1f"));
    }
    table += "\\midrule\n";
    for (const auto& [group, runs] : curves) {
      if (!paper::IsReference(group)) continue;
      absl::StrAppendFormat(&table, "%s & %s & & & & \\\\\n", Tex(paper::ReferenceName(group)),
                            PlusMinus(Over(runs, paper::LastOf("test_accuracy")), "%.2f", 100));
    }
    write(file + "_table.tex", table + "\\bottomrule\n\\end{tabular}\n");
    const std::vector<std::pair<std::string, double>> kept =
        paper::RankBy(curves, paper::kKeptSuffix, "test_accuracy");
    std::vector<std::string> order;
    for (const auto& [method, mean] : kept) {
      order.push_back(absl::StrFormat("%s %.2f", Tex(method), 100 * mean));
    }
    // The authors' claim, against what ran: Penalty's place by their own evaluation.
    macro(macro_name + "Claim",
          paper::PlaceFinding(kept, "Penalty", "the authors' own evaluation"));
    macro(macro_name + "Seeds", absl::StrCat(NumSeeds(curves)));
    macro(macro_name + "KeptFinding",
          order.empty() ? std::string("No run has a retrain on its kept examples.")
                        : absl::StrCat("Retrained on the examples each method keeps (test "
                                       "accuracy, \\%): ",
                                       absl::StrJoin(order, ", "), "."));
    macro(macro_name + "ReferenceFinding",
          paper::ReferenceFinding(curves, "test_accuracy", /*higher_is_better=*/true, "%.2f", 100));
  }
  // The penalty method's training-data poisoning: the untargeted attack's test accuracy along the
  // runs at 6 % poisons and the targeted one's success; per method the final values at every
  // poison percentage (at the re-solved y*(x): a model retrained from scratch on the poisoned
  // set) and the targeted attack's success, beside the references.
  {
    const std::string root = absl::GetFlag(FLAGS_poisoning);
    std::vector<Curves> settings;
    for (const char* folder : kPoisoningFolders) {
      settings.push_back(read(absl::StrCat(root, "/", folder, "/curves.csv")));
    }
    const Curves& untargeted = settings[3];
    const Curves& targeted = settings[4];
    write("poisoning_plot.tex",
          Plot(untargeted, "gradient_calls", "test_accuracy", "gradient calls", "test accuracy",
               "Untargeted, 6% poisons", false) +
              Plot(targeted, "gradient_calls", "target_success", "gradient calls",
                   "test 8s predicted 3", "Targeted 8 to 3", false));
    std::string table =
        "\\begin{tabular}{lrrrrrr}\n\\toprule\n& \\multicolumn{4}{c}{Untargeted: test accuracy "
        "(\\%)} & \\multicolumn{2}{c}{Targeted 8$\\to$3} \\\\\nMethod & 1\\% & 2\\% & 4\\% & 6\\% "
        "& "
        "success (\\%) & seconds \\\\\n\\midrule\n";
    auto row = [&](const std::string& label, const std::string& group) {
      std::vector<std::string> cells = {Tex(label)};
      for (size_t i = 0; i < settings.size(); ++i) {
        auto runs = settings[i].find(group);
        const bool is_targeted = i + 1 == settings.size();
        cells.push_back(
            runs == settings[i].end()
                ? "--"
                : PlusMinus(Over(runs->second,
                                 paper::LastOf(is_targeted ? "target_success" : "test_accuracy")),
                            "%.1f", 100));
      }
      auto runs = targeted.find(group);
      cells.push_back(
          runs == targeted.end() || paper::IsReference(group)
              ? ""
              : PlusMinus(Over(runs->second, paper::LastOf("wall_time_seconds")), "%.1f"));
      absl::StrAppend(&table, absl::StrJoin(cells, " & "), " \\\\\n");
    };
    MethodAndReferenceRows(untargeted, &table, row);
    write("poisoning_table.tex", table + "\\bottomrule\n\\end{tabular}\n");
    // The authors' claim against what ran: Penalty's place by the strength of each attack.
    std::vector<std::pair<std::string, double>> error;  // 1 − test accuracy, highest first
    for (const auto& [method, accuracy] : paper::RankBy(untargeted, "", "test_accuracy")) {
      error.insert(error.begin(), {method, 1 - accuracy});
    }
    macro("PoisoningClaim",
          absl::StrCat(
              paper::PlaceFinding(error, "Penalty", "the test error it causes with 6\\% poisons"),
              " ",
              paper::PlaceFinding(paper::RankBy(targeted, "", "target_success"), "Penalty",
                                  "the targeted attack's success")));
    macro("PoisoningSeeds", absl::StrCat(NumSeeds(untargeted)));
    macro("PoisoningReferenceFinding",
          absl::StrCat("Untargeted, 6\\% poisons. ",
                       paper::ReferenceFinding(untargeted, "test_accuracy",
                                               /*higher_is_better=*/false, "%.1f", 100),
                       " Targeted. ",
                       paper::ReferenceFinding(targeted, "target_success",
                                               /*higher_is_better=*/true, "%.1f", 100)));
  }
  // The penalty method's few-shot learning: per method and setting, the test protocol's mean
  // accuracy over the test episodes at the end of the budget (mean ± sd over seeds; the 95 %
  // half-width over episodes of the first seed beside it), beside the references.
  if (absl::GetFlag(FLAGS_few_shot).empty()) {
    write("few_shot_table.tex",
          "\\begin{tabular}{l}\n(no few-shot run at this preset)\n\\end{tabular}\n");
    macro("FewShotClaim", "");
    macro("FewShotSeeds", "0");
    macro("FewShotReferenceFinding", "");
  } else {
    std::vector<Curves> settings;
    for (const auto& [folder, heading] : kFewShotSettings) {
      settings.push_back(
          read(absl::StrCat(absl::GetFlag(FLAGS_few_shot), "/", folder, "/curves.csv")));
    }
    std::string table = "\\begin{tabular}{lrrr}\n\\toprule\nMethod";
    for (const auto& [folder, heading] : kFewShotSettings)
      absl::StrAppend(&table, " & ", heading, " (\\%)");
    table += " & seconds \\\\\n\\midrule\n";
    auto row = [&](const std::string& label, const std::string& group) {
      std::vector<std::string> cells = {Tex(label)};
      for (const Curves& setting : settings) {
        auto runs = setting.find(group);
        if (runs == setting.end() || runs->second.empty()) {
          cells.push_back("--");
          continue;
        }
        const double ci95 = paper::Last(runs->second.front(), "test_accuracy_ci95");
        cells.push_back(absl::StrCat(
            PlusMinus(Over(runs->second, paper::LastOf("test_accuracy")), "%.1f", 100),
            std::isfinite(ci95) ? absl::StrFormat(" {\\scriptsize[$\\pm$%.1f]}", 100 * ci95) : ""));
      }
      auto runs = settings[0].find(group);
      cells.push_back(
          runs == settings[0].end() || paper::IsReference(group)
              ? ""
              : PlusMinus(Over(runs->second, paper::LastOf("wall_time_seconds")), "%.1f"));
      absl::StrAppend(&table, absl::StrJoin(cells, " & "), " \\\\\n");
    };
    MethodAndReferenceRows(settings[0], &table, row);
    write("few_shot_table.tex", table + "\\bottomrule\n\\end{tabular}\n");
    macro("FewShotClaim",
          absl::StrCat(paper::PlaceFinding(paper::RankBy(settings[0], "", "test_accuracy"),
                                           "Penalty", "5-way 1-shot test accuracy"),
                       " ",
                       paper::PlaceFinding(paper::RankBy(settings[1], "", "test_accuracy"),
                                           "Penalty", "20-way 5-shot test accuracy")));
    macro("FewShotSeeds", absl::StrCat(NumSeeds(settings[0])));
    macro("FewShotReferenceFinding",
          absl::StrCat("5-way 1-shot. ",
                       paper::ReferenceFinding(settings[0], "test_accuracy",
                                               /*higher_is_better=*/true, "%.1f", 100),
                       " 20-way 5-shot. ",
                       paper::ReferenceFinding(settings[1], "test_accuracy",
                                               /*higher_is_better=*/true, "%.1f", 100)));
  }
  // Appendix: the tuned rates of every figure (equal terms: the same grid size per method).
  {
    std::string table =
        "\\begin{tabular}{llllr}\n\\toprule\nFigure & Method & Rates & Chosen & Score "
        "\\\\\n\\midrule\n";
    int edges = 0, chosen_values = 0;
    std::vector<std::pair<std::string, std::string>> tuned = {
        {"1", absl::GetFlag(FLAGS_fig1_logreg_synthetic) + "/manifest.json"},
        {"2", absl::GetFlag(FLAGS_fig2_logreg_text) + "/manifest.json"},
        {"3", absl::GetFlag(FLAGS_fig3_resnet_weight_decay) + "/manifest.json"},
        // Tuned at one noise ratio, used at every ratio: one set of rows each.
        {"4", absl::StrCat(absl::GetFlag(FLAGS_fig4_hyper_cleaning), "/noise_",
                           experiments::kTuningNoiseRatio.name, "/manifest.json")},
        {"4 linear", absl::StrCat(absl::GetFlag(FLAGS_fig4_linear), "/noise_",
                                  experiments::kTuningNoiseRatio.name, "/manifest.json")},
    };
    for (const DenoisingSetting& setting : kDenoisingSettings) {
      tuned.emplace_back(
          absl::StrCat("denoising, ", setting.folder),
          absl::StrCat(absl::GetFlag(FLAGS_denoising), "/", setting.folder, "/manifest.json"));
    }
    // Untargeted: tuned at 6 % and used at every percentage; targeted: its own.
    tuned.emplace_back(
        "poisoning, untargeted",
        absl::StrCat(absl::GetFlag(FLAGS_poisoning), "/", kPoisoningFolders[3], "/manifest.json"));
    tuned.emplace_back("poisoning, targeted", absl::StrCat(absl::GetFlag(FLAGS_poisoning), "/",
                                                           kPoisoningFolders[4], "/manifest.json"));
    if (!absl::GetFlag(FLAGS_few_shot).empty()) {
      for (const auto& [folder, heading] : kFewShotSettings) {
        tuned.emplace_back(
            absl::StrCat("few-shot, ", heading),
            absl::StrCat(absl::GetFlag(FLAGS_few_shot), "/", folder, "/manifest.json"));
      }
    }
    for (const auto& [label, manifest] : tuned) {
      table += TuningRows(label, manifest, &edges, &chosen_values);
    }
    write("tuning_table.tex", table + "\\bottomrule\n\\end{tabular}\n");
    macro("TuningEdgeChoices", absl::StrCat(edges));
    macro("TuningChosenValues", absl::StrCat(chosen_values));
  }
  write("results.tex", results);
  return ok ? 0 : 1;
}

int main(int argc, char** argv) {
  return bilevel::RunMain("summarize", [&] { return UnguardedMain(argc, argv); });
}
