#include "adapters/hosts/local/registry.h"

#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>

#include "adapters/docker/docker_host.h"
#include "adapters/docker/http_transport.h"
#include "adapters/hosts/local/command.h"

namespace berth::hosts {
namespace {

namespace fs = std::filesystem;

std::string ConfigPath(const RegistryOptions& o) { return o.dir + "/config.yml"; }
std::string PidPath(const RegistryOptions& o) { return o.dir + "/registry.pid"; }
// docker-registry writes no pidfile; its command line names the config, which is ours.
std::string Marker(const RegistryOptions& o) { return ConfigPath(o); }

}  // namespace

bool RegistryAnswers(const std::string& addr, int64_t timeout_ms) {
  auto ep = docker::ParseDockerHost("tcp://" + addr, false, "");
  if (!ep.ok()) return false;
  docker::HttpTransport t(*ep, timeout_ms);
  docker::HttpRequest r;
  r.target = "/v2/";
  r.timeout_ms = timeout_ms;
  auto resp = t.Send(r);
  return resp.ok() && resp->status == 200;
}

Status EnsureRegistry(const RegistryOptions& o) {
  static std::mutex one_at_a_time;  // image steps of several services may ask at once
  std::lock_guard<std::mutex> lock(one_at_a_time);
  // Alive and answering; alive and not answering (it may be starting: a second chance,
  // then a restart); or dead.
  if (local::LivePid(PidPath(o), Marker(o))) {
    if (RegistryAnswers(o.addr)) return Status::Ok();
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (RegistryAnswers(o.addr)) return Status::Ok();
    local::StopPid(PidPath(o), Marker(o), 5'000);
  }
  std::error_code ec;
  fs::create_directories(o.dir + "/data", ec);
  if (ec) return Status(Code::kFailed, "cannot make " + o.dir + ": " + ec.message());
  std::string config =
      "version: 0.1\n"
      "log: {level: warn, accesslog: {disabled: true}}\n"
      "storage:\n"
      "  filesystem: {rootdirectory: " + o.dir + "/data}\n"
      "  delete: {enabled: true}\n"
      "http: {addr: \"" + o.addr + "\"}\n";
  if (Status s = local::WriteFile(ConfigPath(o), config); !s.ok()) return s;
  auto pid = local::Spawn({"docker-registry", "serve", ConfigPath(o)}, o.dir + "/registry.log");
  if (!pid.ok()) {
    if (pid.status().code() == Code::kNotFound)
      return Status(Code::kNotFound, "docker-registry is not installed (scripts/setup.sh installs it)");
    return pid.status().WithContext("starting the cloud's registry");
  }
  if (Status s = local::WriteFile(PidPath(o), std::to_string(*pid) + "\n"); !s.ok()) return s;
  for (int i = 0; i < 100; ++i) {
    if (RegistryAnswers(o.addr, 500)) return Status::Ok();
    // Ours until it dies: waitpid, not the pidfile and command line, which a process in
    // the middle of its exec does not show yet (the spawn returns before its argv is set).
    if (::waitpid(*pid, nullptr, WNOHANG) == *pid) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::string log = local::ReadFile(o.dir + "/registry.log");
  if (log.size() > 600) log = "..." + log.substr(log.size() - 600);
  return Status(Code::kUnavailable, "the cloud's registry does not answer at http://" + o.addr +
                                        "/v2/ (its log, " + o.dir + "/registry.log, ends: " + log + ")");
}

Status RemoveRegistry(const RegistryOptions& o) {
  local::StopPid(PidPath(o), Marker(o), 5'000);
  std::error_code ec;
  fs::remove_all(o.dir, ec);
  if (ec) return Status(Code::kFailed, "cannot remove " + o.dir + ": " + ec.message());
  return Status::Ok();
}

}  // namespace berth::hosts
