#include "tools/berth/client.h"

#include <signal.h>
#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "adapters/docker/http_transport.h"
#include "server/api.h"

namespace berth::tool {

using nlohmann::json;

std::string ServerSocketPath(const Globals& g) { return g.data_dir + "/berth.sock"; }

namespace {
Result<docker::HttpResponse> Send(const std::string& socket, const std::string& target, int64_t timeout_ms,
                                  const std::string& method = "GET", const std::string& body = "") {
  docker::Endpoint ep;
  ep.socket_path = socket;
  docker::HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  if (!body.empty()) req.content_type = "application/json";
  req.timeout_ms = timeout_ms;
  return docker::HttpTransport(ep, 1000).Send(req);
}

std::atomic<bool> g_interrupted{false};
void OnSigint(int) { g_interrupted = true; }

}  // namespace

std::optional<ServerClient> ServerClient::Find(const Globals& g) {
  std::string socket = ServerSocketPath(g);
  struct stat st{};
  if (::stat(socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) return std::nullopt;
  auto r = Send(socket, "/v1/health", 2000);
  if (!r.ok() || r->status != 200) return std::nullopt;
  return ServerClient(socket);
}

Result<json> ServerClient::Get(const std::string& target) const { return Exchange("GET", target, ""); }

Result<json> ServerClient::Post(const std::string& target, const std::string& body) const {
  return Exchange("POST", target, body);
}

Result<json> ServerClient::Exchange(const std::string& method, const std::string& target, const std::string& body) const {
  auto r = Send(socket_, target, 60'000, method, body);
  if (!r.ok())
    return Status(Code::kUnavailable, "berth serve on " + socket_ + " did not answer " + method + " " + target +
                                          ": " + r.status().message() + "; retry (without a server the command runs in-process)");
  json reply = json::parse(r->body, nullptr, false);
  if (reply.is_discarded())
    return Status(Code::kFailed, "berth serve on " + socket_ + " answered " + target + " with HTTP " +
                                     std::to_string(r->status) + " and a body that is not JSON");
  if (r->status / 100 != 2) {
    std::string message = reply.is_object() && reply.contains("error") && reply["error"].is_string()
                              ? reply["error"].get<std::string>()
                              : "HTTP " + std::to_string(r->status);
    std::string code = reply.is_object() && reply.contains("code") && reply["code"].is_string() ? reply["code"].get<std::string>() : "";
    return Status(server::CodeFromToken(code), message);
  }
  return reply;
}

Result<json> ServerClient::Follow(const std::string& id, const std::function<void(const json&)>& on_event) const {
  g_interrupted = false;
  struct sigaction sa{}, old{};
  sa.sa_handler = OnSigint;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, &old);
  struct Restore {
    struct sigaction old;
    ~Restore() { ::sigaction(SIGINT, &old, nullptr); }
  } restore{old};
  std::string events_at = "/v1/workflows/" + server::PercentEncode(id) + "/events?after=";
  uint64_t last = 0;
  auto drain = [&]() -> Status {
    auto events = Get(events_at + std::to_string(last));
    if (!events.ok()) return events.status();
    for (const auto& e : *events) {
      last = e["seq"].get<uint64_t>();
      on_event(e);
    }
    return Status::Ok();
  };
  // Bounded by the workflow's own end; each round is two requests and a 100 ms sleep.
  for (;;) {
    if (g_interrupted)
      return Status(Code::kCancelled, "detached from " + id + "; it keeps running in the server: follow it with "
                                      "`berth history " + id + "`");
    if (Status s = drain(); !s.ok()) return s;
    auto wf = Get("/v1/workflows/" + server::PercentEncode(id));
    if (!wf.ok()) return wf.status();
    if ((*wf)["summary"]["status"] != "running") {
      if (Status s = drain(); !s.ok()) return s;  // the events that ended it
      return wf;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace berth::tool
