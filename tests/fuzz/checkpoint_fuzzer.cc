// libFuzzer target for the checkpoint reader (SolverState::Load): any bytes give a state or an
// error naming the file; a loaded state answers every getter without crashing. Each input is tried
// twice: as the whole file, and as the state behind a valid header (format 2, with the input's
// CRC-32), so that the entry parser is explored, not only the CRC check that guards it.
#include <ATen/ATen.h>
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "solvers/core/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// The header SolverState::Save writes before `payload` (checkpoint.cc documents the layout).
std::string WithValidHeader(const std::string& payload) {
  std::string h = "HFBSTATE";
  auto le = [&h](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) h.push_back(static_cast<char>(v >> (8 * i)));
  };
  le(2, 4);
  const uint32_t byte_order = 0x01020304;
  h.append(reinterpret_cast<const char*>(&byte_order), 4);
  le(payload.size(), 8);
  le(crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(payload.data()), payload.size()),
     4);
  return h + payload;
}

void Check(const std::string& bytes) {
  const std::string path = fuzz::ScratchFile(bytes, ".ckpt");
  absl::StatusOr<bilevel::SolverState> state = bilevel::SolverState::Load(path);
  if (!state.ok()) {
    FUZZ_CHECK(state.status().message().find(path) != std::string::npos);
    return;
  }
  for (const char* key : {"solver", "fingerprint", "user_state", "seed", "x", "observed"}) {
    state->GetString(key).IgnoreError();
    state->GetInt(key).IgnoreError();
    state->GetDouble(key).IgnoreError();
    bilevel::TensorList into = {at::zeros({2, 3}), at::zeros({4})};
    state->RestoreTensors(key, &into).IgnoreError();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  Check(WithValidHeader(bytes));
  return 0;
}
