// HttpTransport: one HTTP/1.1 exchange with a Docker engine over libcurl.
//
// Knows nothing of the Engine API: it sends a method, target and body to an Endpoint and
// returns the status and body, or a Status saying why there is none. Transport failures are
// classified for the caller (see docker_client.h for what each code means):
//   kUnavailable     could not connect (no socket, refused, TLS handshake failed)
//   kTimeout         timed out before the request was sent
//   kUnknownOutcome  the request was sent, then the time ran out or the connection broke
//   kCancelled       the request's stop_token was triggered
//   kFailed          anything else (e.g. the server certificate did not verify)
// HTTP error statuses are not errors here: the caller maps them (api_error.h).
//
// Threads: Send may be called from many threads at once; each call uses its own handle.
#pragma once

#include <cstdint>
#include <functional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "adapters/docker/docker_host.h"
#include "eventlog/status.h"

namespace berth::docker {

struct HttpRequest {
  std::string method = "GET";
  std::string target;           // path and query: "/v1.41/containers/json?all=1"
  std::string body;             // sent as is; empty means no body
  std::string content_type;     // "application/json", "application/x-tar"; "" for none
  int64_t timeout_ms = 30'000;  // whole exchange; 0 means no limit (event streams)
  // When set, a 2xx response's body is handed here as it arrives instead of being kept in
  // HttpResponse::body. Returning false ends the exchange early, successfully.
  std::function<bool(std::string_view)> on_data;
  std::stop_token stop;  // checked about once a second while waiting
  // Also checked then: true ends the exchange with kCancelled (an abandoned step).
  std::function<bool()> cancelled;
  std::vector<std::string> headers;  // more, each "Name: value"
};

struct HttpResponse {
  long status = 0;
  std::string body;  // the whole body, or for a streamed 2xx response nothing
};

class HttpTransport {
 public:
  static constexpr int64_t kBodyBytesMax = int64_t{256} << 20;

  HttpTransport(Endpoint endpoint, int64_t connect_timeout_ms);

  // One exchange. A body over kBodyBytesMax (not streamed) ends it with kFailed.
  Result<HttpResponse> Send(const HttpRequest& request) const;

  const Endpoint& endpoint() const { return endpoint_; }

 private:
  Endpoint endpoint_;
  int64_t connect_timeout_ms_;
};

}  // namespace berth::docker
