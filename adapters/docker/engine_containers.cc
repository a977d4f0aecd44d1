// EngineClient: container lifecycle (create, start, stop, kill, remove, wait, inspect, list,
// logs).
#include "adapters/docker/container_json.h"
#include "adapters/docker/engine_client.h"
#include "adapters/docker/image_json.h"
#include "adapters/docker/stream_demux.h"

namespace berth::docker {

Result<std::string> EngineClient::CreateContainer(const ContainerSpec& spec) {
  std::string target = "/containers/create";
  if (!spec.name.empty()) target += "?name=" + UrlEncode(spec.name);
  if (!spec.platform.empty())
    target += std::string(spec.name.empty() ? "?" : "&") + "platform=" + UrlEncode(spec.platform);
  Result<json> j = CallJson(Request("POST", target, ContainerCreateBody(spec).dump()));
  if (!j.ok()) return j.status().WithContext("creating container " + spec.name);
  std::string id = StringField(*j, "Id");
  if (id.empty()) return Failed("POST /containers/create: no Id in the answer");
  return id;
}

Status EngineClient::StartContainer(const std::string& id) {
  // 304 (already running) is success: a retried start must not fail.
  return Call(Request("POST", "/containers/" + id + "/start")).status();
}

Status EngineClient::StopContainer(const std::string& id, int timeout_s) {
  HttpRequest r = Request("POST", "/containers/" + id + "/stop?t=" + std::to_string(timeout_s));
  r.timeout_ms += int64_t{timeout_s} * 1000;  // the engine waits that long before SIGKILL
  return Call(std::move(r)).status();
}

Status EngineClient::KillContainer(const std::string& id, const std::string& signal) {
  return Call(Request("POST", "/containers/" + id + "/kill?signal=" + UrlEncode(signal))).status();
}

Status EngineClient::RemoveContainer(const std::string& id, bool force) {
  std::string target = "/containers/" + id + "?v=1" + (force ? "&force=1" : "");
  return Call(Request("DELETE", target)).status();
}

Result<int> EngineClient::WaitContainer(const std::string& id, int64_t timeout_ms) {
  HttpRequest r = Request("POST", "/containers/" + id + "/wait?condition=not-running");
  r.timeout_ms = timeout_ms;
  Result<json> j = CallJson(std::move(r));
  if (!j.ok()) {
    // Waiting changes nothing, so running out of time is a plain timeout.
    if (j.status().code() == Code::kUnknownOutcome) {
      return Status(Code::kTimeout, j.status().message());
    }
    return j.status();
  }
  return static_cast<int>(IntField(*j, "StatusCode"));
}

Result<ContainerInfo> EngineClient::InspectContainer(const std::string& id) {
  Result<json> j = CallJson(Request("GET", "/containers/" + id + "/json"));
  if (!j.ok()) return j.status();
  return ContainerFromInspect(*j);
}

Result<std::vector<ContainerInfo>> EngineClient::ListContainers(const Labels& labels) {
  Result<json> j = CallJson(Request("GET", WithLabelFilter("/containers/json?all=1", labels)));
  if (!j.ok()) return j.status();
  std::vector<ContainerInfo> out;
  if (j->is_array()) {
    for (const json& c : *j) out.push_back(ContainerFromList(c));
  }
  // dockerd lists a container before it has registered it: while a create is still inside
  // the daemon (its caller died or gave up), the container is listed, but inspect and start
  // answer 404 "No such container" until the create ends (measured with Debian's 20.10: 17
  // of 100 listings taken during a slow create). Only a never-started container can be in
  // that window, so only those are confirmed: one inspect each, none for running ones.
  for (const ContainerInfo& c : out) {
    if (c.state.status != "created") continue;
    Result<ContainerInfo> seen = InspectContainer(c.id);
    if (seen.ok()) continue;
    if (seen.status().code() != Code::kNotFound) return seen.status();
    return Status(Code::kUnavailable, "container " + c.name + " (" + c.id.substr(0, 12) +
                                          ") is listed but its create has not finished yet");
  }
  return out;
}

Result<ExecResult> EngineClient::Logs(const std::string& id) {
  StreamDemux demux;
  HttpRequest r = Request("GET", "/containers/" + id + "/logs?stdout=1&stderr=1");
  Status feed;
  r.on_data = [&](std::string_view chunk) {
    feed = demux.Feed(chunk);
    return feed.ok();
  };
  Result<HttpResponse> resp = Call(std::move(r));
  if (!resp.ok()) return resp.status();
  if (Status s = demux.Finish(); !s.ok()) return s.WithContext("logs of " + id);
  ExecResult out;
  out.stdout_text = demux.stdout_text();
  out.stderr_text = demux.stderr_text();
  out.truncated = demux.truncated();
  return out;
}

}  // namespace berth::docker
