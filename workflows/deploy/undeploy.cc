// The undeploy workflow (deploy.h): every container of the app on every host, deepest
// depends_on level first, then its networks.
#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "engine/workflow.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"
#include "workflows/deploy/names.h"
#include "workflows/deploy/plan.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {
namespace {

using engine::Command;
using engine::WorkflowState;
using json = nlohmann::json;

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
    // The cloud's hosts: as `berth down` found them, or (with "inventory", since the
    // undeploy may have waited for a deploy that provisioned one) as they are when it runs.
    json hosts = in.contains("hosts") ? in["hosts"] : json();
    if (in.value("inventory", false)) {
      if (!plan.Need("hosts", "host.inventory", [] { return json::object(); }, {AppSubject(app)}))
        return plan.Finish();
      auto inv = InventoryFromJson(json::parse(plan.Result("hosts"), nullptr, false));
      if (!inv.ok()) return {engine::FailWorkflow{"hosts: " + inv.status().message()}};
      hosts = json::array();
      for (const auto& h : inv->hosts) hosts.push_back(h.spec.name);
    }
    auto oi = [&] {
      json j{{"app", app}};
      if (!hosts.is_null()) j["hosts"] = hosts;
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

std::unique_ptr<engine::Workflow> MakeUndeployWorkflow() { return std::make_unique<UndeployWorkflow>(); }

}  // namespace berth::workflows
