// Every option of a solve that can change its numbers, in words: the manifest's record of a run,
// the fingerprint a checkpoint and a finished run are checked against, and the test of whether two
// runs can be compared.
//
//   bilevel::MinimaxOptOptions o;
//   o.num_stages = 5;
//   std::cout << bilevel::Fingerprint(o);
//   // "MinimaxOPT: max_gradient_calls=0, ..., num_stages=5, ..., x_optimizer.type=sgd, ..."
//
// The text is "<solver>: name=value, name=value, ..." with every field of the options struct in
// declaration order (SolverOptionsBase's first, nested optimizers as `x_optimizer.momentum=0.9`),
// doubles with the fewest digits that read back to the same value. Left out, and only these: the
// seed (a caller names its runs by seed) and what observes a solve without changing it (callbacks,
// iterate callbacks, checkpoint settings). `options_fingerprint_test` fails when a field is added
// to one of these structs and not to its fingerprint.
#ifndef SOLVERS_OPTIONS_FINGERPRINT_H_
#define SOLVERS_OPTIONS_FINGERPRINT_H_

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "solvers/bome.h"
#include "solvers/core/gradient_reducer.h"
#include "solvers/core/optimizer.h"
#include "solvers/core/solver_types.h"
#include "solvers/f2sa.h"
#include "solvers/hypergradient.h"
#include "solvers/minimax_opt.h"
#include "solvers/penalty_method.h"

namespace bilevel {

// The optimizer's fields, each name prefixed by `prefix` (e.g. "x_optimizer.").
std::string Fingerprint(const OptimizerOptions& options, const std::string& prefix = "");
// SolverOptionsBase's fields (the budgets, record spacing and batch sizes).
std::string Fingerprint(const SolverOptionsBase& options);

std::string Fingerprint(const MinimaxOptOptions& options);
std::string Fingerprint(const HypergradientOptions& options);  // "<method>: ...", e.g. "cg: ..."
std::string Fingerprint(const F2saOptions& options);
std::string Fingerprint(const PenaltyOptions& options);
std::string Fingerprint(const BomeOptions& options);

// Data-parallel solves (SolverOptionsBase::data_parallel): OK on every rank when every rank
// holds the same options and seed; otherwise the same error on every rank, naming the first
// "name=value" that differs from rank 0's. Call it before Solve: ranks that solve with different
// options would exchange gradients of different problems without noticing. OK at once in one
// process.
template <typename Options>
absl::Status CheckSameOnEveryRank(const Options& options) {
  if (WorldSize(options) <= 1) return absl::OkStatus();
  return options.data_parallel->CheckSame(
      "the solver's options", absl::StrCat(Fingerprint(options), ", seed=", options.seed));
}

}  // namespace bilevel

#endif  // SOLVERS_OPTIONS_FINGERPRINT_H_
