#include "adapters/docker/docker_host.h"

#include <charconv>
#include <cstdlib>

namespace berth::docker {
namespace {

constexpr std::string_view kDefaultHost = "unix:///var/run/docker.sock";
constexpr int kPlainPort = 2375;
constexpr int kTlsPort = 2376;

Status Bad(std::string_view host, std::string_view why) {
  return InvalidArgument("DOCKER_HOST \"" + std::string(host) + "\": " + std::string(why));
}

// Splits "host[:port]" or "[v6]:port"; leaves port at `fallback` when absent.
Status SplitHostPort(std::string_view all, std::string_view rest, int fallback, Endpoint* out) {
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    auto close = rest.find(']');
    if (close == std::string_view::npos) return Bad(all, "unterminated [ in address");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return Bad(all, "junk after ]");
      port = after.substr(1);
    }
  } else if (auto colon = rest.rfind(':'); colon != std::string_view::npos) {
    host = rest.substr(0, colon);
    port = rest.substr(colon + 1);
  }
  if (host.empty()) return Bad(all, "no host");
  out->host = std::string(host);
  out->port = fallback;
  if (!port.empty()) {
    int value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value < 1 || value > 65535) {
      return Bad(all, "port is not a number in 1..65535");
    }
    out->port = value;
  }
  return Status::Ok();
}

}  // namespace

std::string Endpoint::BaseUrl() const {
  if (kind == Kind::kUnix) return "http://localhost";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return std::string(tls ? "https://" : "http://") + h + ":" + std::to_string(port);
}

std::string Endpoint::ToString() const {
  if (kind == Kind::kUnix) return "unix://" + socket_path;
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return "tcp://" + h + ":" + std::to_string(port);
}

Result<Endpoint> ParseDockerHost(std::string_view docker_host, bool tls_verify,
                                 std::string_view cert_path) {
  if (docker_host.empty()) docker_host = kDefaultHost;
  Endpoint ep;
  constexpr std::string_view kUnix = "unix://";
  constexpr std::string_view kTcp = "tcp://";
  if (docker_host.starts_with(kUnix)) {
    ep.kind = Endpoint::Kind::kUnix;
    ep.socket_path = std::string(docker_host.substr(kUnix.size()));
    if (ep.socket_path.empty()) return Bad(docker_host, "no socket path");
    return ep;
  }
  if (!docker_host.starts_with(kTcp)) {
    return Bad(docker_host, "only unix:// and tcp:// are supported");
  }
  std::string_view rest = docker_host.substr(kTcp.size());
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") return Bad(docker_host, "a path prefix is not supported");
    rest = rest.substr(0, slash);
  }
  ep.kind = Endpoint::Kind::kTcp;
  ep.tls = tls_verify;
  Status s = SplitHostPort(docker_host, rest, ep.tls ? kTlsPort : kPlainPort, &ep);
  if (!s.ok()) return s;
  if (ep.tls) {
    std::string dir(cert_path);
    ep.ca_file = dir + "/ca.pem";
    ep.cert_file = dir + "/cert.pem";
    ep.key_file = dir + "/key.pem";
  }
  return ep;
}

Result<Endpoint> EndpointFromEnvironment() {
  const char* host = std::getenv("DOCKER_HOST");
  const char* verify = std::getenv("DOCKER_TLS_VERIFY");
  const char* cert_path = std::getenv("DOCKER_CERT_PATH");
  std::string certs;
  if (cert_path != nullptr && *cert_path != '\0') {
    certs = cert_path;
  } else if (const char* home = std::getenv("HOME"); home != nullptr) {
    certs = std::string(home) + "/.docker";
  }
  return ParseDockerHost(host != nullptr ? host : "", verify != nullptr && *verify != '\0', certs);
}

}  // namespace berth::docker
