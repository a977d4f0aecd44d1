#include "tools/berth-sim/simulation.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <thread>

#include "engine/engine.h"
#include "engine/events.h"
#include "replay/describe.h"
#include "tools/berth-sim/checker.h"
#include "tools/berth-sim/known_bugs.h"
#include "tools/berth-sim/scenario.h"
#include "tools/berth-sim/sim_docker.h"
#include "tools/berth-sim/sim_log.h"
#include "tools/berth-sim/sim_scheduler.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"

namespace berth::sim {
namespace {

using json = nlohmann::json;
namespace wf = berth::workflows;

constexpr int64_t kMs = 1000, kS = 1000 * kMs;
// Bounds on one step of the scenario: simulated time, scheduler tasks, real time (threaded).
constexpr int64_t kStepSimUsMax = 6 * 3600 * kS;
constexpr uint64_t kStepTasksMax = 2'000'000;
constexpr auto kStepRealMax = std::chrono::seconds(120);
constexpr int kRetriesMax = 200;  // a user retrying `berth up` through crashes and a full disk

// The switch onto the simulated scheduler, made by the compiler: the day EngineOptions gets
// its `Scheduler* scheduler`, this sets it and the simulator drives the engine's every task.
template <class O>
concept TakesScheduler = requires(O o, engine::Scheduler* s) { o.scheduler = s; };
template <class O>
void SetScheduler(O& o, engine::Scheduler* s) {
  if constexpr (TakesScheduler<O>) o.scheduler = s;
}

bool IsTerminalType(const std::string& t) {
  return t == engine::ev::kWorkflowCompleted || t == engine::ev::kWorkflowFailed ||
         t == engine::ev::kWorkflowCancelled;
}

// SHA-256 over each event's (seq, workflow_id, workflow_seq, type, payload, time_us,
// subjects), length-prefixed so field boundaries cannot shift.
class EventDigest {
 public:
  EventDigest() : ctx_(EVP_MD_CTX_new()) { EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr); }
  ~EventDigest() { EVP_MD_CTX_free(ctx_); }
  void Add(const eventlog::Event& e) {
    U64(e.seq);
    Str(e.workflow_id);
    U64(e.workflow_seq);
    Str(e.type);
    Str(e.payload);
    U64(uint64_t(e.time_us));
    U64(e.subjects.size());
    for (const auto& s : e.subjects) Str(s);
  }
  std::string Hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_DigestFinal_ex(ctx_, md, &n);
    std::string out;
    for (unsigned i = 0; i < n; ++i) out += fmt::format("{:02x}", md[i]);
    return out;
  }

 private:
  void U64(uint64_t v) {
    unsigned char b[8];
    for (int i = 0; i < 8; ++i) b[i] = uint8_t(v >> (8 * i));
    EVP_DigestUpdate(ctx_, b, 8);
  }
  void Str(const std::string& s) {
    U64(s.size());
    EVP_DigestUpdate(ctx_, s.data(), s.size());
  }
  EVP_MD_CTX* ctx_;
};

class Simulation {
 public:
  Simulation(uint64_t seed, const RunOptions& options);
  ~Simulation() { Teardown(); }
  RunResult Run();

 private:
  struct Running {
    size_t app = 0;
    Op op;
    std::string type, id;
    workflows::Blueprint bp;
    int64_t started_us = 0;
    bool cancel_sent = false;
    bool superseded = false;  // a later workflow of the same app ran after it (kRacing)
  };

  // World lifecycle.
  bool Boot();
  bool Restart();
  void StopProcess();
  void Teardown();
  engine::EngineOptions Options();
  void OnEvent(const eventlog::Event& e);

  // Driving.
  bool RunStep(std::vector<std::pair<size_t, Op>> ops, bool calm);
  bool StartOp(size_t app, const Op& op, Running* r);
  bool StartWorkflow(const std::string& type, const std::string& id, const std::string& input);
  bool CancelWorkflow(const std::string& id);
  bool WaitEnded(std::vector<Running>& running);
  void Idle(int64_t us);
  bool Ended(const std::string& id);
  void RefreshEnded(const std::vector<Running>& running);
  std::optional<engine::WorkflowSummary> Summary(const std::string& id);
  bool CheckOutcome(const Running& r, const engine::WorkflowSummary& sum, bool calm);

  // Results.
  bool Fail(const std::string& why);
  void Say(const std::string& line);
  std::string Clock() { return fmt::format("{:9.3f}s", double(clock_.NowUs() - SimClock::kEpochUs) / kS); }
  void PrintHistory();

  const uint64_t seed_;
  const RunOptions opt_;
  const bool simulated_;
  Rng rng_;
  SimClock clock_;
  DockerFaultRates docker_rates_;
  LogFaultRates log_rates_;
  SimDocker docker_;
  SimLog log_;
  EngineRandom engine_random_;
  Rng sched_rng_, scenario_rng_, id_rng_;
  engine::Registry registry_;
  std::unique_ptr<eventlog::EventLog> real_;
  std::unique_ptr<SimScheduler> sched_;
  std::shared_ptr<engine::Lane> log_lane_;
  std::unique_ptr<engine::Engine> engine_;

  std::mutex mu_;  // the observer runs on engine threads in the threaded mode
  std::set<std::string> ended_;
  std::map<std::string, int> events_of_;

  RunResult result_;
  uint64_t lives_ = 0;
};

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
      id_rng_(rng_.Split(6)) {
  // The activities' waits (the create fence) pass in simulated time; the fence is Berth's
  // default, longer than any late create the simulated daemon carries out.
  wf::DockerActivityOptions activity_options;
  if (simulated_) activity_options.sleep = [this](int64_t ms) { clock_.AdvanceBy(ms * 1000); };
  wf::RegisterDeploy(&registry_, [this] { return Result<docker::DockerClient*>(&docker_); },
                     activity_options);
  log_.OnDeath([this](SimLog::CrashKind) { docker_.SetCallerAlive(false); });
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
  Say("log faults " + log_rates_.ToString());
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

// ---- one step of the scenario --------------------------------------------------------------

bool Simulation::StartOp(size_t app, const Op& op, Running* r) {
  r->app = app;
  r->op = op;
  r->started_us = clock_.NowUs();
  const std::string& name = op.app;
  json input;
  if (op.kind == Op::kUndeploy) {
    r->type = "undeploy";
    input = {{"app", name}, {"by", "sim@berth-sim"}};
  } else {
    std::vector<wf::Diagnostic> diags;
    auto bp = wf::ParseBlueprint(op.model.Yaml(), "compose.yaml", "/tmp/berth-sim", "", &diags);
    if (!bp.ok()) return Fail("scenario: the generated blueprint does not parse: " + bp.status().ToString() + "\n" + op.model.Yaml());
    r->bp = *bp;
    r->type = "deploy";
    input = {{"app", name}, {"blueprint", wf::ToJson(*bp)}, {"cache", op.model.cache}, {"by", "sim@berth-sim"}};
  }
  r->id = fmt::format("{}-{}-{:08x}", r->type, name, id_rng_.Next() & 0xffffffffULL);
  Say(fmt::format("{} {}: {} ({}) {}", name, op.what, r->id, r->type,
                  op.kind == Op::kUndeploy ? "" : op.model.Describe()));
  ++result_.workflows;
  return StartWorkflow(r->type, r->id, input.dump());
}

bool Simulation::RunStep(std::vector<std::pair<size_t, Op>> ops, bool calm) {
  std::vector<Running> running;
  for (auto& [app, op] : ops) {
    ++result_.ops;
    if (op.kind == Op::kOperatorStop) {
      bool stopped = docker_.OperatorStop(op.container);
      Say(op.what + (stopped ? "" : " (it was not running)"));
      continue;
    }
    if (op.kind == Op::kRacing) {
      Op first = op, then = op;
      first.kind = Op::kDeploy;
      then.kind = op.then_undeploy ? Op::kUndeploy : Op::kDeploy;
      then.model = op.then_model;
      Running a, b;
      if (!StartOp(app, first, &a) || !StartOp(app, then, &b)) return false;
      a.superseded = true;
      running.push_back(std::move(a));
      running.push_back(std::move(b));
      continue;
    }
    Running r;
    if (!StartOp(app, op, &r)) return false;
    running.push_back(std::move(r));
  }
  if (!WaitEnded(running)) return false;
  // One deploy or undeploy of an app at a time: a racing second one starts its first step
  // only after the first one's end is in the log.
  for (size_t i = 0; i + 1 < running.size(); ++i) {
    if (!running[i].superseded) continue;
    uint64_t first_end = 0, second_step = 0;
    (void)log_.ScanWorkflow(running[i].id, [&](const eventlog::Event& e) {
      if (IsTerminalType(e.type)) first_end = e.seq;
      return true;
    });
    (void)log_.ScanWorkflow(running[i + 1].id, [&](const eventlog::Event& e) {
      if (e.type == engine::ev::kActivityStarted && !second_step) second_step = e.seq;
      return !second_step;
    });
    if (second_step && second_step < first_end)
      return Fail(fmt::format("exclusive: {} ran step seq {} before {} ended (seq {}); one "
                              "deploy or undeploy of an app at a time",
                              running[i + 1].id, second_step, running[i].id, first_end));
  }
  for (const auto& r : running) {
    auto sum = Summary(r.id);
    if (!sum) return Fail("workflow " + r.id + " ended but has no summary row");
    Say(fmt::format("{} {}: {}{}", r.id, r.op.what, engine::RunStatusName(sum->status),
                    sum->error.empty() ? "" : " (" + sum->error + ")"));
    if (!CheckOutcome(r, *sum, calm)) return false;
  }
  if (std::string v = CheckNoDuplicates(docker_); !v.empty()) return Fail(v);
  return true;
}

bool Simulation::CheckOutcome(const Running& r, const engine::WorkflowSummary& sum, bool calm) {
  using engine::RunStatus;
  if (r.superseded) {
    // The world is the later workflow's now; what must hold of this one is its own end.
    if (sum.status == RunStatus::kCompleted && r.op.model.Bad())
      return Fail("deploy " + r.id + " of a broken blueprint (" + r.op.what + ") completed");
    if (sum.status == RunStatus::kCancelled)
      return Fail("deploy " + r.id + " ended cancelled, but nobody cancelled it");
    return true;
  }
  if (r.type == "undeploy") {
    if (sum.status == RunStatus::kCompleted) {
      if (std::string v = CheckUndeployed(docker_, r.op.app); !v.empty()) return Fail(v);
    } else if (calm) {
      return Fail("liveness: undeploy " + r.id + " " + RunStatusName(sum.status) +
                  " with no faults: " + sum.error);
    }
    return true;
  }
  bool bad = r.op.model.Bad();
  if (sum.status == RunStatus::kCompleted) {
    if (bad) return Fail("deploy " + r.id + " of a broken blueprint (" + r.op.what + ") completed");
    if (std::string v = CheckDeployed(docker_, r.bp, r.started_us, calm); !v.empty()) return Fail(v);
    return true;
  }
  if (sum.status == RunStatus::kCancelled && r.op.kind != Op::kCancelledDeploy)
    return Fail("deploy " + r.id + " ended cancelled, but nobody cancelled it");
  auto st = engine::FoldWorkflow(log_, r.id);
  if (!st.ok()) return Fail("folding " + r.id + ": " + st.status().ToString());
  if (std::string v = CheckUndone(docker_, *st); !v.empty()) return Fail(v);
  if (calm && !bad && sum.status == RunStatus::kFailed)
    return Fail("liveness: deploy " + r.id + " failed with no faults: " + sum.error);
  return true;
}

// ---- the run -------------------------------------------------------------------------------

RunResult Simulation::Run() {
  if (!Boot()) return result_;
  Scenario sc = Scenario::Draw(scenario_rng_);
  size_t steps = 0;
  for (const auto& a : sc.apps) steps = std::max(steps, a.ops.size());
  for (size_t app = 0; app < sc.apps.size(); ++app)
    Say(fmt::format("app {}: {}", sc.apps[app].initial.name, sc.apps[app].initial.Describe()));
  bool ok = true;
  for (size_t i = 0; ok && i < steps; ++i) {
    std::vector<std::pair<size_t, Op>> ops;
    for (size_t app = 0; app < sc.apps.size(); ++app) {
      if (i >= sc.apps[app].ops.size()) continue;
      ops.emplace_back(app, sc.apps[app].ops[i]);
    }
    ok = RunStep(ops, false);
  }
  if (ok) {
    // Calm: no more faults; the last declaration must deploy exactly, then go away.
    docker_.Calm();
    log_.Calm();
    Say("calm: no more faults");
    std::vector<std::pair<size_t, Op>> up, down;
    for (size_t app = 0; app < sc.apps.size(); ++app) {
      const std::string& name = sc.apps[app].initial.name;
      Op d{Op::kDeploy, name, "final deploy", sc.apps[app].final_model, 0, "", false, {}};
      Op u{Op::kUndeploy, name, "final undeploy", {}, 0, "", false, {}};
      up.emplace_back(app, d);
      down.emplace_back(app, u);
    }
    ok = RunStep(up, true) && RunStep(down, true);
  }
  if (ok && log_.dead()) ok = Restart();
  if (ok && sched_)
    Say(fmt::format("end: {} timer(s) still armed with no workflow running (attempt time limits "
                    "of finished attempts; each holds its workflow's instance)", sched_->TimerCount()));
  if (ok) {
    if (engine_->Running() != 0)
      ok = Fail(fmt::format("the engine still runs {} workflow(s) at the end", engine_->Running()));
    if (std::string v = CheckAudit(docker_, log_); ok && !v.empty()) ok = Fail(v);
    if (std::string v = CheckLog(log_, registry_); ok && !v.empty()) ok = Fail(v);
  }
  EventDigest digest;
  if (real_) {
    (void)real_->ScanRange(1, real_->LastSeq(), [&](const eventlog::Event& e) {
      digest.Add(e);
      ++result_.events;
      return true;
    });
  }
  result_.digest = digest.Hex();
  if (!result_.ok && real_) {
    result_.known_bug = ClassifyKnown(result_.failure, *real_, registry_, docker_);
    if (!result_.known_bug.empty()) Say("known bug: " + result_.known_bug);
  }
  if (opt_.history) PrintHistory();
  auto dc = docker_.counters();
  auto lc = log_.counters();
  result_.faults = dc.faults + dc.restarts + lc.nospace_stretches;
  result_.crashes = lc.crashes;
  result_.sim_us = clock_.NowUs() - SimClock::kEpochUs;
  Say(fmt::format("result: {} ({} ops, {} workflows, {} events, {} crashes, {} docker faults, "
                  "{} daemon restarts, {} full-disk stretches, {} docker calls, {} creates that "
                  "met their own container)",
                  result_.ok ? "ok" : "FAILED", result_.ops, result_.workflows, result_.events,
                  lc.crashes, dc.faults, dc.restarts, lc.nospace_stretches, dc.calls,
                  dc.own_name_conflicts));
  Teardown();
  return result_;
}

void Simulation::PrintHistory() {
  if (!real_) return;
  result_.output += "history:\n";
  (void)real_->ScanRange(1, real_->LastSeq(), [&](const eventlog::Event& e) {
    std::string subjects;
    for (const auto& s : e.subjects) subjects += (subjects.empty() ? "" : ",") + s;
    result_.output += fmt::format("{:>6} {:>10.3f}s {:<34} #{:<3} {:<18} {}{}\n", e.seq,
                                  double(e.time_us - SimClock::kEpochUs) / kS, e.workflow_id,
                                  e.workflow_seq, e.type, replay::Describe(e),
                                  subjects.empty() ? "" : "  [" + subjects + "]");
    return true;
  });
}

}  // namespace

bool EngineTakesScheduler() { return TakesScheduler<engine::EngineOptions>; }

RunResult RunSeed(uint64_t seed, const RunOptions& options) {
  Simulation sim(seed, options);
  return sim.Run();
}

}  // namespace berth::sim
