#include "tasks/testing/synthetic_omniglot.h"

#include <ATen/ATen.h>

#include <string>

namespace tasks {

OmniglotSplit SyntheticOmniglot(int64_t characters, int64_t drawers, int64_t side, double ink,
                                uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const at::Tensor patterns = at::rand({characters, 1, 1, side, side}, gen).lt(ink).to(at::kFloat);
  const at::Tensor flips =
      at::rand({characters, drawers, 1, side, side}, gen).lt(0.05).to(at::kFloat);
  OmniglotSplit split;
  split.images = (patterns - flips).abs();
  for (int64_t c = 0; c < characters; ++c) {
    split.class_names.push_back("synthetic/character" + std::to_string(c));
    split.alphabet.push_back(0);
  }
  split.num_alphabets = 1;
  split.num_characters = characters;
  return split;
}

}  // namespace tasks
