// The service keys Compose files use most that Berth once refused: env_file, links,
// network_mode, platform, pull_policy, container_name, profiles, scale, deploy.resources;
// and the checks that need the whole service.
#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/blueprint/compose_service_parse.h"

namespace berth::workflows::compose {

// `env_file: a.env`, `[a.env, b.env]` or `[{path: a.env, required: false}]`: read in order,
// a later file's value winning; `environment` wins over all of them.
void EnvFile(ServiceParse& p, const Entry& e) {
  Items items;
  if (e.value.IsScalar()) items.emplace_back(e.value, e.where);
  else if (auto l = p.r.List(e.value, e.where)) items = *l;
  for (const auto& [item, at] : items) {
    std::optional<std::string> path;
    bool required = true;
    if (item.IsMap()) {
      for (const Entry& k : p.r.Map(item, at).value_or(std::vector<Entry>())) {
        if (k.key == "path") path = p.r.String(k.value, k.where);
        else if (k.key == "required") required = p.r.Bool(k.value, k.where).value_or(true);
        else if (k.key == "format") {
          if (p.r.String(k.value, k.where).value_or("") != "raw") p.r.Error(k.where, "format: only `raw` is known");
        } else p.r.OtherKey(k, {});
      }
      if (!path) {
        p.r.Error(at, "an env_file entry needs `path`");
        continue;
      }
    } else {
      path = p.r.String(item, at);
      if (!path) continue;
    }
    std::string abs = p.r.AbsolutePath(*path);
    std::vector<std::pair<std::string, std::optional<std::string>>> vars;
    bool missing = false;
    std::string why = ReadEnvFile(abs, &vars, nullptr, &missing);
    if (!why.empty()) {
      if (missing && !required) continue;
      p.r.Error(at, "cannot read " + abs + ": " + why);
      continue;
    }
    for (auto& [k, v] : vars) {
      if (!v) v = p.r.Lookup(k);  // a bare KEY: from the environment, else left out
      if (v) p.env_file[k] = *v;
    }
  }
}

// `service` becomes a depends_on of this one (once), reported at `where` if unknown.
static void StartsAfter(ServiceParse& p, const std::string& service, const Where& where) {
  if (std::find(p.def.depends_on.begin(), p.def.depends_on.end(), service) != p.def.depends_on.end())
    return;
  p.def.depends_on.push_back(service);
  p.depends_where.push_back(where);
}

void Links(ServiceParse& p, const Entry& e) {
  for (const std::string& l : p.r.Strings(e.value, e.where, /*one_ok=*/false).value_or(std::vector<std::string>())) {
    size_t colon = l.find(':');
    std::string target = l.substr(0, colon), alias = colon == std::string::npos ? target : l.substr(colon + 1);
    if (!ValidObjectName(target) || !ValidObjectName(alias)) {
      p.r.Error(e.where, "link '" + l + "' is not SERVICE[:ALIAS]");
      continue;
    }
    p.def.links.push_back(target + ":" + alias);
    StartsAfter(p, target, e.where);
  }
}

// SERVICE[:ro|:rw] (also service:SERVICE[:MODE]) or container:NAME[:MODE]: the volumes of
// that service's first container, or of a container Berth did not make. A service is
// started first, as with depends_on.
void VolumesFrom(ServiceParse& p, const Entry& e) {
  for (const std::string& v : p.r.Strings(e.value, e.where, /*one_ok=*/false).value_or(std::vector<std::string>())) {
    std::string kind = "service", rest = v;
    for (const char* k : {"service:", "container:"}) {
      if (rest.rfind(k, 0) == 0) {
        kind = std::string(k, std::strlen(k) - 1);
        rest = rest.substr(std::strlen(k));
      }
    }
    size_t colon = rest.find(':');
    std::string name = rest.substr(0, colon), mode = colon == std::string::npos ? "" : rest.substr(colon + 1);
    if (!ValidObjectName(name) || !(mode.empty() || mode == "ro" || mode == "rw")) {
      p.r.Error(e.where, "volumes_from '" + v + "' is not [service:]NAME[:ro|:rw] or container:NAME[:ro|:rw]");
      continue;
    }
    p.def.volumes_from.push_back({kind == "container", name, mode});
    if (kind == "service") StartsAfter(p, name, e.where);
  }
}

// host, none or bridge (Docker's default bridge); service:X and container:NAME share another
// container's network stack (service:X as ipc and pid do: FinishService, then
// ResolveSharedNamespaces at the end of the load).
void NetworkMode(ServiceParse& p, const Entry& e) {
  std::string m = p.r.String(e.value, e.where).value_or("");
  if (auto other = ParseOtherContainer(m)) {
    if (std::string bad = OtherContainerError(m, *other); !bad.empty()) {
      p.r.Error(e.where, "network_mode " + bad);
      return;
    }
    p.def.network_mode = m;
    p.def.engine_host["NetworkMode"] = nlohmann::json(m).dump();
    p.network_mode_where = e.where;
    return;
  }
  if (m != "host" && m != "none" && m != "bridge") {
    p.r.Error(e.where, "network_mode '" + m + "' is not host, none, bridge, service:NAME or container:NAME");
    return;
  }
  p.def.network_mode = m;
  p.def.engine_host["NetworkMode"] = nlohmann::json(m).dump();
  p.network_mode_where = e.where;
}

void Platform(ServiceParse& p, const Entry& e) {
  p.def.platform = p.r.String(e.value, e.where).value_or("");
  if (p.def.platform.empty()) return;  // "" (an unset variable): the engine's own, as in Compose
  if (p.def.platform.find('/') == std::string::npos)
    p.r.Error(e.where, "platform '" + p.def.platform + "' is not OS/ARCH[/VARIANT] (e.g. linux/amd64)");
}

// Berth pulls only from a registry the image names, and only when the image is missing:
// `missing` / `if_not_present` are that; `never` refuses a missing image; `build` builds.
// `always` (pull at every deploy) is not done yet: a warning, then as `missing`.
void PullPolicy(ServiceParse& p, const Entry& e) {
  std::string v = p.r.String(e.value, e.where).value_or("");
  if (v == "if_not_present") v = "missing";
  if (v != "missing" && v != "never" && v != "always" && v != "build") {
    p.r.Error(e.where, "pull_policy '" + v + "' is not always, never, missing, if_not_present or build");
    return;
  }
  if (v == "always") p.r.Warn(e.where, "pull_policy: always is not done yet: the image is pulled only when missing");
  p.def.pull_policy = v;
}

void ContainerName(ServiceParse& p, const Entry& e) {
  std::string n = p.r.String(e.value, e.where).value_or("");
  // "" (what an unset variable gives): the default name, as in Compose.
  if (!n.empty() && !ValidObjectName(n))
    p.r.Error(e.where, "container_name '" + n + "' must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
  p.def.container_name = n;
}

void Profiles(ServiceParse& p, const Entry& e) {
  for (const std::string& n : p.r.Strings(e.value, e.where, /*one_ok=*/false).value_or(std::vector<std::string>())) {
    if (!ValidObjectName(n)) p.r.Error(e.where, "profile '" + n + "' must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    p.def.profiles.push_back(n);
  }
}

// deploy.resources: limits and reservations the engine enforces on one host, recorded as
// the per-container keys they equal (limits.cpus is `cpus`, limits.memory `mem_limit`, ...).
void Resources(ServiceParse& p, const Entry& e) {
  static const std::map<std::string, std::map<std::string, std::string>> kAs = {
      {"limits", {{"cpus", "cpus"}, {"memory", "mem_limit"}, {"pids", "pids_limit"}}},
      {"reservations", {{"memory", "mem_reservation"}}}};
  for (const Entry& part : p.r.Map(e.value, e.where, true).value_or(std::vector<Entry>())) {
    auto as = kAs.find(part.key);
    if (as == kAs.end()) {
      p.r.OtherKey(part, {});
      continue;
    }
    for (const Entry& k : p.r.Map(part.value, part.where, true).value_or(std::vector<Entry>())) {
      if (part.key == "reservations" && k.key == "cpus") {  // placement's, not the engine's
        std::optional<std::string> s = p.r.String(k.value, k.where);
        char* end = nullptr;
        double v = s ? std::strtod(s->c_str(), &end) : 0;
        if (s && (s->empty() || *end != '\0' || !(v > 0) || v > 1024))
          p.r.Error(k.where, "'" + *s + "' is not a number of CPUs (e.g. 0.5 or 2)");
        else if (s)
          p.def.reserve_cpus = v;
        continue;
      }
      auto key = as->second.find(k.key);
      if (key == as->second.end()) {
        p.r.Warn(k.key_where, "not used yet (ignored)");  // reservations.devices, ...
        continue;
      }
      Entry same = k;
      same.key = key->second;
      (void)ParseEngineKey(p.r, same, &p.def);
    }
  }
}

// The older `scale: N`: the same as deploy.replicas, which must agree when both are set.
void Scale(ServiceParse& p, const Entry& e) {
  std::optional<int64_t> n = p.r.Integer(e.value, e.where, 0, 1000);
  if (n) p.scale = static_cast<int>(*n);
  p.scale_where = e.where;
}

void FinishService(ServiceParse& p, const Entry& service) {
  // service:X in network_mode, ipc or pid: X's first container's namespace, so X starts first.
  const std::pair<const char*, const char*> shared[] = {{"network_mode", "NetworkMode"}, {"ipc", "IpcMode"}, {"pid", "PidMode"}};
  for (const auto& [key, field] : shared) {
    auto it = p.def.engine_host.find(field);
    if (it == p.def.engine_host.end()) continue;
    const nlohmann::json value = nlohmann::json::parse(it->second, nullptr, false);
    auto other = value.is_string() ? ParseOtherContainer(value.get<std::string>()) : std::nullopt;
    if (!other || !other->service) continue;
    Where w = std::string(key) == "network_mode" ? p.network_mode_where
                                                 : Where{"services." + p.def.name + "." + key, p.def.line, p.def.col};
    StartsAfter(p, other->name, w);
  }
  for (const auto& [k, v] : p.env_file) p.def.environment.emplace(k, v);  // environment wins
  if (p.def.pull_policy == "build" && !p.def.build)
    p.r.Error(service.key_where, "pull_policy: build needs `build`");
  if (!p.def.network_mode.empty() && !p.def.networks.empty())
    p.r.Error(p.network_mode_where, "network_mode and networks cannot both be set (Compose refuses this too)");
  if (!p.def.network_mode.empty() && p.def.network_mode != "bridge" && !p.def.links.empty())
    p.r.Error(p.network_mode_where, "links need a network: they cannot be used with network_mode " + p.def.network_mode);
  if (p.def.network_mode.rfind("service:", 0) == 0 || p.def.network_mode.rfind("container:", 0) == 0) {
    // The engine refuses these beside another container's network stack (its own rules).
    std::string clash = !p.def.ports.empty()                ? "ports"
                        : !p.def.hostname.empty()           ? "hostname"
                        : p.def.engine_host.count("Dns")     ? "dns"
                        : p.def.engine_host.count("ExtraHosts") ? "extra_hosts"
                        : p.def.engine_config.count("MacAddress") ? "mac_address"
                                                                : "";
    if (!clash.empty())
      p.r.Error(p.network_mode_where, "network_mode '" + p.def.network_mode + "' shares another container's network: `" +
                                          clash + "` belongs to that container, not this one (the engine refuses both)");
  }
  if (p.def.network_mode == "host" && !p.def.ports.empty())
    p.r.Warn(p.network_mode_where, "with network_mode: host the container uses the host's ports; `ports` are not published");
  if (p.scale) {
    if (!p.replicas_where.path.empty() && p.def.replicas != *p.scale)
      p.r.Error(p.scale_where, "scale is " + std::to_string(*p.scale) + " but deploy.replicas is " +
                                 std::to_string(p.def.replicas) + ": keep one of them");
    p.def.replicas = *p.scale;
  }
}

}  // namespace berth::workflows::compose
