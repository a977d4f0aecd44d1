// Cloud seeds: the hosts at boot, the host operations of a step (run as `host` workflows
// alongside the apps' deploys), the calm phase's end of the cloud, and the checks of the
// cloud after every step.
#include "tools/berth-sim/simulation_internal.h"

#include "workflows/deploy/names.h"

namespace berth::sim::internal {
namespace {

using docker::LabelValue;

hosts::HostSpec StaticSpec(const std::string& name) {
  hosts::HostSpec spec;
  spec.name = name;
  spec.endpoint = SimCloud::Endpoint(name);
  spec.labels["zone"] = (name.back() - '0') % 2 ? "a" : "b";
  return spec;
}

const char* Verb(HostOp::Kind k) {
  switch (k) {
    case HostOp::kAdd: return "add";
    case HostOp::kRemove: return "remove";
    case HostOp::kCordon: return "cordon";
    case HostOp::kUncordon: return "uncordon";
    case HostOp::kPartition: return "partition";
  }
  return "?";
}

}  // namespace

World Simulation::MakeWorld() const {
  World w;
  w.live.push_back(&docker_);
  for (const auto& h : cloud_.Hosts()) (h.gone ? w.gone : w.live).push_back(h.docker);
  return w;
}

std::optional<wf::Inventory> Simulation::ReadInventory() {
  for (int attempt = 0; attempt < kRetriesMax; ++attempt) {
    if (log_.dead() && !Restart()) return std::nullopt;
    auto inv = wf::LoadInventory(log_);
    if (inv.ok()) return *inv;
    if (!log_.dead()) {
      Fail("reading the cloud's inventory: " + inv.status().ToString());
      return std::nullopt;
    }
  }
  Fail("reading the cloud's inventory: the log died " + std::to_string(kRetriesMax) + " times");
  return std::nullopt;
}

bool Simulation::StartHost(const std::string& op, const std::string& name, const std::string& why,
                           Running* r, json host) {
  r->type = "host";
  r->host = name;
  r->op.what = why;
  r->started_us = clock_.NowUs();
  json input = {{"op", op}, {"by", "sim@berth-sim"}};
  if (op == "add") input["host"] = std::move(host);
  else input["name"] = name;
  r->id = fmt::format("host-{}-{}-{:08x}", op, name, id_rng_.Next() & 0xffffffffULL);
  Say(fmt::format("{}: {}", why, r->id));
  ++result_.workflows;
  return StartWorkflow("host", r->id, input.dump());
}

bool Simulation::StartHostOp(const HostOp& op, Running* r) {
  if (op.kind == HostOp::kAdd) {
    cloud_.MakeStatic(op.name);
    return StartHost("add", op.name, op.What(), r, hosts::ToJson(StaticSpec(op.name)));
  }
  auto inv = ReadInventory();
  if (!inv) return false;
  std::vector<std::string> names;  // in inventory order: the pick is the seed's
  for (const auto& h : inv->hosts) {
    bool fits = op.kind == HostOp::kRemove     ? h.spec.name != "h1"
                : op.kind == HostOp::kCordon   ? !h.cordoned
                : op.kind == HostOp::kUncordon ? h.cordoned
                                               : true;
    if (fits) names.push_back(h.spec.name);
  }
  if (names.empty()) {
    Say(op.What() + ": no host it may act on");
    return true;
  }
  const std::string& name = names[op.pick % names.size()];
  if (op.kind == HostOp::kPartition) {
    SimDocker* d = cloud_.Find(name);
    if (!d) return Fail("host " + name + " is in the inventory but the simulated cloud never made it");
    d->Unreachable(clock_.NowUs() + op.partition_s * kS);
    Say(fmt::format("partition: host {} cannot be reached for {} s", name, op.partition_s));
    return true;
  }
  return StartHost(Verb(op.kind), name, fmt::format("host {} {}", Verb(op.kind), name), r);
}

bool Simulation::CheckHostOutcome(const Running& r, const engine::WorkflowSummary& sum, bool calm) {
  using engine::RunStatus;
  if (sum.status == RunStatus::kCancelled)
    return Fail("host workflow " + r.id + " ended cancelled, but nobody cancelled it");
  if (calm && sum.status != RunStatus::kCompleted)
    return Fail("liveness: " + r.op.what + " (" + r.id + ") " + RunStatusName(sum.status) +
                " with no faults: " + sum.error);
  return true;
}

// Runs host workflows (one at a time, as the engine runs them) to their ends; each must
// complete. The boot's adds are retried: a cloud seed needs its first hosts to exist.
bool Simulation::AddInitialHosts(const std::vector<std::string>& names) {
  constexpr int kTries = 30;
  for (const auto& n : names) {
    cloud_.MakeStatic(n);
    for (int attempt = 1;; ++attempt) {
      std::vector<Running> one(1);
      if (!StartHost("add", n, fmt::format("boot: host add {} (try {})", n, attempt), &one[0],
                     hosts::ToJson(StaticSpec(n))))
        return false;
      if (!WaitEnded(one)) return false;
      auto sum = Summary(one[0].id);
      if (!sum) return Fail("workflow " + one[0].id + " ended but has no summary row");
      if (sum->status == engine::RunStatus::kCompleted) break;
      Say(fmt::format("{}: {} ({})", one[0].id, engine::RunStatusName(sum->status), sum->error));
      if (attempt >= kTries)
        return Fail(fmt::format("boot: host add {} failed {} times; last: {}", n, kTries, sum->error));
    }
  }
  return true;
}

// The calm phase's start: every partition healed, every host uncordoned, so the final
// deploy has the whole cloud.
bool Simulation::CalmCloud() {
  for (const auto& h : cloud_.Hosts())
    if (SimDocker* d = h.gone ? nullptr : cloud_.Find(h.name)) d->Heal();
  auto inv = ReadInventory();
  if (!inv) return false;
  std::vector<Running> running;
  for (const auto& h : inv->hosts) {
    if (!h.cordoned) continue;
    running.emplace_back();
    if (!StartHost("uncordon", h.spec.name, "calm: host uncordon " + h.spec.name, &running.back())) return false;
  }
  if (!WaitEnded(running)) return false;
  for (const auto& r : running) {
    auto sum = Summary(r.id);
    if (!sum) return Fail("workflow " + r.id + " ended but has no summary row");
    if (!CheckHostOutcome(r, *sum, true)) return false;
  }
  return CheckCloud();
}

// The calm phase's end: after the final undeploys every host is empty, so every remove
// completes, every `local` host is deprovisioned and the inventory is empty.
bool Simulation::RemoveAllHosts() {
  auto inv = ReadInventory();
  if (!inv) return false;
  std::vector<Running> running;
  for (const auto& h : inv->hosts) {
    running.emplace_back();
    if (!StartHost("remove", h.spec.name, "end: host remove " + h.spec.name, &running.back())) return false;
  }
  if (!WaitEnded(running)) return false;
  for (const auto& r : running) {
    auto sum = Summary(r.id);
    if (!sum) return Fail("workflow " + r.id + " ended but has no summary row");
    Say(fmt::format("{} {}: {}", r.id, r.op.what, engine::RunStatusName(sum->status)));
    if (!CheckHostOutcome(r, *sum, true)) return false;
  }
  inv = ReadInventory();
  if (!inv) return false;
  if (!inv->hosts.empty())
    return Fail("end: the inventory still holds " + inv->hosts.front().spec.name + " after every host was removed");
  for (const auto& h : cloud_.Hosts())
    if (h.driver == "local" && !h.gone)
      return Fail("leak: local host " + h.name + " still runs after every host was removed");
  return CheckCloud();
}

// After every step of a cloud seed:
//   - no host was deprovisioned while it held Berth's containers (SimCloud saw it happen);
//   - every host in the inventory exists and is not deprovisioned;
//   - a `local` host that runs is in the inventory (no provision or decommission leaked one);
//   - a host that runs but is not in the inventory (a removed static host) holds nothing of
//     Berth's, nor does the DOCKER_HOST engine (h1 is never removed, so a cloud seed always
//     has hosts and never places there);
//   - each Berth container on a host is where its latest recorded create placed it, and is
//     labelled with that host.
bool Simulation::CheckCloud() {
  if (std::string v = cloud_.violation(); !v.empty()) return Fail(v);
  auto inv = ReadInventory();
  if (!inv) return false;
  std::set<std::string> in;
  for (const auto& h : inv->hosts) {
    in.insert(h.spec.name);
    SimDocker* d = cloud_.Find(h.spec.name);
    if (!d || d->gone())
      return Fail("inventory: host " + h.spec.name + " is in the cloud's inventory but its machine is " +
                  (d ? "deprovisioned" : "not made"));
  }
  for (const auto& c : docker_.Containers())
    if (!LabelValue(c.labels, wf::kLabelApp).empty())
      return Fail("placement: " + c.name + " is on the DOCKER_HOST engine, but the cloud has hosts");
  for (const auto& h : cloud_.Hosts()) {
    if (h.gone) continue;
    bool listed = in.count(h.name) > 0;
    if (!listed && h.driver == "local")
      return Fail("leak: local host " + h.name + " runs but is not in the inventory");
    for (const auto& c : h.docker->Containers()) {
      if (LabelValue(c.labels, wf::kLabelApp).empty()) continue;
      if (!listed)
        return Fail("orphan: " + c.name + " (" + c.status + ") is on host " + h.name +
                    ", which is not in the cloud any more: it was removed while it held a container");
      if (LabelValue(c.labels, wf::kLabelRole) == "install") continue;  // no name of Berth's
      auto e = wf::Explain(log_, c.name);
      if (!e.ok() && log_.dead()) {
        if (!Restart()) return false;
        e = wf::Explain(log_, c.name);
      }
      if (!e.ok()) return Fail("explain: " + c.name + " on host " + h.name + ": " + e.status().ToString());
      std::string placed = (*e)["host"].get<std::string>();
      if (placed != h.name)
        return Fail(fmt::format("placement: {} is on host {}, but its latest recorded create (seq {}) "
                                "placed it on {}", c.name, h.name, (*e)["seq"].get<uint64_t>(), placed));
      if (LabelValue(c.labels, wf::kLabelHost) != h.name)
        return Fail(fmt::format("placement: {} on host {} is labelled {}={}", c.name, h.name, wf::kLabelHost,
                                LabelValue(c.labels, wf::kLabelHost)));
    }
  }
  return true;
}

}  // namespace berth::sim::internal
