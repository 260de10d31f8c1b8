// Lists of tensors: the representation of the outer variable x and the inner variables y, z.
//
// A bilevel problem's variables are lists so that y can be a network's parameters (one tensor per
// layer) and x can be one hyperparameter tensor per layer. These helpers do the little linear
// algebra the solvers need on such lists, always without recording autograd history, on whatever
// device the tensors live.
//
//   TensorList y = {w1, b1, w2, b2};
//   double n = Norm(y);                       // sqrt of the sum of squared entries
//   TensorList z = DetachedClone(y);          // independent storage, requires_grad = false
#ifndef SOLVERS_CORE_TENSOR_LIST_H_
#define SOLVERS_CORE_TENSOR_LIST_H_

#include <ATen/core/Tensor.h>

#include <vector>

namespace bilevel {

using TensorList = std::vector<at::Tensor>;

// Deep copies with fresh storage and no autograd history.
TensorList DetachedClone(const TensorList& v);

// Views of `v` that are autograd leaves requiring gradients (storage shared with `v`); used to
// differentiate an objective with respect to a variable group.
TensorList GradLeaves(const TensorList& v);

// Squared Euclidean norm of the concatenation, as a 0-dimensional tensor on the tensors' device
// (no host synchronisation).
at::Tensor SquaredNormTensor(const TensorList& v);

// Euclidean norm of the concatenation, on the host.
double Norm(const TensorList& v);

// Sum over the list of <a_i, b_i>, as a 0-dimensional tensor.
at::Tensor DotTensor(const TensorList& a, const TensorList& b);

// Sum over the list of <a_i, b_i>, on the host.
double Dot(const TensorList& a, const TensorList& b);

// a + alpha * b, element by element (new tensors).
TensorList Combination(const TensorList& a, double alpha, const TensorList& b);

// Total number of elements.
int64_t NumElements(const TensorList& v);

// Shapes, dtypes and devices agree element by element.
bool SameLayout(const TensorList& a, const TensorList& b);

// Gradients of the scalar `output` with respect to `inputs` (autograd leaves). Inputs that
// `output` does not depend on get zeros rather than undefined tensors.
TensorList Gradients(const at::Tensor& output, const TensorList& inputs, bool create_graph = false);

// Vector–Jacobian products: Σ_j <grad_outputs_j, ∂outputs_j/∂inputs> for each input, with zeros
// for inputs the outputs do not depend on. With outputs = ∇_y g (built with create_graph) and
// grad_outputs = v this is a Hessian-vector product ∇²_yy g · v (inputs = y) or the mixed
// product ∇²_xy g · v (inputs = x).
TensorList VectorJacobianProducts(const TensorList& outputs, const TensorList& inputs,
                                  const TensorList& grad_outputs, bool retain_graph,
                                  bool create_graph = false);

// a_i <- a_i + alpha * b_i, in place, without autograd history.
void AddScaledInPlace(TensorList* a, double alpha, const TensorList& b);

// The concatenation of all elements, flattened, as one 1-D tensor (a copy).
at::Tensor Flatten(const TensorList& v);

}  // namespace bilevel

#endif  // SOLVERS_CORE_TENSOR_LIST_H_
