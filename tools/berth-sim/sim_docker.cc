#include "tools/berth-sim/sim_docker.h"
#include "tools/berth-sim/sim_docker_internal.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "adapters/docker/api_error.h"

namespace berth::sim {

Status Http(long code, const std::string& message, const std::string& what) {
  return docker::ApiError(code, nlohmann::json{{"message", message}}.dump(), what);
}

bool Matches(const docker::Labels& have, const docker::Labels& filter) {
  for (const auto& [k, v] : filter) {
    auto it = have.find(k);
    if (it == have.end() || (!v.empty() && it->second != v)) return false;
  }
  return true;
}

namespace {

using docker::Labels;
using json = nlohmann::json;

constexpr int64_t kMs = 1000, kS = 1000 * kMs;
constexpr int64_t kCallTimeoutUs = 30 * kS;     // EngineClientOptions::call_timeout_ms
constexpr int64_t kConnectTimeoutUs = 5 * kS;   // EngineClientOptions::connect_timeout_ms
constexpr const char* kEndpoint = " on unix:///var/run/docker.sock";

// Transport failures, worded as http_transport.cc's Classify words them.
Status Refused(const std::string& what) {
  return Status(Code::kUnavailable, what + kEndpoint + ": Couldn't connect to server");
}
Status TimedOutUnsent(const std::string& what) {
  return Status(Code::kTimeout, what + kEndpoint + ": Timeout was reached (nothing was sent)");
}
Status TimedOutSent(const std::string& what) {
  return Status(Code::kUnknownOutcome,
                what + kEndpoint + ": Timeout was reached (request was sent)");
}
Status GotNothing(const std::string& what) {
  return Status(Code::kUnknownOutcome,
                what + kEndpoint +
                    ": Server returned nothing (no headers, no status code) (request was sent)");
}


// Every `touch PATH` and `> PATH` of a shell command line: the files it leaves behind.
void FilesWritten(const std::string& cmd, std::set<std::string>* files) {
  for (const char* op : {"touch ", "> "}) {
    size_t at = 0;
    while ((at = cmd.find(op, at)) != std::string::npos) {
      at += std::string(op).size();
      size_t end = cmd.find_first_of(" ;&|", at);
      std::string path = cmd.substr(at, end == std::string::npos ? std::string::npos : end - at);
      if (!path.empty() && path[0] == '/') files->insert(path);
    }
  }
}

// "exit N" anywhere in the command: it exits N (how the scenarios write a failing step).
int ExitCodeOf(const std::string& cmd) {
  size_t at = cmd.find("exit ");
  return at == std::string::npos ? 0 : std::atoi(cmd.c_str() + at + 5);
}

// LABEL k="v" k2="v2" (the only commit change whose effect Berth relies on), CMD [...] and
// ENTRYPOINT [...] as JSON arrays.
void ApplyChange(const std::string& change, Labels* labels,
                 std::optional<std::vector<std::string>>* cmd,
                 std::optional<std::vector<std::string>>* entrypoint) {
  auto json_list = [](const std::string& text) -> std::optional<std::vector<std::string>> {
    json j = json::parse(text, nullptr, false);
    if (!j.is_array()) return std::nullopt;
    return j.get<std::vector<std::string>>();
  };
  if (change.rfind("CMD ", 0) == 0) {
    *cmd = json_list(change.substr(4));
  } else if (change.rfind("ENTRYPOINT ", 0) == 0) {
    *entrypoint = json_list(change.substr(11));
  } else if (change.rfind("LABEL ", 0) == 0) {
    size_t at = 6;
    while (at < change.size()) {
      size_t eq = change.find('=', at);
      if (eq == std::string::npos) break;
      std::string key = change.substr(at, eq - at);
      size_t q1 = change.find('"', eq), q2 = change.find('"', q1 + 1);
      if (q1 != eq + 1 || q2 == std::string::npos) break;
      (*labels)[key] = change.substr(q1 + 1, q2 - q1 - 1);
      at = change.find_first_not_of(' ', q2 + 1);
    }
  }
}

const char* StateName(int s) {
  static const char* kNames[] = {"created", "running", "exited", "removing"};
  return kNames[s];
}

}  // namespace

DockerFaultRates DockerFaultRates::Draw(Rng& rng) {
  auto maybe = [&](double p, std::vector<double> levels) {
    return rng.Chance(p) ? rng.Pick(levels) : 0.0;
  };
  DockerFaultRates r;
  r.unavailable = maybe(0.5, {0.005, 0.02, 0.05});
  r.timeout_unsent = maybe(0.3, {0.005, 0.02});
  r.lost_request = maybe(0.4, {0.005, 0.02, 0.04});
  r.lost_answer = maybe(0.5, {0.005, 0.02, 0.05});
  r.http500 = maybe(0.15, {0.002, 0.01});
  r.slow_remove = maybe(0.3, {0.05, 0.2});
  r.slow_start = maybe(0.3, {0.05, 0.2});
  r.late_create = maybe(0.3, {0.05, 0.2});
  r.health_slow = maybe(0.2, {0.2});
  if (rng.Chance(0.3)) {
    r.restart_mean_us = rng.Pick(std::vector<int64_t>{60 * kS, 300 * kS});
    r.restart_down_us_max = rng.Range(1, 10) * kS;
  }
  return r;
}

std::string DockerFaultRates::ToString() const {
  return fmt::format(
      "unavailable={} timeout_unsent={} lost_request={} lost_answer={} http500={} "
      "slow_remove={} slow_start={} late_create={} health_slow={} restart_mean_s={} "
      "restart_down_max_s={}",
      unavailable, timeout_unsent, lost_request, lost_answer, http500, slow_remove, slow_start,
      late_create, health_slow, restart_mean_us / kS, restart_down_us_max / kS);
}

SimDocker::SimDocker(SimClock* clock, Rng rng, DockerFaultRates rates)
    : clock_(clock), rng_(rng), rates_(rates) {
  Img base;
  base.id = "sha256:" + NewId();  // docker import: no CMD, no ENTRYPOINT
  tags_[kBaseImage] = base.id;
  imgs_[base.id] = base;
  docker::NetworkInfo& bridge = nets_["bridge"].info;
  bridge.id = "net-bridge";
  bridge.name = bridge.driver = "bridge";
  if (rates_.restart_mean_us > 0) next_restart_us_ = clock_->NowUs() + rates_.restart_mean_us;
}

void SimDocker::Calm() {
  std::lock_guard<std::mutex> g(mu_);
  calm_ = true;
}

void SimDocker::SetCallerAlive(bool alive) {
  std::lock_guard<std::mutex> g(mu_);
  caller_alive_ = alive;
}

void SimDocker::Unreachable(int64_t until_us) {
  std::lock_guard<std::mutex> g(mu_);
  unreachable_until_us_ = std::max(unreachable_until_us_, until_us);
}

void SimDocker::Heal() {
  std::lock_guard<std::mutex> g(mu_);
  unreachable_until_us_ = 0;
}

void SimDocker::Gone() {
  std::lock_guard<std::mutex> g(mu_);
  gone_ = true;
  for (auto& [id, c] : ctrs_)
    if (c.state == State::kRunning) StopLocked(c, 137, "kill");
}

bool SimDocker::gone() const {
  std::lock_guard<std::mutex> g(mu_);
  return gone_;
}

void SimDocker::SetCapacity(int64_t cpus, int64_t memory) {
  std::lock_guard<std::mutex> g(mu_);
  cpus_ = cpus;
  memory_ = memory;
}

bool SimDocker::OperatorStop(const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  Tick();
  Ctr* c = FindCtr(name);
  if (!c || c->state != State::kRunning) return false;
  StopLocked(*c, 137, "operator");
  c->user_stopped = true;
  return true;
}

// ---- the call boundary -----------------------------------------------------------------

struct SimDocker::Fault {
  enum Kind { kNone, kFail, kLostRequest, kLostAnswer } kind = kNone;
  Status status;
  bool restart_after = false;  // the daemon goes down right after acting on this call
};

void SimDocker::Latency(int64_t lo_us, int64_t hi_us) { clock_->AdvanceBy(rng_.Range(lo_us, hi_us)); }

std::string SimDocker::NewId() {
  return fmt::format("{:016x}{:016x}{:016x}{:016x}", rng_.Next(), rng_.Next(), rng_.Next(),
                     ++ids_);
}

void SimDocker::Tick() {
  int64_t now = clock_->NowUs();
  // Late creates land (a name taken meanwhile makes the daemon refuse it: nobody hears).
  while (!late_.empty() && late_.front().at_us <= now) {
    docker::ContainerSpec spec = std::move(late_.front().spec);
    late_.erase(late_.begin());
    (void)CreateLocked(spec, "POST /containers/create (late)", /*late=*/true);
  }
  std::vector<std::string> gone;
  for (auto& [id, c] : ctrs_)
    if (c.state == State::kRemoving && c.removing_until_us <= now) gone.push_back(id);
  for (const auto& id : gone) RemoveLocked(id);
  if (down_ && now >= down_until_us_) {
    down_ = false;
    // Back up: the restart manager starts what its policy says to.
    for (auto& [id, c] : ctrs_) {
      const std::string& p = c.spec.restart.name;
      if (c.state == State::kExited && c.stop_cause == "daemon-restart" &&
          (p == "always" || (p == "unless-stopped" && !c.user_stopped)))
        StartLocked(c);
    }
  }
}

void SimDocker::Restart() {
  ++counters_.restarts;
  std::vector<std::string> removing;
  for (auto& [id, c] : ctrs_) {
    if (c.state == State::kRemoving) removing.push_back(id);
    if (c.state == State::kRunning) {
      // dockerd sends SIGTERM, then SIGKILL after its shutdown timeout; busybox as PID 1
      // ignores SIGTERM unless an init runs in front of it.
      StopLocked(c, c.spec.init.value_or(false) ? 143 : 137, "daemon-restart");
    }
  }
  for (const auto& id : removing) RemoveLocked(id);
  int64_t now = clock_->NowUs();
  down_ = true;
  down_until_us_ = now + rng_.Range(200 * kMs, std::max(rates_.restart_down_us_max, 300 * kMs));
  next_restart_us_ = down_until_us_ + int64_t(rates_.restart_mean_us * (0.2 + 1.6 * rng_.Uniform()));
}

template <class T>
Result<T> SimDocker::Run(const std::string& what, Effect effect,
                         const std::function<Result<T>()>& body) {
  std::lock_guard<std::mutex> g(mu_);
  ++counters_.calls;
  if (!caller_alive_)
    return Status(Code::kUnavailable,
                  what + ": the calling process is dead (simulated crash); nothing was sent");
  if (gone_) return Refused(what);
  Latency(200, 3000);
  Tick();
  if (clock_->NowUs() < unreachable_until_us_) {
    ++counters_.refused_down;
    clock_->AdvanceBy(kConnectTimeoutUs);
    return TimedOutUnsent(what);
  }
  if (down_) {
    ++counters_.refused_down;
    return Refused(what);
  }
  Fault f;
  if (!calm_ && rates_.restart_mean_us > 0 && clock_->NowUs() >= next_restart_us_) {
    ++counters_.faults;
    if (effect == Effect::kWrite && rng_.Chance(0.5)) {
      f = {Fault::kLostAnswer, GotNothing(what), true};  // acted, then went down
    } else {
      Restart();
      return GotNothing(what);
    }
  } else if (!calm_) {
    double u = rng_.Uniform();
    auto take = [&](double p) { return u < p ? true : (u -= p, false); };
    if (take(rates_.unavailable)) f = {Fault::kFail, Refused(what)};
    else if (take(rates_.timeout_unsent)) {
      clock_->AdvanceBy(kConnectTimeoutUs);
      f = {Fault::kFail, TimedOutUnsent(what)};
    } else if (take(rates_.http500)) {
      f = {Fault::kFail,
           Http(500, "error while communicating with containerd: context deadline exceeded", what)};
    } else if (take(rates_.lost_request)) f = {Fault::kLostRequest, TimedOutSent(what)};
    else if (take(rates_.lost_answer)) f = {Fault::kLostAnswer, TimedOutSent(what)};
    if (f.kind != Fault::kNone) ++counters_.faults;
  }
  if (f.kind == Fault::kFail) return f.status;
  if (f.kind == Fault::kLostRequest) {
    clock_->AdvanceBy(kCallTimeoutUs);
    return f.status;
  }
  Result<T> r = body();
  if (f.kind == Fault::kLostAnswer) {
    if (f.restart_after) Restart();
    else clock_->AdvanceBy(kCallTimeoutUs);
    return f.status;
  }
  return r;
}

// The answers sim_docker_networks.cc runs calls for.
template Result<std::string> SimDocker::Run<std::string>(const std::string&, Effect,
                                                         const std::function<Result<std::string>()>&);
template Result<docker::NetworkInfo> SimDocker::Run<docker::NetworkInfo>(
    const std::string&, Effect, const std::function<Result<docker::NetworkInfo>()>&);
template Result<std::vector<docker::NetworkInfo>> SimDocker::Run<std::vector<docker::NetworkInfo>>(
    const std::string&, Effect, const std::function<Result<std::vector<docker::NetworkInfo>>()>&);

Status SimDocker::RunStatus(const std::string& what, Effect effect,
                            const std::function<Status()>& body) {
  Result<bool> r = Run<bool>(what, effect, [&]() -> Result<bool> {
    Status s = body();
    if (!s.ok()) return s;
    return true;
  });
  return r.status();
}

// ---- model helpers ---------------------------------------------------------------------

SimDocker::Ctr* SimDocker::FindCtr(const std::string& id_or_name) {
  auto by_id = ctrs_.find(id_or_name);
  if (by_id != ctrs_.end()) return &by_id->second;
  auto n = names_.find(id_or_name);
  if (n != names_.end()) return &ctrs_.at(n->second);
  return nullptr;
}

const SimDocker::Img* SimDocker::FindImg(const std::string& ref) const {
  auto t = tags_.find(ref);
  if (t != tags_.end()) return &imgs_.at(t->second);
  auto i = imgs_.find(ref);
  return i == imgs_.end() ? nullptr : &i->second;
}

void SimDocker::StopLocked(Ctr& c, int exit_code, const std::string& cause) {
  c.state = State::kExited;
  c.exit_code = exit_code;
  c.stop_cause = cause;
  c.stop_us = clock_->NowUs();
  c.health.clear();
}

void SimDocker::StartLocked(Ctr& c) {
  c.state = State::kRunning;
  c.exit_code = 0;
  c.stop_cause.clear();
  c.user_stopped = false;
  c.started_us = clock_->NowUs();
  c.health.clear();
  if (c.spec.healthcheck && !c.spec.healthcheck->test.empty() &&
      c.spec.healthcheck->test[0] != "NONE") {
    c.health = "starting";
    c.health_polls = (!calm_ && rng_.Chance(rates_.health_slow)) ? 1 : 0;
  }
}

void SimDocker::RemoveLocked(const std::string& id) {
  auto it = ctrs_.find(id);
  if (it == ctrs_.end()) return;
  names_.erase(it->second.name);
  ctrs_.erase(it);
}

docker::ContainerInfo SimDocker::Info(const Ctr& c) const {
  docker::ContainerInfo i;
  i.id = c.id;
  i.name = c.name;
  i.image = c.spec.image;
  i.image_id = c.image_id;
  i.labels = c.spec.labels;
  i.state.status = StateName(int(c.state));
  i.state.running = c.state == State::kRunning;
  i.state.exit_code = c.exit_code;
  i.state.health = c.health;
  for (const auto& [net, aliases] : c.networks) {
    auto n = nets_.find(net);
    docker::NetworkAttachment a;
    a.network_id = n == nets_.end() ? "" : n->second.info.id;
    a.aliases = aliases;
    if (i.state.running) a.ip_address = "10.99.0." + std::to_string(1 + c.id[0] % 200);
    if (i.ip_address.empty()) i.ip_address = a.ip_address;
    i.networks[net] = a;
  }
  return i;
}

// ---- introspection ---------------------------------------------------------------------

std::vector<SimDocker::ContainerView> SimDocker::Containers() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<ContainerView> out;
  for (const auto& [id, c] : ctrs_) {
    ContainerView v;
    v.id = id;
    v.name = c.name;
    v.image_id = c.image_id;
    v.status = StateName(int(c.state));
    v.labels = c.spec.labels;
    v.running = c.state == State::kRunning;
    v.exit_code = c.exit_code;
    v.stop_cause = c.stop_cause;
    v.stop_us = c.stop_us;
    v.started_us = c.started_us;
    v.files = c.files;
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<SimDocker::Held> SimDocker::EverHeld() const {
  std::lock_guard<std::mutex> g(mu_);
  return ever_;
}

std::vector<docker::NetworkInfo> SimDocker::Networks() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<docker::NetworkInfo> out;
  for (const auto& [name, n] : nets_)
    if (name != "bridge") out.push_back(n.info);
  return out;
}

std::set<std::string> SimDocker::FilesOf(const std::string& command) {
  std::set<std::string> files;
  FilesWritten(command, &files);
  return files;
}

SimDocker::Counters SimDocker::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  return counters_;
}

// ---- containers ------------------------------------------------------------------------

Result<docker::EngineVersion> SimDocker::Version() {
  return Run<docker::EngineVersion>("GET /version", Effect::kRead, [] {
    return Result<docker::EngineVersion>(docker::EngineVersion{"sim", "1.41", "1.41", "linux", "amd64"});
  });
}

Result<docker::EngineInfo> SimDocker::Info() {
  return Run<docker::EngineInfo>("GET /info", Effect::kRead, [this] {
    return Result<docker::EngineInfo>(docker::EngineInfo{"sim", cpus_, memory_, int64_t(ctrs_.size())});
  });
}

Result<std::string> SimDocker::CreateLocked(const docker::ContainerSpec& spec, const std::string& what,
                                            bool late) {
  std::string name = spec.name.empty() ? "sim_" + NewId().substr(0, 10) : spec.name;
  if (auto n = names_.find(name); n != names_.end()) {
    if (docker::LabelValue(ctrs_.at(n->second).spec.labels, "berth.key") ==
        docker::LabelValue(spec.labels, "berth.key"))
      ++counters_.own_name_conflicts;
    return Http(409,
                "Conflict. The container name \"/" + name + "\" is already in use by container \"" +
                    n->second + "\". You have to remove (or rename) that container to be able to reuse that name.",
                what);
  }
  const Img* img = FindImg(spec.image);
  if (!img) return Http(404, "No such image: " + spec.image, what);
  std::string net = spec.network.empty() ? "bridge" : spec.network;
  if (!nets_.count(net)) return Http(404, "network " + net + " not found", what);
  Ctr c;
  c.id = NewId();
  c.name = name;
  c.image_id = img->id;
  c.spec = spec;
  c.spec.name = name;
  c.spec.labels = img->labels;  // the image's labels, the container's own on top
  for (const auto& [k, v] : spec.labels) c.spec.labels[k] = v;
  if (!c.spec.cmd && !c.spec.entrypoint) c.spec.cmd = img->cmd;
  if (!c.spec.entrypoint) c.spec.entrypoint = img->entrypoint;
  c.files = img->files;
  c.networks[net] = spec.aliases;
  ever_.push_back(Held{c.id, name, c.spec.labels, late});
  names_[name] = c.id;
  std::string id = c.id;
  ctrs_[id] = std::move(c);
  return id;
}

Result<std::string> SimDocker::CreateContainer(const docker::ContainerSpec& spec) {
  std::string what = "POST /containers/create" + (spec.name.empty() ? "" : "?name=" + spec.name);
  auto r = Run<std::string>(what, Effect::kWrite, [&]() -> Result<std::string> {
    if (!calm_ && !spec.name.empty() && rng_.Chance(rates_.late_create)) {
      ++counters_.faults;
      late_.push_back({clock_->NowUs() + kCallTimeoutUs + rng_.Range(0, 3 * kS), spec});
      clock_->AdvanceBy(kCallTimeoutUs);
      return TimedOutSent(what);
    }
    return CreateLocked(spec, what);
  });
  if (!r.ok()) return r.status().WithContext("creating container " + spec.name);
  return r;
}

Status SimDocker::StartContainer(const std::string& id) {
  std::string what = "POST /containers/" + id + "/start";
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    Ctr* c = FindCtr(id);
    if (!c) return Http(404, "No such container: " + id, what);
    if (c->state == State::kRemoving)
      return Http(409, "container is marked for removal and cannot be started", what);
    if (c->state == State::kRunning) return Status::Ok();  // 304
    for (const auto& [net, aliases] : c->networks)
      if (!nets_.count(net)) return Http(404, "network " + net + " not found", what);
    if (!calm_ && rng_.Chance(rates_.slow_start)) {
      ++counters_.slow;
      int64_t d = rng_.Range(1 * kS, 45 * kS);
      if (d > kCallTimeoutUs) {  // it starts, but the answer comes too late
        StartLocked(*c);
        clock_->AdvanceBy(kCallTimeoutUs);
        ++counters_.faults;
        return TimedOutSent(what);
      }
      clock_->AdvanceBy(d);
    }
    StartLocked(*c);
    return Status::Ok();
  });
}

Status SimDocker::StopContainer(const std::string& id, int timeout_s) {
  std::string what = "POST /containers/" + id + "/stop?t=" + std::to_string(timeout_s);
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    Ctr* c = FindCtr(id);
    if (!c) return Http(404, "No such container: " + id, what);
    if (c->state != State::kRunning) return Status::Ok();  // 304
    bool handles_term = c->spec.init.value_or(false) || !c->spec.stop_signal.empty();
    clock_->AdvanceBy(handles_term ? rng_.Range(10 * kMs, 300 * kMs) : int64_t(timeout_s) * kS);
    StopLocked(*c, handles_term ? 143 : 137, "stop");
    c->user_stopped = true;
    return Status::Ok();
  });
}

Status SimDocker::KillContainer(const std::string& id, const std::string& signal) {
  std::string what = "POST /containers/" + id + "/kill?signal=" + signal;
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    Ctr* c = FindCtr(id);
    if (!c) return Http(404, "No such container: " + id, what);
    if (c->state != State::kRunning) return Http(409, "Container " + c->id + " is not running", what);
    StopLocked(*c, 137, "kill");
    return Status::Ok();
  });
}

Status SimDocker::RemoveContainer(const std::string& id, bool force) {
  std::string what = "DELETE /containers/" + id + "?v=1" + (force ? "&force=1" : "");
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    Ctr* c = FindCtr(id);
    if (!c) return Http(404, "No such container: " + id, what);
    if (c->state == State::kRemoving)
      return Http(409, "removal of container " + c->name + " is already in progress", what);
    if (c->state == State::kRunning && !force)
      return Http(409, "You cannot remove a running container " + c->id +
                           ". Stop the container before attempting removal or force remove", what);
    if (c->state == State::kRunning) StopLocked(*c, 137, "kill");
    if (!calm_ && rng_.Chance(rates_.slow_remove)) {
      // The daemon keeps removing after the caller gave up.
      ++counters_.slow;
      ++counters_.faults;
      c->state = State::kRemoving;
      c->removing_until_us = clock_->NowUs() + rng_.Range(31 * kS, 45 * kS);
      clock_->AdvanceBy(kCallTimeoutUs);
      return TimedOutSent(what);
    }
    RemoveLocked(c->id);
    return Status::Ok();
  });
}

Result<int> SimDocker::WaitContainer(const std::string&, int64_t) {
  return Status(Code::kUnsupported, "berth-sim: WaitContainer is not simulated");
}

Result<docker::ContainerInfo> SimDocker::InspectContainer(const std::string& id) {
  std::string what = "GET /containers/" + id + "/json";
  return Run<docker::ContainerInfo>(what, Effect::kRead, [&]() -> Result<docker::ContainerInfo> {
    Ctr* c = FindCtr(id);
    if (!c) return Http(404, "No such container: " + id, what);
    if (c->health == "starting") {
      if (c->health_polls > 0) {
        --c->health_polls;
      } else {
        bool fails = false;
        for (const auto& t : c->spec.healthcheck->test) fails |= ExitCodeOf(t) != 0;
        c->health = fails ? "unhealthy" : "healthy";
      }
    }
    return Info(*c);
  });
}

Result<std::vector<docker::ContainerInfo>> SimDocker::ListContainers(const Labels& labels) {
  using V = std::vector<docker::ContainerInfo>;
  return Run<V>("GET /containers/json?all=1", Effect::kRead, [&]() -> Result<V> {
    V out;
    for (const auto& [id, c] : ctrs_)
      if (Matches(c.spec.labels, labels)) out.push_back(Info(c));
    return out;
  });
}

Result<docker::ExecResult> SimDocker::Logs(const std::string& id) {
  std::string what = "GET /containers/" + id + "/logs";
  return Run<docker::ExecResult>(what, Effect::kRead, [&]() -> Result<docker::ExecResult> {
    if (!FindCtr(id)) return Http(404, "No such container: " + id, what);
    return docker::ExecResult{};
  });
}

Result<docker::ExecResult> SimDocker::Exec(const std::string& container, const docker::ExecSpec& spec) {
  std::string what = "POST /containers/" + container + "/exec";
  auto r = Run<docker::ExecResult>(what, Effect::kWrite, [&]() -> Result<docker::ExecResult> {
    Ctr* c = FindCtr(container);
    if (!c) return Http(404, "No such container: " + container, what);
    if (c->state != State::kRunning) return Http(409, "Container " + c->id + " is not running", what);
    docker::ExecResult out;
    if (spec.cmd.size() == 3 && spec.cmd[0] == "test" && spec.cmd[1] == "-f") {
      out.exit_code = c->files.count(spec.cmd[2]) ? 0 : 1;
      return out;
    }
    std::string line = spec.cmd.empty() ? "" : spec.cmd.back();
    clock_->AdvanceBy(rng_.Range(5 * kMs, 1500 * kMs));  // the command's own run
    out.exit_code = ExitCodeOf(line);
    if (out.exit_code != 0) {
      out.stderr_text = "sh: simulated failure";
      return out;
    }
    FilesWritten(line, &c->files);
    return out;
  });
  if (!r.ok()) return r.status().WithContext("exec in " + container);
  return r;
}

// ---- images ----------------------------------------------------------------------------

Result<std::string> SimDocker::Commit(const docker::CommitSpec& spec) {
  std::string what = "POST /commit?container=" + spec.container;
  auto r = Run<std::string>(what, Effect::kWrite, [&]() -> Result<std::string> {
    Ctr* c = FindCtr(spec.container);
    if (!c) return Http(404, "No such container: " + spec.container, what);
    Img img;
    img.id = "sha256:" + NewId();
    img.labels = c->spec.labels;
    for (const auto& [k, v] : spec.labels) img.labels[k] = v;
    img.cmd = c->spec.cmd;
    img.entrypoint = c->spec.entrypoint;
    for (const auto& ch : spec.changes) ApplyChange(ch, &img.labels, &img.cmd, &img.entrypoint);
    img.files = c->files;
    std::string id = img.id;
    imgs_[id] = std::move(img);
    tags_[spec.repo + ":" + spec.tag] = id;
    return id;
  });
  if (!r.ok()) return r.status().WithContext("committing " + spec.container);
  return r;
}

Result<docker::ImageInfo> SimDocker::InspectImage(const std::string& ref) {
  std::string what = "GET /images/" + ref + "/json";
  return Run<docker::ImageInfo>(what, Effect::kRead, [&]() -> Result<docker::ImageInfo> {
    const Img* img = FindImg(ref);
    if (!img) return Http(404, "No such image: " + ref, what);
    docker::ImageInfo info;
    info.id = img->id;
    info.labels = img->labels;
    info.cmd = img->cmd;
    info.entrypoint = img->entrypoint;
    for (const auto& [tag, id] : tags_)
      if (id == img->id) info.repo_tags.push_back(tag);
    return info;
  });
}

Result<std::vector<docker::ImageInfo>> SimDocker::ListImages(const docker::ImageFilter& filter) {
  using V = std::vector<docker::ImageInfo>;
  return Run<V>("GET /images/json", Effect::kRead, [&]() -> Result<V> {
    V out;
    for (const auto& [id, img] : imgs_) {
      if (!Matches(img.labels, filter.labels)) continue;
      docker::ImageInfo info;
      info.id = id;
      info.labels = img.labels;
      for (const auto& [tag, tid] : tags_)
        if (tid == id) info.repo_tags.push_back(tag);
      out.push_back(std::move(info));
    }
    return out;
  });
}

Status SimDocker::TagImage(const std::string& ref, const std::string& repo, const std::string& tag) {
  std::string what = "POST /images/" + ref + "/tag";
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    const Img* img = FindImg(ref);
    if (!img) return Http(404, "No such image: " + ref, what);
    tags_[repo + ":" + tag] = img->id;
    return Status::Ok();
  });
}

Status SimDocker::RemoveImage(const std::string& ref, bool) {
  std::string what = "DELETE /images/" + ref;
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    if (!tags_.erase(ref)) return Http(404, "No such image: " + ref, what);
    return Status::Ok();
  });
}

Result<docker::BuildResult> SimDocker::BuildImage(const docker::BuildSpec&) {
  return Status(Code::kUnsupported, "berth-sim: builds are not simulated");
}

Status SimDocker::PullImage(const std::string& image, const std::string& tag, int64_t) {
  std::string what = "POST /images/create?fromImage=" + image + "&tag=" + tag;
  return RunStatus(what, Effect::kWrite, [&]() -> Status {
    return Failed(what + ": pull access denied for " + image + ", repository does not exist");
  });
}

Status SimDocker::StreamEvents(const docker::EventFilter&, const std::function<bool(const docker::Event&)>&,
                               std::stop_token) {
  return Status(Code::kUnsupported, "berth-sim: the event stream is not simulated");
}

}  // namespace berth::sim
