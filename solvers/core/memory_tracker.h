// Peak CPU memory of a piece of code, measured at LibTorch's CPU allocator.
//
//   bilevel::CpuMemoryTracker tracker;            // installs a counting allocator
//   ... run the code ...
//   int64_t peak = tracker.PeakBytes();           // most bytes live at once since construction
//
// Every CPU tensor allocated while a tracker exists is counted, with its size, until it is freed
// (also after the tracker is gone). Used by tests (reverse mode's memory must grow with the
// truncation K, not with T) and benchmarks (peak memory per outer iteration). One tracker at a
// time; not for concurrent use from several threads that allocate tensors.
#ifndef SOLVERS_CORE_MEMORY_TRACKER_H_
#define SOLVERS_CORE_MEMORY_TRACKER_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace bilevel {

class CpuMemoryTracker {
 public:
  CpuMemoryTracker();
  ~CpuMemoryTracker();
  CpuMemoryTracker(const CpuMemoryTracker&) = delete;
  CpuMemoryTracker& operator=(const CpuMemoryTracker&) = delete;

  // Bytes allocated since construction and still live.
  int64_t CurrentBytes() const;
  // The maximum of CurrentBytes() since construction or the last ResetPeak().
  int64_t PeakBytes() const;
  void ResetPeak();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace bilevel

#endif  // SOLVERS_CORE_MEMORY_TRACKER_H_
