// FakeDocker: an in-memory DockerClient for unit tests of the deploy workflows' decisions
// (ordering, keeping, replacing, undoing). Only what those workflows use behaves; the rest
// answers kUnsupported. The real engine is tested by tests/deploy_*.sh and docker.*.
#pragma once

#include <ctime>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "adapters/docker/docker_client.h"

namespace berth::workflows::testing {

class FakeDocker final : public docker::DockerClient {
 public:
  struct Container {
    docker::ContainerSpec spec;
    std::string id, image_id;
    bool running = false;
    std::set<std::string> markers;  // files `touch`ed by exec'd commands
    int exit_code = 0;
    std::string started_at, finished_at;  // RFC 3339, as Docker reports them; "" never
  };
  struct Image {
    std::string id;
    docker::Labels labels;
  };

  FakeDocker() { images["berth/busybox:test"] = Image{"sha256:base", {}}; }

  // What happened, in order: "create NAME", "start NAME", "exec NAME CMD", "commit REF",
  // "remove NAME", "network NAME", ...
  std::vector<std::string> Calls() {
    std::lock_guard<std::mutex> g(mu);
    return calls;
  }
  int Count(const std::string& prefix) {
    int n = 0;
    for (const auto& c : Calls()) n += c.rfind(prefix, 0) == 0;
    return n;
  }

  std::mutex mu;
  std::map<std::string, Container> containers;  // by name
  std::map<std::string, Image> images;          // by ref; ids resolve too
  std::map<std::string, docker::NetworkInfo> networks;  // by id (names need not be unique)
  std::set<std::string> fail_start;  // container names whose start fails (a port in use)
  std::set<std::string> stale_networks;  // refuse removal: "has active endpoints" (dockerd's stale endpoint)
  // Called (under mu) before each removal; a non-ok answer is returned instead of removing.
  std::function<Status(const Container&)> remove_fault;
  // Called (under mu) before each stop; a non-ok answer is returned instead of stopping.
  std::function<Status(const Container&)> stop_fault;
  // Containers the engine is removing (a removal that outlived its call): name -> how many
  // more calls answer "already in progress" before the container is gone.
  std::map<std::string, int> removing;
  std::atomic<bool> hold_starts{false};  // starts wait while set (a deploy caught mid-way)
  // Creates the daemon takes in but answers only after the caller gave up (kUnknownOutcome):
  // the next create of each name here is held, and lands at LandHeldCreates (a name taken by
  // then makes it fail, and nobody hears) or, with land_held_on_remove, as soon as a removal
  // frees the name.
  std::set<std::string> hold_create;
  std::vector<docker::ContainerSpec> held_creates;
  bool land_held_on_remove = false;
  void LandHeldCreates() {
    std::lock_guard<std::mutex> g(mu);
    LandHeldLocked();
  }
  std::vector<std::string> calls;
  int next_id = 1;

  Result<docker::EngineVersion> Version() override { return docker::EngineVersion{"fake", "1.41", "1.41", "linux", "amd64"}; }

  Result<std::string> CreateContainer(const docker::ContainerSpec& spec) override {
    std::lock_guard<std::mutex> g(mu);
    if (hold_create.erase(spec.name)) {
      held_creates.push_back(spec);
      return Status(Code::kUnknownOutcome, "POST /containers/create?name=" + spec.name +
                                               ": Timeout was reached (request was sent)");
    }
    return CreateLocked(spec, "");
  }
  Result<std::string> CreateLocked(const docker::ContainerSpec& spec, const std::string& note) {
    std::string name = spec.name.empty() ? "scratch-" + std::to_string(next_id) : spec.name;
    if (containers.count(name)) return Status(Code::kConflict, "name " + name + " in use");
    const Image* im = FindImage(spec.image);
    if (!im) return NotFound("no such image " + spec.image);
    Container c{spec, "c" + std::to_string(next_id++), im->id, false, {}, 0, "", ""};
    c.spec.name = name;
    for (const auto& [k, v] : im->labels) c.spec.labels.emplace(k, v);
    containers[name] = c;
    calls.push_back("create " + name + note);
    return c.id;
  }
  void LandHeldLocked() {
    auto held = std::move(held_creates);
    held_creates.clear();
    for (const auto& spec : held) (void)CreateLocked(spec, " (late)");
  }
  Status StartContainer(const std::string& id) override {
    while (hold_starts.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    std::lock_guard<std::mutex> g(mu);
    Container* c = Find(id);
    if (!c) return NotFound("no such container " + id);
    if (removing.count(c->spec.name))
      return Status(Code::kConflict, "container is marked for removal and cannot be started");
    if (fail_start.count(c->spec.name)) return Failed("port is already allocated");
    if (!c->spec.network.empty() && c->spec.network_id.empty())
      if (auto n = LookupNetwork(c->spec.network); !n.ok()) return n.status();  // found by name again
    c->running = true;
    c->started_at = Stamp(clock_ms);
    c->finished_at.clear();
    calls.push_back("start " + c->spec.name);
    return Status::Ok();
  }
  // The container's process ends with `exit_code` after running `ran_ms` (fake time).
  void Die(const std::string& name, int exit_code, int64_t ran_ms) {
    std::lock_guard<std::mutex> g(mu);
    Container& c = containers.at(name);
    clock_ms += ran_ms;
    c.running = false;
    c.exit_code = exit_code;
    c.finished_at = Stamp(clock_ms);
  }
  int64_t clock_ms = 1'790'000'000'000;  // the fake's own clock for start and exit times
  static std::string Stamp(int64_t ms) {
    std::time_t t = ms / 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
    return std::string(buf) + "." + std::to_string(1000 + ms % 1000).substr(1) + "Z";
  }
  Status StopContainer(const std::string& id, int) override {
    std::lock_guard<std::mutex> g(mu);
    Container* c = Find(id);
    if (!c) return NotFound("no such container " + id);
    if (stop_fault)
      if (Status f = stop_fault(*c); !f.ok()) return f;
    calls.push_back("stop " + c->spec.name);
    c->running = false;
    return Status::Ok();
  }
  Status KillContainer(const std::string& id, const std::string&) override { return StopContainer(id, 0); }
  Status RemoveContainer(const std::string& id, bool) override {
    std::lock_guard<std::mutex> g(mu);
    Container* c = Find(id);
    if (!c) return NotFound("no such container " + id);
    if (auto r = removing.find(c->spec.name); r != removing.end()) {
      if (--r->second > 0)
        return Status(Code::kUnavailable, "removal of container " + r->first + " is already in progress");
      containers.erase(r->first);  // the engine's own removal finished
      removing.erase(r);
      return NotFound("no such container " + id);
    }
    if (remove_fault)
      if (Status f = remove_fault(*c); !f.ok()) return f;
    calls.push_back("remove " + c->spec.name);
    containers.erase(c->spec.name);
    if (land_held_on_remove) LandHeldLocked();
    return Status::Ok();
  }
  Result<int> WaitContainer(const std::string&, int64_t) override { return Status(Code::kUnsupported, "fake"); }
  Result<docker::ContainerInfo> InspectContainer(const std::string& id) override {
    std::lock_guard<std::mutex> g(mu);
    Container* c = Find(id);
    if (!c) return NotFound("no such container " + id);
    return Info(*c);
  }
  Result<std::vector<docker::ContainerInfo>> ListContainers(const docker::Labels& labels) override {
    std::lock_guard<std::mutex> g(mu);
    std::vector<docker::ContainerInfo> out;
    for (const auto& [name, c] : containers)
      if (Matches(c.spec.labels, labels)) out.push_back(Info(c));
    return out;
  }
  Result<docker::ExecResult> Logs(const std::string&) override { return docker::ExecResult{}; }
  Result<docker::ExecResult> Exec(const std::string& container, const docker::ExecSpec& spec) override {
    std::lock_guard<std::mutex> g(mu);
    Container* c = Find(container);
    if (!c) return NotFound("no such container " + container);
    if (!c->running) return Status(Code::kConflict, "container is not running");
    std::string cmd = spec.cmd.empty() ? "" : spec.cmd.back();
    calls.push_back("exec " + c->spec.name + " " + cmd);
    docker::ExecResult r;
    if (cmd.find("exit 3") != std::string::npos) {
      r.exit_code = 3;
      r.stderr_text = "broken";
    }
    // Marker files: `touch PATH` leaves one, `test -f PATH` finds it.
    if (size_t t = cmd.find("touch "); t != std::string::npos) c->markers.insert(cmd.substr(t + 6));
    if (spec.cmd.size() == 3 && spec.cmd[0] == "test") r.exit_code = c->markers.count(spec.cmd[2]) ? 0 : 1;
    return r;
  }
  Result<std::string> Commit(const docker::CommitSpec& spec) override {
    std::lock_guard<std::mutex> g(mu);
    std::string ref = spec.repo + ":" + spec.tag;
    images[ref] = Image{"sha256:img" + std::to_string(next_id++), spec.labels};
    calls.push_back("commit " + ref);
    return images[ref].id;
  }
  Result<docker::ImageInfo> InspectImage(const std::string& ref) override {
    std::lock_guard<std::mutex> g(mu);
    const Image* im = FindImage(ref);
    if (!im) return NotFound("no such image " + ref);
    docker::ImageInfo info;
    info.id = im->id;
    info.labels = im->labels;
    return info;
  }
  Result<std::vector<docker::ImageInfo>> ListImages(const docker::ImageFilter&) override { return std::vector<docker::ImageInfo>{}; }
  Status TagImage(const std::string&, const std::string&, const std::string&) override { return Status(Code::kUnsupported, "fake"); }
  Status RemoveImage(const std::string&, bool) override { return Status(Code::kUnsupported, "fake"); }
  Result<docker::BuildResult> BuildImage(const docker::BuildSpec& spec) override {
    std::lock_guard<std::mutex> g(mu);
    std::string id = "sha256:built" + std::to_string(next_id++);
    for (const auto& t : spec.tags) images[t] = Image{id, spec.labels};
    calls.push_back("build " + (spec.tags.empty() ? "" : spec.tags[0]));
    return docker::BuildResult{id, ""};
  }
  Status PullImage(const std::string&, const std::string&, int64_t) override { return Failed("no registry"); }
  Result<std::string> CreateNetwork(const docker::NetworkSpec& spec) override {
    std::lock_guard<std::mutex> g(mu);
    if (FindNetworks(spec.name).size()) return Status(Code::kConflict, "exists");
    docker::NetworkInfo& n = AddNetworkLocked(spec.name, spec.labels);
    n.options = spec.options;
    n.internal = spec.internal;
    calls.push_back("network " + spec.name);
    return n.id;
  }
  // A network made beside the others, as a create whose answer was lost lands in Docker
  // 20.10 (names are not unique there); its id.
  std::string AddNetworkLikeALateCreate(const std::string& name, const docker::Labels& labels) {
    std::lock_guard<std::mutex> g(mu);
    return AddNetworkLocked(name, labels).id;
  }
  docker::NetworkInfo& AddNetworkLocked(const std::string& name, const docker::Labels& labels) {
    docker::NetworkInfo n;
    n.id = "n" + std::to_string(next_id++);
    n.name = name;
    n.labels = labels;
    n.created = Stamp(clock_ms++);
    return networks[n.id] = n;
  }
  // The networks named `name` (under mu).
  std::vector<docker::NetworkInfo*> FindNetworks(const std::string& name) {
    std::vector<docker::NetworkInfo*> out;
    for (auto& [id, n] : networks)
      if (n.name == name) out.push_back(&n);
    return out;
  }
  // By id, else by name: Docker's lookup, "ambiguous" included.
  Result<docker::NetworkInfo*> LookupNetwork(const std::string& id_or_name) {
    if (auto it = networks.find(id_or_name); it != networks.end()) return &it->second;
    auto named = FindNetworks(id_or_name);
    if (named.empty()) return NotFound("no such network " + id_or_name);
    if (named.size() > 1)
      return InvalidArgument("network " + id_or_name + " is ambiguous (" + std::to_string(named.size()) +
                             " matches found on name)");
    return named[0];
  }
  Result<docker::NetworkInfo> InspectNetwork(const std::string& id_or_name) override {
    std::lock_guard<std::mutex> g(mu);
    auto n = LookupNetwork(id_or_name);
    if (!n.ok()) return n.status();
    docker::NetworkInfo info = **n;
    for (const auto& [name, c] : containers)
      if (c.spec.network == info.name || c.spec.network == info.id)
        if (c.spec.network_id.empty() || c.spec.network_id == info.id) info.containers[c.id] = "";
    return info;
  }
  Result<std::vector<docker::NetworkInfo>> ListNetworks(const docker::Labels& labels) override {
    std::lock_guard<std::mutex> g(mu);
    std::vector<docker::NetworkInfo> out;
    for (const auto& [id, n] : networks)
      if (Matches(n.labels, labels)) out.push_back(n);
    return out;
  }
  Status RemoveNetwork(const std::string& id_or_name) override {
    std::lock_guard<std::mutex> g(mu);
    auto n = LookupNetwork(id_or_name);
    calls.push_back("network-remove-try " + (n.ok() ? (*n)->name : id_or_name));
    if (!n.ok()) return n.status();
    std::string name = (*n)->name;
    if (stale_networks.count(name))
      return Status(Code::kConflict, "error while removing network: network " + name + " has active endpoints");
    networks.erase((*n)->id);
    calls.push_back("network-remove " + name);
    return Status::Ok();
  }
  Status ConnectNetwork(const std::string&, const std::string&, const docker::EndpointSpec&) override { return Status::Ok(); }
  Status DisconnectNetwork(const std::string&, const std::string&, bool) override { return Status::Ok(); }
  Status StreamEvents(const docker::EventFilter&, const std::function<bool(const docker::Event&)>&,
                      std::stop_token) override {
    return Status(Code::kUnsupported, "fake");
  }

 private:
  // Every filter label present ("" value: any value), as the engine filters.
  static bool Matches(const docker::Labels& have, const docker::Labels& filter) {
    for (const auto& [k, v] : filter) {
      auto it = have.find(k);
      if (it == have.end() || (!v.empty() && it->second != v)) return false;
    }
    return true;
  }
  Container* Find(const std::string& id_or_name) {
    auto it = containers.find(id_or_name);
    if (it != containers.end()) return &it->second;
    for (auto& [name, c] : containers)
      if (c.id == id_or_name) return &c;
    return nullptr;
  }
  const Image* FindImage(const std::string& ref) const {
    auto it = images.find(ref);
    if (it != images.end()) return &it->second;
    for (const auto& [r, im] : images)
      if (im.id == ref) return &im;
    return nullptr;
  }
  docker::ContainerInfo Info(const Container& c) const {
    docker::ContainerInfo i;
    i.id = c.id;
    i.name = c.spec.name;
    i.image = c.spec.image;
    i.image_id = c.image_id;
    i.labels = c.spec.labels;
    i.state.running = c.running && !removing.count(c.spec.name);
    i.state.status = removing.count(c.spec.name) ? "removing"
                     : c.running                 ? "running"
                     : c.finished_at.empty()     ? "created"
                                                 : "exited";
    i.state.exit_code = c.exit_code;
    i.state.started_at = c.started_at;
    i.state.finished_at = c.finished_at;
    return i;
  }
};

}  // namespace berth::workflows::testing
