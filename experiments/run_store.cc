#include "experiments/run_store.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "experiments/results.h"
#include "solvers/core/checkpoint.h"

namespace experiments {

namespace fs = std::filesystem;

// What a finished run's numbers depend on besides its seed: the figure, preset, device, data,
// yardstick (and its solve or retrain recipe), evaluation spacing and the method's options —
// written in this order, " | " between them (the yardstick's kind and recipe are two parts).
std::string RunFingerprint(const Experiment& e, const std::string& data_description,
                           const std::string& settings) {
  return absl::StrCat(e.figure, " | ", e.preset, " | ", e.device, " | ", data_description, " | ",
                      DescribeYardstick(e), " | eval every ", e.eval_every_gradient_calls, " | ",
                      settings);
}

// Why a recorded fingerprint is not this run's, in words: the first part that differs.
std::string FingerprintDifference(const std::string& recorded, const std::string& expected) {
  static const char* const kParts[] = {
      "figure", "preset", "device", "data", "yardstick", "yardstick's recipe", "evaluation spacing",
      "options"};
  constexpr size_t kNumParts = sizeof(kParts) / sizeof(kParts[0]);
  const std::vector<std::string> there =
      absl::StrSplit(recorded, absl::MaxSplits(" | ", kNumParts - 1));
  const std::vector<std::string> here =
      absl::StrSplit(expected, absl::MaxSplits(" | ", kNumParts - 1));
  if (there.size() == kNumParts && here.size() == kNumParts) {
    for (size_t i = 0; i < kNumParts; ++i) {
      if (there[i] == here[i]) continue;
      // Long parts (settings, data) are lists "a, b, c": name only the items that differ.
      std::vector<std::string> a = absl::StrSplit(there[i], ", "),
                               b = absl::StrSplit(here[i], ", ");
      if (a.size() != b.size()) a = {there[i]}, b = {here[i]};
      std::vector<std::string> was, is;
      for (size_t k = 0; k < a.size(); ++k) {
        if (a[k] != b[k]) was.push_back(a[k]), is.push_back(b[k]);
      }
      return absl::StrCat("its ", kParts[i], " differ", i + 1 == kNumParts ? "" : "s", ": '",
                          absl::StrJoin(was, ", "), "' there, '", absl::StrJoin(is, ", "),
                          "' here");
    }
  }
  return absl::StrCat("its fingerprint differs: '", recorded, "' there, '", expected, "' here");
}

// Why a finished run's (or reference's) files cannot be reused, or "" when they can: both must
// parse (a JSON object; a CSV of a header and at least one row, every line as wide as the header)
// and the JSON must record this run's fingerprint.
std::string WhyNotReusable(const std::string& json, const std::string& csv,
                           const std::string& fingerprint) {
  if (json.empty() || json.front() != '{' || json.back() != '}') {
    return "its JSON is empty or truncated";
  }
  if (csv.empty() || csv.back() != '\n') return "its CSV is empty or truncated";
  const std::vector<std::string> lines =
      absl::StrSplit(absl::string_view(csv).substr(0, csv.size() - 1), '\n');
  if (lines.size() < 2) return "its CSV has no row";
  const auto width = std::count(lines[0].begin(), lines[0].end(), ',');
  for (const std::string& line : lines) {
    if (std::count(line.begin(), line.end(), ',') != width) return "its CSV is malformed";
  }
  const std::optional<std::string> recorded = JsonStringField(json, "fingerprint");
  if (!recorded) return "its JSON records no fingerprint";
  if (*recorded != fingerprint) return FingerprintDifference(*recorded, fingerprint);
  return "";
}

// Moves each existing file of `paths` to `<path><suffix>` (".stale", ".damaged"; replacing an
// older one): files that are not used are kept for inspection, never merged, never deleted.
absl::Status SetAside(const std::vector<std::string>& paths, const std::string& suffix) {
  for (const std::string& path : paths) {
    if (!fs::exists(path)) continue;
    std::error_code ec;
    fs::rename(path, path + suffix, ec);
    if (ec) {
      return absl::PermissionDeniedError(absl::StrCat("cannot move ", path, " aside to ", path,
                                                      suffix, ": ", ec.message(),
                                                      "; move or delete it and rerun"));
    }
  }
  return absl::OkStatus();
}

// A finished run's (or reference's) JSON when its files can be reused (it was written by this
// experiment and both files parse); nullopt when it must be computed — none there, or files that
// are set aside with one line saying why.
absl::StatusOr<std::optional<std::string>> ReuseFinished(const std::string& json_path,
                                                         const std::string& csv_path,
                                                         const std::string& fingerprint,
                                                         const std::string& who, bool settle) {
  if (!fs::exists(json_path) || !fs::exists(csv_path)) return std::nullopt;
  std::string json = ReadFileToString(json_path);
  const std::string why = WhyNotReusable(json, ReadFileToString(csv_path), fingerprint);
  if (why.empty()) return std::optional<std::string>(std::move(json));
  if (!settle) return std::nullopt;
  absl::Status moved = SetAside({json_path, csv_path}, ".stale");
  if (!moved.ok()) return moved;
  std::cerr << who << ": not reusing " << json_path << " (" << why
            << "); moved it and its .csv to *.stale, computing it again\n";
  return std::nullopt;
}

// A checkpoint that cannot be read back whole (truncated, overwritten, not one of ours, or
// lacking a part every solver writes) is moved aside to `<path>.damaged` with a warning, and the
// run starts over: the damaged bytes are kept for inspection and nobody must delete a file by
// hand. A whole checkpoint of another run (its fingerprint differs) is moved to `<path>.stale`
// with one line saying why, and the run starts over too.
absl::Status SetAsideIfUnusable(const std::string& path, const std::string& fingerprint,
                                const std::string& who) {
  if (!fs::exists(path)) return absl::OkStatus();
  absl::StatusOr<bilevel::SolverState> state = bilevel::SolverState::Load(path);
  std::string problem;
  if (!state.ok()) {
    problem = absl::StrReplaceAll(state.status().message(), {{"; delete it to start over", ""}});
  } else {
    for (const char* key : {"solver", "fingerprint", "user_state"}) {
      if (problem.empty() && !state->GetString(key).ok()) problem = absl::StrCat("no '", key, "'");
    }
    if (problem.empty() && !state->GetInt("seed").ok()) problem = "no 'seed'";
  }
  if (problem.empty()) {
    const std::string recorded = *state->GetString("fingerprint");
    if (recorded == fingerprint) return absl::OkStatus();
    absl::Status moved = SetAside({path}, ".stale");
    if (!moved.ok()) return moved;
    std::cerr << who << ": not resuming " << path << " ("
              << FingerprintDifference(recorded, fingerprint) << "); moved it to " << path
              << ".stale, the run starts over\n";
    return absl::OkStatus();
  }
  absl::Status moved = SetAside({path}, ".damaged");
  if (!moved.ok()) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint ", path, " is damaged (", problem, ") and ", moved.message()));
  }
  std::cerr << who << ": WARNING: the checkpoint " << path << " is damaged (" << problem
            << "); moved it to " << path << ".damaged, the run starts over\n";
  return absl::OkStatus();
}

}  // namespace experiments
