// One Compose service: a parser per supported key, chosen by name.
#include <algorithm>
#include <cctype>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_service_parse.h"

namespace berth::workflows::compose {
namespace {

// Compose defines these; Berth does not implement them, so using one is an error rather than
// a container that silently lacks what it asked for.
const std::set<std::string> kUnsupportedServiceKeys = {
    "annotations",
    "attach",
    "blkio_config",
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
    "storage_opt",
    "use_api_socket",
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
    } else if (!ValidImageReference(*s)) {
      p.r.Error(e.where, "'" + *s + "' is not an image reference ([REGISTRY/]NAME[:TAG][@DIGEST], "
                         "NAME in lowercase; a quote left open swallows the lines after it)");
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

void Labels(ServiceParse& p, const Entry& e) {
  if (auto v = p.r.KeyValues(e.value, e.where, Bare::kEmpty)) p.def.labels = *v;
}

void Ports(ServiceParse& p, const Entry& e) {
  auto v = ParsePorts(p.r, e);
  if (!v) return;
  p.def.ports = *v;
  // As in Compose, a port without a host address listens on every interface of the host:
  // said once per service, since it is rarely what a file on a laptop or a server means.
  std::string open;
  for (const PortDef& port : *v)
    if (port.host_ip.empty()) open += (open.empty() ? "" : ", ") + std::to_string(port.container_port);
  if (!open.empty())
    p.r.Warn(e.where, "port(s) " + open + " published on every interface of the host (no host address): "
                      "write e.g. 127.0.0.1:8080:80 to keep one on this machine");
}

// Informational in Compose (the ports a service listens on inside the network): checked for
// shape, then nothing to do, since containers on a network reach each other's every port.
void Expose(ServiceParse& p, const Entry& e) {
  (void)p.r.Strings(e.value, e.where, /*one_ok=*/false);
}

void Networks(ServiceParse& p, const Entry& e) {
  if (auto v = ParseServiceNetworks(p.r, e, p.networks)) p.def.networks = *v;
}

// Host paths whose bind mount hands the container the machine: warned about, not refused
// (Compose runs them, and some services need them).
const char* SensitiveHostPath(const std::string& source) {
  static const std::map<std::string, const char*> kWhy = {
      {"/", "the host's whole file system"},
      {"/var/run/docker.sock", "control of the Docker engine, so of the host"},
      {"/run/docker.sock", "control of the Docker engine, so of the host"},
      {"/var/lib/docker", "every container's data"},
      {"/etc", "the host's configuration"},
      {"/root", "root's home directory"},
      {"/proc", "the host's processes"},
      {"/sys", "the host's kernel settings"},
      {"/dev", "the host's devices"},
      {"/boot", "the host's kernel and boot files"}};
  auto it = kWhy.find(source);
  return it == kWhy.end() ? nullptr : it->second;
}

void Volumes(ServiceParse& p, const Entry& e) {
  auto v = ParseVolumeMounts(p.r, e, p.app, p.volumes);
  if (!v) return;
  p.def.volumes = *v;
  for (const VolumeMount& m : *v) {
    if (m.named || m.anonymous()) continue;
    if (const char* why = SensitiveHostPath(m.source))
      p.r.Warn(e.where, "bind mount of " + m.source + " gives the container " + why +
                        (m.read_only ? " (read-only)" : ""));
  }
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
    if (s->empty()) return;  // what an unset variable yields: Compose takes the default, "no"
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
      p.def.placement = PlacementJson(p.r, k.value, k.where);
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
    {"volumes_from", VolumesFrom},
    {"configs", FileRefs},
    {"secrets", FileRefs},
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
  FinishService(p, service);
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
