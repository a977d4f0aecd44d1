#include "tools/berth/hosts_cmd.h"

#include <fmt/format.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "adapters/hosts/host_driver.h"
#include "server/api.h"
#include "tools/berth/apps.h"
#include "tools/berth/client.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/names.h"
#include "workflows/hosts/hosts.h"

namespace berth::tool {

using json = nlohmann::json;
namespace wf = berth::workflows;

namespace {

// The inventory as the log holds it: through the server when one holds the data directory,
// else read here. No data directory yet: no host.
Result<json> InventoryJson(const Globals& g, bool for_hosts = true) {
  if (auto server = ServerClient::Find(g)) return server->Get("/v1/hosts");
  auto ctx = Context::Open(g, /*create=*/false);
  if (!ctx.ok()) {
    if (ctx.status().code() == Code::kNotFound) return json{{"hosts", json::array()}};
    if (ctx.status().code() == Code::kBusy && !for_hosts) {
      // Another berth holds the log (an `up` in-process): `ps` still lists an engine, as it
      // did before there were hosts, but says what it cannot see.
      std::cerr << "berth: the data directory is in use by another berth process: listing the engine "
                   "DOCKER_HOST names only (the cloud's hosts are in the log)\n";
      return json{{"hosts", json::array()}};
    }
    return ctx.status();
  }
  auto inv = wf::LoadInventory((*ctx)->log());
  if (!inv.ok()) return inv.status();
  return wf::ToJson(*inv);
}

std::string Mib(int64_t bytes) { return bytes ? std::to_string(bytes >> 20) + " MiB" : "-"; }

}  // namespace

Result<std::vector<CloudEngine>> CloudEngines(const Globals& g) {
  auto inv = InventoryJson(g, /*for_hosts=*/false);
  if (!inv.ok()) return inv.status();
  auto parsed = wf::InventoryFromJson(*inv);
  if (!parsed.ok()) return parsed.status();
  std::vector<CloudEngine> out;
  if (parsed->hosts.empty()) {
    auto d = ReachableDocker();
    if (!d.ok()) return d.status();
    out.push_back({wf::kLocalHost, nullptr, *d});
    return out;
  }
  for (const auto& h : parsed->hosts) {
    docker::EngineClientOptions o;
    o.call_timeout_ms = 5000;
    auto c = hosts::ClientFor(h.spec, o);
    if (!c.ok()) return c.status();
    CloudEngine e{h.spec.name, std::move(c).value(), nullptr};
    e.client = e.owned.get();
    out.push_back(std::move(e));
  }
  return out;
}

int HostAdd(const Globals& g, const HostAddArgs& a) {
  hosts::HostSpec spec;
  spec.name = a.name;
  spec.driver = a.driver;
  spec.endpoint = a.endpoint;
  spec.tls_ca = a.tls_ca;
  spec.tls_cert = a.tls_cert;
  spec.tls_key = a.tls_key;
  spec.cpus = a.cpus;
  spec.registry = a.registry;
  if (!a.memory.empty()) {
    spec.memory = wf::ParseByteSize(a.memory).value_or(0);
    if (spec.memory <= 0) return Fail(InvalidArgument("--memory '" + a.memory + "': use bytes or a size like 8g, 512m"));
  }
  for (const auto& l : a.labels) {
    auto eq = l.find('=');
    if (eq == std::string::npos || eq == 0)
      return Fail(InvalidArgument("--label '" + l + "': use KEY=VALUE"));
    spec.labels[l.substr(0, eq)] = l.substr(eq + 1);
  }
  if (Status v = hosts::Validate(spec); !v.ok()) return Fail(v);
  json input = {{"op", "add"}, {"host", hosts::ToJson(spec)}, {"by", Caller()}};
  return RunApp(g, "host", "add-" + spec.name, input, a.detach);
}

int HostChange(const Globals& g, const std::string& op, const std::string& name, bool force, bool detach) {
  if (!hosts::ValidHostName(name)) return Fail(InvalidArgument("'" + name + "' is not a host name (see `berth hosts`)"));
  json input = {{"op", op}, {"name", name}, {"by", Caller()}};
  if (force) input["force"] = true;
  return RunApp(g, "host", op + "-" + name, input, detach);
}

int Hosts(const Globals& g) {
  auto inv = InventoryJson(g);
  if (!inv.ok()) return Fail(inv.status());
  auto parsed = wf::InventoryFromJson(*inv);
  if (!parsed.ok()) return Fail(parsed.status());
  json rows = json::array();
  for (const auto& h : parsed->hosts) {
    // What each host holds now, from its own engine (a short timeout: one host away must
    // not hold the listing up).
    std::string state = h.cordoned ? "cordoned" : "ready", error;
    int64_t containers = 0, memory_reserved = 0;
    double cpus_reserved = 0;
    docker::EngineClientOptions o;
    o.call_timeout_ms = 3000;
    auto client = hosts::ClientFor(h.spec, o);
    auto list = client.ok() ? (*client)->ListContainers({{wf::kLabelApp, ""}})
                            : Result<std::vector<docker::ContainerInfo>>(client.status());
    if (list.ok()) {
      for (const auto& c : *list) {
        if (docker::LabelValue(c.labels, wf::kLabelRole) == "install") continue;
        ++containers;
        memory_reserved += std::atoll(docker::LabelValue(c.labels, wf::kLabelMemory).c_str());
        cpus_reserved += std::atof(docker::LabelValue(c.labels, wf::kLabelCpus).c_str());
      }
    } else {
      state = "unreachable";
      error = list.status().message();
    }
    int64_t cpus = h.spec.cpus ? h.spec.cpus : h.facts.cpus, memory = h.spec.memory ? h.spec.memory : h.facts.memory;
    json row = {{"name", h.spec.name}, {"endpoint", h.spec.endpoint}, {"driver", h.spec.driver},
                {"labels", h.spec.labels}, {"state", state}, {"containers", containers},
                {"cpus", cpus}, {"memory", memory},
                {"reserved", {{"cpus", cpus_reserved}, {"memory", memory_reserved}}},
                {"engine_version", h.facts.engine_version}, {"tls", !h.spec.tls_ca.empty()},
                {"added_by", h.added_by}};
    if (!error.empty()) row["error"] = error;
    if (!h.spec.netns.empty()) row["netns"] = h.spec.netns;
    if (!h.spec.registry.empty()) row["registry"] = h.spec.registry;
    rows.push_back(std::move(row));
  }
  if (g.output == Output::kJson) {
    std::cout << rows.dump() << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cerr << "no hosts: the cloud is the Docker engine DOCKER_HOST names (`berth host add NAME --endpoint ...` adds one)\n";
    return 0;
  }
  std::cout << fmt::format("{:<12} {:<8} {:<40} {:<12} {:>10} {:>5} {:>10}  {}\n", "NAME", "DRIVER", "ENDPOINT",
                           "STATE", "CONTAINERS", "CPUS", "MEMORY", "LABELS");
  for (const auto& r : rows) {
    std::string labels;
    for (const auto& [k, v] : r["labels"].items()) labels += (labels.empty() ? "" : ",") + k + "=" + v.get<std::string>();
    std::cout << fmt::format("{:<12} {:<8} {:<40} {:<12} {:>10} {:>5} {:>10}  {}\n", r["name"].get<std::string>(),
                             r["driver"].get<std::string>(), r["endpoint"].get<std::string>(),
                             r["state"].get<std::string>(), r["containers"].get<int64_t>(), r["cpus"].get<int64_t>(),
                             Mib(r["memory"].get<int64_t>()), labels);
  }
  for (const auto& r : rows)
    if (r.contains("error")) std::cerr << "berth: host " << r["name"].get<std::string>() << ": " << r["error"].get<std::string>() << "\n";
  return 0;
}

int Explain(const Globals& g, const std::string& container) {
  Result<json> out = json();
  if (auto server = ServerClient::Find(g)) {
    out = server->Get("/v1/explain?container=" + server::PercentEncode(container));
  } else {
    auto ctx = Context::Open(g, /*create=*/false);
    if (!ctx.ok()) return Fail(ctx.status());
    out = wf::Explain((*ctx)->log(), container);
  }
  if (!out.ok()) return Fail(out.status());
  if (g.output == Output::kJson) {
    std::cout << out->dump() << "\n";
    return 0;
  }
  const json& p = (*out)["placement"];
  std::cout << fmt::format("{}: on host {} (seq {}, {} step {}, {})\n", container, (*out)["host"].get<std::string>(),
                           (*out)["seq"].get<uint64_t>(), (*out)["workflow"].get<std::string>(),
                           (*out)["step"].get<std::string>(), FormatTime((*out)["time_us"].get<int64_t>()));
  if (!p.is_object()) {
    std::cout << "  no placement recorded: made on the Docker engine DOCKER_HOST names (no host was configured)\n";
    return 0;
  }
  if (p.contains("kept_on")) {
    std::cout << "  re-made on " << p.value("kept_on", "") << " (a container stays on its host while it can)\n";
    return 0;
  }
  std::string chain;
  for (const auto& s : p.value("chain", json::array())) chain += (chain.empty() ? "" : " -> ") + s.get<std::string>();
  std::cout << fmt::format("  chain: {}\n  chosen: {} (score {}), {} of the hosts examined passed\n",
                           chain.empty() ? "depth-first (the default)" : chain, p.value("host", ""),
                           p.value("score", 0.0), p.value("candidates", 0));
  for (const auto& r : p.value("rejected", json::array()))
    std::cout << fmt::format("  rejected {}: {}: {}\n", r.value("host", ""), r.value("strategy", ""), r.value("reason", ""));
  if (p.value("rejected_total", size_t{0}) > p.value("rejected", json::array()).size())
    std::cout << fmt::format("  ({} rejections in all)\n", p.value("rejected_total", 0));
  const json unreachable = p.value("unreachable", json::object());  // items() must not outlive it
  for (const auto& [h, err] : unreachable.items())
    std::cout << fmt::format("  skipped {}: it did not answer ({})\n", h, err.is_string() ? err.get<std::string>() : err.dump());
  return 0;
}

}  // namespace berth::tool
