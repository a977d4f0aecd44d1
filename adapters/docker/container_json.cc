#include "adapters/docker/container_json.h"

#include <cstring>

#include <cstdlib>

namespace berth::docker {
namespace {

constexpr int64_t kNanosPerMilli = 1'000'000;

std::string PortKey(const PortSpec& p) {
  return std::to_string(p.container_port) + "/" + p.protocol;
}

void AddPorts(const ContainerSpec& spec, json* config, json* host_config) {
  if (spec.ports.empty()) return;
  json exposed = json::object();
  json bindings = json::object();
  for (const PortSpec& p : spec.ports) {
    exposed[PortKey(p)] = json::object();
    if (!p.publish) continue;
    std::string host_port = p.host_port > 0 ? std::to_string(p.host_port) : "";
    if (p.host_port > 0 && p.host_port_end > p.host_port)
      host_port += "-" + std::to_string(p.host_port_end);  // the engine's range form
    json binding = {{"HostIp", p.host_ip}, {"HostPort", host_port}};
    bindings[PortKey(p)].push_back(binding);
  }
  (*config)["ExposedPorts"] = exposed;
  if (!bindings.empty()) (*host_config)["PortBindings"] = bindings;
}

json HealthcheckBody(const Healthcheck& h) {
  return {{"Test", h.test},
          {"Interval", h.interval_ms * kNanosPerMilli},
          {"Timeout", h.timeout_ms * kNanosPerMilli},
          {"StartPeriod", h.start_period_ms * kNanosPerMilli},
          {"Retries", h.retries}};
}

void SetIfNotEmpty(json* j, const char* key, const std::string& value) {
  if (!value.empty()) (*j)[key] = value;
}

// "/name" -> "name".
std::string StripSlash(std::string name) {
  if (!name.empty() && name.front() == '/') name.erase(0, 1);
  return name;
}

std::map<std::string, NetworkAttachment> Networks(const json& settings) {
  std::map<std::string, NetworkAttachment> out;
  const json& nets = Field(settings, "Networks");
  if (!nets.is_object()) return out;
  for (auto it = nets.begin(); it != nets.end(); ++it) {
    NetworkAttachment a;
    a.network_id = StringField(it.value(), "NetworkID");
    a.ip_address = StringField(it.value(), "IPAddress");
    a.aliases = StringListField(it.value(), "Aliases");
    out[it.key()] = std::move(a);
  }
  return out;
}

// The default-bridge address when there is one, else the first network's.
std::string FirstAddress(const std::string& top_level,
                         const std::map<std::string, NetworkAttachment>& nets) {
  if (!top_level.empty()) return top_level;
  for (const auto& [name, a] : nets) {
    if (!a.ip_address.empty()) return a.ip_address;
  }
  return "";
}

// Inspect form: {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "49153"}], "81/tcp": null}
std::vector<PortBinding> InspectPorts(const json& ports) {
  std::vector<PortBinding> out;
  if (!ports.is_object()) return out;
  for (auto it = ports.begin(); it != ports.end(); ++it) {
    if (!it.value().is_array()) continue;
    const std::string& key = it.key();
    auto slash = key.find('/');
    for (const json& b : it.value()) {
      PortBinding pb;
      pb.container_port = std::atoi(key.substr(0, slash).c_str());
      pb.protocol = slash == std::string::npos ? "tcp" : key.substr(slash + 1);
      pb.host_ip = StringField(b, "HostIp");
      pb.host_port = std::atoi(StringField(b, "HostPort").c_str());
      out.push_back(pb);
    }
  }
  return out;
}

}  // namespace

json ContainerCreateBody(const ContainerSpec& spec) {
  json config = {{"Image", spec.image}};
  json host = json::object();

  if (spec.cmd) config["Cmd"] = *spec.cmd;
  if (spec.entrypoint) {
    // An empty list clears the image's ENTRYPOINT; the engine wants [""] for that.
    config["Entrypoint"] = spec.entrypoint->empty() ? json::array({""}) : json(*spec.entrypoint);
  }
  if (!spec.env.empty()) config["Env"] = spec.env;
  if (!spec.labels.empty()) config["Labels"] = spec.labels;
  SetIfNotEmpty(&config, "Hostname", spec.hostname);
  SetIfNotEmpty(&config, "User", spec.user);
  SetIfNotEmpty(&config, "WorkingDir", spec.working_dir);
  SetIfNotEmpty(&config, "StopSignal", spec.stop_signal);
  if (spec.stop_timeout_s) config["StopTimeout"] = *spec.stop_timeout_s;
  if (spec.healthcheck) config["Healthcheck"] = HealthcheckBody(*spec.healthcheck);
  AddPorts(spec, &config, &host);
  if (!spec.binds.empty()) host["Binds"] = spec.binds;
  if (!spec.anonymous_volumes.empty()) {
    json v = json::object();
    for (const auto& t : spec.anonymous_volumes) v[t] = json::object();
    config["Volumes"] = v;
  }
  if (spec.init) host["Init"] = *spec.init;
  host["RestartPolicy"] = {{"Name", spec.restart.name == "no" ? "" : spec.restart.name},
                           {"MaximumRetryCount", spec.restart.maximum_retry_count}};
  if (!spec.network.empty()) {
    const std::string& net = spec.network_id.empty() ? spec.network : spec.network_id;
    host["NetworkMode"] = net;
    json endpoint = json::object();
    // Without NetworkID the engine finds the network by name again at every start.
    if (!spec.network_id.empty()) endpoint["NetworkID"] = spec.network_id;
    if (!spec.ipv4_address.empty()) {
      endpoint["IPAMConfig"] = {{"IPv4Address", spec.ipv4_address}};
    }
    if (!spec.aliases.empty()) endpoint["Aliases"] = spec.aliases;
    config["NetworkingConfig"] = {{"EndpointsConfig", {{net, endpoint}}}};
  }
  // The extra fields last, where no named field is set: a named field wins.
  auto extra = [](const std::map<std::string, std::string>& fields, json* into) {
    for (const auto& [k, v] : fields) {
      json j = json::parse(v, nullptr, /*allow_exceptions=*/false);
      if (!j.is_discarded() && !into->contains(k)) (*into)[k] = std::move(j);
    }
  };
  extra(spec.extra_host_config, &host);
  config["HostConfig"] = host;
  extra(spec.extra_config, &config);
  return config;
}

ContainerInfo ContainerFromInspect(const json& j) {
  ContainerInfo c;
  c.id = StringField(j, "Id");
  c.name = StripSlash(StringField(j, "Name"));
  const json& config = Field(j, "Config");
  c.image = StringField(config, "Image");
  c.image_id = StringField(j, "Image");
  c.labels = StringMapField(config, "Labels");
  const json& state = Field(j, "State");
  c.state.status = StringField(state, "Status");
  c.state.running = BoolField(state, "Running");
  c.state.exit_code = static_cast<int>(IntField(state, "ExitCode"));
  c.state.health = StringField(Field(state, "Health"), "Status");
  c.state.started_at = StringField(state, "StartedAt");
  c.state.finished_at = StringField(state, "FinishedAt");
  const json& settings = Field(j, "NetworkSettings");
  c.networks = Networks(settings);
  c.ip_address = FirstAddress(StringField(settings, "IPAddress"), c.networks);
  c.ports = InspectPorts(Field(settings, "Ports"));
  return c;
}

ContainerInfo ContainerFromList(const json& j) {
  ContainerInfo c;
  c.id = StringField(j, "Id");
  std::vector<std::string> names = StringListField(j, "Names");
  if (!names.empty()) c.name = StripSlash(names.front());
  c.image = StringField(j, "Image");
  c.image_id = StringField(j, "ImageID");
  c.labels = StringMapField(j, "Labels");
  c.state.status = StringField(j, "State");
  c.state.running = c.state.status == "running";
  // The list reports health only inside its human text: "Up 2 minutes (healthy)".
  std::string text = StringField(j, "Status");
  for (const char* h : {"(healthy)", "(unhealthy)", "(health: starting)"}) {
    if (text.find(h) == std::string::npos) continue;
    std::string v(h + 1, std::strlen(h) - 2);
    c.state.health = v.rfind("health: ", 0) == 0 ? v.substr(8) : v;
  }
  c.networks = Networks(Field(j, "NetworkSettings"));
  c.ip_address = FirstAddress("", c.networks);
  const json& ports = Field(j, "Ports");
  if (ports.is_array()) {
    for (const json& p : ports) {
      if (IntField(p, "PublicPort") == 0) continue;  // exposed only
      c.ports.push_back({static_cast<int>(IntField(p, "PrivatePort")), StringField(p, "Type"),
                         StringField(p, "IP"), static_cast<int>(IntField(p, "PublicPort"))});
    }
  }
  return c;
}

}  // namespace berth::docker
