#include "tasks/data/data_files.h"

#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tasks/data/md5.h"

namespace tasks {

std::string DefaultDataDir() {
  if (const char* dir = std::getenv("BILEVEL_DATA_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  const char* home = std::getenv("HOME");
  return absl::StrCat(home != nullptr ? home : ".", "/.cache/hessian-free-bilevel");
}

absl::Status CheckReadableFile(const std::string& path) {
  struct stat info;
  if (stat(path.c_str(), &info) != 0) {
    const int error = errno;
    if (error == ENOENT || error == ENOTDIR) {
      struct stat link;
      const bool dangling = lstat(path.c_str(), &link) == 0 && S_ISLNK(link.st_mode);
      return absl::NotFoundError(absl::StrCat(
          "data file ", path, " is missing", dangling ? " (a link to nothing)" : "", ": run ",
          kFetchCommand,
          " to fetch the data sets (or point BILEVEL_DATA_DIR at the folder that holds them)"));
    }
    return absl::PermissionDeniedError(absl::StrCat("data file ", path, " cannot be read (",
                                                    std::strerror(error),
                                                    "): check the permissions of its folders"));
  }
  if (S_ISDIR(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data file ", path, " is a directory, not a file: remove it and run ", kFetchCommand));
  }
  if (!S_ISREG(info.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "data file ", path, " is not a regular file: remove it and run ", kFetchCommand));
  }
  if (access(path.c_str(), R_OK) != 0) {
    return absl::PermissionDeniedError(absl::StrCat("data file ", path, " cannot be read (",
                                                    std::strerror(errno),
                                                    "): check its permissions"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadDataFile(const std::string& path) {
  if (absl::Status readable = CheckReadableFile(path); !readable.ok()) return readable;
  gzFile file = gzopen(path.c_str(), "rb");  // reads plain files as they are
  if (file == nullptr) {
    return absl::PermissionDeniedError(absl::StrCat("data file ", path, " cannot be opened (",
                                                    std::strerror(errno), ")"));
  }
  std::string out;
  char chunk[1 << 16];
  int n;
  while ((n = gzread(file, chunk, sizeof(chunk))) > 0) out.append(chunk, n);
  int error = Z_OK;
  const char* message = gzerror(file, &error);
  const std::string reason = message != nullptr ? message : "";
  gzclose(file);
  if (n < 0 || (error != Z_OK && error != Z_STREAM_END)) {
    return absl::DataLossError(absl::StrCat("data file ", path, " is corrupt (", reason, "): run ",
                                            kFetchCommand, " to fetch it again"));
  }
  return out;
}

absl::Status VerifyMd5(const std::string& path, const std::string& expected) {
  if (absl::Status readable = CheckReadableFile(path); !readable.ok()) return readable;
  absl::StatusOr<std::string> actual = Md5HexOfFile(path);
  if (!actual.ok()) {
    return absl::DataLossError(absl::StrCat("data file ", path, " could not be read to its end (",
                                            actual.status().message(), "): run ", kFetchCommand,
                                            " to fetch it again"));
  }
  if (*actual != expected) {
    return absl::DataLossError(absl::StrCat("data file ", path, " has md5 ", *actual, ", expected ",
                                            expected,
                                            ": it is damaged or another version; delete it and "
                                            "run ",
                                            kFetchCommand));
  }
  return absl::OkStatus();
}

absl::Status VerifyAgainstManifest(const std::string& data_dir, const std::string& relative_path) {
  const std::string manifest = absl::StrCat(data_dir, "/CHECKSUMS.md5");
  std::ifstream in(manifest);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("checksum manifest ", manifest, " is missing: run ",
                                            kFetchCommand, " to fetch the data sets"));
  }
  std::string line;
  while (std::getline(in, line)) {
    // md5sum format: "<32 hex digits>  <path>"
    std::pair<std::string, std::string> parts = absl::StrSplit(line, absl::MaxSplits("  ", 1));
    if (parts.second == relative_path) {
      return VerifyMd5(absl::StrCat(data_dir, "/", relative_path), parts.first);
    }
  }
  return absl::NotFoundError(absl::StrCat(relative_path, " is not listed in ", manifest, ": run ",
                                          kFetchCommand, " to fetch it"));
}

}  // namespace tasks
