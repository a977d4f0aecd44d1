// EngineClient: DockerClient over the Docker Engine HTTP API, with libcurl.
//
// Talks to one engine (a unix socket or tcp, with TLS like the docker CLI; see
// docker_host.h). The first call asks GET /version and from then on prefixes every path
// with /v<min(engine API, 1.43)>; a failed negotiation is retried by the next call.
// Thread-safe: every call makes its own connection (engines answer locally in well under a
// millisecond, so no pool is kept).
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>

#include "adapters/docker/docker_client.h"
#include "adapters/docker/docker_host.h"
#include "adapters/docker/http_transport.h"

namespace berth::docker {

struct EngineClientOptions {
  // Connecting (socket, TCP, TLS handshake). Default 5 s.
  int64_t connect_timeout_ms = 5'000;
  // Every call without a timeout of its own (inspect, create, list, ...). Default 30 s.
  int64_t call_timeout_ms = 30'000;
  // The highest API version used, whatever the engine offers.
  std::string api_version_max = "1.43";
};

class EngineClient final : public DockerClient {
 public:
  explicit EngineClient(Endpoint endpoint, EngineClientOptions options = {});

  // An EngineClient for DOCKER_HOST / DOCKER_TLS_VERIFY / DOCKER_CERT_PATH.
  // kInvalidArgument when DOCKER_HOST cannot be parsed. Does not connect.
  static Result<std::unique_ptr<EngineClient>> FromEnvironment(EngineClientOptions options = {});

  const Endpoint& endpoint() const { return transport_.endpoint(); }

  Result<EngineVersion> Version() override;
  Result<EngineInfo> Info() override;
  Result<std::string> SaveImage(const std::string& ref) override;
  Status LoadImage(const std::string& tar) override;
  Status ImportImage(const std::string& tar, const std::string& repo, const std::string& tag,
                     const std::vector<std::string>& changes) override;

  Result<std::string> CreateContainer(const ContainerSpec& spec) override;
  Status StartContainer(const std::string& id) override;
  Status StopContainer(const std::string& id, int timeout_s) override;
  Status KillContainer(const std::string& id, const std::string& signal) override;
  Status RemoveContainer(const std::string& id, bool force) override;
  Result<int> WaitContainer(const std::string& id, int64_t timeout_ms) override;
  Result<ContainerInfo> InspectContainer(const std::string& id) override;
  Result<std::vector<ContainerInfo>> ListContainers(const Labels& labels) override;
  Result<ExecResult> Logs(const std::string& id) override;
  Result<ExecResult> Exec(const std::string& container, const ExecSpec& spec) override;

  Result<std::string> Commit(const CommitSpec& spec) override;
  Result<ImageInfo> InspectImage(const std::string& ref) override;
  Result<std::vector<ImageInfo>> ListImages(const ImageFilter& filter) override;
  Status TagImage(const std::string& ref, const std::string& repo, const std::string& tag) override;
  Status RemoveImage(const std::string& ref, bool force) override;
  Result<BuildResult> BuildImage(const BuildSpec& spec) override;
  Status PullImage(const std::string& image, const std::string& tag, int64_t timeout_ms) override;
  Status PushImage(const std::string& image, const std::string& tag, int64_t timeout_ms) override;

  Result<std::string> CreateNetwork(const NetworkSpec& spec) override;
  Result<NetworkInfo> InspectNetwork(const std::string& id_or_name) override;
  Result<std::vector<NetworkInfo>> ListNetworks(const Labels& labels) override;
  Status RemoveNetwork(const std::string& id_or_name) override;
  Status ConnectNetwork(const std::string& network, const std::string& container,
                        const EndpointSpec& endpoint) override;
  Status DisconnectNetwork(const std::string& network, const std::string& container,
                           bool force) override;

  Status StreamEvents(const EventFilter& filter, const std::function<bool(const Event&)>& on_event,
                      std::stop_token stop) override;

 private:
  // Sends `request` with its target prefixed by the negotiated /vX.Y. Answers >= 400
  // become ApiError statuses; 304 is returned as a response (the caller decides).
  Result<HttpResponse> Call(HttpRequest request);
  // Call for a stream of progress messages (pull, import); `what` prefixes its errors.
  Status CallProgress(HttpRequest request, const std::string& what);
  // Call for a JSON answer: the parsed body.
  Result<nlohmann::json> CallJson(HttpRequest request);
  // "/v1.41", negotiating on first use.
  Result<std::string> ApiPrefix();
  // A request with this client's default timeout.
  HttpRequest Request(std::string method, std::string target, std::string body = "") const;

  HttpTransport transport_;
  EngineClientOptions options_;
  std::mutex mu_;
  std::optional<EngineVersion> version_;  // guarded by mu_
};

// Percent-encodes a query value.
std::string UrlEncode(std::string_view value);

// `target` with a `filters` query parameter selecting objects that carry all of `labels`
// ("" value: the key only); `target` unchanged when there are none.
std::string WithLabelFilter(const std::string& target, const Labels& labels);

}  // namespace berth::docker
