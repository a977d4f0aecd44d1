#include "tools/berth/context.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <atomic>
#include <mutex>
#include <ctime>
#include <filesystem>
#include <iostream>

#include "adapters/docker/docker_host.h"
#include "adapters/docker/engine_client.h"
#include "eventlog/data_dir.h"
#include "server/views.h"
#include "tools/berth/client.h"
#include "workflows/deploy/deploy.h"
#include "adapters/hosts/local/local_driver.h"
#include "workflows/hosts/host_gate.h"
#include "workflows/hosts/hosts.h"
#include "workflows/synthetic/synthetic.h"

namespace berth::tool {

Result<Fault> ParseFault(const char* env) {
  Fault f;
  if (!env || !*env) return f;
  std::string s(env);
  auto colon = s.find(':');
  std::string kind = s.substr(0, colon);
  uint64_t n = 0;
  if (colon != std::string::npos) n = std::strtoull(s.c_str() + colon + 1, nullptr, 10);
  if (n == 0 || (kind != "crash-after-append" && kind != "crash-after-effect"))
    return InvalidArgument("BERTH_FAULT='" + s +
                           "' is not understood; use crash-after-append:N or crash-after-effect:N "
                           "with N >= 1");
  (kind == "crash-after-append" ? f.after_append : f.after_effect) = n;
  return f;
}

Result<docker::DockerClient*> LocalDocker() {
  static std::once_flag once;
  static std::unique_ptr<docker::EngineClient> client;
  static Status error;
  std::call_once(once, [] {
    auto c = docker::EngineClient::FromEnvironment();
    if (c.ok()) client = std::move(c).value();
    else error = c.status();
  });
  if (!client) return error;
  return static_cast<docker::DockerClient*>(client.get());
}

Result<docker::DockerClient*> ReachableDocker() {
  auto d = LocalDocker();
  if (!d.ok()) return d.status();
  auto v = (*d)->Version();
  if (!v.ok()) {
    auto where = docker::EndpointFromEnvironment();  // parsed fine: LocalDocker() worked
    return Status(Code::kUnavailable,
                  "cannot reach the Docker engine at " + (where.ok() ? where->ToString() : "?") +
                      ": " + v.status().message() + " (start dockerd, or point DOCKER_HOST at one)");
  }
  return d;
}

void RegisterAll(engine::Registry* r, const std::string& data_dir, const eventlog::EventLog* log) {
  r->Add(workflows::MakeSyntheticWorkflow());
  r->Add(workflows::MakeSyntheticActivity(data_dir));
  workflows::InventorySource inventory = [log]() -> Result<workflows::Inventory> {
    if (!log) return workflows::Inventory();
    return workflows::LoadInventory(*log);
  };
  auto clients = std::make_shared<workflows::HostClients>([] { return LocalDocker(); }, inventory);
  hosts::LocalOptions local = hosts::LocalOptionsFor(data_dir);
  local.seed = [] { return LocalDocker(); };
  workflows::DockerActivityOptions options;
  auto gate = std::make_shared<workflows::HostGate>(log);
  options.host_guard = [gate](const std::string& host) { return gate->Enter(host); };
  // The local cloud's registry is Berth's to keep running; one the user named is theirs.
  options.registry_ready = [local](const std::string& registry) {
    return registry == local.registry ? hosts::EnsureRegistry(hosts::RegistryOptionsOf(local)) : Status::Ok();
  };
  workflows::RegisterDeploy(r, [] { return LocalDocker(); }, options,
                            [clients](const std::string& host) { return clients->Get(host); });
  workflows::RegisterHosts(r, inventory, [local](const std::string& name) -> Result<std::unique_ptr<hosts::HostDriver>> {
    if (name == "local") return hosts::MakeLocalDriver(local);
    return hosts::MakeDriver(name);
  }, {}, gate, [log](const std::string& app, const std::set<std::string>& hosts) -> Result<std::map<std::string, std::string>> {
    if (!log) return std::map<std::string, std::string>();
    return workflows::Holdings(*log, app, hosts);
  });
}

namespace {
// A callback printing "berth: <what>: <status>" on stderr, at most one line a second.
std::function<void(const Status&)> Warner(std::string what) {
  auto last = std::make_shared<std::atomic<int64_t>>(0);
  return [what = std::move(what), last](const Status& s) {
    int64_t now = std::time(nullptr);
    if (last->exchange(now) != now) std::cerr << "berth: " << what << ": " << s.ToString() << "\n";
  };
}
// What berth itself puts in a data directory. One that holds only these is Berth's, and is
// made private; anything else (say --data-dir $HOME, or /tmp) is left as it is: the log
// directory inside is private either way.
constexpr const char* kDataDirEntries[] = {"log", "synthetic", "bench-log", "bench-engine", "berth.sock"};

Status MakeDataDirPrivate(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = e.path().filename().string();
    if (std::find(std::begin(kDataDirEntries), std::end(kDataDirEntries), name) ==
        std::end(kDataDirEntries))
      return Status::Ok();
  }
  if (ec) return Status::Ok();  // the log opened inside it, so this is not worth failing on
  return eventlog::MakePrivate(dir);
}
}  // namespace

void MakeNewFilesPrivate() { ::umask(077); }

Result<std::unique_ptr<Context>> Context::Open(const Globals& g, bool create) {
  auto fault = ParseFault(std::getenv("BERTH_FAULT"));
  if (!fault.ok()) return fault.status();
  auto ctx = std::unique_ptr<Context>(new Context());
  ctx->globals_ = g;
  ctx->fault_ = fault.value();
  eventlog::Options o;
  o.create_if_missing = create;
  if (uint64_t n = ctx->fault_.after_append)
    o.after_durable = [n](uint64_t count) {
      if (count == n) ::kill(::getpid(), SIGKILL);
    };
  o.on_write_error = Warner("log write failed, retrying");
  auto log = eventlog::EventLog::Open(g.data_dir + "/log", o);
  if (!log.ok()) {
    if (!create && log.status().code() == Code::kNotFound)
      return NotFound("no Berth data in " + g.data_dir +
                      " (set --data-dir or BERTH_HOME, or submit a workflow first)");
    if (log.status().code() == Code::kBusy && ServerClient::Find(g))
      return Status(Code::kBusy, "data directory " + g.data_dir + " is held by `berth serve` (" +
                                     ServerSocketPath(g) + "); the commands that read or start work go through it, "
                                     "this one does not: stop the server (SIGTERM) to run it");
    return log.status();
  }
  ctx->log_ = std::move(log).value();
  if (Status s = MakeDataDirPrivate(g.data_dir); !s.ok()) return s;
  RegisterAll(&ctx->registry_, g.data_dir, ctx->log_.get());
  return ctx;
}

Context::~Context() {
  if (engine_) engine_->Shutdown();
  engine_.reset();
  log_.reset();
}

engine::Engine& Context::engine(std::function<void(const eventlog::Event&)> observer) {
  if (!engine_) {
    engine::EngineOptions o;
    o.observer = std::move(observer);
    o.activity_threads = 32;  // Docker calls block; a 20-service deploy runs them side by side
    if (uint64_t n = fault_.after_effect)
      o.after_effect = [n](uint64_t count) {
        if (count == n) ::kill(::getpid(), SIGKILL);
      };
    o.on_log_error = Warner("waiting for the log");
    engine_ = std::make_unique<engine::Engine>(log_.get(), &registry_, std::move(o));
  }
  return *engine_;
}

std::string FormatTime(int64_t us) { return server::FormatTime(us); }

}  // namespace berth::tool
