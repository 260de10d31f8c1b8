#include "solvers/options_fingerprint.h"

#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace bilevel {
namespace {

// "name=value" pairs in order.
class Fields {
 public:
  explicit Fields(std::string prefix = "") : prefix_(std::move(prefix)) {}

  Fields& Add(const std::string& name, double value) {
    // The fewest digits that read back exactly: 0.1 is "0.1", not "0.10000000000000001".
    std::string text;
    for (int digits = 6; digits <= 17; ++digits) {
      text = absl::StrFormat("%.*g", digits, value);
      if (std::strtod(text.c_str(), nullptr) == value) break;
    }
    return AddText(name, text);
  }
  Fields& Add(const std::string& name, int64_t value) { return AddText(name, absl::StrCat(value)); }
  Fields& Add(const std::string& name, int value) { return AddText(name, absl::StrCat(value)); }
  Fields& Add(const std::string& name, bool value) {
    return AddText(name, value ? "true" : "false");
  }
  Fields& AddText(const std::string& name, const std::string& value) {
    fields_.push_back(absl::StrCat(prefix_, name, "=", value));
    return *this;
  }
  // Fields already joined (a nested struct's).
  Fields& AddJoined(const std::string& joined) {
    fields_.push_back(joined);
    return *this;
  }
  std::string Join() const { return absl::StrJoin(fields_, ", "); }

 private:
  std::string prefix_;
  std::vector<std::string> fields_;
};

}  // namespace

std::string Fingerprint(const OptimizerOptions& o, const std::string& prefix) {
  return Fields(prefix)
      .AddText("type", ToString(o.type))
      .Add("learning_rate", o.learning_rate)
      .Add("momentum", o.momentum)
      .Add("nesterov", o.nesterov)
      .Add("beta1", o.beta1)
      .Add("beta2", o.beta2)
      .Add("epsilon", o.epsilon)
      .AddText("lambda_scaling", ToString(o.lambda_scaling))
      .Join();
}

std::string Fingerprint(const SolverOptionsBase& o) {
  Fields fields;
  fields.Add("max_gradient_calls", o.max_gradient_calls)
      .Add("max_gradient_call_equivalents", o.max_gradient_call_equivalents)
      .Add("max_wall_time_seconds", o.max_wall_time_seconds)
      .Add("record_every", o.record_every)
      .Add("outer_batch_size", o.outer_batch_size)
      .Add("inner_batch_size", o.inner_batch_size);
  // The world size changes the reduction order, hence the last digits; one process (the text of
  // every run before data parallelism) names none.
  if (WorldSize(o) > 1) fields.Add("world_size", WorldSize(o));
  return fields.Join();
}

std::string Fingerprint(const MinimaxOptOptions& o) {
  return absl::StrCat("MinimaxOPT: ",
                      Fields()
                          .AddJoined(Fingerprint(static_cast<const SolverOptionsBase&>(o)))
                          .Add("initial_lambda", o.initial_lambda)
                          .Add("lambda_growth", o.lambda_growth)
                          .Add("num_stages", o.num_stages)
                          .Add("iterations_per_stage", o.iterations_per_stage)
                          .Add("stationarity_tolerance", o.stationarity_tolerance)
                          .AddJoined(Fingerprint(o.x_optimizer, "x_optimizer."))
                          .AddJoined(Fingerprint(o.y_optimizer, "y_optimizer."))
                          .AddJoined(Fingerprint(o.z_optimizer, "z_optimizer."))
                          .AddText("schedule", ToString(o.schedule))
                          .Add("schedule_min_factor", o.schedule_min_factor)
                          .AddText("update_order", ToString(o.update_order))
                          .Add("z_starts_at_y", o.z_starts_at_y)
                          .Add("common_random_numbers", o.common_random_numbers)
                          .Join());
}

std::string Fingerprint(const HypergradientOptions& o) {
  return absl::StrCat(ToString(o.method), ": ",
                      Fields()
                          .AddJoined(Fingerprint(static_cast<const SolverOptionsBase&>(o)))
                          .Add("max_iterations", o.max_iterations)
                          .Add("inner_steps", o.inner_steps)
                          .Add("truncation", o.truncation)
                          .Add("linear_solver_iterations", o.linear_solver_iterations)
                          .Add("linear_solver_step", o.linear_solver_step)
                          .Add("linear_solver_damping", o.linear_solver_damping)
                          .Add("linear_solver_tolerance", o.linear_solver_tolerance)
                          .Add("warm_start_linear_solver", o.warm_start_linear_solver)
                          .Add("warm_start_inner", o.warm_start_inner)
                          .AddJoined(Fingerprint(o.inner_optimizer, "inner_optimizer."))
                          .AddJoined(Fingerprint(o.outer_optimizer, "outer_optimizer."))
                          .AddText("schedule", ToString(o.schedule))
                          .Add("schedule_min_factor", o.schedule_min_factor)
                          .Join());
}

std::string Fingerprint(const F2saOptions& o) {
  return absl::StrCat("F2SA: ",
                      Fields()
                          .AddJoined(Fingerprint(static_cast<const SolverOptionsBase&>(o)))
                          .Add("max_iterations", o.max_iterations)
                          .Add("inner_steps", o.inner_steps)
                          .Add("initial_lambda", o.initial_lambda)
                          .Add("lambda_increment", o.lambda_increment)
                          .Add("max_lambda", o.max_lambda)
                          .AddJoined(Fingerprint(o.x_optimizer, "x_optimizer."))
                          .AddJoined(Fingerprint(o.y_optimizer, "y_optimizer."))
                          .AddJoined(Fingerprint(o.z_optimizer, "z_optimizer."))
                          .Join());
}

std::string Fingerprint(const BomeOptions& o) {
  return absl::StrCat("BOME: ",
                      Fields()
                          .AddJoined(Fingerprint(static_cast<const SolverOptionsBase&>(o)))
                          .Add("max_iterations", o.max_iterations)
                          .Add("inner_steps", o.inner_steps)
                          .Add("inner_learning_rate", o.inner_learning_rate)
                          .Add("eta", o.eta)
                          .AddJoined(Fingerprint(o.x_optimizer, "x_optimizer."))
                          .AddJoined(Fingerprint(o.y_optimizer, "y_optimizer."))
                          .Join());
}

std::string Fingerprint(const PenaltyOptions& o) {
  return absl::StrCat("Penalty: ",
                      Fields()
                          .AddJoined(Fingerprint(static_cast<const SolverOptionsBase&>(o)))
                          .Add("max_iterations", o.max_iterations)
                          .Add("inner_steps", o.inner_steps)
                          .Add("initial_penalty", o.initial_penalty)
                          .Add("penalty_growth", o.penalty_growth)
                          .Add("initial_inner_weight", o.initial_inner_weight)
                          .Add("inner_weight_decay", o.inner_weight_decay)
                          .Add("initial_tolerance", o.initial_tolerance)
                          .Add("tolerance_decay", o.tolerance_decay)
                          .Add("learning_rate_decay", o.learning_rate_decay)
                          .Add("update_multiplier", o.update_multiplier)
                          .Add("max_iterations_per_stage", o.max_iterations_per_stage)
                          .Add("min_tolerance", o.min_tolerance)
                          .AddJoined(Fingerprint(o.x_optimizer, "x_optimizer."))
                          .AddJoined(Fingerprint(o.y_optimizer, "y_optimizer."))
                          .Join());
}

}  // namespace bilevel
