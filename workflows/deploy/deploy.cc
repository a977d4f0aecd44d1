#include "workflows/deploy/deploy.h"

#include <nlohmann/json.hpp>
#include <set>

#include "engine/workflow.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy_input.h"
#include "workflows/deploy/deploy_placement.h"
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
using namespace deployment;


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

  std::vector<Command> Decide(const WorkflowState& s) const override { return DecideWith(s, ""); }

 private:
  // `preset`: a failure found part way through an earlier pass of this decision (a
  // placement that finds no host). The decision is made again failed from the start, so
  // the services walked before the failure undo what they made too (found by berth-sim: a
  // container created for an earlier service was left behind).
  std::vector<Command> DecideWith(const WorkflowState& s, const std::string& preset) const {
    auto parsed = ParseDeploy(s.input);
    if (!parsed.ok()) return {engine::FailWorkflow{parsed.status().message()}};
    Plan plan(s, preset);
    const std::vector<std::string> app_subjects = {AppSubject((*parsed)->app)};
    if ((*parsed)->inventory) {  // the cloud's hosts as they are now (deploy_input.h)
      if (!plan.Need("hosts", "host.inventory", [] { return json::object(); }, app_subjects)) return plan.Finish();
      parsed = WithHosts(*parsed, plan.Result("hosts"));
      if (!parsed.ok()) return {engine::FailWorkflow{"hosts: " + parsed.status().message()}};
    }
    const DeployInput& in = **parsed;
    auto oi = [&] {
      json j{{"app", in.app}};
      if (in.multi) {
        json names = json::array();
        for (const auto& h : in.hosts) names.push_back(h.name);
        j["hosts"] = names;
        if (in.inventory) j["skip_unreachable"] = true;  // AroundUnreachable (deploy_placement.h)
      }
      return j;
    };
    if (!plan.Need("observe", "docker.observe", oi, app_subjects)) return plan.Finish();
    auto observed = ParseObserved(plan.Result("observe"));
    if (!observed.ok()) return {engine::FailWorkflow{observed.status().ToString()}};
    std::map<std::string, std::string> skipped;
    std::shared_ptr<const Observed> o = *observed;
    if (!o->unreachable.empty() && !AroundUnreachable(in, &o, &plan, &skipped)) return plan.Finish();
    return Continue(s, in, *o, skipped, plan, preset);
  }

  // The rest of a decision, from the cloud (less `skipped`, hosts that do not answer and
  // hold nothing of the app) and what observe found there.
  std::vector<Command> Continue(const WorkflowState& s, const DeployInput& in, const Observed& obs,
                                const std::map<std::string, std::string>& skipped, Plan& plan,
                                const std::string& preset) const {
    // Each app network on every host of the cloud (one network per host until the hosts
    // share one: issue 10), or on the local engine.
    std::vector<std::string> net_hosts;
    std::vector<placement::Host> provisioned = in.multi ? Provisioned(in, plan) : std::vector<placement::Host>();
    if (in.multi) {
      for (const auto& h : in.hosts)
        if (!skipped.count(h.name)) net_hosts.push_back(h.name);
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
    if (in.multi) view = MakeView(in, obs, provisioned, skipped);
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
    if (plan.failed_late() && preset.empty()) return DecideWith(s, plan.failure());
    // Not while a step or child is still out: a replica not yet created is placed again on
    // every decision, so a host provisioned meanwhile can take it from the host whose image
    // step is still running (found by berth-sim, seed 112: that step's install container
    // was left behind by a deploy that completed).
    if (plan.failed() || !all_ready || s.open_steps > 0 || s.open_children > 0) return plan.Finish();
    json result = {{"app", in.app},        {"created", tally.created}, {"removed", tally.removed},
                   {"kept", tally.kept},   {"started", tally.restarted}, {"images", tally.images}};
    return {engine::CompleteWorkflow{result.dump()}};
  }

  // "" for the local engine, "@HOST" otherwise: step names of a deploy without hosts stay
  // as they always were.
  static std::string At(const std::string& host) { return host.empty() ? "" : "@" + host; }

  // The registry the service's image is shared through ("" none: each host makes its own).
  static std::string SharedRegistry(const DeployInput& in, const ServiceDef& svc,
                                    const std::set<std::string>& image_hosts, const View* view) {
    bool berth_made = svc.build.has_value() || (!svc.install.empty() && in.cache);
    if (!view || !berth_made || image_hosts.size() < 2) return "";
    std::string shared;
    for (const auto& host : image_hosts) {
      auto it = view->index.find(host);
      if (it == view->index.end()) return "";
      const std::string& r = view->hosts[it->second].registry;
      if (r.empty() || (!shared.empty() && r != shared)) return "";
      shared = r;
    }
    return shared;
  }

  // Schedules the image step of `svc` on `host` (with `extra` in its input); true with its
  // result in (*images)[host] once it has one.
  static bool ImageStep(const DeployInput& in, const ServiceDef& svc, const std::string& host, json extra,
                        Plan* plan, std::map<std::string, json>* images) {
    auto ii = [&] {
      json j{{"app", in.app}, {"blueprint", in.mini.at(svc.name)}, {"cache", in.cache}};
      if (!host.empty()) j["host"] = host;
      for (auto& [k, v] : extra.items()) j[k] = v;
      return j;
    };
    std::string step = "image/" + svc.name + At(host);
    if (!plan->Need(step, "docker.image", ii, {AppSubject(in.app), ServiceSubject(in.app, svc.name)})) return false;
    json image = json::parse(plan->Result(step), nullptr, false);
    if (!image.is_object()) image = json::object();
    for (const char* k : {"id", "ref", "how"})
      if (image.contains(k) && !image[k].is_string()) image.erase(k);
    (*images)[host] = std::move(image);
    return true;
  }

  // Schedules what service `svc` still needs; true when it is ready (every replica healthy,
  // every container it replaces removed).
  static bool DeployService(const DeployInput& in, const ServiceDef& svc, const Observed& obs,
                            Plan* plan, Tally* tally, View* view) {
    const std::string& app = in.app;
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
    // An image Berth makes (a build, or an install committed to the cache) is made on one
    // host and shared through the registry when every host that needs it names the same
    // one: the host of the first replica makes and pushes it, the others pull it (their
    // steps wait for its result). So an install runs once per cloud, not once per host.
    const std::string registry = SharedRegistry(in, svc, image_hosts, view);
    const std::string first = registry.empty() ? std::string() : where.begin()->second.first;
    if (!registry.empty()) {
      image_hosts.erase(first);
      if (!ImageStep(in, svc, first, json{{"push", registry}}, plan, &images)) return false;
    }
    for (const auto& host : image_hosts) {
      json extra = json::object();
      if (!registry.empty()) extra["pull"] = {{"registry", registry}, {"from", images[first]}};
      if (!ImageStep(in, svc, host, std::move(extra), plan, &images)) images_done = false;
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
            if (svc.reserve_cpus > 0) c["reserve_cpus"] = svc.reserve_cpus;
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

}  // namespace

std::unique_ptr<engine::Workflow> MakeDeployWorkflow() { return std::make_unique<DeployWorkflow>(); }

void RegisterDeploy(engine::Registry* r, DockerProvider docker, const DockerActivityOptions& options,
                    HostDockerProvider hosts) {
  r->Add(MakeDeployWorkflow());
  r->Add(MakeUndeployWorkflow());
  RegisterRestart(r, docker);
  RegisterDockerActivities(r, ByHost(std::move(docker), std::move(hosts)), options);
}

}  // namespace berth::workflows
