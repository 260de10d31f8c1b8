#include "tasks/data/text_data.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tasks/data/data_files.h"

namespace tasks {
namespace {

at::Tensor SparseFromTriplets(const std::vector<int64_t>& rows, const std::vector<int64_t>& cols,
                              const std::vector<float>& values, int64_t n_rows, int64_t n_cols) {
  const int64_t nnz = static_cast<int64_t>(values.size());
  at::Tensor indices = at::empty({2, nnz}, at::kLong);
  if (nnz > 0) {
    std::copy(rows.begin(), rows.end(), indices[0].data_ptr<int64_t>());
    std::copy(cols.begin(), cols.end(), indices[1].data_ptr<int64_t>());
  }
  at::Tensor vals = at::empty({nnz}, at::kFloat);
  if (nnz > 0) std::copy(values.begin(), values.end(), vals.data_ptr<float>());
  return at::sparse_coo_tensor(indices, vals, {n_rows, n_cols}).coalesce();
}

}  // namespace

absl::StatusOr<SparseDataset> ParseLibsvm(absl::string_view text, const std::string& name,
                                          int64_t num_features) {
  std::vector<int64_t> rows, cols;
  std::vector<float> values, labels;
  int64_t max_index = 0, line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = line.substr(0, line.find('#'));
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    auto bad = [&](const std::string& why) {
      return absl::InvalidArgumentError(
          absl::StrCat("LIBSVM file ", name, " line ", line_number, ": ", why));
    };
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipWhitespace());
    float label;
    if (!absl::SimpleAtof(fields[0], &label) || !std::isfinite(label)) {
      return bad(absl::StrCat("label '", fields[0], "' is not a finite number"));
    }
    const int64_t row = static_cast<int64_t>(labels.size());
    labels.push_back(label);
    int64_t previous = 0;
    for (size_t f = 1; f < fields.size(); ++f) {
      std::pair<absl::string_view, absl::string_view> kv = absl::StrSplit(fields[f], ':');
      int64_t index;
      float value;
      if (!absl::SimpleAtoi(kv.first, &index) || !absl::SimpleAtof(kv.second, &value)) {
        return bad(absl::StrCat("'", fields[f], "' is not index:value"));
      }
      if (!std::isfinite(value)) return bad(absl::StrCat("value of '", fields[f], "' is not finite"));
      if (index < 1) return bad(absl::StrCat("index ", index, " is not 1-based"));
      if (index <= previous) return bad(absl::StrCat("indices not increasing at ", index));
      if (num_features > 0 && index > num_features) {
        return bad(absl::StrCat("index ", index, " exceeds num_features ", num_features));
      }
      previous = index;
      max_index = std::max(max_index, index);
      rows.push_back(row);
      cols.push_back(index - 1);
      values.push_back(value);
    }
  }
  if (labels.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("LIBSVM file ", name, " has no examples"));
  }
  SparseDataset out;
  const int64_t n_rows = static_cast<int64_t>(labels.size());
  out.features =
      SparseFromTriplets(rows, cols, values, n_rows, num_features > 0 ? num_features : max_index);
  out.labels = at::empty({n_rows}, at::kFloat);
  std::copy(labels.begin(), labels.end(), out.labels.data_ptr<float>());
  return out;
}

absl::StatusOr<SparseDataset> ReadLibsvm(const std::string& path, int64_t num_features) {
  absl::StatusOr<std::string> bytes = ReadDataFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseLibsvm(*bytes, path, num_features);
}

std::vector<std::string> ParseFortunes(absl::string_view text) {
  std::vector<std::string> records;
  std::string current;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StripTrailingAsciiWhitespace(line) == "%") {
      if (!absl::StripAsciiWhitespace(current).empty()) records.push_back(current);
      current.clear();
    } else {
      absl::StrAppend(&current, line, "\n");
    }
  }
  if (!absl::StripAsciiWhitespace(current).empty()) records.push_back(current);
  return records;
}

namespace {

absl::StatusOr<std::vector<std::string>> SortedEntries(const std::string& dir, bool folders) {
  std::error_code ec;
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    if (folders ? entry.is_directory() : entry.is_regular_file()) {
      names.push_back(entry.path().filename().string());
    }
  }
  if (ec) {
    return absl::NotFoundError(absl::StrCat("cannot list ", dir, ": ", ec.message()));
  }
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

absl::StatusOr<TextCorpus> LoadFortunes(const std::string& data_dir, int min_documents) {
  const std::string dir = absl::StrCat(data_dir, "/fortunes");
  absl::StatusOr<std::vector<std::string>> files = SortedEntries(dir, /*folders=*/false);
  if (!files.ok() || files->empty()) {
    return absl::NotFoundError(
        absl::StrCat("the fortunes corpus is missing from ", dir, ": run ", kFetchCommand));
  }
  TextCorpus corpus;
  for (const std::string& name : *files) {
    absl::Status verified = VerifyAgainstManifest(data_dir, "fortunes/" + name);
    if (!verified.ok()) return verified;
    absl::StatusOr<std::string> text = ReadDataFile(absl::StrCat(dir, "/", name));
    if (!text.ok()) return text.status();
    std::vector<std::string> records = ParseFortunes(*text);
    if (static_cast<int>(records.size()) < min_documents) continue;
    const int64_t label = static_cast<int64_t>(corpus.categories.size());
    corpus.categories.push_back(name);
    for (std::string& r : records) {
      corpus.documents.push_back(std::move(r));
      corpus.labels.push_back(label);
    }
    absl::StrAppend(&corpus.provenance, "fortunes/", name, " (", records.size(), " records)\n");
  }
  if (corpus.categories.size() < 2) {
    return absl::DataLossError(absl::StrCat("fewer than two fortunes categories in ", dir, " have ",
                                            min_documents, " records"));
  }
  return corpus;
}

absl::StatusOr<TextCorpus> LoadTopicFolders(const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> topics = SortedEntries(dir, /*folders=*/true);
  if (!topics.ok()) return topics.status();
  if (topics->empty()) {
    return absl::NotFoundError(
        absl::StrCat(dir, " has no topic folders (expected <dir>/<topic>/<document>)"));
  }
  TextCorpus corpus;
  for (const std::string& topic : *topics) {
    absl::StatusOr<std::vector<std::string>> docs =
        SortedEntries(absl::StrCat(dir, "/", topic), /*folders=*/false);
    if (!docs.ok()) return docs.status();
    const int64_t label = static_cast<int64_t>(corpus.categories.size());
    corpus.categories.push_back(topic);
    for (const std::string& doc : *docs) {
      absl::StatusOr<std::string> text = ReadDataFile(absl::StrCat(dir, "/", topic, "/", doc));
      if (!text.ok()) return text.status();
      corpus.documents.push_back(std::move(*text));
      corpus.labels.push_back(label);
    }
    absl::StrAppend(&corpus.provenance, topic, " (", docs->size(), " documents)\n");
  }
  return corpus;
}

std::vector<std::string> Tokenize(absl::string_view text) {
  std::vector<std::string> tokens;
  std::string current;
  auto flush = [&] {
    if (current.size() >= 2) tokens.push_back(current);
    current.clear();
  };
  for (char ch : text) {
    const unsigned char u = static_cast<unsigned char>(ch);
    if (std::isalnum(u) || ch == '_') {
      current += static_cast<char>(std::tolower(u));
    } else {
      flush();
    }
  }
  flush();
  return tokens;
}

TfidfMatrix FitTfidf(const std::vector<std::string>& documents, const TfidfOptions& options) {
  const int64_t n = static_cast<int64_t>(documents.size());
  std::map<std::string, int> df;
  for (const std::string& document : documents) {
    std::set<std::string> seen;
    for (std::string& t : Tokenize(document)) seen.insert(std::move(t));
    for (const std::string& term : seen) ++df[term];
  }
  TfidfMatrix out;
  out.options = options;
  for (const auto& [term, frequency] : df) {  // std::map: sorted vocabulary
    if (frequency < options.min_df) continue;
    out.vocabulary.push_back(term);
    out.idf.push_back(std::log((1.0 + n) / (1.0 + frequency)) + 1.0);
  }
  return out;
}

at::Tensor TransformTfidf(const TfidfMatrix& fitted, const std::vector<std::string>& documents) {
  std::map<std::string, int64_t> column;
  for (size_t j = 0; j < fitted.vocabulary.size(); ++j) {
    column[fitted.vocabulary[j]] = static_cast<int64_t>(j);
  }
  std::vector<int64_t> rows, cols;
  std::vector<float> values;
  for (size_t d = 0; d < documents.size(); ++d) {
    std::map<std::string, int> counts;
    for (std::string& t : Tokenize(documents[d])) ++counts[std::move(t)];
    const size_t start = values.size();
    double norm2 = 0;
    for (const auto& [term, c] : counts) {
      auto it = column.find(term);
      if (it == column.end()) continue;
      const double tf = fitted.options.sublinear_tf ? 1.0 + std::log(static_cast<double>(c)) : c;
      const double v = tf * fitted.idf[it->second];
      rows.push_back(static_cast<int64_t>(d));
      cols.push_back(it->second);
      values.push_back(static_cast<float>(v));
      norm2 += v * v;
    }
    if (fitted.options.l2_normalize && norm2 > 0) {
      const double inv = 1.0 / std::sqrt(norm2);
      for (size_t i = start; i < values.size(); ++i)
        values[i] = static_cast<float>(values[i] * inv);
    }
  }
  return SparseFromTriplets(rows, cols, values, static_cast<int64_t>(documents.size()),
                            static_cast<int64_t>(fitted.vocabulary.size()));
}

TfidfMatrix Tfidf(const std::vector<std::string>& documents, const TfidfOptions& options) {
  TfidfMatrix out = FitTfidf(documents, options);
  out.features = TransformTfidf(out, documents);
  return out;
}

}  // namespace tasks
