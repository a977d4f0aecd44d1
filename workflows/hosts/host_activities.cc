// The host workflow's activities: host.inventory (reads the log) and the ones that call a
// host driver (describe, provision, deprovision) or a host's engine (census).
#include <set>

#include "workflows/deploy/names.h"
#include "workflows/hosts/host_gate.h"
#include "workflows/hosts/hosts.h"

namespace berth::workflows {
namespace {

using json = nlohmann::json;

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

// host.holdings: {app, hosts: [names]} -> {"containers": {name: host}} (Holdings, hosts.h).
class HoldingsActivity final : public engine::Activity {
 public:
  explicit HoldingsActivity(HoldingsSource source) : source_(std::move(source)) {}
  std::string name() const override { return "host.holdings"; }
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    json in = json::parse(ctx.input, nullptr, false);
    if (!in.is_object() || !in.contains("app") || !in["app"].is_string() || !in.contains("hosts") ||
        !in["hosts"].is_array())
      return InvalidArgument("host.holdings input must be {\"app\": NAME, \"hosts\": [names]}");
    std::set<std::string> hosts;
    for (const auto& h : in["hosts"])
      if (h.is_string()) hosts.insert(h.get<std::string>());
    auto held = source_(in["app"].get<std::string>(), hosts);
    if (!held.ok()) return held.status();
    return json{{"containers", *held}}.dump();
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();  // reads only: run again
  }

 private:
  HoldingsSource source_;
};

engine::RetryPolicy HostRetry() {
  engine::RetryPolicy p;
  p.attempts_max = 3;
  p.backoff_initial_ms = 500;
  p.backoff_max_ms = 2000;
  return p;
}

// A host.* activity: the HostSpec in its input's "host", the driver that spec names, and
// `body`. Each one either reads or finds its own earlier work before making anything, so
// Reconcile simply runs it again.
class DriverActivity final : public engine::Activity {
 public:
  using Body = std::function<Result<std::string>(hosts::HostDriver&, const hosts::HostSpec&, const json& in)>;
  DriverActivity(std::string name, hosts::DriverFactory drivers, Body body, int64_t attempt_timeout_ms = 0)
      : name_(std::move(name)), drivers_(std::move(drivers)), body_(std::move(body)),
        attempt_timeout_ms_(attempt_timeout_ms) {}
  std::string name() const override { return name_; }
  engine::RetryPolicy retry_policy() const override {
    engine::RetryPolicy p = HostRetry();
    p.attempt_timeout_ms = attempt_timeout_ms_;
    return p;
  }
  Result<std::string> Run(const engine::ActivityContext& ctx) override {
    json in = json::parse(ctx.input, nullptr, false);
    if (!in.is_object() || !in.contains("host")) return InvalidArgument("step " + ctx.step + ": no host in the input");
    auto spec = hosts::HostSpecFromJson(in["host"]);
    if (!spec.ok()) return spec.status();
    auto driver = drivers_(spec->driver);
    if (!driver.ok()) return driver.status();
    return body_(**driver, *spec, in);
  }
  Result<std::optional<std::string>> Reconcile(const engine::ActivityContext&) override {
    return std::optional<std::string>();
  }

 private:
  std::string name_;
  hosts::DriverFactory drivers_;
  Body body_;
  int64_t attempt_timeout_ms_;
};

Result<std::string> Describe(hosts::HostDriver& d, const hosts::HostSpec& spec, const json&) {
  auto facts = d.Describe(spec);
  if (!facts.ok()) return facts.status();
  return hosts::ToJson(*facts).dump();
}

// Every part is found before it is made: a provision killed half-way runs again.
Result<std::string> Provision(hosts::HostDriver& d, const hosts::HostSpec& spec, const json&) {
  auto made = d.Provision(spec);
  if (!made.ok()) return made.status();
  return hosts::ToJson(*made).dump();
}

Result<std::string> Deprovision(hosts::HostDriver& d, const hosts::HostSpec& spec, const json& in) {
  if (Status s = d.Deprovision(spec); !s.ok()) return s;
  if (in.value("last", false))
    if (Status s = d.Teardown(); !s.ok()) return s;
  return std::string("removed");
}

// How many of Berth's containers the host's engine holds, of which apps, and how many of
// Berth's networks.
Result<std::string> Census(const HostEngine& engines, const hosts::HostSpec& spec, HostGate* gate) {
  std::unique_lock<std::shared_mutex> hold;
  if (gate) hold = gate->Exclusive(spec.name);
  auto client = engines(spec);
  if (!client.ok()) return client.status();
  auto list = (*client)->ListContainers({{kLabelApp, ""}});
  if (!list.ok())
    return list.status().WithContext("counting Berth's containers on host " + spec.name + " (" + spec.endpoint +
                                     "; a host whose engine is gone for good: `berth host remove --force`)");
  std::set<std::string> apps;
  for (const auto& c : *list) apps.insert(docker::LabelValue(c.labels, kLabelApp));
  auto nets = (*client)->ListNetworks({{kLabelApp, ""}});
  if (!nets.ok()) return nets.status().WithContext("listing Berth's networks on host " + spec.name);
  return json{{"containers", list->size()}, {"apps", apps}, {"networks", nets->size()}}.dump();
}

// Removes the app networks Berth made on a host leaving the cloud (every deploy makes its
// app's networks on every host: deploy.cc). A network still in use is refused by the
// engine (a container of Berth's arrived after the census): the remove fails naming it.
Result<std::string> Clean(const HostEngine& engines, const hosts::HostSpec& spec) {
  auto client = engines(spec);
  if (!client.ok()) return client.status();
  auto nets = (*client)->ListNetworks({{kLabelApp, ""}});
  if (!nets.ok()) return nets.status().WithContext("listing Berth's networks on host " + spec.name);
  json removed = json::array();
  for (const auto& n : *nets) {
    Status s = (*client)->RemoveNetwork(n.id.empty() ? n.name : n.id);
    if (!s.ok() && s.code() != Code::kNotFound)
      return s.WithContext("removing network " + n.name + " from host " + spec.name);
    removed.push_back(n.name);
  }
  return json{{"networks", removed}}.dump();
}

}  // namespace

void RegisterHosts(engine::Registry* r, InventorySource inventory, hosts::DriverFactory drivers,
                   HostEngine engines, std::shared_ptr<HostGate> gate, HoldingsSource holdings) {
  if (!drivers) drivers = [](const std::string& name) { return hosts::MakeDriver(name); };
  if (!engines)
    engines = [](const hosts::HostSpec& spec) -> Result<std::shared_ptr<docker::DockerClient>> {
      docker::EngineClientOptions o;
      o.call_timeout_ms = 10'000;
      auto c = hosts::ClientFor(spec, o);
      if (!c.ok()) return c.status();
      return std::shared_ptr<docker::DockerClient>(std::move(c).value());
    };
  r->Add(MakeHostWorkflow());
  r->Add(std::make_unique<InventoryActivity>(std::move(inventory)));
  if (holdings) r->Add(std::make_unique<HoldingsActivity>(std::move(holdings)));
  r->Add(std::make_unique<DriverActivity>("host.describe", drivers, Describe));
  // A daemon starts in about a second; a loaded machine may take far longer.
  r->Add(std::make_unique<DriverActivity>("host.provision", drivers, Provision, 180'000));
  r->Add(std::make_unique<DriverActivity>("host.deprovision", drivers, Deprovision));
  r->Add(std::make_unique<DriverActivity>(
      "host.census", drivers,
      [engines, gate](hosts::HostDriver&, const hosts::HostSpec& spec, const json&) { return Census(engines, spec, gate.get()); }));
  r->Add(std::make_unique<DriverActivity>(
      "host.clean", drivers,
      [engines](hosts::HostDriver&, const hosts::HostSpec& spec, const json&) { return Clean(engines, spec); }));
}

}  // namespace berth::workflows
