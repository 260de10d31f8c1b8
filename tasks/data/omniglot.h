// Omniglot in its own layout (Lake et al.), as distributed and as tools/setup.sh's stand-in writes
// it:
//
//   <dir>/images_background/<alphabet>/<character>/<id>_<drawer>.png   (meta-training alphabets)
//   <dir>/images_evaluation/<alphabet>/<character>/<id>_<drawer>.png   (meta-test alphabets)
//
// 105x105 1-bit PNGs, black strokes on white, 20 drawers per character. The real Omniglot cannot
// be fetched on this machine; setup.sh draws a stand-in from Debian's Noto fonts into
// <data_dir>/omniglot-standin (tools/omniglot_standin.py) and marks it with STAND-IN.txt, which
// OmniglotDescription() quotes so that every output says what stood in.
//
//   absl::StatusOr<tasks::OmniglotSplit> train =
//       tasks::LoadOmniglotSplit(dir, "images_background", tasks::OmniglotOptions());
//   // train->images: float [classes, 20, 1, 28, 28], strokes 1 on background 0
#ifndef TASKS_DATA_OMNIGLOT_H_
#define TASKS_DATA_OMNIGLOT_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace tasks {

struct OmniglotOptions {
  int64_t image_size = 28;  // downsampled by area averaging from 105
  // Each character also rotated by 90°, 180° and 270°, as three more classes (the usual protocol).
  bool rotations = true;
  int64_t max_alphabets = 0;                // the first k alphabets in name order; 0 = all
  int64_t max_characters_per_alphabet = 0;  // 0 = all
  int64_t drawers = 20;  // drawings per character, the first in name order; fewer is an error
};

struct OmniglotSplit {
  at::Tensor images;  // float [classes, drawers, 1, size, size] in [0, 1], strokes 1
  std::vector<std::string> class_names;  // "<alphabet>/<character>", "+rot90" etc. for rotations
  std::vector<int64_t> alphabet;         // per class: index of its alphabet
  int64_t num_alphabets = 0;
  int64_t num_characters = 0;  // before rotations
};

// Reads <dir>/<split> ("images_background" or "images_evaluation"). Errors name the folder or
// file: NotFound for a missing folder (with the flag and the setup command to use), DataLoss for
// a character with fewer than `drawers` PNGs or a PNG that does not decode.
absl::StatusOr<OmniglotSplit> LoadOmniglotSplit(const std::string& dir, const std::string& split,
                                                const OmniglotOptions& options);

// A grayscale PNG's pixels as float [height, width] in [0, 1] (any bit depth or colour type,
// converted to gray). DataLoss naming `name` when the bytes are not a PNG libpng can decode.
absl::StatusOr<at::Tensor> DecodePngGray(const std::string& bytes, const std::string& name);

// What <dir> holds, for manifests and the paper: the first line of STAND-IN.txt for the stand-in
// (with the md5 of its CHECKSUMS.md5), else "Omniglot read from <dir>".
std::string OmniglotDescription(const std::string& dir);
bool IsOmniglotStandIn(const std::string& dir);

}  // namespace tasks

#endif  // TASKS_DATA_OMNIGLOT_H_
