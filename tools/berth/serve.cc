// berth serve: one long-running control plane on a data directory (docs/api.md).
#include <pthread.h>
#include <signal.h>

#include <iostream>

#include "server/api.h"
#include "server/http_server.h"
#include "server/metrics.h"
#include "tools/berth/client.h"
#include "tools/berth/commands.h"
#include "workflows/deploy/restart_watcher.h"

namespace berth::tool {

int Serve(const Globals& g) {
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
  server::Metrics metrics;  // outlives the engine, which reports every durable event to it
  auto ctx = Context::Open(g);
  if (!ctx.ok()) return Fail(ctx.status());
  (*ctx)->engine([&metrics](const eventlog::Event& e) { metrics.OnEvent(e); });
  size_t resumed = 0;
  if (Status s = (*ctx)->engine().Recover(&resumed); !s.ok()) return Fail(s);
  // The restart policy (workflows/deploy/restart.h): deaths of Berth's containers become
  // restart workflows. Docker being away is retried there; the API serves meanwhile.
  workflows::RestartWatcher watcher(&(*ctx)->engine(), &(*ctx)->log(), [] { return LocalDocker(); },
                                    [](const std::string& m) { std::cerr << "berth serve: " << m << std::endl; });
  watcher.Start();
  server::Api api(&(*ctx)->log(), &(*ctx)->engine(), &metrics);
  server::HttpServerOptions o;
  o.socket_path = ServerSocketPath(g);
  server::HttpServer http(o, [&api](const server::ApiRequest& r) { return api.Handle(r); });
  if (Status s = http.Start(); !s.ok()) return Fail(s);
  std::cerr << "berth serve: listening on " << o.socket_path << " (resumed " << resumed
            << " unfinished workflows); SIGTERM or Ctrl-C stops it" << std::endl;
  int sig = 0;
  sigwait(&stop, &sig);
  std::cerr << "berth serve: " << (sig == SIGINT ? "SIGINT" : "SIGTERM")
            << ": stopping (running steps are left to the next start to reconcile)" << std::endl;
  http.Stop();
  watcher.Stop();
  return 0;  // ~Context stops the engine and closes the log cleanly
}

}  // namespace berth::tool
