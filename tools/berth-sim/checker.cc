#include "tools/berth-sim/checker.h"

#include <fmt/format.h>

#include <map>
#include <set>

#include "engine/events.h"
#include "replay/verify.h"
#include "workflows/deploy/names.h"

namespace berth::sim {
namespace {

namespace wf = berth::workflows;
using docker::LabelValue;

bool IsScratch(const docker::Labels& l) { return LabelValue(l, wf::kLabelRole) == "install"; }

std::string Describe(const SimDocker::ContainerView& c) {
  return fmt::format("{} ({}, exit {}{}{}, key {})", c.name, c.status, c.exit_code,
                     c.stop_cause.empty() ? "" : ", stopped by ", c.stop_cause,
                     LabelValue(c.labels, wf::kLabelKey));
}

}  // namespace

std::string CheckNoDuplicates(const World& world) {
  std::map<std::string, std::string> by_key, by_slot;
  for (const SimDocker* d : world.live)
  for (const auto& c : d->Containers()) {
    std::string key = LabelValue(c.labels, wf::kLabelKey);
    if (!key.empty()) {
      auto [it, fresh] = by_key.emplace(key, c.name);
      if (!fresh)
        return fmt::format("duplicate: containers {} and {} both carry berth.key {}", it->second,
                           c.name, key);
    }
    if (IsScratch(c.labels) || LabelValue(c.labels, wf::kLabelApp).empty()) continue;
    std::string slot = LabelValue(c.labels, wf::kLabelApp) + "/" +
                       LabelValue(c.labels, wf::kLabelService) + "/" +
                       LabelValue(c.labels, wf::kLabelIndex);
    auto [it, fresh] = by_slot.emplace(slot, c.name);
    if (!fresh)
      return fmt::format("duplicate: containers {} and {} are both replica {}", it->second,
                         c.name, slot);
  }
  return "";
}

std::string CheckDeployed(const World& world, const workflows::Blueprint& bp, int64_t since_us,
                          bool strict) {
  const std::string& app = bp.name;
  std::set<std::string> want;
  const std::map<std::string, std::string> config = wf::ServiceConfigHashes(bp);
  for (const auto& s : bp.services)
    for (int i = 1; i <= s.replicas; ++i) want.insert(wf::ContainerName(app, s.name, i));
  std::vector<const SimDocker*> holding;
  for (const SimDocker* d : world.live)
  for (const auto& c : d->Containers()) {
    if (LabelValue(c.labels, wf::kLabelApp) != app) continue;
    if (holding.empty() || holding.back() != d) holding.push_back(d);
    if (IsScratch(c.labels))
      return "orphan: install scratch container " + Describe(c) + " is left after deploy completed";
    std::string service = LabelValue(c.labels, wf::kLabelService);
    const workflows::ServiceDef* s = bp.FindService(service);
    if (!want.count(c.name) || !s)
      return "orphan: " + Describe(c) + " is labelled for app " + app + " but not declared";
    if (LabelValue(c.labels, wf::kLabelConfig) != config.at(s->name))
      return "stale: " + Describe(c) + " has config " + LabelValue(c.labels, wf::kLabelConfig) +
             ", the blueprint declares " + config.at(s->name);
    // Made completely: whatever the service's install (cached in the image, or run in the
    // container) and customize commands write is there.
    for (const auto* cmds : {&s->install, &s->customize})
      for (const auto& cmd : *cmds)
        for (const auto& f : SimDocker::FilesOf(cmd))
          if (!c.files.count(f))
            return "half-made: " + Describe(c) + " is kept as a replica but lacks " + f +
                   " (written by `" + cmd + "`)";
    bool excused = !strict && (c.stop_cause == "daemon-restart" ||
                               (c.stop_cause == "operator" && c.stop_us >= since_us));
    if (!c.running && !excused) return "not running: " + Describe(c) + " after deploy completed";
    want.erase(c.name);
  }
  if (!want.empty()) return "missing: " + *want.begin() + " is declared but not on the engine";
  for (const SimDocker* d : holding) {
    std::set<std::string> nets;
    for (const auto& n : d->Networks())
      if (LabelValue(n.labels, wf::kLabelApp) == app) nets.insert(n.name);
    for (const auto& n : bp.networks)
      if (!nets.count(n.docker_name))
        return "missing: network " + n.docker_name + (world.live.size() > 1 ? " on a host that holds containers of " + app : "");
  }
  return "";
}

std::string CheckUndone(const World& world, const engine::WorkflowState& state) {
  for (const SimDocker* d : world.live)
  for (const auto& c : d->Containers()) {
    if (LabelValue(c.labels, wf::kLabelWorkflow) != state.id) continue;
    std::string key = LabelValue(c.labels, wf::kLabelKey);
    if (IsScratch(c.labels))
      return fmt::format("left behind: {} {} left its install scratch container {}",
                         engine::RunStatusName(state.status), state.id, Describe(c));
    // berth.key is "<wf>/create/<service>/<n>"; the chain ends with "healthy/<service>/<n>".
    if (key.rfind(state.id + "/create/", 0) != 0)
      return fmt::format("label: {} is labelled berth.workflow={} but its berth.key is {}",
                         c.name, state.id, key);
    std::string step = key.substr(state.id.size() + 1);
    std::string healthy = "healthy" + step.substr(step.find('/'));
    if (!state.StepDone(healthy))
      return fmt::format("left behind: {} {} left half-made container {} (its step {} never completed)",
                         engine::RunStatusName(state.status), state.id, Describe(c), healthy);
  }
  return "";
}

std::string CheckUndeployed(const World& world, const std::string& app) {
  for (const SimDocker* d : world.live) {
  for (const auto& c : d->Containers())
    if (LabelValue(c.labels, wf::kLabelApp) == app)
      return "left behind: " + Describe(c) + " after undeploy of " + app + " completed";
  for (const auto& n : d->Networks())
    if (LabelValue(n.labels, wf::kLabelApp) == app)
      return "left behind: network " + n.name + " after undeploy of " + app + " completed";
  }
  return "";
}

std::string CheckAudit(const World& world, const eventlog::EventLog& log) {
  std::vector<const SimDocker*> all = world.live;
  all.insert(all.end(), world.gone.begin(), world.gone.end());
  for (const SimDocker* d : all)
  for (const auto& h : d->EverHeld()) {
    std::string key = LabelValue(h.labels, wf::kLabelKey);
    std::string wf_id = LabelValue(h.labels, wf::kLabelWorkflow);
    if (key.empty() || wf_id.empty()) continue;  // not Berth's
    if (IsScratch(h.labels)) {
      std::string step = key.substr(wf_id.size() + 1);
      bool found = false;
      Status s = log.ScanWorkflow(wf_id, [&](const eventlog::Event& e) {
        engine::ActivityStartedP p;
        if (e.type == engine::ev::kActivityStarted && engine::DecodePayload(e.payload, &p).ok())
          found |= p.step == step;
        return !found;
      });
      if (!s.ok()) return "audit: reading " + wf_id + ": " + s.ToString();
      if (!found)
        return fmt::format("audit: install container {} (key {}) has no step {} in {}'s history",
                           h.id.substr(0, 12), key, step, wf_id);
      continue;
    }
    bool found = false;
    Status s = log.ScanSubject(wf::ContainerSubject(h.name), [&](const eventlog::Event& e) {
      found |= e.workflow_id == wf_id;
      return !found;
    });
    if (!s.ok()) return "audit: reading container:" + h.name + ": " + s.ToString();
    if (!found)
      return fmt::format("audit: container {} (id {}, made by {}) has no event of {} under "
                         "subject container:{}",
                         h.name, h.id.substr(0, 12), key, wf_id, h.name);
  }
  return "";
}

std::string CheckLog(const eventlog::EventLog& log, const engine::Registry& registry) {
  replay::VerifyReport report;
  if (Status v = replay::Verify(log, registry, "", &report); !v.ok())
    return "replay --verify: " + v.ToString();
  std::string open;
  Status s = log.ScanOnce(engine::kOpenPrefix, [&](const std::string& key, const std::string&) {
    open = key.substr(std::string(engine::kOpenPrefix).size());
    return false;
  });
  if (!s.ok()) return "reading open workflows: " + s.ToString();
  if (!open.empty()) return "workflow " + open + " is still open at the end of the run";
  return "";
}

}  // namespace berth::sim
