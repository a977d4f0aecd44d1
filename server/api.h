// The /v1 HTTP API of `berth serve`, as a pure function from a request to a response, so
// routes are tested without sockets (api_test.cc). docs/api.md documents every route.
//
// Errors are JSON bodies {"error": "<message>", "code": "<CodeToken>"}: 400 a malformed
// parameter (naming it), 404 an unknown route or workflow, 405 a known route with another
// method, 409 a conflict (an id in use, a workflow that ended), 413 a body over the limit,
// 503 the log is reopening, 500 any other failure of
// the log (corruption, I/O): the client rebuilds the same Status from the two fields.
#pragma once

#include <functional>
#include <list>
#include <map>
#include <nlohmann/json.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "engine/engine.h"
#include "eventlog/event_log.h"

namespace berth::server {

struct ApiRequest {
  std::string method;  // "GET", ...
  std::string target;  // path and query, as sent: "/v1/workflows?limit=10"
  std::string body;
};

// A body written as it becomes ready (HTTP chunked): the server calls Next on the
// connection's strand until it returns false, waiting a poll interval (http_server.h)
// whenever a call added nothing. Next never blocks.
class ApiStream {
 public:
  virtual ~ApiStream() = default;
  // Appends what is ready to *out (possibly nothing); false once the stream is over, its
  // last part in *out.
  virtual bool Next(std::string* out) = 0;
};

struct ApiResponse {
  ApiResponse() = default;
  ApiResponse(int status_, std::string body_, std::string content_type_ = "application/json")
      : status(status_), body(std::move(body_)), content_type(std::move(content_type_)) {}
  int status = 200;
  std::string body;  // JSON, except /metrics and streams
  std::string content_type = "application/json";
  std::shared_ptr<ApiStream> stream;  // when set, the body is this stream's (`body` unused)
};

class Metrics;

// What the tool adds to the API without the server knowing workflows (serve.cc sets them).
struct ApiHooks {
  // Called on a start's input before it is recorded (the cloud's hosts go into a deploy's).
  std::function<Status(const std::string& type, nlohmann::json* input)> on_start;
  // More GET routes: exact path -> handler of the query parameters.
  std::map<std::string, std::function<Result<nlohmann::json>(const std::map<std::string, std::string>&)>> gets;
};

// Rendered bodies of GET /v1/workflows/{id}/events (the whole history), each valid while the
// workflow's event count is the one it was made at: a history only grows. Least recently
// used first out; at most kEntries bodies and kBytes in all. Thread-safe.
class EventsBodyCache {
 public:
  static constexpr size_t kEntries = 1024;
  static constexpr size_t kBytes = size_t{64} << 20;
  std::shared_ptr<const std::string> Get(const std::string& id, uint64_t events);
  void Put(const std::string& id, uint64_t events, std::shared_ptr<const std::string> body);

 private:
  struct Entry {
    uint64_t events;
    std::shared_ptr<const std::string> body;
    std::list<std::string>::iterator at;
  };
  std::mutex mu_;
  std::list<std::string> lru_;  // most recent first
  std::unordered_map<std::string, Entry> entries_;
  size_t bytes_ = 0;
};

class Api {
 public:
  // `engine` may be null: the routes that start or cancel work then answer 503. `metrics`
  // may be null: /metrics then answers 404; else every request is counted there.
  // `registry` may be null: GET /v1/replay then answers 503.
  Api(const eventlog::EventLog* log, engine::Engine* engine, Metrics* metrics = nullptr,
      const engine::Registry* registry = nullptr, ApiHooks hooks = {})
      : log_(log), engine_(engine), metrics_(metrics), registry_(registry), hooks_(std::move(hooks)) {}
  ApiResponse Handle(const ApiRequest& request) const;

 private:
  ApiResponse Route(const ApiRequest& request, std::string* route) const;
  ApiResponse StartWorkflow(const std::string& body) const;
  ApiResponse CancelWorkflow(const std::string& id) const;

  const eventlog::EventLog* log_;
  engine::Engine* engine_;
  Metrics* metrics_;
  const engine::Registry* registry_;
  ApiHooks hooks_;
  mutable EventsBodyCache events_cache_;
};

// An error body's "code": the Status code's name with '_' for ' ' ("not_found"), and back
// (kFailed for a token that names no code, like "method_not_allowed").
std::string CodeToken(Code c);
Code CodeFromToken(const std::string& token);

// Percent-decoding of one path segment or query value ('+' stays '+'); false on a bad
// escape. Exposed for the client, which encodes with PercentEncode.
bool PercentDecode(const std::string& in, std::string* out);
std::string PercentEncode(const std::string& in);  // everything but [A-Za-z0-9-._~]

}  // namespace berth::server
