#include "solvers/distributed/launch.h"

#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "solvers/distributed/communicator.h"

namespace bilevel {

namespace {

int ExitCode(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

}  // namespace

absl::StatusOr<int> LaunchLocalRanks(
    int world_size, const std::vector<std::string>& args,
    const std::vector<std::pair<std::string, std::string>>& extra_env, double grace_seconds) {
  if (world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size must be at least 1, got ", world_size));
  }
  if (args.empty()) return absl::InvalidArgumentError("no program to launch");
  const absl::StatusOr<int> port = FreeLocalPort();
  if (!port.ok()) return port.status();
  std::cerr << "launch: " << world_size << " local ranks of " << args[0]
            << ", rendezvous at 127.0.0.1:" << *port << "\n";
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<pid_t> children;
  for (int r = 0; r < world_size; ++r) {
    // The child's environment is built here: between fork and exec a multi-threaded parent's
    // child may only make async-signal-safe calls (no allocation).
    std::vector<std::pair<std::string, std::string>> set = {
        {"RANK", std::to_string(r)},
        {"LOCAL_RANK", std::to_string(r)},
        {"WORLD_SIZE", std::to_string(world_size)},
        {"MASTER_ADDR", "127.0.0.1"},
        {"MASTER_PORT", std::to_string(*port)}};
    set.insert(set.end(), extra_env.begin(), extra_env.end());
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      bool replaced = false;
      for (const auto& [name, value] : set) replaced |= entry.rfind(name + "=", 0) == 0;
      if (!replaced) env.push_back(entry);
    }
    for (const auto& [name, value] : set) env.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& e : env) envp.push_back(e.data());
    envp.push_back(nullptr);
    const std::string exec_failed = "launch: cannot run " + args[0] + "\n";
    const pid_t pid = fork();
    if (pid < 0) {
      for (pid_t c : children) kill(c, SIGKILL);
      for (pid_t c : children) waitpid(c, nullptr, 0);
      return absl::UnavailableError(
          absl::StrCat("cannot start rank ", r, ": fork failed (", std::strerror(errno), ")"));
    }
    if (pid == 0) {
      execve(argv[0], argv.data(), envp.data());
      [[maybe_unused]] const ssize_t n = write(2, exec_failed.data(), exec_failed.size());
      _exit(127);
    }
    children.push_back(pid);
  }
  // Wait for every child; after the first failure, the others have grace_seconds to end.
  int first_failure = 0;
  std::vector<bool> done(children.size(), false);
  size_t remaining = children.size();
  std::chrono::steady_clock::time_point deadline;
  while (remaining > 0) {
    for (size_t i = 0; i < children.size(); ++i) {
      if (done[i]) continue;
      int status = 0;
      const pid_t got = waitpid(children[i], &status, WNOHANG);
      if (got != children[i]) continue;
      done[i] = true;
      --remaining;
      const int code = ExitCode(status);
      if (code != 0 && first_failure == 0) {
        first_failure = code;
        deadline = std::chrono::steady_clock::now() +
                   std::chrono::milliseconds(static_cast<int64_t>(grace_seconds * 1000));
        std::cerr << "launch: rank " << i << " failed (exit code " << code << "); the other "
                  << "ranks get " << grace_seconds << " s to stop\n";
      }
    }
    if (remaining > 0 && first_failure != 0 && std::chrono::steady_clock::now() > deadline) {
      for (size_t i = 0; i < children.size(); ++i) {
        if (!done[i]) {
          std::cerr << "launch: killing rank " << i << ", still running after the grace period\n";
          kill(children[i], SIGKILL);
        }
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return first_failure;
}

}  // namespace bilevel
