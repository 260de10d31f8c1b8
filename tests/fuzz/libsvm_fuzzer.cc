// libFuzzer target for the LIBSVM/svmlight reader, with the width taken from the data and fixed
// at 8 columns: a parsed set is a coalesced sparse matrix whose indices lie inside its shape, with
// one finite label per row; anything else is an error naming the file.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tasks/data/text_data.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (int64_t width : {int64_t{0}, int64_t{8}}) {
    absl::StatusOr<tasks::SparseDataset> parsed = tasks::ParseLibsvm(text, "input", width);
    if (!parsed.ok()) {
      FUZZ_CHECK(parsed.status().message().find("input") != std::string::npos);
      continue;
    }
    const at::Tensor& x = parsed->features;
    FUZZ_CHECK(x.is_sparse() && x.is_coalesced() && x.dim() == 2);
    FUZZ_CHECK(parsed->labels.dim() == 1 && parsed->labels.size(0) == x.size(0));
    if (width > 0) FUZZ_CHECK(x.size(1) == width);
    const at::Tensor indices = x._indices();
    if (indices.numel() > 0) {
      FUZZ_CHECK(indices.min().item<int64_t>() >= 0);
      FUZZ_CHECK(indices[0].max().item<int64_t>() < x.size(0));
      FUZZ_CHECK(indices[1].max().item<int64_t>() < x.size(1));
    }
  }
  return 0;
}
