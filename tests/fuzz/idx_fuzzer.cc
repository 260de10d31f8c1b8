// libFuzzer target for the IDX reader (MNIST, Fashion-MNIST), plain and gzipped: ReadIdx on the
// input as a file, and ParseIdx on the raw bytes. A parsed tensor must hold exactly the bytes after
// the header, and re-encode to the input.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "tasks/data/idx.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<at::Tensor> parsed = tasks::ParseIdx(bytes, "input");
  if (parsed.ok()) {
    FUZZ_CHECK(parsed->scalar_type() == at::kByte);
    FUZZ_CHECK(4 + 4 * static_cast<size_t>(parsed->dim()) + parsed->numel() == size);
    FUZZ_CHECK(tasks::EncodeIdx(*parsed) == bytes);
  } else {
    FUZZ_CHECK(parsed.status().message().find("input") != std::string::npos);
  }
  // Through a file: gunzipped first when the input is a gzip stream.
  absl::StatusOr<at::Tensor> read = tasks::ReadIdx(fuzz::ScratchFile(bytes, ".idx"));
  if (parsed.ok()) FUZZ_CHECK(read.ok() && at::equal(*read, *parsed));
  return 0;
}
