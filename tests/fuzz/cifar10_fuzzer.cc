// libFuzzer target for the CIFAR-10 binary batch reader: a parsed batch has N = bytes / 3073
// images [N, 3, 32, 32] in [0, 1] and N labels in 0..9; anything else is an error naming the batch.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tasks/data/image_datasets.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  at::Tensor images, labels;
  absl::Status parsed = tasks::ParseCifar10Batch(bytes, "input", &images, &labels);
  if (!parsed.ok()) {
    FUZZ_CHECK(parsed.message().find("input") != std::string::npos);
    return 0;
  }
  const int64_t n = static_cast<int64_t>(size) / 3073;
  FUZZ_CHECK(n > 0 && static_cast<size_t>(n) * 3073 == size);
  FUZZ_CHECK(images.sizes() == at::IntArrayRef({n, 3, 32, 32}));
  FUZZ_CHECK(labels.sizes() == at::IntArrayRef({n}));
  FUZZ_CHECK(labels.min().item<int64_t>() >= 0 && labels.max().item<int64_t>() <= 9);
  FUZZ_CHECK(images.min().item<float>() >= 0 && images.max().item<float>() <= 1);
  return 0;
}
