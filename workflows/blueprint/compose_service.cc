// One Compose service: a parser per supported key, chosen by name.
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

// Compose defines these; Berth does not implement them, so using one is an error rather than
// a container that silently lacks what it asked for.
const std::set<std::string> kUnsupportedServiceKeys = {
    "annotations",
    "attach",
    "blkio_config",
    "configs",
    "cpu_count",
    "cpu_percent",
    "cpu_period",
    "cpu_quota",
    "cpu_rt_period",
    "cpu_rt_runtime",
    "credential_spec",
    "develop",
    "device_cgroup_rules",
    "extends",
    "external_links",
    "gpus",
    "label_file",
    "mem_swappiness",
    "models",
    "post_start",
    "pre_stop",
    "provider",
    "secrets",
    "storage_opt",
    "use_api_socket",
    "volumes_from",
};

struct ServiceParse {
  ComposeReader& r;
  const std::string& app;
  const std::set<std::string>& networks;
  const std::set<std::string>& volumes;
  ServiceDef& def;
  std::vector<Where>& depends_where;
  std::map<std::string, std::string> env_file;  // below `environment`, merged at the end
  std::optional<int> scale;  // `scale`, checked against deploy.replicas at the end
  Where scale_where, replicas_where, network_mode_where;
};

using KeyParser = void (*)(ServiceParse& p, const Entry& e);

bool ValidRestart(const std::string& s) {
  if (s == "no" || s == "always" || s == "unless-stopped" || s == "on-failure") return true;
  if (s.rfind("on-failure:", 0) != 0 || s.size() == 11 || s.size() > 20) return false;
  for (size_t i = 11; i < s.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

// A DNS name: dot-separated labels of letters, digits and inner hyphens.
bool ValidDnsName(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  size_t label = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == '.') {
      if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(s[i])) || s[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

// The variables a raw value names ($V, ${V...}) that are unset or empty, as ", V, W".
std::string EmptyVariables(const ComposeReader& r, const std::string& raw) {
  std::string out;
  for (size_t i = raw.find('$'); i != std::string::npos; i = raw.find('$', i + 1)) {
    size_t b = i + 1 + (i + 1 < raw.size() && raw[i + 1] == '{');
    size_t e = b;
    while (e < raw.size() && (std::isalnum(static_cast<unsigned char>(raw[e])) || raw[e] == '_')) ++e;
    if (e == b) continue;
    std::string name = raw.substr(b, e - b);
    if (r.Lookup(name).value_or("").empty()) out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

void Image(ServiceParse& p, const Entry& e) {
  if (auto s = p.r.String(e.value, e.where)) {
    if (s->empty()) {
      std::string vars = EmptyVariables(p.r, p.r.RawString(e.value, e.where).value_or(""));
      p.r.Error(e.where, vars.empty() ? "image is empty"
                                      : "image is empty: " + vars + " is not set (or is empty)");
    }
    p.def.image = *s;
  }
}

void Build(ServiceParse& p, const Entry& e) { p.def.build = ParseBuild(p.r, e); }

void Command(ServiceParse& p, const Entry& e) {
  if (!e.value.IsNull()) p.def.command = p.r.Command(e.value, e.where);
}

void Entrypoint(ServiceParse& p, const Entry& e) {
  if (!e.value.IsNull()) p.def.entrypoint = p.r.Command(e.value, e.where);
}

void Environment(ServiceParse& p, const Entry& e) {
  // A bare KEY whose variable is unset is left out, as Compose does.
  if (auto v = p.r.KeyValues(e.value, e.where, Bare::kFromEnvOrOmit)) p.def.environment = *v;
}

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
    std::string why = ReadEnvFile(abs, &vars);
    if (!why.empty()) {
      bool missing = why == std::strerror(ENOENT);
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

void Links(ServiceParse& p, const Entry& e) {
  for (const std::string& l : p.r.Strings(e.value, e.where, /*one_ok=*/false).value_or(std::vector<std::string>())) {
    size_t colon = l.find(':');
    std::string target = l.substr(0, colon), alias = colon == std::string::npos ? target : l.substr(colon + 1);
    if (!ValidObjectName(target) || !ValidObjectName(alias)) {
      p.r.Error(e.where, "link '" + l + "' is not SERVICE[:ALIAS]");
      continue;
    }
    p.def.links.push_back(target + ":" + alias);
    p.depends_where.push_back(e.where);
    if (std::find(p.def.depends_on.begin(), p.def.depends_on.end(), target) == p.def.depends_on.end())
      p.def.depends_on.push_back(target);
    else
      p.depends_where.pop_back();
  }
}

// host, none or bridge (Docker's default bridge). The forms service:X and container:X share
// another container's network stack, which must then be on the same host: not yet.
void NetworkMode(ServiceParse& p, const Entry& e) {
  std::string m = p.r.String(e.value, e.where).value_or("");
  if (m.rfind("service:", 0) == 0 || m.rfind("container:", 0) == 0) {
    p.r.Error(e.where, "network_mode '" + m + "' (another container's network) is not supported yet: "
                       "put both services on one network instead");
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
  if (!ValidObjectName(n))
    p.r.Error(e.where, "container_name '" + n + "' must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
  p.def.container_name = n;
}

void Profiles(ServiceParse& p, const Entry& e) {
  for (const std::string& n : p.r.Strings(e.value, e.where, /*one_ok=*/false).value_or(std::vector<std::string>())) {
    if (!ValidObjectName(n)) p.r.Error(e.where, "profile '" + n + "' must match [a-zA-Z0-9][a-zA-Z0-9_.-]*");
    p.def.profiles.push_back(n);
  }
}

void Labels(ServiceParse& p, const Entry& e) {
  if (auto v = p.r.KeyValues(e.value, e.where, Bare::kEmpty)) p.def.labels = *v;
}

void Ports(ServiceParse& p, const Entry& e) {
  if (auto v = ParsePorts(p.r, e)) p.def.ports = *v;
}

// Informational in Compose (the ports a service listens on inside the network): checked for
// shape, then nothing to do, since containers on a network reach each other's every port.
void Expose(ServiceParse& p, const Entry& e) {
  (void)p.r.Strings(e.value, e.where, /*one_ok=*/false);
}

void Networks(ServiceParse& p, const Entry& e) {
  if (auto v = ParseServiceNetworks(p.r, e, p.networks)) p.def.networks = *v;
}

void Volumes(ServiceParse& p, const Entry& e) {
  if (auto v = ParseVolumeMounts(p.r, e, p.app, p.volumes)) p.def.volumes = *v;
}

void DependsOn(ServiceParse& p, const Entry& e) {
  auto add = [&](const std::string& name, const Where& at) {
    for (const std::string& d : p.def.depends_on) {
      if (d == name) return;
    }
    p.def.depends_on.push_back(name);
    p.depends_where.push_back(at);
  };
  if (e.value.IsSequence()) {
    for (const auto& [item, at] : p.r.List(e.value, e.where).value_or(Items())) {
      if (auto name = p.r.String(item, at)) add(*name, at);
    }
    return;
  }
  for (const Entry& d : p.r.Map(e.value, e.where).value_or(std::vector<Entry>())) {
    add(d.key, d.key_where);
    for (const Entry& k : p.r.Map(d.value, d.where, true).value_or(std::vector<Entry>())) {
      if (k.key == "condition") {
        std::string c = p.r.String(k.value, k.where).value_or("service_started");
        if (c != "service_started" && c != "service_healthy" &&
            c != "service_completed_successfully") {
          p.r.Error(k.where,
                    "condition must be service_started, service_healthy or "
                    "service_completed_successfully");
        }
      } else if (k.key == "required") {
        if (!p.r.Bool(k.value, k.where).value_or(true)) {
          p.r.Warn(k.where, "required: false is not supported; the dependency is required");
        }
      } else if (k.key == "restart") {
        (void)p.r.Bool(k.value, k.where);
      } else {
        p.r.OtherKey(k, {});
      }
    }
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
      auto key = as->second.find(k.key);
      if (key == as->second.end()) {
        p.r.Warn(k.key_where, "not used yet (ignored)");  // reservations.cpus, devices, ...
        continue;
      }
      Entry same = k;
      same.key = key->second;
      (void)ParseEngineKey(p.r, same, &p.def);
    }
  }
}

void Deploy(ServiceParse& p, const Entry& e) {
  for (const Entry& k : p.r.Map(e.value, e.where, true).value_or(std::vector<Entry>())) {
    if (k.key == "replicas") {
      p.def.replicas = static_cast<int>(p.r.Integer(k.value, k.where, 0, 1000).value_or(1));
      p.replicas_where = k.where;
    } else if (k.key == "resources") {
      Resources(p, k);
    } else if (k.key.rfind("x-", 0) != 0) {
      p.r.Warn(k.key_where, "not used yet (ignored)");
    }
  }
}

// The older `scale: N`: the same as deploy.replicas, which must agree when both are set.
void Scale(ServiceParse& p, const Entry& e) {
  std::optional<int64_t> n = p.r.Integer(e.value, e.where, 0, 1000);
  if (n) p.scale = static_cast<int>(*n);
  p.scale_where = e.where;
}

void TestCommand(ServiceParse& p, const Entry& k, HealthDef* h) {
  if (k.value.IsScalar()) {
    if (auto s = p.r.String(k.value, k.where)) h->test = {"CMD-SHELL", *s};
    return;
  }
  auto test = p.r.Strings(k.value, k.where, /*one_ok=*/false);
  if (!test) return;
  if (test->empty() ||
      (test->front() != "NONE" && test->front() != "CMD" && test->front() != "CMD-SHELL")) {
    p.r.Error(k.where, "a test list starts with NONE, CMD or CMD-SHELL");
  } else if (test->front() != "NONE" && test->size() < 2) {
    p.r.Error(k.where, test->front() + " needs a command after it");
  } else {
    h->test = *test;
  }
}

void Healthcheck(ServiceParse& p, const Entry& e) {
  auto entries = p.r.Map(e.value, e.where);
  if (!entries) return;
  HealthDef h;
  bool disable = false;
  int errors = p.r.errors();
  for (const Entry& k : *entries) {
    if (k.key == "test") {
      TestCommand(p, k, &h);
    } else if (k.key == "interval") {
      h.interval_ms = p.r.DurationMs(k.value, k.where).value_or(0);
    } else if (k.key == "timeout") {
      h.timeout_ms = p.r.DurationMs(k.value, k.where).value_or(0);
    } else if (k.key == "start_period") {
      h.start_period_ms = p.r.DurationMs(k.value, k.where).value_or(0);
    } else if (k.key == "retries") {
      h.retries = static_cast<int>(p.r.Integer(k.value, k.where, 0, 1000000).value_or(0));
    } else if (k.key == "disable") {
      disable = p.r.Bool(k.value, k.where).value_or(false);
    } else if (k.key == "start_interval") {
      p.r.Warn(k.key_where, "not used yet (ignored)");
    } else {
      p.r.OtherKey(k, {});
    }
  }
  if (disable && !h.test.empty() && h.test.front() != "NONE") {
    p.r.Error(e.where, "`disable: true` and a `test` cannot both be set");
  }
  if (disable) h.test = {"NONE"};
  if (p.r.errors() == errors) p.def.healthcheck = h;
}

void Restart(ServiceParse& p, const Entry& e) {
  if (auto s = p.r.String(e.value, e.where)) {
    if (!ValidRestart(*s)) {
      p.r.Error(e.where, "'" + *s +
                             "' is not a restart policy (no, always, unless-stopped, "
                             "on-failure[:N])");
    }
    p.def.restart = *s;
  }
}

void Init(ServiceParse& p, const Entry& e) { p.def.init = p.r.Bool(e.value, e.where); }

void StopSignal(ServiceParse& p, const Entry& e) {
  p.def.stop_signal = p.r.String(e.value, e.where).value_or("");
  if (p.def.stop_signal.empty() && e.value.IsScalar()) p.r.Error(e.where, "stop_signal is empty");
}

void StopGracePeriod(ServiceParse& p, const Entry& e) {
  p.def.stop_grace_period_ms = p.r.DurationMs(e.value, e.where);
}

void User(ServiceParse& p, const Entry& e) {
  p.def.user = p.r.String(e.value, e.where).value_or("");
}

void WorkingDir(ServiceParse& p, const Entry& e) {
  p.def.working_dir = p.r.String(e.value, e.where).value_or("");
}

void Hostname(ServiceParse& p, const Entry& e) {
  p.def.hostname = p.r.String(e.value, e.where).value_or("");
}

// install and customize are shell commands run inside the container, where `$VAR` means the
// container's variable, so they are taken as written, not interpolated.
void Berth(ServiceParse& p, const Entry& e) {
  for (const Entry& k : p.r.Map(e.value, e.where, true).value_or(std::vector<Entry>())) {
    if (k.key == "install" || k.key == "customize") {
      auto commands = p.r.Strings(k.value, k.where, /*one_ok=*/true, /*interpolate=*/false);
      (k.key == "install" ? p.def.install : p.def.customize) =
          commands.value_or(std::vector<std::string>());
    } else if (k.key == "dns") {
      p.def.dns = p.r.String(k.value, k.where).value_or("");
      if (!ValidDnsName(p.def.dns)) p.r.Error(k.where, "'" + p.def.dns + "' is not a DNS name");
    } else if (k.key == "placement") {
      p.r.Warn(k.key_where, "not used yet (ignored)");
    } else {
      p.r.Warn(k.key_where, "unknown x-berth key '" + k.key + "' (ignored)");
    }
  }
}

const std::map<std::string, KeyParser> kServiceKeys = {
    {"image", Image},
    {"build", Build},
    {"command", Command},
    {"entrypoint", Entrypoint},
    {"environment", Environment},
    {"env_file", EnvFile},
    {"container_name", ContainerName},
    {"profiles", Profiles},
    {"scale", Scale},
    {"links", Links},
    {"network_mode", NetworkMode},
    {"platform", Platform},
    {"pull_policy", PullPolicy},
    {"ports", Ports},
    {"expose", Expose},
    {"depends_on", DependsOn},
    {"deploy", Deploy},
    {"labels", Labels},
    {"healthcheck", Healthcheck},
    {"networks", Networks},
    {"volumes", Volumes},
    {"restart", Restart},
    {"init", Init},
    {"stop_signal", StopSignal},
    {"stop_grace_period", StopGracePeriod},
    {"user", User},
    {"working_dir", WorkingDir},
    {"hostname", Hostname},
    {"x-berth", Berth},
};

}  // namespace

ServiceDef ParseService(ComposeReader& r, const Entry& service, const std::string& app,
                        const std::set<std::string>& networks, const std::set<std::string>& volumes,
                        std::vector<Where>* depends_where) {
  ServiceDef def;
  def.name = service.key;
  def.line = service.key_where.line;
  def.col = service.key_where.col;
  ServiceParse p{r, app, networks, volumes, def, *depends_where, {}, std::nullopt, {}, {}, {}};
  auto entries = r.Map(service.value, service.where, /*null_ok=*/true);
  if (!entries) return def;
  bool image_or_build = false;
  for (const Entry& e : *entries) {
    image_or_build = image_or_build || e.key == "image" || e.key == "build";
    if (auto it = kServiceKeys.find(e.key); it != kServiceKeys.end()) {
      it->second(p, e);
    } else if (ParseEngineKey(r, e, &def)) {
      // a field of the engine's create body
    } else {
      r.OtherKey(e, kUnsupportedServiceKeys);
    }
  }
  if (!image_or_build) r.Error(service.key_where, "a service needs `image` or `build`");
  for (const auto& [k, v] : p.env_file) def.environment.emplace(k, v);  // environment wins
  if (def.pull_policy == "build" && !def.build)
    r.Error(service.key_where, "pull_policy: build needs `build`");
  if (!def.network_mode.empty() && !def.networks.empty())
    r.Error(p.network_mode_where, "network_mode and networks cannot both be set (Compose refuses this too)");
  if (!def.network_mode.empty() && !def.links.empty())
    r.Error(p.network_mode_where, "links need a network: they cannot be used with network_mode");
  if (def.network_mode == "host" && !def.ports.empty())
    r.Warn(p.network_mode_where, "with network_mode: host the container uses the host's ports; `ports` are not published");
  if (p.scale) {
    if (!p.replicas_where.path.empty() && def.replicas != *p.scale)
      r.Error(p.scale_where, "scale is " + std::to_string(*p.scale) + " but deploy.replicas is " +
                                 std::to_string(def.replicas) + ": keep one of them");
    def.replicas = *p.scale;
  }
  return def;
}

// Depth-first over depends_on in file order with an explicit stack (a long chain must not
// exhaust the call stack); an edge back to a service still on the stack closes a cycle.
std::vector<std::vector<std::string>> DependencyCycles(const std::vector<ServiceDef>& services) {
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < services.size(); ++i) index.emplace(services[i].name, i);
  enum Color { kNew, kOnStack, kDone };
  std::vector<Color> color(services.size(), kNew);
  std::vector<std::vector<std::string>> cycles;
  for (size_t root = 0; root < services.size(); ++root) {
    if (color[root] != kNew) continue;
    std::vector<std::pair<size_t, size_t>> stack = {{root, 0}};  // service, next dependency
    color[root] = kOnStack;
    while (!stack.empty()) {
      auto& [s, next] = stack.back();
      if (next == services[s].depends_on.size()) {
        color[s] = kDone;
        stack.pop_back();
        continue;
      }
      auto it = index.find(services[s].depends_on[next++]);
      if (it == index.end()) continue;
      size_t d = it->second;
      if (color[d] == kNew) {
        color[d] = kOnStack;
        stack.emplace_back(d, 0);
      } else if (color[d] == kOnStack) {
        std::vector<std::string> cycle;
        bool in = false;
        for (const auto& frame : stack) {
          in = in || frame.first == d;
          if (in) cycle.push_back(services[frame.first].name);
        }
        cycle.push_back(services[d].name);
        cycles.push_back(cycle);
      }
    }
  }
  return cycles;
}

}  // namespace berth::workflows::compose
