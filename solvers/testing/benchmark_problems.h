// Bilevel problems sized for benchmarks (testonly): cost, not learning, is what they measure, so
// their data are random draws from a fixed seed.
//
//   LogisticProblem  per-feature weight decay for binary logistic regression (the shape of the
//                    paper's Figure 1): x ∈ R^d log decays, y = w ∈ R^d; full batches.
//   MlpProblem       a 2-layer MLP 784–hidden–10 with ReLU on MNIST-shaped inputs, one log weight
//                    decay per weight matrix as x; minibatches. hidden = 1250 gives 993,760
//                    parameters; hidden = 0 is multinomial logistic regression 784–10. With
//                    per-example weights, x is instead one weight σ(u_i) per training example
//                    on its loss (hyper-cleaning's shape).
#ifndef SOLVERS_TESTING_BENCHMARK_PROBLEMS_H_
#define SOLVERS_TESTING_BENCHMARK_PROBLEMS_H_

#include <c10/core/Device.h>

#include <cstdint>
#include <vector>

#include "solvers/core/bilevel_problem.h"

namespace bilevel::testing {

class LogisticProblem : public BilevelProblem {
 public:
  LogisticProblem(int64_t num_features, int64_t num_examples);
  TensorList InitialOuter() override;
  TensorList InitialInner() override;
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch& b) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) override;
  int64_t NumOuterExamples() const override { return val_x_.size(0); }
  int64_t NumInnerExamples() const override { return train_x_.size(0); }

 private:
  at::Tensor train_x_, train_y_, val_x_, val_y_;
};

class MlpProblem : public BilevelProblem {
 public:
  // The data and parameters live on `device` (drawn on the CPU: the same numbers everywhere).
  MlpProblem(int64_t hidden, int64_t num_examples, c10::Device device = c10::Device(c10::kCPU),
             bool per_example_weights = false);
  TensorList InitialOuter() override;
  TensorList InitialInner() override { return y0_; }
  at::Tensor OuterObjective(const TensorList& x, const TensorList& y, const Batch& b) override;
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) override;
  int64_t NumOuterExamples() const override { return val_x_.size(0); }
  int64_t NumInnerExamples() const override { return train_x_.size(0); }
  std::vector<bool> OuterRowsPerInnerExample() const override {
    return per_example_weights_ ? std::vector<bool>{true} : std::vector<bool>{};
  }
  int64_t NumParameters() const { return NumElements(y0_); }

 private:
  at::Tensor train_x_, val_x_, train_y_, val_y_;
  TensorList y0_;
  c10::Device device_ = c10::Device(c10::kCPU);
  bool per_example_weights_ = false;
};

}  // namespace bilevel::testing

#endif  // SOLVERS_TESTING_BENCHMARK_PROBLEMS_H_
