#include "solvers/core/checkpoint.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fcntl.h>
#include <unistd.h>

#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace bilevel {
namespace {

constexpr char kFormat[] = "hessian-free-bilevel solver state 1";

// Attribute names in the file: "<kind>__<key>", kind in {n, t<i>, i, d, s}.
void CheckKey(const std::string& key) {
  bool ok = !key.empty();
  for (char c : key) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  TORCH_CHECK(ok, "SolverState: invalid key '", key, "' (letters, digits and '_' only)");
}

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ","), "]");
}

uint32_t Le16(const std::string& b, size_t at) {
  return uint32_t{static_cast<unsigned char>(b[at])} |
         (uint32_t{static_cast<unsigned char>(b[at + 1])} << 8);
}
uint32_t Le32(const std::string& b, size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

// The CRC-32 of every stored entry of the zip archive LibTorch writes, checked before LibTorch
// parses it: LibTorch 1.13 does not check them, and its unpickler trusts the lengths it reads
// (a flipped byte in a string's length made it allocate 4 GiB; tests/fuzz:checkpoint_fuzzer).
// Empty when the entries match, else what is wrong. Archives this check cannot read (zip64,
// compressed entries) are left to LibTorch.
std::string ZipEntriesDamage(const std::string& b) {
  constexpr size_t kEnd = 22, kCentral = 46, kLocal = 30;
  if (b.size() < kEnd) return "shorter than a zip directory";
  size_t end = std::string::npos;  // the end-of-central-directory record, behind a comment
  for (size_t at = b.size() - kEnd + 1; at-- > 0 && b.size() - at <= kEnd + 0xffff;) {
    if (Le32(b, at) == 0x06054b50) {
      end = at;
      break;
    }
  }
  if (end == std::string::npos) return "no zip directory";
  const uint32_t entries = Le16(b, end + 10), size = Le32(b, end + 12), offset = Le32(b, end + 16);
  if (entries == 0xffff || size == 0xffffffff || offset == 0xffffffff) return "";  // zip64
  if (uint64_t{offset} + size > end) return "the zip directory lies outside the file";
  size_t at = offset;
  for (uint32_t e = 0; e < entries; ++e) {
    if (at + kCentral > end || Le32(b, at) != 0x02014b50) return "a damaged zip directory entry";
    const uint32_t method = Le16(b, at + 10), crc = Le32(b, at + 16);
    const uint32_t stored = Le32(b, at + 20), length = Le32(b, at + 24);
    const size_t name = Le16(b, at + 28), extra = Le16(b, at + 30), comment = Le16(b, at + 32);
    const uint32_t local = Le32(b, at + 42);
    if (stored == 0xffffffff || length == 0xffffffff || local == 0xffffffff) return "";  // zip64
    const std::string entry = b.substr(std::min(b.size(), at + kCentral), name);
    at += kCentral + name + extra + comment;
    if (method != 0) continue;  // compressed: LibTorch does not write these
    if (uint64_t{local} + kLocal > b.size() || Le32(b, local) != 0x04034b50) {
      return absl::StrCat("entry '", entry, "' has no local header");
    }
    const uint64_t data = uint64_t{local} + kLocal + Le16(b, local + 26) + Le16(b, local + 28);
    if (stored != length || data + length > b.size()) {
      return absl::StrCat("entry '", entry, "' runs past the end of the file");
    }
    const uLong sum = crc32(crc32(0L, Z_NULL, 0),
                            reinterpret_cast<const Bytef*>(b.data() + data), length);
    if (sum != crc) return absl::StrCat("entry '", entry, "' fails its CRC-32");
  }
  return "";
}

}  // namespace

void SolverState::PutTensors(const std::string& key, const TensorList& tensors) {
  CheckKey(key);
  TensorList copy;
  for (const at::Tensor& t : tensors) copy.push_back(t.detach().cpu().contiguous().clone());
  tensors_[key] = std::move(copy);
}

void SolverState::PutInt(const std::string& key, int64_t value) {
  CheckKey(key);
  ints_[key] = value;
}

void SolverState::PutDouble(const std::string& key, double value) {
  CheckKey(key);
  doubles_[key] = value;
}

void SolverState::PutString(const std::string& key, const std::string& value) {
  CheckKey(key);
  strings_[key] = value;
}

bool SolverState::Has(const std::string& key) const {
  return tensors_.count(key) || ints_.count(key) || doubles_.count(key) || strings_.count(key);
}

absl::StatusOr<int64_t> SolverState::GetInt(const std::string& key) const {
  auto it = ints_.find(key);
  if (it == ints_.end()) return absl::NotFoundError(absl::StrCat("no integer '", key, "' saved"));
  return it->second;
}

absl::StatusOr<double> SolverState::GetDouble(const std::string& key) const {
  auto it = doubles_.find(key);
  if (it == doubles_.end()) return absl::NotFoundError(absl::StrCat("no number '", key, "' saved"));
  return it->second;
}

absl::StatusOr<std::string> SolverState::GetString(const std::string& key) const {
  auto it = strings_.find(key);
  if (it == strings_.end()) return absl::NotFoundError(absl::StrCat("no text '", key, "' saved"));
  return it->second;
}

absl::Status SolverState::RestoreTensors(const std::string& key, TensorList* into) const {
  auto it = tensors_.find(key);
  if (it == tensors_.end()) {
    return absl::NotFoundError(absl::StrCat("no tensors '", key, "' saved"));
  }
  const TensorList& saved = it->second;
  if (saved.size() != into->size()) {
    return absl::FailedPreconditionError(
        absl::StrCat("'", key, "' holds ", saved.size(), " tensors, the solve has ", into->size()));
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    const at::Tensor& target = (*into)[i];
    if (saved[i].sizes() != target.sizes() || saved[i].scalar_type() != target.scalar_type()) {
      return absl::FailedPreconditionError(
          absl::StrCat("'", key, "' tensor ", i, " is ", Shape(saved[i]), " ",
                       c10::toString(saved[i].scalar_type()), ", the solve has ", Shape(target),
                       " ", c10::toString(target.scalar_type())));
    }
  }
  for (size_t i = 0; i < saved.size(); ++i) {
    (*into)[i] = saved[i].to((*into)[i].device(), /*non_blocking=*/false, /*copy=*/true);
  }
  return absl::OkStatus();
}

absl::Status SolverState::Save(const std::string& path) const {
  const std::string tmp = path + ".tmp";
  try {
    torch::serialize::OutputArchive archive;
    archive.write("s__format", c10::IValue(std::string(kFormat)));
    for (const auto& [key, list] : tensors_) {
      archive.write("n__" + key, c10::IValue(static_cast<int64_t>(list.size())));
      for (size_t i = 0; i < list.size(); ++i) {
        archive.write(absl::StrCat("t", i, "__", key), list[i]);
      }
    }
    for (const auto& [key, v] : ints_) archive.write("i__" + key, c10::IValue(v));
    for (const auto& [key, v] : doubles_) archive.write("d__" + key, c10::IValue(v));
    for (const auto& [key, v] : strings_) archive.write("s__" + key, c10::IValue(v));
    archive.save_to(tmp);
  } catch (const c10::Error& e) {
    std::remove(tmp.c_str());
    return absl::UnavailableError(
        absl::StrCat("cannot write the checkpoint ", tmp, ": ", e.what_without_backtrace()));
  }
  return DurableRename(tmp, path);
}

absl::Status DurableRename(const std::string& tmp, const std::string& path) {
  // fsync of `file` opened with `flags`; an error names the file and errno's message.
  auto sync = [](const std::string& file, int flags) -> absl::Status {
    const int fd = ::open(file.c_str(), flags);
    if (fd < 0) {
      return absl::UnavailableError(absl::StrCat("cannot open ", file, ": ", std::strerror(errno)));
    }
    const bool synced = ::fsync(fd) == 0;
    const int error = errno;
    ::close(fd);
    if (!synced) {
      return absl::UnavailableError(absl::StrCat("cannot fsync ", file, ": ", std::strerror(error)));
    }
    return absl::OkStatus();
  };
  if (absl::Status s = sync(tmp, O_RDONLY); !s.ok()) return s;
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot rename ", tmp, " to ", path, ": ", ec.message()));
  }
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  return sync(folder.string(), O_RDONLY | O_DIRECTORY);
}

absl::StatusOr<SolverState> SolverState::Load(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    return absl::NotFoundError(absl::StrCat("no checkpoint at ", path));
  }
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
    if (!in.good() && !in.eof()) {
      return absl::DataLossError(absl::StrCat("cannot read the checkpoint ", path));
    }
  }
  if (const std::string damage = ZipEntriesDamage(bytes); !damage.empty()) {
    return absl::DataLossError(absl::StrCat("the checkpoint ", path, " is damaged (", damage,
                                            "); delete it to start over"));
  }
  SolverState state;
  try {
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);  // the bytes checked above, not the file read again
    archive.load_from(in, c10::Device(c10::kCPU));
    c10::IValue format;
    if (!archive.try_read("s__format", format) || !format.isString() ||
        format.toStringRef() != kFormat) {
      return absl::DataLossError(absl::StrCat(path, " is not a checkpoint of this library (",
                                              kFormat, "); delete it to start over"));
    }
    std::map<std::string, int64_t> counts;
    for (const std::string& name : archive.keys()) {
      const size_t split = name.find("__");
      if (split == std::string::npos) continue;  // the archive's own attributes
      const std::string kind = name.substr(0, split), key = name.substr(split + 2);
      c10::IValue value;
      if (kind == "n" || kind == "i" || kind == "d" || kind == "s") {
        archive.read(name, value);
        if (kind == "n") counts[key] = value.toInt();
        if (kind == "i") state.ints_[key] = value.toInt();
        if (kind == "d") state.doubles_[key] = value.toDouble();
        if (kind == "s" && key != "format") state.strings_[key] = value.toStringRef();
      }
    }
    for (const auto& [key, count] : counts) {
      TensorList list(count);
      for (int64_t i = 0; i < count; ++i) {
        if (!archive.try_read(absl::StrCat("t", i, "__", key), list[i])) {
          return absl::DataLossError(
              absl::StrCat(path, " lacks tensor ", i, " of '", key, "'; delete it to start over"));
        }
      }
      state.tensors_[key] = std::move(list);
    }
  } catch (const c10::Error& e) {
    return absl::DataLossError(absl::StrCat("cannot read the checkpoint ", path, " (",
                                            e.what_without_backtrace(),
                                            "); delete it to start over"));
  } catch (const std::exception& e) {
    // LibTorch's unpickler lets standard exceptions through on some damaged archives (found by
    // tests/fuzz:checkpoint_fuzzer: std::out_of_range from an empty table).
    return absl::DataLossError(absl::StrCat("cannot read the checkpoint ", path, " (", e.what(),
                                            "); delete it to start over"));
  }
  return state;
}

}  // namespace bilevel
