// The top-level `volumes` and `networks` of a Compose file: names, drivers, IPAM, labels,
// and `external` / `name:` (whose engine object keeps its own name).
#include <map>
#include <set>
#include <string>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

// `external: true` (or the old `external: {name: X}`) and `name: X` of a top-level volume or
// network: whether someone else makes it, and the engine's name for it ("" keeps Berth's).
struct Naming {
  bool external = false;
  std::string name;
};

// Handles `external` and `name`; false for any other key.
bool NamingKey(ComposeReader& r, const Entry& k, Naming* n) {
  if (k.key == "name") {
    n->name = r.String(k.value, k.where).value_or("");  // "": the default (an unset variable)
    if (!n->name.empty() && !ValidObjectName(n->name)) r.Error(k.where, "name '" + n->name + "' " + kObjectNameRule);
    return true;
  }
  if (k.key != "external") return false;
  if (k.value.IsMap()) {  // Compose file format 2/3.0-3.3: external: {name: X}
    n->external = true;
    for (const Entry& e : r.Map(k.value, k.where).value_or(std::vector<Entry>())) {
      if (e.key == "name") n->name = r.String(e.value, e.where).value_or(n->name);
      else r.OtherKey(e, {});
    }
  } else {
    n->external = r.Bool(k.value, k.where).value_or(false);
  }
  return true;
}

void Ipam(ComposeReader& r, const Entry& ipam, NetworkDef* net) {
  for (const Entry& k : r.Map(ipam.value, ipam.where).value_or(std::vector<Entry>())) {
    if (k.key == "driver") {
      if (r.String(k.value, k.where).value_or("default") != "default") {
        r.Error(k.where, "only the default IPAM driver is supported");
      }
    } else if (k.key == "config") {
      auto configs = r.List(k.value, k.where);
      if (configs && configs->size() > 1) r.Error(k.where, "only one ipam config is supported");
      if (!configs || configs->empty()) continue;
      const auto& [config, at] = configs->front();
      for (const Entry& c : r.Map(config, at).value_or(std::vector<Entry>())) {
        if (c.key == "subnet" || c.key == "gateway") {
          std::string s = r.String(c.value, c.where).value_or("");
          (c.key == "subnet" ? net->subnet : net->gateway) = s;
          if (c.key == "subnet" ? !ValidCidr4(s) : !ValidIPv4(s)) {
            r.Error(c.where, "'" + s + "' is not an IPv4 " +
                                 (c.key == "subnet" ? "subnet (a.b.c.d/n)" : "address"));
          }
        } else {
          r.OtherKey(c, {"ip_range", "aux_addresses"});
        }
      }
      if (!net->gateway.empty() && net->subnet.empty()) r.Error(at, "a gateway needs a subnet");
    } else {
      r.OtherKey(k, {"options"});
    }
  }
}

}  // namespace

std::set<std::string> TopVolumes(ComposeReader& r, const Entry* top, const std::string& app,
                                 Blueprint* b, std::map<std::string, std::string>* renamed) {
  std::set<std::string> names;
  if (top == nullptr) return names;
  for (const Entry& v : r.Map(top->value, top->where, true).value_or(std::vector<Entry>())) {
    if (!ValidObjectName(v.key))
      r.Error(v.key_where, "volume name " + std::string(kObjectNameRule));
    Naming naming;
    for (const Entry& k : r.Map(v.value, v.where, true).value_or(std::vector<Entry>())) {
      if (NamingKey(r, k, &naming)) {
        continue;
      } else if (k.key == "driver") {
        std::string driver = r.String(k.value, k.where).value_or("local");
        if (driver != "local" && !driver.empty()) {  // "" (an unset variable): the default
          r.Error(k.where, "volume driver '" + driver + "' is not supported (local)");
        }
      } else if (k.key == "labels") {
        (void)r.KeyValues(k.value, k.where, Bare::kEmpty);
        r.Warn(k.key_where, "not used yet (ignored)");
      } else {
        r.OtherKey(k, {"driver_opts"});
      }
    }
    names.insert(v.key);
    std::string docker_name = !naming.name.empty() ? naming.name
                              : naming.external  ? v.key
                                                 : app + "_" + v.key;
    if (docker_name != app + "_" + v.key) (*renamed)[app + "_" + v.key] = docker_name;
    b->volumes.push_back(docker_name);
  }
  return names;
}

// Service mounts of volumes with a name of their own, or external ones, use that name.
void RenameMounts(const std::map<std::string, std::string>& renamed, Blueprint* b) {
  for (ServiceDef& s : b->services)
    for (VolumeMount& m : s.volumes)
      if (auto it = renamed.find(m.source); m.named && it != renamed.end()) m.source = it->second;
}

std::set<std::string> TopNetworks(ComposeReader& r, const Entry* top, const std::string& app,
                                  Blueprint* b) {
  auto make = [](const std::string& name, const std::string& docker_name) {
    NetworkDef n;
    n.name = name;
    n.docker_name = docker_name;
    return n;
  };
  b->networks = {make("default", app + "_default")};
  std::set<std::string> names = {"default"};
  if (top == nullptr) return names;
  for (const Entry& n : r.Map(top->value, top->where, true).value_or(std::vector<Entry>())) {
    if (!ValidObjectName(n.key)) {
      r.Error(n.key_where, "network name " + std::string(kObjectNameRule));
    }
    if (n.key != "default") b->networks.push_back(make(n.key, app + "_" + n.key));
    NetworkDef* net = n.key == "default" ? &b->networks.front() : &b->networks.back();
    Naming naming;
    const Entry* configured = nullptr;  // a key that makes no sense on an external network
    for (const Entry& k : r.Map(n.value, n.where, true).value_or(std::vector<Entry>())) {
      if (NamingKey(r, k, &naming)) continue;
      if (k.key == "driver" || k.key == "ipam" || k.key == "driver_opts" || k.key == "internal") configured = &k;
      if (k.key == "driver") {
        std::string driver = r.String(k.value, k.where).value_or("bridge");
        if (driver != "bridge" && !driver.empty()) {  // "" (an unset variable): the default
          r.Error(k.where, "network driver '" + driver + "' is not supported (bridge)");
        }
      } else if (k.key == "ipam") {
        Ipam(r, k, net);
      } else if (k.key == "labels") {
        net->labels = r.KeyValues(k.value, k.where, Bare::kEmpty).value_or(net->labels);
      } else if (k.key == "driver_opts") {
        net->driver_opts = r.KeyValues(k.value, k.where, Bare::kEmpty).value_or(net->driver_opts);
      } else if (k.key == "internal") {
        net->internal = r.Bool(k.value, k.where).value_or(false);
      } else if (k.key == "attachable") {
        net->attachable = r.Bool(k.value, k.where).value_or(false);
      } else {
        r.OtherKey(k, {"enable_ipv6", "ipv4", "ipv6"});
      }
    }
    net->external = naming.external;
    if (!naming.name.empty()) net->docker_name = naming.name;
    else if (naming.external) net->docker_name = n.key;
    if (naming.external && configured != nullptr)
      r.Error(configured->key_where, "an external network is made by someone else: `" +
                                         configured->key + "` cannot be set here");
    names.insert(n.key);
  }
  return names;
}

}  // namespace berth::workflows::compose
