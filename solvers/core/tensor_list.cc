#include "solvers/core/tensor_list.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <torch/csrc/autograd/autograd.h>

namespace bilevel {

TensorList DetachedClone(const TensorList& v) {
  TensorList out;
  out.reserve(v.size());
  for (const at::Tensor& t : v) out.push_back(t.detach().clone());
  return out;
}

TensorList GradLeaves(const TensorList& v) {
  TensorList out;
  out.reserve(v.size());
  for (const at::Tensor& t : v) out.push_back(t.detach().requires_grad_(true));
  return out;
}

at::Tensor SquaredNormTensor(const TensorList& v) {
  c10::NoGradGuard no_grad;
  if (v.empty()) return at::zeros({}, at::kDouble);
  at::Tensor total = v.front().detach().square().sum();
  for (size_t i = 1; i < v.size(); ++i) total = total + v[i].detach().square().sum();
  return total;
}

double Norm(const TensorList& v) { return std::sqrt(SquaredNormTensor(v).item<double>()); }

at::Tensor DotTensor(const TensorList& a, const TensorList& b) {
  TORCH_CHECK(a.size() == b.size(), "DotTensor: lists of different lengths");
  if (a.empty()) return at::zeros({}, at::kDouble);
  at::Tensor total = at::zeros({}, a.front().options());
  for (size_t i = 0; i < a.size(); ++i) total = total + (a[i] * b[i]).sum();
  return total;
}

double Dot(const TensorList& a, const TensorList& b) { return DotTensor(a, b).item<double>(); }

TensorList Combination(const TensorList& a, double alpha, const TensorList& b) {
  TORCH_CHECK(a.size() == b.size(), "Combination: lists of different lengths");
  TensorList out;
  out.reserve(a.size());
  for (size_t i = 0; i < a.size(); ++i) out.push_back(a[i] + alpha * b[i]);
  return out;
}

int64_t NumElements(const TensorList& v) {
  int64_t n = 0;
  for (const at::Tensor& t : v) n += t.numel();
  return n;
}

bool SameLayout(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].sizes() != b[i].sizes() || a[i].scalar_type() != b[i].scalar_type() ||
        a[i].device() != b[i].device()) {
      return false;
    }
  }
  return true;
}

TensorList Gradients(const at::Tensor& output, const TensorList& inputs, bool create_graph) {
  TensorList grads = torch::autograd::grad({output}, inputs, /*grad_outputs=*/{},
                                           /*retain_graph=*/create_graph, create_graph,
                                           /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) grads[i] = at::zeros_like(inputs[i]);
  }
  return grads;
}

TensorList VectorJacobianProducts(const TensorList& outputs, const TensorList& inputs,
                                  const TensorList& grad_outputs, bool retain_graph,
                                  bool create_graph) {
  TensorList grads = torch::autograd::grad(outputs, inputs, grad_outputs, retain_graph,
                                           create_graph, /*allow_unused=*/true);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].defined()) grads[i] = at::zeros_like(inputs[i]);
  }
  return grads;
}

void AddScaledInPlace(TensorList* a, double alpha, const TensorList& b) {
  c10::NoGradGuard no_grad;
  TORCH_CHECK(a->size() == b.size(), "AddScaledInPlace: lists of different lengths");
  for (size_t i = 0; i < b.size(); ++i) (*a)[i].add_(b[i], alpha);
}

at::Tensor Flatten(const TensorList& v) {
  std::vector<at::Tensor> flat;
  flat.reserve(v.size());
  for (const at::Tensor& t : v) flat.push_back(t.detach().reshape({-1}));
  return at::cat(flat);
}

}  // namespace bilevel
