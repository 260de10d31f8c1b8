#include "tasks/data/omniglot.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <png.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"

namespace tasks {
namespace {

namespace fs = std::filesystem;

// Writes an 8-bit gray PNG of `pixels` (row-major, 0 black .. 255 white).
void WritePng(const fs::path& path, int width, int height, const std::vector<uint8_t>& pixels) {
  png_image image;
  std::memset(&image, 0, sizeof(image));
  image.version = PNG_IMAGE_VERSION;
  image.width = width;
  image.height = height;
  image.format = PNG_FORMAT_GRAY;
  fs::create_directories(path.parent_path());
  ASSERT_TRUE(png_image_write_to_file(&image, path.c_str(), 0, pixels.data(), 0, nullptr))
      << image.message;
}

// A fake Omniglot split: `alphabets` × `characters` × `drawers` 8x8 drawings; drawing d of
// character c of alphabet a is white with one black pixel at (row a, column c + d).
fs::path MakeSplit(const std::string& name, int alphabets, int characters, int drawers) {
  const fs::path root = fs::path(std::getenv("TEST_TMPDIR")) / name;
  fs::remove_all(root);
  for (int a = 0; a < alphabets; ++a) {
    for (int c = 0; c < characters; ++c) {
      for (int d = 0; d < drawers; ++d) {
        std::vector<uint8_t> pixels(64, 255);
        pixels[a * 8 + c + d] = 0;
        WritePng(root / "images_background" / absl::StrCat("Alphabet_", a) /
                     absl::StrCat("character0", c + 1) / absl::StrCat("00", c, "_0", d + 1, ".png"),
                 8, 8, pixels);
      }
    }
  }
  return root;
}

TEST(OmniglotTest, ReadsTheLayoutInvertsAndAddsRotations) {
  const fs::path root = MakeSplit("layout", 2, 3, 4);
  OmniglotOptions options;
  options.image_size = 8;  // no downsampling: pixels stay exact
  options.drawers = 4;
  absl::StatusOr<OmniglotSplit> split =
      LoadOmniglotSplit(root.string(), "images_background", options);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->num_alphabets, 2);
  EXPECT_EQ(split->num_characters, 6);
  ASSERT_EQ(split->images.sizes(), (std::vector<int64_t>{24, 4, 1, 8, 8}));
  EXPECT_EQ(split->class_names[1], "Alphabet_0/character02");
  EXPECT_EQ(split->class_names[6 + 4], "Alphabet_1/character02+rot90");
  EXPECT_EQ(split->alphabet[6 + 4], 1);
  // Character 1 of alphabet 1, drawing 2: one stroke pixel (value 1) at row 1, column 1 + 2.
  const at::Tensor drawing = split->images[4][2][0];
  EXPECT_EQ(drawing.sum().item<float>(), 1.0f);
  EXPECT_EQ(drawing[1][3].item<float>(), 1.0f);
  // Its rotations are the classes 6, 12 and 18 further on.
  for (int k = 1; k < 4; ++k) {
    EXPECT_TRUE(split->images[4 + 6 * k].equal(at::rot90(split->images[4], k, {2, 3})));
  }
  options.rotations = false;
  options.max_alphabets = 1;
  options.max_characters_per_alphabet = 2;
  split = LoadOmniglotSplit(root.string(), "images_background", options);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_EQ(split->images.size(0), 2);
}

TEST(OmniglotTest, DownsamplesByAreaAveraging) {
  const fs::path root = MakeSplit("downsample", 1, 2, 1);
  OmniglotOptions options;
  options.image_size = 4;  // 8x8 -> 4x4: each output pixel averages a 2x2 block
  options.drawers = 1;
  options.rotations = false;
  absl::StatusOr<OmniglotSplit> split =
      LoadOmniglotSplit(root.string(), "images_background", options);
  ASSERT_TRUE(split.ok()) << split.status();
  EXPECT_FLOAT_EQ(split->images[1][0][0][0][0].item<float>(), 0.25f);  // pixel (0, 1)
  EXPECT_FLOAT_EQ(split->images[1].sum().item<float>(), 0.25f);
}

TEST(OmniglotTest, ErrorsNameTheProblem) {
  OmniglotOptions options;
  absl::StatusOr<OmniglotSplit> missing =
      LoadOmniglotSplit("/nonexistent", "images_evaluation", options);
  ASSERT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("--omniglot_dir"), std::string::npos);
  EXPECT_NE(missing.status().message().find("/nonexistent/images_evaluation"), std::string::npos);

  const fs::path root = MakeSplit("errors", 1, 2, 3);
  options.drawers = 4;  // the split holds 3
  absl::StatusOr<OmniglotSplit> few =
      LoadOmniglotSplit(root.string(), "images_background", options);
  ASSERT_EQ(few.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(few.status().message().find("character01 holds 3 PNG drawings; 4 are needed"),
            std::string::npos)
      << few.status();

  options.drawers = 3;
  const fs::path bad = root / "images_background/Alphabet_0/character02/001_02.png";
  std::ofstream(bad, std::ios::trunc) << "not a png";
  absl::StatusOr<OmniglotSplit> corrupt =
      LoadOmniglotSplit(root.string(), "images_background", options);
  ASSERT_EQ(corrupt.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(corrupt.status().message().find(bad.string()), std::string::npos) << corrupt.status();

  EXPECT_EQ(DecodePngGray("", "empty.png").status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(DecodePngGray("\x89PNG\r\n\x1a\n garbage", "cut.png").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(OmniglotTest, DescriptionNamesTheStandIn) {
  const fs::path root = MakeSplit("standin", 1, 2, 1);
  EXPECT_FALSE(IsOmniglotStandIn(root.string()));
  EXPECT_EQ(OmniglotDescription(root.string()), "Omniglot read from " + root.string());
  std::ofstream(root / "STAND-IN.txt") << "A stand-in for Omniglot, not Omniglot.\nmore\n";
  EXPECT_TRUE(IsOmniglotStandIn(root.string()));
  EXPECT_EQ(OmniglotDescription(root.string()).rfind("A stand-in for Omniglot, not Omniglot.", 0),
            0u);
}

}  // namespace
}  // namespace tasks
