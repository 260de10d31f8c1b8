#include "tasks/data/omniglot.h"

#include <ATen/ATen.h>
#include <png.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "tasks/data/data_files.h"
#include "tasks/data/md5.h"

namespace tasks {
namespace {

namespace fs = std::filesystem;

// The entries of `dir` that are folders (or, when `files`, regular files), sorted by name.
std::vector<fs::path> SortedEntries(const fs::path& dir, bool files) {
  std::vector<fs::path> out;
  std::error_code error;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir, error)) {
    if (files ? entry.is_regular_file(error) : entry.is_directory(error))
      out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

absl::StatusOr<at::Tensor> DecodePngGray(const std::string& bytes, const std::string& name) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_memory(&image, bytes.data(), bytes.size())) {
    return absl::DataLossError(
        absl::StrCat(name, " is not a PNG that libpng can read: ", image.message));
  }
  image.format = PNG_FORMAT_GRAY;
  if (image.width == 0 || image.height == 0 || image.width > 4096 || image.height > 4096) {
    png_image_free(&image);
    return absl::DataLossError(absl::StrCat(name, " has an implausible size ", image.width, "x",
                                            image.height, " (Omniglot's drawings are 105x105)"));
  }
  at::Tensor pixels = at::empty({image.height, image.width}, at::kByte);
  if (!png_image_finish_read(&image, nullptr, pixels.data_ptr<uint8_t>(), 0, nullptr)) {
    const std::string message = image.message;
    png_image_free(&image);
    return absl::DataLossError(absl::StrCat(name, " is a damaged PNG: ", message));
  }
  return pixels.to(at::kFloat).div_(255.0);
}

bool IsOmniglotStandIn(const std::string& dir) {
  std::error_code error;
  return fs::is_regular_file(fs::path(dir) / "STAND-IN.txt", error);
}

std::string OmniglotDescription(const std::string& dir) {
  if (!IsOmniglotStandIn(dir)) return absl::StrCat("Omniglot read from ", dir);
  std::ifstream in(fs::path(dir) / "STAND-IN.txt");
  std::string line;
  std::getline(in, line);
  absl::StatusOr<std::string> md5 = Md5HexOfFile((fs::path(dir) / "CHECKSUMS.md5").string());
  return absl::StrCat(line, " (CHECKSUMS.md5 md5 ", md5.ok() ? *md5 : "unreadable", ")");
}

absl::StatusOr<OmniglotSplit> LoadOmniglotSplit(const std::string& dir, const std::string& split,
                                                const OmniglotOptions& options) {
  if (options.image_size < 1 || options.drawers < 1) {
    return absl::InvalidArgumentError(absl::StrCat("Omniglot: image_size (", options.image_size,
                                                   ") and drawers (", options.drawers,
                                                   ") must be positive"));
  }
  const fs::path root = fs::path(dir) / split;
  std::error_code error;
  if (!fs::is_directory(root, error)) {
    return absl::NotFoundError(absl::StrCat(
        "Omniglot folder ", root.string(), " not found: pass --omniglot_dir=<the folder holding ",
        "images_background and images_evaluation>, or run ", kFetchCommand,
        " for the stand-in in <data_dir>/omniglot-standin"));
  }
  std::vector<fs::path> alphabets = SortedEntries(root, false);
  if (options.max_alphabets > 0 && static_cast<int64_t>(alphabets.size()) > options.max_alphabets) {
    alphabets.resize(options.max_alphabets);
  }
  OmniglotSplit out;
  std::vector<at::Tensor> characters;  // each [drawers, 1, size, size]
  std::vector<std::string> names;
  std::vector<int64_t> alphabet_of;
  for (size_t a = 0; a < alphabets.size(); ++a) {
    std::vector<fs::path> chars = SortedEntries(alphabets[a], false);
    if (options.max_characters_per_alphabet > 0 &&
        static_cast<int64_t>(chars.size()) > options.max_characters_per_alphabet) {
      chars.resize(options.max_characters_per_alphabet);
    }
    for (const fs::path& c : chars) {
      std::vector<fs::path> files;
      for (const fs::path& f : SortedEntries(c, true)) {
        if (f.extension() == ".png") files.push_back(f);
      }
      if (static_cast<int64_t>(files.size()) < options.drawers) {
        return absl::DataLossError(absl::StrCat("Omniglot character folder ", c.string(), " holds ",
                                                files.size(), " PNG drawings; ", options.drawers,
                                                " are needed (Omniglot has 20 per character)"));
      }
      std::vector<at::Tensor> drawings;
      for (int64_t d = 0; d < options.drawers; ++d) {
        absl::StatusOr<std::string> bytes = ReadDataFile(files[d].string());
        if (!bytes.ok()) return bytes.status();
        absl::StatusOr<at::Tensor> gray = DecodePngGray(*bytes, files[d].string());
        if (!gray.ok()) return gray.status();
        drawings.push_back(1.0 - *gray);  // strokes 1
      }
      at::Tensor batch = at::stack(drawings).unsqueeze(1);  // [drawers, 1, H, W]
      characters.push_back(
          at::adaptive_avg_pool2d(batch, {options.image_size, options.image_size}));
      names.push_back(absl::StrCat(alphabets[a].filename().string(), "/", c.filename().string()));
      alphabet_of.push_back(static_cast<int64_t>(a));
    }
  }
  if (characters.size() < 2) {
    return absl::DataLossError(absl::StrCat("Omniglot folder ", root.string(), " holds ",
                                            characters.size(),
                                            " characters; few-shot tasks need at least 2"));
  }
  out.num_alphabets = static_cast<int64_t>(alphabets.size());
  out.num_characters = static_cast<int64_t>(characters.size());
  at::Tensor images = at::stack(characters);  // [C, drawers, 1, s, s]
  if (options.rotations) {
    std::vector<at::Tensor> rotated = {images};
    for (int k = 1; k < 4; ++k) {
      rotated.push_back(at::rot90(images, k, {3, 4}).contiguous());
      for (int64_t c = 0; c < out.num_characters; ++c) {
        names.push_back(absl::StrCat(names[c], "+rot", 90 * k));
        alphabet_of.push_back(alphabet_of[c]);
      }
    }
    images = at::cat(rotated, 0);
  }
  out.images = images.contiguous();
  out.class_names = std::move(names);
  out.alphabet = std::move(alphabet_of);
  return out;
}

}  // namespace tasks
