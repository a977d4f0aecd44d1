// The simulated process: built, crashed and recovered, waited on, and asked to start and
// cancel workflows as a user retrying through crashes and a full disk would.
#include "tools/berth-sim/simulation_internal.h"

namespace berth::sim::internal {

Simulation::Simulation(uint64_t seed, const RunOptions& options)
    : seed_(seed),
      opt_(options),
      simulated_(TakesScheduler<engine::EngineOptions> && !options.force_threaded),
      rng_(seed),
      clock_(/*real_time=*/!simulated_),
      docker_rates_(DockerFaultRates::Draw(rng_)),
      log_rates_(LogFaultRates::Draw(rng_)),
      docker_(&clock_, rng_.Split(1), docker_rates_),
      log_(&clock_, rng_.Split(2), log_rates_),
      engine_random_(rng_.Split(3)),
      sched_rng_(rng_.Split(4)),
      scenario_rng_(rng_.Split(5)),
      id_rng_(rng_.Split(6)),
      cloud_rng_(rng_.Split(7)),
      provision_rates_(ProvisionFaultRates::Draw(cloud_rng_)),
      cloud_(&clock_, cloud_rng_.Split(1), docker_rates_, provision_rates_) {
  // The activities' waits (the create fence) pass in simulated time; the fence is Berth's
  // default, longer than any late create the simulated daemon carries out.
  wf::DockerActivityOptions activity_options;
  if (simulated_) activity_options.sleep = [this](int64_t ms) { clock_.AdvanceBy(ms * 1000); };
  auto gate = std::make_shared<wf::HostGate>(&log_);
  activity_options.host_guard = [gate](const std::string& host) { return gate->Enter(host); };
  // The cloud's hosts (sim_cloud.h): each a SimDocker of its own, reached by name as
  // HostClients reaches a host of the inventory; the drivers of `static` and `local` hosts
  // are the cloud's simulated ones.
  wf::RegisterDeploy(
      &registry_, [this] { return Result<docker::DockerClient*>(&docker_); }, activity_options,
      [this](const std::string& host) -> Result<docker::DockerClient*> {
        if (SimDocker* d = cloud_.Find(host)) return d;
        return Status(Code::kNotFound, "no host " + host + " in the simulated cloud");
      });
  wf::RegisterHosts(
      &registry_, [this] { return wf::LoadInventory(log_); },
      [this](const std::string&) -> Result<std::unique_ptr<hosts::HostDriver>> { return cloud_.Driver(); },
      [this](const hosts::HostSpec& spec) -> Result<std::shared_ptr<docker::DockerClient>> {
        SimDocker* d = cloud_.Find(spec.name);
        if (!d) return Status(Code::kUnavailable, "host " + spec.name + ": no engine answers at " + spec.endpoint);
        return std::shared_ptr<docker::DockerClient>(d, [](docker::DockerClient*) {});  // the cloud owns it
      },
      gate, [this](const std::string& app, const std::set<std::string>& hosts) { return wf::Holdings(log_, app, hosts); });
  log_.OnDeath([this](SimLog::CrashKind) {
    docker_.SetCallerAlive(false);
    cloud_.SetCallerAlive(false);
  });
  result_.seed = seed;
  result_.simulated = simulated_;
}

void Simulation::Say(const std::string& line) {
  if (opt_.narrate) result_.output += "[" + Clock() + "] " + line + "\n";
}

bool Simulation::Fail(const std::string& why) {
  if (result_.ok) {
    result_.ok = false;
    result_.failure = why;
    Say("FAILED: " + why);
  }
  return false;
}

engine::EngineOptions Simulation::Options() {
  engine::EngineOptions o;
  o.threads = 2;
  o.activity_threads = 4;
  o.clock = &clock_;
  o.random = &engine_random_;
  o.pace_decisions = false;  // pacing reads the machine's monotonic clock: not deterministic
  o.after_effect = [this](uint64_t) { log_.AfterEffect(); };
  o.observer = [this](const eventlog::Event& e) { OnEvent(e); };
  SetScheduler(o, sched_.get());
  return o;
}

void Simulation::OnEvent(const eventlog::Event& e) {
  std::lock_guard<std::mutex> g(mu_);
  events_of_[e.workflow_id]++;
  if (IsTerminalType(e.type)) ended_.insert(e.workflow_id);
}

// ---- the world: boot, crash and restart, teardown ----------------------------------------

bool Simulation::Boot() {
  std::error_code ec;
  std::filesystem::remove_all(opt_.work_dir, ec);
  Say(fmt::format("seed {} ({}): docker faults {}", seed_,
                  simulated_ ? "simulated scheduler" : "threaded engine, not reproducible",
                  docker_rates_.ToString()));
  Say("log faults " + log_rates_.ToString() + "; " + provision_rates_.ToString());
  return Restart();
}

bool Simulation::Restart() {
  if (lives_ > 0)
    Say(fmt::format("crash #{} ({}): the process dies; reopening the log and recovering",
                    log_.counters().crashes, CrashKindName(log_.last_crash())));
  StopProcess();  // dead process first
  eventlog::Options lo;
  lo.sync = false;  // the simulator's crashes are at append boundaries, not power cuts
  lo.flush_on_close = false;  // a dead process flushes nothing: the next open replays the WAL
  auto opened = eventlog::EventLog::Open(opt_.work_dir, lo);
  if (!opened.ok()) return Fail("reopening the log: " + opened.status().ToString());
  real_ = std::move(opened).value();
  ++lives_;
  SimLog::Post post;
  if (simulated_) {
    sched_ = std::make_unique<SimScheduler>(&clock_, sched_rng_.Split(lives_));
    log_lane_ = sched_->NewLane();
    post = [this](std::function<void()> f) { sched_->Post(*log_lane_, std::move(f)); };
  }
  log_.Attach(real_.get(), post);
  docker_.SetCallerAlive(true);
  cloud_.SetCallerAlive(true);
  engine_ = std::make_unique<engine::Engine>(&log_, &registry_, Options());
  size_t resumed = 0;
  Status s = engine_->Recover(&resumed);
  if (!s.ok() && !log_.dead()) return Fail("Recover: " + s.ToString());
  if (lives_ > 1) Say(fmt::format("recovered: {} workflow(s) resumed", resumed));
  return true;
}

// Nothing the process queued runs any more, its threads end, its log closes.
void Simulation::StopProcess() {
  if (sched_) sched_->Stop();
  log_.FlushCallbacks();
  engine_.reset();
  sched_.reset();
  log_.Detach();
  real_.reset();
}

void Simulation::Teardown() { StopProcess(); }

// ---- waiting for workflows -----------------------------------------------------------------

std::optional<engine::WorkflowSummary> Simulation::Summary(const std::string& id) {
  std::string bytes;
  if (!log_.GetProjection(engine::SummaryKey(id), &bytes).ok()) return std::nullopt;
  engine::WorkflowSummary s;
  if (!engine::DecodeSummary(bytes, &s).ok()) return std::nullopt;
  return s;
}

bool Simulation::Ended(const std::string& id) {
  std::lock_guard<std::mutex> g(mu_);
  return ended_.count(id) > 0;
}

// An end made durable by a crash-after-append was never observed: read it from the log.
void Simulation::RefreshEnded(const std::vector<Running>& running) {
  for (const auto& r : running) {
    if (r.id.empty() || Ended(r.id)) continue;
    auto s = Summary(r.id);
    if (s && engine::IsTerminal(s->status)) {
      std::lock_guard<std::mutex> g(mu_);
      ended_.insert(r.id);
    }
  }
}

void Simulation::Idle(int64_t us) {
  if (simulated_) {
    sched_->RunUntil(clock_.NowUs() + us, kStepTasksMax);
  } else {
    clock_.AdvanceBy(us);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

bool Simulation::WaitEnded(std::vector<Running>& running) {
  int64_t t0 = clock_.NowUs();
  auto real0 = std::chrono::steady_clock::now();
  for (uint64_t n = 0;; ++n) {
    if (log_.dead()) {
      if (!Restart()) return false;
      RefreshEnded(running);
    }
    bool all = true;
    for (auto& r : running) {
      if (r.id.empty() || Ended(r.id)) continue;
      all = false;
      if (r.op.kind == Op::kCancelledDeploy && !r.cancel_sent) {
        int seen;
        {
          std::lock_guard<std::mutex> g(mu_);
          seen = events_of_[r.id];
        }
        if (seen >= r.op.cancel_after_events) {
          r.cancel_sent = true;
          Say(fmt::format("cancel {} after {} events", r.id, seen));
          if (!CancelWorkflow(r.id)) return false;
        }
      }
    }
    if (all) return true;
    std::string waiting;
    for (const auto& r : running)
      if (!r.id.empty() && !Ended(r.id)) waiting += " " + r.id;
    if (clock_.NowUs() - t0 > kStepSimUsMax)
      return Fail("liveness: still running after 6 simulated hours:" + waiting);
    if (simulated_) {
      if (n > kStepTasksMax) return Fail("liveness: still running after 2M tasks:" + waiting);
      if (!sched_->RunOne() && !log_.dead())
        return Fail("stuck: nothing is scheduled (no task, no timer) but these are running:" + waiting);
    } else {
      if (std::chrono::steady_clock::now() - real0 > kStepRealMax)
        return Fail("liveness: still running after 120 s of real time (threaded engine):" + waiting);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  }
}

// ---- starting and cancelling, as a user retrying through crashes and a full disk --------

bool Simulation::StartWorkflow(const std::string& type, const std::string& id,
                               const std::string& input) {
  for (int attempt = 0; attempt < kRetriesMax; ++attempt) {
    if (log_.dead() && !Restart()) return false;
    if (Summary(id)) return true;  // durable already (the append landed, the answer did not)
    auto r = engine_->Start({type, id, input, eventlog::Actor::kUser, true});
    if (r.ok()) return true;
    if (log_.dead()) continue;
    if (r.status().code() == Code::kNoSpace) {
      Idle(200 * kMs);
      continue;
    }
    return Fail("Start " + id + " refused: " + r.status().ToString());
  }
  return Fail("Start " + id + ": still refused after " + std::to_string(kRetriesMax) + " tries");
}

bool Simulation::CancelWorkflow(const std::string& id) {
  for (int attempt = 0; attempt < kRetriesMax; ++attempt) {
    if (log_.dead() && !Restart()) return false;
    Status s = engine_->Cancel(id);
    if (s.ok() || s.code() == Code::kConflict) return true;  // kConflict: it ended first
    if (log_.dead()) continue;
    if (s.code() == Code::kNoSpace) {
      Idle(200 * kMs);
      continue;
    }
    return Fail("Cancel " + id + " refused: " + s.ToString());
  }
  return Fail("Cancel " + id + ": still refused after " + std::to_string(kRetriesMax) + " tries");
}

}  // namespace berth::sim::internal
