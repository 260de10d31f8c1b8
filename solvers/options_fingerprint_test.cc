#include "solvers/options_fingerprint.h"

#include <gtest/gtest.h>

#include <functional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace bilevel {
namespace {

template <typename Options>
using Changes = std::vector<std::pair<std::string, std::function<void(Options*)>>>;

// Each change alters one field: the fingerprint must differ from the default's, from every other
// change's, and name the field.
template <typename Options>
void ExpectEveryChangeIsSeen(const Changes<Options>& changes) {
  const std::string base = Fingerprint(Options{});
  std::set<std::string> seen = {base};
  for (const auto& [field, change] : changes) {
    Options o;
    change(&o);
    const std::string fingerprint = Fingerprint(o);
    EXPECT_TRUE(seen.insert(fingerprint).second) << field << " does not change the fingerprint";
    EXPECT_NE(fingerprint.find(field + "="), std::string::npos) << fingerprint;
  }
}

// The optimizer's fields under each of a solver's groups.
template <typename Options>
void AddOptimizerChanges(const std::string& prefix, OptimizerOptions Options::*group,
                         Changes<Options>* changes) {
  const std::vector<std::pair<std::string, std::function<void(OptimizerOptions*)>>> fields = {
      {"type",
       [](OptimizerOptions* o) {
         o->type = o->type == OptimizerType::kAdam ? OptimizerType::kSgd : OptimizerType::kAdam;
       }},
      {"learning_rate", [](OptimizerOptions* o) { o->learning_rate = 0.3; }},
      {"momentum", [](OptimizerOptions* o) { o->momentum = 0.5; }},
      {"nesterov", [](OptimizerOptions* o) { o->nesterov = !o->nesterov; }},
      {"beta1", [](OptimizerOptions* o) { o->beta1 = 0.8; }},
      {"beta2", [](OptimizerOptions* o) { o->beta2 = 0.99; }},
      {"epsilon", [](OptimizerOptions* o) { o->epsilon = 1e-6; }},
      {"lambda_scaling",
       [](OptimizerOptions* o) {
         o->lambda_scaling = o->lambda_scaling == LambdaScaling::kNone
                                 ? LambdaScaling::kInverseLambda
                                 : LambdaScaling::kNone;
       }}};
  for (const auto& [field, change] : fields) {
    changes->push_back({prefix + field, [group, change = change](Options* o) { change(&(o->*group)); }});
  }
}

template <typename Options>
void AddBaseChanges(Changes<Options>* changes) {
  changes->insert(changes->end(),
                  {{"max_gradient_calls", [](Options* o) { o->max_gradient_calls = 7; }},
                   {"max_gradient_call_equivalents",
                    [](Options* o) { o->max_gradient_call_equivalents = 7; }},
                   {"max_wall_time_seconds", [](Options* o) { o->max_wall_time_seconds = 7; }},
                   {"record_every", [](Options* o) { o->record_every = 7; }},
                   {"outer_batch_size", [](Options* o) { o->outer_batch_size = 7; }},
                   {"inner_batch_size", [](Options* o) { o->inner_batch_size = 7; }}});
}

// A field added to an options struct changes its size: describe the field in
// options_fingerprint.cc, add a change for it below, then update the size here. (Sizes of this
// build: x86-64 Linux, libstdc++.) Fields that only observe or save a solve (callbacks, the
// checkpoint settings, e.g. CheckpointOptions::write) change the size too but stay out of the
// fingerprint.
TEST(OptionsFingerprintTest, AFieldAddedToAnOptionsStructMustBeFingerprinted) {
  EXPECT_EQ(sizeof(OptimizerOptions), 64u) << "OptimizerOptions changed";
  EXPECT_EQ(sizeof(SolverOptionsBase), 264u) << "SolverOptionsBase changed";
  EXPECT_EQ(sizeof(MinimaxOptOptions), 520u) << "MinimaxOptOptions changed";
  EXPECT_EQ(sizeof(HypergradientOptions), 472u) << "HypergradientOptions changed";
  EXPECT_EQ(sizeof(F2saOptions), 496u) << "F2saOptions changed";
  EXPECT_EQ(sizeof(PenaltyOptions), 488u) << "PenaltyOptions changed";
  EXPECT_EQ(sizeof(BomeOptions), 424u) << "BomeOptions changed";
}

TEST(OptionsFingerprintTest, EveryMinimaxOptFieldIsSeen) {
  using O = MinimaxOptOptions;
  Changes<O> changes = {
      {"initial_lambda", [](O* o) { o->initial_lambda = 3; }},
      {"lambda_growth", [](O* o) { o->lambda_growth = 3; }},
      {"num_stages", [](O* o) { o->num_stages = 3; }},
      {"iterations_per_stage", [](O* o) { o->iterations_per_stage = 3; }},
      {"stationarity_tolerance", [](O* o) { o->stationarity_tolerance = 3; }},
      {"schedule", [](O* o) { o->schedule = Schedule::kCosine; }},
      {"schedule_min_factor", [](O* o) { o->schedule_min_factor = 0.5; }},
      {"update_order", [](O* o) { o->update_order = UpdateOrder::kAlternating; }},
      {"z_starts_at_y", [](O* o) { o->z_starts_at_y = !o->z_starts_at_y; }},
      {"common_random_numbers", [](O* o) { o->common_random_numbers = !o->common_random_numbers; }}};
  AddBaseChanges(&changes);
  AddOptimizerChanges("x_optimizer.", &O::x_optimizer, &changes);
  AddOptimizerChanges("y_optimizer.", &O::y_optimizer, &changes);
  AddOptimizerChanges("z_optimizer.", &O::z_optimizer, &changes);
  ExpectEveryChangeIsSeen(changes);
  EXPECT_EQ(Fingerprint(O{}).rfind("MinimaxOPT: ", 0), 0u);
}

TEST(OptionsFingerprintTest, EveryHypergradientFieldIsSeen) {
  using O = HypergradientOptions;
  Changes<O> changes = {
      {"max_iterations", [](O* o) { o->max_iterations = 3; }},
      {"inner_steps", [](O* o) { o->inner_steps = 3; }},
      {"truncation", [](O* o) { o->truncation = 3; }},
      {"linear_solver_iterations", [](O* o) { o->linear_solver_iterations = 3; }},
      {"linear_solver_step", [](O* o) { o->linear_solver_step = 3; }},
      {"linear_solver_damping", [](O* o) { o->linear_solver_damping = 3; }},
      {"linear_solver_tolerance", [](O* o) { o->linear_solver_tolerance = 3; }},
      {"warm_start_linear_solver",
       [](O* o) { o->warm_start_linear_solver = !o->warm_start_linear_solver; }},
      {"warm_start_inner", [](O* o) { o->warm_start_inner = !o->warm_start_inner; }},
      {"schedule", [](O* o) { o->schedule = Schedule::kCosine; }},
      {"schedule_min_factor", [](O* o) { o->schedule_min_factor = 0.5; }}};
  AddBaseChanges(&changes);
  AddOptimizerChanges("inner_optimizer.", &O::inner_optimizer, &changes);
  AddOptimizerChanges("outer_optimizer.", &O::outer_optimizer, &changes);
  ExpectEveryChangeIsSeen(changes);
  O neumann;
  neumann.method = HypergradientMethod::kNeumann;
  EXPECT_EQ(Fingerprint(neumann).rfind(ToString(HypergradientMethod::kNeumann) + ": ", 0), 0u);
  EXPECT_NE(Fingerprint(neumann), Fingerprint(O{}));
}

TEST(OptionsFingerprintTest, EveryF2saFieldIsSeen) {
  using O = F2saOptions;
  Changes<O> changes = {{"max_iterations", [](O* o) { o->max_iterations = 3; }},
                        {"inner_steps", [](O* o) { o->inner_steps = 3; }},
                        {"initial_lambda", [](O* o) { o->initial_lambda = 3; }},
                        {"lambda_increment", [](O* o) { o->lambda_increment = 3; }},
                        {"max_lambda", [](O* o) { o->max_lambda = 3; }}};
  AddBaseChanges(&changes);
  AddOptimizerChanges("x_optimizer.", &O::x_optimizer, &changes);
  AddOptimizerChanges("y_optimizer.", &O::y_optimizer, &changes);
  AddOptimizerChanges("z_optimizer.", &O::z_optimizer, &changes);
  ExpectEveryChangeIsSeen(changes);
}

TEST(OptionsFingerprintTest, EveryPenaltyFieldIsSeen) {
  using O = PenaltyOptions;
  Changes<O> changes = {
      {"max_iterations", [](O* o) { o->max_iterations = 3; }},
      {"inner_steps", [](O* o) { o->inner_steps = 3; }},
      {"initial_penalty", [](O* o) { o->initial_penalty = 3; }},
      {"penalty_growth", [](O* o) { o->penalty_growth = 3; }},
      {"initial_inner_weight", [](O* o) { o->initial_inner_weight = 3; }},
      {"inner_weight_decay", [](O* o) { o->inner_weight_decay = 0.5; }},
      {"initial_tolerance", [](O* o) { o->initial_tolerance = 3; }},
      {"tolerance_decay", [](O* o) { o->tolerance_decay = 0.5; }},
      {"learning_rate_decay", [](O* o) { o->learning_rate_decay = 0.5; }},
      {"update_multiplier", [](O* o) { o->update_multiplier = !o->update_multiplier; }},
      {"max_iterations_per_stage", [](O* o) { o->max_iterations_per_stage = 3; }},
      {"min_tolerance", [](O* o) { o->min_tolerance = 3; }}};
  AddBaseChanges(&changes);
  AddOptimizerChanges("x_optimizer.", &O::x_optimizer, &changes);
  AddOptimizerChanges("y_optimizer.", &O::y_optimizer, &changes);
  ExpectEveryChangeIsSeen(changes);
}

TEST(OptionsFingerprintTest, EveryBomeFieldIsSeen) {
  using O = BomeOptions;
  Changes<O> changes = {{"max_iterations", [](O* o) { o->max_iterations = 3; }},
                        {"inner_steps", [](O* o) { o->inner_steps = 3; }},
                        {"inner_learning_rate", [](O* o) { o->inner_learning_rate = 3; }},
                        {"eta", [](O* o) { o->eta = 3; }}};
  AddBaseChanges(&changes);
  AddOptimizerChanges("x_optimizer.", &O::x_optimizer, &changes);
  AddOptimizerChanges("y_optimizer.", &O::y_optimizer, &changes);
  ExpectEveryChangeIsSeen(changes);
}

// The seed and the observers (callbacks, checkpoints) do not change a solve's numbers.
TEST(OptionsFingerprintTest, TheSeedAndTheObserversAreLeftOut) {
  MinimaxOptOptions o;
  const std::string base = Fingerprint(o);
  o.seed = 12;
  o.callbacks.push_back([](const IterationRecord&) { return CallbackResult::kContinue; });
  o.checkpoint.path = "/tmp/x.ckpt";
  o.checkpoint.fingerprint = "anything";
  EXPECT_EQ(Fingerprint(o), base);
}

// A reducer that only reports a world size (no solve runs here).
class Ranks : public GradientReducer {
 public:
  explicit Ranks(int n) : n_(n) {}
  int rank() const override { return 0; }
  int world_size() const override { return n_; }
  absl::Status AllReduceMean(const std::vector<TensorList*>&) override { return {}; }
  absl::Status CheckSame(const std::string&, const std::string&) override { return {}; }

 private:
  int n_;
};

// A data-parallel solve's last digits depend on its world size; one process names none, so the
// fingerprints of every run made before data parallelism still match.
TEST(OptionsFingerprintTest, NamesTheWorldSizeOfADataParallelSolveOnly) {
  MinimaxOptOptions o;
  const std::string base = Fingerprint(o);
  Ranks one(1), two(2);
  o.data_parallel = &one;
  EXPECT_EQ(Fingerprint(o), base);
  o.data_parallel = &two;
  EXPECT_NE(Fingerprint(o).find("inner_batch_size=0, world_size=2,"), std::string::npos)
      << Fingerprint(o);
}

// Values read back exactly, in the fewest digits.
TEST(OptionsFingerprintTest, DoublesAreShortAndExact) {
  MinimaxOptOptions o;
  o.x_optimizer.learning_rate = 0.1;
  EXPECT_NE(Fingerprint(o).find("x_optimizer.learning_rate=0.1,"), std::string::npos);
  o.x_optimizer.learning_rate = 0.1 + 1e-15;
  EXPECT_NE(Fingerprint(o).find("x_optimizer.learning_rate=0.100000000000001,"),
            std::string::npos)
      << Fingerprint(o);
}

}  // namespace
}  // namespace bilevel
