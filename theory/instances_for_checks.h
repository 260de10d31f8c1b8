// The instance families the theory checks run on (tests and //theory:report use the same).
#ifndef THEORY_INSTANCES_FOR_CHECKS_H_
#define THEORY_INSTANCES_FOR_CHECKS_H_

#include <memory>
#include <vector>

#include "theory/instances.h"

namespace theory {

// Quadratic instances with inner condition numbers 1, 10 and 100, and logistic-regression inner
// problems with a quadratic and with a logistic outer problem.
std::vector<std::unique_ptr<Instance>> CheckedInstances();

// Number of points x per instance and of λ values per sweep.
constexpr int kPointsPerInstance = 3;
constexpr int kLambdaCount = 10;

}  // namespace theory

#endif  // THEORY_INSTANCES_FOR_CHECKS_H_
