// libFuzzer target for the checkpoint reader (SolverState::Load on the input as a file): any bytes
// give a state or an error naming the file; a loaded state answers every getter without crashing.
#include <ATen/ATen.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "solvers/core/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string path =
      fuzz::ScratchFile(std::string(reinterpret_cast<const char*>(data), size), ".ckpt");
  absl::StatusOr<bilevel::SolverState> state = bilevel::SolverState::Load(path);
  if (!state.ok()) {
    FUZZ_CHECK(state.status().message().find(path) != std::string::npos);
    return 0;
  }
  for (const char* key : {"solver", "fingerprint", "user_state", "seed", "x", "observed"}) {
    state->GetString(key).IgnoreError();
    state->GetInt(key).IgnoreError();
    state->GetDouble(key).IgnoreError();
    bilevel::TensorList into = {at::zeros({2, 3}), at::zeros({4})};
    state->RestoreTensors(key, &into).IgnoreError();
  }
  return 0;
}
