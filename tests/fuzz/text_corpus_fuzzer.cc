// libFuzzer target for the text corpus path (fortunes records, tokens, tf-idf): records are the
// non-blank blocks between "%" lines; tokens are lower-case runs of two or more ASCII letters,
// digits or '_'; every tf-idf row is finite and has unit norm or is empty.
#include <ATen/ATen.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tasks/data/text_data.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string> records = tasks::ParseFortunes(text);
  for (const std::string& record : records) {
    FUZZ_CHECK(record.find_first_not_of(" \t\r\n\v\f") != std::string::npos);
    for (const std::string& token : tasks::Tokenize(record)) {
      FUZZ_CHECK(token.size() >= 2);
      for (char c : token) {
        FUZZ_CHECK(c == '_' || std::isdigit(static_cast<unsigned char>(c)) ||
                   std::islower(static_cast<unsigned char>(c)));
      }
    }
  }
  if (records.empty()) return 0;
  tasks::TfidfOptions options;
  options.min_df = 1;
  const tasks::TfidfMatrix tfidf = tasks::Tfidf(records, options);
  FUZZ_CHECK(tfidf.features.size(0) == static_cast<int64_t>(records.size()));
  FUZZ_CHECK(tfidf.features.size(1) == static_cast<int64_t>(tfidf.vocabulary.size()));
  const at::Tensor dense = tfidf.features.to_dense();
  FUZZ_CHECK(dense.isfinite().all().item<bool>());
  const at::Tensor norms = dense.norm(2, {1});
  FUZZ_CHECK(((norms - 1).abs() < 1e-4).logical_or(norms == 0).all().item<bool>());
  return 0;
}
