#include "theory/example1.h"

namespace theory {

std::optional<std::pair<double, double>> Example1::MinimaxSolution(double lambda) const {
  if (lambda <= Threshold()) return std::nullopt;
  return std::pair<double, double>{1.0, 1.0};
}

std::pair<double, double> Example1::MinimaxHessianEigenvalues(double lambda) const {
  return {1.0, 1.0 + 2.0 * (lambda - c_)};
}

double Example1::ReducedObjective(double x, double y, double lambda) const {
  return 0.5 * (x - 1) * (x - 1) + 0.5 * (y - 1) * (y - 1) +
         0.5 * (lambda - c_) * (y - x) * (y - x);
}

}  // namespace theory
