// Whole-file rules of the Compose keys that span services: which profiles are enabled,
// container_name uniqueness, and links as aliases of the linked service.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {

// --profile, else COMPOSE_PROFILES (comma-separated), as Compose takes them; "*" is every one.
std::set<std::string> ActiveProfiles(ComposeReader& r, const LoadOptions& o) {
  std::set<std::string> active(o.profiles.begin(), o.profiles.end());
  if (active.empty()) {
    std::string env = r.Lookup("COMPOSE_PROFILES").value_or("");
    for (size_t start = 0; start <= env.size();) {
      size_t comma = std::min(env.find(',', start), env.size());
      std::string p = env.substr(start, comma - start);
      if (!p.empty()) active.insert(p);
      start = comma + 1;
    }
  }
  return active;
}

bool Enabled(const ServiceDef& s, const std::set<std::string>& active) {
  if (s.profiles.empty() || active.count("*")) return true;
  for (const std::string& p : s.profiles)
    if (active.count(p)) return true;
  return false;
}

std::string Joined(const std::vector<std::string>& v, const char* sep) {
  std::string out;
  for (const std::string& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// A service's first container: its container_name, else the name Berth gives replica 1
// (workflows/deploy/names.h: APP-SERVICE-1).
std::string FirstContainer(const Blueprint& b, const ServiceDef& t) {
  return t.container_name.empty() ? b.name + "-" + t.name + "-1" : t.container_name;
}

std::optional<OtherContainer> ParseOtherContainer(const std::string& mode) {
  for (const char* kind : {"service:", "container:"})
    if (mode.rfind(kind, 0) == 0) return OtherContainer{kind[0] == 's', mode.substr(std::strlen(kind))};
  return std::nullopt;
}

std::string OtherContainerError(const std::string& mode, const OtherContainer& o) {
  if (ValidObjectName(o.name)) return "";
  return "'" + mode + "': '" + o.name + "' is not a " + (o.service ? "service" : "container") + " name" +
         (o.name.empty() ? " (an unset variable?)" : "");
}

// Each link's alias becomes an alias of the linked service on the networks both join.
void ApplyLinks(Blueprint* b) {
  auto joined = [](const ServiceDef& s) {
    std::vector<std::string> n;
    for (const ServiceNetwork& sn : s.networks) n.push_back(sn.name);
    if (n.empty()) n.push_back("default");
    return n;
  };
  for (const ServiceDef& s : b->services) {
    if (!s.network_mode.empty()) continue;  // network_mode bridge: Docker's own links (LegacyLinks)
    for (const std::string& link : s.links) {
      std::string target = link.substr(0, link.find(':')), alias = link.substr(link.find(':') + 1);
      ServiceDef* t = nullptr;
      for (ServiceDef& c : b->services) t = c.name == target ? &c : t;
      if (t == nullptr || alias == target) continue;  // unknown: reported with depends_on
      std::vector<std::string> mine = joined(s);
      if (t->networks.empty()) t->networks.push_back(ServiceNetwork{"default", {}, ""});
      for (ServiceNetwork& tn : t->networks) {
        bool shared = std::find(mine.begin(), mine.end(), tn.name) != mine.end();
        if (shared && std::find(tn.aliases.begin(), tn.aliases.end(), alias) == tn.aliases.end())
          tn.aliases.push_back(alias);
      }
    }
  }
}

void LegacyLinks(ComposeReader& r, Blueprint* b) {
  for (ServiceDef& s : b->services) {
    if (s.network_mode != "bridge" || s.links.empty()) continue;
    nlohmann::json links = nlohmann::json::array();
    for (const std::string& link : s.links) {
      std::string target = link.substr(0, link.find(':')), alias = link.substr(link.find(':') + 1);
      const ServiceDef* t = b->FindService(target);
      if (t == nullptr) continue;  // reported with depends_on
      if (t->network_mode != "bridge") {
        r.Error(Where{"services." + s.name + ".links", s.line, s.col},
                "link to " + target + ": on network_mode bridge, links are Docker's own, to a container on "
                "the default bridge too; give " + target + " network_mode: bridge, or drop this one's network_mode");
        continue;
      }
      links.push_back(FirstContainer(*b, *t) + ":" + alias);
    }
    if (!links.empty()) s.engine_host["Links"] = links.dump();
  }
}

// volumes_from of a service means its first container: by its container_name, else by the
// name Berth gives replica 1 (workflows/deploy/names.h: APP-SERVICE-1). An unknown service
// was reported with depends_on already.
void ResolveVolumesFrom(Blueprint* b) {
  for (ServiceDef& s : b->services) {
    if (s.volumes_from.empty()) continue;
    nlohmann::json from = nlohmann::json::array();
    for (const ServiceDef::VolumesFrom& v : s.volumes_from) {
      std::string name = v.name;
      if (!v.container) {
        const ServiceDef* t = b->FindService(v.name);
        if (t == nullptr) continue;
        name = FirstContainer(*b, *t);
      }
      from.push_back(v.mode.empty() ? name : name + ":" + v.mode);
    }
    s.engine_host["VolumesFrom"] = from.dump();
    s.volumes_from.clear();
  }
}

void ResolveSharedNamespaces(Blueprint* b) {
  for (ServiceDef& s : b->services) {
    for (const char* key : {"NetworkMode", "IpcMode", "PidMode"}) {
      auto it = s.engine_host.find(key);
      if (it == s.engine_host.end()) continue;
      const nlohmann::json value = nlohmann::json::parse(it->second, nullptr, false);
      if (!value.is_string()) continue;
      auto other = ParseOtherContainer(value.get<std::string>());
      if (!other || !other->service) continue;
      const ServiceDef* t = b->FindService(other->name);
      if (t == nullptr) continue;  // reported as a dependency on an unknown service
      it->second = nlohmann::json("container:" + FirstContainer(*b, *t)).dump();
      if (std::find(s.shares.begin(), s.shares.end(), t->name) == s.shares.end()) s.shares.push_back(t->name);
    }
  }
}

// container_name names one container, unique in the file (and, at deploy, on the engine).
void CheckContainerNames(ComposeReader& r, const Blueprint& b) {
  std::map<std::string, std::string> owner;
  for (const ServiceDef& s : b.services) {
    if (s.container_name.empty()) continue;
    Where w{"services." + s.name + ".container_name", s.line, s.col};
    if (s.replicas > 1)
      r.Error(w, "container_name '" + s.container_name + "' names one container, but deploy.replicas is " +
                     std::to_string(s.replicas) + " (Compose refuses this too): drop one of them");
    auto [it, fresh] = owner.emplace(s.container_name, s.name);
    if (!fresh)
      r.Error(w, "container_name '" + s.container_name + "' is also service " + it->second + "'s");
  }
}

}  // namespace berth::workflows::compose
