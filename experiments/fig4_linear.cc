// Figure 4 with benchopt's linear model (multinomial logistic regression on MNIST, 20,000
// corrupted / 5,000 clean, benchopt's corruption, inner ridge 0.2), every method, so that our
// numbers can be held against that public benchmark's published curves: the paper's table of
// solver seconds to test error <= 15%, 14%, 13%, 12.5% and the best test error (see
// cleaning_figure.h).
//
//   bazel run //experiments:fig4_linear -- --preset=ci
#include "experiments/cleaning_figure.h"
#include "experiments/figure_flags.h"

EXPERIMENTS_FIGURE_FLAGS();

int main(int argc, char** argv) {
  return experiments::Main("fig4_linear", argc, argv, ReadFigureFlags,
                           [](const experiments::Settings& s) {
                             return experiments::RunCleaningFigure(s, /*linear=*/true);
                           });
}
