#include "experiments/results.h"

#include <cstdio>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "solvers/core/checkpoint.h"

namespace experiments {

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          absl::StrAppendFormat(&out, "\\u%04x", static_cast<int>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::optional<std::string> JsonStringField(absl::string_view json, absl::string_view key) {
  const std::string pattern = absl::StrCat("\"", key, "\": \"");
  const size_t at = json.find(pattern);
  if (at == absl::string_view::npos) return std::nullopt;
  std::string value;
  for (size_t i = at + pattern.size(); i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') return value;
    if (c != '\\') {
      value += c;
      continue;
    }
    if (++i == json.size()) return std::nullopt;
    switch (json[i]) {
      case 'n':
        value += '\n';
        break;
      case 't':
        value += '\t';
        break;
      case 'u': {
        unsigned code = 0;
        if (i + 4 >= json.size() ||
            std::sscanf(std::string(json.substr(i + 1, 4)).c_str(), "%4x", &code) != 1) {
          return std::nullopt;
        }
        value += static_cast<char>(code);
        i += 4;
        break;
      }
      default:  // \" and \\ .
        value += json[i];
    }
  }
  return std::nullopt;
}

std::string ReadFileToString(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::Status WriteFileAtomically(const std::string& path, const std::string& contents) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out || !(out << contents) || !out.flush()) {
      return absl::PermissionDeniedError(absl::StrCat("cannot write ", tmp));
    }
  }
  return bilevel::DurableRename(tmp, path);  // fsync, rename, fsync of the folder
}

}  // namespace experiments
