#include "experiments/common.h"

#include <ATen/Context.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <utility>

#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "experiments/ranks.h"
#include "solvers/core/runtime.h"
#include "solvers/options_fingerprint.h"
#include "tasks/data/data_files.h"
#include "tasks/data/md5.h"

namespace experiments {

std::string ToString(Preset preset) {
  switch (preset) {
    case Preset::kCi:
      return "ci";
    case Preset::kDefault:
      return "default";
    case Preset::kPaper:
      return "paper";
  }
  return "unknown";
}

std::optional<Preset> ParsePreset(const std::string& name) {
  for (Preset p : {Preset::kCi, Preset::kDefault, Preset::kPaper}) {
    if (ToString(p) == name) return p;
  }
  return std::nullopt;
}

namespace {

// The data-parallel flags, each falling back on torchrun's environment variable.
absl::Status ParseRanks(const FigureFlags& f, Settings* s) {
  auto bad = [](const std::string& message) { return absl::InvalidArgumentError(message); };
  auto from_env = [](const char* name, int flag, int unset, int fallback, int* out) {
    *out = flag;
    if (flag != unset) return absl::OkStatus();
    *out = fallback;
    const char* v = std::getenv(name);
    if (v == nullptr) return absl::OkStatus();
    if (!absl::SimpleAtoi(v, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the environment variable ", name, "='", v, "' is not an integer"));
    }
    return absl::OkStatus();
  };
  absl::Status status = from_env("WORLD_SIZE", f.world_size, 0, 1, &s->world_size);
  if (status.ok()) status = from_env("RANK", f.rank, -1, -1, &s->rank);
  if (status.ok()) status = from_env("MASTER_PORT", f.master_port, 0, 29500, &s->master_port);
  if (!status.ok()) return status;
  const char* addr = std::getenv("MASTER_ADDR");
  s->master_addr = !f.master_addr.empty() ? f.master_addr : addr != nullptr ? addr : "127.0.0.1";
  s->distributed_timeout_seconds = f.distributed_timeout_seconds;
  if (s->world_size < 1) {
    return bad(absl::StrCat("--world_size (or WORLD_SIZE) must be >= 1, got ", s->world_size));
  }
  if (s->world_size == 1) {
    if (s->rank > 0) {
      return bad(absl::StrCat("--rank ", s->rank, " needs --world_size > ", s->rank));
    }
    s->rank = 0;
    return absl::OkStatus();
  }
  if (s->rank < -1 || s->rank >= s->world_size) {
    return bad(absl::StrCat("--rank (or RANK) must be in [0, ", s->world_size, "), got ", s->rank));
  }
  if (s->master_port < 1 || s->master_port > 65535) {
    return bad(
        absl::StrCat("--master_port (or MASTER_PORT) must be in [1, 65535], got ", s->master_port));
  }
  if (!(s->distributed_timeout_seconds > 0) || std::isinf(s->distributed_timeout_seconds)) {
    return bad("--distributed_timeout_seconds must be finite and > 0");
  }
  if (s->tune || s->check_tuning) {
    return bad("--tune and --check_tuning run in one process: leave out --world_size");
  }
  if (s->device.is_cuda() && s->rank >= 0) {
    // One GPU per local rank where the machine has enough, as torchrun's LOCAL_RANK suggests
    // (the local launcher sets it); ranks share GPUs round-robin where it has fewer. Gloo carries
    // the GPU tensors through host memory either way (solvers/distributed/communicator.h).
    int local_rank;
    status = from_env("LOCAL_RANK", /*flag=*/-1, /*unset=*/-1, /*fallback=*/s->rank, &local_rank);
    if (!status.ok()) return status;
    s->device = c10::Device(c10::kCUDA, RankDeviceIndex(local_rank, at::getNumGPUs()));
  }
  return absl::OkStatus();
}

}  // namespace

int RankDeviceIndex(int local_rank, int64_t device_count) {
  if (device_count < 1 || local_rank < 0) return 0;
  return static_cast<int>(local_rank % device_count);
}

absl::StatusOr<Settings> ParseSettings(const std::string& figure, const FigureFlags& f,
                                       const std::function<std::string()>& data_source) {
  auto bad = [](const std::string& message) { return absl::InvalidArgumentError(message); };
  Settings s;
  s.figure = figure;
  const std::optional<Preset> preset = ParsePreset(f.preset);
  if (!preset)
    return bad(absl::StrCat("--preset must be ci, default or paper, got '", f.preset, "'"));
  s.preset = *preset;
  if (f.device == "cuda") {
    if (!at::hasCUDA()) {
      return bad(
          "--device=cuda, but this LibTorch has no CUDA device available (build with "
          "--repo_env=LIBTORCH_HOME=<a CUDA LibTorch> on a GPU machine)");
    }
    s.device = c10::Device(c10::kCUDA);
  } else if (f.device != "cpu") {
    return bad(absl::StrCat("--device must be cpu or cuda, got '", f.device, "'"));
  }
  for (absl::string_view part : absl::StrSplit(f.seeds, ',', absl::SkipWhitespace())) {
    uint64_t seed;
    if (!absl::SimpleAtoi(part, &seed)) {
      return bad(absl::StrCat("--seeds must be comma-separated non-negative integers, got '",
                              f.seeds, "'"));
    }
    if (std::find(s.seeds.begin(), s.seeds.end(), seed) != s.seeds.end()) {
      // A seed twice would run twice and duplicate its rows in every table.
      return bad(absl::StrCat("--seeds lists seed ", seed, " more than once ('", f.seeds, "')"));
    }
    s.seeds.push_back(seed);
  }
  if (s.seeds.empty()) {
    s.seeds = s.preset == Preset::kCi        ? std::vector<uint64_t>{1}
              : s.preset == Preset::kDefault ? std::vector<uint64_t>{1, 2, 3}
                                             : std::vector<uint64_t>{1, 2, 3, 4, 5};
  }
  s.checkpoint_seconds = f.checkpoint_seconds;
  if (!(s.checkpoint_seconds >= 0) || std::isinf(s.checkpoint_seconds)) {
    return bad("--checkpoint_seconds must be finite and >= 0 (0 = off)");
  }
  if (f.threads < 1) return bad("--threads must be >= 1");
  s.threads = f.threads;
  // bazel run sets BUILD_WORKSPACE_DIRECTORY; elsewhere (build actions, tests) the current folder.
  const char* ws = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  const std::string workspace = ws != nullptr ? ws : ".";
  s.output_dir = f.output_dir;
  if (s.output_dir.empty()) {
    s.output_dir = absl::StrCat(workspace, "/experiments/output/", figure, "/", ToString(s.preset));
    const std::string source = data_source ? data_source() : "";
    if (!source.empty()) absl::StrAppend(&s.output_dir, "_", source);
  }
  s.tune = f.tune;
  s.check_tuning = f.check_tuning;
  if (s.tune && s.check_tuning) return bad("--tune and --check_tuning exclude each other");
  s.tuning_dir =
      f.tuning_dir.empty() ? absl::StrCat(workspace, "/experiments/tuning") : f.tuning_dir;
  s.data_dir = f.data_dir.empty() ? tasks::DefaultDataDir() : f.data_dir;
  absl::Status ranks = ParseRanks(f, &s);
  if (!ranks.ok()) return ranks;
  return s;
}

namespace {

// Mutes std::cerr while it lives, when `mute`; restores it however the scope ends (an exception
// must still be printed).
class MutedStderr {
 public:
  explicit MutedStderr(bool mute) : saved_(mute ? std::cerr.rdbuf(nullptr) : nullptr) {}
  ~MutedStderr() {
    if (saved_ == nullptr) return;
    std::cerr.rdbuf(saved_);
    std::cerr.clear();
  }
  MutedStderr(const MutedStderr&) = delete;
  MutedStderr& operator=(const MutedStderr&) = delete;

 private:
  std::streambuf* const saved_;
};

int UnguardedMain(const std::string& figure, int argc, char** argv,
                  const std::function<FigureFlags()>& read_flags,
                  const std::function<absl::Status(const Settings&)>& body,
                  const std::function<std::string()>& data_source) {
  absl::SetProgramUsageMessage(absl::StrCat("Runs the experiment behind ", figure,
                                            " of the paper and writes its CSV curves and "
                                            "manifest.\n  bazel run //experiments:",
                                            figure, " -- --preset=ci"));
  absl::ParseCommandLine(argc, argv);
  const absl::StatusOr<Settings> parsed = ParseSettings(figure, read_flags(), data_source);
  if (!parsed.ok()) {
    std::cerr << figure << ": " << parsed.status().message() << "\n";
    return 2;
  }
  Settings s = *parsed;
  if (s.world_size > 1 && s.rank < 0) {  // torchrun's local launch: this process starts the ranks
    const absl::StatusOr<int> code =
        LaunchLocalRanks(s, std::vector<std::string>(argv, argv + argc));
    if (!code.ok()) {
      std::cerr << figure << ": " << code.status().message() << "\n";
      return 1;
    }
    if (*code == 0) std::cerr << figure << ": wrote " << s.output_dir << "\n";
    return *code;
  }
  bilevel::ConfigureCpuRuntime(s.threads);
  const std::string who = s.world_size > 1
                              ? absl::StrCat(figure, " (rank ", s.rank, " of ", s.world_size, ")")
                              : figure;
  std::cerr << who << ": preset " << ToString(s.preset) << ", device " << s.device.str()
            << ", output " << s.output_dir << ", " << bilevel::DescribeCpuRuntime() << "\n";
  std::unique_ptr<bilevel::GradientReducer> ranks;
  if (s.world_size > 1) {
    absl::StatusOr<std::unique_ptr<bilevel::GradientReducer>> joined = ConnectRanks(s);
    if (!joined.ok()) {
      std::cerr << who << ": " << joined.status().message() << "\n";
      return 1;
    }
    ranks = *std::move(joined);
    s.data_parallel = ranks.get();
  }
  absl::Status status;
  {
    // Rank 0 speaks for all: the others' progress lines would repeat its own. Errors still print.
    const MutedStderr muted(s.rank > 0);
    status = body(s);
  }
  if (!status.ok()) {
    std::cerr << who << ": " << status.message() << "\n";
    return 1;
  }
  if (s.rank > 0) return 0;
  std::cerr << figure << ": wrote " << s.output_dir << "\n";
  return 0;
}

}  // namespace

int Main(const std::string& figure, int argc, char** argv,
         const std::function<FigureFlags()>& read_flags,
         const std::function<absl::Status(const Settings&)>& body,
         const std::function<std::string()>& data_source) {
  // A rank started by the launcher (or torchrun's variables) names itself in unexpected errors too.
  const char* rank = std::getenv("RANK");
  const std::string who = rank != nullptr ? absl::StrCat(figure, " (rank ", rank, ")") : figure;
  return bilevel::RunMain(
      who, [&] { return UnguardedMain(figure, argc, argv, read_flags, body, data_source); });
}

absl::Status AddDataChecksums(const std::string& data_dir, const std::string& folder,
                              Experiment* experiment) {
  const std::string path = absl::StrCat(data_dir, "/CHECKSUMS.md5");
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", path, "; run tools/setup.sh to fetch the data sets"));
  }
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    const size_t gap = line.find("  ");
    if (gap == std::string::npos) continue;
    const std::string file = line.substr(gap + 2), listed = line.substr(0, gap);
    if (!absl::StartsWith(file, folder + "/")) continue;
    const std::string file_path = absl::StrCat(data_dir, "/", file);
    // Missing, a dangling link, a directory or unreadable: the readers' own check says which.
    const absl::Status readable = tasks::CheckReadableFile(file_path);
    absl::StatusOr<std::string> measured =
        readable.ok() ? tasks::Md5HexOfFile(file_path) : absl::StatusOr<std::string>(readable);
    if (!measured.ok()) {
      return absl::NotFoundError(absl::StrCat(file_path, " is listed in ", path,
                                              " but cannot be read (", measured.status().message(),
                                              "); run tools/setup.sh to fetch it again"));
    }
    if (*measured != listed) {
      return absl::DataLossError(absl::StrCat(file_path, " has md5 ", *measured, " but ", path,
                                              " lists ", listed,
                                              ": damaged or replaced; run tools/setup.sh"));
    }
    lines.push_back(absl::StrCat(*measured, "  ", file));
  }
  if (lines.empty()) {
    return absl::NotFoundError(
        absl::StrCat(path, " lists no file under ", folder, "/; run tools/setup.sh to fetch it"));
  }
  experiment->data_checksums = std::move(lines);
  return absl::OkStatus();
}

Experiment NewExperiment(const Settings& s) {
  Experiment e;
  e.figure = s.figure;
  e.preset = ToString(s.preset);
  e.output_dir = s.output_dir;
  // The device's type: "cuda", not "cuda:1", so that ranks on different GPUs of one machine
  // describe (and fingerprint) their runs alike.
  e.device = c10::DeviceTypeName(s.device.type(), /*lower_case=*/true);
  e.seeds = s.seeds;
  e.checkpoint_every_seconds = s.checkpoint_seconds;
  e.data_parallel = s.data_parallel;
  return e;
}

namespace {

template <typename Options>
Method MakeMethod(std::string name, Options options, std::string settings,
                  int64_t total_iterations) {
  Method m;
  m.name = std::move(name);
  m.settings = std::move(settings);
  m.options = bilevel::Fingerprint(options);
  m.total_iterations = total_iterations;
  m.run = [options](tasks::Task* task, uint64_t seed, const bilevel::IterateCallback& observer,
                    const bilevel::CheckpointOptions& checkpoint,
                    bilevel::GradientReducer* data_parallel, bilevel::SolverSummary* summary) {
    Options o = options;
    o.seed = seed;
    o.iterate_callbacks.push_back(observer);
    o.checkpoint = checkpoint;
    o.data_parallel = data_parallel;
    if (absl::Status same = bilevel::CheckSameOnEveryRank(o); !same.ok()) return same;
    return bilevel::Solve(o, task, summary);
  };
  return m;
}

std::string Describe(const bilevel::OptimizerOptions& o) {
  return absl::StrFormat(
      "%s lr %g%s", bilevel::ToString(o.type), o.learning_rate,
      o.lambda_scaling == bilevel::LambdaScaling::kInverseLambda ? "/lambda" : "");
}

std::string Batches(const bilevel::SolverOptionsBase& o) {
  return absl::StrFormat("batches f %s, g %s",
                         o.outer_batch_size ? absl::StrCat(o.outer_batch_size) : "full",
                         o.inner_batch_size ? absl::StrCat(o.inner_batch_size) : "full");
}

int64_t Within(int64_t budget, int64_t cost) { return std::max<int64_t>(1, budget / cost); }

}  // namespace

void FitToBudget(int64_t budget, bilevel::MinimaxOptOptions* o) {
  const int64_t cost = o->update_order == bilevel::UpdateOrder::kAlternating ? 6 : 3;
  o->iterations_per_stage = Within(budget / o->num_stages, cost);
  o->max_gradient_call_equivalents = budget;
}

void FitToBudget(int64_t budget, bilevel::HypergradientOptions* o) {
  using bilevel::HypergradientMethod;
  const int64_t T = o->inner_steps, K = o->linear_solver_iterations;
  int64_t cost = 0;
  switch (o->method) {
    case HypergradientMethod::kReverse:  // T ∇g, one ∇f, K HVPs and K JVPs
      cost = T + 1 + 4 * (o->truncation == 0 ? T : o->truncation);
      break;
    case HypergradientMethod::kT1T2:  // T ∇g, ∇f, ∇g, one JVP
      cost = T + 2 + 2;
      break;
    case HypergradientMethod::kStocBiO:  // + one fresh ∇g per HVP
      cost = T + 2 + 3 * K + 2;
      break;
    default:  // fixed point, CG (at most K + 1 HVPs with a warm start), Neumann
      cost = T + 2 + 2 * K + 2;
  }
  o->max_iterations = Within(budget, cost);
  o->max_gradient_call_equivalents = budget;
}

void FitToBudget(int64_t budget, bilevel::F2saOptions* o) {
  o->max_iterations = Within(budget, 3 * o->inner_steps + 3);
  o->max_gradient_call_equivalents = budget;
}

void FitToBudget(int64_t budget, bilevel::PenaltyOptions* o) {
  // Each of the T + 1 evaluations: ∇f, ∇g and one HVP (the penalty's gradient).
  o->max_iterations = Within(budget, 4 * (o->inner_steps + 1));
  o->max_gradient_call_equivalents = budget;
}

std::string BudgetInWords(int64_t budget, const std::string& data) {
  return absl::StrCat(budget,
                      " gradient-call equivalents per method (a Hessian- or Jacobian-vector "
                      "product counts as 2), ",
                      data);
}

namespace {

std::string Budget(const bilevel::SolverOptionsBase& o) {
  return o.max_gradient_call_equivalents > 0
             ? absl::StrCat(", budget ", o.max_gradient_call_equivalents,
                            " gradient-call equivalents")
             : "";
}

}  // namespace

Method MinimaxMethod(std::string name, bilevel::MinimaxOptOptions o) {
  std::string settings = absl::StrFormat(
      "MinimaxOPT: %d stages x %d iterations, lambda0 %g, tau %g, x %s, y %s, z %s, schedule %s "
      "(floor %g), order %s, common random numbers %s, %s%s",
      o.num_stages, o.iterations_per_stage, o.initial_lambda, o.lambda_growth,
      Describe(o.x_optimizer), Describe(o.y_optimizer), Describe(o.z_optimizer),
      bilevel::ToString(o.schedule), o.schedule_min_factor, bilevel::ToString(o.update_order),
      o.common_random_numbers ? "on" : "off", Batches(o), Budget(o));
  const int64_t total = o.num_stages * o.iterations_per_stage;
  Method m = MakeMethod(std::move(name), std::move(o), std::move(settings), total);
  m.also_score_y = true;
  m.data_parallel = true;
  return m;
}

Method HypergradientMethod(std::string name, bilevel::HypergradientOptions o) {
  std::string settings = absl::StrFormat(
      "%s: %d outer x %d inner steps, truncation %d, %d solver iterations (beta %g, damping %g, "
      "tolerance %g), inner %s, outer %s, schedule %s (outer only), %s%s",
      bilevel::ToString(o.method), o.max_iterations, o.inner_steps, o.truncation,
      o.linear_solver_iterations, o.linear_solver_step, o.linear_solver_damping,
      o.linear_solver_tolerance, Describe(o.inner_optimizer), Describe(o.outer_optimizer),
      bilevel::ToString(o.schedule), Batches(o), Budget(o));
  const int64_t total = o.max_iterations;
  Method m = MakeMethod(std::move(name), std::move(o), std::move(settings), total);
  m.data_parallel = true;
  return m;
}

Method F2saMethod(std::string name, bilevel::F2saOptions o) {
  std::string settings = absl::StrFormat(
      "F2SA: %d outer x %d inner steps, lambda0 %g + %g per step (max %g), x %s, y %s, z %s, %s%s",
      o.max_iterations, o.inner_steps, o.initial_lambda, o.lambda_increment, o.max_lambda,
      Describe(o.x_optimizer), Describe(o.y_optimizer), Describe(o.z_optimizer), Batches(o),
      Budget(o));
  const int64_t total = o.max_iterations;
  Method m = MakeMethod(std::move(name), std::move(o), std::move(settings), total);
  m.data_parallel = true;
  return m;
}

Method PenaltyMethod(std::string name, bilevel::PenaltyOptions o) {
  std::string settings = absl::StrFormat(
      "Penalty: %d iterations x %d inner steps, rho0 %g x %g per stage, mu0 %g, "
      "eps0 %g, at most %d iterations per stage, lr decay %g, x %s, y %s, %s%s",
      o.max_iterations, o.inner_steps, o.initial_penalty, o.penalty_growth, o.initial_inner_weight,
      o.initial_tolerance, o.max_iterations_per_stage, o.learning_rate_decay,
      Describe(o.x_optimizer), Describe(o.y_optimizer), Batches(o), Budget(o));
  const int64_t total = o.max_iterations;
  Method m = MakeMethod(std::move(name), std::move(o), std::move(settings), total);
  m.data_parallel = true;
  return m;
}

std::vector<TunableMethod> PenaltyApplicationMethods(const PenaltyApplication& a) {
  auto hypergradient = [a](bilevel::HypergradientMethod method) {
    return [a, method](const std::vector<double>& r) {
      bilevel::HypergradientOptions o;
      o.method = method;
      o.inner_steps = 20;
      if (method == bilevel::HypergradientMethod::kReverse) o.truncation = 10;
      if (method == bilevel::HypergradientMethod::kConjugateGradient) {
        o.linear_solver_iterations = 10;
        o.linear_solver_damping = a.cg_damping;
      }
      o.outer_batch_size = o.inner_batch_size = a.batch;
      o.outer_optimizer.type = a.outer_type;
      o.outer_optimizer.learning_rate = r[0];
      o.inner_optimizer.learning_rate = r[1];
      FitToBudget(a.budget, &o);
      return HypergradientMethod("", o);
    };
  };
  return {
      Tunable("Penalty", a.penalty_rates,
              [a](const std::vector<double>& r) {
                bilevel::PenaltyOptions o = a.penalty;
                o.inner_steps = 20;
                o.outer_batch_size = o.inner_batch_size = a.batch;
                o.x_optimizer.learning_rate = r[0];
                o.y_optimizer.learning_rate = r[1];
                FitToBudget(a.budget, &o);
                return PenaltyMethod("", o);
              }),
      Tunable("CG", a.baseline_rates,
              hypergradient(bilevel::HypergradientMethod::kConjugateGradient)),
      Tunable("Reverse", a.baseline_rates, hypergradient(bilevel::HypergradientMethod::kReverse)),
      Tunable("MinimaxOPT", a.minimax_rates, [a](const std::vector<double>& r) {
        bilevel::MinimaxOptOptions o;
        o.initial_lambda = 1.0;
        o.lambda_growth = 2.0;
        o.num_stages = 5;
        o.outer_batch_size = o.inner_batch_size = a.batch;
        o.x_optimizer.type = a.outer_type;
        o.x_optimizer.learning_rate = r[0];
        o.y_optimizer.learning_rate = o.z_optimizer.learning_rate = r[1];
        FitToBudget(a.budget, &o);
        return MinimaxMethod("", o);
      })};
}

TunableMethod Tunable(std::string name, std::vector<std::pair<std::string, double>> rates,
                      std::function<Method(const std::vector<double>&)> make) {
  TunableMethod t;
  t.name = name;
  t.rates = GridAround(rates);
  for (const auto& [unused, v] : rates) t.defaults.push_back(v);
  t.make = [name, make](const std::vector<double>& r) {
    Method m = make(r);
    m.name = name;
    return m;
  };
  return t;
}

std::vector<TunableMethod> LogisticComparisonMethods(const LogisticComparison& c) {
  const double lr = c.learning_rate;
  auto hypergradient = [c](bilevel::HypergradientMethod method) {
    return [c, method](const std::vector<double>& r) {
      bilevel::HypergradientOptions o;
      o.method = method;
      o.inner_steps = c.inner_steps;
      o.outer_optimizer.learning_rate = r[0];
      o.inner_optimizer.learning_rate = r[1];
      o.linear_solver_iterations = 10;
      o.linear_solver_step = 1.0;
      if (method == bilevel::HypergradientMethod::kReverse) o.truncation = 10;
      FitToBudget(c.budget, &o);
      return HypergradientMethod("", o);
    };
  };
  const std::vector<std::pair<std::string, double>> outer_inner = {
      {"outer_optimizer.learning_rate", lr}, {"inner_optimizer.learning_rate", lr}};
  return {
      Tunable("MinimaxOPT", {{"x_optimizer.learning_rate", lr}, {"y,z learning_rate", lr}},
              [c](const std::vector<double>& r) {
                bilevel::MinimaxOptOptions o;
                o.initial_lambda = 1.0;
                o.lambda_growth = 2.0;
                o.num_stages = c.num_stages;
                o.x_optimizer.learning_rate = r[0];
                o.y_optimizer.learning_rate = o.z_optimizer.learning_rate = r[1];
                FitToBudget(c.budget, &o);
                return MinimaxMethod("", o);
              }),
      Tunable("Reverse", outer_inner, hypergradient(bilevel::HypergradientMethod::kReverse)),
      Tunable("FixedPoint", outer_inner, hypergradient(bilevel::HypergradientMethod::kFixedPoint)),
      Tunable("CG", outer_inner, hypergradient(bilevel::HypergradientMethod::kConjugateGradient)),
      // F2SA (Kwon et al. 2023): λ grows by 1 per outer step from 1.
      Tunable("F2SA", {{"x_optimizer.learning_rate", lr}, {"y,z learning_rate", lr}},
              [c](const std::vector<double>& r) {
                bilevel::F2saOptions o;
                o.inner_steps = 10;
                o.initial_lambda = 1.0;
                o.lambda_increment = 1.0;
                o.x_optimizer.learning_rate = r[0];
                o.y_optimizer.learning_rate = o.z_optimizer.learning_rate = r[1];
                FitToBudget(c.budget, &o);
                return F2saMethod("", o);
              }),
      // The penalty method with the authors' optimizer, Adam (hand-set rate 0.01).
      Tunable("Penalty", {{"x_optimizer.learning_rate", 0.01}, {"y_optimizer.learning_rate", 0.01}},
              [c](const std::vector<double>& r) {
                bilevel::PenaltyOptions o;
                o.inner_steps = 5;
                o.x_optimizer.learning_rate = r[0];
                o.y_optimizer.learning_rate = r[1];
                FitToBudget(c.budget, &o);
                return PenaltyMethod("", o);
              })};
}

absl::Status RunTuned(const Settings& s, Experiment e, const std::vector<TunableMethod>& methods,
                      const TaskFactory& make_task, const Experiment* tuned_on) {
  const std::string path = TuningPath(s.tuning_dir, e);
  if (s.tune) {
    if (tuned_on != nullptr && tuned_on->output_dir != e.output_dir) return absl::OkStatus();
    std::vector<std::string> reused;
    absl::StatusOr<std::string> file =
        Tune(e, methods, make_task, kTuningSeed,
             std::filesystem::exists(path) ? ReadFileToString(path) : std::string(), &reused);
    if (!file.ok()) return file.status();
    if (!reused.empty()) {
      std::cerr << s.figure << ": kept the entries of " << absl::StrJoin(reused, ", ") << " from "
                << path << " (their settings and grids are unchanged)\n";
    }
    std::error_code ec;
    std::filesystem::create_directories(s.tuning_dir, ec);
    absl::Status written = WriteFileAtomically(path, *file);
    if (written.ok()) std::cerr << s.figure << ": tuned, wrote " << path << "\n";
    return written;
  }
  absl::Status applied = ApplyTuning(path, methods, &e, tuned_on);
  if (!applied.ok() || s.check_tuning) {
    if (applied.ok()) std::cerr << s.figure << ": " << path << " matches the code\n";
    return applied;
  }
  return Run(e, make_task);
}

absl::Status RunLogisticFigure(
    const Settings& s, Experiment e, const LogisticComparison& c, const LogisticTaskSpec& spec,
    const std::function<absl::StatusOr<tasks::LogisticData>(uint64_t seed)>& make_data) {
  const c10::Device device = s.device;
  auto task_from = [spec, device](absl::StatusOr<tasks::LogisticData> data)
      -> absl::StatusOr<std::unique_ptr<tasks::Task>> {
    if (!data.ok()) return data.status();
    return std::unique_ptr<tasks::Task>(new tasks::WeightDecayLogisticTask(
        spec.name, std::move(*data), device, spec.initial_log_decay, spec.max_log_decay));
  };
  e.yardstick = Yardstick::kExactInner;
  // The tasks compute in float32: 1e-5 is about the smallest gradient norm L-BFGS reaches there.
  // Near-separable data with tiny decays makes y*(x) ill-conditioned in float32: a solve that
  // misses the tolerance within its iterations is counted (exact_inner_unconverged) and reported.
  e.exact_inner.gradient_tolerance = c.exact_tolerance;
  e.exact_inner.max_iterations = c.exact_max_iterations;
  e.budget = BudgetInWords(c.budget, "full-batch gradients");
  e.references = {
      {"no tuning", "the initial decays, the model trained on the training set",
       [make_data, task_from](uint64_t seed) { return task_from(make_data(seed)); }},
      {"train+validation", "the initial decays, the model trained on training and validation sets",
       [make_data, task_from](uint64_t seed) {
         absl::StatusOr<tasks::LogisticData> data = make_data(seed);
         if (data.ok()) *data = tasks::WithValidationInTraining(*data);
         return task_from(std::move(data));
       }}};
  return RunTuned(s, e, LogisticComparisonMethods(c),
                  [&](uint64_t seed) { return task_from(make_data(seed)); });
}

}  // namespace experiments
