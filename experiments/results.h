// The files an experiment writes and //paper reads: whole-file reads, JSON string literals and
// atomic, durable writes. A library of its own so that //paper:summarize needs no runner.
#ifndef EXPERIMENTS_RESULTS_H_
#define EXPERIMENTS_RESULTS_H_

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace experiments {

// The whole file at `path` ("" when it cannot be read).
std::string ReadFileToString(const std::string& path);

// `s` as a JSON string literal, quotes included (", \\, newline, tab and control characters
// escaped).
std::string JsonString(const std::string& s);

// The string value of the field `key` in one JSON object written with JsonString (the runner's
// run files, a manifest line): the first `"<key>": "..."` with JsonString's escapes undone, or
// nullopt when there is no such field or its closing quote is missing. (A key inside a string
// value cannot match: there its quotes are escaped.)
std::optional<std::string> JsonStringField(absl::string_view json, absl::string_view key);

// Writes `contents` to `path` through a temporary file, then fsync, rename and an fsync of the
// folder: a reader sees the old file or the whole new one, also after a crash.
absl::Status WriteFileAtomically(const std::string& path, const std::string& contents);

}  // namespace experiments

#endif  // EXPERIMENTS_RESULTS_H_
