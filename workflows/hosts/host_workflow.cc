// The `host` workflow: one change to the cloud's hosts (hosts.h).
#include <set>

#include "engine/workflow.h"
#include "engine/workflow_state.h"
#include "workflows/deploy/names.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {
namespace {

using engine::Command;
using engine::StepState;
using engine::WorkflowState;
using json = nlohmann::json;

struct HostOp {
  std::string op, name;
  hosts::HostSpec spec;  // add
  bool force = false;    // remove
};

Result<HostOp> ParseHostOp(const std::string& text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("op") || !j["op"].is_string())
    return InvalidArgument("host input must be {\"op\": add|remove|cordon|uncordon, ...}");
  HostOp h;
  h.op = j["op"].get<std::string>();
  if (h.op == "add") {
    if (!j.contains("host")) return InvalidArgument("host add: input has no \"host\"");
    auto spec = hosts::HostSpecFromJson(j["host"]);
    if (!spec.ok()) return spec.status();
    if (Status v = hosts::Validate(*spec); !v.ok()) return v;
    if (spec->name == kLocalHost)
      return InvalidArgument("host name 'local' means the engine DOCKER_HOST names while no host is "
                             "configured; give this host another name");
    h.spec = *spec;
    h.name = spec->name;
  } else if (h.op == "remove" || h.op == "cordon" || h.op == "uncordon") {
    if (!j.contains("name") || !j["name"].is_string())
      return InvalidArgument("host " + h.op + ": input has no \"name\"");
    h.name = j["name"].get<std::string>();
    h.force = j.value("force", false);
  } else {
    return InvalidArgument("host: unknown op '" + h.op + "' (add, remove, cordon, uncordon)");
  }
  return h;
}

std::string Names(const Inventory& inv) {
  std::string out;
  for (const auto& h : inv.hosts) out += (out.empty() ? "" : ", ") + h.spec.name;
  return out.empty() ? "none" : out;
}

// Steps of one decision: a completed step, or nullptr after scheduling one never started
// (a running or failed one is nullptr too).
struct Steps {
  const WorkflowState& s;
  std::vector<std::string> subjects;
  std::vector<Command> cmds;

  const StepState* Done(const std::string& name, const std::string& activity, const json& in) {
    auto it = s.steps.find(name);
    if (it == s.steps.end()) {
      cmds.push_back(engine::ScheduleActivity{name, activity, in.dump(), subjects});
      return nullptr;
    }
    return it->second.phase == StepState::kCompleted ? &it->second : nullptr;
  }
  const StepState* Failed(const std::string& name) const {
    auto it = s.steps.find(name);
    return it != s.steps.end() && it->second.phase == StepState::kFailed ? &it->second : nullptr;
  }
};

// Hosts of `driver` in the inventory other than `name`: the last one's removal tears down
// what they share (the local driver's bridge).
bool LastOf(const Inventory& inv, const std::string& driver, const std::string& name) {
  for (const auto& h : inv.hosts)
    if (h.spec.driver == driver && h.spec.name != name) return false;
  return true;
}

class HostWorkflow final : public engine::Workflow {
 public:
  std::string type() const override { return "host"; }
  Status ValidateInput(const std::string& input) const override { return ParseHostOp(input).status(); }
  std::string ExclusiveKey(const std::string&) const override { return "cloud:hosts"; }
  // A cancel (of the host change, or of the deploy that provisions it) undoes a provision
  // that started: nothing it made may outlive a host the inventory never got.
  bool HandlesCancel() const override { return true; }

  std::vector<Command> Decide(const WorkflowState& s) const override {
    auto op = ParseHostOp(s.input);
    if (!op.ok()) return {engine::FailWorkflow{op.status().message()}};
    Steps steps{s, {HostSubject(op->name), kCloudHostsSubject}, {}};
    if (s.cancel_requested) return Cancelled(steps);
    if (const StepState* f = steps.Failed("inventory")) return {engine::FailWorkflow{f->error}};
    const StepState* inv_step = steps.Done("inventory", "host.inventory", json::object());
    if (!inv_step) return steps.cmds;
    auto inv = InventoryFromJson(json::parse(inv_step->result, nullptr, false));
    if (!inv.ok()) return {engine::FailWorkflow{"inventory: " + inv.status().message()}};
    if (op->op == "add") return Add(*op, *inv, steps);
    const HostRecord* found = inv->Find(op->name);
    if (!found)
      return {engine::FailWorkflow{"no host " + op->name + " in the cloud (hosts: " + Names(*inv) + ")"}};
    if (op->op == "remove") return Remove(*op, *found, *inv, steps);
    return {engine::CompleteWorkflow{json{{"op", op->op}, {"name", op->name}}.dump()}};
  }

 private:
  static std::vector<Command> Cancelled(Steps& steps) {
    auto prov = steps.s.steps.find("provision");
    if (prov == steps.s.steps.end() || steps.s.steps.count("undo")) return {};
    // Wait until it has ended: the engine still retries a step of a workflow asked to
    // cancel, so an undo made during a retry's wait would run before the attempt that
    // then makes the host (found by berth-sim --hosts, seed 231: a leaked local host).
    if (prov->second.phase == StepState::kRunning || prov->second.phase == StepState::kRetryWait) return {};
    auto in = hosts::HostSpecFromJson(json::parse(prov->second.input, nullptr, false).value("host", json()));
    if (!in.ok()) return {};
    steps.Done("undo", "host.deprovision", json{{"host", hosts::ToJson(*in)}, {"last", false}});
    return steps.cmds;
  }

  static std::vector<Command> Add(const HostOp& op, const Inventory& inv, Steps& steps) {
    if (const HostRecord* found = inv.Find(op.name))
      return {engine::FailWorkflow{"host " + op.name + " exists already (endpoint " + found->spec.endpoint +
                                   "); `berth host remove " + op.name + "` first"}};
    hosts::HostSpec spec = op.spec;
    if (spec.driver == "local") {
      // The lowest free place on the cloud's bridge, from the recorded inventory.
      std::set<int> used;
      for (const auto& h : inv.hosts)
        if (h.spec.driver == "local") used.insert(h.spec.slot);
      int slot = 10;
      while (used.count(slot) && slot <= 250) ++slot;
      if (slot > 250) return {engine::FailWorkflow{"the cloud's bridge has no free address for another local host (241 in use)"}};
      spec.slot = slot;
      // Made, or half-made and failed: the undo removes every trace before the add fails.
      const StepState* failed = steps.Failed("provision");
      if (!failed) failed = steps.Failed("describe");
      if (failed) {
        if (const StepState* u = steps.Failed("undo"))
          return {engine::FailWorkflow{failed->error + " (and removing what it made failed: " + u->error + ")"}};
        if (!steps.Done("undo", "host.deprovision", json{{"host", hosts::ToJson(spec)}, {"last", LastOf(inv, "local", op.name)}}))
          return steps.cmds;
        return {engine::FailWorkflow{failed->error}};
      }
      const StepState* p = steps.Done("provision", "host.provision", json{{"host", hosts::ToJson(spec)}});
      if (!p) return steps.cmds;
      auto made = hosts::HostSpecFromJson(json::parse(p->result, nullptr, false));
      if (!made.ok()) return {engine::FailWorkflow{"provision result: " + made.status().message()}};
      spec = *made;
    } else {
      for (const auto& h : inv.hosts)
        if (h.spec.endpoint == spec.endpoint)
          return {engine::FailWorkflow{"endpoint " + spec.endpoint + " is host " + h.spec.name +
                                       " already; one engine is one host"}};
      if (const StepState* f = steps.Failed("describe")) return {engine::FailWorkflow{f->error}};
    }
    const StepState* d = steps.Done("describe", "host.describe", json{{"host", hosts::ToJson(spec)}});
    if (!d) return steps.cmds;
    json facts = json::parse(d->result, nullptr, false);
    return {engine::CompleteWorkflow{
        json{{"op", "add"}, {"name", op.name}, {"host", hosts::ToJson(spec)}, {"facts", facts}}.dump()}};
  }

  static std::vector<Command> Remove(const HostOp& op, const HostRecord& found, const Inventory& inv, Steps& steps) {
    int64_t networks = 0;
    if (!op.force) {
      if (const StepState* f = steps.Failed("census")) return {engine::FailWorkflow{f->error}};
      const StepState* c = steps.Done("census", "host.census", json{{"host", hosts::ToJson(found.spec)}});
      if (!c) return steps.cmds;
      json census = json::parse(c->result, nullptr, false);
      int64_t n = census.is_object() ? census.value("containers", int64_t(0)) : 0;
      networks = census.is_object() ? census.value("networks", int64_t(0)) : 0;
      if (n > 0) {
        std::string apps;
        if (census.contains("apps") && census["apps"].is_array())
          for (const auto& a : census["apps"]) apps += (apps.empty() ? "" : ", ") + a.get<std::string>();
        return {engine::FailWorkflow{"host " + op.name + " holds " + std::to_string(n) + " container" +
                                     (n == 1 ? "" : "s") + " of Berth's (apps: " + apps +
                                     "); `berth down` those apps, or move their containers, first"}};
      }
    }
    if (found.spec.driver != "local" && networks > 0) {
      // A static host stays a machine of its own: the app networks Berth made there go
      // (the local driver's deprovision removes the whole engine instead). A census
      // recorded before it counted networks has none, so older removes replay as they ran.
      if (const StepState* f = steps.Failed("clean")) return {engine::FailWorkflow{f->error}};
      if (!steps.Done("clean", "host.clean", json{{"host", hosts::ToJson(found.spec)}})) return steps.cmds;
    }
    if (found.spec.driver == "local") {
      if (const StepState* f = steps.Failed("deprovision")) return {engine::FailWorkflow{f->error}};
      if (!steps.Done("deprovision", "host.deprovision",
                      json{{"host", hosts::ToJson(found.spec)}, {"last", LastOf(inv, "local", op.name)}}))
        return steps.cmds;
    }
    return {engine::CompleteWorkflow{json{{"op", "remove"}, {"name", op.name}}.dump()}};
  }
};

}  // namespace

std::unique_ptr<engine::Workflow> MakeHostWorkflow() { return std::make_unique<HostWorkflow>(); }

}  // namespace berth::workflows
