// Where a Docker engine listens, as the docker CLI reads it from its environment.
//
//   DOCKER_HOST        unix:///path/docker.sock (default unix:///var/run/docker.sock)
//                      tcp://host[:port]        (port defaults to 2375, 2376 with TLS)
//   DOCKER_TLS_VERIFY  non-empty: talk https and verify the engine with the files in
//   DOCKER_CERT_PATH   ca.pem, cert.pem, key.pem (default ~/.docker)
#pragma once

#include <string>
#include <string_view>

#include "eventlog/status.h"

namespace berth::docker {

struct Endpoint {
  enum class Kind { kUnix, kTcp };
  Kind kind = Kind::kUnix;
  std::string socket_path;  // kUnix
  std::string host;         // kTcp: name or address (IPv6 without brackets)
  int port = 0;             // kTcp
  bool tls = false;
  std::string ca_file, cert_file, key_file;  // when tls

  // The URL prefix requests are sent to: "http://localhost" for a unix socket (curl
  // connects to socket_path), "http(s)://host:port" for tcp.
  std::string BaseUrl() const;
  // DOCKER_HOST form, for messages: "unix:///run/docker.sock", "tcp://h:2376".
  std::string ToString() const;
};

// Parses a DOCKER_HOST value. kInvalidArgument for an unknown scheme (ssh://, npipe://),
// an empty path, or a port that is not a number in 1..65535. `cert_path` is used only when
// tls_verify is true.
Result<Endpoint> ParseDockerHost(std::string_view docker_host, bool tls_verify,
                                 std::string_view cert_path);

// ParseDockerHost with DOCKER_HOST, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH from the
// environment, with the docker CLI's defaults.
Result<Endpoint> EndpointFromEnvironment();

}  // namespace berth::docker
