#include "solvers/core/checkpoint.h"

#include <ATen/ATen.h>
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
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/string_view.h"

namespace bilevel {
namespace {

std::string Shape(const at::Tensor& t) {
  return absl::StrCat("[", absl::StrJoin(t.sizes(), ","), "]");
}

// The file, format 2 (all integers little-endian):
//   "HFBSTATE" | u32 format (2) | u32 byte-order mark 0x01020304 in host order (tensor bytes are
//   in host order) | u64 payload length | u32 CRC-32 of the payload | payload
// payload: entries, each  u8 kind | u32 key length | key | value, by kind:
//   'i' i64; 'd' f64 (its bits as u64); 's' u64 length | bytes;
//   't' u32 count, then per tensor: u8 dtype | u8 rank | rank × i64 sizes | the elements' bytes.
// Everything is read by this file's own bounds-checked parser: LibTorch's archive reader
// (TorchScript's unpickler) crashed on damaged files, which no catch can stop
// (tests/fuzz:checkpoint_fuzzer found a segfault in 1.13's type parser).
constexpr char kMagic[] = "HFBSTATE";
constexpr uint32_t kFormatVersion = 2;
constexpr uint32_t kByteOrderMark = 0x01020304;
constexpr size_t kHeader = 8 + 4 + 4 + 8 + 4;
constexpr int kMaxRank = 16;
constexpr size_t kMaxKey = 256;

bool ValidKey(const std::string& key) {
  bool ok = !key.empty() && key.size() <= kMaxKey;
  for (char c : key) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  return ok;
}

void CheckKey(const std::string& key) {
  TORCH_CHECK(ValidKey(key), "SolverState: invalid key '", key, "' (1 to ", kMaxKey,
              " letters, digits and '_')");
}

// zlib's CRC-32 of `bytes`: the header's check on the payload.
uint32_t Crc32(absl::string_view bytes) {
  return static_cast<uint32_t>(
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data()), bytes.size()));
}

// The dtypes a state may hold, by their code in the file (never c10's enum values, which change
// between LibTorch versions).
constexpr c10::ScalarType kDtypes[] = {c10::kFloat, c10::kDouble,  c10::kLong, c10::kInt,
                                       c10::kByte,  c10::kBool,    c10::kChar, c10::kShort,
                                       c10::kHalf,  c10::kBFloat16};

class Writer {
 public:
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void U32(uint32_t v) {
    for (int i = 0; i < 4; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void U64(uint64_t v) {
    for (int i = 0; i < 8; ++i) U8(static_cast<uint8_t>(v >> (8 * i)));
  }
  void Bytes(const void* data, size_t n) { out_.append(static_cast<const char*>(data), n); }
  void Key(char kind, const std::string& key) {
    U8(static_cast<uint8_t>(kind));
    U32(static_cast<uint32_t>(key.size()));
    Bytes(key.data(), key.size());
  }
  std::string& str() { return out_; }

 private:
  std::string out_;
};

// Reads from a byte range; every read checks the bytes left and a failed read leaves `error`
// set (the first failure wins) and returns zeros, so a parse can check once per entry.
class Reader {
 public:
  explicit Reader(absl::string_view bytes) : bytes_(bytes) {}
  size_t left() const { return bytes_.size() - at_; }
  bool failed() const { return !error_.empty(); }
  const std::string& error() const { return error_; }
  void Fail(std::string what) {
    if (error_.empty()) error_ = absl::StrCat(std::move(what), " at byte ", at_);
  }
  uint64_t Uint(int bytes, const char* what) {
    if (failed() || left() < static_cast<size_t>(bytes)) {
      Fail(absl::StrCat("the file ends inside ", what));
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) {
      v |= uint64_t{static_cast<unsigned char>(bytes_[at_ + i])} << (8 * i);
    }
    at_ += bytes;
    return v;
  }
  absl::string_view Take(uint64_t n, const char* what) {
    if (failed() || left() < n) {
      Fail(absl::StrCat("the file ends inside ", what));
      return {};
    }
    absl::string_view v = bytes_.substr(at_, n);
    at_ += n;
    return v;
  }

 private:
  absl::string_view bytes_;
  size_t at_ = 0;
  std::string error_;
};

void WriteTensor(const at::Tensor& t, Writer* w) {
  const auto* code = std::find(std::begin(kDtypes), std::end(kDtypes), t.scalar_type());
  TORCH_CHECK(code != std::end(kDtypes), "SolverState: cannot save a ",
              c10::toString(t.scalar_type()), " tensor");
  TORCH_CHECK(t.dim() <= kMaxRank, "SolverState: cannot save a tensor of rank ", t.dim());
  w->U8(static_cast<uint8_t>(code - std::begin(kDtypes)));
  w->U8(static_cast<uint8_t>(t.dim()));
  for (int64_t s : t.sizes()) w->U64(static_cast<uint64_t>(s));
  w->Bytes(t.data_ptr(), t.numel() * t.element_size());  // PutTensors made it CPU, contiguous
}

at::Tensor ReadTensor(Reader* r) {
  const uint64_t code = r->Uint(1, "a tensor's dtype");
  const uint64_t rank = r->Uint(1, "a tensor's rank");
  if (r->failed()) return {};
  if (code >= std::size(kDtypes)) {
    r->Fail(absl::StrCat("unknown dtype code ", code));
    return {};
  }
  if (rank > kMaxRank) {
    r->Fail(absl::StrCat("a tensor of rank ", rank));
    return {};
  }
  const at::ScalarType dtype = kDtypes[code];
  const uint64_t element = c10::elementSize(dtype);
  std::vector<int64_t> sizes(rank);
  // The product of the sizes (zeros counted as ones: LibTorch checks that product too) stays
  // below what the bytes left can hold, so nothing larger than the file is ever allocated.
  uint64_t bound = 1;
  bool empty = false;
  for (uint64_t d = 0; d < rank; ++d) {
    const uint64_t s = r->Uint(8, "a tensor's sizes");
    if (r->failed()) return {};
    if (s > static_cast<uint64_t>(INT64_MAX) || (s > 0 && bound > r->left() / s)) {
      r->Fail(absl::StrCat("a tensor size ", s, " larger than the file"));
      return {};
    }
    bound *= std::max<uint64_t>(s, 1);
    empty = empty || s == 0;
    sizes[d] = static_cast<int64_t>(s);
  }
  const uint64_t bytes = empty ? 0 : bound * element;
  if (!empty && bound > r->left() / element) {
    r->Fail(absl::StrCat("a tensor of ", bound, " elements larger than the file"));
    return {};
  }
  absl::string_view data = r->Take(bytes, "a tensor's elements");
  if (r->failed()) return {};
  at::Tensor t = at::empty(sizes, at::TensorOptions().dtype(dtype));
  if (bytes > 0) std::memcpy(t.data_ptr(), data.data(), bytes);
  return t;
}

// Reads the entries of `payload` into the maps; empty when they parse, else what is wrong.
std::string ParsePayload(absl::string_view payload, std::map<std::string, TensorList>* tensors,
                         std::map<std::string, int64_t>* ints,
                         std::map<std::string, double>* doubles,
                         std::map<std::string, std::string>* strings) {
  Reader r(payload);
  while (r.left() > 0 && !r.failed()) {
    const char kind = static_cast<char>(r.Uint(1, "an entry's kind"));
    const uint64_t length = r.Uint(4, "a key's length");
    if (!r.failed() && (length == 0 || length > kMaxKey)) {
      r.Fail(absl::StrCat("a key of ", length, " bytes"));
    }
    const std::string key(r.Take(length, "a key"));
    if (r.failed()) break;
    if (!ValidKey(key)) {
      r.Fail("a key with characters other than letters, digits and '_'");
      break;
    }
    bool fresh = true;
    switch (kind) {
      case 'i':
        fresh = ints->emplace(key, static_cast<int64_t>(r.Uint(8, "an integer"))).second;
        break;
      case 'd': {
        const uint64_t bits = r.Uint(8, "a number");
        double v;
        std::memcpy(&v, &bits, sizeof v);
        fresh = doubles->emplace(key, v).second;
        break;
      }
      case 's': {
        const uint64_t n = r.Uint(8, "a text's length");
        fresh = strings->emplace(key, std::string(r.Take(n, "a text"))).second;
        break;
      }
      case 't': {
        const uint64_t count = r.Uint(4, "a tensor count");
        TensorList list;
        // Each tensor takes at least two bytes: a count beyond that is damage, not a list.
        if (count > r.left() / 2) r.Fail(absl::StrCat("a list of ", count, " tensors"));
        for (uint64_t i = 0; i < count && !r.failed(); ++i) list.push_back(ReadTensor(&r));
        fresh = tensors->emplace(key, std::move(list)).second;
        break;
      }
      default:
        r.Fail(absl::StrCat("an entry of unknown kind ", static_cast<int>(kind)));
    }
    if (!fresh) r.Fail(absl::StrCat("'", key, "' saved twice"));
  }
  return r.error();
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
  Writer payload;
  try {
    for (const auto& [key, list] : tensors_) {
      payload.Key('t', key);
      payload.U32(static_cast<uint32_t>(list.size()));
      for (const at::Tensor& t : list) WriteTensor(t, &payload);
    }
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot write the checkpoint ", path, ": ", e.what_without_backtrace()));
  }
  for (const auto& [key, v] : ints_) {
    payload.Key('i', key);
    payload.U64(static_cast<uint64_t>(v));
  }
  for (const auto& [key, v] : doubles_) {
    uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    payload.Key('d', key);
    payload.U64(bits);
  }
  for (const auto& [key, v] : strings_) {
    payload.Key('s', key);
    payload.U64(v.size());
    payload.Bytes(v.data(), v.size());
  }
  const std::string& body = payload.str();
  Writer file;
  file.Bytes(kMagic, 8);
  file.U32(kFormatVersion);
  file.Bytes(&kByteOrderMark, 4);
  file.U64(body.size());
  file.U32(Crc32(body));
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(file.str().data(), static_cast<std::streamsize>(file.str().size()));
    out.write(body.data(), static_cast<std::streamsize>(body.size()));
    out.close();
    if (!out) {
      std::remove(tmp.c_str());
      return absl::UnavailableError(
          absl::StrCat("cannot write the checkpoint ", tmp, ": ", std::strerror(errno)));
    }
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
      return absl::UnavailableError(
          absl::StrCat("cannot fsync ", file, ": ", std::strerror(error)));
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
  auto damaged = [&path](const std::string& what) {
    return absl::DataLossError(
        absl::StrCat("the checkpoint ", path, " is damaged (", what, "); delete it to start over"));
  };
  if (bytes.size() < kHeader || bytes.compare(0, 8, kMagic) != 0) {
    return absl::DataLossError(absl::StrCat(path, " is not a checkpoint of this library (format ",
                                            kFormatVersion, "); delete it to start over"));
  }
  Reader header(absl::string_view(bytes).substr(8, kHeader - 8));
  const uint64_t version = header.Uint(4, "the header");
  if (version != kFormatVersion) {
    return absl::DataLossError(absl::StrCat(path, " is a checkpoint of format ", version,
                                            ", written by another version of this library, "
                                            "which reads format ",
                                            kFormatVersion, "; delete it to start over"));
  }
  if (std::memcmp(bytes.data() + 12, &kByteOrderMark, 4) != 0) {
    return absl::DataLossError(absl::StrCat(path,
                                            " was written on a machine of the other byte "
                                            "order; delete it to start over"));
  }
  header.Take(4, "the header");
  const uint64_t length = header.Uint(8, "the header");
  const uint64_t crc = header.Uint(4, "the header");
  const absl::string_view payload = absl::string_view(bytes).substr(kHeader);
  if (length != payload.size()) {
    return damaged(absl::StrCat("the header announces ", length, " bytes of state, the file holds ",
                                payload.size()));
  }
  if (Crc32(payload) != crc) {
    return damaged("the state fails its CRC-32");
  }
  SolverState state;
  const std::string error =
      ParsePayload(payload, &state.tensors_, &state.ints_, &state.doubles_, &state.strings_);
  if (!error.empty()) return damaged(error);
  return state;
}

}  // namespace bilevel
