// The bilevel problem interface every solver in //solvers works on.
//
//   min_{x ∈ X} F(x) := f(x, y*(x)),   y*(x) = argmin_y g(x, y)
//
// f is the outer objective (e.g. a validation loss), g the inner one (e.g. a training loss), x the
// outer variables (hyperparameters) and y the inner variables (model parameters). Both are lists
// of tensors (see tensor_list.h), so y can be a network's parameters.
//
// A user implements the objectives as differentiable LibTorch expressions; the solvers get every
// derivative from autograd (first order for MinimaxOPT, Hessian-vector products by double
// backpropagation for the penalty method), so nothing else is needed:
//
//   class MyProblem : public bilevel::BilevelProblem {
//    public:
//     TensorList InitialOuter() override { return {at::zeros({p}, at::kDouble)}; }
//     TensorList InitialInner() override { return {at::zeros({q}, at::kDouble)}; }
//     at::Tensor OuterObjective(const TensorList& x, const TensorList& y,
//                               const Batch& batch) override { ... }   // f(x, y), a scalar
//     at::Tensor InnerObjective(const TensorList& x, const TensorList& y,
//                               const Batch& batch) override { ... }   // g(x, y), a scalar
//   };
//
// Stochastic setting: a problem with data reports how many examples each objective averages over
// (NumOuterExamples, NumInnerExamples); a solver with a batch size then passes a Batch of example
// indices and the objective averages over those examples only. A Batch without indices means the
// full data (the deterministic setting). Problems without data leave the counts at 0.
//
// Device: the solvers keep x, y (and MinimaxOPT's z) on the device of the tensors InitialOuter()
// and InitialInner() return, and put batch indices there too. Nothing assumes the CPU.
#ifndef SOLVERS_CORE_BILEVEL_PROBLEM_H_
#define SOLVERS_CORE_BILEVEL_PROBLEM_H_

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "solvers/core/tensor_list.h"

namespace bilevel {

// Which examples an objective should average over, and which random numbers it should draw.
struct Batch {
  // 1-D int64 tensor of example indices on the problem's device; undefined for the full data.
  at::Tensor indices;
  // A key for the random numbers an objective draws on this batch (e.g. dropout masks): two
  // evaluations with the same key must draw the same numbers, so that g(x, y) and g(x, z) on one
  // batch share their masks (common random numbers) and a run is a function of its seed alone.
  // The solvers' samplers give every batch a fresh nonzero key; 0 (a Batch made by hand) lets
  // the problem use its own random stream.
  uint64_t noise_key = 0;
  // Data-parallel solves (gradient_reducer.h): this rank's shard holds n of the global batch's B
  // examples over W ranks, and the solver scales the shard's mean by n·W/B, so that the mean over
  // ranks of the scaled shard means is the global batch's mean. 1 in one process; a problem
  // never needs to read it.
  double shard_weight = 1.0;
  // Data-parallel shards: this batch is rows [shard_begin, shard_begin + n) of a global batch of
  // global_size examples (0 when it is not a shard). Random numbers drawn per example (dropout
  // masks) for NoiseRows(n) rows from the batch's key and cut with ShardRows are the rows one
  // process draws for these examples, so a data-parallel solve follows the one-process solve.
  int64_t shard_begin = 0;
  int64_t global_size = 0;
  // Data-parallel shards of a minibatch: the global batch's example indices (`indices` is a
  // slice of them); undefined otherwise. A data-parallel step uses them to all-reduce only the
  // batch's rows of per-example outer variables (OuterRowsPerInnerExample).
  at::Tensor global_indices = at::Tensor();

  bool IsFull() const { return !indices.defined(); }
  // The rows to draw per-example noise for, when the batch has `rows` examples: the global
  // batch's size for a shard.
  int64_t NoiseRows(int64_t rows) const { return global_size > 0 ? global_size : rows; }
  // This shard's rows of noise drawn for NoiseRows(n) rows (all of `drawn` when not a shard).
  at::Tensor ShardRows(const at::Tensor& drawn) const {
    return global_size > 0 ? drawn.narrow(0, shard_begin, indices.numel()) : drawn;
  }
  // Number of examples in the batch, or `num_examples` when the batch is the full data.
  int64_t Size(int64_t num_examples) const { return IsFull() ? num_examples : indices.numel(); }
  // The batch's rows of `data` (examples along dimension 0): all of it for a full batch.
  at::Tensor Rows(const at::Tensor& data) const {
    return IsFull() ? data : data.index_select(0, indices);
  }
};

// A well-mixed nonzero 64-bit key from two words (SplitMix64's finaliser), for noise keys and the
// seeds derived from them.
inline uint64_t MixKey(uint64_t a, uint64_t b) {
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const uint64_t key = mix(mix(a) ^ b);
  return key == 0 ? 1 : key;
}

class BilevelProblem {
 public:
  virtual ~BilevelProblem() = default;

  // Starting points x0 and y0. They fix the number, shapes, dtypes and device of the variables.
  virtual TensorList InitialOuter() = 0;
  virtual TensorList InitialInner() = 0;

  // f(x, y) and g(x, y) on `batch`: 0-dimensional floating-point tensors that autograd can
  // differentiate (twice, for the penalty method) with respect to x and y.
  virtual at::Tensor OuterObjective(const TensorList& x, const TensorList& y,
                                    const Batch& batch) = 0;
  virtual at::Tensor InnerObjective(const TensorList& x, const TensorList& y,
                                    const Batch& batch) = 0;

  // Number of examples f and g average over; 0 when the objective has no data to sample.
  virtual int64_t NumOuterExamples() const { return 0; }
  virtual int64_t NumInnerExamples() const { return 0; }

  // Data parallelism splits each batch over the ranks and averages the shards' objectives
  // (Batch::shard_weight): the batch's f and g only when each is a mean over the batch's examples
  // plus terms that do not depend on the batch. A problem whose objectives are not (a ratio of
  // sums over the batch, say) says why here; a data-parallel solve then refuses it with that
  // reason instead of solving another problem. "": they are.
  virtual std::string WhyNotDataParallel() const { return ""; }

  // Per-example outer variables (hyper-cleaning's example weights): entry i true declares that
  // x's tensor i has one row per inner example (dimension 0 of size NumInnerExamples()), that g
  // on a batch reads it only at the batch's rows and that f does not read it. Its gradient on a
  // batch is then zero outside the batch's rows, and a data-parallel step all-reduces only the
  // global batch's rows of it (B values instead of N; the same means). Missing entries (the
  // default: none) are false.
  virtual std::vector<bool> OuterRowsPerInnerExample() const { return {}; }

  // Euclidean projection onto the feasible set X, in place and without autograd history.
  // The default is X = whole space.
  virtual void ProjectOuter(TensorList* x) const {}

  // The state of any random numbers the objectives draw (e.g. dropout masks), for checkpoints: a
  // solve resumed from a checkpoint repeats the uninterrupted one exactly only if the problem
  // hands its random state over and takes it back. Default: no random state.
  virtual TensorList RandomState() const { return {}; }
  // Receives a list RandomState() returned (same count, shapes and dtypes).
  virtual void SetRandomState(const TensorList& state) {}
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_BILEVEL_PROBLEM_H_
