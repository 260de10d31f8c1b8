#ifndef TASKS_TESTING_SYNTHETIC_OMNIGLOT_H_
#define TASKS_TESTING_SYNTHETIC_OMNIGLOT_H_

#include <cstdint>

#include "tasks/few_shot.h"

namespace tasks {

// An in-memory Omniglot split of `characters` classes x `drawers` side x side drawings, no files:
// each class a fixed random stroke pattern (a pixel is ink with probability `ink`), each drawing
// that pattern with 5 % of its pixels flipped; one alphabet, no rotations. For the few-shot
// tests and benchmark, where only the shapes and a learnable class structure matter.
OmniglotSplit SyntheticOmniglot(int64_t characters, int64_t drawers, int64_t side, double ink,
                                uint64_t seed);

}  // namespace tasks

#endif  // TASKS_TESTING_SYNTHETIC_OMNIGLOT_H_
