// The service keys with a syntax of their own: build, ports, networks, volumes.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

// Keys of a nested map that Compose defines and Berth refuses.
const std::set<std::string> kUnsupportedBuildKeys = {"cache_to",
                                                     "ssh",
                                                     "secrets",
                                                     "privileged",
                                                     "ulimits",
                                                     "additional_contexts",
                                                     "entitlements",
                                                     "dockerfile_inline"};

// The build keys that are parameters of the engine's build call as they stand. Sizes and
// host lists are checked with the per-container keys' parsers (compose_engine_keys.cc).
bool BuildOption(ComposeReader& r, const Entry& k, BuildDef* b) {
  auto put = [&](const char* name, const std::optional<std::string>& v) {
    if (v) b->options[name] = *v;
  };
  if (k.key == "target") put("target", r.String(k.value, k.where));
  else if (k.key == "network") put("networkmode", r.String(k.value, k.where));
  else if (k.key == "isolation") put("isolation", r.String(k.value, k.where));
  else if (k.key == "labels") b->labels = r.KeyValues(k.value, k.where, Bare::kEmpty).value_or(b->labels);
  else if (k.key == "tags") b->tags = r.Strings(k.value, k.where, /*one_ok=*/false).value_or(b->tags);
  else if (k.key == "no_cache" || k.key == "pull") {
    if (r.Bool(k.value, k.where).value_or(false)) b->options[k.key == "pull" ? "pull" : "nocache"] = "1";
  } else if (k.key == "cache_from") {
    auto l = r.Strings(k.value, k.where, /*one_ok=*/false);
    if (l) b->options["cachefrom"] = nlohmann::json(*l).dump();
  } else if (k.key == "platforms") {
    auto l = r.Strings(k.value, k.where, /*one_ok=*/false);
    if (l && l->size() > 1) r.Error(k.where, "builds for one platform only (the engine's build takes one)");
    else if (l && l->size() == 1) b->options["platform"] = l->front();
  } else if (k.key == "shm_size") {
    if (auto v = EngineKeyValue(r, k)) b->options["shmsize"] = v->dump();  // as the service key
  } else if (k.key == "extra_hosts") {
    if (auto v = EngineKeyValue(r, k)) {
      std::string hosts;
      for (const auto& h : *v) hosts += (hosts.empty() ? "" : ",") + h.get<std::string>();
      b->options["extrahosts"] = hosts;
    }
  } else {
    return false;
  }
  return true;
}
const std::set<std::string> kUnsupportedServiceNetworkKeys = {
    "ipv6_address", "link_local_ips", "priority",      "mac_address",
    "driver_opts",  "gw_priority",    "interface_name"};
const std::set<std::string> kUnsupportedVolumeKeys = {"tmpfs", "image"};
const std::set<std::string> kUnsupportedMountOptionKeys = {"subpath", "recursive"};

bool OneOf(const std::string& s, std::initializer_list<const char*> options) {
  for (const char* o : options) {
    if (s == o) return true;
  }
  return false;
}

// Mount propagation modes, the engine's (short syntax option, long syntax bind.propagation).
bool IsPropagation(const std::string& o) {
  return OneOf(o, {"shared", "rshared", "slave", "rslave", "private", "rprivate"});
}

void AddOption(VolumeMount* m, const std::string& o) { m->options += (m->options.empty() ? "" : ",") + o; }

std::optional<PortDef> LongPort(ComposeReader& r, const YAML::Node& n, const Where& at) {
  auto entries = r.Map(n, at);
  if (!entries) return std::nullopt;
  PortDef port;
  int errors = r.errors();
  for (const Entry& e : *entries) {
    if (e.key == "target") {
      port.container_port = static_cast<int>(r.Integer(e.value, e.where, 1, 65535).value_or(0));
    } else if (e.key == "published") {
      if (e.value.IsScalar() && e.value.Scalar().find('-') != std::string::npos) {
        // "8000-8010": the engine publishes `target` on a free one of them.
        std::vector<PortDef> one;
        if (ParsePorts(e.value.Scalar() + ":1", &one).empty() && one.size() == 1) {
          port.host_port = one[0].host_port;
          port.host_port_end = one[0].host_port_end;
        } else {
          r.Error(e.where, "'" + e.value.Scalar() + "' is not a port range (LOW-HIGH, in 1..65535)");
        }
      } else {
        port.host_port = static_cast<int>(r.Integer(e.value, e.where, 1, 65535).value_or(0));
      }
    } else if (e.key == "host_ip") {
      port.host_ip = r.String(e.value, e.where).value_or("");
      if (!port.host_ip.empty() && !ValidIP(port.host_ip)) {
        r.Error(e.where, "'" + port.host_ip + "' is not an IP address");
      }
    } else if (e.key == "protocol") {
      port.protocol = r.String(e.value, e.where).value_or("tcp");
      if (!OneOf(port.protocol, {"tcp", "udp", "sctp"})) {
        r.Error(e.where, "protocol must be tcp, udp or sctp");
      }
    } else if (e.key == "mode") {  // host or ingress: one engine per container either way
      std::string mode = r.String(e.value, e.where).value_or("host");
      if (!OneOf(mode, {"host", "ingress"})) r.Error(e.where, "mode must be host or ingress");
    } else if (e.key != "name" && e.key != "app_protocol") {  // informational
      r.OtherKey(e, {});
    }
  }
  if (port.container_port == 0 && r.errors() == errors) r.Error(at, "a port needs `target`");
  if (r.errors() != errors) return std::nullopt;
  return port;
}

// A short-form source: a path ("./data", "/srv", "~/x") is a bind, anything else names a
// top-level volume.
bool MountSource(ComposeReader& r, const std::string& source, bool bind, const Where& at,
                 const std::string& app, const std::set<std::string>& declared, VolumeMount* m) {
  m->named = !bind;
  if (bind) {
    m->source = r.AbsolutePath(source);
    return true;
  }
  if (!declared.count(source)) {
    r.Error(at, "volume '" + source + "' is not declared under top-level volumes");
    return false;
  }
  m->source = app + "_" + source;
  return true;
}

std::optional<VolumeMount> ShortVolume(ComposeReader& r, const std::string& s, const Where& at,
                                       const std::string& app,
                                       const std::set<std::string>& declared) {
  std::vector<std::string> parts;
  for (size_t start = 0, colon = 0; colon != std::string::npos; start = colon + 1) {
    colon = s.find(':', start);
    parts.push_back(s.substr(start, colon == std::string::npos ? colon : colon - start));
  }
  if (parts.size() > 3 || parts[0].empty()) {
    r.Error(at, "'" + s + "' is not a volume mapping (TARGET, or SOURCE:TARGET[:OPTIONS])");
    return std::nullopt;
  }
  VolumeMount m;
  bool ok = true;
  if (parts.size() == 1) {  // "/app/node_modules": an anonymous volume
    m.target = parts[0];
  } else {
    m.target = parts[1];
    bool bind = parts[0][0] == '.' || parts[0][0] == '/' || parts[0][0] == '~';
    ok = MountSource(r, parts[0], bind, at, app, declared, &m);
  }
  if (parts.size() == 3) {
    std::string options = parts[2] + ",";
    for (size_t start = 0, comma; (comma = options.find(',', start)) != std::string::npos;
         start = comma + 1) {
      std::string o = options.substr(start, comma - start);
      if (o == "ro" || o == "rw") {
        m.read_only = o == "ro";
      } else if (IsPropagation(o) || OneOf(o, {"z", "Z", "nocopy", "consistent", "cached", "delegated"})) {
        // SELinux relabelling, no copy-up, propagation: the engine's; the last three are
        // Docker Desktop's and mean nothing on Linux (Compose passes them, dockerd ignores).
        if (!OneOf(o, {"consistent", "cached", "delegated"})) AddOption(&m, o);
      } else {
        r.Error(at, "volume option '" + o + "' is not one Docker knows (ro, rw, z, Z, "
                    "nocopy, [r]shared, [r]slave, [r]private)");
        ok = false;
      }
    }
  }
  if (m.target.empty() || m.target[0] != '/') {
    r.Error(at, "target '" + m.target + "' is not an absolute path");
    ok = false;
  }
  if (!ok) return std::nullopt;
  return m;
}

// The long syntax's `volume:` and `bind:` maps: the same engine options as the short
// syntax's third field.
void MountOptions(ComposeReader& r, const Entry& opts, VolumeMount* m) {
  for (const Entry& e : r.Map(opts.value, opts.where, true).value_or(std::vector<Entry>())) {
    if (opts.key == "volume" && e.key == "nocopy") {
      if (r.Bool(e.value, e.where).value_or(false)) AddOption(m, "nocopy");
    } else if (opts.key == "bind" && e.key == "propagation") {
      std::string p = r.String(e.value, e.where).value_or("");
      if (IsPropagation(p)) AddOption(m, p);
      else if (!p.empty())
        r.Error(e.where, "propagation '" + p + "' is not one Docker knows ([r]shared, [r]slave, [r]private)");
    } else if (opts.key == "bind" && e.key == "selinux") {
      std::string z = r.String(e.value, e.where).value_or("");
      if (z == "z" || z == "Z") AddOption(m, z);
      else if (!z.empty()) r.Error(e.where, "selinux '" + z + "' must be z (shared) or Z (private)");
    } else if (opts.key == "bind" && e.key == "create_host_path") {
      // The engine's binds (the short syntax's) make a missing host path; false is not kept.
      if (!r.Bool(e.value, e.where).value_or(true))
        r.Warn(e.where, "create_host_path: false is not done: the engine makes a missing host path");
    } else {
      r.OtherKey(e, kUnsupportedMountOptionKeys);
    }
  }
}

std::optional<VolumeMount> LongVolume(ComposeReader& r, const YAML::Node& n, const Where& at,
                                      const std::string& app,
                                      const std::set<std::string>& declared) {
  auto entries = r.Map(n, at);
  if (!entries) return std::nullopt;
  int errors = r.errors();
  std::string type, source;
  VolumeMount m;
  for (const Entry& e : *entries) {
    if (e.key == "type") {
      type = r.String(e.value, e.where).value_or("volume");
      if (!OneOf(type, {"volume", "bind"})) {
        r.Error(e.where, "volume type '" + type + "' is not supported (volume or bind)");
      }
    } else if (e.key == "source") {
      source = r.String(e.value, e.where).value_or("");
    } else if (e.key == "target") {
      m.target = r.String(e.value, e.where).value_or("/");
    } else if (e.key == "read_only") {
      m.read_only = r.Bool(e.value, e.where).value_or(false);
    } else if (e.key == "volume" || e.key == "bind") {
      MountOptions(r, e, &m);
    } else if (e.key == "consistency") {
      (void)r.String(e.value, e.where);  // Docker Desktop's; nothing on Linux (as in the short syntax)
    } else {
      r.OtherKey(e, kUnsupportedVolumeKeys);
    }
  }
  if (r.errors() != errors) return std::nullopt;
  if (type.empty()) type = "volume";
  if (m.target.empty() || (source.empty() && type == "bind")) {
    r.Error(at, type == "bind" ? "a bind mount needs `source` and `target`"
                               : "a volume needs `target` (and `source` unless it is anonymous)");
    return std::nullopt;
  }
  if (m.target[0] != '/') {
    r.Error(at, "target '" + m.target + "' is not an absolute path");
    return std::nullopt;
  }
  if (source.empty()) return m;  // type volume without a source: anonymous
  if (!MountSource(r, source, type == "bind", at, app, declared, &m)) return std::nullopt;
  return m;
}

}  // namespace

std::optional<BuildDef> ParseBuild(ComposeReader& r, const Entry& e) {
  BuildDef b;
  std::string context = ".";
  int errors = r.errors();
  if (e.value.IsScalar()) {
    context = r.String(e.value, e.where).value_or(".");
  } else if (auto entries = r.Map(e.value, e.where)) {
    for (const Entry& k : *entries) {
      if (k.key == "context") {
        context = r.String(k.value, k.where).value_or(".");
      } else if (k.key == "dockerfile") {
        b.dockerfile = r.String(k.value, k.where).value_or("Dockerfile");
        if (b.dockerfile.empty()) b.dockerfile = "Dockerfile";  // "" (an unset variable): the default, as in Compose
      } else if (k.key == "args") {
        b.args = r.KeyValues(k.value, k.where, Bare::kFromEnvOrOmit).value_or(b.args);
      } else if (BuildOption(r, k, &b)) {
        // a parameter of the engine's build
      } else {
        r.OtherKey(k, kUnsupportedBuildKeys);
      }
    }
  }
  if (context.find("://") != std::string::npos || context.rfind("git@", 0) == 0) {
    r.Error(e.where, "remote build context '" + context + "' is not supported");
  }
  b.context = r.AbsolutePath(context);
  std::filesystem::path dockerfile(b.dockerfile);
  dockerfile = dockerfile.is_absolute() ? dockerfile.lexically_relative(b.context)
                                        : dockerfile.lexically_normal();
  b.dockerfile = dockerfile.string();
  if (b.dockerfile.empty() || b.dockerfile.rfind("..", 0) == 0 || b.dockerfile == ".") {
    r.Error(e.where, "dockerfile '" + dockerfile.string() + "' must be a file inside the context");
  }
  if (r.errors() != errors) return std::nullopt;
  return b;
}

std::optional<std::vector<PortDef>> ParsePorts(ComposeReader& r, const Entry& e) {
  auto items = r.List(e.value, e.where);
  if (!items) return std::nullopt;
  std::vector<PortDef> ports;
  int errors = r.errors();
  for (const auto& [item, at] : *items) {
    if (item.IsMap()) {
      if (auto p = LongPort(r, item, at)) ports.push_back(*p);
    } else if (auto s = r.String(item, at)) {
      if (std::string err = ParsePorts(*s, &ports); !err.empty()) r.Error(at, err);
    }
  }
  if (r.errors() != errors) return std::nullopt;
  return ports;
}

std::optional<std::vector<ServiceNetwork>> ParseServiceNetworks(
    ComposeReader& r, const Entry& e, const std::set<std::string>& declared) {
  std::vector<ServiceNetwork> out;
  int errors = r.errors();
  auto add = [&](const std::string& name, const Where& at) {
    if (name != "default" && !declared.count(name)) {
      r.Error(at, "network '" + name + "' is not declared under top-level networks");
    }
    for (const ServiceNetwork& n : out) {
      if (n.name == name) r.Error(at, "network '" + name + "' is listed twice");
    }
    out.push_back({name, {}, ""});
  };
  if (e.value.IsSequence()) {
    for (const auto& [item, at] : r.List(e.value, e.where).value_or(Items())) {
      if (auto name = r.String(item, at)) add(*name, at);
    }
  } else if (auto entries = r.Map(e.value, e.where)) {
    for (const Entry& n : *entries) {
      add(n.key, n.key_where);
      for (const Entry& k :
           r.Map(n.value, n.where, /*null_ok=*/true).value_or(std::vector<Entry>())) {
        if (k.key == "aliases") {
          out.back().aliases =
              r.Strings(k.value, k.where, false).value_or(std::vector<std::string>());
        } else if (k.key == "ipv4_address") {
          out.back().ipv4_address = r.String(k.value, k.where).value_or("");
          if (!ValidIPv4(out.back().ipv4_address)) {
            r.Error(k.where, "'" + out.back().ipv4_address + "' is not an IPv4 address");
          }
        } else {
          r.OtherKey(k, kUnsupportedServiceNetworkKeys);
        }
      }
    }
  }
  if (r.errors() != errors) return std::nullopt;
  return out;
}

std::optional<std::vector<VolumeMount>> ParseVolumeMounts(ComposeReader& r, const Entry& e,
                                                          const std::string& app,
                                                          const std::set<std::string>& declared) {
  auto items = r.List(e.value, e.where);
  if (!items) return std::nullopt;
  std::vector<VolumeMount> out;
  int errors = r.errors();
  for (const auto& [item, at] : *items) {
    std::optional<VolumeMount> m;
    if (item.IsMap()) {
      m = LongVolume(r, item, at, app, declared);
    } else if (auto s = r.String(item, at)) {
      m = ShortVolume(r, *s, at, app, declared);
    }
    if (m) out.push_back(*m);
  }
  if (r.errors() != errors) return std::nullopt;
  return out;
}

}  // namespace berth::workflows::compose
