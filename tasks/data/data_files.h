// Finding, reading and verifying the data files tools/setup.sh puts in its cache folder.
//
//   std::string dir = tasks::DefaultDataDir();   // $BILEVEL_DATA_DIR or
//   ~/.cache/hessian-free-bilevel absl::StatusOr<std::string> bytes = tasks::ReadDataFile(dir +
//   "/fashion-mnist/train-labels-idx1-ubyte.gz");
//
// Every error names the file and says how to get it right (run tools/setup.sh, or set
// BILEVEL_DATA_DIR); nothing here crashes on a missing or malformed file.
#ifndef TASKS_DATA_DATA_FILES_H_
#define TASKS_DATA_DATA_FILES_H_

#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tasks {

// The command that fetches the data sets, quoted in error messages.
inline constexpr char kFetchCommand[] = "tools/setup.sh";

// $BILEVEL_DATA_DIR when set, else $HOME/.cache/hessian-free-bilevel (setup.sh's default).
std::string DefaultDataDir();

// OK when `path` is a regular file (or a link to one) that this process can read; otherwise an
// error that says which: NotFound "is missing" (nothing there, or a dangling link), FailedPrecondition
// "is a directory" / "is not a regular file", PermissionDenied "cannot be read". Each names the file.
absl::Status CheckReadableFile(const std::string& path);

// The whole file, gunzipped when it is gzip-compressed (plain files are read as they are).
// CheckReadableFile's errors, or DataLoss "is corrupt" for a damaged gzip stream.
absl::StatusOr<std::string> ReadDataFile(const std::string& path);

// The file's md5 equals `expected` (32 hex digits).
absl::Status VerifyMd5(const std::string& path, const std::string& expected);

// The file `relative_path` under `data_dir` has the md5 that <data_dir>/CHECKSUMS.md5 (written by
// setup.sh) lists for it.
absl::Status VerifyAgainstManifest(const std::string& data_dir, const std::string& relative_path);

}  // namespace tasks

#endif  // TASKS_DATA_DATA_FILES_H_
