#include "workflows/hosts/hosts.h"

#include <algorithm>
#include <set>

#include "engine/events.h"
#include "engine/workflow.h"
#include "engine/workflow_state.h"
#include "workflows/deploy/names.h"

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
    const std::vector<std::string> subjects = {HostSubject(op->name), kCloudHostsSubject};
    std::vector<Command> cmds;
    // Completed: the step; not started: scheduled (nullptr); running or failed: nullptr.
    auto step = [&](const std::string& name, const std::string& activity, const json& in) -> const StepState* {
      auto it = s.steps.find(name);
      if (it == s.steps.end()) {
        cmds.push_back(engine::ScheduleActivity{name, activity, in.dump(), subjects});
        return nullptr;
      }
      return it->second.phase == StepState::kCompleted ? &it->second : nullptr;
    };
    if (s.cancel_requested) {
      auto prov = s.steps.find("provision");
      if (prov == s.steps.end() || s.steps.count("undo")) return {};
      if (prov->second.phase == StepState::kRunning) return {};  // wait until it returns
      auto in = hosts::HostSpecFromJson(json::parse(prov->second.input, nullptr, false).value("host", json()));
      if (!in.ok()) return {};
      return {engine::ScheduleActivity{"undo", "host.deprovision",
                                       json{{"host", hosts::ToJson(*in)}, {"last", false}}.dump(), subjects}};
    }
    auto failed = [&](const std::string& name) -> const StepState* {
      auto it = s.steps.find(name);
      return it != s.steps.end() && it->second.phase == StepState::kFailed ? &it->second : nullptr;
    };
    if (failed("inventory")) return {engine::FailWorkflow{s.steps.at("inventory").error}};
    const StepState* inv_step = step("inventory", "host.inventory", json::object());
    if (!inv_step) return cmds;
    auto inv = InventoryFromJson(json::parse(inv_step->result, nullptr, false));
    if (!inv.ok()) return {engine::FailWorkflow{"inventory: " + inv.status().message()}};
    const HostRecord* found = inv->Find(op->name);
    // Other hosts of the same driver: the last one's removal tears down what they share.
    auto others_of = [&](const std::string& driver) {
      int n = 0;
      for (const auto& h : inv->hosts) n += h.spec.driver == driver && h.spec.name != op->name;
      return n;
    };

    if (op->op == "add") {
      if (found)
        return {engine::FailWorkflow{"host " + op->name + " exists already (endpoint " + found->spec.endpoint +
                                     "); `berth host remove " + op->name + "` first"}};
      hosts::HostSpec spec = op->spec;
      if (spec.driver == "local") {
        // The lowest free place on the cloud's bridge, from the recorded inventory.
        std::set<int> used;
        for (const auto& h : inv->hosts)
          if (h.spec.driver == "local") used.insert(h.spec.slot);
        int slot = 10;
        while (used.count(slot) && slot <= 250) ++slot;
        if (slot > 250) return {engine::FailWorkflow{"the cloud's bridge has no free address for another local host (241 in use)"}};
        spec.slot = slot;
        // Made, or half-made and failed: the undo removes every trace before the add fails.
        const StepState* prov_failed = failed("provision");
        const StepState* desc_failed = failed("describe");
        if (prov_failed || desc_failed) {
          const std::string error = (prov_failed ? prov_failed : desc_failed)->error;
          if (failed("undo"))
            return {engine::FailWorkflow{error + " (and removing what it made failed: " + s.steps.at("undo").error + ")"}};
          if (!step("undo", "host.deprovision", json{{"host", hosts::ToJson(spec)}, {"last", others_of("local") == 0}}))
            return cmds;
          return {engine::FailWorkflow{error}};
        }
        const StepState* p = step("provision", "host.provision", json{{"host", hosts::ToJson(spec)}});
        if (!p) return cmds;
        auto made = hosts::HostSpecFromJson(json::parse(p->result, nullptr, false));
        if (!made.ok()) return {engine::FailWorkflow{"provision result: " + made.status().message()}};
        spec = *made;
      } else {
        for (const auto& h : inv->hosts)
          if (h.spec.endpoint == spec.endpoint)
            return {engine::FailWorkflow{"endpoint " + spec.endpoint + " is host " + h.spec.name +
                                         " already; one engine is one host"}};
        if (const StepState* f = failed("describe")) return {engine::FailWorkflow{f->error}};
      }
      const StepState* d = step("describe", "host.describe", json{{"host", hosts::ToJson(spec)}});
      if (!d) return cmds;
      json facts = json::parse(d->result, nullptr, false);
      return {engine::CompleteWorkflow{
          json{{"op", "add"}, {"name", op->name}, {"host", hosts::ToJson(spec)}, {"facts", facts}}.dump()}};
    }
    if (!found)
      return {engine::FailWorkflow{"no host " + op->name + " in the cloud (hosts: " + Names(*inv) + ")"}};
    if (op->op == "remove") {
      if (!op->force) {
        if (const StepState* f = failed("census")) return {engine::FailWorkflow{f->error}};
        const StepState* c = step("census", "host.census", json{{"host", hosts::ToJson(found->spec)}});
        if (!c) return cmds;
        json census = json::parse(c->result, nullptr, false);
        int64_t n = census.is_object() ? census.value("containers", int64_t(0)) : 0;
        if (n > 0) {
          std::string apps;
          if (census.contains("apps") && census["apps"].is_array())
            for (const auto& a : census["apps"]) apps += (apps.empty() ? "" : ", ") + a.get<std::string>();
          return {engine::FailWorkflow{"host " + op->name + " holds " + std::to_string(n) + " container" +
                                       (n == 1 ? "" : "s") + " of Berth's (apps: " + apps +
                                       "); `berth down` those apps, or move their containers, first"}};
        }
      }
      if (found->spec.driver == "local") {
        if (const StepState* f = failed("deprovision")) return {engine::FailWorkflow{f->error}};
        if (!step("deprovision", "host.deprovision",
                  json{{"host", hosts::ToJson(found->spec)}, {"last", others_of("local") == 0}}))
          return cmds;
      }
    }
    return {engine::CompleteWorkflow{json{{"op", op->op}, {"name", op->name}}.dump()}};
  }
};

class InventoryActivity final : public engine::Activity {
 public:
  explicit InventoryActivity(InventorySource source) : source_(std::move(source)) {}
  std::string name() const override { return "host.inventory"; }
  Result<std::string> Run(const engine::ActivityContext&) override {
    auto inv = source_();
    if (!inv.ok()) return inv.status();
    return ToJson(*inv).dump();
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();  // reads only: run again
  }

 private:
  InventorySource source_;
};

engine::RetryPolicy HostRetry() {
  engine::RetryPolicy p;
  p.attempts_max = 3;
  p.backoff_initial_ms = 500;
  p.backoff_max_ms = 2000;
  return p;
}

Result<hosts::HostSpec> SpecOf(const engine::ActivityContext& ctx) {
  json in = json::parse(ctx.input, nullptr, false);
  if (!in.is_object() || !in.contains("host")) return InvalidArgument("step " + ctx.step + ": no host in the input");
  return hosts::HostSpecFromJson(in["host"]);
}

class ProvisionActivity final : public engine::Activity {
 public:
  explicit ProvisionActivity(hosts::DriverFactory drivers) : drivers_(std::move(drivers)) {}
  std::string name() const override { return "host.provision"; }
  engine::RetryPolicy retry_policy() const override {
    engine::RetryPolicy p = HostRetry();
    p.attempt_timeout_ms = 180'000;  // a daemon that starts in a second; a loaded machine
    return p;
  }
  // Every part is found before it is made: a provision killed half-way runs again.
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    auto spec = SpecOf(ctx);
    if (!spec.ok()) return spec.status();
    auto driver = drivers_(spec->driver);
    if (!driver.ok()) return driver.status();
    auto made = (*driver)->Provision(*spec);
    if (!made.ok()) return made.status();
    return hosts::ToJson(*made).dump();
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }

 private:
  hosts::DriverFactory drivers_;
};

class DeprovisionActivity final : public engine::Activity {
 public:
  explicit DeprovisionActivity(hosts::DriverFactory drivers) : drivers_(std::move(drivers)) {}
  std::string name() const override { return "host.deprovision"; }
  engine::RetryPolicy retry_policy() const override { return HostRetry(); }
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    auto spec = SpecOf(ctx);
    if (!spec.ok()) return spec.status();
    auto driver = drivers_(spec->driver);
    if (!driver.ok()) return driver.status();
    if (Status s = (*driver)->Deprovision(*spec); !s.ok()) return s;
    json in = json::parse(ctx.input, nullptr, false);
    if (in.is_object() && in.value("last", false))
      if (Status s = (*driver)->Teardown(); !s.ok()) return s;
    return std::string("removed");
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }

 private:
  hosts::DriverFactory drivers_;
};

class DescribeActivity final : public engine::Activity {
 public:
  explicit DescribeActivity(hosts::DriverFactory drivers) : drivers_(std::move(drivers)) {}
  std::string name() const override { return "host.describe"; }
  engine::RetryPolicy retry_policy() const override { return HostRetry(); }
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    auto spec = SpecOf(ctx);
    if (!spec.ok()) return spec.status();
    auto driver = drivers_(spec->driver);
    if (!driver.ok()) return driver.status();
    auto facts = (*driver)->Describe(*spec);
    if (!facts.ok()) return facts.status();
    return hosts::ToJson(*facts).dump();
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }

 private:
  hosts::DriverFactory drivers_;
};

class CensusActivity final : public engine::Activity {
 public:
  std::string name() const override { return "host.census"; }
  engine::RetryPolicy retry_policy() const override { return HostRetry(); }
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    auto spec = SpecOf(ctx);
    if (!spec.ok()) return spec.status();
    docker::EngineClientOptions o;
    o.call_timeout_ms = 10'000;
    auto client = hosts::ClientFor(*spec, o);
    if (!client.ok()) return client.status();
    auto list = (*client)->ListContainers({{kLabelApp, ""}});
    if (!list.ok())
      return list.status().WithContext("counting Berth's containers on host " + spec->name + " (" +
                                       spec->endpoint + "; a host whose engine is gone for good: "
                                       "`berth host remove --force`)");
    std::set<std::string> apps;
    for (const auto& c : *list) apps.insert(docker::LabelValue(c.labels, kLabelApp));
    return json{{"containers", list->size()}, {"apps", apps}}.dump();
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }
};

}  // namespace

const HostRecord* Inventory::Find(const std::string& name) const {
  for (const auto& h : hosts)
    if (h.spec.name == name) return &h;
  return nullptr;
}

json ToJson(const Inventory& inv) {
  json hosts = json::array();
  for (const auto& h : inv.hosts) {
    json j = hosts::ToJson(h.spec);
    j["facts"] = hosts::ToJson(h.facts);
    j["cordoned"] = h.cordoned;
    j["added_by"] = h.added_by;
    j["added_us"] = h.added_us;
    hosts.push_back(std::move(j));
  }
  return json{{"hosts", hosts}};
}

Result<Inventory> InventoryFromJson(const json& j) {
  if (!j.is_object() || !j.contains("hosts") || !j["hosts"].is_array())
    return InvalidArgument("an inventory is {\"hosts\": [...]}");
  Inventory inv;
  for (const auto& h : j["hosts"]) {
    auto spec = hosts::HostSpecFromJson(h);
    if (!spec.ok()) return spec.status();
    HostRecord r;
    r.spec = *spec;
    if (h.contains("facts")) r.facts = hosts::HostFactsFromJson(h["facts"]);
    r.cordoned = h.value("cordoned", false);
    r.added_by = h.value("added_by", "");
    r.added_us = h.value("added_us", int64_t(0));
    inv.hosts.push_back(std::move(r));
  }
  return inv;
}

Result<Inventory> LoadInventory(const eventlog::EventLog& log) {
  // Every host workflow's steps name the subject cloud:hosts, whoever started it (the CLI,
  // or a deploy that provisions a host as its child): its index lists them in log order.
  std::vector<std::string> ids;
  std::set<std::string> seen;
  Status s = log.ScanSubject(kCloudHostsSubject, [&](const eventlog::Event& e) {
    if (seen.insert(e.workflow_id).second) ids.push_back(e.workflow_id);
    return true;
  });
  if (!s.ok()) return s;
  std::vector<engine::WorkflowSummary> done;
  for (const auto& id : ids) {
    std::string raw;
    engine::WorkflowSummary sum;
    if (!log.GetProjection(engine::SummaryKey(id), &raw).ok() || !engine::DecodeSummary(raw, &sum).ok()) continue;
    if (sum.type == "host" && sum.status == engine::RunStatus::kCompleted) done.push_back(std::move(sum));
  }
  std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.first_seq < b.first_seq; });
  Inventory inv;
  for (const auto& sum : done) {
    auto st = engine::FoldWorkflow(log, sum.id);
    if (!st.ok()) return st.status();
    json r = json::parse(st->result, nullptr, false);
    if (!r.is_object()) continue;
    std::string op = r.value("op", ""), name = r.value("name", "");
    auto it = std::find_if(inv.hosts.begin(), inv.hosts.end(), [&](const HostRecord& h) { return h.spec.name == name; });
    if (op == "add" && it == inv.hosts.end()) {
      auto spec = hosts::HostSpecFromJson(r.value("host", json()));
      if (!spec.ok()) continue;
      HostRecord h;
      h.spec = *spec;
      h.facts = hosts::HostFactsFromJson(r.value("facts", json()));
      h.added_by = sum.id;
      h.added_us = sum.ended_us;
      inv.hosts.push_back(std::move(h));
    } else if (it != inv.hosts.end()) {
      if (op == "remove") inv.hosts.erase(it);
      else if (op == "cordon") it->cordoned = true;
      else if (op == "uncordon") it->cordoned = false;
    }
  }
  return inv;
}

Status AddCloud(const eventlog::EventLog& log, const std::string& type, json* input) {
  if ((type != "deploy" && type != "undeploy") || !input->is_object()) return Status::Ok();
  if (input->contains("cloud") || input->contains("hosts")) return Status::Ok();
  auto inv = LoadInventory(log);
  if (!inv.ok()) return inv.status().WithContext("reading the cloud's hosts");
  if (inv->hosts.empty()) return Status::Ok();
  if (type == "deploy") {
    json cloud = ToJson(*inv);
    for (auto& h : cloud["hosts"]) h.erase("tls");  // endpoints and files stay in the host records
    (*input)["cloud"] = std::move(cloud);
  } else {
    json names = json::array();
    for (const auto& h : inv->hosts) names.push_back(h.spec.name);
    (*input)["hosts"] = std::move(names);
  }
  return Status::Ok();
}

Result<json> Explain(const eventlog::EventLog& log, const std::string& container) {
  json found;
  Status s = log.ScanSubject(ContainerSubject(container), [&](const eventlog::Event& e) {
    if (e.type != engine::ev::kActivityStarted) return true;
    engine::ActivityStartedP p;
    if (!engine::DecodePayload(e.payload, &p).ok() || p.activity != "docker.create") return true;
    json in = json::parse(p.input, nullptr, false);
    if (!in.is_object() || in.value("name", "") != container) return true;
    found = {{"container", container}, {"workflow", e.workflow_id}, {"seq", e.seq}, {"time_us", e.time_us},
             {"step", p.step}, {"host", in.value("host", std::string(kLocalHost))},
             {"placement", in.value("placement", json())}};
    return true;
  });
  if (!s.ok()) return s;
  if (found.is_null())
    return NotFound("no create of container " + container + " is recorded (see `berth ps` for the containers)");
  return found;
}

void RegisterHosts(engine::Registry* r, InventorySource inventory, hosts::DriverFactory drivers) {
  if (!drivers) drivers = [](const std::string& name) { return hosts::MakeDriver(name); };
  r->Add(std::make_unique<HostWorkflow>());
  r->Add(std::make_unique<InventoryActivity>(std::move(inventory)));
  r->Add(std::make_unique<DescribeActivity>(drivers));
  r->Add(std::make_unique<ProvisionActivity>(drivers));
  r->Add(std::make_unique<DeprovisionActivity>(drivers));
  r->Add(std::make_unique<CensusActivity>());
}

Result<docker::DockerClient*> HostClients::Get(const std::string& host) {
  if (host.empty() || host == kLocalHost) return local_();
  std::lock_guard<std::mutex> lock(mu_);
  auto it = clients_.find(host);
  if (it != clients_.end()) return static_cast<docker::DockerClient*>(it->second.get());
  auto inv = inventory_();
  if (!inv.ok()) return inv.status();
  const HostRecord* h = inv->Find(host);
  if (!h)
    return NotFound("host " + host + " is not in the cloud (removed?); `berth hosts` lists the hosts");
  auto c = hosts::ClientFor(h->spec);
  if (!c.ok()) return c.status();
  auto* raw = c->get();
  clients_[host] = std::move(c).value();
  return static_cast<docker::DockerClient*>(raw);
}

}  // namespace berth::workflows
