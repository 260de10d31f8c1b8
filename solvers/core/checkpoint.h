// Checkpoints: everything a solver needs to continue a solve where it stopped, in one file.
//
// A long solve (hours on the paper's scale) must survive an interrupted process. With
// `options.checkpoint.path` set, every solver that supports checkpoints (MinimaxOPT and the
// hypergradient solvers) writes its whole state there every `every_iterations` iterations, and a
// later Solve with the same options finds the file and continues from it: iterates, optimizer
// moments, minibatch order, the problem's random state, oracle counts and the solver clock. On
// the CPU the resumed solve gives bit for bit the iterates of an uninterrupted one.
//
// SolverState is the container those files hold: named tensor lists, integers, doubles and
// strings, written atomically and durably (a temporary file, fsync, a rename, fsync of the folder)
// in this library's own format (checkpoint.cc: a header, a CRC-32, typed entries), read back by a
// bounds-checked parser: a damaged or foreign file is an error, never a crash or a huge
// allocation (tests/fuzz:checkpoint_fuzzer).
//
//   bilevel::SolverState state;
//   state.PutTensors("x", x);
//   state.PutInt("stage", 3);
//   absl::Status saved = state.Save("/tmp/run.ckpt");
//   absl::StatusOr<bilevel::SolverState> loaded = bilevel::SolverState::Load("/tmp/run.ckpt");
//   absl::Status restored = loaded->RestoreTensors("x", &x);  // checks count, shapes and dtypes
#ifndef SOLVERS_CORE_CHECKPOINT_H_
#define SOLVERS_CORE_CHECKPOINT_H_

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "solvers/core/tensor_list.h"

namespace bilevel {

class SolverState {
 public:
  // Keys are made of letters, digits and '_' (they name attributes in the file).
  void PutTensors(const std::string& key, const TensorList& tensors);
  void PutInt(const std::string& key, int64_t value);
  void PutDouble(const std::string& key, double value);
  void PutString(const std::string& key, const std::string& value);

  bool Has(const std::string& key) const;
  // The getters fail with a message naming the key when it is missing.
  absl::StatusOr<int64_t> GetInt(const std::string& key) const;
  absl::StatusOr<double> GetDouble(const std::string& key) const;
  absl::StatusOr<std::string> GetString(const std::string& key) const;
  // Replaces the tensors of `into` by the saved ones, moved to the device of each tensor of
  // `into`. The saved list must have as many tensors, with the same shapes and dtypes.
  absl::Status RestoreTensors(const std::string& key, TensorList* into) const;

  // Writes the state to `path` atomically; the message names the path on failure.
  absl::Status Save(const std::string& path) const;
  // Reads a state Save wrote; a missing, truncated or foreign file is an error naming the path.
  static absl::StatusOr<SolverState> Load(const std::string& path);

 private:
  std::map<std::string, TensorList> tensors_;
  std::map<std::string, int64_t> ints_;
  std::map<std::string, double> doubles_;
  std::map<std::string, std::string> strings_;
};

// Makes the finished file `tmp` durable and moves it to `path`: fsync of the file, rename, fsync
// of the folder, so that after a crash `path` holds either its old contents or the whole new
// file. Unavailable (naming the file and the reason) when a step fails.
absl::Status DurableRename(const std::string& tmp, const std::string& path);

}  // namespace bilevel

#endif  // SOLVERS_CORE_CHECKPOINT_H_
