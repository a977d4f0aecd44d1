// What every berth command shares: the data directory, its log, the registry of workflow
// types, the engine, output format, and the fault hook used by crash tests.
#pragma once

#include <memory>
#include <string>

#include "adapters/docker/docker_client.h"
#include "engine/engine.h"
#include "eventlog/event_log.h"

namespace berth::tool {

enum class Output { kTable, kJson };

struct Globals {
  std::string data_dir;  // --data-dir, else $BERTH_HOME, else ./.berth
  Output output = Output::kTable;
};

// BERTH_FAULT=crash-after-append:N | crash-after-effect:N (see README "Testing").
struct Fault {
  uint64_t after_append = 0;
  uint64_t after_effect = 0;
};
Result<Fault> ParseFault(const char* env);

class Context {
 public:
  // Opens the log under data_dir/log (creating it when `create`), and makes data_dir private
  // (0700) when it holds only what Berth puts there; the log directory always is (see
  // eventlog/event_log.h). Errors are ready to print.
  static Result<std::unique_ptr<Context>> Open(const Globals& g, bool create = true);
  ~Context();

  eventlog::EventLog& log() { return *log_; }
  engine::Registry& registry() { return registry_; }
  // The engine is made on first use, with `observer` for progress.
  engine::Engine& engine(std::function<void(const eventlog::Event&)> observer = {});
  const Globals& globals() const { return globals_; }

 private:
  Globals globals_;
  Fault fault_;
  std::unique_ptr<eventlog::EventLog> log_;
  engine::Registry registry_;
  std::unique_ptr<engine::Engine> engine_;
};

// The Docker engine DOCKER_HOST names (made on first use, shared by the process), or why
// there is none (a malformed DOCKER_HOST).
Result<docker::DockerClient*> LocalDocker();
// LocalDocker() answering GET /version; otherwise a kUnavailable error saying where it
// looked and what to do.
Result<docker::DockerClient*> ReachableDocker();

// Registers every workflow type and activity Berth has.
// `log` (may be null) is where the host workflow reads the inventory from.
void RegisterAll(engine::Registry* r, const std::string& data_dir, const eventlog::EventLog* log = nullptr);

std::string FormatTime(int64_t us);  // "2026-11-25T22:58:19.123Z", "" for 0

// Sets the process umask to 077, so that every file and directory berth makes (RocksDB's
// files too: it creates them 0644 & ~umask) is private to its user: the log holds every
// deploy's environment values. main() calls it first.
void MakeNewFilesPrivate();

}  // namespace berth::tool
