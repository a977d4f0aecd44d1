#include "tools/berth/client.h"

#include <sys/stat.h>

#include "adapters/docker/http_transport.h"
#include "server/api.h"

namespace berth::tool {

using nlohmann::json;

std::string ServerSocketPath(const Globals& g) { return g.data_dir + "/berth.sock"; }

namespace {
Result<docker::HttpResponse> Send(const std::string& socket, const std::string& target, int64_t timeout_ms) {
  docker::Endpoint ep;
  ep.socket_path = socket;
  docker::HttpRequest req;
  req.target = target;
  req.timeout_ms = timeout_ms;
  return docker::HttpTransport(ep, 1000).Send(req);
}

}  // namespace

std::optional<ServerClient> ServerClient::Find(const Globals& g) {
  std::string socket = ServerSocketPath(g);
  struct stat st{};
  if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  auto r = Send(socket, "/v1/health", 2000);
  if (!r.ok() || r->status != 200) return std::nullopt;
  return ServerClient(socket);
}

Result<json> ServerClient::Get(const std::string& target) const {
  auto r = Send(socket_, target, 60'000);
  if (!r.ok())
    return Status(Code::kUnavailable, "berth serve on " + socket_ + " did not answer " + target + ": " +
                                          r.status().message() + "; retry (without a server the command runs in-process)");
  json body = json::parse(r->body, nullptr, false);
  if (body.is_discarded())
    return Status(Code::kFailed, "berth serve on " + socket_ + " answered " + target + " with HTTP " +
                                     std::to_string(r->status) + " and a body that is not JSON");
  if (r->status / 100 != 2) {
    std::string message = body.is_object() && body.contains("error") && body["error"].is_string()
                              ? body["error"].get<std::string>()
                              : "HTTP " + std::to_string(r->status);
    std::string code = body.is_object() && body.contains("code") && body["code"].is_string() ? body["code"].get<std::string>() : "";
    return Status(server::CodeFromToken(code), message);
  }
  return body;
}

}  // namespace berth::tool
