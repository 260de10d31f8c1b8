#include "tasks/data/image_datasets.h"

#include <ATen/ATen.h>

#include <vector>

#include "absl/strings/str_cat.h"
#include "tasks/data/data_files.h"
#include "tasks/data/idx.h"

namespace tasks {

std::string ToString(ImageSource source) {
  switch (source) {
    case ImageSource::kMnist:
      return "mnist";
    case ImageSource::kFashionMnist:
      return "fashion-mnist";
    case ImageSource::kCifar10:
      return "cifar-10";
  }
  return "unknown";
}

namespace {

struct IdxFile {
  const char* name;
  const char* md5;
};

// train images, train labels, test images, test labels.
const IdxFile kMnistFiles[4] = {{"train-images-idx3-ubyte", "6bbc9ace898e44ae57da46a324031adb"},
                                {"train-labels-idx1-ubyte", "a25bea736e30d166cdddb491f175f624"},
                                {"t10k-images-idx3-ubyte", "2646ac647ad5339dbf082846283269ea"},
                                {"t10k-labels-idx1-ubyte", "27ae3e4e09519cfbb04c329615203637"}};
// Debian's dataset-fashion-mnist 0.0~git20200523.55506a9-1 (recompressed by Debian, so these
// differ from the upstream archive's sums).
const IdxFile kFashionFiles[4] = {
    {"train-images-idx3-ubyte.gz", "cf8536b0aa1a6ac5fa3f23001093305c"},
    {"train-labels-idx1-ubyte.gz", "10bea18fdb374794d4bb42e356e600c9"},
    {"t10k-images-idx3-ubyte.gz", "f78720b4224f21cce2f2ccf2d7a94c9a"},
    {"t10k-labels-idx1-ubyte.gz", "0d30e22e447f3c33dab9ed536400ac01"}};

}  // namespace

absl::StatusOr<ImageDataset> LoadMnistLike(ImageSource source, const std::string& data_dir) {
  if (source == ImageSource::kCifar10) {
    return absl::InvalidArgumentError("LoadMnistLike reads MNIST or Fashion-MNIST, not CIFAR-10");
  }
  const bool mnist = source == ImageSource::kMnist;
  const std::string dir = absl::StrCat(data_dir, mnist ? "/mnist/" : "/fashion-mnist/");
  const IdxFile* files = mnist ? kMnistFiles : kFashionFiles;
  at::Tensor parts[4];
  ImageDataset out;
  out.source = source;
  for (int i = 0; i < 4; ++i) {
    const std::string path = dir + files[i].name;
    absl::Status ok = VerifyMd5(path, files[i].md5);
    if (!ok.ok()) return ok;
    absl::StatusOr<at::Tensor> t = ReadIdx(path);
    if (!t.ok()) return t.status();
    parts[i] = *t;
    absl::StrAppend(&out.provenance, path, " md5 ", files[i].md5, "\n");
  }
  for (int i : {0, 2}) {
    if (parts[i].dim() != 3 || parts[i].size(1) != 28 || parts[i].size(2) != 28) {
      return absl::DataLossError(absl::StrCat(dir, files[i].name, " does not hold 28x28 images"));
    }
    if (parts[i + 1].dim() != 1 || parts[i + 1].size(0) != parts[i].size(0)) {
      return absl::DataLossError(absl::StrCat(dir, files[i + 1].name, " has ", parts[i + 1].numel(),
                                              " labels for ", parts[i].size(0), " images"));
    }
  }
  out.train_images = parts[0].unsqueeze(1).to(at::kFloat) / 255.0;
  out.train_labels = parts[1].to(at::kLong);
  out.test_images = parts[2].unsqueeze(1).to(at::kFloat) / 255.0;
  out.test_labels = parts[3].to(at::kLong);
  return out;
}

absl::Status ParseCifar10Batch(const std::string& bytes, const std::string& name,
                               at::Tensor* images, at::Tensor* labels) {
  constexpr int64_t kRecord = 1 + 3 * 32 * 32;
  if (bytes.empty() || bytes.size() % kRecord != 0) {
    return absl::DataLossError(absl::StrCat(
        "CIFAR-10 batch ", name, " has ", bytes.size(), " bytes, not a positive multiple of the ",
        kRecord, "-byte record: it is truncated or not the binary version (cifar-10-binary)"));
  }
  const int64_t n = static_cast<int64_t>(bytes.size()) / kRecord;
  at::Tensor raw = at::from_blob(const_cast<char*>(bytes.data()), {n, kRecord}, at::kByte).clone();
  *labels = raw.select(1, 0).to(at::kLong);
  if (labels->max().item<int64_t>() > 9) {
    return absl::DataLossError(
        absl::StrCat("CIFAR-10 batch ", name, " has a label above 9: not a CIFAR-10 batch file"));
  }
  *images = raw.slice(1, 1).reshape({n, 3, 32, 32}).to(at::kFloat) / 255.0;
  return absl::OkStatus();
}

absl::StatusOr<ImageDataset> LoadCifar10(const std::string& dir) {
  ImageDataset out;
  out.source = ImageSource::kCifar10;
  std::vector<at::Tensor> images, labels;
  for (int b = 1; b <= 6; ++b) {
    const std::string name = b <= 5 ? absl::StrCat("data_batch_", b, ".bin") : "test_batch.bin";
    const std::string path = absl::StrCat(dir, "/", name);
    absl::StatusOr<std::string> bytes = ReadDataFile(path);
    if (absl::IsNotFound(bytes.status())) {
      return absl::NotFoundError(absl::StrCat(
          "CIFAR-10 batch ", path,
          " is missing: CIFAR-10 cannot be fetched on this machine; "
          "download the binary version (cifar-10-binary.tar.gz) elsewhere and pass its folder"));
    }
    if (!bytes.ok()) {  // there, but a directory, unreadable or a damaged gzip stream
      return absl::Status(bytes.status().code(),
                          absl::StrCat("CIFAR-10 batch: ", bytes.status().message(),
                                       " (CIFAR-10 cannot be fetched on this machine: copy "
                                       "cifar-10-binary.tar.gz's batches from elsewhere)"));
    }
    at::Tensor x, y;
    absl::Status parsed = ParseCifar10Batch(*bytes, path, &x, &y);
    if (!parsed.ok()) return parsed;
    if (b <= 5) {
      images.push_back(x);
      labels.push_back(y);
    } else {
      out.test_images = x;
      out.test_labels = y;
    }
    absl::StrAppend(&out.provenance, path, "\n");
  }
  out.train_images = at::cat(images);
  out.train_labels = at::cat(labels);
  return out;
}

}  // namespace tasks
