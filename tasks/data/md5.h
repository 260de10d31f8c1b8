// MD5 (RFC 1321) of a byte string or a file, as 32 lowercase hex digits. Used to verify that a
// data file is the one tools/setup.sh fetched; not for anything security related.
#ifndef TASKS_DATA_MD5_H_
#define TASKS_DATA_MD5_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tasks {

std::string Md5Hex(absl::string_view bytes);
absl::StatusOr<std::string> Md5HexOfFile(const std::string& path);

}  // namespace tasks

#endif  // TASKS_DATA_MD5_H_
