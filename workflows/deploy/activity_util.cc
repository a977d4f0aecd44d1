#include "workflows/deploy/activity_util.h"

#include <chrono>
#include <thread>

#include "eventlog/event_codec.h"
#include "workflows/deploy/names.h"

namespace berth::workflows {

std::string Sha256Hex(const std::string& data) {
  return eventlog::DigestHex(eventlog::HashRecord(data));  // the log's own SHA-256
}

HostDockerProvider ByHost(DockerProvider local, HostDockerProvider hosts) {
  return [local = std::move(local), hosts = std::move(hosts)](const std::string& host) -> Result<docker::DockerClient*> {
    if (host.empty() || host == kLocalHost) return local();
    if (hosts) return hosts(host);
    return NotFound("host " + host + " is not in the cloud (`berth hosts` lists the hosts)");
  };
}

namespace internal {

engine::RetryPolicy DockerActivity::retry_policy() const {
  engine::RetryPolicy p;
  // Long enough to ride out an engine that is away for minutes (a daemon restart, an
  // upgrade): 0.2 s doubling to 15 s, 30 attempts, about 6 minutes in all. Only errors that
  // retrying may cure are retried (the engine away, an answer lost); the rest end the step.
  p.attempts_max = 30;
  p.backoff_initial_ms = 200;
  p.backoff_max_ms = 15'000;
  p.non_retryable = {Code::kInvalidArgument, Code::kFailed,   Code::kNotFound,
                     Code::kUnsupported,     Code::kConflict, Code::kCancelled};
  return p;
}

namespace {
// Parses the recorded input, gets a client, and calls `body`; a malformed recorded input
// fails the step (kInvalidArgument), never Berth.
template <class R, class Body>
R WithInput(const engine::ActivityContext& ctx, const HostDockerProvider& docker, Body body) {
  json in = json::parse(ctx.input, nullptr, /*allow_exceptions=*/false);
  if (in.is_discarded() || !in.is_object())
    return InvalidArgument("step " + ctx.step + ": input is not a JSON object");
  Result<docker::DockerClient*> d = docker(Str(in, "host"));
  if (!d.ok()) return d.status();
  try {
    return body(in, **d);
  } catch (const json::exception& e) {
    // A recorded input without a field the activity needs, or of the wrong type: bad input.
    // Any other exception is a programmer error and is not caught: it crashes loudly.
    return InvalidArgument("step " + ctx.step + ": " + e.what());
  }
}
}  // namespace

Result<std::string> DockerActivity::Run(const engine::ActivityContext& ctx) {
  return WithInput<Result<std::string>>(ctx, docker_, [&](const json& in, docker::DockerClient& d) -> Result<std::string> {
    std::string host = Str(in, "host");
    std::shared_ptr<void> hold;
    if (guard_ && !host.empty() && host != kLocalHost) {
      auto h = guard_(host);
      if (!h.ok()) return h.status();
      hold = std::move(h).value();
    }
    return Do(ctx, in, d);
  });
}

Adopt DockerActivity::Reconcile(const engine::ActivityContext& ctx) {
  return WithInput<Adopt>(ctx, docker_, [&](const json& in, docker::DockerClient& d) {
    return Find(ctx, in, d);
  });
}

std::string Str(const json& in, const char* key) {
  auto it = in.find(key);
  return it != in.end() && it->is_string() ? it->get<std::string>() : std::string();
}

int64_t Int(const json& in, const char* key) {
  auto it = in.find(key);
  return it != in.end() && it->is_number() ? it->get<int64_t>() : 0;
}

Result<ServiceDef> OneService(const json& in) {
  auto it = in.find("blueprint");
  if (it == in.end()) return InvalidArgument("input has no blueprint");
  Result<Blueprint> b = BlueprintFromJson(*it);
  if (!b.ok()) return b.status();
  if (b->services.size() != 1) return InvalidArgument("input blueprint must hold one service");
  return b->services[0];
}

Adopt WatchForKey(docker::DockerClient& d, const engine::ActivityContext& ctx,
                  const std::string& key, const DockerActivityOptions& options, bool whole_fence) {
  const int64_t poll_ms = std::max<int64_t>(options.fence_poll_ms, 1);
  // Counted in polls, not read from a clock: the wait is the same in simulated time.
  const int64_t polls = std::max<int64_t>(options.create_fence_ms / poll_ms, 0);
  for (int64_t i = 0;; ++i) {
    auto list = d.ListContainers({{kLabelKey, key}});
    if (!list.ok())
      return Status(Code::kUnknownOutcome, "looking for the container of " + key + ": " +
                                               list.status().message());
    if (!list->empty() && (!whole_fence || i >= polls))
      return std::optional<std::string>(list->front().id);
    if (i >= polls) return std::optional<std::string>();
    // Given up (a cancel, a shutdown): kCancelled ends the step at once. A create step that
    // ends so is in doubt, and its undo watches in turn (plan.cc).
    if (ctx.Abandoned())
      return Status(Code::kCancelled,
                    "given up while a create of " + key + " may still land (the create fence)");
    if (options.sleep) options.sleep(poll_ms);
    else std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
}

std::string Tail(const std::string& text, size_t max) {
  size_t end = text.find_last_not_of(" \n\r\t");
  if (end == std::string::npos) return "";
  std::string t = text.substr(0, end + 1);
  if (t.size() > max) t = "..." + t.substr(t.size() - max);
  return t;
}

}  // namespace internal
}  // namespace berth::workflows
