#include "workflows/deploy/deploy.h"

#include <nlohmann/json.hpp>
#include <set>

#include "engine/workflow.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/names.h"
#include "workflows/deploy/plan.h"
#include "workflows/deploy/restart.h"

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
};

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
    if (!plan.Need("observe", "docker.observe", [&] { return json{{"app", in.app}}; }, app_subjects))
      return plan.Finish();
    auto observed = ParseObserved(plan.Result("observe"));
    if (!observed.ok()) return {engine::FailWorkflow{observed.status().ToString()}};
    const Observed& obs = **observed;

    bool nets_done = true;
    for (const auto& n : in.bp.networks) {
      auto ni = [&] {
        json j{{"app", in.app}, {"docker_name", n.docker_name}, {"subnet", n.subnet}, {"gateway", n.gateway}};
        if (n.external) j["external"] = true;  // only found, never made
        if (!n.driver_opts.empty()) j["options"] = n.driver_opts;  // each only when set: the
        if (n.internal) j["internal"] = true;                      // inputs of older deploys
        if (n.attachable) j["attachable"] = true;                  // stay as they were
        return j;
      };
      nets_done &= plan.Need("network/" + n.name, "docker.network", ni,
                             {AppSubject(in.app), NetworkSubject(n.docker_name)});
    }

    Tally tally;
    bool all_ready = true;
    // Containers of services no longer in the blueprint.
    for (const auto& c : obs.containers) {
      if (c.scratch || in.bp.FindService(c.service)) continue;  // scratch: the image step's
      all_ready &= plan.Remove(in.app, c, &tally);
    }

    std::map<std::string, bool> ready;
    for (const auto& level : in.levels) {
      for (const auto& name : level) {
        const ServiceDef& svc = *in.bp.FindService(name);
        bool deps = nets_done;
        for (const auto& d : svc.depends_on) deps &= ready[d];
        ready[name] = deps && DeployService(in, svc, obs, &plan, &tally);
        all_ready &= ready[name];
      }
    }
    if (plan.failed() || !all_ready) return plan.Finish();
    json result = {{"app", in.app},        {"created", tally.created}, {"removed", tally.removed},
                   {"kept", tally.kept},   {"started", tally.restarted}, {"images", tally.images}};
    return {engine::CompleteWorkflow{result.dump()}};
  }

 private:
  // Schedules what service `svc` still needs; true when it is ready (every replica healthy,
  // every container it replaces removed).
  static bool DeployService(const DeployInput& in, const ServiceDef& svc, const Observed& obs,
                            Plan* plan, Tally* tally) {
    const std::string& app = in.app;
    std::vector<std::string> svc_subjects = {AppSubject(app), ServiceSubject(app, svc.name)};
    auto ii = [&] { return json{{"app", app}, {"blueprint", in.mini.at(svc.name)}, {"cache", in.cache}}; };
    if (!plan->Need("image/" + svc.name, "docker.image", ii, svc_subjects)) return false;
    json image = json::parse(plan->Result("image/" + svc.name), nullptr, false);
    if (!image.is_object()) image = json::object();
    for (const char* k : {"id", "ref", "how"})
      if (image.contains(k) && !image[k].is_string()) image.erase(k);
    std::string image_id = image.value("id", ""), image_ref = image.value("ref", "");
    tally->images[svc.name] = image.value("how", "");
    const std::string& config = in.config.at(svc.name);

    bool ready = true;
    std::map<int, const Observed::Container*> kept;
    std::set<std::string> replacing;  // names being removed before they are made again
    for (const auto& c : obs.containers) {
      if (c.service != svc.name || c.scratch) continue;
      bool fits = c.index >= 1 && c.index <= svc.replicas && c.config == config &&
                  c.image_id == image_id && !c.removing && !kept.count(c.index);
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
      std::string name = svc.container_name.empty() ? ContainerName(app, svc.name, i)
                                                     : svc.container_name;
      if (replacing.count(name)) continue;
      std::string sfx = "/" + svc.name + "/" + std::to_string(i);
      std::vector<std::string> subjects = {AppSubject(app), ServiceSubject(app, svc.name),
                                           ContainerSubject(name)};
      Plan::Chain chain(plan, name);
      auto k = kept.find(i);
      if (k != kept.end() && k->second->running) {
        tally->kept++;
        continue;
      }
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
          return c;
        };
        std::vector<std::string> cs = subjects;
        cs.push_back(ImageSubject(image_ref));
        chain.Step("create" + sfx, "docker.create", ci, cs);
      }
      chain.Step("start" + sfx, "docker.start", [&] { return json{{"name", name}}; }, subjects);
      // A kept container that is not running may have been left half-made (a failed
      // deploy whose undo gave up): its install and customize run unless their markers say
      // they did ("once"), so one stopped by a daemon restart is not customized again.
      bool kept_stopped = k != kept.end();
      auto exec_in = [&](const char* what, const std::vector<std::string>& cmds) {
        json j = {{"name", name}, {"what", what}, {"commands", cmds}, {"marker", what}};
        if (kept_stopped) j["once"] = true;
        return j;
      };
      if (image.value("how", "") == "install-per-container")
        chain.Step("install" + sfx, "docker.exec", [&] { return exec_in("install", svc.install); }, subjects);
      if (!svc.customize.empty())
        chain.Step("customize" + sfx, "docker.exec", [&] { return exec_in("customize", svc.customize); }, subjects);
      chain.Step("healthy" + sfx, "docker.healthy",
                 [&] {
                   return json{{"name", name}, {"timeout_ms", HealthTimeoutMs(svc)},
                               {"want_health", svc.healthcheck.has_value()}};
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
    std::string app = json::parse(s.input)["app"].get<std::string>();
    Plan plan(s);
    if (!plan.Need("observe", "docker.observe", [&] { return json{{"app", app}}; }, {AppSubject(app)}))
      return plan.Finish();
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
        nets &= plan.Need("network-remove/" + n, "docker.network-remove",
                          [&] { return json{{"docker_name", n}}; }, {AppSubject(app), NetworkSubject(n)});
    }
    if (plan.failed() || !nets) return plan.Finish();
    json result = {{"app", app}, {"removed", tally.removed}, {"networks", obs.networks.size()}};
    return {engine::CompleteWorkflow{result.dump()}};
  }
};

}  // namespace

std::unique_ptr<engine::Workflow> MakeDeployWorkflow() { return std::make_unique<DeployWorkflow>(); }
std::unique_ptr<engine::Workflow> MakeUndeployWorkflow() { return std::make_unique<UndeployWorkflow>(); }

void RegisterDeploy(engine::Registry* r, DockerProvider docker, const DockerActivityOptions& options) {
  r->Add(MakeDeployWorkflow());
  r->Add(MakeUndeployWorkflow());
  RegisterRestart(r, docker);
  RegisterDockerActivities(r, std::move(docker), options);
}

}  // namespace berth::workflows
