// EngineClient: networks (create, inspect, list, remove, connect, disconnect).
#include "adapters/docker/engine_client.h"
#include "adapters/docker/network_json.h"

namespace berth::docker {

Result<std::string> EngineClient::CreateNetwork(const NetworkSpec& spec) {
  Result<json> j = CallJson(Request("POST", "/networks/create", NetworkCreateBody(spec).dump()));
  if (!j.ok()) return j.status().WithContext("creating network " + spec.name);
  std::string id = StringField(*j, "Id");
  if (id.empty()) return Failed("POST /networks/create: no Id in the answer");
  return id;
}

Result<NetworkInfo> EngineClient::InspectNetwork(const std::string& id_or_name) {
  Result<json> j = CallJson(Request("GET", "/networks/" + id_or_name));
  if (!j.ok()) return j.status();
  return NetworkFromInspect(*j);
}

Result<std::vector<NetworkInfo>> EngineClient::ListNetworks(const Labels& labels) {
  Result<json> j = CallJson(Request("GET", WithLabelFilter("/networks", labels)));
  if (!j.ok()) return j.status();
  std::vector<NetworkInfo> out;
  if (j->is_array()) {
    for (const json& n : *j) out.push_back(NetworkFromInspect(n));
  }
  return out;
}

Status EngineClient::RemoveNetwork(const std::string& id_or_name) {
  return Call(Request("DELETE", "/networks/" + id_or_name)).status();
}

Status EngineClient::ConnectNetwork(const std::string& network, const std::string& container,
                                    const EndpointSpec& endpoint) {
  return Call(Request("POST", "/networks/" + network + "/connect",
                      NetworkConnectBody(container, endpoint).dump()))
      .status();
}

Status EngineClient::DisconnectNetwork(const std::string& network, const std::string& container,
                                       bool force) {
  json body = {{"Container", container}, {"Force", force}};
  return Call(Request("POST", "/networks/" + network + "/disconnect", body.dump())).status();
}

}  // namespace berth::docker
