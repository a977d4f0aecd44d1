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
// One exchange with the server on `socket` (connecting within 1 s).
Result<docker::HttpResponse> Send(const std::string& socket, const docker::HttpRequest& req) {
  docker::Endpoint ep;
  ep.socket_path = socket;
  return docker::HttpTransport(ep, 1000).Send(req);
}

Result<docker::HttpResponse> Send(const std::string& socket, const std::string& target, int64_t timeout_ms,
                                  const std::string& method = "GET", const std::string& body = "") {
  docker::HttpRequest req;
  req.method = method;
  req.target = target;
  req.body = body;
  if (!body.empty()) req.content_type = "application/json";
  req.timeout_ms = timeout_ms;
  return Send(socket, req);
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

namespace {
// The server's answer to `what` as JSON, or its error as the Status it names.
Result<json> FromReply(const std::string& socket, const std::string& what, long status, const std::string& body) {
  json reply = json::parse(body, nullptr, false);
  if (reply.is_discarded())
    return Status(Code::kFailed, "berth serve on " + socket + " answered " + what + " with HTTP " +
                                     std::to_string(status) + " and a body that is not JSON");
  if (status / 100 != 2) {
    std::string message = reply.is_object() && reply.contains("error") && reply["error"].is_string()
                              ? reply["error"].get<std::string>()
                              : "HTTP " + std::to_string(status);
    std::string code = reply.is_object() && reply.contains("code") && reply["code"].is_string() ? reply["code"].get<std::string>() : "";
    return Status(server::CodeFromToken(code), message);
  }
  return reply;
}
}  // namespace

Result<json> ServerClient::Exchange(const std::string& method, const std::string& target, const std::string& body) const {
  auto r = Send(socket_, target, 60'000, method, body);
  if (!r.ok())
    return Status(Code::kUnavailable, "berth serve on " + socket_ + " did not answer " + method + " " + target +
                                          ": " + r.status().message() + "; retry (without a server the command runs in-process)");
  return FromReply(socket_, target, r->status, r->body);
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
  const std::string follow_again = "follow it with `berth history " + id + "`";
  uint64_t last = 0;
  // Each round is one streamed exchange (server/api.h, EventStream) from the last seq seen:
  // it ends with the workflow, or is resumed after the server ended it (its time limit) or
  // the connection dropped. Bounded: five rounds in a row that bring no event give up.
  for (int fruitless = 0;;) {
    std::string pending;
    std::optional<json> end;
    Status failed;
    uint64_t before = last;
    docker::HttpRequest req;
    req.target = "/v1/workflows/" + server::PercentEncode(id) + "/events?follow=1&after=" + std::to_string(last);
    req.timeout_ms = 0;  // as long as the workflow runs
    req.cancelled = [] { return g_interrupted.load(); };
    req.on_data = [&](std::string_view data) {
      pending.append(data);
      for (size_t nl; (nl = pending.find('\n')) != std::string::npos;) {
        json line = json::parse(pending.substr(0, nl), nullptr, false);
        pending.erase(0, nl + 1);
        if (line.is_discarded() || !line.is_object()) {
          failed = Status(Code::kFailed, "berth serve on " + socket_ + " sent a line that is not a JSON object "
                                         "while following " + id + "; " + follow_again);
          return false;
        }
        if (line.contains("workflow")) {
          end = std::move(line["workflow"]);
          return false;
        }
        if (line.contains("error")) {
          failed = Status(server::CodeFromToken(line.value("code", "")), line.value("error", ""));
          return false;
        }
        last = line["seq"].get<uint64_t>();
        on_event(line);
      }
      return true;
    };
    auto r = Send(socket_, req);
    if (g_interrupted)
      return Status(Code::kCancelled, "detached from " + id + "; it keeps running in the server: " + follow_again);
    if (end) return *end;
    if (!failed.ok()) return failed;
    if (r.ok() && r->status / 100 != 2) return FromReply(socket_, req.target, r->status, r->body).status();
    fruitless = last == before ? fruitless + 1 : 0;
    if (fruitless == 5)
      return Status(Code::kUnavailable, "lost berth serve on " + socket_ + " while following " + id + " (" +
                                            (r.ok() ? std::string("the stream ended early") : r.status().message()) +
                                            "); " + follow_again);
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * fruitless));
  }
}

}  // namespace berth::tool
