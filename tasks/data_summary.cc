// Loads every data set from tools/setup.sh's cache, builds each task on it, and prints what it
// found: a check that the real-data path works on this machine.
//
//   bazel run //tasks:data_summary
//   bazel run //tasks:data_summary -- --data_dir=/data/bilevel
#include <chrono>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "solvers/core/minibatch_sampler.h"
#include "solvers/core/tensor_list.h"
#include "tasks/data/data_files.h"
#include "tasks/data/image_datasets.h"
#include "tasks/data/text_data.h"
#include "tasks/hyper_cleaning.h"
#include "tasks/resnet_weight_decay.h"
#include "tasks/weight_decay_logistic.h"
#include "solvers/core/runtime.h"

ABSL_FLAG(std::string, data_dir, "", "the data cache (default: $BILEVEL_DATA_DIR or ~/.cache/...)");

// The program; main() turns an exception escaping it into a message (bilevel::RunMain).
static int UnguardedMain(int argc, char** argv) {
  absl::ParseCommandLine(argc, argv);
  std::string dir = absl::GetFlag(FLAGS_data_dir);
  if (dir.empty()) dir = tasks::DefaultDataDir();
  std::cout << "data cache: " << dir << "\n";
  int failures = 0;
  for (tasks::ImageSource source :
       {tasks::ImageSource::kMnist, tasks::ImageSource::kFashionMnist}) {
    absl::StatusOr<tasks::ImageDataset> images = tasks::LoadMnistLike(source, dir);
    if (!images.ok()) {
      std::cerr << images.status().message() << "\n";
      ++failures;
      continue;
    }
    std::cout << tasks::ToString(source) << ": train " << images->train_images.sizes() << ", test "
              << images->test_images.sizes() << "\n";
    if (source == tasks::ImageSource::kFashionMnist) {
      tasks::ResnetSpec spec;
      spec.max_train = 5000;
      spec.max_test = 1000;
      auto task = tasks::ResnetWeightDecayTask::Create(*images, spec, c10::Device(c10::kCPU));
      if (!task.ok()) {
        std::cerr << task.status().message() << "\n";
        ++failures;
        continue;
      }
      bilevel::MinibatchSampler sampler((*task)->NumInnerExamples(), 256, 0,
                                        c10::Device(c10::kCPU));
      const auto start = std::chrono::steady_clock::now();
      bilevel::TensorList ys = bilevel::GradLeaves((*task)->InitialInner());
      bilevel::Gradients((*task)->InnerObjective((*task)->InitialOuter(), ys, sampler.Next()), ys);
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::cout << "  " << (*task)->Name() << ": " << (*task)->DataDescription()
                << "; one gradient of g on a batch of 256: " << seconds << " s\n";
    }
    if (source == tasks::ImageSource::kMnist) {
      tasks::HyperCleaningSpec spec;
      absl::StatusOr<tasks::CleaningData> data = tasks::MakeCleaningData(*images, spec);
      if (!data.ok()) {
        std::cerr << data.status().message() << "\n";
        ++failures;
        continue;
      }
      tasks::HyperCleaningTask task(*data, spec, c10::Device(c10::kCPU));
      const tasks::TaskMetrics m = task.Evaluate(task.InitialOuter(), task.InitialInner());
      std::cout << "  " << task.Name() << ": " << task.DataDescription()
                << "; at initialisation validation loss " << m.validation_loss << ", test accuracy "
                << m.test_accuracy << "\n";
    }
  }
  absl::StatusOr<tasks::TextCorpus> corpus = tasks::LoadFortunes(dir);
  if (!corpus.ok()) {
    std::cerr << corpus.status().message() << "\n";
    ++failures;
  } else {
    absl::StatusOr<tasks::LogisticData> data =
        tasks::MakeTextLogisticData(*corpus, tasks::TfidfOptions{}, 0.2, 1,
                                    "Debian fortunes corpus standing in for 20newsgroups");
    if (!data.ok()) {
      std::cerr << data.status().message() << "\n";
      ++failures;
    } else {
      std::cout << "text: " << data->description << "\n";
    }
  }
  return failures == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
  return bilevel::RunMain("data_summary", [&] { return UnguardedMain(argc, argv); });
}
