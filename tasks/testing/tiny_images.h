// Tiny generated image data sets for tests: labels uniform over 10 classes, images whose pixels
// are uniform noise of `spread` plus label/10, so that the classes are separable.
#ifndef TASKS_TESTING_TINY_IMAGES_H_
#define TASKS_TESTING_TINY_IMAGES_H_

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cstdint>

#include "tasks/data/image_datasets.h"

namespace tasks {

struct TinyImagesSpec {
  ImageSource source = ImageSource::kMnist;
  int64_t channels = 1, side = 4;
  int64_t num_train = 120, num_test = 40;
  double spread = 0.2;
  uint64_t seed = 5;
};

// Draws, in this order: training labels, test labels, training images, test images.
inline ImageDataset TinyImages(const TinyImagesSpec& spec = {}) {
  at::Generator gen = at::make_generator<at::CPUGeneratorImpl>(spec.seed);
  ImageDataset images;
  images.source = spec.source;
  images.train_labels = at::randint(10, {spec.num_train}, gen, at::kLong);
  images.test_labels = at::randint(10, {spec.num_test}, gen, at::kLong);
  auto draw = [&](const at::Tensor& labels) {
    return at::rand({labels.size(0), spec.channels, spec.side, spec.side}, gen) * spec.spread +
           labels.to(at::kFloat).view({-1, 1, 1, 1}) / 10.0;
  };
  images.train_images = draw(images.train_labels);
  images.test_images = draw(images.test_labels);
  return images;
}

}  // namespace tasks

#endif  // TASKS_TESTING_TINY_IMAGES_H_
