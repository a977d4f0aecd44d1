// docker.observe, docker.start, docker.exec, docker.healthy, docker.remove (docker.create:
// create_activity.cc).
#include <chrono>
#include <set>
#include <thread>

#include "workflows/deploy/activity_util.h"
#include "workflows/deploy/names.h"

namespace berth::workflows::internal {
namespace {

using docker::DockerClient;
using engine::ActivityContext;

// ---- observe --------------------------------------------------------------------------------

class Observe final : public DockerActivity {
 public:
  explicit Observe(HostDockerProvider d) : DockerActivity("docker.observe", std::move(d)) {}

 protected:
  // {app} looks at the input's engine; {app, hosts: [names]} at each host of the cloud, and
  // counts every container of Berth's there too (placement's view of the hosts). With
  // "skip_unreachable": from attempt kSkipFromAttempt on (about 25 s of backoff, so a daemon
  // restart is ridden out as before), a host whose engine does not answer (kUnavailable or
  // kTimeout, and a version check after it fails so too) is recorded in "unreachable"
  // {host: error} rather than failing the step; the deploy decides what that means
  // (AroundUnreachable, deploy_placement.h).
  static constexpr uint32_t kSkipFromAttempt = 8;
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    if (!in.contains("hosts")) return ObserveOne(in, d, "");
    const bool skip = in.value("skip_unreachable", false) && ctx.attempt >= kSkipFromAttempt;
    json out = {{"containers", json::array()}, {"networks", json::array()}, {"hosts", json::object()}};
    for (const auto& h : in.at("hosts")) {
      std::string host = h.get<std::string>();
      auto client = Client(host);
      if (!client.ok()) return client.status();
      Status s = ObserveHost(in, **client, host, &out);
      if (s.ok()) continue;
      auto down = [](Code c) { return c == Code::kUnavailable || c == Code::kTimeout; };
      if (skip && down(s.code())) {
        auto v = (*client)->Version();
        if (!v.ok() && down(v.status().code())) {
          out["unreachable"][host] = s.message();
          continue;
        }
      }
      return s;
    }
    return out.dump();
  }

 private:
  // One host of the cloud: its containers and networks of the app, and its census, into
  // `out` (nothing added unless all of it was read).
  static Status ObserveHost(const json& in, DockerClient& d, const std::string& host, json* out) {
    auto one = ObserveOne(in, d, host);
    if (!one.ok()) return one.status().WithContext("host " + host);
    auto all = d.ListContainers({{kLabelApp, ""}});
    if (!all.ok()) return all.status().WithContext("host " + host + ": listing Berth's containers");
    json census = {{"containers", all->size()}, {"apps", json::object()}, {"services", json::object()},
                   {"cpus_reserved", 0.0}, {"memory_reserved", 0}};
    double cpus = 0;
    int64_t mem = 0;
    for (const auto& c : *all) {
      std::string a = docker::LabelValue(c.labels, kLabelApp), s = docker::LabelValue(c.labels, kLabelService);
      census["apps"][a] = census["apps"].value(a, 0) + 1;
      census["services"][a + "/" + s] = census["services"].value(a + "/" + s, 0) + 1;
      cpus += std::atof(docker::LabelValue(c.labels, kLabelCpus).c_str());
      mem += std::atoll(docker::LabelValue(c.labels, kLabelMemory).c_str());
    }
    census["cpus_reserved"] = cpus;
    census["memory_reserved"] = mem;
    json j = json::parse(*one);
    for (auto& c : j["containers"]) (*out)["containers"].push_back(std::move(c));
    for (auto& n : j["networks"]) (*out)["networks"].push_back(json{{"name", n}, {"host", host}});
    (*out)["hosts"][host] = std::move(census);
    return Status::Ok();
  }

  static Result<std::string> ObserveOne(const json& in, DockerClient& d, const std::string& host) {
    std::string app = Str(in, "app");
    auto list = d.ListContainers({{kLabelApp, app}});
    if (!list.ok()) return list.status().WithContext("listing the containers of " + app);
    json containers = json::array();
    for (const auto& c : *list) {
      auto label = [&](const char* k) { return docker::LabelValue(c.labels, k); };
      containers.push_back({{"name", c.name},
                            {"scratch", label(kLabelRole) == "install"},
                            {"id", c.id},
                            {"service", label(kLabelService)},
                            {"index", std::atoi(label(kLabelIndex).c_str())},
                            {"config", label(kLabelConfig)},
                            {"image_id", c.image_id},
                            {"level", std::atoi(label(kLabelLevel).c_str())},
                            {"stop_timeout", std::atoi(label(kLabelStopTimeout).c_str())},
                            {"running", c.state.running},
                            {"status", c.state.status}});
      if (!host.empty()) containers.back()["host"] = host;
    }
    auto nets = d.ListNetworks({{kLabelApp, app}});
    if (!nets.ok()) return nets.status().WithContext("listing the networks of " + app);
    std::set<std::string> names;  // a name twice: a lost create landed (network_activities.cc)
    for (const auto& n : *nets) names.insert(n.name);
    json networks = names;
    return json{{"containers", containers}, {"networks", networks}}.dump();
  }
};

// ---- start ----------------------------------------------------------------------------------

class Start final : public DockerActivity {
 public:
  explicit Start(HostDockerProvider d) : DockerActivity("docker.start", std::move(d)) {}

 protected:
  Result<std::string> Do(const ActivityContext&, const json& in, DockerClient& d) override {
    std::string name = Str(in, "name");
    Status s = d.StartContainer(name);
    if (!s.ok()) return s;
    return std::string("started");
  }
};

// ---- revive: a container stopped under a step by a daemon restart ----------------------------

// True when `name` is stopped in a way a daemon restart leaves it (killed by SIGTERM or
// SIGKILL), or after an earlier attempt of the step could not reach the engine at all, and
// starting it again worked. Any other exit is the service's own and is not undone.
bool Revive(DockerClient& d, const std::string& name, uint32_t attempt) {
  auto info = d.InspectContainer(name);
  if (!info.ok() || info->state.running) return false;
  int code = info->state.exit_code;
  if (attempt == 1 && code != 143 && code != 137) return false;
  return d.StartContainer(name).ok();
}

// ---- exec (customize, install without the cache) --------------------------------------------

std::string MarkerPath(const json& in) { return "/.berth/" + Str(in, "marker"); }
std::string PidPath(const json& in) { return "/.berth/" + Str(in, "marker") + ".pid"; }
// Each exec'd command runs at most this long (docs/deploy.md).
constexpr int64_t kCommandTimeoutMs = 30 * 60 * 1000;

// Kills the command an abandoned exec left running (best effort: it may have ended).
void StopCommand(DockerClient& d, const std::string& container, const json& in) {
  docker::ExecSpec kill;
  kill.cmd = {"sh", "-c", "p=$(cat " + PidPath(in) + " 2>/dev/null) && kill -KILL \"$p\" 2>/dev/null; true"};
  kill.user = "0";
  kill.timeout_ms = 10'000;
  (void)d.Exec(container, kill);
}

class Exec final : public DockerActivity {
 public:
  explicit Exec(HostDockerProvider d) : DockerActivity("docker.exec", std::move(d)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    std::string name = Str(in, "name"), what = Str(in, "what");
    auto commands = in.at("commands").get<std::vector<std::string>>();
    if (in.value("once", false)) {
      // A kept container: done already unless it was left half-made.
      Adopt done = Find(ctx, in, d);
      if (!done.ok()) return done.status();
      if (done->has_value()) return **done;
    }
    bool revived = false;
    {
      // /.berth, writable by the service's user too, for the pid file (as root: the
      // service may run as a user who cannot write to /).
      docker::ExecSpec dir;
      dir.cmd = {"sh", "-c", "mkdir -p /.berth && chmod 1777 /.berth"};
      dir.user = "0";
      auto r = d.Exec(name, dir);
      if (!r.ok() && r.status().code() == Code::kConflict && Revive(d, name, ctx.attempt)) {
        revived = true;
        r = d.Exec(name, dir);
      }
      if (!r.ok()) return r.status().WithContext(what + ": preparing /.berth");
    }
    for (size_t i = 0; i < commands.size(); ++i) {
      if (ctx.Abandoned()) return Status(Code::kCancelled, what + ": given up before command " + std::to_string(i + 1));
      docker::ExecSpec e;
      // The shell records its pid, then becomes the command: an abandoned step (cancel,
      // timeout, shutdown) can stop exactly what it started.
      e.cmd = {"sh", "-c", "echo $$ > " + PidPath(in) + " 2>/dev/null; exec sh -c \"$0\"", commands[i]};
      e.timeout_ms = kCommandTimeoutMs;
      e.cancelled = [&ctx] { return ctx.Abandoned(); };
      auto r = d.Exec(name, e);
      if (!r.ok() && r.status().code() == Code::kConflict && !revived &&
          Revive(d, name, ctx.attempt)) {
        revived = true;
        r = d.Exec(name, e);
      }
      if (!r.ok() && (r.status().code() == Code::kCancelled ||
                      r.status().code() == Code::kUnknownOutcome)) {
        StopCommand(d, name, in);  // it may still be running in the container
        return Status(r.status().code() == Code::kCancelled ? Code::kCancelled : Code::kUnknownOutcome,
                      what + " command " + std::to_string(i + 1) + " (`" + commands[i] +
                          "`) was stopped: " + r.status().message());
      }
      if (!r.ok()) return r.status().WithContext(what + " command " + std::to_string(i + 1));
      if (r->exit_code != 0)
        return Failed(what + " command " + std::to_string(i + 1) + " of " +
                      std::to_string(commands.size()) + " (`" + commands[i] + "`) exited with " +
                      std::to_string(r->exit_code) +
                      (r->stderr_text.empty() ? "" : ": " + Tail(r->stderr_text)));
    }
    docker::ExecSpec mark;
    mark.cmd = {"sh", "-c", "mkdir -p /.berth && touch " + MarkerPath(in)};
    mark.user = "0";  // the service may run as a user who cannot write to /
    auto r = d.Exec(name, mark);
    if (!r.ok()) return r.status().WithContext("marking " + what + " done");
    if (r->exit_code != 0) return Failed("marking " + what + " done: " + Tail(r->stderr_text));
    return std::string("ok");
  }

  // The marker file is written right after the last command: present means done.
  Adopt Find(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    docker::ExecSpec probe;
    probe.cmd = {"test", "-f", MarkerPath(in)};
    probe.user = "0";
    std::string name = Str(in, "name");
    auto r = d.Exec(name, probe);
    if (!r.ok() && r.status().code() == Code::kConflict && Revive(d, name, ctx.attempt + 1))
      r = d.Exec(name, probe);  // stopped under us (a daemon restart): started again
    // Not running and not revivable yet: ask again later rather than fail the step.
    if (!r.ok() && r.status().code() == Code::kConflict)
      return Status(Code::kUnavailable, r.status().message());
    if (!r.ok()) return r.status();
    if (r->exit_code == 0) return std::optional<std::string>("ok");
    return std::optional<std::string>();
  }
};

// ---- healthy --------------------------------------------------------------------------------

class Healthy final : public DockerActivity {
 public:
  explicit Healthy(HostDockerProvider d) : DockerActivity("docker.healthy", std::move(d)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    std::string name = Str(in, "name");
    auto deadline = std::chrono::steady_clock::now() +
                    std::chrono::milliseconds(std::max<int64_t>(Int(in, "timeout_ms"), 1000));
    int delay_ms = 20;
    bool restarted = false;
    for (;;) {
      if (ctx.Abandoned()) return Status(Code::kCancelled, "waiting for " + name + " given up");
      auto info = d.InspectContainer(name);
      if (!info.ok()) return info.status();
      const auto& st = info->state;
      // Stopped while we waited by a daemon restart: start it again, once per attempt.
      if (!st.running && !restarted) {
        restarted = true;
        if (Revive(d, name, ctx.attempt)) continue;
      }
      if (!st.running) {
        auto logs = d.Logs(name);
        std::string tail = logs.ok() ? Tail(logs->stderr_text + logs->stdout_text) : "";
        return Failed(name + " is " + st.status + " (exit code " + std::to_string(st.exit_code) +
                      ")" + (tail.empty() ? "" : "; its last output: " + tail));
      }
      // Without a healthcheck of its own the service is ready once running (as with
      // Compose), even if its image declares a HEALTHCHECK that has not run yet.
      if (st.health.empty() || !in.value("want_health", true)) return std::string("running");
      if (st.health == "healthy") return std::string("healthy");
      if (st.health == "unhealthy") return Failed(name + " is unhealthy (its healthcheck failed)");
      if (std::chrono::steady_clock::now() > deadline)
        return Failed(name + " did not become healthy in time (health: " + st.health + ")");
      std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
      delay_ms = std::min(delay_ms * 2, 500);
    }
  }
};

// ---- remove ---------------------------------------------------------------------------------

class Remove final : public DockerActivity {
 public:
  Remove(HostDockerProvider d, DockerActivityOptions options)
      : DockerActivity("docker.remove", std::move(d)), options_(std::move(options)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    std::string name = Str(in, "name");
    int timeout_s = in.contains("timeout_s") ? int(Int(in, "timeout_s")) : 10;
    // A removal is what undoes a half-made deploy: an engine's 500 (kFailed) on the way is
    // the engine's trouble, retried like an unreachable engine (as network-remove does).
    auto retried = [](const Status& s) {
      return s.code() == Code::kFailed ? Status(Code::kUnavailable, s.message()) : s;
    };
    if (std::string key = Str(in, "key"); !key.empty() && in.value("settle", false)) {
      // The container that create step made, and the create ended in doubt: what it sent
      // may still land, so it is watched for (the create fence; its first look is a listing
      // like the one below). A listing that failed is retried as such (kUnavailable): the
      // next attempt runs and watches again. As kUnknownOutcome it would reconcile first,
      // and after a cancel an attempt that reconciles starts given up and stops watching.
      Adopt late = WatchForKey(d, ctx, key, options_, /*whole_fence=*/false);
      if (!late.ok() && late.status().code() == Code::kUnknownOutcome)
        return Status(Code::kUnavailable, late.status().message());
      if (!late.ok()) return late.status();
      if (!late->has_value()) return std::string("gone");
      name = **late;
    } else if (!key.empty()) {
      // Only the container that step made (by its berth.key), never one merely named alike.
      auto list = d.ListContainers({{kLabelKey, key}});
      if (!list.ok()) return retried(list.status());
      if (list->empty()) return std::string("gone");
      name = list->front().id;
    }
    // The first attempt stops the container gracefully. A stop that got no answer in time
    // (the engine may hold the container's state lock after an exit: docs/deploy.md,
    // "A container the engine cannot stop") and every later attempt remove it by force
    // (SIGKILL and delete in one call): graceful once, never again.
    Status stop;
    if (ctx.attempt == 1) stop = d.StopContainer(name, timeout_s);
    // A removal already under way (a killed attempt's) answers kUnavailable: retried. A
    // container being removed may also refuse the stop with another 409: retried as well.
    if (stop.code() == Code::kNotFound) return std::string("gone");
    if (stop.code() == Code::kConflict) return Status(Code::kUnavailable, stop.message());
    if (!stop.ok() && stop.code() != Code::kUnknownOutcome)
      return retried(stop).WithContext("stopping " + name);
    Status rm = d.RemoveContainer(name, /*force=*/true);
    if (rm.code() == Code::kNotFound) return std::string("gone");
    if (!rm.ok() && !stop.ok())
      return Status(retried(rm).code(), "stopping " + name + ": " + stop.message() +
                                            "; then removing it by force: " + rm.message());
    if (!rm.ok()) return retried(rm).WithContext("removing " + name);
    return std::string("removed");
  }

 private:
  const DockerActivityOptions options_;
};

}  // namespace

void RegisterContainerActivities(engine::Registry* r, const HostDockerProvider& d,
                                 const DockerActivityOptions& options) {
  r->Add(std::make_unique<Observe>(d));
  r->Add(std::make_unique<Start>(d));
  r->Add(std::make_unique<Exec>(d));
  r->Add(std::make_unique<Healthy>(d));
  r->Add(std::make_unique<Remove>(d, options));
}

}  // namespace berth::workflows::internal
