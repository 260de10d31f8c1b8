#include "solvers/core/memory_tracker.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <vector>

#include "solvers/core/torch_compat.h"

namespace bilevel {
namespace {

// Above the priority LibTorch registers its default CPU allocator with, so that installing and
// restoring both take effect.
constexpr uint8_t kPriority = 100;

struct Counters {
  std::atomic<int64_t> current{0};
  std::atomic<int64_t> peak{0};
};

// Forwards to the allocator it replaced and counts live bytes. The counters are shared with
// every allocation's context, so a tensor freed after the tracker is gone is still safe.
class CountingAllocator : public compat::AllocatorBase {
 public:
  CountingAllocator(c10::Allocator* base, std::shared_ptr<Counters> counters)
      : base_(base), counters_(std::move(counters)) {}

  c10::DataPtr AllocateImpl(size_t n) const override {
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    auto* context = new Context{std::move(inner), static_cast<int64_t>(n), counters_};
    const int64_t now = counters_->current.fetch_add(context->bytes) + context->bytes;
    int64_t peak = counters_->peak.load();
    while (now > peak && !counters_->peak.compare_exchange_weak(peak, now)) {
    }
    return c10::DataPtr(data, context, &Delete, device);
  }

  c10::Allocator* base() const { return base_; }

 private:
  struct Context {
    c10::DataPtr inner;
    int64_t bytes;
    std::shared_ptr<Counters> counters;
  };
  static void Delete(void* ptr) {
    auto* context = static_cast<Context*>(ptr);
    context->counters->current.fetch_sub(context->bytes);
    delete context;  // frees the memory through the base allocator's deleter
  }

  c10::Allocator* base_;
  std::shared_ptr<Counters> counters_;
};

}  // namespace

struct CpuMemoryTracker::Impl {
  std::shared_ptr<Counters> counters = std::make_shared<Counters>();
  std::unique_ptr<CountingAllocator> allocator;
};

CpuMemoryTracker::CpuMemoryTracker() : impl_(std::make_shared<Impl>()) {
  impl_->allocator = std::make_unique<CountingAllocator>(c10::GetCPUAllocator(), impl_->counters);
  c10::SetCPUAllocator(impl_->allocator.get(), kPriority);
}

CpuMemoryTracker::~CpuMemoryTracker() {
  c10::SetCPUAllocator(impl_->allocator->base(), kPriority);
  // A tensor's storage allocated through the counting allocator keeps a pointer to it (LibTorch
  // allocates through it again when the storage is resized), so the allocator lives as long as
  // the process: it is handed to a registry that is never emptied (a few dozen bytes per tracker,
  // reachable, so LeakSanitizer does not count it as lost).
  static auto* const retired = new std::vector<std::unique_ptr<CountingAllocator>>();
  retired->push_back(std::move(impl_->allocator));
}

int64_t CpuMemoryTracker::CurrentBytes() const { return impl_->counters->current.load(); }
int64_t CpuMemoryTracker::PeakBytes() const { return impl_->counters->peak.load(); }
void CpuMemoryTracker::ResetPeak() { impl_->counters->peak.store(CurrentBytes()); }

}  // namespace bilevel
