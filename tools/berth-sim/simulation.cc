// One seed's run: the scenario's operations, the checks after each, and the end of run.
#include "tools/berth-sim/simulation_internal.h"

#include <openssl/evp.h>

namespace berth::sim {
namespace internal {
namespace {

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

}  // namespace

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
  // As `berth up` and `berth down` do: the cloud as it stands goes into the input.
  for (int attempt = 0; cloud_on_; ++attempt) {
    if (log_.dead() && !Restart()) return false;
    Status s = wf::AddCloud(log_, r->type, &input);
    if (s.ok()) break;
    if (!log_.dead() || attempt >= kRetriesMax) return Fail("reading the cloud for " + name + ": " + s.ToString());
  }
  r->id = fmt::format("{}-{}-{:08x}", r->type, name, id_rng_.Next() & 0xffffffffULL);
  Say(fmt::format("{} {}: {} ({}) {}", name, op.what, r->id, r->type,
                  op.kind == Op::kUndeploy ? "" : op.model.Describe()));
  ++result_.workflows;
  return StartWorkflow(r->type, r->id, input.dump());
}

bool Simulation::RunStep(std::vector<std::pair<size_t, Op>> ops, bool calm, std::vector<HostOp> host_ops) {
  std::vector<Running> running;
  for (const auto& h : host_ops) {
    ++result_.ops;
    Running r;
    if (!StartHostOp(h, &r)) return false;
    if (!r.id.empty()) running.push_back(std::move(r));
  }
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
    if (!(r.type == "host" ? CheckHostOutcome(r, *sum, calm) : CheckOutcome(r, *sum, calm))) return false;
  }
  if (std::string v = CheckNoDuplicates(MakeWorld()); !v.empty()) return Fail(v);
  return !cloud_on_ || CheckCloud();
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
      if (std::string v = CheckUndeployed(MakeWorld(), r.op.app); !v.empty()) return Fail(v);
    } else if (calm) {
      return Fail("liveness: undeploy " + r.id + " " + RunStatusName(sum.status) +
                  " with no faults: " + sum.error);
    }
    return true;
  }
  bool bad = r.op.model.Bad();
  if (sum.status == RunStatus::kCompleted) {
    if (bad) return Fail("deploy " + r.id + " of a broken blueprint (" + r.op.what + ") completed");
    if (std::string v = CheckDeployed(MakeWorld(), r.bp, r.started_us, calm); !v.empty()) return Fail(v);
    return true;
  }
  if (sum.status == RunStatus::kCancelled && r.op.kind != Op::kCancelledDeploy)
    return Fail("deploy " + r.id + " ended cancelled, but nobody cancelled it");
  auto st = engine::FoldWorkflow(log_, r.id);
  if (!st.ok()) return Fail("folding " + r.id + ": " + st.status().ToString());
  if (std::string v = CheckUndone(MakeWorld(), *st); !v.empty()) return Fail(v);
  if (calm && !bad && sum.status == RunStatus::kFailed)
    return Fail("liveness: deploy " + r.id + " failed with no faults: " + sum.error);
  return true;
}

// ---- the run -------------------------------------------------------------------------------

RunResult Simulation::Run() {
  if (!Boot()) return result_;
  Scenario sc = Scenario::Draw(scenario_rng_);
  if (opt_.hosts) {
    Rng r = cloud_rng_.Split(2);
    Scenario::DrawCloud(r, &sc);
  }
  cloud_on_ = sc.cloud.on;
  if (cloud_on_ && !AddInitialHosts(sc.cloud.initial)) return Finish(false);
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
    ok = RunStep(ops, false, cloud_on_ ? sc.cloud.ops[i] : std::vector<HostOp>());
  }
  if (ok) {
    // Calm: no more faults; the last declaration must deploy exactly, then go away.
    docker_.Calm();
    log_.Calm();
    cloud_.Calm();
    Say("calm: no more faults");
    if (cloud_on_) ok = CalmCloud();
    std::vector<std::pair<size_t, Op>> up, down;
    for (size_t app = 0; app < sc.apps.size(); ++app) {
      const std::string& name = sc.apps[app].initial.name;
      Op d{Op::kDeploy, name, "final deploy", sc.apps[app].final_model, 0, "", false, {}};
      Op u{Op::kUndeploy, name, "final undeploy", {}, 0, "", false, {}};
      up.emplace_back(app, d);
      down.emplace_back(app, u);
    }
    ok = ok && RunStep(up, true) && RunStep(down, true);
    if (ok && cloud_on_) ok = RemoveAllHosts();
  }
  if (ok && log_.dead()) ok = Restart();
  return Finish(ok);
}

RunResult Simulation::Finish(bool ok) {
  if (ok && sched_)
    Say(fmt::format("end: {} timer(s) still armed with no workflow running (attempt time limits "
                    "of finished attempts; each holds its workflow's instance)", sched_->TimerCount()));
  if (ok) {
    if (engine_->Running() != 0)
      ok = Fail(fmt::format("the engine still runs {} workflow(s) at the end", engine_->Running()));
    if (std::string v = CheckAudit(MakeWorld(), log_); ok && !v.empty()) ok = Fail(v);
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
  auto cc = cloud_.counters();
  for (const auto& h : cloud_.Hosts()) {
    auto hc = h.docker->counters();
    dc.faults += hc.faults;
    dc.restarts += hc.restarts;
    dc.calls += hc.calls;
    dc.own_name_conflicts += hc.own_name_conflicts;
  }
  if (cloud_on_)
    Say(fmt::format("cloud: {} host(s) made, {} provision(s), {} provisioner fault(s), {} deprovision(s)",
                    cloud_.Hosts().size(), cc.provisions, cc.provision_faults, cc.deprovisions));
  result_.faults = dc.faults + dc.restarts + lc.nospace_stretches + cc.provision_faults;
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


}  // namespace internal

using internal::Simulation;
using internal::TakesScheduler;

bool EngineTakesScheduler() { return TakesScheduler<engine::EngineOptions>; }

RunResult RunSeed(uint64_t seed, const RunOptions& options) {
  Simulation sim(seed, options);
  return sim.Run();
}

}  // namespace berth::sim
