// The Compose service keys that are fields of Docker's container create body as they stand
// (capabilities, limits, DNS, logging, ...): each is checked here and recorded as the JSON
// of its field, which the deploy's create step puts into the body unchanged.
#include <cctype>
#include <cmath>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

using json = nlohmann::json;

enum class Part { kConfig, kHost };

struct Key {
  Part part;
  const char* field;  // the create body's field
  std::function<std::optional<json>(ComposeReader&, const Entry&)> parse;
};

std::optional<json> Bytes(ComposeReader& r, const Entry& e) {
  std::optional<std::string> s = r.String(e.value, e.where);
  if (!s) return std::nullopt;
  std::optional<int64_t> v = ParseByteSize(*s);
  if (!v) {
    r.Error(e.where, "'" + *s + "' is not a size (a number of bytes, or with b, k, m or g)");
    return std::nullopt;
  }
  return json(*v);
}

std::optional<json> Text(ComposeReader& r, const Entry& e) {
  std::optional<std::string> s = r.String(e.value, e.where);
  if (!s) return std::nullopt;
  return json(*s);
}

std::optional<json> Flag(ComposeReader& r, const Entry& e) {
  std::optional<bool> b = r.Bool(e.value, e.where);
  if (!b) return std::nullopt;
  return json(*b);
}

std::optional<json> List(ComposeReader& r, const Entry& e) {
  auto l = r.Strings(e.value, e.where, /*one_ok=*/true);
  if (!l) return std::nullopt;
  return json(*l);
}

std::function<std::optional<json>(ComposeReader&, const Entry&)> Int(int64_t min, int64_t max) {
  return [min, max](ComposeReader& r, const Entry& e) -> std::optional<json> {
    std::optional<int64_t> i = r.Integer(e.value, e.where, min, max);
    if (!i) return std::nullopt;
    return json(*i);
  };
}

// A mode of the host's own (`host`, `private`, ...): `service:X` / `container:X` would need
// the other container's placement, which Berth does not resolve yet.
std::function<std::optional<json>(ComposeReader&, const Entry&)> Mode(std::set<std::string> ok) {
  return [ok](ComposeReader& r, const Entry& e) -> std::optional<json> {
    std::optional<std::string> s = r.String(e.value, e.where);
    if (!s || s->empty()) return std::nullopt;  // "" (an unset variable): the default, as in Compose
    if (!ok.count(*s)) {
      std::string all;
      for (const std::string& m : ok) all += (all.empty() ? "" : ", ") + m;
      r.Error(e.where, "'" + *s + "' is not supported here (one of: " + all + ")");
      return std::nullopt;
    }
    return json(*s);
  };
}

// A mode of the host's own, or another container's namespace: container:NAME as written,
// service:X resolved at the end of the load (ResolveSharedNamespaces).
std::function<std::optional<json>(ComposeReader&, const Entry&)> SharedMode(std::set<std::string> ok) {
  auto own = Mode(ok);
  return [own](ComposeReader& r, const Entry& e) -> std::optional<json> {
    std::optional<std::string> s = r.String(e.value, e.where);
    if (!s) return std::nullopt;
    auto other = ParseOtherContainer(*s);
    if (!other) return own(r, e);
    if (std::string bad = OtherContainerError(*s, *other); !bad.empty()) {
      r.Error(e.where, bad);
      return std::nullopt;
    }
    return json(*s);
  };
}

std::optional<json> Cpus(ComposeReader& r, const Entry& e) {
  std::optional<std::string> s = r.String(e.value, e.where);
  if (!s) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s->c_str(), &end);
  if (s->empty() || *end != '\0' || !(v > 0) || v > 1024) {
    r.Error(e.where, "'" + *s + "' is not a number of CPUs (e.g. 0.5 or 2)");
    return std::nullopt;
  }
  return json(static_cast<int64_t>(std::llround(v * 1e9)));
}

std::optional<json> Tmpfs(ComposeReader& r, const Entry& e) {
  auto l = r.Strings(e.value, e.where, /*one_ok=*/true);
  if (!l) return std::nullopt;
  json m = json::object();
  for (const std::string& t : *l) {
    size_t colon = t.find(':');
    std::string path = t.substr(0, colon);
    if (path.empty() || path[0] != '/') {
      r.Error(e.where, "tmpfs '" + t + "': the path must be absolute");
      return std::nullopt;
    }
    m[path] = colon == std::string::npos ? "" : t.substr(colon + 1);
  }
  return m;
}

std::optional<json> Devices(ComposeReader& r, const Entry& e) {
  auto l = r.Strings(e.value, e.where, /*one_ok=*/false);
  if (!l) return std::nullopt;
  json out = json::array();
  for (const std::string& d : *l) {
    std::vector<std::string> parts;
    for (size_t start = 0;;) {
      size_t c = d.find(':', start);
      parts.push_back(d.substr(start, c - start));
      if (c == std::string::npos) break;
      start = c + 1;
    }
    if (parts.size() > 3 || parts[0].empty() || parts[0][0] != '/') {
      r.Error(e.where, "device '" + d + "' is not HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]");
      return std::nullopt;
    }
    out.push_back({{"PathOnHost", parts[0]},
                   {"PathInContainer", parts.size() > 1 ? parts[1] : parts[0]},
                   {"CgroupPermissions", parts.size() > 2 ? parts[2] : "rwm"}});
  }
  return out;
}

std::optional<json> Sysctls(ComposeReader& r, const Entry& e) {
  auto kv = r.KeyValues(e.value, e.where, Bare::kEmpty);
  if (!kv) return std::nullopt;
  return json(*kv);
}

// `host:ip` or `host=ip` items, or a map host -> ip; the engine wants "host:ip".
std::optional<json> ExtraHosts(ComposeReader& r, const Entry& e) {
  json out = json::array();
  if (e.value.IsMap()) {
    for (const auto& [k, v] : r.KeyValues(e.value, e.where, Bare::kEmpty).value_or(std::map<std::string, std::string>()))
      out.push_back(k + ":" + v);
    return out;
  }
  auto l = r.Strings(e.value, e.where, /*one_ok=*/false);
  if (!l) return std::nullopt;
  for (std::string h : *l) {
    size_t eq = h.find('=');
    if (eq != std::string::npos) h[eq] = ':';
    if (h.find(':') == std::string::npos || h[0] == ':') {
      r.Error(e.where, "extra_hosts '" + h + "' is not HOST:IP");
      return std::nullopt;
    }
    out.push_back(h);
  }
  return out;
}

std::optional<json> Ulimits(ComposeReader& r, const Entry& e) {
  json out = json::array();
  for (const Entry& u : r.Map(e.value, e.where).value_or(std::vector<Entry>())) {
    int64_t soft = 0, hard = 0;
    if (u.value.IsMap()) {
      for (const Entry& k : r.Map(u.value, u.where).value_or(std::vector<Entry>())) {
        if (k.key == "soft") soft = r.Integer(k.value, k.where, -1, INT64_MAX).value_or(0);
        else if (k.key == "hard") hard = r.Integer(k.value, k.where, -1, INT64_MAX).value_or(0);
        else r.OtherKey(k, {});
      }
    } else {
      soft = hard = r.Integer(u.value, u.where, -1, INT64_MAX).value_or(0);
    }
    out.push_back({{"Name", u.key}, {"Soft", soft}, {"Hard", hard}});
  }
  return out;
}

std::optional<json> Logging(ComposeReader& r, const Entry& e) {
  json lc = {{"Type", ""}, {"Config", json::object()}};
  for (const Entry& k : r.Map(e.value, e.where).value_or(std::vector<Entry>())) {
    if (k.key == "driver") lc["Type"] = r.String(k.value, k.where).value_or("");
    else if (k.key == "options") lc["Config"] = r.KeyValues(k.value, k.where, Bare::kEmpty).value_or(std::map<std::string, std::string>());
    else r.OtherKey(k, {});
  }
  return lc;
}

// Group names, or numbers written as such.
std::optional<json> Groups(ComposeReader& r, const Entry& e) { return List(r, e); }

const std::map<std::string, Key>& Keys() {
  static const std::map<std::string, Key> keys = {
      {"cap_add", {Part::kHost, "CapAdd", List}},
      {"cap_drop", {Part::kHost, "CapDrop", List}},
      {"privileged", {Part::kHost, "Privileged", Flag}},
      {"read_only", {Part::kHost, "ReadonlyRootfs", Flag}},
      {"tmpfs", {Part::kHost, "Tmpfs", Tmpfs}},
      {"security_opt", {Part::kHost, "SecurityOpt", List}},
      {"devices", {Part::kHost, "Devices", Devices}},
      {"sysctls", {Part::kHost, "Sysctls", Sysctls}},
      {"ulimits", {Part::kHost, "Ulimits", Ulimits}},
      {"shm_size", {Part::kHost, "ShmSize", Bytes}},
      {"extra_hosts", {Part::kHost, "ExtraHosts", ExtraHosts}},
      {"dns", {Part::kHost, "Dns", List}},
      {"dns_search", {Part::kHost, "DnsSearch", List}},
      {"dns_opt", {Part::kHost, "DnsOptions", List}},
      {"logging", {Part::kHost, "LogConfig", Logging}},
      {"mem_limit", {Part::kHost, "Memory", Bytes}},
      {"mem_reservation", {Part::kHost, "MemoryReservation", Bytes}},
      {"memswap_limit", {Part::kHost, "MemorySwap", Bytes}},
      {"cpus", {Part::kHost, "NanoCpus", Cpus}},
      {"cpu_shares", {Part::kHost, "CpuShares", Int(0, 262144)}},
      {"cpuset", {Part::kHost, "CpusetCpus", Text}},
      {"pids_limit", {Part::kHost, "PidsLimit", Int(-1, INT64_MAX)}},
      {"oom_score_adj", {Part::kHost, "OomScoreAdj", Int(-1000, 1000)}},
      {"oom_kill_disable", {Part::kHost, "OomKillDisable", Flag}},
      {"group_add", {Part::kHost, "GroupAdd", Groups}},
      {"pid", {Part::kHost, "PidMode", SharedMode({"host"})}},
      {"ipc", {Part::kHost, "IpcMode", SharedMode({"host", "private", "shareable", "none"})}},
      {"uts", {Part::kHost, "UTSMode", Mode({"host"})}},
      {"userns_mode", {Part::kHost, "UsernsMode", Mode({"host"})}},
      {"cgroup", {Part::kHost, "CgroupnsMode", Mode({"host", "private"})}},
      {"cgroup_parent", {Part::kHost, "CgroupParent", Text}},
      {"isolation", {Part::kHost, "Isolation", Text}},
      {"runtime", {Part::kHost, "Runtime", Text}},
      {"tty", {Part::kConfig, "Tty", Flag}},
      {"stdin_open", {Part::kConfig, "OpenStdin", Flag}},
      {"domainname", {Part::kConfig, "Domainname", Text}},
      {"mac_address", {Part::kConfig, "MacAddress", Text}},
  };
  return keys;
}

}  // namespace

bool IsEngineKey(const std::string& key) { return Keys().count(key) > 0; }

std::optional<json> EngineKeyValue(ComposeReader& r, const Entry& e) {
  auto it = Keys().find(e.key);
  if (it == Keys().end() || e.value.IsNull()) return std::nullopt;
  return it->second.parse(r, e);
}

bool ParseEngineKey(ComposeReader& r, const Entry& e, ServiceDef* def) {
  auto it = Keys().find(e.key);
  if (it == Keys().end()) return false;
  if (std::optional<json> v = EngineKeyValue(r, e)) {  // nullopt: unset, or reported
    auto& fields = it->second.part == Part::kHost ? def->engine_host : def->engine_config;
    fields[it->second.field] = v->dump();
  }
  return true;
}

}  // namespace berth::workflows::compose
