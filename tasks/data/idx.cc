#include "tasks/data/idx.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "tasks/data/data_files.h"

namespace tasks {
namespace {

uint32_t BigEndian32(const unsigned char* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

}  // namespace

absl::StatusOr<at::Tensor> ParseIdx(absl::string_view bytes, const std::string& name) {
  auto bad = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat("IDX file ", name, " is malformed: ", why, "; run ",
                                            kFetchCommand, " to fetch it again"));
  };
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if (bytes.size() < 4) return bad("shorter than its 4-byte magic number");
  if (p[0] != 0 || p[1] != 0) {
    return bad(absl::StrCat("wrong magic number 0x", absl::Hex(BigEndian32(p), absl::kZeroPad8),
                            " (expected 0x000008DD)"));
  }
  if (p[2] != 0x08) {
    return bad(absl::StrCat("element type 0x", absl::Hex(p[2]),
                            " is not unsigned byte (0x08), the only type MNIST uses"));
  }
  const int dims = p[3];
  if (dims < 1 || dims > 4) return bad(absl::StrCat(dims, " dimensions (expected 1 to 4)"));
  if (bytes.size() < 4 + 4 * static_cast<size_t>(dims)) return bad("truncated header");
  std::vector<int64_t> sizes;
  const size_t header = 4 + 4 * static_cast<size_t>(dims);
  const uint64_t available = bytes.size() - header;
  // The product of up to four 32-bit sizes can pass 2^64 and wrap around to a length the data
  // happens to have; the product of the nonzero sizes is bounded before every multiplication.
  constexpr uint64_t kMaxElements = uint64_t{1} << 62;
  uint64_t nonzero_product = 1;
  bool empty = false, too_large = false;
  for (int d = 0; d < dims; ++d) {
    sizes.push_back(BigEndian32(p + 4 + 4 * d));
    const uint64_t size = static_cast<uint64_t>(sizes.back());
    if (size == 0) {
      empty = true;
    } else if (nonzero_product > kMaxElements / size) {
      too_large = true;
    } else {
      nonzero_product *= size;
    }
  }
  if (too_large) {
    return bad(absl::StrCat("sizes ", absl::StrJoin(sizes, " x "), " are too large (over 2^62 "
                            "elements) for the ", available, " bytes of data"));
  }
  const uint64_t count = empty ? 0 : nonzero_product;
  if (available != count) {
    return bad(absl::StrCat("header promises ", count, " bytes of data but the file has ",
                            available, available < count ? " (truncated)" : ""));
  }
  return at::from_blob(const_cast<unsigned char*>(p + header), sizes, at::kByte).clone();
}

absl::StatusOr<at::Tensor> ReadIdx(const std::string& path) {
  absl::StatusOr<std::string> bytes = ReadDataFile(path);
  if (!bytes.ok()) return bytes.status();
  return ParseIdx(*bytes, path);
}

std::string EncodeIdx(const at::Tensor& data) {
  at::Tensor c = data.contiguous().to(at::kByte);
  std::string out = {0, 0, 0x08, static_cast<char>(c.dim())};
  for (int64_t s : c.sizes()) {
    const uint32_t v = static_cast<uint32_t>(s);
    for (int shift : {24, 16, 8, 0}) out += static_cast<char>((v >> shift) & 0xff);
  }
  out.append(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()), c.numel());
  return out;
}

}  // namespace tasks
