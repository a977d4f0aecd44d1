#include "adapters/docker/network_json.h"

namespace berth::docker {

json NetworkCreateBody(const NetworkSpec& spec) {
  json ipam_config = json::array();
  if (!spec.subnet.empty()) {
    json c = {{"Subnet", spec.subnet}};
    if (!spec.gateway.empty()) c["Gateway"] = spec.gateway;
    ipam_config.push_back(c);
  }
  return {{"Name", spec.name},
          {"Driver", spec.driver},
          {"CheckDuplicate", true},
          {"Internal", spec.internal},
          {"Attachable", spec.attachable},
          {"Options", spec.options},
          {"Labels", spec.labels},
          {"IPAM", {{"Driver", "default"}, {"Config", ipam_config}}}};
}

NetworkInfo NetworkFromInspect(const json& j) {
  NetworkInfo n;
  n.id = StringField(j, "Id");
  n.name = StringField(j, "Name");
  n.driver = StringField(j, "Driver");
  const json& configs = Field(Field(j, "IPAM"), "Config");
  if (configs.is_array() && !configs.empty()) {
    n.subnet = StringField(configs[0], "Subnet");
    n.gateway = StringField(configs[0], "Gateway");
  }
  n.options = StringMapField(j, "Options");
  n.labels = StringMapField(j, "Labels");
  n.created = StringField(j, "Created");
  n.internal = Field(j, "Internal").is_boolean() && Field(j, "Internal").get<bool>();
  const json& containers = Field(j, "Containers");
  if (containers.is_object()) {
    for (auto it = containers.begin(); it != containers.end(); ++it) {
      n.containers[it.key()] = StringField(it.value(), "IPv4Address");
    }
  }
  return n;
}

json NetworkConnectBody(const std::string& container, const EndpointSpec& endpoint) {
  json ep = json::object();
  if (!endpoint.ipv4_address.empty()) {
    ep["IPAMConfig"] = {{"IPv4Address", endpoint.ipv4_address}};
  }
  if (!endpoint.aliases.empty()) ep["Aliases"] = endpoint.aliases;
  return {{"Container", container}, {"EndpointConfig", ep}};
}

}  // namespace berth::docker
