// The flags every figure binary takes. Flags belong to the file that holds main(): a figure's
// main file expands EXPERIMENTS_FIGURE_FLAGS() once at namespace scope and hands ReadFigureFlags
// to experiments::Main. No library defines a flag, so tests and other binaries that link the
// experiments' libraries get none.
//
//   EXPERIMENTS_FIGURE_FLAGS();
//   int main(int argc, char** argv) {
//     return experiments::Main("fig1_logreg_synthetic", argc, argv, ReadFigureFlags, Fig1);
//   }
#ifndef EXPERIMENTS_FIGURE_FLAGS_H_
#define EXPERIMENTS_FIGURE_FLAGS_H_

#include <string>

#include "absl/flags/flag.h"
#include "experiments/common.h"

#define EXPERIMENTS_FIGURE_FLAGS()                                                               \
  ABSL_FLAG(std::string, preset, "default",                                                      \
            "ci (each binary under a minute on 2 cores), default (faithful in kind, minutes on " \
            "a 2-core CPU) or paper (the paper's scale, for a GPU)");                            \
  ABSL_FLAG(std::string, output_dir, "",                                                         \
            "where the CSV curves and manifest go (default: "                                    \
            "experiments/output/<figure>/<preset> in the workspace; figure 3 with "              \
            "--cifar10_dir: .../<preset>_cifar10)");                                             \
  ABSL_FLAG(std::string, device, "cpu", "cpu or cuda");                                          \
  ABSL_FLAG(std::string, seeds, "", "comma-separated seeds (default: the preset's)");            \
  ABSL_FLAG(std::string, data_dir, "",                                                           \
            "the data cache tools/setup.sh fills (default: $BILEVEL_DATA_DIR or "                \
            "~/.cache/hessian-free-bilevel)");                                                   \
  ABSL_FLAG(int, threads, 1, "LibTorch intra-op threads (BLAS keeps its own pool)");             \
  ABSL_FLAG(bool, tune, false,                                                                   \
            "tune the methods' step sizes instead of running the figure: every grid point on "   \
            "the tuning seed, the result written to <tuning_dir>/<figure>_<preset>.json "        \
            "(commit it)");                                                                      \
  ABSL_FLAG(bool, check_tuning, false,                                                           \
            "only check that the figure's tuning files match its code (no runs)");               \
  ABSL_FLAG(std::string, tuning_dir, "",                                                         \
            "where the tuning files are (default: experiments/tuning in the workspace)");        \
  ABSL_FLAG(double, checkpoint_seconds, 60,                                                      \
            "checkpoint each run after this much solver time, so that an interrupted "           \
            "experiment continues where it stopped when rerun with the same flags (0: off)");    \
  ABSL_FLAG(int, world_size, 0,                                                                  \
            "data parallel: ranks to split each minibatch over (every method but Reverse, "      \
            "which runs whole on every rank); with no --rank (nor RANK), starts that "           \
            "many local ranks (default: $WORLD_SIZE or 1)");                                     \
  ABSL_FLAG(int, rank, -1, "this process's rank across machines (default: $RANK)");              \
  ABSL_FLAG(std::string, master_addr, "",                                                        \
            "where rank 0 hosts the rendezvous (default: $MASTER_ADDR or 127.0.0.1)");           \
  ABSL_FLAG(int, master_port, 0, "the rendezvous port (default: $MASTER_PORT or 29500)");        \
  ABSL_FLAG(double, distributed_timeout_seconds, 300,                                            \
            "data parallel: a rank that waits this long for the others (rendezvous, an "         \
            "all-reduce) stops with an error");                                                  \
  static experiments::FigureFlags ReadFigureFlags() {                                            \
    experiments::FigureFlags f;                                                                  \
    f.preset = absl::GetFlag(FLAGS_preset);                                                      \
    f.output_dir = absl::GetFlag(FLAGS_output_dir);                                              \
    f.device = absl::GetFlag(FLAGS_device);                                                      \
    f.seeds = absl::GetFlag(FLAGS_seeds);                                                        \
    f.data_dir = absl::GetFlag(FLAGS_data_dir);                                                  \
    f.threads = absl::GetFlag(FLAGS_threads);                                                    \
    f.tune = absl::GetFlag(FLAGS_tune);                                                          \
    f.check_tuning = absl::GetFlag(FLAGS_check_tuning);                                          \
    f.tuning_dir = absl::GetFlag(FLAGS_tuning_dir);                                              \
    f.checkpoint_seconds = absl::GetFlag(FLAGS_checkpoint_seconds);                              \
    f.world_size = absl::GetFlag(FLAGS_world_size);                                              \
    f.rank = absl::GetFlag(FLAGS_rank);                                                          \
    f.master_addr = absl::GetFlag(FLAGS_master_addr);                                            \
    f.master_port = absl::GetFlag(FLAGS_master_port);                                            \
    f.distributed_timeout_seconds = absl::GetFlag(FLAGS_distributed_timeout_seconds);            \
    return f;                                                                                    \
  }                                                                                              \
  static_assert(true, "EXPERIMENTS_FIGURE_FLAGS() takes a semicolon")

#endif  // EXPERIMENTS_FIGURE_FLAGS_H_
