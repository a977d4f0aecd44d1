// The /v1 HTTP API of `berth serve`, as a pure function from a request to a response, so
// routes are tested without sockets (api_test.cc). docs/api.md documents every route.
//
// Errors are JSON bodies {"error": "...", "code": "..."}: 400 a malformed parameter
// (naming it), 404 an unknown route or workflow, 405 a known route with another method,
// 500 the log failed (its message), 503 the log is reopening.
#pragma once

#include <string>

#include "eventlog/event_log.h"

namespace berth::server {

struct ApiRequest {
  std::string method;  // "GET", ...
  std::string target;  // path and query, as sent: "/v1/workflows?limit=10"
  std::string body;
};

struct ApiResponse {
  int status = 200;
  std::string body;  // JSON
};

class Api {
 public:
  explicit Api(const eventlog::EventLog* log) : log_(log) {}
  ApiResponse Handle(const ApiRequest& request) const;

 private:
  const eventlog::EventLog* log_;
};

// Percent-decoding of one path segment or query value ('+' stays '+'); false on a bad
// escape. Exposed for the client, which encodes with PercentEncode.
bool PercentDecode(const std::string& in, std::string* out);
std::string PercentEncode(const std::string& in);  // everything but [A-Za-z0-9-._~]

}  // namespace berth::server
