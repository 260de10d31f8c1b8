#include "solvers/core/checkpoint.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/str_cat.h"
#include "solvers/bome.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"
#include "solvers/testing/exact_problems.h"

namespace bilevel {
namespace {

std::string TempPath(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return absl::StrCat(dir != nullptr ? dir : "/tmp", "/", name);
}

bool Identical(const TensorList& a, const TensorList& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!at::equal(a[i], b[i])) return false;
  }
  return true;
}

TEST(SolverStateTest, RoundTripsEveryKind) {
  SolverState state;
  state.PutTensors("weights",
                   {at::arange(6, at::kDouble).reshape({2, 3}), at::ones({4}, at::kLong)});
  state.PutTensors("empty", {});
  state.PutInt("stage", -7);
  state.PutDouble("lambda", 0.125);
  state.PutString("note", "a \"quoted\"\nline");
  const std::string path = TempPath("round_trip.ckpt");
  ASSERT_TRUE(state.Save(path).ok());
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));

  absl::StatusOr<SolverState> loaded = SolverState::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  TensorList weights = {at::zeros({2, 3}, at::kDouble), at::zeros({4}, at::kLong)};
  ASSERT_TRUE(loaded->RestoreTensors("weights", &weights).ok());
  EXPECT_TRUE(at::equal(weights[0], at::arange(6, at::kDouble).reshape({2, 3})));
  EXPECT_TRUE(at::equal(weights[1], at::ones({4}, at::kLong)));
  TensorList empty;
  EXPECT_TRUE(loaded->RestoreTensors("empty", &empty).ok());
  EXPECT_EQ(*loaded->GetInt("stage"), -7);
  EXPECT_EQ(*loaded->GetDouble("lambda"), 0.125);
  EXPECT_EQ(*loaded->GetString("note"), "a \"quoted\"\nline");
  EXPECT_FALSE(loaded->GetInt("missing").ok());
}

TEST(DurableRenameTest, MovesTheFileIntoPlaceOrNamesWhatFailed) {
  const std::string tmp = TempPath("durable.tmp"), path = TempPath("durable");
  { std::ofstream(tmp) << "contents"; }
  ASSERT_TRUE(DurableRename(tmp, path).ok());
  EXPECT_FALSE(std::filesystem::exists(tmp));
  std::ifstream in(path);
  EXPECT_EQ(std::string(std::istreambuf_iterator<char>(in), {}), "contents");
  const absl::Status missing = DurableRename(TempPath("nothing.tmp"), path);
  EXPECT_EQ(missing.code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(missing.message().find("nothing.tmp"), std::string::npos) << missing;
}

TEST(SolverStateTest, RefusesTensorsOfAnotherShape) {
  SolverState state;
  state.PutTensors("w", {at::zeros({3}, at::kDouble)});
  TensorList wrong_shape = {at::zeros({4}, at::kDouble)};
  absl::Status status = state.RestoreTensors("w", &wrong_shape);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find("[3]"), std::string::npos) << status;
  TensorList wrong_dtype = {at::zeros({3}, at::kFloat)};
  EXPECT_FALSE(state.RestoreTensors("w", &wrong_dtype).ok());
  TensorList wrong_count = {at::zeros({3}, at::kDouble), at::zeros({3}, at::kDouble)};
  EXPECT_FALSE(state.RestoreTensors("w", &wrong_count).ok());
}

TEST(SolverStateTest, NamesTheFileThatCannotBeRead) {
  const std::string path = TempPath("garbage.ckpt");
  std::ofstream(path) << "not a checkpoint";
  absl::StatusOr<SolverState> loaded = SolverState::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find(path), std::string::npos) << loaded.status();
  EXPECT_EQ(SolverState::Load(TempPath("absent.ckpt")).status().code(),
            absl::StatusCode::kNotFound);
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void WriteBytes(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

// Every dtype a solver's state may hold, scalars, empty tensors and higher ranks, bit for bit
// (NaN and negative zero included: the bytes are copied, not the values converted).
TEST(SolverStateTest, RoundTripsEveryDtypeAndShape) {
  TensorList tensors = {at::tensor(-0.0),
                        at::tensor(std::nan("")),
                        at::arange(24, at::kFloat).reshape({2, 3, 4}),
                        at::zeros({0, 5}),
                        at::arange(5, at::kInt),
                        at::arange(5, at::kShort),
                        at::arange(5, at::kChar),
                        at::arange(5, at::kByte),
                        at::arange(4, at::kLong) > 1,
                        at::arange(3, at::kFloat).to(at::kHalf),
                        at::arange(3, at::kFloat).to(at::kBFloat16)};
  SolverState state;
  state.PutTensors("all", tensors);
  const std::string path = TempPath("dtypes.ckpt");
  ASSERT_TRUE(state.Save(path).ok());
  absl::StatusOr<SolverState> loaded = SolverState::Load(path);
  ASSERT_TRUE(loaded.ok()) << loaded.status();
  TensorList into;
  for (const at::Tensor& t : tensors) into.push_back(at::ones_like(t));
  ASSERT_TRUE(loaded->RestoreTensors("all", &into).ok());
  for (size_t i = 0; i < tensors.size(); ++i) {
    ASSERT_EQ(into[i].sizes(), tensors[i].sizes()) << i;
    const int64_t bytes = tensors[i].numel() * tensors[i].element_size();
    EXPECT_EQ(std::memcmp(into[i].data_ptr(), tensors[i].data_ptr(), bytes), 0) << i;
  }
  EXPECT_TRUE(std::signbit(into[0].item<double>()));
}

// The state's CRC-32 is checked before anything is parsed: a flipped byte anywhere in it is
// "damaged", never a silently different state.
TEST(SolverStateTest, AFlippedByteFailsTheCrc) {
  const std::string path = TempPath("flipped.ckpt");
  SolverState state;
  state.PutString("user_state", "1 2 0.5 0\nheader\nrow\n");
  state.PutTensors("x", {at::arange(6, at::kFloat)});
  ASSERT_TRUE(state.Save(path).ok());
  std::string bytes = ReadBytes(path);
  const size_t at = bytes.find("1 2 0.5");
  ASSERT_NE(at, std::string::npos);
  bytes[at + 2] = '3';
  WriteBytes(path, bytes);
  absl::StatusOr<SolverState> loaded = SolverState::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find("fails its CRC-32"), std::string::npos)
      << loaded.status();
  EXPECT_NE(loaded.status().message().find(path), std::string::npos) << loaded.status();
  // Cut short: the header's length no longer matches.
  WriteBytes(path, ReadBytes(path).substr(0, bytes.size() - 3));
  EXPECT_NE(SolverState::Load(path).status().message().find("the file holds"), std::string::npos);
}

// A file whose CRC is right but whose contents lie (a fuzzer can make one; so can a bug) is
// parsed by bounds-checked code: a tensor claiming 2^40 elements is damage, not an allocation.
TEST(SolverStateTest, ASizeLargerThanTheFileIsDamageNotAnAllocation) {
  const std::string path = TempPath("lying.ckpt");
  SolverState state;
  state.PutTensors("x", {at::arange(6, at::kFloat)});
  ASSERT_TRUE(state.Save(path).ok());
  std::string bytes = ReadBytes(path);
  constexpr size_t kHeader = 28;
  // payload: 't', u32 1, "x", u32 count 1, u8 dtype, u8 rank 1, i64 size 6, 24 bytes.
  const size_t size_at = kHeader + 1 + 4 + 1 + 4 + 2;
  ASSERT_EQ(bytes[size_at], 6);
  bytes[size_at + 5] = 1;  // 6 + 2^40
  const uLong crc =
      crc32(crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(bytes.data() + kHeader),
            bytes.size() - kHeader);
  for (int i = 0; i < 4; ++i) bytes[kHeader - 4 + i] = static_cast<char>(crc >> (8 * i));
  WriteBytes(path, bytes);
  absl::StatusOr<SolverState> loaded = SolverState::Load(path);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(loaded.status().message().find("larger than the file"), std::string::npos)
      << loaded.status();
}

// Format 1 (LibTorch's zip archive, before this library parsed its own files) is named as such.
TEST(SolverStateTest, AnotherFormatIsNamed) {
  const std::string path = TempPath("other_format.ckpt");
  SolverState state;
  state.PutInt("stage", 1);
  ASSERT_TRUE(state.Save(path).ok());
  std::string bytes = ReadBytes(path);
  bytes[8] = 1;  // format 1
  WriteBytes(path, bytes);
  EXPECT_NE(SolverState::Load(path).status().message().find("format 1"), std::string::npos);
  WriteBytes(path, std::string("PK\x03\x04", 4) + std::string(60, '\0'));  // a zip
  EXPECT_NE(SolverState::Load(path).status().message().find("not a checkpoint of this library"),
            std::string::npos);
}

// Ridge regression whose training loss is scaled by a random factor drawn from the problem's own
// generator: a resumed solve repeats the uninterrupted one only if that state is restored too.
class NoisyRidge : public testing::RidgeProblem {
 public:
  NoisyRidge() : RidgeProblem(Spec()), generator_(at::make_generator<at::CPUGeneratorImpl>(5)) {}
  static testing::RidgeSpec Spec() {
    testing::RidgeSpec spec;
    spec.num_features = 5;
    spec.num_train = 40;
    spec.num_validation = 30;
    spec.seed = 3;
    return spec;
  }
  at::Tensor InnerObjective(const TensorList& x, const TensorList& y, const Batch& b) override {
    const at::Tensor noise = at::rand({1}, generator_, at::kDouble);
    return RidgeProblem::InnerObjective(x, y, b) * (0.9 + 0.2 * noise[0]);
  }
  TensorList RandomState() const override { return {generator_.get_state()}; }
  void SetRandomState(const TensorList& state) override { generator_.set_state(state.at(0)); }

 private:
  at::Generator generator_;
};

// Runs `options` three ways: uninterrupted; with checkpoints and a callback that stops the solve
// at `stop_at`; then again from the checkpoint. The resumed result must equal the uninterrupted
// one bit for bit, oracle counts included.
template <typename Options>
void ExpectResumeRepeatsTheSolve(Options options, const std::string& name, int64_t stop_at,
                                 int64_t every, int64_t expected_resumed) {
  SolverSummary reference;
  {
    NoisyRidge problem;
    ASSERT_TRUE(Solve(options, &problem, &reference).ok());
  }
  const std::string path = TempPath(name + ".ckpt");
  std::remove(path.c_str());
  options.checkpoint.path = path;
  options.checkpoint.every_iterations = every;
  options.checkpoint.fingerprint = name;
  std::string user_state = "start";
  options.checkpoint.save_user_state = [&] { return user_state; };
  std::string restored_user_state;
  options.checkpoint.restore_user_state = [&](const std::string& s) {
    restored_user_state = s;
    return absl::OkStatus();
  };
  int64_t observed = 0;
  Options interrupted = options;
  interrupted.callbacks.push_back([&](const IterationRecord& r) {
    user_state = absl::StrCat("after ", ++observed);
    return observed == stop_at ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary first;
  {
    NoisyRidge problem;
    ASSERT_TRUE(Solve(interrupted, &problem, &first).ok());
  }
  ASSERT_EQ(first.termination, TerminationType::kUserStop);
  ASSERT_TRUE(std::filesystem::exists(path));

  SolverSummary resumed;
  {
    NoisyRidge problem;  // a fresh process would build the problem anew
    ASSERT_TRUE(Solve(options, &problem, &resumed).ok()) << resumed.message;
  }
  EXPECT_EQ(resumed.resumed_iterations, expected_resumed);
  EXPECT_EQ(restored_user_state, absl::StrCat("after ", expected_resumed));
  EXPECT_EQ(resumed.termination, reference.termination);
  EXPECT_EQ(resumed.num_iterations, reference.num_iterations);
  EXPECT_EQ(resumed.oracle_calls.GradientCalls(), reference.oracle_calls.GradientCalls());
  EXPECT_EQ(resumed.oracle_calls.hessian_vector_products,
            reference.oracle_calls.hessian_vector_products);
  EXPECT_EQ(resumed.oracle_calls.g_examples, reference.oracle_calls.g_examples);
  EXPECT_EQ(resumed.final_lambda, reference.final_lambda);
  EXPECT_EQ(resumed.final_penalty_rho, reference.final_penalty_rho);
  EXPECT_EQ(resumed.num_stages, reference.num_stages);
  EXPECT_TRUE(Identical(resumed.x, reference.x));
  EXPECT_TRUE(Identical(resumed.y, reference.y));
  // The interrupted solve had not got there yet: the test would pass vacuously otherwise.
  EXPECT_FALSE(Identical(first.x, reference.x));
}

MinimaxOptOptions MinibatchMinimax() {
  MinimaxOptOptions o;
  o.num_stages = 3;
  o.iterations_per_stage = 10;
  o.outer_batch_size = 8;
  o.inner_batch_size = 16;
  o.seed = 11;
  o.x_optimizer.type = OptimizerType::kAdam;
  o.x_optimizer.learning_rate = 0.05;
  o.y_optimizer.type = o.z_optimizer.type = OptimizerType::kMomentum;
  o.schedule = Schedule::kCosine;
  return o;
}

TEST(CheckpointTest, MinimaxOptResumesBitForBit) {
  // Stopped at the 17th iteration; the last checkpoint was after the 14th (every 7), in stage 1.
  ExpectResumeRepeatsTheSolve(MinibatchMinimax(), "minimax", 17, 7, 14);
}

TEST(CheckpointTest, MinimaxOptResumesAtAStageBoundary) {
  // Checkpoints every 10 iterations fall on the last iteration of a stage: the resume starts the
  // next stage with the next λ.
  ExpectResumeRepeatsTheSolve(MinibatchMinimax(), "minimax_boundary", 25, 10, 20);
}

TEST(CheckpointTest, ConjugateGradientResumesWithItsWarmStart) {
  HypergradientOptions o;
  o.method = HypergradientMethod::kConjugateGradient;
  o.max_iterations = 12;
  o.inner_steps = 5;
  o.outer_batch_size = 10;
  o.inner_batch_size = 8;
  o.seed = 4;
  o.inner_optimizer.type = OptimizerType::kMomentum;
  o.outer_optimizer.type = OptimizerType::kAdam;
  o.outer_optimizer.learning_rate = 0.05;
  ExpectResumeRepeatsTheSolve(o, "cg", 9, 4, 8);
}

TEST(CheckpointTest, TruncatedReverseResumes) {
  HypergradientOptions o;
  o.method = HypergradientMethod::kReverse;
  o.max_iterations = 10;
  o.inner_steps = 6;
  o.truncation = 3;
  o.inner_batch_size = 8;
  o.seed = 2;
  ExpectResumeRepeatsTheSolve(o, "reverse", 7, 3, 6);
}

// F2SA and the penalty method declare their state and nothing else: the loop checkpoints them.
TEST(CheckpointTest, F2saResumesBitForBit) {
  F2saOptions o;
  o.max_iterations = 12;
  o.inner_steps = 3;
  o.lambda_increment = 0.5;
  o.outer_batch_size = 8;
  o.inner_batch_size = 16;
  o.seed = 6;
  o.x_optimizer.type = OptimizerType::kAdam;
  o.x_optimizer.learning_rate = 0.05;
  o.y_optimizer.type = OptimizerType::kMomentum;
  ExpectResumeRepeatsTheSolve(o, "f2sa", 8, 3, 6);
}

TEST(CheckpointTest, PenaltyMethodResumesAcrossStages) {
  PenaltyOptions o;
  o.max_iterations = 20;
  o.max_iterations_per_stage = 4;  // ρ, μ, ε and the step sizes change every 4 iterations
  o.inner_steps = 2;
  o.outer_batch_size = 8;
  o.inner_batch_size = 16;
  o.seed = 8;
  ExpectResumeRepeatsTheSolve(o, "penalty", 11, 5, 10);
}

TEST(CheckpointTest, BomeResumesBitForBit) {
  BomeOptions o;
  o.max_iterations = 10;
  o.inner_steps = 4;
  o.outer_batch_size = 8;
  o.inner_batch_size = 16;
  o.seed = 9;
  o.x_optimizer.type = OptimizerType::kAdam;
  ExpectResumeRepeatsTheSolve(o, "bome", 7, 3, 6);
}

TEST(CheckpointTest, TimeBasedCheckpoints) {
  MinimaxOptOptions o = MinibatchMinimax();
  o.checkpoint.path = TempPath("timed.ckpt");
  std::remove(o.checkpoint.path.c_str());
  o.checkpoint.every_iterations = 0;
  o.checkpoint.every_seconds = 1e-9;  // due after every iteration
  MinimaxOptOptions interrupted = o;
  interrupted.callbacks.push_back([](const IterationRecord& r) {
    return r.iteration == 4 ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary summary;
  NoisyRidge problem;
  ASSERT_TRUE(Solve(interrupted, &problem, &summary).ok());
  ASSERT_TRUE(Solve(o, &problem, &summary).ok());
  EXPECT_EQ(summary.resumed_iterations, 4);  // the 5th was stopped before its checkpoint
  EXPECT_EQ(summary.termination, TerminationType::kIterationLimit);
}

TEST(CheckpointTest, AReadOnlyCheckpointResumesButIsNeverWritten) {
  // The ranks after 0 of a data-parallel experiment: they resume from rank 0's file and leave it
  // as rank 0 wrote it.
  MinimaxOptOptions o = MinibatchMinimax();
  o.checkpoint.path = TempPath("read_only.ckpt");
  std::remove(o.checkpoint.path.c_str());
  o.checkpoint.every_iterations = 5;
  MinimaxOptOptions interrupted = o;
  interrupted.callbacks.push_back([](const IterationRecord& r) {
    return r.iteration == 6 ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary summary;
  NoisyRidge problem;
  ASSERT_TRUE(Solve(interrupted, &problem, &summary).ok());
  const auto written = std::filesystem::last_write_time(o.checkpoint.path);
  const std::string bytes = ReadBytes(o.checkpoint.path);
  o.checkpoint.write = false;
  NoisyRidge again;
  ASSERT_TRUE(Solve(o, &again, &summary).ok()) << summary.message;
  EXPECT_EQ(summary.resumed_iterations, 5);
  EXPECT_EQ(summary.termination, TerminationType::kIterationLimit);
  EXPECT_EQ(std::filesystem::last_write_time(o.checkpoint.path), written);
  EXPECT_EQ(ReadBytes(o.checkpoint.path), bytes);  // iterations 10, 15, ... wrote nothing
  // Without a file the solve starts fresh and still writes none.
  std::remove(o.checkpoint.path.c_str());
  NoisyRidge fresh;
  ASSERT_TRUE(Solve(o, &fresh, &summary).ok());
  EXPECT_EQ(summary.resumed_iterations, 0);
  EXPECT_FALSE(std::filesystem::exists(o.checkpoint.path));
}

TEST(CheckpointTest, RefusesACheckpointOfAnotherSolve) {
  MinimaxOptOptions o = MinibatchMinimax();
  o.checkpoint.path = TempPath("other_seed.ckpt");
  o.checkpoint.every_iterations = 5;
  std::remove(o.checkpoint.path.c_str());
  o.callbacks.push_back([](const IterationRecord& r) {
    return r.iteration == 6 ? CallbackResult::kStop : CallbackResult::kContinue;
  });
  SolverSummary summary;
  NoisyRidge problem;
  ASSERT_TRUE(Solve(o, &problem, &summary).ok());
  o.seed = 12;
  absl::Status status = Solve(o, &problem, &summary);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(status.message().find(o.checkpoint.path), std::string::npos) << status;
  EXPECT_NE(status.message().find("delete it"), std::string::npos) << status;
  EXPECT_EQ(summary.termination, TerminationType::kInvalidOptions);
  // Another solver on the same file is refused too.
  HypergradientOptions h;
  h.seed = 11;
  h.checkpoint = o.checkpoint;
  EXPECT_EQ(Solve(h, &problem, &summary).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(CheckpointTest, AnUnwritableCheckpointStopsTheSolveWithAUsableIterate) {
  MinimaxOptOptions o = MinibatchMinimax();
  o.checkpoint.path = TempPath("no/such/folder/run.ckpt");
  o.checkpoint.every_iterations = 4;
  SolverSummary summary;
  NoisyRidge problem;
  ASSERT_TRUE(Solve(o, &problem, &summary).ok());
  EXPECT_EQ(summary.termination, TerminationType::kCheckpointFailed);
  EXPECT_EQ(summary.num_iterations, 4);
  EXPECT_TRUE(summary.IsSolutionUsable());
  EXPECT_NE(summary.message.find("no/such/folder"), std::string::npos) << summary.message;
}

TEST(CheckpointTest, InvalidCheckpointOptionsAreNamed) {
  NoisyRidge problem;
  SolverSummary summary;
  MinimaxOptOptions o = MinibatchMinimax();
  o.checkpoint.path = TempPath("x.ckpt");
  o.checkpoint.every_iterations = 0;
  absl::Status status = Solve(o, &problem, &summary);
  EXPECT_NE(status.message().find("both 0"), std::string::npos) << status;
  o.checkpoint.every_seconds = -1;
  status = Solve(o, &problem, &summary);
  EXPECT_NE(status.message().find("checkpoint.every_seconds"), std::string::npos) << status;
  o.checkpoint.every_seconds = 0;
  o.checkpoint.every_iterations = 5;
  o.checkpoint.save_user_state = [] { return std::string(); };
  status = Solve(o, &problem, &summary);
  EXPECT_NE(status.message().find("restore_user_state"), std::string::npos) << status;
}

}  // namespace
}  // namespace bilevel
