#include "solvers/distributed/communicator.h"

#include <ATen/ATen.h>
#include <arpa/inet.h>
#include <c10/core/GradMode.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <map>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace bilevel {

namespace {

// The first line of an exception's text: c10's messages carry a C++ backtrace after it.
std::string FirstLine(const std::exception& e) {
  const std::string what = e.what();
  return what.substr(0, what.find('\n'));
}

// "rank r of N", the start of every error message, so that the ranks' logs can be told apart.
std::string Who(const DistributedOptions& options) {
  return absl::StrCat("rank ", options.rank, " of ", options.world_size);
}

std::chrono::milliseconds Timeout(const DistributedOptions& options) {
  return std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000));
}

bool IsLoopback(const std::string& addr) {
  return addr == "localhost" || absl::StartsWith(addr, "127.");
}

// FNV-1a, 63 bits: equal on every machine for equal text (std::hash need not be).
int64_t Hash63(const std::string& text) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : text) h = (h ^ c) * 1099511628211ULL;
  return static_cast<int64_t>(h >> 1);
}

// The first "name=value" item where `a` and `b` differ, for a mismatch message.
std::string FirstDifference(const std::string& a, const std::string& b) {
  const std::vector<std::string> x = absl::StrSplit(a, ", "), y = absl::StrSplit(b, ", ");
  for (size_t i = 0; i < std::max(x.size(), y.size()); ++i) {
    const std::string u = i < x.size() ? x[i] : "(nothing)", v = i < y.size() ? y[i] : "(nothing)";
    if (u != v) return absl::StrCat("\"", u, "\" against \"", v, "\"");
  }
  return "the same text";  // unreachable for different strings
}

}  // namespace

struct Communicator::Group {
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
};

absl::Status Validate(const DistributedOptions& options) {
  if (options.world_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("world_size must be at least 1, got ", options.world_size));
  }
  if (options.rank < 0 || options.rank >= options.world_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank must be in [0, world_size = ", options.world_size, "), got ", options.rank));
  }
  if (options.master_port < 1 || options.master_port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("master_port must be in [1, 65535], got ", options.master_port));
  }
  if (options.master_addr.empty()) {
    return absl::InvalidArgumentError("master_addr is empty: give rank 0's host name or address");
  }
  if (!(options.timeout_seconds > 0) || !std::isfinite(options.timeout_seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timeout_seconds must be finite and positive, got ", options.timeout_seconds));
  }
  if (options.bucket_bytes < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bucket_bytes must be positive, got ", options.bucket_bytes));
  }
  return absl::OkStatus();
}

absl::StatusOr<DistributedOptions> DistributedOptionsFromEnvironment(DistributedOptions defaults) {
  auto integer = [](const char* name, int* out) -> absl::Status {
    const char* v = std::getenv(name);
    if (v == nullptr) return absl::OkStatus();
    if (!absl::SimpleAtoi(v, out)) {
      return absl::InvalidArgumentError(
          absl::StrCat("environment variable ", name, "=\"", v, "\" is not an integer"));
    }
    return absl::OkStatus();
  };
  for (auto [name, field] : {std::pair<const char*, int*>{"RANK", &defaults.rank},
                             {"WORLD_SIZE", &defaults.world_size},
                             {"MASTER_PORT", &defaults.master_port}}) {
    if (absl::Status s = integer(name, field); !s.ok()) return s;
  }
  if (const char* addr = std::getenv("MASTER_ADDR"); addr != nullptr) defaults.master_addr = addr;
  return defaults;
}

absl::StatusOr<int> FreeLocalPort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return absl::UnavailableError("cannot open a socket to find a free port");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
                  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  close(fd);
  if (!ok) return absl::UnavailableError("cannot bind a socket on 127.0.0.1 to find a free port");
  return static_cast<int>(ntohs(addr.sin_port));
}

std::vector<std::vector<size_t>> PlanBuckets(const std::vector<int64_t>& bytes,
                                             const std::vector<int>& dtype_ids,
                                             int64_t bucket_bytes) {
  std::vector<std::vector<size_t>> buckets;
  std::map<int, size_t> open;  // dtype -> the bucket still taking tensors of it
  std::vector<int64_t> filled;
  for (size_t i = 0; i < bytes.size(); ++i) {
    auto it = open.find(dtype_ids[i]);
    if (it == open.end() || filled[it->second] + bytes[i] > bucket_bytes) {
      buckets.emplace_back();
      filled.push_back(0);
      it = open.insert_or_assign(dtype_ids[i], buckets.size() - 1).first;
    }
    buckets[it->second].push_back(i);
    filled[it->second] += bytes[i];
  }
  return buckets;
}

absl::StatusOr<std::unique_ptr<Communicator>> Communicator::Connect(
    const DistributedOptions& options) {
  if (absl::Status s = Validate(options); !s.ok()) return s;
  if (options.world_size == 1) {
    return std::unique_ptr<Communicator>(new Communicator(options, nullptr));
  }
  const std::string where = absl::StrCat(options.master_addr, ":", options.master_port);
  auto group = std::make_unique<Group>();
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = options.world_size;
    store_options.waitWorkers = true;
    store_options.timeout = Timeout(options);
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    group->store = c10::make_intrusive<c10d::PrefixStore>("hessian_free_bilevel", tcp);
  } catch (const std::exception& e) {
    return absl::DeadlineExceededError(absl::StrCat(
        Who(options), ": the rendezvous at ", where, (options.rank == 0 ? " (hosted here)" : ""),
        " did not complete within ", options.timeout_seconds, " s (", FirstLine(e),
        "). Start every rank with the same master address, port and world size; rank 0 hosts "
        "the rendezvous and must be able to listen on that port"));
  }
  try {
    auto gloo_options = c10d::ProcessGroupGloo::Options::create(Timeout(options));
    gloo_options->devices.push_back(
        IsLoopback(options.master_addr)
            ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
            : c10d::ProcessGroupGloo::createDefaultDevice());
    group->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(group->store, options.rank,
                                                              options.world_size, gloo_options);
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(
        Who(options), ": Gloo could not connect the ranks after the rendezvous at ", where, " (",
        FirstLine(e), "). Every rank must reach every other on the network Gloo chose"));
  }
  return std::unique_ptr<Communicator>(new Communicator(options, std::move(group)));
}

Communicator::Communicator(const DistributedOptions& options, std::unique_ptr<Group> group)
    : options_(options), group_(std::move(group)) {}

Communicator::~Communicator() = default;

absl::Status Communicator::AllReduce(at::Tensor* tensor, bool max, const std::string& what) {
  c10d::AllreduceOptions op;
  op.reduceOp = max ? c10d::ReduceOp(c10d::ReduceOp::MAX) : c10d::ReduceOp(c10d::ReduceOp::SUM);
  std::vector<at::Tensor> tensors{*tensor};
  try {
    group_->gloo->allreduce(tensors, op)->wait();
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat(Who(options_), ": the all-reduce of ", what, " failed (", FirstLine(e),
                     "). A rank died, stalled beyond the ", options_.timeout_seconds,
                     " s timeout, or called different collectives; the other ranks stop too"));
  }
  *tensor = tensors[0];
  return absl::OkStatus();
}

absl::Status Communicator::AllReduceMean(const std::vector<TensorList*>& groups) {
  if (world_size() == 1) return absl::OkStatus();
  const absl::Time start = absl::Now();
  c10::AutoGradMode no_grad(false);
  std::vector<at::Tensor*> tensors;
  std::vector<int64_t> bytes;
  std::vector<int> dtypes;
  for (TensorList* group : groups) {
    for (at::Tensor& t : *group) {
      if (!t.defined()) continue;
      if (!tensors.empty() && t.device() != tensors.front()->device()) {
        return absl::InvalidArgumentError(absl::StrCat(
            Who(options_), ": one all-reduce got tensors on ", tensors.front()->device().str(),
            " and on ", t.device().str(), "; keep every variable of the problem on one device"));
      }
      tensors.push_back(&t);
      bytes.push_back(t.numel() * static_cast<int64_t>(t.element_size()));
      dtypes.push_back(static_cast<int>(t.scalar_type()));
    }
  }
  for (const std::vector<size_t>& bucket : PlanBuckets(bytes, dtypes, options_.bucket_bytes)) {
    std::vector<at::Tensor> flat;
    for (size_t i : bucket) flat.push_back(tensors[i]->reshape(-1));
    at::Tensor buffer = at::cat(flat);
    // Gloo reduces host memory: a bucket on a GPU travels through a CPU copy of itself (one
    // device-to-host and one host-to-device copy per bucket), so that ranks sharing one GPU, or
    // a LibTorch without NCCL, still run data-parallel on it.
    const bool staged = !buffer.device().is_cpu();
    at::Tensor host = staged ? buffer.to(at::kCPU) : buffer;
    if (absl::Status s = AllReduce(&host, /*max=*/false, "the gradients"); !s.ok()) return s;
    host.div_(world_size());
    buffer = staged ? host.to(buffer.device()) : host;
    int64_t offset = 0;
    for (size_t i : bucket) {
      const int64_t n = tensors[i]->numel();
      *tensors[i] = buffer.narrow(0, offset, n).view(tensors[i]->sizes());
      offset += n;
    }
    ++stats_.all_reduce_calls;
    stats_.all_reduce_bytes += buffer.numel() * static_cast<int64_t>(buffer.element_size());
  }
  stats_.all_reduce_seconds += absl::ToDoubleSeconds(absl::Now() - start);
  return absl::OkStatus();
}

absl::Status Communicator::CheckSame(const std::string& what, const std::string& fingerprint) {
  if (world_size() == 1) return absl::OkStatus();
  const std::string prefix = absl::StrCat("check", checks_++, "/");
  try {
    group_->store->set(absl::StrCat(prefix, rank()),
                       std::vector<uint8_t>(fingerprint.begin(), fingerprint.end()));
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(Who(options_), ": cannot publish its ", what,
                                               " to the rendezvous store (", FirstLine(e), ")"));
  }
  const int64_t h = Hash63(fingerprint);
  at::Tensor extremes = at::tensor({h, -h}, at::kLong);  // max and -min over the ranks
  if (absl::Status s = AllReduce(&extremes, /*max=*/true, what); !s.ok()) return s;
  if (extremes[0].item<int64_t>() == -extremes[1].item<int64_t>()) return absl::OkStatus();
  // They differ somewhere: name the first rank whose text differs from rank 0's.
  try {
    auto text = [&](int r) {
      const std::vector<uint8_t> v = group_->store->get(absl::StrCat(prefix, r));
      return std::string(v.begin(), v.end());
    };
    const std::string first = text(0);
    for (int r = 1; r < world_size(); ++r) {
      const std::string other = text(r);
      if (other != first) {
        return absl::FailedPreconditionError(absl::StrCat(
            "the ranks disagree on their ", what, ": rank ", r, " differs from rank 0 at ",
            FirstDifference(other, first), ". Start every rank with the same options"));
      }
    }
  } catch (const std::exception& e) {
    return absl::UnavailableError(absl::StrCat(Who(options_), ": the ranks disagree on their ",
                                               what, ", and reading them back failed (",
                                               FirstLine(e), ")"));
  }
  return absl::FailedPreconditionError(
      absl::StrCat("the ranks disagree on their ", what, " (their hashes differ)"));
}

absl::Status Communicator::Barrier() {
  if (world_size() == 1) return absl::OkStatus();
  at::Tensor one = at::ones({1}, at::kLong);
  return AllReduce(&one, /*max=*/false, "a barrier");
}

}  // namespace bilevel
