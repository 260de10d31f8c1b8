#include "solvers/testing/quadratic_settings.h"

namespace bilevel::testing {

MinimaxOptOptions MinimaxQuadraticOptions(double L_g) {
  MinimaxOptOptions options;
  options.initial_lambda = 1.0;
  options.lambda_growth = 2.0;
  options.num_stages = 14;
  options.iterations_per_stage = 400;
  options.x_optimizer.learning_rate = 0.1;
  options.y_optimizer.learning_rate = 1.0 / L_g;
  options.z_optimizer.learning_rate = 1.0 / L_g;
  return options;
}

PenaltyOptions PenaltyQuadraticOptions(double L_g) {
  PenaltyOptions options;
  options.max_iterations = 3000;
  options.inner_steps = 5;
  options.initial_penalty = 1.0;
  options.initial_tolerance = 1.0;
  options.x_optimizer.type = OptimizerType::kSgd;
  options.x_optimizer.learning_rate = 0.1;
  options.y_optimizer.type = OptimizerType::kSgd;
  options.y_optimizer.learning_rate = 0.5 / (L_g * L_g);  // ρ A² dominates the y-Hessian
  return options;
}

F2saOptions F2saQuadraticOptions(double L_g) {
  F2saOptions options;
  options.max_iterations = 500;
  options.inner_steps = 10;
  options.initial_lambda = 1.0;
  options.lambda_increment = 20.0;
  options.x_optimizer.learning_rate = 0.05;
  options.y_optimizer.learning_rate = 1.0 / L_g;
  options.z_optimizer.learning_rate = 1.0 / L_g;
  return options;
}

HypergradientOptions BaselineQuadraticOptions(HypergradientMethod method, double L_g) {
  HypergradientOptions options;
  options.method = method;
  options.max_iterations = 300;
  options.inner_steps = method == HypergradientMethod::kReverse ? 100 : 10;
  options.inner_optimizer.learning_rate = 1.0 / L_g;
  options.outer_optimizer.learning_rate = 0.05;
  options.linear_solver_step = 1.0 / L_g;
  options.linear_solver_iterations = (method == HypergradientMethod::kConjugateGradient ||
                                      method == HypergradientMethod::kFixedPoint)
                                         ? 20
                                         : 100;
  return options;
}

}  // namespace bilevel::testing
