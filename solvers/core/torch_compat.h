// What differs between the LibTorch versions this library builds against — Debian's 1.13 (Bazel
// and CMake here) and 2.x (CMake on the GPU machine, PyTorch 2.11's) — in one place, so that the
// rest of the code is written against the API both share. Each shim is used by code that both
// builds compile and test (hypergradient_test's CpuMemoryTracker tests cover the allocator).
#ifndef SOLVERS_CORE_TORCH_COMPAT_H_
#define SOLVERS_CORE_TORCH_COMPAT_H_

#include <c10/core/Allocator.h>

#include <cstddef>
#include <cstring>
#include <type_traits>

namespace bilevel::compat {

// c10::Allocator::allocate is `const` in 1.13 and not in current 2.x; 2.x added the pure virtual
// copy_data. Derive from AllocatorBase and implement AllocateImpl: the base overrides whichever
// allocate this LibTorch declares, detected from its type rather than from a version number.
namespace internal {
template <typename T>
struct IsConstAllocate : std::false_type {};
template <>
struct IsConstAllocate<c10::DataPtr (c10::Allocator::*)(size_t) const> : std::true_type {};
template <bool kConst>
class AllocatorBaseFor;
// Neither member below says `override`: which of them overrides depends on the LibTorch (1.13
// has no copy_data; there it is a plain member).
template <>
class AllocatorBaseFor<true> : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const { return AllocateImpl(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

 protected:
  virtual c10::DataPtr AllocateImpl(size_t n) const = 0;
};
template <>
class AllocatorBaseFor<false> : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) { return AllocateImpl(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const {
    std::memcpy(dest, src, count);
  }

 protected:
  virtual c10::DataPtr AllocateImpl(size_t n) const = 0;
};
}  // namespace internal

using AllocatorBase = internal::AllocatorBaseFor<
    internal::IsConstAllocate<decltype(&c10::Allocator::allocate)>::value>;

}  // namespace bilevel::compat

#endif  // SOLVERS_CORE_TORCH_COMPAT_H_
