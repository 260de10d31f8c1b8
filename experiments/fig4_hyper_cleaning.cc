// Figure 4 and Tables 2, 4 and 5: data hyper-cleaning on MNIST at three noise ratios with the
// paper's MLP (see cleaning_figure.h).
//
//   bazel run //experiments:fig4_hyper_cleaning -- --preset=ci
#include "experiments/cleaning_figure.h"
#include "experiments/figure_flags.h"

EXPERIMENTS_FIGURE_FLAGS();

int main(int argc, char** argv) {
  return experiments::Main("fig4_hyper_cleaning", argc, argv, ReadFigureFlags,
                           [](const experiments::Settings& s) {
                             return experiments::RunCleaningFigure(s, /*linear=*/false);
                           });
}
