// The IDX format of MNIST and Fashion-MNIST (gzipped or not): a magic number 0x0000TTDD (TT =
// 0x08 for unsigned bytes, DD = number of dimensions), DD big-endian 32-bit sizes, then the data.
//
//   absl::StatusOr<at::Tensor> images = tasks::ReadIdx(dir + "/mnist/train-images-idx3-ubyte");
//   // uint8 tensor [60000, 28, 28]
#ifndef TASKS_DATA_IDX_H_
#define TASKS_DATA_IDX_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tasks {

// Parses IDX bytes (already decompressed); `name` is used in error messages.
absl::StatusOr<at::Tensor> ParseIdx(absl::string_view bytes, const std::string& name);

// Reads and parses an IDX file (gzip-compressed or not) into a uint8 tensor.
absl::StatusOr<at::Tensor> ReadIdx(const std::string& path);

// The IDX encoding of a uint8 tensor (for tests and tools).
std::string EncodeIdx(const at::Tensor& data);

}  // namespace tasks

#endif  // TASKS_DATA_IDX_H_
