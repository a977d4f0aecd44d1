// The blueprint's JSON form: every field, always written, so ToJson(FromJson(j)) == j. Readers
// take a missing or null field as its default and refuse a field of the wrong type.
#include "eventlog/event_codec.h"

#include <limits>
#include <nlohmann/json.hpp>

#include "workflows/blueprint/blueprint.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

using nlohmann::json;

template <class T>
json Optional(const std::optional<T>& v) {
  return v ? json(*v) : json(nullptr);
}

json BuildJson(const BuildDef& b) {
  json j = {{"context", b.context}, {"dockerfile", b.dockerfile}, {"args", b.args}};
  // Written only when set, so the hash of a service that does not use them stays the same.
  if (!b.labels.empty()) j["labels"] = b.labels;
  if (!b.options.empty()) j["options"] = b.options;
  if (!b.tags.empty()) j["tags"] = b.tags;
  return j;
}

json HealthJson(const HealthDef& h) {
  return {{"test", h.test},
          {"interval_ms", h.interval_ms},
          {"timeout_ms", h.timeout_ms},
          {"start_period_ms", h.start_period_ms},
          {"retries", h.retries}};
}

// Reads JSON into the blueprint's structs, remembering the first problem with its path.
class JsonIn {
 public:
  const std::string& error() const { return error_; }

  bool As(const json& v, const std::string& path, std::string* out) {
    if (!v.is_string()) return Fail(path, "expected a string");
    *out = v.get<std::string>();
    return true;
  }
  bool As(const json& v, const std::string& path, int64_t* out) {
    if (!v.is_number_integer() ||
        (v.is_number_unsigned() &&
         v.get<uint64_t>() > uint64_t{std::numeric_limits<int64_t>::max()})) {
      return Fail(path, "expected an integer");
    }
    *out = v.get<int64_t>();
    return true;
  }
  bool As(const json& v, const std::string& path, double* out) {
    if (!v.is_number()) return Fail(path, "expected a number");
    *out = v.get<double>();
    return true;
  }
  bool As(const json& v, const std::string& path, int* out) {
    int64_t wide = 0;
    if (!As(v, path, &wide)) return false;
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      return Fail(path, "integer out of range");
    }
    *out = static_cast<int>(wide);
    return true;
  }
  bool As(const json& v, const std::string& path, bool* out) {
    if (!v.is_boolean()) return Fail(path, "expected true or false");
    *out = v.get<bool>();
    return true;
  }
  bool As(const json& v, const std::string& path, std::map<std::string, std::string>* out) {
    if (!v.is_object()) return Fail(path, "expected an object of strings");
    out->clear();
    for (const auto& [k, s] : v.items()) {
      if (!As(s, path + "." + k, &(*out)[k])) return false;
    }
    return true;
  }
  template <class T>
  bool As(const json& v, const std::string& path, std::vector<T>* out) {
    if (!v.is_array()) return Fail(path, "expected an array");
    out->assign(v.size(), T());
    for (size_t i = 0; i < v.size(); ++i) {
      if (!As(v[i], path + "[" + std::to_string(i) + "]", &(*out)[i])) return false;
    }
    return true;
  }
  bool As(const json& v, const std::string& path, BuildDef* b) {
    return Object(v, path) && Get(v, "context", path, &b->context) &&
           Get(v, "dockerfile", path, &b->dockerfile) && Get(v, "args", path, &b->args) &&
           Get(v, "labels", path, &b->labels) && Get(v, "options", path, &b->options) &&
           Get(v, "tags", path, &b->tags);
  }
  bool As(const json& v, const std::string& path, PortDef* p) {
    return Object(v, path) && Get(v, "host_ip", path, &p->host_ip) &&
           Get(v, "host_port", path, &p->host_port) &&
           Get(v, "host_port_end", path, &p->host_port_end) &&
           Get(v, "container_port", path, &p->container_port) &&
           Get(v, "protocol", path, &p->protocol);
  }
  bool As(const json& v, const std::string& path, HealthDef* h) {
    return Object(v, path) && Get(v, "test", path, &h->test) &&
           Get(v, "interval_ms", path, &h->interval_ms) &&
           Get(v, "timeout_ms", path, &h->timeout_ms) &&
           Get(v, "start_period_ms", path, &h->start_period_ms) &&
           Get(v, "retries", path, &h->retries);
  }
  bool As(const json& v, const std::string& path, ServiceNetwork* n) {
    return Object(v, path) && Get(v, "name", path, &n->name) &&
           Get(v, "aliases", path, &n->aliases) && Get(v, "ipv4_address", path, &n->ipv4_address);
  }
  bool As(const json& v, const std::string& path, VolumeMount* m) {
    return Object(v, path) && Get(v, "source", path, &m->source) &&
           Get(v, "target", path, &m->target) && Get(v, "read_only", path, &m->read_only) &&
           Get(v, "named", path, &m->named) && Get(v, "options", path, &m->options);
  }
  bool As(const json& v, const std::string& path, NetworkDef* n) {
    return Object(v, path) && Get(v, "name", path, &n->name) &&
           Get(v, "docker_name", path, &n->docker_name) && Get(v, "subnet", path, &n->subnet) &&
           Get(v, "gateway", path, &n->gateway) && Get(v, "labels", path, &n->labels) &&
           Get(v, "external", path, &n->external) && Get(v, "driver_opts", path, &n->driver_opts) &&
           Get(v, "internal", path, &n->internal) && Get(v, "attachable", path, &n->attachable);
  }
  bool As(const json& v, const std::string& path, ServiceDef* s) {
    return Object(v, path) && Require(v, "name", path) && Get(v, "name", path, &s->name) &&
           Get(v, "line", path, &s->line) && Get(v, "col", path, &s->col) &&
           Get(v, "image", path, &s->image) && Get(v, "build", path, &s->build) &&
           Get(v, "command", path, &s->command) && Get(v, "entrypoint", path, &s->entrypoint) &&
           Get(v, "environment", path, &s->environment) && Get(v, "ports", path, &s->ports) &&
           Get(v, "depends_on", path, &s->depends_on) && Get(v, "replicas", path, &s->replicas) &&
           Get(v, "labels", path, &s->labels) && Get(v, "healthcheck", path, &s->healthcheck) &&
           Get(v, "networks", path, &s->networks) && Get(v, "volumes", path, &s->volumes) &&
           Get(v, "restart", path, &s->restart) && Get(v, "init", path, &s->init) &&
           Get(v, "stop_signal", path, &s->stop_signal) &&
           Get(v, "stop_grace_period_ms", path, &s->stop_grace_period_ms) &&
           Get(v, "user", path, &s->user) && Get(v, "working_dir", path, &s->working_dir) &&
           Get(v, "hostname", path, &s->hostname) && Get(v, "install", path, &s->install) &&
           Get(v, "customize", path, &s->customize) && Get(v, "dns", path, &s->dns) &&
           Get(v, "container_name", path, &s->container_name) &&
           Get(v, "profiles", path, &s->profiles) &&
           Get(v, "engine_host", path, &s->engine_host) &&
           Get(v, "engine_config", path, &s->engine_config) && Get(v, "links", path, &s->links) &&
           Get(v, "network_mode", path, &s->network_mode) && Get(v, "shares", path, &s->shares) &&
           Get(v, "platform", path, &s->platform) && Get(v, "pull_policy", path, &s->pull_policy) &&
           Get(v, "placement", path, &s->placement) && Get(v, "reserve_cpus", path, &s->reserve_cpus);
  }
  bool As(const json& v, const std::string& path, Blueprint* b) {
    return Object(v, path) && Require(v, "name", path) && Require(v, "services", path) &&
           Get(v, "file", path, &b->file) && Get(v, "name", path, &b->name) &&
           Get(v, "services", path, &b->services) && Get(v, "networks", path, &b->networks) &&
           Get(v, "volumes", path, &b->volumes) && Get(v, "placement", path, &b->placement) &&
           Get(v, "cloud", path, &b->cloud);
  }

  bool Fail(const std::string& path, const std::string& message) {
    if (error_.empty()) error_ = (path.empty() ? "" : path + ": ") + message;
    return false;
  }

 private:
  bool Object(const json& v, const std::string& path) {
    return v.is_object() || Fail(path, "expected an object");
  }
  bool Require(const json& v, const char* key, const std::string& path) {
    return v.contains(key) || Fail(path, std::string("missing \"") + key + "\"");
  }
  // A missing or null field keeps the default.
  template <class T>
  bool Get(const json& o, const char* key, const std::string& path, T* out) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) return true;
    return As(*it, path.empty() ? key : path + "." + key, out);
  }
  template <class T>
  bool Get(const json& o, const char* key, const std::string& path, std::optional<T>* out) {
    auto it = o.find(key);
    if (it == o.end() || it->is_null()) {
      out->reset();
      return true;
    }
    T v{};
    if (!As(*it, path.empty() ? key : path + "." + key, &v)) return false;
    *out = std::move(v);
    return true;
  }

  std::string error_;
};

// What the loader guarantees and a consumer relies on: named, unique services whose
// dependencies exist and form no cycle.
std::string CheckServices(const Blueprint& b) {
  if (!ValidAppName(b.name)) return "'" + b.name + "' is not a valid app name";
  for (size_t i = 0; i < b.services.size(); ++i) {
    const ServiceDef& s = b.services[i];
    if (s.name.empty()) return "services[" + std::to_string(i) + "] has no name";
    if (b.FindService(s.name) != &s) return "service '" + s.name + "' appears twice";
    for (const std::string& d : s.depends_on) {
      if (b.FindService(d) == nullptr) return s.name + " depends on unknown service '" + d + "'";
    }
  }
  auto cycles = compose::DependencyCycles(b.services);
  if (!cycles.empty()) return "dependency cycle starting at '" + cycles.front().front() + "'";
  return "";
}

}  // namespace

json ToJson(const ServiceDef& s) {
  json ports = json::array(), networks = json::array(), volumes = json::array();
  for (const PortDef& p : s.ports) {
    json j = {{"host_ip", p.host_ip},
              {"host_port", p.host_port},
              {"container_port", p.container_port},
              {"protocol", p.protocol}};
    if (p.host_port_end) j["host_port_end"] = p.host_port_end;  // only when set: hashes stay
    ports.push_back(std::move(j));
  }
  for (const ServiceNetwork& n : s.networks) {
    networks.push_back(
        {{"name", n.name}, {"aliases", n.aliases}, {"ipv4_address", n.ipv4_address}});
  }
  for (const VolumeMount& m : s.volumes) {
    json v = {{"source", m.source}, {"target", m.target}, {"read_only", m.read_only}, {"named", m.named}};
    if (!m.options.empty()) v["options"] = m.options;  // only when set: config hashes stay
    volumes.push_back(std::move(v));
  }
  json j;
  j["name"] = s.name;
  j["line"] = s.line;
  j["col"] = s.col;
  j["image"] = s.image;
  j["build"] = s.build ? BuildJson(*s.build) : json(nullptr);
  j["command"] = Optional(s.command);
  j["entrypoint"] = Optional(s.entrypoint);
  j["environment"] = s.environment;
  j["ports"] = ports;
  j["depends_on"] = s.depends_on;
  j["replicas"] = s.replicas;
  j["labels"] = s.labels;
  j["healthcheck"] = s.healthcheck ? HealthJson(*s.healthcheck) : json(nullptr);
  j["networks"] = networks;
  j["volumes"] = volumes;
  j["restart"] = s.restart;
  j["init"] = Optional(s.init);
  j["stop_signal"] = s.stop_signal;
  j["stop_grace_period_ms"] = Optional(s.stop_grace_period_ms);
  j["user"] = s.user;
  j["working_dir"] = s.working_dir;
  j["hostname"] = s.hostname;
  j["install"] = s.install;
  j["customize"] = s.customize;
  j["dns"] = s.dns;
  // Keys added after the first release are written only when set: the JSON, and so the
  // ServiceConfigHash, of a service that does not use them stays what it was, and a
  // redeploy does not replace containers that still fit.
  if (!s.container_name.empty()) j["container_name"] = s.container_name;
  if (!s.placement.empty()) j["placement"] = s.placement;
  if (s.reserve_cpus > 0) j["reserve_cpus"] = s.reserve_cpus;
  if (!s.profiles.empty()) j["profiles"] = s.profiles;
  if (!s.engine_host.empty()) j["engine_host"] = s.engine_host;
  if (!s.engine_config.empty()) j["engine_config"] = s.engine_config;
  if (!s.links.empty()) j["links"] = s.links;
  if (!s.network_mode.empty()) j["network_mode"] = s.network_mode;
  if (!s.shares.empty()) j["shares"] = s.shares;
  if (!s.platform.empty()) j["platform"] = s.platform;
  if (!s.pull_policy.empty()) j["pull_policy"] = s.pull_policy;
  return j;
}

json ToJson(const Blueprint& b) {
  json services = json::array(), networks = json::array();
  for (const ServiceDef& s : b.services) services.push_back(ToJson(s));
  for (const NetworkDef& n : b.networks) {
    networks.push_back({{"name", n.name},
                        {"docker_name", n.docker_name},
                        {"subnet", n.subnet},
                        {"gateway", n.gateway},
                        {"labels", n.labels}});
    // Written only when set: a blueprint without them keeps its JSON (and its deploys'
    // recorded inputs) as before.
    if (n.external) networks.back()["external"] = true;
    if (!n.driver_opts.empty()) networks.back()["driver_opts"] = n.driver_opts;
    if (n.internal) networks.back()["internal"] = true;
    if (n.attachable) networks.back()["attachable"] = true;
  }
  json out = {{"file", b.file},
              {"name", b.name},
              {"services", services},
              {"networks", networks},
              {"volumes", b.volumes}};
  if (!b.placement.empty()) out["placement"] = b.placement;
  if (!b.cloud.empty()) out["cloud"] = b.cloud;
  return out;
}

Result<Blueprint> BlueprintFromJson(const json& j) {
  Blueprint b;
  JsonIn in;
  try {
    if (in.As(j, "", &b)) {
      if (std::string err = CheckServices(b); !err.empty()) in.Fail("", err);
    }
  } catch (const std::exception& e) {
    in.Fail("", e.what());
  }
  if (!in.error().empty()) return InvalidArgument("blueprint JSON: " + in.error());
  return b;
}

std::string ServiceConfigHash(const ServiceDef& s) {
  json j = ToJson(s);
  for (const char* key : {"replicas", "line", "col"}) j.erase(key);
  // Replacing invalid UTF-8 (a ServiceDef built in code) keeps this from throwing.
  const std::string canonical = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return eventlog::DigestHex(eventlog::HashRecord(canonical)).substr(0, 12);  // SHA-256
}

std::map<std::string, std::string> ServiceConfigHashes(const Blueprint& b) {
  std::map<std::string, std::string> out;
  for (const auto& level : b.Levels()) {  // X comes before the services that share its network
    for (const std::string& name : level) {
      const ServiceDef& s = *b.FindService(name);
      std::string h = ServiceConfigHash(s);
      for (const std::string& shared : s.shares)
        if (auto x = out.find(shared); x != out.end())
          h = eventlog::DigestHex(eventlog::HashRecord(h + "+" + x->second)).substr(0, 12);
      out[name] = h;
    }
  }
  return out;
}

}  // namespace berth::workflows
