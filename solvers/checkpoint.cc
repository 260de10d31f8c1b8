#include "solvers/checkpoint.h"

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <cstdio>
#include <filesystem>
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
  SolverState state;
  try {
    torch::serialize::InputArchive archive;
    archive.load_from(path, c10::Device(c10::kCPU));
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
  }
  return state;
}

}  // namespace bilevel
