// berth serve: one long-running control plane on a data directory (docs/api.md).
#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "server/api.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "tools/berth/client.h"
#include "tools/berth/commands.h"
#include "workflows/deploy/restart_watcher.h"
#include "workflows/hosts/headroom.h"
#include "server/views.h"
#include "workflows/hosts/hosts.h"

namespace berth::tool {

namespace {

// The bearer token of the TCP listener: read from `path`, or made there (32 random bytes as
// hex, mode 0600, created exclusively) when it does not exist. A file others may read is
// refused, not used: the token is a password.
Result<std::string> LoadOrMakeToken(const std::string& path) {
  struct stat st{};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) return Status(Code::kIOError, "cannot read the token file " + path + ": " + std::strerror(errno));
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof raw) != 1) return Status(Code::kFailed, "OpenSSL could not make random bytes for the token");
    std::string token;
    for (unsigned char c : raw) token += std::string{"0123456789abcdef"[c >> 4], "0123456789abcdef"[c & 15]};
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) return Status(Code::kIOError, "cannot create the token file " + path + ": " + std::strerror(errno));
    std::string line = token + "\n";
    bool ok = ::write(fd, line.data(), line.size()) == ssize_t(line.size()) && ::fsync(fd) == 0;
    int err = errno;
    ::close(fd);
    if (!ok) {
      ::unlink(path.c_str());
      return Status(Code::kIOError, "cannot write the token file " + path + ": " + std::strerror(err));
    }
    return token;
  }
  if ((st.st_mode & 077) != 0)
    return InvalidArgument("the token file " + path + " may be read by others (mode " +
                           fmt::format("{:o}", st.st_mode & 0777) + "): `chmod 600 " + path + "`, or delete it for a new token");
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string token = ss.str();
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() < 16 || token.find_first_of(" \t\r\n") != std::string::npos)
    return InvalidArgument("the token file " + path + " must hold one token of at least 16 characters without spaces");
  return token;
}

}  // namespace

int Serve(const Globals& g, const ServeArgs& a) {
  // SIGTERM and SIGINT are taken here, by sigwait, so they are blocked before any thread
  // exists (every thread inherits the mask): none of them is interrupted by a signal.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  if (ServerClient::Find(g))
    return Fail(Status(Code::kBusy, "a berth serve already runs on " + g.data_dir + " (it answers on " +
                                        ServerSocketPath(g) + "); one server per data directory"));
  // The options first, before the data directory is opened and its work resumed.
  server::HttpServerOptions o;
  o.socket_path = ServerSocketPath(g);
  o.listen = a.listen;
  o.tls_cert = a.tls_cert;
  o.tls_key = a.tls_key;
  if (Status s = server::HttpServer::CheckListen(o); !s.ok()) return Fail(s);
  for (const auto& l : a.pool_labels)
    if (l.find('=') == std::string::npos || l.front() == '=') return Fail(InvalidArgument("--pool-label '" + l + "': use KEY=VALUE"));
  // The headroom policy (workflows/hosts/headroom.h): checked here, started below.
  workflows::HeadroomOptions ho;
  ho.headroom = a.headroom;
  ho.max_per_host = a.max_per_host;
  ho.min_hosts = a.min_hosts;
  ho.max_hosts = a.max_hosts;
  for (const auto& l : a.pool_labels) ho.labels[l.substr(0, l.find('='))] = l.substr(l.find('=') + 1);
  ho.idle_ms = int64_t(a.idle_s * 1000);
  ho.interval_ms = int64_t(a.policy_interval_s * 1000);
  const bool policy = a.headroom > 0 || a.min_hosts > 0;
  if (policy)
    if (Status s = workflows::Validate(ho); !s.ok()) return Fail(s);
  server::Metrics metrics;  // outlives the engine, which reports every durable event to it
  auto ctx = Context::Open(g);
  if (!ctx.ok()) return Fail(ctx.status());
  // The token file lives in the data directory, which exists (private) from here on; still
  // before any work is resumed.
  std::string token_file = a.token_file.empty() ? g.data_dir + "/serve.token" : a.token_file;
  if (!a.listen.empty()) {
    auto token = LoadOrMakeToken(token_file);
    if (!token.ok()) return Fail(token.status());
    o.token = *token;
  }
  (*ctx)->engine([&metrics](const eventlog::Event& e) { metrics.OnEvent(e); });
  size_t resumed = 0;
  if (Status s = (*ctx)->engine().Recover(&resumed); !s.ok()) return Fail(s);
  // The restart policy (workflows/deploy/restart.h): deaths of Berth's containers become
  // restart workflows. Docker being away is retried there; the API serves meanwhile.
  workflows::RestartWatcher watcher(&(*ctx)->engine(), &(*ctx)->log(), [] { return LocalDocker(); },
                                    [](const std::string& m) { std::cerr << "berth serve: " << m << std::endl; },
                                    g.data_dir + "/restart.cursor");
  watcher.Start();
  // The headroom policy (workflows/hosts/headroom.h), when asked for.
  std::unique_ptr<workflows::HeadroomPolicy> headroom;
  if (policy) {
    const eventlog::EventLog* hlog = &(*ctx)->log();
    headroom = std::make_unique<workflows::HeadroomPolicy>(
        &(*ctx)->engine(), [hlog] { return workflows::LoadInventory(*hlog); }, ho,
        [hlog] {  // an unfinished host workflow (ids host-<op>-...): the round waits for it
          auto page = server::ListWorkflows(*hlog, "running", "host", 1, "", "host-");
          return !page.ok() || !page->workflows.empty();
        },
        [hlog] {  // a deploy or undeploy (ids deploy-APP-..., undeploy-APP-...)
          for (const char* t : {"deploy", "undeploy"}) {
            auto page = server::ListWorkflows(*hlog, "running", t, 1, "", std::string(t) + "-");
            if (!page.ok() || !page->workflows.empty()) return true;
          }
          return false;
        },
        [](const workflows::HostRecord& h) { return workflows::CountContainers(h); },
        [](const std::string& m) { std::cerr << "berth serve: " << m << std::endl; });
    headroom->Start();
  }
  server::ApiHooks hooks;
  const eventlog::EventLog* log = &(*ctx)->log();
  hooks.on_start = [log](const std::string& type, nlohmann::json* input) { return workflows::AddCloud(*log, type, input); };
  hooks.gets["/v1/hosts"] = [log](const std::map<std::string, std::string>&) -> Result<nlohmann::json> {
    auto inv = workflows::LoadInventory(*log);
    if (!inv.ok()) return inv.status();
    return workflows::ToJson(*inv);
  };
  hooks.gets["/v1/explain"] = [log](const std::map<std::string, std::string>& q) -> Result<nlohmann::json> {
    auto c = q.find("container");
    if (c == q.end() || c->second.empty()) return InvalidArgument("query parameter 'container' is required");
    return workflows::Explain(*log, c->second);
  };
  server::Api api(&(*ctx)->log(), &(*ctx)->engine(), &metrics, &(*ctx)->registry(), std::move(hooks));
  o.on_refused = [&metrics](int status) { metrics.OnRequest("unauthenticated", status); };
  server::HttpServer http(o, [&api](const server::ApiRequest& r) { return api.Handle(r); });
  if (Status s = http.Start(); !s.ok()) return Fail(s);
  std::cerr << "berth serve: listening on " << o.socket_path;
  if (!o.listen.empty())
    std::cerr << " and " << (o.tls_cert.empty() ? "http" : "https") << "://"
              << o.listen.substr(0, o.listen.rfind(':')) << ":" << http.tcp_port() << " (bearer token in " << token_file << ")";
  std::cerr << " (resumed " << resumed << " unfinished workflows); SIGTERM or Ctrl-C stops it" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cerr << "berth serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
            << ": stopping (running steps are left to the next start to reconcile)" << std::endl;
  http.Stop();
  if (headroom) headroom->Stop();
  watcher.Stop();
  return 0;  // ~Context stops the engine and closes the log cleanly
}

}  // namespace berth::tool
