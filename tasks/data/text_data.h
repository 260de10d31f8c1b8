// Sparse and text data: LIBSVM/svmlight files, text corpora (Debian's fortunes, which stands in
// for 20newsgroups here, and the 20newsgroups one-folder-per-topic layout users bring), and
// tf-idf features as sparse tensors.
//
//   absl::StatusOr<tasks::TextCorpus> corpus = tasks::LoadFortunes(tasks::DefaultDataDir());
//   tasks::TfidfOptions options;                       // min_df = 2, sublinear tf, l2 rows
//   tasks::TfidfMatrix tfidf = tasks::Tfidf(corpus->documents, options);
//   // tfidf.features: sparse COO float [documents, vocabulary]
#ifndef TASKS_DATA_TEXT_DATA_H_
#define TASKS_DATA_TEXT_DATA_H_

#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tasks {

struct SparseDataset {
  at::Tensor features;  // sparse COO float [rows, columns], coalesced
  at::Tensor labels;    // float [rows] as written in the file
};

// LIBSVM/svmlight text: one example per line, "label index:value index:value ...", indices
// 1-based and increasing; '#' starts a comment. `num_features` 0 = the largest index seen.
// Errors give the file (`name`) and the line number.
absl::StatusOr<SparseDataset> ParseLibsvm(absl::string_view text, const std::string& name,
                                          int64_t num_features = 0);
absl::StatusOr<SparseDataset> ReadLibsvm(const std::string& path, int64_t num_features = 0);

struct TextCorpus {
  std::vector<std::string> documents;
  std::vector<int64_t> labels;          // index into categories
  std::vector<std::string> categories;  // sorted names
  std::string provenance;
};

// Debian's fortunes: <data_dir>/fortunes/<category>, records separated by lines holding "%".
// Categories with fewer than `min_documents` records are left out. Files are checked against
// setup.sh's CHECKSUMS.md5.
absl::StatusOr<TextCorpus> LoadFortunes(const std::string& data_dir, int min_documents = 50);

// The records of one fortunes file: blocks separated by lines that hold only "%" (blank records
// are dropped).
std::vector<std::string> ParseFortunes(absl::string_view text);

// The 20newsgroups layout: <dir>/<topic>/<document>, one folder per topic.
absl::StatusOr<TextCorpus> LoadTopicFolders(const std::string& dir);

// Lower-cased tokens of two or more letters, digits or '_' (scikit-learn's default token pattern
// \w\w+ for ASCII text).
std::vector<std::string> Tokenize(absl::string_view text);

struct TfidfOptions {
  int min_df = 2;            // keep terms in at least this many documents
  bool sublinear_tf = true;  // tf → 1 + log(tf)
  bool l2_normalize = true;  // unit-norm rows
};

struct TfidfMatrix {
  at::Tensor features;                  // sparse COO float [documents, vocabulary]
  std::vector<std::string> vocabulary;  // sorted; column j is vocabulary[j]
  std::vector<double> idf;              // log((1 + n)/(1 + df)) + 1, scikit-learn's smooth idf
  TfidfOptions options;
};

// Fits the vocabulary and idf on `documents` (features left undefined). Fit on training
// documents only, so that nothing about the test documents leaks into the features.
TfidfMatrix FitTfidf(const std::vector<std::string>& documents, const TfidfOptions& options);
// The tf-idf rows of `documents` with a fitted vocabulary and idf (unknown terms are dropped).
at::Tensor TransformTfidf(const TfidfMatrix& fitted, const std::vector<std::string>& documents);
// Fits on `documents` and transforms them.
TfidfMatrix Tfidf(const std::vector<std::string>& documents, const TfidfOptions& options);

}  // namespace tasks

#endif  // TASKS_DATA_TEXT_DATA_H_
