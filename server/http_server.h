// HttpServer: HTTP/1.1 over a unix socket and, optionally, TCP (Boost.Beast,
// asynchronous), each request handed to one function. It knows nothing of the API (api.h).
//
// TCP needs a bearer token on every request (`Authorization: Bearer <token>`, compared in
// constant time; else 401 before the handler sees anything) and, on an address other than
// loopback, TLS. The unix socket needs no token: its mode (0600) is its access control.
//
// Limits (each a refusal, never a held thread): a request head or body not read within
// read_timeout_ms is dropped; a kept-alive connection idle for idle_timeout_ms is closed;
// a body over body_bytes_max gets 413; past connections_max open connections a new one is
// closed at once. The threads only wait on sockets, so 1,000 idle clients hold no thread.
//
// A response with a stream (api.h) is sent chunked: its Next is called on the connection's
// strand, then again after stream_poll_ms (20) whenever it added nothing; past stream_max_ms the
// response is ended as if the stream had (a follower resumes from its last seq). A client
// gone meanwhile is noticed at the next write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "eventlog/status.h"
#include "server/api.h"

namespace berth::server {

struct HttpServerOptions {
  std::string socket_path;  // created mode 0600; a stale file there is replaced
  // "ADDRESS:PORT" (IPv4 or [IPv6]; port 0: any free one, see tcp_port()), "" for none.
  std::string listen;
  std::string token;                 // required when `listen` is set
  std::string tls_cert, tls_key;     // PEM files: both or neither; needed off loopback
  unsigned threads = 2;
  int64_t read_timeout_ms = 30'000;
  int64_t idle_timeout_ms = 60'000;
  size_t body_bytes_max = size_t{1} << 20;
  size_t connections_max = 4096;
  int64_t stream_poll_ms = 20;
  // Told of each request refused before the handler saw it (401), for the metrics.
  std::function<void(int status)> on_refused;
  int64_t stream_max_ms = 600'000;
};

class HttpServer {
 public:
  using Handler = std::function<ApiResponse(const ApiRequest&)>;
  HttpServer(HttpServerOptions options, Handler handler);
  ~HttpServer();  // Stop()

  // Binds and listens, then serves on its own threads. kInvalidArgument for a socket path
  // too long for a unix socket, a malformed `listen`, a non-loopback one without TLS, no
  // token, or a certificate or key that does not load; kIOError (with errno's words) if it
  // cannot bind.
  Status Start();
  uint16_t tcp_port() const;  // the TCP port listened on after Start (0: none)
  // What Start checks of `listen` and TLS before any socket exists (not the files): so a
  // command can refuse bad options before it does anything else.
  static Status CheckListen(const HttpServerOptions& options);
  // Stops accepting, closes every connection (a response being written is cut), joins.
  void Stop();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace berth::server
