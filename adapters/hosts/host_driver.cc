#include "adapters/hosts/host_driver.h"

#include <filesystem>

#include "adapters/hosts/static/static_driver.h"

namespace berth::hosts {

using json = nlohmann::json;

bool ValidHostName(const std::string& n) {
  if (n.empty() || n.size() > 63) return false;
  auto ok = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!ok(n[0])) return false;
  for (char c : n)
    if (!ok(c) && c != '-' && c != '.') return false;
  return true;
}

Status Validate(const HostSpec& s) {
  if (!ValidHostName(s.name))
    return InvalidArgument("host name '" + s.name +
                           "': use 1 to 63 lowercase letters, digits, '-' and '.', starting with "
                           "a letter or digit");
  if (s.driver != "static" && s.driver != "local")
    return InvalidArgument("host " + s.name + ": unknown driver '" + s.driver + "' (drivers: static, local)");
  for (const auto& [k, v] : s.labels)
    if (k.empty()) return InvalidArgument("host " + s.name + ": a label has an empty key (use --label KEY=VALUE)");
  if (s.cpus < 0 || s.memory < 0) return InvalidArgument("host " + s.name + ": capacity cannot be negative");
  if (!s.registry.empty()) {
    // HOST:PORT, as an image name begins: "10.0.0.5:5000", "registry.example:443".
    size_t colon = s.registry.rfind(':');
    bool ok = colon != std::string::npos && colon > 0 && colon + 1 < s.registry.size() &&
              s.registry.find_first_of("/ @") == std::string::npos &&
              s.registry.find_first_not_of("0123456789", colon + 1) == std::string::npos;
    if (!ok) return InvalidArgument("host " + s.name + ": --registry '" + s.registry + "' is not HOST:PORT (say 10.0.0.5:5000)");
  }
  if (s.driver == "local") {
    // The host workflow chooses its place on the cloud's bridge; the driver makes the rest.
    if (!s.endpoint.empty() && s.slot == 0)
      return InvalidArgument("host " + s.name + ": a local host gets its endpoint from Berth; leave out --endpoint");
    return Status::Ok();
  }
  int tls = !s.tls_ca.empty() + !s.tls_cert.empty() + !s.tls_key.empty();
  if (tls != 0 && tls != 3)
    return InvalidArgument("host " + s.name + ": give all of --tls-ca, --tls-cert and --tls-key, or none");
  if (s.endpoint.empty()) return InvalidArgument("host " + s.name + ": no endpoint (--endpoint unix:///PATH or tcp://HOST:PORT)");
  auto ep = docker::ParseDockerHost(s.endpoint, false, "");
  if (!ep.ok()) return ep.status().WithContext("host " + s.name);
  if (tls && ep->kind != docker::Endpoint::Kind::kTcp)
    return InvalidArgument("host " + s.name + ": TLS files are for tcp:// endpoints, not " + s.endpoint);
  for (const auto& f : {s.tls_ca, s.tls_cert, s.tls_key})
    if (!f.empty() && !std::filesystem::is_regular_file(f))
      return InvalidArgument("host " + s.name + ": TLS file " + f + " does not exist");
  return Status::Ok();
}

json ToJson(const HostSpec& s) {
  json j = {{"name", s.name}, {"driver", s.driver}, {"endpoint", s.endpoint}, {"labels", s.labels}};
  if (!s.tls_ca.empty()) j["tls"] = {{"ca", s.tls_ca}, {"cert", s.tls_cert}, {"key", s.tls_key}};
  if (s.cpus) j["cpus"] = s.cpus;
  if (s.memory) j["memory"] = s.memory;
  if (s.slot) j["slot"] = s.slot;
  if (!s.netns.empty()) j["netns"] = s.netns;
  if (!s.registry.empty()) j["registry"] = s.registry;
  return j;
}

Result<HostSpec> HostSpecFromJson(const json& j) {
  if (!j.is_object() || !j.contains("name") || !j["name"].is_string())
    return InvalidArgument("a host must be an object with a name");
  try {
    HostSpec s;
    s.name = j["name"].get<std::string>();
    s.driver = j.value("driver", "static");
    s.endpoint = j.value("endpoint", "");
    if (j.contains("tls")) {
      s.tls_ca = j["tls"].value("ca", "");
      s.tls_cert = j["tls"].value("cert", "");
      s.tls_key = j["tls"].value("key", "");
    }
    if (j.contains("labels")) s.labels = j["labels"].get<std::map<std::string, std::string>>();
    s.cpus = j.value("cpus", int64_t(0));
    s.memory = j.value("memory", int64_t(0));
    s.slot = j.value("slot", 0);
    s.netns = j.value("netns", "");
    s.registry = j.value("registry", "");
    return s;
  } catch (const json::exception& e) {
    return InvalidArgument(std::string("host: ") + e.what());
  }
}

json ToJson(const HostFacts& f) {
  return {{"engine_version", f.engine_version}, {"engine_name", f.engine_name},
          {"cpus", f.cpus}, {"memory", f.memory}};
}

HostFacts HostFactsFromJson(const json& j) {
  HostFacts f;
  if (!j.is_object()) return f;
  auto str = [&](const char* k) { return j.contains(k) && j[k].is_string() ? j[k].get<std::string>() : ""; };
  auto num = [&](const char* k) { return j.contains(k) && j[k].is_number() ? j[k].get<int64_t>() : int64_t(0); };
  f.engine_version = str("engine_version");
  f.engine_name = str("engine_name");
  f.cpus = num("cpus");
  f.memory = num("memory");
  return f;
}

Result<docker::Endpoint> EndpointOf(const HostSpec& s) {
  auto ep = docker::ParseDockerHost(s.endpoint, false, "");
  if (!ep.ok()) return ep.status().WithContext("host " + s.name);
  if (!s.tls_ca.empty()) {
    ep->tls = true;
    ep->ca_file = s.tls_ca;
    ep->cert_file = s.tls_cert;
    ep->key_file = s.tls_key;
  }
  return ep;
}

Result<std::unique_ptr<docker::EngineClient>> ClientFor(const HostSpec& s, docker::EngineClientOptions o) {
  auto ep = EndpointOf(s);
  if (!ep.ok()) return ep.status();
  return std::make_unique<docker::EngineClient>(*ep, o);
}

Result<std::unique_ptr<HostDriver>> MakeDriver(const std::string& name) {
  if (name == "static") return MakeStaticDriver();
  return InvalidArgument("unknown host driver '" + name + "' (drivers: static, local)");
}

}  // namespace berth::hosts
