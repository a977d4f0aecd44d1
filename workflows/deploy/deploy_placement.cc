#include "workflows/deploy/deploy_placement.h"

#include <set>

#include "workflows/deploy/docker_activities.h"
#include "workflows/deploy/names.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows::deployment {
namespace {

// No host fits: with x-berth.cloud.driver, a host is provisioned (one at a time: a child
// `host` workflow, provision-K) and placement tries again once it is there; false when
// the deploy must fail (the plan is failed, saying why).
bool Provision(const DeployInput& in, const std::string& container, const std::string& why,
               Plan* plan, View* view) {
  if (in.provision_driver.empty()) {
    plan->Fail(why);
    return false;
  }
  int k = 1;
  for (;; ++k) {
    const engine::ChildState* c = plan->Child("provision-" + std::to_string(k));
    if (!c) break;
    if (!c->ended) return true;  // one on its way: wait for it
    if (c->status != "completed") {
      plan->Fail(why + "; provisioning a host for it failed: " + c->result);
      return false;
    }
  }
  if (in.max_hosts > 0 && int64_t(view->hosts.size() + view->skipped.size()) >= in.max_hosts) {
    plan->Fail(why + "; the cloud is at its limit of " + std::to_string(in.max_hosts) +
               " hosts (x-berth.cloud.max_hosts), so none is provisioned");
    return false;
  }
  json host = {{"name", "auto-" + Sha256Hex(plan->id()).substr(0, 6) + "-" + std::to_string(k)},
               {"driver", in.provision_driver},
               {"labels", in.provision_labels}};
  plan->StartChild("provision-" + std::to_string(k), "host",
                   json{{"op", "add"}, {"host", host}, {"by", plan->id() + " (" + container + " fits no host)"}});
  return true;
}

}  // namespace

bool AroundUnreachable(const DeployInput& in, std::shared_ptr<const Observed>* obs, Plan* plan,
                       std::map<std::string, std::string>* skipped) {
  const Observed& o = **obs;
  const std::string& app = in.app;
  json down = json::array();
  std::vector<std::string> subjects = {AppSubject(app)};
  for (const auto& [h, err] : o.unreachable) {
    down.push_back(h);
    subjects.push_back(HostSubject(h));
  }
  if (!plan->Need("holdings", "host.holdings", [&] { return json{{"app", app}, {"hosts", down}}; }, subjects))
    return false;
  json held = json::parse(plan->Result("holdings"), nullptr, false);
  std::set<std::string> holding;
  if (held.is_object() && held.contains("containers") && held["containers"].is_object())
    for (const auto& [name, host] : held["containers"].items())
      if (host.is_string()) holding.insert(host.get<std::string>());
  std::shared_ptr<Observed> merged;  // made only when a host is observed again
  bool done = true;
  for (const auto& [h, err] : o.unreachable) {
    if (!holding.count(h)) {
      (*skipped)[h] = err;
      continue;
    }
    const std::string step = "observe@" + h;
    if (!plan->Need(step, "docker.observe", [&] { return json{{"app", app}, {"hosts", json::array({h})}}; },
                    {AppSubject(app), HostSubject(h)})) {
      done = false;
      continue;
    }
    auto again = ParseObserved(plan->Result(step));
    if (!again.ok()) {
      plan->Fail(step + ": " + again.status().ToString());
      return false;
    }
    const Observed& a = **again;
    if (!merged) merged = std::make_shared<Observed>(o);
    merged->containers.insert(merged->containers.end(), a.containers.begin(), a.containers.end());
    merged->networks.insert(merged->networks.end(), a.networks.begin(), a.networks.end());
    for (const auto& [host, census] : a.hosts) merged->hosts[host] = census;
  }
  // A plan failed by an earlier step goes on: what it made is undone by the walk after.
  if (!done) return false;
  if (merged) *obs = merged;  // its `unreachable` is not read after this
  return true;
}

// The hosts this deploy provisioned (its children provision-1, -2, ... that completed),
// as placement sees a new host: empty, with the cloud's labels and its engine's capacity.
std::vector<placement::Host> Provisioned(const DeployInput& in, const Plan& plan) {
  std::vector<placement::Host> out;
  for (int k = 1;; ++k) {
    const engine::ChildState* c = plan.Child("provision-" + std::to_string(k));
    if (!c || !c->ended) break;
    if (c->status != "completed") continue;
    json r = json::parse(c->result, nullptr, false);
    if (!r.is_object() || !r.contains("host")) continue;
    placement::Host h;
    h.name = r.value("name", "");
    h.labels = r["host"].value("labels", std::map<std::string, std::string>());
    h.registry = r["host"].value("registry", "");
    json facts = r.value("facts", json::object());
    h.cpus = double(facts.value("cpus", int64_t(0)));
    h.memory = facts.value("memory", int64_t(0));
    if (!h.name.empty()) out.push_back(std::move(h));
  }
  return out;
}

View MakeView(const DeployInput& in, const Observed& obs, const std::vector<placement::Host>& provisioned,
              const std::map<std::string, std::string>& skipped) {
  View v;
  v.skipped = skipped;
  for (const auto& h : in.hosts)
    if (!skipped.count(h.name)) v.hosts.push_back(h);
  v.hosts.insert(v.hosts.end(), provisioned.begin(), provisioned.end());
  for (size_t i = 0; i < v.hosts.size(); ++i) {
    placement::Host& h = v.hosts[i];
    v.index[h.name] = i;
    auto c = obs.hosts.find(h.name);
    if (c == obs.hosts.end()) continue;
    h.containers = c->second.containers;
    h.apps = c->second.apps;
    h.services = c->second.services;
    h.cpus_reserved = c->second.cpus_reserved;
    h.memory_reserved = c->second.memory_reserved;
  }
  for (const auto& c : obs.containers) {
    if (c.scratch) continue;
    const ServiceDef* svc = in.bp.FindService(c.service);
    placement::Request r{in.app, c.service, c.name};
    if (!svc || c.index < 1 || c.index > svc->replicas) v.Put(c.host, r, -1);  // goes for good
    else if (auto it = v.index.find(c.host); it != v.index.end()) v.hosts[it->second].names.insert(c.name);
  }
  return v;
}

int64_t ReservedMemory(const ServiceDef& svc) {
  auto it = svc.engine_host.find("MemoryReservation");
  if (it == svc.engine_host.end()) return 0;
  json j = json::parse(it->second, nullptr, false);
  return j.is_number_integer() ? j.get<int64_t>() : 0;
}

// Where replica `i` of `svc` goes, and the decision to record ("" host: the local engine).
// A replica that exists stays on its host while that host is in the cloud (a cordon stops
// only new containers); one this deploy already created, where its create step said; a new one where
// the chain places it (added to the view). nullopt: no host fits (the plan is failed, or
// a host is being provisioned for it: x-berth.cloud).
std::optional<std::pair<std::string, json>> HostOf(const DeployInput& in, const ServiceDef& svc,
                                                   const Observed& obs, const std::string& name, int i,
                                                   Plan* plan, View* view) {
  if (!view) return std::pair<std::string, json>{"", json()};
  for (const auto& c : obs.containers) {
    if (c.name != name || c.service != svc.name || c.scratch) continue;
    if (view->index.count(c.host))
      return std::pair<std::string, json>{c.host, json{{"host", c.host}, {"kept_on", "the host it was on"}}};
  }
  const std::string sfx = "/" + svc.name + "/" + std::to_string(i);
  placement::Request r{in.app, svc.name, name, svc.reserve_cpus, ReservedMemory(svc)};
  if (const std::string& made = plan->InputOf("create" + sfx); !made.empty()) {
    json j = json::parse(made, nullptr, false);
    std::string host = j.is_object() ? j.value("host", "") : "";
    view->Put(host, r, +1);
    return std::pair<std::string, json>{host, json()};
  }
  auto d = in.chain.at(svc.name)->Place(view->hosts, r);
  if (!d.ok()) {
    std::string why = "service " + svc.name + ": placement: " + d.status().message();
    for (const auto& [h, err] : view->skipped) why += "; skipped " + h + ", which does not answer (" + err + ")";
    Provision(in, name, why, plan, view);
    return std::nullopt;  // failed, or waiting for a host
  }
  view->Put(d->host, r, +1);
  json decision = d->ToJson();
  decision["chain"] = in.chain.at(svc.name)->Names();
  if (!view->skipped.empty()) decision["unreachable"] = view->skipped;  // left out: docs/hosts.md
  return std::pair<std::string, json>{d->host, decision};
}

}  // namespace berth::workflows::deployment
