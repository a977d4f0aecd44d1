#include "workflows/deploy/deploy.h"

#include <nlohmann/json.hpp>
#include <set>

#include "engine/workflow.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/names.h"
#include "workflows/deploy/plan.h"
#include "workflows/deploy/restart.h"
#include "workflows/hosts/hosts.h"
#include "workflows/placement/placement.h"

namespace berth::workflows {
namespace {

using engine::Command;
using engine::StepState;
using engine::WorkflowState;
using json = nlohmann::json;

struct DeployInput {
  std::string app;
  Blueprint bp;
  bool cache = true;
  std::vector<std::vector<std::string>> levels;
  std::map<std::string, int> level_of;
  std::map<std::string, std::string> config;  // service -> ServiceConfigHash
  std::map<std::string, json> mini;           // service -> one-service blueprint JSON
  // The cloud, as `berth up` recorded it in the input ("cloud": {"hosts": [...]}); absent
  // (every deploy before there were hosts, and any while none is configured): the local
  // engine alone, and no step names a host.
  bool multi = false;
  std::vector<placement::Host> hosts;
  // x-berth.cloud: {driver, max_hosts, labels}: a host may be provisioned when none fits.
  std::string provision_driver;
  int64_t max_hosts = 0;  // 0: no limit
  std::map<std::string, std::string> provision_labels;
  std::map<std::string, std::shared_ptr<const placement::Chain>> chain;  // per service
};

// The chain for `svc`: the cloud's default, then the app's, then the service's.
Result<std::shared_ptr<const placement::Chain>> ChainFor(const json& cloud, const Blueprint& bp,
                                                          const ServiceDef& svc) {
  auto chain = std::make_shared<placement::Chain>();
  for (const auto& [where, text] : {std::pair<std::string, std::string>{"cloud", cloud.contains("placement") ? cloud["placement"].dump() : ""},
                                    {"x-berth.placement", bp.placement},
                                    {"service " + svc.name + " x-berth.placement", svc.placement}}) {
    if (text.empty()) continue;
    auto c = placement::Chain::Parse(json::parse(text, nullptr, false));
    if (!c.ok()) return c.status().WithContext(where);
    chain->Append(std::move(c).value());
  }
  return std::shared_ptr<const placement::Chain>(chain);
}

Status ParseCloud(const json& j, const Blueprint& bp, DeployInput* in) {
  if (!j.contains("cloud")) return Status::Ok();
  const json& cloud = j["cloud"];
  if (!cloud.is_object() || !cloud.contains("hosts") || !cloud["hosts"].is_array())
    return InvalidArgument("deploy input: \"cloud\" must be {\"hosts\": [...]}");
  in->multi = true;
  for (const auto& h : cloud["hosts"]) {
    placement::Host x;
    x.name = h.value("name", "");
    if (x.name.empty()) return InvalidArgument("deploy input: a cloud host has no name");
    x.labels = h.value("labels", std::map<std::string, std::string>());
    x.cordoned = h.value("cordoned", false);
    json facts = h.value("facts", json::object());
    x.cpus = double(h.value("cpus", int64_t(0)) ? h.value("cpus", int64_t(0)) : facts.value("cpus", int64_t(0)));
    x.memory = h.value("memory", int64_t(0)) ? h.value("memory", int64_t(0)) : facts.value("memory", int64_t(0));
    in->hosts.push_back(std::move(x));
  }
  if (!bp.cloud.empty()) {
    json c = json::parse(bp.cloud, nullptr, false);
    if (c.is_object()) {
      in->provision_driver = c.value("driver", "");
      in->max_hosts = c.value("max_hosts", int64_t(0));
      in->provision_labels = c.value("labels", std::map<std::string, std::string>());
    }
  }
  for (const auto& s : bp.services) {
    auto c = ChainFor(cloud, bp, s);
    if (!c.ok()) return c.status();
    in->chain[s.name] = *c;
  }
  return Status::Ok();
}

Result<std::shared_ptr<const DeployInput>> ParseDeploy(const std::string& text) {
  thread_local std::string last_text;
  thread_local std::shared_ptr<const DeployInput> last;
  if (last && text == last_text) return last;
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("blueprint") ||
      (j.contains("app") && !j["app"].is_string()) || (j.contains("cache") && !j["cache"].is_boolean()))
    return InvalidArgument("deploy input must be {\"app\": NAME, \"blueprint\": {...}, \"cache\": true|false}");
  auto in = std::make_shared<DeployInput>();
  Result<Blueprint> bp = BlueprintFromJson(j["blueprint"]);
  if (!bp.ok()) return bp.status();
  in->bp = std::move(*bp);
  in->app = j.value("app", in->bp.name);
  in->cache = j.value("cache", true);
  try {
    if (Status c = ParseCloud(j, in->bp, in.get()); !c.ok()) return c;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("deploy input: cloud: ") + e.what());
  }
  // An empty name would be a label filter matching every app.
  if (!ValidAppName(in->app)) return InvalidArgument("deploy input: '" + in->app + "' is not an app name");
  in->levels = in->bp.Levels();
  for (size_t l = 0; l < in->levels.size(); ++l)
    for (const auto& s : in->levels[l]) in->level_of[s] = int(l);
  for (const auto& [name, hash] : ServiceConfigHashes(in->bp)) in->config[name] = hash;
  for (const auto& s : in->bp.services) {
    Blueprint one;
    one.file = in->bp.file;
    one.name = in->bp.name;
    one.networks = in->bp.networks;
    one.volumes = in->bp.volumes;
    one.services = {s};
    one.services[0].depends_on.clear();  // activities see one service; order is Decide's
    in->mini[s.name] = ToJson(one);
  }
  last_text = text;
  last = in;
  return std::shared_ptr<const DeployInput>(in);
}

std::string AppKey(const std::string& app) { return "app:" + app; }

int64_t HealthTimeoutMs(const ServiceDef& s) {
  if (!s.healthcheck) return 10'000;
  const HealthDef& h = *s.healthcheck;
  int64_t interval = h.interval_ms ? h.interval_ms : 30'000;
  int64_t timeout = h.timeout_ms ? h.timeout_ms : 30'000;
  int retries = h.retries ? h.retries : 3;
  return h.start_period_ms + (interval + timeout) * (retries + 1) + 10'000;
}

class DeployWorkflow final : public engine::Workflow {
 public:
  std::string type() const override { return "deploy"; }
  bool HandlesCancel() const override { return true; }  // undoes half-made containers
  Status ValidateInput(const std::string& input) const override { return ParseDeploy(input).status(); }
  // One deploy or undeploy of an app at a time: a second waits for the first (docs/deploy.md).
  std::string ExclusiveKey(const std::string& input) const override {
    auto in = ParseDeploy(input);
    return in.ok() ? AppKey((*in)->app) : "";
  }

  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto parsed = ParseDeploy(s.input);
    if (!parsed.ok()) return {engine::FailWorkflow{parsed.status().message()}};
    const DeployInput& in = **parsed;
    Plan plan(s);
    const std::vector<std::string> app_subjects = {AppSubject(in.app)};
    auto oi = [&] {
      json j{{"app", in.app}};
      if (in.multi) {
        json names = json::array();
        for (const auto& h : in.hosts) names.push_back(h.name);
        j["hosts"] = names;
      }
      return j;
    };
    if (!plan.Need("observe", "docker.observe", oi, app_subjects)) return plan.Finish();
    auto observed = ParseObserved(plan.Result("observe"));
    if (!observed.ok()) return {engine::FailWorkflow{observed.status().ToString()}};
    const Observed& obs = **observed;

    // Each app network on every host of the cloud (one network per host until the hosts
    // share one: issue 10), or on the local engine.
    std::vector<std::string> net_hosts;
    std::vector<placement::Host> provisioned = in.multi ? Provisioned(in, plan) : std::vector<placement::Host>();
    if (in.multi) {
      for (const auto& h : in.hosts) net_hosts.push_back(h.name);
      for (const auto& h : provisioned) net_hosts.push_back(h.name);
    } else {
      net_hosts.push_back("");
    }
    bool nets_done = true;
    for (const auto& n : in.bp.networks) {
      for (const auto& host : net_hosts) {
        auto ni = [&] {
          json j{{"app", in.app}, {"docker_name", n.docker_name}, {"subnet", n.subnet}, {"gateway", n.gateway}};
          if (n.external) j["external"] = true;  // only found, never made
          if (!n.driver_opts.empty()) j["options"] = n.driver_opts;  // each only when set: the
          if (n.internal) j["internal"] = true;                      // inputs of older deploys
          if (n.attachable) j["attachable"] = true;                  // stay as they were
          if (!host.empty()) j["host"] = host;
          return j;
        };
        nets_done &= plan.Need("network/" + n.name + At(host), "docker.network", ni,
                               {AppSubject(in.app), NetworkSubject(n.docker_name)});
      }
    }

    Tally tally;
    bool all_ready = true;
    // Containers of services no longer in the blueprint.
    for (const auto& c : obs.containers) {
      if (c.scratch || in.bp.FindService(c.service)) continue;  // scratch: the image step's
      all_ready &= plan.Remove(in.app, c, &tally);
    }

    View view;
    if (in.multi) view = MakeView(in, obs, provisioned);
    std::map<std::string, bool> ready;
    for (const auto& level : in.levels) {
      for (const auto& name : level) {
        const ServiceDef& svc = *in.bp.FindService(name);
        bool deps = nets_done;
        for (const auto& d : svc.depends_on) deps &= ready[d];
        ready[name] = deps && DeployService(in, svc, obs, &plan, &tally, in.multi ? &view : nullptr);
        all_ready &= ready[name];
      }
    }
    if (plan.failed() || !all_ready) return plan.Finish();
    json result = {{"app", in.app},        {"created", tally.created}, {"removed", tally.removed},
                   {"kept", tally.kept},   {"started", tally.restarted}, {"images", tally.images}};
    return {engine::CompleteWorkflow{result.dump()}};
  }

 private:
  // "" for the local engine, "@HOST" otherwise: step names of a deploy without hosts stay
  // as they always were.
  static std::string At(const std::string& host) { return host.empty() ? "" : "@" + host; }

  // Placement's view of the cloud during one decision: the census observe recorded, less
  // this app's containers that go for good, plus each container this deploy places.
  struct View {
    std::vector<placement::Host> hosts;
    std::map<std::string, size_t> index;
    void Put(const std::string& host, const placement::Request& r, int sign) {
      auto it = index.find(host);
      if (it == index.end()) return;
      placement::Host& h = hosts[it->second];
      h.containers += sign;
      h.apps[r.app] += sign;
      h.services[r.app + "/" + r.service] += sign;
      h.memory_reserved += sign * r.memory;
      if (sign > 0) h.names.insert(r.container);
      else h.names.erase(r.container);
    }
  };

  // The hosts this deploy provisioned (its children provision-1, -2, ... that completed),
  // as placement sees a new host: empty, with the cloud's labels and its engine's capacity.
  static std::vector<placement::Host> Provisioned(const DeployInput& in, const Plan& plan) {
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
      json facts = r.value("facts", json::object());
      h.cpus = double(facts.value("cpus", int64_t(0)));
      h.memory = facts.value("memory", int64_t(0));
      if (!h.name.empty()) out.push_back(std::move(h));
    }
    return out;
  }

  // No host fits: with x-berth.cloud.driver, a host is provisioned (one at a time: a child
  // `host` workflow, provision-K) and placement tries again once it is there; false when
  // the deploy must fail (the plan is failed, saying why).
  static bool Provision(const DeployInput& in, const std::string& container, const std::string& why,
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
    if (in.max_hosts > 0 && int64_t(view->hosts.size()) >= in.max_hosts) {
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

  static View MakeView(const DeployInput& in, const Observed& obs, const std::vector<placement::Host>& provisioned) {
    View v;
    v.hosts = in.hosts;
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

  static int64_t ReservedMemory(const ServiceDef& svc) {
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
  static std::optional<std::pair<std::string, json>> HostOf(const DeployInput& in, const ServiceDef& svc,
                                                             const Observed& obs, const std::string& name,
                                                             int i, Plan* plan, View* view) {
    if (!view) return std::pair<std::string, json>{"", json()};
    for (const auto& c : obs.containers) {
      if (c.name != name || c.service != svc.name || c.scratch) continue;
      if (view->index.count(c.host))
        return std::pair<std::string, json>{c.host, json{{"host", c.host}, {"kept_on", "the host it was on"}}};
    }
    const std::string sfx = "/" + svc.name + "/" + std::to_string(i);
    placement::Request r{in.app, svc.name, name, 0, ReservedMemory(svc)};
    if (const std::string& made = plan->InputOf("create" + sfx); !made.empty()) {
      json j = json::parse(made, nullptr, false);
      std::string host = j.is_object() ? j.value("host", "") : "";
      view->Put(host, r, +1);
      return std::pair<std::string, json>{host, json()};
    }
    auto d = in.chain.at(svc.name)->Place(view->hosts, r);
    if (!d.ok()) {
      Provision(in, name, "service " + svc.name + ": placement: " + d.status().message(), plan, view);
      return std::nullopt;  // failed, or waiting for a host
    }
    view->Put(d->host, r, +1);
    json decision = d->ToJson();
    decision["chain"] = in.chain.at(svc.name)->Names();
    return std::pair<std::string, json>{d->host, decision};
  }

  // Schedules what service `svc` still needs; true when it is ready (every replica healthy,
  // every container it replaces removed).
  static bool DeployService(const DeployInput& in, const ServiceDef& svc, const Observed& obs,
                            Plan* plan, Tally* tally, View* view) {
    const std::string& app = in.app;
    std::vector<std::string> svc_subjects = {AppSubject(app), ServiceSubject(app, svc.name)};
    auto replica_name = [&](int i) {
      return svc.container_name.empty() ? ContainerName(app, svc.name, i) : svc.container_name;
    };
    // Where each replica goes (placement first: the image is needed on those hosts).
    std::map<int, std::pair<std::string, json>> where;
    for (int i = 1; i <= svc.replicas; ++i) {
      auto h = HostOf(in, svc, obs, replica_name(i), i, plan, view);
      if (!h) return false;
      where[i] = std::move(*h);
    }
    std::set<std::string> image_hosts;
    for (const auto& [i, w] : where) image_hosts.insert(w.first);
    // No replica: on the one engine the image is still checked, as it always was; across
    // hosts there is no host to check it on, and nothing needs it.
    if (image_hosts.empty() && !view) image_hosts.insert("");
    std::map<std::string, json> images;
    bool images_done = true;
    for (const auto& host : image_hosts) {
      auto ii = [&] {
        json j{{"app", app}, {"blueprint", in.mini.at(svc.name)}, {"cache", in.cache}};
        if (!host.empty()) j["host"] = host;
        return j;
      };
      std::string step = "image/" + svc.name + At(host);
      if (!plan->Need(step, "docker.image", ii, svc_subjects)) {
        images_done = false;
        continue;
      }
      json image = json::parse(plan->Result(step), nullptr, false);
      if (!image.is_object()) image = json::object();
      for (const char* k : {"id", "ref", "how"})
        if (image.contains(k) && !image[k].is_string()) image.erase(k);
      images[host] = std::move(image);
    }
    if (!images_done) return false;
    tally->images[svc.name] = images.empty() ? std::string() : images.begin()->second.value("how", "");
    const std::string& config = in.config.at(svc.name);

    bool ready = true;
    std::map<int, const Observed::Container*> kept;
    std::set<std::string> replacing;  // names being removed before they are made again
    for (const auto& c : obs.containers) {
      if (c.service != svc.name || c.scratch) continue;
      bool fits = c.index >= 1 && c.index <= svc.replicas && c.config == config &&
                  where[c.index].first == c.host && images.count(c.host) &&
                  c.image_id == images[c.host].value("id", "") && !c.removing && !kept.count(c.index);
      if (fits) {
        kept[c.index] = &c;
        continue;
      }
      if (!plan->Remove(app, c, tally)) {
        ready = false;
        replacing.insert(c.name);
      }
    }
    for (int i = 1; i <= svc.replicas; ++i) {
      std::string name = replica_name(i);
      if (replacing.count(name)) continue;
      const std::string& host = where[i].first;
      const json& image = images[host];
      std::string image_id = image.value("id", ""), image_ref = image.value("ref", "");
      std::string sfx = "/" + svc.name + "/" + std::to_string(i);
      std::vector<std::string> subjects = {AppSubject(app), ServiceSubject(app, svc.name),
                                           ContainerSubject(name)};
      if (!host.empty()) subjects.push_back(HostSubject(host));
      Plan::Chain chain(plan, name, host);
      auto k = kept.find(i);
      if (k != kept.end() && k->second->running) {
        tally->kept++;
        continue;
      }
      auto with_host = [&](json j) {
        if (!host.empty()) j["host"] = host;
        return j;
      };
      if (k == kept.end()) {
        auto ci = [&] {
          json c = {{"app", app},         {"blueprint", in.mini.at(svc.name)},
                    {"index", i},         {"name", name},
                    {"image_id", image_id}, {"image_ref", image_ref},
                    {"config", config},   {"level", in.level_of.at(svc.name)},
                    {"networks", NetworkEndpoints(in.bp, svc, name)}};
          if (image.value("how", "") == "install-per-container")
            c["wait_install"] = {{"entrypoint", image.value("entrypoint", json())},
                                 {"cmd", image.value("cmd", json())}};
          if (!host.empty()) {
            c["host"] = host;
            c["placement"] = where[i].second;  // the decision, on record (`berth explain`)
            if (int64_t m = ReservedMemory(svc)) c["reserve_memory"] = m;
          }
          return c;
        };
        std::vector<std::string> cs = subjects;
        cs.push_back(ImageSubject(image_ref));
        chain.Step("create" + sfx, "docker.create", ci, cs);
      }
      chain.Step("start" + sfx, "docker.start", [&] { return with_host(json{{"name", name}}); }, subjects);
      // A kept container that is not running may have been left half-made (a failed
      // deploy whose undo gave up): its install and customize run unless their markers say
      // they did ("once"), so one stopped by a daemon restart is not customized again.
      bool kept_stopped = k != kept.end();
      auto exec_in = [&](const char* what, const std::vector<std::string>& cmds) {
        json j = {{"name", name}, {"what", what}, {"commands", cmds}, {"marker", what}};
        if (kept_stopped) j["once"] = true;
        return with_host(std::move(j));
      };
      if (image.value("how", "") == "install-per-container")
        chain.Step("install" + sfx, "docker.exec", [&] { return exec_in("install", svc.install); }, subjects);
      if (!svc.customize.empty())
        chain.Step("customize" + sfx, "docker.exec", [&] { return exec_in("customize", svc.customize); }, subjects);
      chain.Step("healthy" + sfx, "docker.healthy",
                 [&] {
                   return with_host(json{{"name", name}, {"timeout_ms", HealthTimeoutMs(svc)},
                                         {"want_health", svc.healthcheck.has_value()}});
                 },
                 subjects);
      if (!chain.done()) ready = false;
      if (k == kept.end()) tally->created++; else tally->restarted++;
    }
    return ready;
  }

  static json NetworkEndpoints(const Blueprint& bp, const ServiceDef& svc, const std::string& name) {
    json out = json::array();
    if (!svc.network_mode.empty()) return out;  // host, none, bridge: no app network
    std::vector<ServiceNetwork> nets = svc.networks;
    if (nets.empty()) nets.push_back(ServiceNetwork{"default", {}, ""});
    for (const auto& n : nets) {
      std::string docker_name;
      for (const auto& d : bp.networks)
        if (d.name == n.name) docker_name = d.docker_name;
      std::vector<std::string> aliases = {svc.name, name};
      aliases.insert(aliases.end(), n.aliases.begin(), n.aliases.end());
      out.push_back({{"docker_name", docker_name}, {"aliases", aliases}, {"ipv4_address", n.ipv4_address}});
    }
    return out;
  }
};

class UndeployWorkflow final : public engine::Workflow {
 public:
  std::string type() const override { return "undeploy"; }
  std::string ExclusiveKey(const std::string& input) const override {
    json j = json::parse(input, nullptr, false);
    return j.is_object() && j.contains("app") && j["app"].is_string() ? AppKey(j["app"].get<std::string>()) : "";
  }
  Status ValidateInput(const std::string& input) const override {
    json j = json::parse(input, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("app") || !j["app"].is_string() ||
        !ValidAppName(j["app"].get<std::string>()))
      return InvalidArgument("undeploy input must be {\"app\": NAME} with a valid app name");
    return Status::Ok();
  }

  std::vector<Command> Decide(const WorkflowState& s) const override {
    if (Status v = ValidateInput(s.input); !v.ok()) return {engine::FailWorkflow{v.message()}};
    json in = json::parse(s.input);
    std::string app = in["app"].get<std::string>();
    Plan plan(s);
    auto oi = [&] {
      json j{{"app", app}};
      if (in.contains("hosts")) j["hosts"] = in["hosts"];  // the cloud's hosts, as `berth down` found them
      return j;
    };
    if (!plan.Need("observe", "docker.observe", oi, {AppSubject(app)})) return plan.Finish();
    auto observed = ParseObserved(plan.Result("observe"));
    if (!observed.ok()) return {engine::FailWorkflow{observed.status().ToString()}};
    const Observed& obs = **observed;
    // Deepest depends_on level first: a service goes only once its dependents are gone.
    Tally tally;
    std::map<int, std::vector<const Observed::Container*>, std::greater<>> by_level;
    for (const auto& c : obs.containers) by_level[c.level].push_back(&c);
    bool removed = true;
    for (const auto& [level, list] : by_level) {
      if (!removed) break;
      for (const auto* c : list) removed &= plan.Remove(app, *c, &tally);
    }
    bool nets = removed;
    if (removed) {
      for (const auto& n : obs.networks)
        nets &= plan.Need("network-remove/" + n.name + (n.host.empty() ? "" : "@" + n.host), "docker.network-remove",
                          [&] {
                            json j{{"docker_name", n.name}};
                            if (!n.host.empty()) j["host"] = n.host;
                            return j;
                          },
                          {AppSubject(app), NetworkSubject(n.name)});
    }
    if (plan.failed() || !nets) return plan.Finish();
    json result = {{"app", app}, {"removed", tally.removed}, {"networks", obs.networks.size()}};
    return {engine::CompleteWorkflow{result.dump()}};
  }
};

}  // namespace

std::unique_ptr<engine::Workflow> MakeDeployWorkflow() { return std::make_unique<DeployWorkflow>(); }
std::unique_ptr<engine::Workflow> MakeUndeployWorkflow() { return std::make_unique<UndeployWorkflow>(); }

void RegisterDeploy(engine::Registry* r, DockerProvider docker, const DockerActivityOptions& options,
                    HostDockerProvider hosts) {
  r->Add(MakeDeployWorkflow());
  r->Add(MakeUndeployWorkflow());
  RegisterRestart(r, docker);
  RegisterDockerActivities(r, ByHost(std::move(docker), std::move(hosts)), options);
}

}  // namespace berth::workflows
